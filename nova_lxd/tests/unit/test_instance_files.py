"""instance_files.py: the config drive tree and the instance directory.

nova's InstanceMetadata is replaced by a mock whose
``metadata_for_config_drive`` yields the (path, data) pairs of each test;
everything is written to a temporary ``instances_path``.
"""
import os
import stat

import fixtures
from nova import test
from oslo_utils import uuidutils

from nova_lxd.nova.virt.lxd import instance_files

UUID = uuidutils.generate_uuid()
TREE = [('openstack/latest/meta_data.json', '{"uuid": "%s"}' % UUID),
        ('openstack/content/0000', b'\x00\xffbinary'),
        ('ec2/latest/user-data', b'#cloud-config\n')]


class FakeInstance:
    uuid = UUID


class StorageTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.instances = os.path.join(self.tmp, 'instances')
        self.flags(instances_path=self.instances)
        self.root = os.path.join(self.instances, UUID, 'config-drive')
        self.metadata = self.useFixture(fixtures.MockPatch(
            'nova.api.metadata.base.InstanceMetadata')).mock
        self.entries = TREE
        self.instance = FakeInstance()

    def build(self, password=None):
        # A generator function runs lazily, as nova's does: while writing.
        entries = self.entries
        entries = entries() if callable(entries) else iter(entries)
        self.metadata.return_value.metadata_for_config_drive.return_value = (
            entries)
        return instance_files.build_config_drive(
            self.instance, [('/f', b'x')], password, ['net'])

    def files(self):
        """Every file and link under the temporary directory."""
        found = []
        for top, dirs, names in os.walk(self.tmp):
            links = [d for d in dirs if os.path.islink(os.path.join(top, d))]
            found += [os.path.relpath(os.path.join(top, name), self.tmp)
                      for name in names + links]
        return sorted(found)

    def mode(self, path):
        return oct(stat.S_IMODE(os.stat(path).st_mode))


class ConfigDriveTest(StorageTestCase):

    def test_tree_written(self):
        self.assertEqual(self.root, self.build())
        for path, data in TREE:
            with open(os.path.join(self.root, path), 'rb') as f:
                expected = data.encode() if isinstance(data, str) else data
                self.assertEqual(expected, f.read())
        self.assertEqual(sorted(f'instances/{UUID}/config-drive/{p}'
                                for p, _ in TREE), self.files())

    def test_readable_by_container_whatever_the_umask(self):
        # The container's remapped root reads the tree as "other".
        self.addCleanup(os.umask, os.umask(0o077))
        self.build()
        for top, dirs, names in os.walk(self.root):
            self.assertEqual('0o755', self.mode(top), top)
            for name in names:
                path = os.path.join(top, name)
                self.assertEqual('0o644', self.mode(path), path)

    def test_metadata_inputs(self):
        self.build(password='s3cret')
        self.metadata.assert_called_once_with(
            self.instance, content=[('/f', b'x')],
            extra_md={'admin_pass': 's3cret'}, network_info=['net'])
        self.build()
        self.assertEqual({}, self.metadata.call_args[1]['extra_md'])

    def test_old_tree_replaced(self):
        os.makedirs(os.path.join(self.root, 'stale'))
        with open(os.path.join(self.root, 'stale', 'old'), 'w') as f:
            f.write('old')
        self.build()
        self.assertFalse(os.path.exists(os.path.join(self.root, 'stale')))

    def test_escaping_paths_refused(self):
        outside = os.path.join(self.tmp, 'outside')
        for path in ('../../../outside', '../escape', outside,
                     'openstack/../../escape'):
            self.entries = [('openstack/ok', b'1'), (path, b'evil')]
            e = self.assertRaises(ValueError, self.build)
            self.assertIn('escapes its root', str(e))
            self.assertEqual([f'instances/{UUID}/config-drive/openstack/ok'],
                             self.files(), path)

    def test_symlink_out_refused(self):
        outside = os.path.join(self.tmp, 'outside')
        os.mkdir(outside)

        def entries():
            # Stands for anything that linked out of the tree meanwhile.
            os.symlink(outside, os.path.join(self.root, 'link'))
            yield ('link/passwd', b'evil')
        self.entries = entries
        self.assertRaises(ValueError, self.build)
        self.assertEqual([], os.listdir(outside))

    def test_device(self):
        self.assertEqual({'type': 'disk', 'source': '/x/config-drive',
                          'path': '/config-drive', 'readonly': 'true'},
                         instance_files.config_drive_device('/x/config-drive'))


class InstanceDirTest(StorageTestCase):

    def test_instance_dir(self):
        self.assertEqual(os.path.join(self.instances, UUID),
                         instance_files.instance_dir(self.instance))

    def test_remove(self):
        self.build()
        instance_files.remove_instance_dir(self.instance)
        self.assertFalse(os.path.exists(os.path.join(self.instances, UUID)))
        self.assertTrue(os.path.isdir(self.instances))

    def test_remove_missing_is_fine(self):
        instance_files.remove_instance_dir(self.instance)
        self.assertFalse(os.path.exists(self.instances))
