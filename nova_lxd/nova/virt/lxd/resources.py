"""Host and storage pool resources -> nova's two resource views.

nova's resource tracker asks every periodic (``update_available_resource``)
for :meth:`~nova.virt.driver.ComputeDriver.get_available_resource` and,
moments later in the same run, for
:meth:`~nova.virt.driver.ComputeDriver.update_provider_tree`.  The module
answers both from LXD readings:

* ``GET /1.0/resources``: ``cpu.total`` (CPU threads), ``cpu.architecture``,
  ``cpu.sockets`` (topology), ``memory.total`` / ``memory.used`` (bytes);
* ``GET /1.0/storage-pools/<pool>/resources``: ``space.total`` /
  ``space.used`` (bytes) of ``[lxd] pool``;
* ``GET /1.0/instances?recursion=1``: the project's instances and their
  ``limits.cpu``;
* ``GET /1.0``: ``environment.server_version`` and ``architectures``.

Units: memory in MiB (bytes // 1024**2), disk in GiB (bytes // 1024**3);
totals and free space are rounded down, usage is rounded up, so nova never
sees more than there is.

The functions above :class:`HostResources` are pure (dicts in, dicts out).
:class:`HostResources` does the reading, at a fixed number of LXD requests
whatever the number of instances (see its docstring).
"""
import re
import time

from nova.objects import fields
from nova.virt import driver
from nova.virt import hardware
import os_resource_classes as orc
from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import units

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import cpu_numa
from nova_lxd.nova.virt.lxd import host_info
from nova_lxd.nova.virt.lxd import pci

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

# LXD statuses of an instance that holds CPUs (a frozen one resumes on them).
ACTIVE_STATUSES = ('Running', 'Frozen')

_CPU_SET = re.compile(r'^\d+(-\d+)?(,\d+(-\d+)?)*$')


# -- pure translations ------------------------------------------------------
def floor_mib(num_bytes):
    """Bytes -> whole MiB, rounded down (int)."""
    return int(num_bytes) // units.Mi


def ceil_mib(num_bytes):
    """Bytes -> whole MiB, rounded up (int)."""
    return -(-int(num_bytes) // units.Mi)


def floor_gib(num_bytes):
    """Bytes -> whole GiB, rounded down (int)."""
    return int(num_bytes) // units.Gi


def ceil_gib(num_bytes):
    """Bytes -> whole GiB, rounded up (int)."""
    return -(-int(num_bytes) // units.Gi)


def cpu_limit_count(value):
    """Number of CPUs an LXD ``limits.cpu`` value grants.

    :param value: ``'4'`` (a count of CPUs), ``'0-3'``, ``'1,3'`` or
        ``'0-1,4'`` (a set of pinned CPU ids), or ``''`` / None (no limit).
    :returns: the CPU count (int), or None when there is no limit.
    :raises ValueError: the value is none of these forms.
    """
    text = (value or '').replace(' ', '')
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if not _CPU_SET.match(text):
        raise ValueError(f'invalid limits.cpu {value!r}')
    cpus = set()
    for part in text.split(','):
        first, _, last = part.partition('-')
        cpus.update(range(int(first), int(last or first) + 1))
    return len(cpus)


def vcpus_used(instances, host_vcpus):
    """CPUs committed to the active instances (int, CPU count).

    Like libvirt's sum of the vCPUs of running domains: each Running or
    Frozen instance counts its ``limits.cpu`` (from ``expanded_config``, so
    profile limits count too); an instance without a limit may run on every
    host CPU and counts ``host_vcpus``.  Stopped instances count nothing.

    :param instances: ``GET /1.0/instances?recursion=1`` metadata: dicts with
        ``name``, ``status`` and ``config`` / ``expanded_config``.
    :param host_vcpus: CPU threads of the host (int).
    """
    used = 0
    for inst in instances:
        if inst.get('status') not in ACTIVE_STATUSES:
            continue
        config = inst.get('expanded_config') or inst.get('config') or {}
        try:
            count = cpu_limit_count(config.get('limits.cpu'))
        except ValueError:
            LOG.warning('Instance %s has an unreadable limits.cpu %r; '
                        'counting it as using all %d host CPUs',
                        inst.get('name'), config.get('limits.cpu'),
                        host_vcpus)
            count = None
        used += host_vcpus if count is None else count
    return used


def cpu_sets():
    """``([compute] cpu_dedicated_set, cpu_shared_set)`` as sets of host CPU
    ids, or None each when unset (nova's parsers)."""
    return hardware.get_cpu_dedicated_set(), hardware.get_cpu_shared_set()


def totals(host, pool, dedicated=None, shared=None):
    """What the host offers, in nova's units.

    :param host: ``GET /1.0/resources`` metadata.
    :param pool: ``GET /1.0/storage-pools/<pool>/resources`` metadata.
    :param dedicated, shared: :func:`cpu_sets`.
    :returns: ``{'vcpus': CPU threads, 'memory_mb': MiB, 'local_gb': GiB,
        'VCPU': CPUs for floating instances, 'PCPU': CPUs for pinned
        ones}`` (ints, rounded down; VCPU and PCPU as
        cpu_numa.cpu_inventory).
    :raises Invalid: a configured CPU set names CPUs the host lacks.
    """
    result = {
        'vcpus': int(host['cpu']['total']),
        'memory_mb': floor_mib(host['memory']['total']),
        'local_gb': floor_gib(pool['space']['total']),
    }
    result.update(cpu_numa.cpu_inventory(host, dedicated, shared))
    return result


def available_resource(nodename, host, pool, instances, server,
                       cpus=(None, None)):
    """The dict ``ComputeDriver.get_available_resource`` returns.

    :param nodename: the compute node name (``hypervisor_hostname``).
    :param host: ``GET /1.0/resources`` metadata.
    :param pool: ``GET /1.0/storage-pools/<pool>/resources`` metadata.
    :param instances: ``GET /1.0/instances?recursion=1`` metadata.
    :param server: ``GET /1.0`` metadata.
    :param cpus: :func:`cpu_sets`.
    :returns: vcpus / vcpus_used (CPU count), memory_mb / memory_mb_used
        (MiB; used is what the host really uses, LXD's ``memory.used``),
        local_gb / local_gb_used / disk_available_least (GiB of the pool),
        hypervisor_type ``'lxd'``, hypervisor_version (int),
        hypervisor_hostname, cpu_info (JSON str), supported_instances (list
        of ``(arch, hv_type, vm_mode)``), numa_topology (JSON of
        cpu_numa.host_numa_topology) and pci_passthrough_devices (JSON of
        pci.passthrough_devices, which nova filters by ``[pci]
        device_spec``).
    """
    total = totals(host, pool, *cpus)
    topology = cpu_numa.host_numa_topology(
        host, *cpus, hardware.numa_get_reserved_huge_pages())
    env = server.get('environment') or {}
    space = pool['space']
    return {
        'vcpus': total['vcpus'],
        'memory_mb': total['memory_mb'],
        'local_gb': total['local_gb'],
        'vcpus_used': vcpus_used(instances, total['vcpus']),
        'memory_mb_used': ceil_mib(host['memory'].get('used', 0)),
        'local_gb_used': ceil_gib(space.get('used', 0)),
        'hypervisor_type': fields.HVType.LXD,
        'hypervisor_version': host_info.hypervisor_version(
            env.get('server_version')),
        'hypervisor_hostname': nodename,
        'cpu_info': host_info.cpu_info(host['cpu']),
        'disk_available_least': floor_gib(
            max(0, int(space['total']) - int(space.get('used', 0)))),
        'supported_instances': host_info.supported_instances(
            env.get('architectures') or [host['cpu'].get('architecture')]),
        'numa_topology': topology._to_json(),
        'pci_passthrough_devices': jsonutils.dumps(
            pci.passthrough_devices(host)),
    }


def inventory(total, ratios, reserved):
    """Placement inventory of the compute node provider.

    :param total: :func:`totals` output.
    :param ratios: ``{resource class: allocation ratio (float)}`` for VCPU,
        MEMORY_MB and DISK_GB.
    :param reserved: ``{resource class: reserved amount}`` in CPUs, MiB and
        GiB.
    :returns: ``{resource class: {'total', 'min_unit', 'max_unit',
        'step_size', 'allocation_ratio', 'reserved'}}`` for VCPU (CPU count
        for floating instances), PCPU (CPUs for pinned instances, ratio 1,
        nothing reserved, as libvirt), MEMORY_MB (MiB) and DISK_GB (GiB); a
        class whose total is 0 is left out, since placement refuses such an
        inventory.
    """
    amounts = ((orc.VCPU, total['VCPU']),
               (orc.PCPU, total['PCPU']),
               (orc.MEMORY_MB, total['memory_mb']),
               (orc.DISK_GB, total['local_gb']))
    result = {}
    ratios = dict(ratios, **{orc.PCPU: 1.0})
    reserved = dict(reserved, **{orc.PCPU: 0})
    for rc, amount in amounts:
        if amount <= 0 and rc == orc.PCPU:
            continue
        if amount <= 0:
            LOG.warning('LXD reports no %s on this host; not offering any',
                        rc)
            continue
        result[rc] = {
            'total': amount,
            'min_unit': 1,
            'max_unit': amount,
            'step_size': 1,
            'allocation_ratio': ratios[rc],
            'reserved': reserved[rc],
        }
    return result


def reserved_from_config():
    """``[DEFAULT] reserved_host_*`` -> ``{rc: amount}`` (CPUs, MiB, GiB).

    The disk reservation is rounded up to whole GiB as nova does.
    """
    disk_gb = driver.ComputeDriver._get_reserved_host_disk_gb_from_config()
    return {
        orc.VCPU: CONF.reserved_host_cpus,
        orc.MEMORY_MB: CONF.reserved_host_memory_mb,
        orc.DISK_GB: disk_gb,
    }


# -- the readings -----------------------------------------------------------
class HostResources:
    """The driver's ``get_available_resource`` and ``update_provider_tree``.

    Cost per resource tracker periodic, whatever the number of instances:
    :meth:`available_resource` makes 4 LXD requests (host resources, pool
    resources, the instance list in one recursive request, server info) and
    keeps the totals it read; :meth:`update_provider_tree` reuses them when
    they are younger than ``max_age`` seconds (0 requests), else it reads
    host and pool resources afresh (2 requests).  Outside the periodic (e.g.
    after an instance claim) update_provider_tree therefore costs 2.

    Traits are left alone: nova's resource tracker adds the capability
    traits (from ``LXDDriver.capabilities``), COMPUTE_NODE and the
    status trait itself, and the driver supports nothing beyond those yet.
    The storage pool is always reported as the node's own DISK_GB.
    """

    #: Seconds for which update_provider_tree trusts the totals read by the
    #: preceding available_resource.  It covers the resource tracker's
    #: database work between the two calls on an ordinary host; a slower run
    #: only costs one fresh read (2 requests).  Totals change only when the
    #: hardware or the pool is resized.
    MAX_AGE = 5.0

    def __init__(self, session, max_age=MAX_AGE, clock=time.monotonic):
        """:param session: an ``LXDSession`` (or any object with its
            ``host_resources``, ``pool_resources``, ``list_instances`` and
            ``server_info`` methods).
        :param max_age: see :attr:`MAX_AGE` (seconds, float).
        :param clock: monotonic seconds (float), replaceable in tests.
        """
        self._session = session
        self._max_age = max_age
        self._clock = clock
        # (clock seconds, pool name, totals()) of the last reading, or None.
        self._reading = None

    def _remember(self, pool_name, total):
        self._reading = (self._clock(), pool_name, total)

    def _totals(self, pool_name):
        """Recent totals of ``pool_name``: reused, or read (2 requests)."""
        reading = self._reading
        if reading is not None:
            taken, name, total = reading
            if name == pool_name and self._clock() - taken <= self._max_age:
                return total
        total = totals(self._session.host_resources(),
                       self._session.pool_resources(pool_name), *cpu_sets())
        self._remember(pool_name, total)
        return total

    def available_resource(self, nodename):
        """``get_available_resource(nodename)``: see
        :func:`available_resource` for the dict (4 LXD requests)."""
        pool_name = CONF.lxd.pool
        host = self._session.host_resources()
        pool = self._session.pool_resources(pool_name)
        instances = self._session.list_instances()
        server = self._session.server_info()
        cpus = cpu_sets()
        result = available_resource(nodename, host, pool, instances, server,
                                    cpus)
        self._remember(pool_name, totals(host, pool, *cpus))
        LOG.debug('LXD host %s: %d/%d CPUs committed to %d instances, '
                  '%d/%d MiB used, %d/%d GiB used in pool %s',
                  nodename, result['vcpus_used'], result['vcpus'],
                  len(instances), result['memory_mb_used'],
                  result['memory_mb'], result['local_gb_used'],
                  result['local_gb'], pool_name)
        return result

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        """Set VCPU, PCPU, MEMORY_MB and DISK_GB inventory of ``nodename``.

        Allocation ratios follow nova's precedence
        (``ComputeDriver._get_allocation_ratios``: ``*_allocation_ratio``,
        else what placement has, else ``initial_*_allocation_ratio``);
        reserved amounts come from ``reserved_host_cpus``,
        ``reserved_host_memory_mb`` and ``reserved_host_disk_mb``.  Nothing
        is ever moved between providers, so ``allocations`` is not used and
        no reshape is requested.
        """
        total = self._totals(CONF.lxd.pool)
        current = provider_tree.data(nodename).inventory
        ratios = driver.ComputeDriver._get_allocation_ratios(current)
        provider_tree.update_inventory(
            nodename, inventory(total, ratios, reserved_from_config()))
