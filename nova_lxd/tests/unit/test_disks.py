"""disks.py: flavor/block device info/pool -> LXD disks (no mocks).

ZFS, LVM and Ceph pools cannot exist on the test machine (no kernel
modules, no cluster): the tests marked "not runnable here" check the exact
requests the driver sends to such pools; dir and btrfs are also tested
against the real daemon (tests/functional/test_storage.py).
"""
from nova import exception
from nova import objects
import testtools

from nova_lxd.nova.virt.lxd import disks
from nova_lxd.nova.virt.lxd import exception as lxd_exception

UUID = '0b7c6c62-3f8e-4a36-9b3c-4c3f4b1f6b2a'


def _instance(ephemeral_gb=0, swap=0, extra_specs=None):
    objects.register_all()
    flavor = objects.Flavor(vcpus=1, memory_mb=256, root_gb=10,
                            ephemeral_gb=ephemeral_gb, swap=swap,
                            extra_specs=extra_specs or {})
    # nova names it instance-0000002a ([DEFAULT] instance_name_template).
    return objects.Instance(uuid=UUID, id=42, flavor=flavor)


def _bdi(mapping=(), ephemerals=(), swap=None):
    return {'block_device_mapping': list(mapping),
            'ephemerals': list(ephemerals), 'swap': swap,
            'root_device_name': None}


class PoolFeaturesTest(testtools.TestCase):

    def test_dir_has_neither(self):
        self.assertEqual((False, False),
                         disks.pool_features({'driver': 'dir'}))

    def test_btrfs_has_both(self):
        self.assertEqual((True, True),
                         disks.pool_features({'driver': 'btrfs'}))

    def test_zfs_ceph_lvm_thin_clone(self):
        # Not runnable here: no ZFS, LVM or Ceph on the test machine.
        for driver in ('zfs', 'ceph', 'lvm'):
            self.assertEqual((True, True),
                             disks.pool_features({'driver': driver}), driver)

    def test_lvm_without_thin_pool_unpacks(self):
        # Not runnable here (no device-mapper in the kernel).
        pool = {'driver': 'lvm', 'config': {'lvm.use_thinpool': 'false'}}
        self.assertEqual((True, False), disks.pool_features(pool))

    def test_cephfs_cannot_hold_instances_quota_free(self):
        self.assertEqual((False, False),
                         disks.pool_features({'driver': 'cephfs'}))


class RootDiskTest(testtools.TestCase):

    def test_root_size_only_on_quota_pools(self):
        dir_root = disks.root_disk_device('default', 'dir', 10, {})
        btrfs_root = disks.root_disk_device('fast', 'btrfs', 10, {})
        self.assertEqual({'type': 'disk', 'path': '/', 'pool': 'default'},
                         dir_root)
        self.assertEqual('10GiB', btrfs_root['size'])
        self.assertEqual('fast', btrfs_root['pool'])

    def test_root_zfs_lvm_ceph_get_size(self):
        # Not runnable here: checks the config sent to such pools.
        for driver in ('zfs', 'lvm', 'ceph'):
            device = disks.root_disk_device('p', driver, 20, {})
            self.assertEqual({'type': 'disk', 'path': '/', 'pool': 'p',
                              'size': '20GiB'}, device, driver)

    def test_root_gb_zero_means_image_size(self):
        self.assertNotIn('size', disks.root_disk_device('p', 'zfs', 0, {}))

    def test_disk_io_limits(self):
        device = disks.root_disk_device(
            'p', 'dir', 0, {'quota:disk_read_bytes_sec': '10485760',
                            'quota:disk_write_iops_sec': '200'})
        self.assertEqual('10485760B', device['limits.read'])
        self.assertEqual('200iops', device['limits.write'])

    def test_total_limit_is_limits_max(self):
        self.assertEqual({'limits.max': '500iops'}, disks.io_limits(
            {'quota:disk_total_iops_sec': '500'}))

    def test_total_with_read_or_write_refused(self):
        e = self.assertRaises(lxd_exception.InvalidExtraSpec,
                              disks.io_limits,
                              {'quota:disk_total_bytes_sec': '100',
                               'quota:disk_read_iops_sec': '10'})
        self.assertIn('quota:disk_total_bytes_sec', str(e))

    def test_bytes_and_iops_conflict(self):
        self.assertRaises(
            lxd_exception.InvalidExtraSpec, disks.root_disk_device,
            'p', 'dir', 0, {'quota:disk_read_bytes_sec': '1',
                            'quota:disk_read_iops_sec': '1'})


class EphemeralTest(testtools.TestCase):

    def test_flavor_ephemeral_when_nova_lists_none(self):
        self.assertEqual([{'num': 0, 'size': 5, 'guest_format': None}],
                         disks.ephemeral_disks(_instance(ephemeral_gb=5),
                                               None))

    def test_block_device_info_wins_over_flavor(self):
        bdi = _bdi(ephemerals=[
            {'num': 1, 'size': 2, 'device_name': '/dev/vdc'},
            {'num': 0, 'size': 3, 'guest_format': 'ext4',
             'device_name': '/dev/vdb'}])
        self.assertEqual(
            [{'num': 0, 'size': 3, 'guest_format': 'ext4'},
             {'num': 1, 'size': 2, 'guest_format': None}],
            disks.ephemeral_disks(_instance(ephemeral_gb=5), bdi))

    def test_no_ephemeral(self):
        self.assertEqual([], disks.ephemeral_disks(_instance(), _bdi()))

    def test_volume_on_btrfs(self):
        body = disks.ephemeral_volume(
            _instance(), {'num': 0, 'size': 5, 'guest_format': None},
            'btrfs')
        self.assertEqual({
            'name': 'instance-0000002a-ephemeral0', 'type': 'custom',
            'content_type': 'filesystem',
            'description': f'Ephemeral disk 0 of nova instance {UUID}',
            'config': {'size': '5GiB'}}, body)

    def test_volume_on_dir_has_no_size(self):
        body = disks.ephemeral_volume(
            _instance(), {'num': 0, 'size': 5, 'guest_format': None}, 'dir')
        self.assertEqual({}, body['config'])

    def test_volume_on_lvm_and_ceph_formatted(self):
        # Not runnable here: block-backed pools format with LXD's mkfs.
        for driver in ('lvm', 'ceph'):
            body = disks.ephemeral_volume(
                _instance(), {'num': 1, 'size': 8, 'guest_format': 'xfs'},
                driver)
            self.assertEqual({'size': '8GiB', 'block.filesystem': 'xfs'},
                             body['config'], driver)
            self.assertEqual('instance-0000002a-ephemeral1', body['name'])

    def test_volume_on_zfs_is_a_dataset(self):
        # Not runnable here: a ZFS custom volume is a dataset with a quota.
        body = disks.ephemeral_volume(
            _instance(), {'num': 0, 'size': 2, 'guest_format': 'ext4'},
            'zfs')
        self.assertEqual({'size': '2GiB'}, body['config'])

    def test_format_lxd_cannot_make_is_refused(self):
        for fmt in ('swap', 'vfat', 'ntfs'):
            e = self.assertRaises(
                lxd_exception.UnsupportedDisk, disks.ephemeral_volume,
                _instance(), {'num': 0, 'size': 1, 'guest_format': fmt},
                'btrfs')
            self.assertIsInstance(e, exception.InvalidInput)
            self.assertIn(repr(fmt), str(e))

    def test_device_paths_and_limits(self):
        specs = {'quota:disk_write_bytes_sec': '2048'}
        first = disks.ephemeral_device(
            'p', {'num': 0, 'size': 1}, 'i-1', specs)
        second = disks.ephemeral_device('p', {'num': 2, 'size': 1}, 'i-1',
                                        {})
        self.assertEqual(('ephemeral0', {
            'type': 'disk', 'pool': 'p', 'source': 'i-1-ephemeral0',
            'path': '/mnt', 'limits.write': '2048B'}), first)
        self.assertEqual('/mnt/ephemeral2', second[1]['path'])


class CheckDisksTest(testtools.TestCase):
    """Disks a container cannot have are refused (nova aborts the build on
    this InvalidInput instead of rescheduling it)."""

    def test_image_boot_with_ephemerals_passes(self):
        disks.check_disks(_instance(), None)
        disks.check_disks(_instance(ephemeral_gb=1),
                          _bdi(ephemerals=[{'size': 1}]))

    def test_data_volumes_at_boot_pass(self):
        disks.check_disks(_instance(), _bdi(mapping=[
            {'mount_device': '/dev/vdb', 'boot_index': None},
            {'mount_device': '/dev/vdc', 'boot_index': 1}]))

    def test_root_volume_refused(self):
        for bdm in ({'mount_device': '/dev/vda', 'boot_index': 0},
                    {'mount_device': '/dev/sda', 'boot_index': None}):
            bdi = _bdi(mapping=[bdm])
            bdi['root_device_name'] = bdm['mount_device']
            e = self.assertRaises(lxd_exception.UnsupportedDisk,
                                  disks.check_disks, _instance(), bdi)
            self.assertIsInstance(e, exception.InvalidInput)
            self.assertIn('a root volume', str(e))

    def test_swap_refused_never_ignored(self):
        e = self.assertRaises(lxd_exception.UnsupportedDisk,
                              disks.check_disks, _instance(swap=512), None)
        self.assertIn('a swap disk (512 MiB)', str(e))
        self.assertIn('use a flavor with swap 0', str(e))
        self.assertRaises(lxd_exception.UnsupportedDisk,
                          disks.check_disks, _instance(),
                          _bdi(swap={'swap_size': 256,
                                     'device_name': '/dev/sdc'}))


class VolumeDeviceTest(testtools.TestCase):

    def test_volume_mounted_under_media_by_nova_device_name(self):
        self.assertEqual(
            ('volume-vdb', {'type': 'disk', 'source': '/dev/sdx',
                            'path': '/media/vdb'}),
            disks.volume_device('/dev/sdx', '/dev/vdb', {}))

    def test_volume_gets_the_flavor_disk_limits(self):
        _name, device = disks.volume_device(
            '/dev/disk/by-path/ip-10.0.0.5:3260-iscsi-iqn.x-lun-1',
            '/dev/sdc', {'quota:disk_total_iops_sec': '300'})
        self.assertEqual('300iops', device['limits.max'])
        self.assertEqual('/media/sdc', device['path'])


class ContainerRootTest(testtools.TestCase):

    def test_unprivileged(self):
        idmap = ('[{"Isuid":true,"Isgid":false,"Hostid":100000,"Nsid":0,'
                 '"Maprange":65536},{"Isuid":false,"Isgid":true,'
                 '"Hostid":200000,"Nsid":0,"Maprange":65536}]')
        self.assertEqual((100000, 200000), disks.container_root(
            {'volatile.idmap.current': idmap}))

    def test_privileged_has_no_map(self):
        self.assertIsNone(disks.container_root(
            {'volatile.idmap.current': '[]'}))
        self.assertIsNone(disks.container_root({}))
