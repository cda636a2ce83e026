"""nova's CPU, NUMA and huge page model <-> LXD containers.  Pure: no I/O.

The host side follows nova's libvirt driver (``_get_host_numa_topology``,
``_get_vcpu_available``, ``_get_pcpu_available``), reading LXD's ``GET
/1.0/resources``, so nova's NUMATopologyFilter and resource tracker claim
fit and pin instances here as on a libvirt host.  Nova's claim
(``instance.numa_topology``) becomes LXD's ``limits.cpu``,
``limits.cpu.allowance`` and ``limits.hugepages.*``
(https://documentation.ubuntu.com/lxd/en/latest/reference/instance_options/).
Units: a CPU *id* is a host logical CPU number (LXD's thread ``id``), a CPU
*count* a number of CPUs; nova counts memory in MiB and pages in KiB, LXD
counts bytes.
"""
import collections

from nova import exception
from nova import objects
from nova.objects import fields
from nova.virt import hardware
from oslo_log import log as logging
from oslo_utils import units

from nova_lxd.nova.virt.lxd import exception as lxd_exception

LOG = logging.getLogger(__name__)

SMALL_PAGE_KB = 4
# nova page size (KiB) -> the size in LXD's limits.hugepages.<size> keys.
HUGEPAGE_SIZE_NAMES = {64: '64KB', 1024: '1MB', 2048: '2MB', 1048576: '1GB'}
CFS_PERIOD_MS = 100
_Thread = collections.namedtuple('_Thread', 'id node socket core')


def cpu_ranges(ids):
    """``{0, 1, 2, 4}`` -> ``'0-2,4'``, LXD's ``limits.cpu`` set syntax.

    :param ids: iterable of host CPU ids (ints).
    :returns: comma-separated ids and ``a-b`` ranges, ascending; one id
        ``n`` is ``'n-n'``, since LXD reads a bare number as a CPU count
        (measured: ``limits.cpu=1-1`` runs on CPU 1, ``1`` on any one).
    """
    spec = hardware.format_cpu_spec(set(ids))
    return f'{spec}-{spec}' if spec.isdigit() else spec


def _online_threads(resources):
    for sock in resources['cpu'].get('sockets') or ():
        for index, core in enumerate(sock.get('cores') or ()):
            for thread in core.get('threads') or ():
                # Offline CPUs run nothing; libvirt's online set skips them.
                if thread.get('online', True):
                    yield _Thread(thread['id'], thread.get('numa_node', 0),
                                  sock['socket'], (sock['socket'], index))


def _check_online(cpus, online, option):
    if not cpus <= online:
        raise exception.Invalid(
            f"Invalid '{option}' config: one or more of the configured "
            f"CPUs is not online. Online cpuset(s): {sorted(online)}, "
            f"configured cpuset(s): {sorted(cpus)}")


def _available_cpus(resources, dedicated_cpus, shared_cpus):
    """``(VCPU ids, PCPU ids)`` as libvirt's ``_get_vcpu_available`` and
    ``_get_pcpu_available`` (no legacy ``vcpu_pin_set``)."""
    online = {t.id for t in _online_threads(resources)}
    dedicated, shared = set(dedicated_cpus or ()), set(shared_cpus or ())
    if not dedicated.isdisjoint(shared):
        raise exception.InvalidConfiguration(
            "The '[compute] cpu_dedicated_set' and '[compute] "
            "cpu_shared_set' configuration options must be disjoint "
            f"(both list {hardware.format_cpu_spec(dedicated & shared)}).")
    _check_online(dedicated, online, '[compute] cpu_dedicated_set')
    _check_online(shared, online, '[compute] cpu_shared_set')
    if shared:
        return shared, dedicated
    # Only dedicated CPUs configured: nothing is left for shared instances.
    return (set() if dedicated else online), dedicated


def cpu_inventory(resources, dedicated_cpus, shared_cpus):
    """Placement totals of the host's CPUs, as the libvirt driver reports.

    :param resources: ``GET /1.0/resources`` metadata (dict).
    :param dedicated_cpus: set of host CPU ids of ``[compute]
        cpu_dedicated_set`` (``hardware.get_cpu_dedicated_set()``), or None.
    :param shared_cpus: likewise, of ``[compute] cpu_shared_set``.
    :returns: ``{'VCPU': count, 'PCPU': count}``: VCPU counts the shared
        set, else every online CPU when no set is configured (0 when only
        the dedicated set is); PCPU counts the dedicated set (0 kept).
    :raises nova.exception.Invalid: a configured CPU is not online.
    :raises nova.exception.InvalidConfiguration: the two sets overlap.
    """
    vcpus, pcpus = _available_cpus(resources, dedicated_cpus, shared_cpus)
    return {'VCPU': len(vcpus), 'PCPU': len(pcpus)}


def _memory_nodes(memory):
    # LXD lists no nodes where the kernel shows none: the host is one node.
    return {node['numa_node']: node
            for node in memory.get('nodes') or ()} or {0: memory}


def _mempages(node_memory, huge_kb, reserved):
    # LXD counts huge pages in bytes (pages x the host's huge page size).
    huge = node_memory.get('hugepages_total', 0) if huge_kb else 0
    # As libvirt: the small pages are the node's memory outside huge pages.
    sizes = [(SMALL_PAGE_KB, (node_memory.get('total', 0) - huge) //
              (SMALL_PAGE_KB * units.Ki))]
    if huge_kb:
        sizes.append((huge_kb, huge // (huge_kb * units.Ki)))
    # used stays 0 as with libvirt: the resource tracker adds nova's
    # instances; pages held by anything else are [DEFAULT]
    # reserved_huge_pages's business (LXD's hugepages_used counts both).
    return [objects.NUMAPagesTopology(size_kb=size, total=count, used=0,
                                      reserved=reserved.get(size, 0))
            for size, count in sizes]


def _socket(node, threads):
    sockets = {t.socket for t in threads}
    if len(sockets) > 1:
        LOG.warning('NUMA node %s spans sockets %s: the `socket` PCI NUMA '
                    'affinity policy cannot be used.', node, sorted(sockets))
    return sockets.pop() if len(sockets) == 1 else None


def _siblings(threads, usable):
    cores = collections.defaultdict(set)
    for thread in threads:
        cores[thread.core].add(thread.id)
    return sorted((ids & usable for ids in cores.values() if ids & usable),
                  key=min)


def _cell(node, threads, node_memory, shared, dedicated, huge_kb, reserved):
    cpus = {t.id for t in threads}
    return objects.NUMACell(
        id=node, socket=_socket(node, threads),
        cpuset=cpus & shared, pcpuset=cpus & dedicated,
        siblings=_siblings(threads, shared | dedicated),
        memory=node_memory.get('total', 0) // units.Mi,
        cpu_usage=0, memory_usage=0, pinned_cpus=set(),
        mempages=_mempages(node_memory, huge_kb, reserved),
        network_metadata=objects.NetworkMetadata(physnets=set(),
                                                 tunneled=False))


def host_numa_topology(resources, dedicated_cpus, shared_cpus,
                       reserved_huge_pages=None):
    """The host's ``NUMATopology`` for nova's fitting, as libvirt builds it.

    One cell per NUMA node LXD reports: ``cpuset``/``pcpuset`` (host CPU ids
    for shared/pinned instances), ``siblings`` (usable thread ids per
    core), ``memory`` (MiB), ``socket`` (None if the node spans sockets),
    ``mempages``: 4 KiB pages for the memory outside huge pages and the
    host's default huge page size (the only one LXD reports).  Usage is 0:
    the resource tracker adds the instances'.  Network NUMA affinity
    (``[neutron] physnets``) is not reported.  As libvirt without
    ``vcpu_pin_set``: ``cpuset`` is the shared set, else every online CPU
    when no set is configured, else empty; ``pcpuset`` is the dedicated
    set, else, when no set is configured, every online CPU too (legacy:
    pinned and floating instances share them).  LXD's ``isolated`` CPUs
    count like the others, as in libvirt.

    :param resources: ``GET /1.0/resources`` metadata (dict).
    :param dedicated_cpus: as :func:`cpu_inventory`.
    :param shared_cpus: as :func:`cpu_inventory`.
    :param reserved_huge_pages: ``hardware.numa_get_reserved_huge_pages()``:
        ``{node: {page size KiB: page count}}``, or None.
    :returns: ``nova.objects.NUMATopology``.
    :raises: as :func:`cpu_inventory`.
    """
    shared, dedicated = _available_cpus(resources, dedicated_cpus,
                                        shared_cpus)
    if not dedicated and not shared_cpus:
        dedicated = shared
    threads = list(_online_threads(resources))
    memory = _memory_nodes(resources['memory'])
    huge_kb = (resources['memory'].get('hugepages_size') or 0) // units.Ki
    reserved = reserved_huge_pages or {}
    return objects.NUMATopology(cells=[
        _cell(node, [t for t in threads if t.node == node],
              memory.get(node, {}), shared, dedicated, huge_kb,
              reserved.get(node, {}))
        for node in sorted(set(memory) | {t.node for t in threads})])


def _pinned_host_cpus(topology):
    for cell in topology.cells if topology else ():
        policy = cell.get('cpu_policy', None)
        # Running unpinned would silently break nova's promise.
        if policy == fields.CPUAllocationPolicy.MIXED or (
                policy == fields.CPUAllocationPolicy.DEDICATED and
                len(cell.cpu_pinning or {}) != len(cell.pcpuset)):
            raise exception.InternalError(
                f'NUMA cell {cell.id} has CPU policy {policy} and pinning '
                f'{cell.cpu_pinning} of {cell.pcpuset}; an LXD container '
                f'can only have all its CPUs pinned or none')
    return topology.cpu_pinning if topology else set()


def cpu_config(instance_numa_topology, vcpus, shared_cpus):
    """LXD CPU limits for nova's decision on an instance.

    - Pinned (nova's claim pinned the cells' CPUs): ``limits.cpu`` is the
      set of pinned host CPU ids, e.g. ``'1-3,6'``.  CPUs nova reserved for
      emulator threads (``cpuset_reserved``, ``hw:emulator_threads_policy=
      isolate``) stay unused: a container has no emulator.
    - Not pinned, ``shared_cpus`` configured: ``limits.cpu`` is the shared
      set and ``limits.cpu.allowance`` ``vcpus`` CPUs' worth of CFS time
      (``'<vcpus*100>ms/100ms'``): LXD's ``limits.cpu`` is a count or a set,
      never both; the set keeps the instance off the dedicated CPUs, the
      quota to its size.  An unpinned NUMA instance (huge pages) is not
      confined to its node's CPUs either.
    - Otherwise: ``limits.cpu`` is the count ``vcpus`` (LXD balances).

    :param instance_numa_topology: nova's ``InstanceNUMATopology`` after
        the claim, or None.
    :param vcpus: the flavor's CPU count.
    :param shared_cpus: set of host CPU ids (``[compute] cpu_shared_set``),
        or None.
    :returns: dict of LXD config key -> str.
    :raises nova.exception.InternalError: a mixed policy, or dedicated
        cells nova did not pin.
    """
    pinned = _pinned_host_cpus(instance_numa_topology)
    if pinned:
        return {'limits.cpu': cpu_ranges(pinned)}
    if shared_cpus:
        return {'limits.cpu': cpu_ranges(shared_cpus),
                'limits.cpu.allowance':
                    f'{vcpus * CFS_PERIOD_MS}ms/{CFS_PERIOD_MS}ms'}
    return {'limits.cpu': str(vcpus)}


def _huge_page_key(pagesize, host_resources, instance_name):
    name = HUGEPAGE_SIZE_NAMES.get(pagesize)
    memory = (host_resources or {}).get('memory', {})
    if name is None:
        reason = ('LXD limits huge pages of '
                  f'{", ".join(HUGEPAGE_SIZE_NAMES.values())} only')
    elif (memory.get('hugepages_size') != pagesize * units.Ki or
            not memory.get('hugepages_total')):
        reason = f'this host has no {name} huge pages'
    else:
        return f'limits.hugepages.{name}'
    raise lxd_exception.UnsupportedInstanceFeature(
        instance=instance_name, what=f'{pagesize} KiB memory pages',
        key='hw:mem_page_size', value=pagesize, reason=reason)


def memory_config(instance_numa_topology, memory_mb, host_resources,
                  instance_name):
    """LXD huge page limit for nova's page size decision.

    When nova's claim gave huge pages (a cell ``pagesize`` above 4 KiB),
    ``limits.hugepages.<size>`` caps the container's hugetlb usage at its
    memory: its processes may use that many huge pages through hugetlbfs
    or ``MAP_HUGETLB``.  Ordinary memory stays small pages under
    ``limits.memory`` (LXD's ``limits.memory.hugepages`` is VM-only).

    :param instance_numa_topology: as :func:`cpu_config`.
    :param memory_mb: the flavor's memory (MiB).
    :param host_resources: ``GET /1.0/resources`` metadata, or None.
    :param instance_name: named in the error.
    :returns: ``{}`` for small pages or no topology, else
        ``{'limits.hugepages.2MB': '<memory_mb>MiB'}`` (or 64KB, 1MB, 1GB).
    :raises UnsupportedInstanceFeature: LXD has no key for the page size,
        or the host reports no huge pages of that size.
    """
    cells = instance_numa_topology.cells if instance_numa_topology else ()
    sizes = {c.pagesize for c in cells if (c.pagesize or 0) > SMALL_PAGE_KB}
    return {_huge_page_key(size, host_resources, instance_name):
            f'{memory_mb}MiB' for size in sorted(sizes)}
