"""Unit tests of nova_lxd.nova.virt.lxd.resources (no mocks, no daemon)."""
import copy

from nova.compute import provider_tree
from nova import objects
import os_resource_classes as orc
from oslo_config import fixture as config_fixture
from oslo_serialization import jsonutils
from oslo_utils import units
from oslotest import base

from nova_lxd.nova.virt.lxd import host_info
from nova_lxd.nova.virt.lxd import resources

NODE = 'compute-1'
NODE_UUID = '6e3d2bc1-0a4e-4a58-9d5a-0d1f0b5c9a11'


def _cpu(sockets=1, cores=2, threads=1, numa_nodes=1):
    """A ``cpu`` section shaped like LXD 5.0's ``GET /1.0/resources``."""
    socks = []
    thread_id = 0
    for s in range(sockets):
        core_list = []
        for c in range(cores):
            thr = []
            for t in range(threads):
                thr.append({'id': thread_id, 'thread': t, 'online': True,
                            'isolated': False,
                            'numa_node': (s * cores + c) % numa_nodes})
                thread_id += 1
            core_list.append({'core': c, 'die': 0, 'threads': thr})
        socks.append({'name': 'AMD EPYC', 'vendor': 'AuthenticAMD',
                      'socket': s, 'cores': core_list})
    return {'architecture': 'x86_64', 'sockets': socks, 'total': thread_id}


# Measured on the test VM (LXD 5.0.2): 2 threads, 24 GiB, a dir pool.
HOST = {
    'cpu': _cpu(),
    'memory': {'total': 25769803776, 'used': 731586560,
               'hugepages_total': 0, 'hugepages_used': 0},
}
POOL = {'space': {'total': 270553174016, 'used': 23782273024},
        'inodes': {'total': 16777216, 'used': 432960}}
SERVER = {'environment': {'server_version': '5.0.2',
                          'architectures': ['x86_64', 'i686']}}


def _instance(name, status='Running', limit='1', profile_limit=None):
    config = {'user.nova.instance_uuid': name}
    if limit is not None:
        config['limits.cpu'] = limit
    expanded = dict(config)
    if profile_limit is not None and limit is None:
        expanded['limits.cpu'] = profile_limit
    return {'name': name, 'status': status, 'config': config,
            'expanded_config': expanded, 'devices': {}}


class FakeSession:
    """The four LXDSession readers, counting every call (one request each)."""

    def __init__(self, instances):
        self.instances = instances
        self.calls = []

    def host_resources(self):
        self.calls.append('host_resources')
        return copy.deepcopy(HOST)

    def pool_resources(self, name):
        self.calls.append(f'pool_resources:{name}')
        return copy.deepcopy(POOL)

    def list_instances(self):
        self.calls.append('list_instances')
        return copy.deepcopy(self.instances)

    def server_info(self):
        self.calls.append('server_info')
        return copy.deepcopy(SERVER)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class TestPure(base.BaseTestCase):

    def test_rounding(self):
        self.assertEqual(0, resources.floor_mib(units.Mi - 1))
        self.assertEqual(2, resources.ceil_mib(units.Mi + 1))
        self.assertEqual(1, resources.ceil_mib(units.Mi))
        self.assertEqual(251, resources.floor_gib(POOL['space']['total']))
        self.assertEqual(23, resources.ceil_gib(POOL['space']['used']))
        self.assertEqual(0, resources.ceil_gib(0))

    def test_cpu_limit_count(self):
        count = resources.cpu_limit_count
        self.assertIsNone(count(None))
        self.assertIsNone(count(''))
        self.assertEqual(2, count('2'))
        self.assertEqual(1, count('1'))
        self.assertEqual(4, count('0-3'))
        self.assertEqual(1, count('2-2'))
        self.assertEqual(2, count('1,3'))
        self.assertEqual(3, count('0-1,4'))
        self.assertEqual(2, count('0-1,1'))
        for bad in ('two', '1-', '-1', '1.5', '50%'):
            self.assertRaises(ValueError, count, bad)

    def test_vcpus_used(self):
        instances = [
            _instance('a', limit='2'),
            _instance('b', status='Frozen', limit='0-3'),
            _instance('c', status='Stopped', limit='8'),
            _instance('d', limit=None, profile_limit='3'),
            _instance('e', limit=None),
            _instance('f', limit='garbage'),
        ]
        # a 2 + b 4 + c 0 + d 3 (profile) + e 16 (no limit) + f 16 (unread)
        self.assertEqual(41, resources.vcpus_used(instances, 16))
        self.assertEqual(0, resources.vcpus_used([], 16))

    def test_hypervisor_version(self):
        self.assertEqual(5000002, host_info.hypervisor_version('5.0.2'))
        self.assertEqual(5021003,
                         host_info.hypervisor_version('5.21.3 LTS'))
        # Feature releases have two parts; padded so 5.21 > 5.0.2.
        self.assertEqual(6001000, host_info.hypervisor_version('6.1'))
        self.assertEqual(5021000, host_info.hypervisor_version('5.21'))
        self.assertEqual(5000000, host_info.hypervisor_version('5'))
        self.assertEqual(5000002, host_info.hypervisor_version('5.0.2.1'))
        self.assertRaises(ValueError, host_info.hypervisor_version, 'git')
        self.assertRaises(ValueError, host_info.hypervisor_version, None)

    def test_supported_instances(self):
        self.assertEqual(
            [('x86_64', 'lxd', 'exe'), ('i686', 'lxd', 'exe')],
            host_info.supported_instances(['x86_64', 'i686', 'nonsense',
                                           'i386']))
        self.assertEqual([('aarch64', 'lxd', 'exe')],
                         host_info.supported_instances(['aarch64']))
        self.assertEqual([], host_info.supported_instances(None))

    def test_cpu_info(self):
        info = jsonutils.loads(host_info.cpu_info(
            _cpu(sockets=2, cores=4, threads=2, numa_nodes=2)))
        self.assertEqual(
            {'arch': 'x86_64', 'model': 'AMD EPYC', 'vendor': 'AuthenticAMD',
             'topology': {'cells': 2, 'sockets': 2, 'cores': 4,
                          'threads': 2},
             'features': []}, info)
        empty = jsonutils.loads(host_info.cpu_info({'total': 0}))
        self.assertEqual({'cells': 1, 'sockets': 1, 'cores': 1,
                          'threads': 1}, empty['topology'])

    def test_totals(self):
        self.assertEqual({'vcpus': 2, 'memory_mb': 24576, 'local_gb': 251,
                          'VCPU': 2, 'PCPU': 0},
                         resources.totals(HOST, POOL))
        # [compute] cpu_dedicated_set=1, cpu_shared_set=0
        self.assertEqual({'vcpus': 2, 'memory_mb': 24576, 'local_gb': 251,
                          'VCPU': 1, 'PCPU': 1},
                         resources.totals(HOST, POOL, {1}, {0}))

    def test_available_resource(self):
        res = resources.available_resource(
            NODE, HOST, POOL, [_instance('a', limit='2')], SERVER,
            ({1}, {0}))
        cpu = jsonutils.loads(res.pop('cpu_info'))
        topology = objects.NUMATopology.obj_from_db_obj(
            res.pop('numa_topology'))
        self.assertEqual([(0, {0}, {1}, 24576)],
                         [(c.id, c.cpuset, c.pcpuset, c.memory)
                          for c in topology.cells])
        self.assertEqual([], jsonutils.loads(
            res.pop('pci_passthrough_devices')))
        self.assertEqual({'cells': 1, 'sockets': 1, 'cores': 2,
                          'threads': 1}, cpu['topology'])
        self.assertEqual({
            'vcpus': 2,
            'memory_mb': 24576,
            'local_gb': 251,
            'vcpus_used': 2,
            'memory_mb_used': 698,          # 731586560 B rounded up
            'local_gb_used': 23,            # 23782273024 B rounded up
            'hypervisor_type': 'lxd',
            'hypervisor_version': 5000002,
            'hypervisor_hostname': NODE,
            'disk_available_least': 229,    # 229.8 GiB free, rounded down
            'supported_instances': [('x86_64', 'lxd', 'exe'),
                                    ('i686', 'lxd', 'exe')],
        }, res)

    def test_inventory(self):
        ratios = {orc.VCPU: 16.0, orc.MEMORY_MB: 1.5, orc.DISK_GB: 1.0}
        reserved = {orc.VCPU: 1, orc.MEMORY_MB: 512, orc.DISK_GB: 2}
        inv = resources.inventory(
            {'VCPU': 2, 'PCPU': 0, 'memory_mb': 24576, 'local_gb': 251},
            ratios, reserved)
        self.assertEqual({
            orc.VCPU: {'total': 2, 'min_unit': 1, 'max_unit': 2,
                       'step_size': 1, 'allocation_ratio': 16.0,
                       'reserved': 1},
            orc.MEMORY_MB: {'total': 24576, 'min_unit': 1,
                            'max_unit': 24576, 'step_size': 1,
                            'allocation_ratio': 1.5, 'reserved': 512},
            orc.DISK_GB: {'total': 251, 'min_unit': 1, 'max_unit': 251,
                          'step_size': 1, 'allocation_ratio': 1.0,
                          'reserved': 2},
        }, inv)

    def test_inventory_leaves_out_empty_classes(self):
        ratios = dict.fromkeys((orc.VCPU, orc.MEMORY_MB, orc.DISK_GB), 1.0)
        reserved = dict.fromkeys(ratios, 0)
        inv = resources.inventory(
            {'VCPU': 2, 'PCPU': 0, 'memory_mb': 1024, 'local_gb': 0},
            ratios, reserved)
        self.assertEqual({orc.VCPU, orc.MEMORY_MB}, set(inv))

    def test_pinned_cpus_as_pcpu(self):
        ratios = dict.fromkeys((orc.VCPU, orc.MEMORY_MB, orc.DISK_GB), 4.0)
        reserved = dict.fromkeys(ratios, 1)
        inv = resources.inventory(
            {'VCPU': 6, 'PCPU': 2, 'memory_mb': 1024, 'local_gb': 9},
            ratios, reserved)
        # As libvirt: pinned CPUs are never overcommitted nor reserved.
        self.assertEqual({'total': 2, 'min_unit': 1, 'max_unit': 2,
                          'step_size': 1, 'allocation_ratio': 1.0,
                          'reserved': 0}, inv[orc.PCPU])
        self.assertEqual(6, inv[orc.VCPU]['total'])
        self.assertEqual(4.0, inv[orc.VCPU]['allocation_ratio'])


class TestHostResources(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(resources.CONF))
        self.conf.config(pool='nova-pool', group='lxd')
        self.clock = FakeClock()

    def _tree(self):
        tree = provider_tree.ProviderTree()
        tree.new_root(NODE, NODE_UUID)
        return tree

    def _periodic(self, n_instances):
        """One resource tracker periodic; returns (session, res, tree)."""
        session = FakeSession(
            [_instance(f'instance-{i:08x}') for i in range(n_instances)])
        host = resources.HostResources(session, clock=self.clock)
        res = host.available_resource(NODE)
        self.clock.now += 1.5
        tree = self._tree()
        host.update_provider_tree(tree, NODE)
        return session, host, res, tree

    def test_periodic_request_count_is_constant(self):
        counts = {}
        for n in (1, 50):
            session, _, res, tree = self._periodic(n)
            counts[n] = len(session.calls)
            self.assertEqual(['host_resources', 'pool_resources:nova-pool',
                              'list_instances', 'server_info'],
                             session.calls)
            self.assertEqual(n, res['vcpus_used'])
            inv = tree.data(NODE).inventory
            self.assertEqual(2, inv[orc.VCPU]['total'])
            self.assertEqual(24576, inv[orc.MEMORY_MB]['total'])
            self.assertEqual(251, inv[orc.DISK_GB]['total'])
        self.assertEqual({1: 4, 50: 4}, counts)

    def test_stale_reading_is_refreshed_without_instance_list(self):
        session, host, _, _ = self._periodic(50)
        self.clock.now += resources.HostResources.MAX_AGE + 0.1
        host.update_provider_tree(self._tree(), NODE)
        self.assertEqual(['host_resources', 'pool_resources:nova-pool'],
                         session.calls[4:])
        # ... and that fresh reading is reused right after.
        host.update_provider_tree(self._tree(), NODE)
        self.assertEqual(6, len(session.calls))

    def test_reading_of_another_pool_is_not_reused(self):
        session, host, _, _ = self._periodic(1)
        self.conf.config(pool='other', group='lxd')
        host.update_provider_tree(self._tree(), NODE)
        self.assertEqual(['host_resources', 'pool_resources:other'],
                         session.calls[4:])

    def test_inventory_from_config(self):
        self.conf.config(reserved_host_cpus=1, reserved_host_memory_mb=1024,
                         reserved_host_disk_mb=1500,
                         cpu_allocation_ratio=None,
                         initial_cpu_allocation_ratio=4.0,
                         ram_allocation_ratio=1.5,
                         disk_allocation_ratio=None)
        session = FakeSession([])
        host = resources.HostResources(session, clock=self.clock)
        tree = self._tree()
        # What placement already holds survives unless the ratio is set.
        tree.update_inventory(NODE, {
            orc.DISK_GB: {'total': 251, 'allocation_ratio': 2.0,
                          'reserved': 0, 'min_unit': 1, 'max_unit': 251,
                          'step_size': 1}})
        host.update_provider_tree(tree, NODE)
        inv = tree.data(NODE).inventory
        self.assertEqual(2, len(session.calls))
        self.assertEqual((4.0, 1), (inv[orc.VCPU]['allocation_ratio'],
                                    inv[orc.VCPU]['reserved']))
        self.assertEqual((1.5, 1024),
                         (inv[orc.MEMORY_MB]['allocation_ratio'],
                          inv[orc.MEMORY_MB]['reserved']))
        # 1500 MB reserved rounds up to 2 GiB.
        self.assertEqual((2.0, 2), (inv[orc.DISK_GB]['allocation_ratio'],
                                    inv[orc.DISK_GB]['reserved']))
        self.assertEqual(set(), tree.data(NODE).traits)
