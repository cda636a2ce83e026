"""nova_lxd.privsep.fs: finding a volume's mount (unprivileged part)."""
import os

import fixtures
from nova import exception
import testtools

from nova_lxd.privsep import fs


class FindMountTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.device = os.path.join(self.dir, 'loop7')
        open(self.device, 'w').close()
        os.symlink(self.device, os.path.join(self.dir, 'by-id'))
        self.mounts = os.path.join(self.dir, 'mounts')
        with open(self.mounts, 'w') as f:
            f.write('proc /proc proc rw 0 0\n'
                    f'{self.dir}/by-id /var/lib/lxd/devices/x/disk.a\\040b '
                    'ext4 rw 0 0\n')

    def test_found_through_symlinks_with_escaped_blanks(self):
        self.assertEqual(('ext4', '/var/lib/lxd/devices/x/disk.a b'),
                         fs.find_mount(self.device, self.mounts))

    def test_not_mounted(self):
        self.assertIsNone(fs.find_mount('/dev/nothing', self.mounts))

    def test_unmounted_device_cannot_grow(self):
        self.useFixture(fixtures.MockPatch(
            'nova_lxd.privsep.fs.find_mount', return_value=None))
        self.assertRaises(exception.ExtendVolumeNotSupported,
                          fs.grow_mounted_filesystem, '/dev/loop9')

    def test_vfat_cannot_grow(self):
        self.useFixture(fixtures.MockPatch(
            'nova_lxd.privsep.fs.find_mount', return_value=('vfat', '/m')))
        self.assertRaises(exception.ExtendVolumeNotSupported,
                          fs.grow_mounted_filesystem, '/dev/loop9')
