"""Cinder volumes on the real daemon, through os-brick's ``local``
connector on loop devices (connection_info shaped as Cinder's for a volume
the host already sees as a block device).

iSCSI, FC, NVMe-oF and RBD need kernel modules or targets this machine
does not have; only the protocol name in connection_info differs for the
driver, os-brick does the rest.
"""
import os
import subprocess
import uuid

import fixtures
from nova import exception
import os_brick.privileged

import nova_lxd.privsep
from nova_lxd.privsep import fs
from nova_lxd.tests.functional import base

MIB = 1024 * 1024


class LoopVolume(fixtures.Fixture):
    """A file-backed loop device, formatted with ``fstype`` (or not)."""

    def __init__(self, size_mib=64, fstype='ext4'):
        super().__init__()
        self.size_mib, self.fstype = size_mib, fstype

    def _setUp(self):
        directory = self.useFixture(fixtures.TempDir(rootdir='/var/tmp'))
        self.file = os.path.join(directory.path, 'volume.img')
        with open(self.file, 'wb') as f:
            f.truncate(self.size_mib * MIB)
        if self.fstype:
            subprocess.run([f'mkfs.{self.fstype}', '-q', self.file],
                           check=True, capture_output=True)
        self.device = subprocess.run(
            ['losetup', '--find', '--show', self.file], check=True,
            capture_output=True, text=True).stdout.strip()
        self.addCleanup(subprocess.run, ['losetup', '-d', self.device],
                        capture_output=True)
        # A test that fails midway leaves the host mount the driver made.
        self.addCleanup(self._unmount)
        self.id = str(uuid.uuid4())

    def _unmount(self):
        while (found := fs.find_mount(self.device)) is not None:
            subprocess.run(['umount', found[1]], check=True)

    def connection_info(self):
        """What Cinder would hand nova for this volume."""
        return {'driver_volume_type': 'local', 'serial': self.id,
                'data': {'device_path': self.device, 'volume_id': self.id}}

    def grow(self, size_mib):
        """Grow the backing file and let the kernel see it (Cinder's part
        of an extend)."""
        with open(self.file, 'r+b') as f:
            f.truncate(size_mib * MIB)
        subprocess.run(['losetup', '--set-capacity', self.device],
                       check=True)


def real_host(test):
    """Let os-brick read the real host (see _HOST_READS) and run os-brick's
    and nova-lxd's privileged calls in the (root) test process instead of
    starting privsep daemons."""
    base.allow_host_reads(test)
    for context in (os_brick.privileged.default,
                    nova_lxd.privsep.storage_pctxt):
        test.useFixture(fixtures.MockPatchObject(context, 'client_mode',
                                                 False))


class VolumeDriverTest(base.DriverTestCase):
    """attach/detach/extend_volume of the driver."""

    def setUp(self):
        super().setUp()
        real_host(self)
        self.mount_dir = self.useFixture(fixtures.TempDir()).path
        self.flags(volume_mount_dir=self.mount_dir, group='lxd')

    def guest(self, inst, *argv, ok=True):
        result = base.execute(self.container(inst), list(argv))
        if ok:
            self.assertEqual(0, result.exit_code, result.stderr)
        return result

    def mounted(self, inst, path):
        return f' {path} ' in self.guest(inst, 'cat', '/proc/mounts').stdout

    def test_connector_is_os_bricks(self):
        self.flags(my_block_storage_ip='127.0.0.1', host='lxd-host-1')
        props = self.driver.get_volume_connector(self.instance())
        self.assertEqual('127.0.0.1', props['ip'])
        self.assertEqual('lxd-host-1', props['host'])
        self.assertFalse(props['multipath'])
        self.assertIn('platform', props)

    def test_attach_write_detach_reattach_read_extend(self):
        # btrfs: this machine's root lacks CAP_SYS_RESOURCE, without which
        # the kernel refuses to grow ext4 online (resize2fs: "Permission
        # denied to resize filesystem").
        volume = self.useFixture(LoopVolume(size_mib=128, fstype='btrfs'))
        first, second = self.instance(), self.instance()
        self.spawn(first)
        self.spawn(second)
        info = volume.connection_info()
        self.driver.attach_volume(self.context, info, first, '/dev/vdb')
        self.assertEqual(volume.device, info['data']['device_path'])
        self.guest(first, 'sh', '-c', 'echo persisted > /media/vdb/data')
        self.driver.detach_volume(self.context, info, first, '/dev/vdb')
        self.assertFalse(self.mounted(first, '/media/vdb'))
        self.assertNotIn('volume-vdb', self.container(first).devices)

        self.driver.attach_volume(self.context, volume.connection_info(),
                                  second, '/dev/vdc')
        self.assertEqual('persisted\n', self.guest(
            second, 'cat', '/media/vdc/data').stdout)
        before = self.df_kib(second, '/media/vdc')
        volume.grow(256)
        size = self.driver.extend_volume(
            self.context, volume.connection_info(), second, 256 * MIB)
        self.assertEqual(256 * MIB, size)
        self.assertGreater(self.df_kib(second, '/media/vdc'), before + 50000)

    def df_kib(self, inst, path):
        line = self.guest(inst, 'df', '-k', path).stdout.splitlines()[-1]
        return int(line.split()[1])

    def test_data_volume_at_boot(self):
        volume = self.useFixture(LoopVolume())
        inst = self.instance()
        bdi = {'block_device_mapping': [{
            'connection_info': volume.connection_info(),
            'mount_device': '/dev/vdb', 'boot_index': None}],
            'ephemerals': [], 'swap': None, 'root_device_name': '/dev/vda'}
        self.spawn(inst, block_device_info=bdi)
        self.assertTrue(self.mounted(inst, '/media/vdb'))
        self.driver.destroy(self.context, inst, [], block_device_info=bdi)
        self.assertEqual([], self.project.names())

    def test_attach_to_a_stopped_instance_mounts_at_start(self):
        volume = self.useFixture(LoopVolume())
        inst = self.instance()
        self.spawn(inst, power_on=False)
        self.driver.attach_volume(self.context, volume.connection_info(),
                                  inst, '/dev/vdb')
        self.driver.power_on(self.context, inst, [])
        self.assertTrue(self.mounted(inst, '/media/vdb'))

    def test_unformatted_volume_refused_and_nothing_left(self):
        volume = self.useFixture(LoopVolume(fstype=None))
        inst = self.instance()
        self.spawn(inst)
        e = self.assertRaises(
            exception.VolumeAttachFailed, self.driver.attach_volume,
            self.context, volume.connection_info(), inst, '/dev/vdb')
        self.assertIn(volume.id, str(e))
        self.assertNotIn('volume-vdb', self.container(inst).devices)
        self.assertEqual([], os.listdir(self.mount_dir))

    def test_raw_block_device_for_lun_bdms(self):
        volume = self.useFixture(LoopVolume(fstype=None))
        inst = self.instance()
        self.spawn(inst)
        info = volume.connection_info()
        self.driver.attach_volume(self.context, info, inst, '/dev/vdb',
                                  device_type='lun')
        self.guest(inst, 'test', '-b', '/dev/vdb')
        self.guest(inst, 'sh', '-c', 'echo raw | dd of=/dev/vdb 2>/dev/null')
        self.assertIsNone(fs.find_mount(volume.device))
        volume.grow(128)
        self.assertEqual(128 * MIB, self.driver.extend_volume(
            self.context, info, inst, 128 * MIB))
        self.driver.detach_volume(self.context, info, inst, '/dev/vdb')
        with open(volume.file, 'rb') as f:
            self.assertEqual(b'raw\n', f.read(4))

    def test_device_that_never_appears(self):
        inst = self.instance()
        self.spawn(inst)
        info = {'driver_volume_type': 'local', 'serial': 'vol-gone',
                'data': {'device_path': '/dev/nova-lxd-no-such-device'}}
        e = self.assertRaises(exception.VolumeAttachFailed,
                              self.driver.attach_volume, self.context, info,
                              inst, '/dev/vdb')
        self.assertIn('/dev/nova-lxd-no-such-device', str(e))
        self.assertNotIn('volume-vdb', self.container(inst).devices)
        self.assertEqual([], os.listdir(self.mount_dir))

    def test_detach_of_a_volume_not_attached(self):
        volume = self.useFixture(LoopVolume())
        inst = self.instance()
        self.spawn(inst)
        self.assertRaises(exception.DiskNotFound, self.driver.detach_volume,
                          self.context, volume.connection_info(), inst,
                          '/dev/vdb')

    def test_unknown_protocol_and_encryption_refused(self):
        volume = self.useFixture(LoopVolume())
        inst = self.instance()
        self.spawn(inst)
        info = volume.connection_info()
        info['driver_volume_type'] = 'carrier-pigeon'
        self.assertRaises(exception.VolumeDriverNotFound,
                          self.driver.attach_volume, self.context, info,
                          inst, '/dev/vdb')
        self.assertRaises(exception.VolumeEncryptionNotSupported,
                          self.driver.attach_volume, self.context,
                          volume.connection_info(), inst, '/dev/vdb',
                          encryption={'provider': 'luks'})
        self.assertNotIn('volume-vdb', self.container(inst).devices)

    def test_extend_of_a_stopped_instance(self):
        volume = self.useFixture(LoopVolume(size_mib=128, fstype='btrfs'))
        inst = self.instance()
        self.spawn(inst, power_on=False)
        self.driver.attach_volume(self.context, volume.connection_info(),
                                  inst, '/dev/vdb')
        volume.grow(256)
        self.driver.extend_volume(self.context, volume.connection_info(),
                                  inst, 256 * MIB)
        self.driver.power_on(self.context, inst, [])
        self.assertGreater(self.df_kib(inst, '/media/vdb'), 200000)

    def test_destroy_unmounts_and_leaves_the_data(self):
        volume = self.useFixture(LoopVolume())
        inst = self.instance()
        self.spawn(inst)
        info = volume.connection_info()
        self.driver.attach_volume(self.context, info, inst, '/dev/vdb')
        self.guest(inst, 'sh', '-c', 'echo kept > /media/vdb/data')
        bdi = {'block_device_mapping': [{'connection_info': info,
                                         'mount_device': '/dev/vdb'}]}
        self.driver.destroy(self.context, inst, [], block_device_info=bdi)
        self.assertIsNone(fs.find_mount(volume.device))
        self.assertEqual([], os.listdir(self.mount_dir))
        out = subprocess.run(['debugfs', '-R', 'cat /data', volume.device],
                             capture_output=True, text=True, check=True)
        self.assertEqual('kept\n', out.stdout)


class VolumeAPITest(base.LXDTestCase):
    """Attach and detach through nova's API, with nova's Cinder fixture
    handing out the loop device's connection_info."""

    def test_attach_and_detach(self):
        real_host(self)
        self.flags(volume_mount_dir=self.useFixture(fixtures.TempDir()).path,
                   group='lxd')
        volume = self.useFixture(LoopVolume())
        self.cinder.VOLUME_CONNECTION_INFO = dict(
            self.cinder.VOLUME_CONNECTION_INFO,
            **{volume.id: {'driver_volume_type': 'local',
                           'data': {'device_path': volume.device}}})
        image = self.register_image()
        server = self._create_server(
            image_uuid=image, flavor_id=self.create_flavor_with(),
            networks='none')
        self._attach_volume(server, volume.id)
        device = self.api.get_server_volume(server['id'], volume.id)[
            'device']
        path = '/media/' + device.rsplit('/', 1)[-1]
        self.guest_run(server, 'sh', '-c', f'echo ok > {path}/f')
        self.api.delete_server_volume(server['id'], volume.id)
        self._wait_for_volume_detach(server['id'], volume.id)
        self.assertNotIn(f' {path} ',
                         self.guest_run(server, 'cat', '/proc/mounts'))
        self._delete_server(server)
