"""An instance's whole LXD definition, from everything nova decided.

The flavor (limits, ``lxd:`` extra specs under the operator's policy),
nova's NUMA claim (pinned CPUs, huge pages), nova's PCI claim (GPUs), the
ports, the root disk and ephemeral volumes.  Spawn and the destination of
a migration use the same :meth:`Assembler.definition`; resize uses
:func:`flavor_config`, so an instance never depends on which path made it.
"""
from nova import objects
from nova.virt import hardware

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import cpu_numa
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import disks
from nova_lxd.nova.virt.lxd import host_devices
from nova_lxd.nova.virt.lxd import hw_support
from nova_lxd.nova.virt.lxd import lxd_specs
from nova_lxd.nova.virt.lxd import pci
from nova_lxd.nova.virt.lxd import vif as vifs

CONF = lxd_conf.CONF


def policy(sets=None):
    """The operator's :class:`lxd_specs.Policy` from ``[lxd]``.

    :param sets: ``host_devices.parse_sets`` of ``[lxd] host_device_set``
        when the caller has parsed them already.
    :raises InvalidLXDOption: a malformed ``host_device_set``.
    """
    if sets is None:
        sets = host_devices.parse_sets(CONF.lxd.host_device_set)
    return lxd_specs.Policy.from_conf(CONF.lxd, sets)


def flavor_options(flavor):
    """``flavor``'s ``lxd:`` extra specs under the operator's policy.

    :raises InvalidExtraSpec, ExtraSpecNotAllowed: see lxd_specs.
    """
    return lxd_specs.flavor_options(flavor.extra_specs, policy())


def flavor_config(instance, flavor, host_resources=None, options=None):
    """LXD config keys of ``instance`` with ``flavor``.  No I/O.

    :param instance: nova Instance (uuid, hostname, name, numa_topology:
        nova's claim, None without one).
    :param flavor: nova Flavor (vcpus: CPU count, memory_mb: MiB, extra
        specs).
    :param host_resources: ``GET /1.0/resources`` metadata, needed only
        when the claim has huge pages (see cpu_numa.memory_config).
    :param options: :func:`flavor_options` of ``flavor`` when the caller
        has them already.
    :returns: dict of LXD config key -> str.
    :raises InvalidExtraSpec, ExtraSpecNotAllowed,
        UnsupportedInstanceFeature: the flavor cannot be honoured here.
    """
    specs = flavor.extra_specs
    config = definition.instance_config(instance, flavor, specs)
    topology = numa_topology(instance)
    cpu = cpu_numa.cpu_config(topology, flavor.vcpus,
                              hardware.get_cpu_shared_set())
    if 'quota:cpu_quota' in specs:
        # The flavor's own CFS quota wins over the shared-set default.
        cpu.pop('limits.cpu.allowance', None)
    config.update(cpu)
    config.update(cpu_numa.memory_config(
        topology, flavor.memory_mb, host_resources,
        instance.name))
    config.update((options or flavor_options(flavor)).config)
    return config


def numa_topology(instance):
    """nova's NUMA claim of ``instance`` (InstanceNUMATopology) or None.

    Loaded from the database when the instance has a context and it is not
    loaded yet; an instance made without one (nova's driver test suite)
    has none.
    """
    if _loadable(instance, 'numa_topology'):
        return instance.numa_topology
    return None


def _loadable(instance, field):
    return (instance.obj_attr_is_set(field) or
            getattr(instance, '_context', None) is not None)


def needs_host_resources(instance):
    """True when the definition depends on the host's hardware: claimed
    PCI devices or huge pages."""
    topology = numa_topology(instance)
    huge = topology is not None and any(
        (cell.pagesize or 0) > 4 for cell in topology.cells)
    return huge or bool(claimed_pci_devices(instance))


def claimed_pci_devices(instance):
    """PCI devices nova claimed for the flavor's ``pci_passthrough:alias``
    (nova's PciDevice objects; ports' devices are VIFs, not ours)."""
    if not _loadable(instance, 'pci_devices'):
        return []
    return instance.get_pci_devices(
        source=objects.InstancePCIRequest.FLAVOR_ALIAS)


class Assembler:
    """Builds LXD instance definitions (reads the pool driver, and the
    host's resources and API extensions when a claim needs them)."""

    def __init__(self, session, ephemerals):
        """:param session: LXDSession; :param ephemerals:
        local_disks.EphemeralDisks."""
        self._session, self._ephemerals = session, ephemerals
        self._pool_driver = None

    def pool(self):
        """``([lxd] pool, its LXD driver)``, the driver read once."""
        if self._pool_driver is None:
            self._pool_driver = self._session.storage_pool(
                CONF.lxd.pool)['driver']
        return CONF.lxd.pool, self._pool_driver

    def set_pool_driver(self, pool_driver):
        """Remember the pool driver init_host read."""
        self._pool_driver = pool_driver

    def definition(self, instance, network_info, block_device_info,
                   image_meta=None):
        """Check everything; return ``(ephemeral volumes to create, the
        POST /1.0/instances body without image alias)``.  Creates nothing.

        :param image_meta: nova ImageMeta (its ``hw_*`` properties are
            checked too), or None where the image is not used (migration).
        :raises InvalidInput: subclasses naming what cannot be honoured.
        """
        hw_support.check_supported(instance.flavor, image_meta,
                                   instance.name)
        resources = extensions = None
        if needs_host_resources(instance):
            resources = self._session.host_resources()
            extensions = self._session.server_info()['api_extensions']
        specs = instance.flavor.extra_specs
        sets = host_devices.parse_sets(CONF.lxd.host_device_set)
        options = lxd_specs.flavor_options(specs, policy(sets))
        config = flavor_config(instance, instance.flavor, resources, options)
        pool, pool_driver = self.pool()
        devices = vifs.nic_devices(network_info, specs)
        devices['root'] = disks.root_disk_device(
            pool, pool_driver, instance.flavor.root_gb, specs)
        volumes, disk_devices = self._ephemerals.plan(
            instance, block_device_info, pool, pool_driver)
        devices.update(disk_devices)
        devices.update(host_devices.devices_for(options.device_sets, sets))
        gpus, gpu_config = pci.instance_devices(
            claimed_pci_devices(instance), resources, extensions,
            instance.name)
        devices.update(gpus)
        config.update(gpu_config)
        profiles = list(CONF.lxd.profiles) + [
            p for p in options.profiles if p not in CONF.lxd.profiles]
        return volumes, definition.instance_definition(
            instance.name, None, config, devices, profiles)
