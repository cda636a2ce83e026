"""Unit tests of nova_lxd.nova.virt.lxd.cpu_numa (nova objects, no mocks)."""
import copy

from nova import exception
from nova import objects
from nova.objects import fields
from nova.virt import hardware
from oslo_utils import units
from oslotest import base

from nova_lxd.nova.virt.lxd import cpu_numa
from nova_lxd.nova.virt.lxd import exception as lxd_exception

GiB = units.Gi
MIB_2 = 2 * units.Mi


def _thread(cpu_id, node, thread=0, online=True):
    return {'id': cpu_id, 'isolated': False, 'numa_node': node,
            'online': online, 'thread': thread}


# This test VM's own `lxc query /1.0/resources` (LXD 5.0.2), cpu and memory
# sections: 2 single-thread cores, one NUMA node, 24 GiB, no huge pages.
REAL = {
    'cpu': {'architecture': 'x86_64', 'total': 2, 'sockets': [{
        'name': 'Intel(R) Xeon(R) Processor', 'socket': 0,
        'vendor': 'GenuineIntel',
        'cores': [{'core': 0, 'die': 0, 'threads': [_thread(0, 0)]},
                  {'core': 1, 'die': 0, 'threads': [_thread(1, 0)]}]}]},
    'memory': {'hugepages_size': 2097152, 'hugepages_total': 0,
               'hugepages_used': 0, 'total': 25769803776, 'used': 794218496,
               'nodes': [{'numa_node': 0, 'hugepages_total': 0,
                          'hugepages_used': 0, 'total': 25769803776,
                          'used': 957181952}]},
}


def _two_nodes():
    """The same host grown to two sockets = two NUMA nodes, 2 cores x 2
    threads each, numbered as Linux does (siblings n and n+4), 16 GiB per
    node, 2 MiB huge pages: 512 on node 0 (10 used), 1024 on node 1.
    LXD counts huge pages in bytes."""
    sockets = []
    for s in (0, 1):
        cores = [{'core': c, 'die': 0,
                  'threads': [_thread(2 * s + c, s, 0),
                              _thread(2 * s + c + 4, s, 1)]}
                 for c in (0, 1)]
        sockets.append({'name': 'Intel(R) Xeon(R) Processor', 'socket': s,
                        'vendor': 'GenuineIntel', 'cores': cores})
    nodes = [{'numa_node': 0, 'total': 16 * GiB, 'used': GiB,
              'hugepages_total': 512 * MIB_2, 'hugepages_used': 10 * MIB_2},
             {'numa_node': 1, 'total': 16 * GiB, 'used': GiB,
              'hugepages_total': 1024 * MIB_2, 'hugepages_used': 0}]
    return {'cpu': {'architecture': 'x86_64', 'total': 8,
                    'sockets': sockets},
            'memory': {'hugepages_size': MIB_2,
                       'hugepages_total': 1536 * MIB_2,
                       'hugepages_used': 10 * MIB_2, 'total': 32 * GiB,
                       'used': 2 * GiB, 'nodes': nodes}}


def _set_offline(resources, cpu_id):
    for sock in resources['cpu']['sockets']:
        for core in sock['cores']:
            for thread in core['threads']:
                if thread['id'] == cpu_id:
                    thread['online'] = False
    return resources


def _pages(cell):
    return [(p.size_kb, p.total, p.used, p.reserved) for p in cell.mempages]


class HostNUMATopologyTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()

    def test_real_host_without_cpu_sets_is_one_legacy_cell(self):
        topo = cpu_numa.host_numa_topology(copy.deepcopy(REAL), None, None)
        self.assertEqual(1, len(topo.cells))
        cell = topo.cells[0]
        self.assertEqual(0, cell.id)
        self.assertEqual(0, cell.socket)
        # As libvirt without any set: every online CPU for both kinds.
        self.assertEqual({0, 1}, cell.cpuset)
        self.assertEqual({0, 1}, cell.pcpuset)
        self.assertEqual([{0}, {1}], cell.siblings)
        self.assertEqual(24576, cell.memory)
        self.assertEqual((0, 0, set()),
                         (cell.cpu_usage, cell.memory_usage,
                          cell.pinned_cpus))
        # 24 GiB of 4 KiB pages; the 2 MiB size is reported, with 0 pages.
        self.assertEqual([(4, 6291456, 0, 0), (2048, 0, 0, 0)], _pages(cell))
        self.assertEqual(set(), cell.network_metadata.physnets)
        self.assertFalse(cell.network_metadata.tunneled)

    def test_two_nodes_dedicated_and_shared_split(self):
        topo = cpu_numa.host_numa_topology(
            _two_nodes(), dedicated_cpus={1, 5, 3, 7},
            shared_cpus={0, 4, 2, 6})
        cell0, cell1 = topo.cells
        self.assertEqual((0, 1), (cell0.id, cell1.id))
        self.assertEqual((0, 1), (cell0.socket, cell1.socket))
        self.assertEqual(({0, 4}, {1, 5}), (cell0.cpuset, cell0.pcpuset))
        self.assertEqual(({2, 6}, {3, 7}), (cell1.cpuset, cell1.pcpuset))
        self.assertEqual([{0, 4}, {1, 5}], cell0.siblings)
        self.assertEqual([{2, 6}, {3, 7}], cell1.siblings)
        self.assertEqual((16384, 16384), (cell0.memory, cell1.memory))
        # 16 GiB less the huge pages, in 4 KiB pages; huge pages counted
        # from LXD's bytes; used stays 0 (the resource tracker adds it).
        self.assertEqual([(4, 3932160, 0, 0), (2048, 512, 0, 0)],
                         _pages(cell0))
        self.assertEqual([(4, 3670016, 0, 0), (2048, 1024, 0, 0)],
                         _pages(cell1))

    def test_only_dedicated_set_leaves_no_shared_cpus(self):
        topo = cpu_numa.host_numa_topology(_two_nodes(), set(range(8)), None)
        self.assertEqual([set(), set()], [c.cpuset for c in topo.cells])
        self.assertEqual([{0, 1, 4, 5}, {2, 3, 6, 7}],
                         [c.pcpuset for c in topo.cells])

    def test_only_shared_set_has_no_pinnable_cpus(self):
        topo = cpu_numa.host_numa_topology(_two_nodes(), None, {0, 1, 2})
        self.assertEqual([{0, 1}, {2}], [c.cpuset for c in topo.cells])
        self.assertEqual([set(), set()], [c.pcpuset for c in topo.cells])
        # Siblings keep only usable threads, empty cores dropped.
        self.assertEqual([[{0}, {1}], [{2}]],
                         [c.siblings for c in topo.cells])

    def test_offline_cpu_is_left_out(self):
        resources = _set_offline(_two_nodes(), 7)
        cell1 = cpu_numa.host_numa_topology(resources, None, None).cells[1]
        self.assertEqual({2, 3, 6}, cell1.cpuset)
        self.assertEqual({2, 3, 6}, cell1.pcpuset)
        self.assertEqual([{2, 6}, {3}], cell1.siblings)

    def test_dedicated_cpu_the_host_lacks_is_refused(self):
        e = self.assertRaises(exception.Invalid, cpu_numa.host_numa_topology,
                              _two_nodes(), {6, 8}, None)
        self.assertIn("'[compute] cpu_dedicated_set'", str(e))
        self.assertIn('configured cpuset(s): [6, 8]', str(e))

    def test_offline_shared_cpu_is_refused(self):
        resources = _set_offline(_two_nodes(), 7)
        e = self.assertRaises(exception.Invalid, cpu_numa.host_numa_topology,
                              resources, None, {0, 7})
        self.assertIn("'[compute] cpu_shared_set'", str(e))
        self.assertIn('Online cpuset(s): [0, 1, 2, 3, 4, 5, 6]', str(e))

    def test_overlapping_sets_are_refused(self):
        e = self.assertRaises(exception.InvalidConfiguration,
                              cpu_numa.host_numa_topology, _two_nodes(),
                              {1, 2}, {2, 3})
        self.assertIn('must be disjoint (both list 2)', str(e))

    def test_reserved_huge_pages_per_node(self):
        topo = cpu_numa.host_numa_topology(
            _two_nodes(), None, None,
            reserved_huge_pages={1: {2048: 64, 4: 1000}})
        self.assertEqual([(4, 3932160, 0, 0), (2048, 512, 0, 0)],
                         _pages(topo.cells[0]))
        self.assertEqual([(4, 3670016, 0, 1000), (2048, 1024, 0, 64)],
                         _pages(topo.cells[1]))

    def test_host_without_numa_nodes_is_one_cell(self):
        resources = _two_nodes()
        del resources['memory']['nodes']
        for sock in resources['cpu']['sockets']:
            for core in sock['cores']:
                for thread in core['threads']:
                    thread['numa_node'] = 0
        (cell,) = cpu_numa.host_numa_topology(resources, None, None).cells
        self.assertEqual(set(range(8)), cell.cpuset)
        self.assertEqual(32768, cell.memory)
        self.assertIsNone(cell.socket)  # two sockets in one node
        self.assertEqual([(4, 7602176, 0, 0), (2048, 1536, 0, 0)],
                         _pages(cell))

    def test_nova_fits_and_pins_a_huge_page_instance(self):
        host = cpu_numa.host_numa_topology(_two_nodes(), {1, 5, 3, 7},
                                           {0, 4, 2, 6})
        flavor = _flavor(
            {'hw:cpu_policy': 'dedicated', 'hw:mem_page_size': '2MB'},
            vcpus=2, memory_mb=1536)
        wanted = hardware.numa_get_constraints(flavor, _image())
        fitted = hardware.numa_fit_instance_to_host(host, wanted, None)
        # Node 0 has 1 GiB of huge pages, too few: nova picks node 1.
        self.assertEqual([1], [cell.id for cell in fitted.cells])
        self.assertEqual([2048], [cell.pagesize for cell in fitted.cells])
        self.assertEqual({3, 7}, fitted.cpu_pinning)
        self.assertEqual({'limits.cpu': '3,7'},
                         cpu_numa.cpu_config(fitted, 2, {0, 4, 2, 6}))


class CPUInventoryTest(base.BaseTestCase):

    def inventory(self, dedicated, shared, resources=None):
        return cpu_numa.cpu_inventory(resources or _two_nodes(), dedicated,
                                      shared)

    def test_no_sets_every_online_cpu_is_a_vcpu(self):
        self.assertEqual({'VCPU': 8, 'PCPU': 0}, self.inventory(None, None))
        self.assertEqual({'VCPU': 2, 'PCPU': 0},
                         self.inventory(set(), set(), copy.deepcopy(REAL)))

    def test_split(self):
        self.assertEqual({'VCPU': 3, 'PCPU': 4},
                         self.inventory({1, 3, 5, 7}, {0, 2, 4}))

    def test_only_dedicated(self):
        self.assertEqual({'VCPU': 0, 'PCPU': 8},
                         self.inventory(set(range(8)), None))

    def test_only_shared(self):
        self.assertEqual({'VCPU': 2, 'PCPU': 0}, self.inventory(None, {0, 1}))

    def test_offline_cpu_is_not_counted(self):
        self.assertEqual({'VCPU': 7, 'PCPU': 0}, self.inventory(
            None, None, _set_offline(_two_nodes(), 3)))

    def test_unknown_cpu_is_refused(self):
        self.assertRaises(exception.Invalid, self.inventory, None, {9})


def _cell(cell_id, pcpuset=(), cpuset=(), pinning=None, policy=None,
          pagesize=None, memory=1024, reserved=None):
    cell = objects.InstanceNUMACell(
        id=cell_id, cpuset=set(cpuset), pcpuset=set(pcpuset), memory=memory,
        pagesize=pagesize, cpu_policy=policy, cpuset_reserved=reserved)
    if pinning is not None:
        cell.pin_vcpus(*pinning.items())
    return cell


def _topology(*cells):
    return objects.InstanceNUMATopology(cells=list(cells))


DEDICATED = fields.CPUAllocationPolicy.DEDICATED


class CPUConfigTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()

    def test_cpu_ranges(self):
        self.assertEqual('0-2,4', cpu_numa.cpu_ranges({4, 2, 0, 1}))
        self.assertEqual('1-3,6', cpu_numa.cpu_ranges([6, 3, 2, 1]))
        self.assertEqual('5-5', cpu_numa.cpu_ranges([5]))
        self.assertEqual('1,3,5,7', cpu_numa.cpu_ranges(range(1, 8, 2)))

    def test_pinned_instance_gets_its_host_cpus(self):
        topo = _topology(
            _cell(0, {0, 1, 2}, pinning={0: 1, 1: 2, 2: 3}, policy=DEDICATED),
            _cell(1, {3}, pinning={3: 6}, policy=DEDICATED))
        self.assertEqual({'limits.cpu': '1-3,6'},
                         cpu_numa.cpu_config(topo, 4, {0, 4}))

    def test_emulator_thread_cpus_stay_unused(self):
        topo = _topology(_cell(0, {0, 1}, pinning={0: 5, 1: 7},
                               policy=DEDICATED, reserved={3}))
        topo.emulator_threads_policy = (
            fields.CPUEmulatorThreadsPolicy.ISOLATE)
        self.assertEqual({'limits.cpu': '5,7'},
                         cpu_numa.cpu_config(topo, 2, None))

    def test_shared_instance_runs_on_the_shared_set_with_a_quota(self):
        self.assertEqual({'limits.cpu': '0-3',
                          'limits.cpu.allowance': '200ms/100ms'},
                         cpu_numa.cpu_config(None, 2, {3, 1, 2, 0}))

    def test_unpinned_numa_instance_is_shared(self):
        topo = _topology(_cell(0, cpuset={0, 1, 2}, pagesize=2048))
        self.assertEqual({'limits.cpu': '4,6',
                          'limits.cpu.allowance': '300ms/100ms'},
                         cpu_numa.cpu_config(topo, 3, {4, 6}))

    def test_no_shared_set_is_a_count(self):
        self.assertEqual({'limits.cpu': '2'},
                         cpu_numa.cpu_config(None, 2, None))
        self.assertEqual({'limits.cpu': '3'},
                         cpu_numa.cpu_config(_topology(_cell(0, cpuset={0})),
                                             3, set()))

    def test_dedicated_cell_without_pinning_is_an_error(self):
        topo = _topology(_cell(0, {0, 1}, pinning={0: 2}, policy=DEDICATED))
        self.assertRaises(exception.InternalError, cpu_numa.cpu_config,
                          topo, 2, None)

    def test_mixed_policy_is_an_error(self):
        topo = _topology(_cell(0, {1}, cpuset={0}, pinning={1: 3},
                               policy=fields.CPUAllocationPolicy.MIXED))
        self.assertRaises(exception.InternalError, cpu_numa.cpu_config,
                          topo, 2, {0})


def _hugepages(size, total_pages):
    return {'memory': {'hugepages_size': size,
                       'hugepages_total': total_pages * size}}


class MemoryConfigTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        objects.register_all()

    def config(self, pagesize, host, memory_mb=1024):
        topo = _topology(_cell(0, cpuset={0}, pagesize=pagesize,
                               memory=memory_mb))
        return cpu_numa.memory_config(topo, memory_mb, host, 'inst-1')

    def test_2mb_pages(self):
        self.assertEqual({'limits.hugepages.2MB': '1024MiB'},
                         self.config(2048, _two_nodes()))

    def test_1gb_pages(self):
        self.assertEqual({'limits.hugepages.1GB': '2048MiB'},
                         self.config(1048576, _hugepages(GiB, 4), 2048))

    def test_64kb_and_1mb_names(self):
        self.assertEqual({'limits.hugepages.64KB': '512MiB'},
                         self.config(64, _hugepages(64 * units.Ki, 9), 512))
        self.assertEqual({'limits.hugepages.1MB': '512MiB'},
                         self.config(1024, _hugepages(units.Mi, 9), 512))

    def test_small_pages_or_no_topology_set_nothing(self):
        self.assertEqual({}, self.config(4, None))
        self.assertEqual({}, self.config(None, None))
        self.assertEqual({}, cpu_numa.memory_config(None, 512, None, 'i'))

    def test_host_without_huge_pages_is_refused(self):
        e = self.assertRaises(lxd_exception.UnsupportedInstanceFeature,
                              self.config, 2048, copy.deepcopy(REAL))
        self.assertIn('hw:mem_page_size=2048', str(e))
        self.assertIn('this host has no 2MB huge pages', str(e))
        self.assertIn('inst-1', str(e))

    def test_other_huge_page_size_on_the_host_is_refused(self):
        e = self.assertRaises(lxd_exception.UnsupportedInstanceFeature,
                              self.config, 1048576, _two_nodes())
        self.assertIn('this host has no 1GB huge pages', str(e))

    def test_page_size_without_lxd_key_is_refused(self):
        e = self.assertRaises(lxd_exception.UnsupportedInstanceFeature,
                              self.config, 16384,
                              _hugepages(16 * units.Mi, 9))
        self.assertIn('LXD limits huge pages of 64KB, 1MB, 2MB, 1GB only',
                      str(e))

    def test_missing_host_resources_is_refused(self):
        self.assertRaises(lxd_exception.UnsupportedInstanceFeature,
                          self.config, 2048, None)


def _flavor(extra_specs, vcpus=2, memory_mb=1024):
    objects.register_all()
    return objects.Flavor(name='m1.test', vcpus=vcpus, memory_mb=memory_mb,
                          root_gb=1, ephemeral_gb=0, swap=0,
                          extra_specs=dict(extra_specs))


def _image(**properties):
    objects.register_all()
    return objects.ImageMeta.from_dict({'name': 'img',
                                        'properties': properties})
