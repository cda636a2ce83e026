"""Root disks, the clone path and ephemeral disks on the real daemon, on
both pools tools/lib/host-setup.sh makes: ``default`` (dir: no quota, an
unpack per instance) and ``btrfs`` (a loop file: quotas, clones).

ZFS, LVM and Ceph pools cannot exist here; tests/unit/test_disks.py checks
the requests sent to them.
"""
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.tests.functional import base


class _StorageTests:
    """Through nova's API; the pool comes from the subclass."""

    def setUp(self):
        super().setUp()
        self.image_id = self.register_image()

    def boot(self, flavor_id):
        return self._create_server(image_uuid=self.image_id,
                                   flavor_id=flavor_id, networks='none')

    def pool_volume_names(self, kind):
        node = self.lxd.api.storage_pools[self.POOL].volumes[kind]
        return [u.rsplit('/', 1)[-1].split('?')[0]
                for u in node.get().json()['metadata']]

    def assertQuotaEnforced(self, server, path, limit_mib):
        """Writing more than ``limit_mib`` MiB under ``path`` fails (btrfs
        quotas do not show in df: they are qgroup limits)."""
        result = base.execute(self.container(server), [
            'dd', 'if=/dev/zero', f'of={path}/fill', 'bs=1M',
            f'count={limit_mib + 64}'])
        self.assertNotEqual(0, result.exit_code, result.stderr)
        self.assertIn('quota exceeded', result.stderr)
        self.guest_run(server, 'rm', f'{path}/fill')

    def test_root_disk_and_clones(self):
        flavor = self.create_flavor_with(memory_mb=128, root_gb=1)
        servers = [self.boot(flavor), self.boot(flavor)]
        root = self.container(servers[0]).devices['root']
        self.assertEqual(self.POOL, root['pool'])
        images = self.pool_volume_names('image')
        if self.QUOTA:
            self.assertEqual('1GiB', root['size'])
            self.assertQuotaEnforced(servers[0], '/root', 1024)
            # Both instances are snapshots of one image volume.
            self.assertEqual(1, len(images), images)
        else:
            self.assertNotIn('size', root)
            self.assertEqual([], images)
        for server in servers:
            self._delete_server(server)
        self.assertEqual([], self.project.names())

    def test_ephemeral_disk_lives_and_dies_with_the_instance(self):
        flavor = self.create_flavor_with(memory_mb=128, root_gb=1,
                                         ephemeral_gb=1)
        server = self.boot(flavor)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        volume = f'{name}-ephemeral0'
        self.assertEqual([volume], self.pool_volume_names('custom'))
        mounts = self.guest_run(server, 'cat', '/proc/mounts')
        self.assertIn(' /mnt ', mounts)
        self.guest_run(server, 'sh', '-c', 'echo kept > /mnt/data')
        server = self._stop_server(server)
        server = self._start_server(server)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('kept\n',
                         self.guest_run(server, 'cat', '/mnt/data'))
        config = self.lxd.api.storage_pools[self.POOL].volumes.custom[
            volume].get().json()['metadata']['config']
        self.assertEqual('1GiB' if self.QUOTA else None, config.get('size'))
        self._delete_server(server)
        self.assertEqual([], self.pool_volume_names('custom'))


class DirStorageTest(_StorageTests, base.LXDTestCase):
    POOL = 'default'
    QUOTA = False


class BtrfsStorageTest(_StorageTests, base.LXDTestCase):
    POOL = 'btrfs'
    QUOTA = True


class EphemeralRollbackTest(base.DriverTestCase):
    """The driver's own clean-up of ephemeral volumes (nova would destroy
    after a failed spawn anyway: these call the driver directly)."""

    def setUp(self):
        super().setUp()
        self.flags(pool='btrfs', group='lxd')
        self.driver.init_host('compute')

    def custom_volumes(self):
        node = self.project.client.api.storage_pools['btrfs'].volumes.custom
        return [u.rsplit('/', 1)[-1].split('?')[0]
                for u in node.get().json()['metadata']]

    def test_failed_create_deletes_the_volumes_it_made(self):
        inst = self.instance()
        two = {'block_device_mapping': [], 'swap': None,
               'root_device_name': None,
               'ephemerals': [{'num': 0, 'size': 1}, {'num': 1, 'size': 1}]}
        # A profile removed after init_host: LXD refuses the container
        # once both volumes exist.
        self.flags(profiles=['removed-meanwhile'], group='lxd')
        e = self.assertRaises(lxd_exception.LXDRequestFailed, self.spawn,
                              inst, block_device_info=two)
        self.assertIn(f'create instance {inst.name}', str(e))
        self.assertEqual([], self.custom_volumes())
        self.assertEqual([], self.project.names())

    def test_destroy_keeps_disks_when_asked(self):
        inst = self.instance()
        inst.flavor.ephemeral_gb = 1
        self.spawn(inst)
        self.assertEqual([f'{inst.name}-ephemeral0'], self.custom_volumes())
        self.driver.destroy(self.context, inst, [], destroy_disks=False)
        self.assertEqual([f'{inst.name}-ephemeral0'], self.custom_volumes())
        self.driver.destroy(self.context, inst, [])
        self.assertEqual([], self.custom_volumes())


class DiskQoSTest(base.DriverTestCase):
    """Flavor disk quotas reach the kernel: LXD writes them to the
    container's block I/O cgroup for the device under the disk, v2
    ``io.max`` or (this test machine) v1 ``blkio.throttle.*``.  A timing
    measurement would only repeat the kernel's own tests."""

    def limits(self, inst):
        """The container's I/O limits as ``{name: value}`` (v1 and v2
        names, e.g. ``wbps``/``write_bps_device``)."""
        pid = self.init_pid(inst)
        with open(f'/proc/{pid}/cgroup') as f:
            paths = dict(line.strip().split(':', 2)[1:]
                         for line in f if line.strip())
        found = {}
        if 'blkio' in paths:  # cgroup v1
            base = f"/sys/fs/cgroup/blkio{paths['blkio']}"
            for name in ('read_bps_device', 'write_bps_device',
                         'read_iops_device', 'write_iops_device'):
                with open(f'{base}/blkio.throttle.{name}') as f:
                    for line in f.read().split('\n'):
                        if line.strip():
                            found[name] = line.split()[1]
        else:  # cgroup v2: io.max "MAJ:MIN rbps=... wbps=..."
            with open(f"/sys/fs/cgroup{paths['']}/io.max") as f:
                for field in f.read().split()[1:]:
                    key, value = field.split('=')
                    found[key] = value
        return found

    def test_root_disk_limits_reach_the_cgroup(self):
        base.allow_host_reads(self)
        inst = self.instance(extra_specs={
            'quota:disk_write_bytes_sec': '1048576',
            'quota:disk_read_iops_sec': '200'})
        self.spawn(inst)
        root = self.container(inst).devices['root']
        self.assertEqual(('1048576B', '200iops'),
                         (root['limits.write'], root['limits.read']))
        limits = self.limits(inst)
        self.assertEqual('1048576', limits.get('write_bps_device',
                                               limits.get('wbps')))
        self.assertEqual('200', limits.get('read_iops_device',
                                           limits.get('riops')))
