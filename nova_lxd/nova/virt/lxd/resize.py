"""Resize: new flavor limits on the existing container.

nova's resize goes ``migrate_disk_and_power_off`` (source host, old
flavor still on the instance), ``finish_migration`` (destination host,
``instance.flavor`` already the new one), then ``confirm_migration`` or
``finish_revert_migration`` (``instance.flavor`` the old one again).  On
one host the container itself is resized: its ``limits.*`` keys, nic
limits and root disk device (quota, I/O limits) are those of
``instance.flavor`` at each step, so revert is the same update with the
old flavor.

A root disk cannot shrink (LXD refuses a quota under what the filesystem
holds, and nova's other drivers refuse it too), and ephemeral disks keep
their size; both are refused before the instance is powered off, as is a
growth the pool has no room for.
"""
from nova.compute import task_states
from nova import exception
from nova import objects

from nova_lxd.nova.virt.lxd import assembly
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import disks
from nova_lxd.nova.virt.lxd import lxd_specs
from nova_lxd.nova.virt.lxd import vif as vifs

GIB = 1024 ** 3
_NIC_LIMIT_KEYS = ('limits.ingress', 'limits.egress')


def check_resize(old_flavor, new_flavor, instance, network_info, pool,
                 pool_driver, pool_space, host_resources=None):
    """Refuse a resize the container cannot take.  Pure.

    :param old_flavor, new_flavor: nova Flavors (root_gb, ephemeral_gb in
        GiB).
    :param instance: nova Instance (for the new flavor's config).
    :param network_info: nova NetworkInfo (nic limits are checked).
    :param pool: pool name; :param pool_driver: its LXD driver.
    :param pool_space: ``{'used': bytes, 'total': bytes}`` of the pool.
    :param host_resources: ``GET /1.0/resources`` metadata when the
        instance has huge pages (assembly.needs_host_resources), else None.
    :raises InstanceFaultRollback: wrapping ResizeError, naming the
        sizes, or the new flavor's extra spec that is malformed, not
        permitted here or cannot be honoured (bandwidth limits for a
        native OVS port...); nova then leaves the instance as it was.
    """
    specs = new_flavor.extra_specs
    try:
        assembly.flavor_config(instance, new_flavor, host_resources)
        disks.io_limits(specs)
        vifs.nic_devices(network_info, specs)
    except exception.InvalidInput as e:
        # A flavor this host cannot honour: nova keeps the instance as it
        # was (ACTIVE) on InstanceFaultRollback, not in ERROR.
        raise exception.InstanceFaultRollback(
            inner_exception=exception.ResizeError(
                reason=e.format_message())) from e
    reason = (_attachments_changed(old_flavor, new_flavor) or
              _disk_change_refused(old_flavor, new_flavor, pool,
                                   pool_driver, pool_space))
    if reason:
        raise exception.InstanceFaultRollback(
            inner_exception=exception.ResizeError(reason=reason))


def _disk_change_refused(old_flavor, new_flavor, pool, pool_driver,
                         pool_space):
    """Why the disks cannot follow the new flavor, or None."""
    # root_gb 0 is no quota at all: never a shrink.
    if 0 < new_flavor.root_gb < old_flavor.root_gb:
        return (f'the root disk cannot shrink ({old_flavor.root_gb} GiB '
                f'-> {new_flavor.root_gb} GiB); choose a flavor with a '
                f'root disk of at least {old_flavor.root_gb} GiB')
    if new_flavor.ephemeral_gb != old_flavor.ephemeral_gb:
        return (f'ephemeral disks keep their size in a container '
                f'({old_flavor.ephemeral_gb} GiB -> '
                f'{new_flavor.ephemeral_gb} GiB); choose a flavor with '
                f'{old_flavor.ephemeral_gb} GiB of ephemeral disk')
    if (pool_driver in disks.QUOTA_POOL_DRIVERS and
            0 < old_flavor.root_gb < new_flavor.root_gb):
        growth = (new_flavor.root_gb - old_flavor.root_gb) * GIB
        free = pool_space['total'] - pool_space['used']
        if growth > free:
            return (f'storage pool {pool} has {free // GIB} GiB free, '
                    f'the root disk would grow by '
                    f'{growth // GIB} GiB')
    return None


def _attached(flavor, key):
    value = flavor.extra_specs.get(key)
    return lxd_specs.name_list(key, value) if value else []


def _attachments_changed(old_flavor, new_flavor):
    """Why the container cannot follow a change of what the flavors
    attach (profiles, host device sets, PCI aliases), or None.  The old
    flavor is read as it is: it was permitted when the instance booted."""
    key = 'pci_passthrough:alias'
    for what, before, after in (
            ('LXD profiles (lxd:profiles)',
             _attached(old_flavor, 'lxd:profiles'),
             _attached(new_flavor, 'lxd:profiles')),
            ('host device sets (lxd:host_devices)',
             _attached(old_flavor, 'lxd:host_devices'),
             _attached(new_flavor, 'lxd:host_devices')),
            (f'PCI devices ({key})', old_flavor.extra_specs.get(key),
             new_flavor.extra_specs.get(key))):
        if before != after:
            return (f'the flavors attach different {what}: {before} -> '
                    f'{after}; resize to a flavor that attaches the same, '
                    f'or rebuild the server')
    return None


def flavor_config_update(instance, old_flavor, new_flavor,
                         host_resources=None):
    """The config PATCH that moves the container from ``old_flavor``'s
    keys to ``new_flavor``'s: new values, and ``''`` (LXD: unset) for keys
    only the old flavor set.  Pure.

    :param host_resources: as :func:`check_resize`.
    """
    old = assembly.flavor_config(instance, old_flavor, host_resources)
    new = assembly.flavor_config(instance, new_flavor, host_resources)
    update = {key: '' for key in old if key not in new}
    update.update(new)
    return update


def flavor_devices(instance, pool, pool_driver, current):
    """Devices to replace for ``instance.flavor``: the root disk (quota,
    I/O limits) and the nics' bandwidth limits.  Pure.

    :param current: the container's devices; its nics keep everything but
        their ``limits.ingress``/``limits.egress``.
    """
    specs = instance.flavor.extra_specs
    limits = definition.nic_limits(specs)
    devices = {}
    for name, device in current.items():
        if device.get('type') != 'nic' or device.get('nictype') == 'physical':
            continue
        nic = {key: value for key, value in device.items()
               if key not in _NIC_LIMIT_KEYS}
        nic.update(limits)
        if nic != device:
            devices[name] = nic
    devices['root'] = disks.root_disk_device(
        pool, pool_driver, instance.flavor.root_gb, specs)
    return devices


def reverting_on_same_host(context, instance):
    """True while nova reverts a resize that stayed on this host.

    nova's revert destroys the instance on the destination before the
    source takes it back; on one host both are the same container, which
    must survive (finish_revert_migration restores the old flavor).  The
    migration record says where it went (the instance's migration context
    does not always carry the hosts).
    """
    if instance.task_state != task_states.RESIZE_REVERTING:
        return False
    migration_context = instance.migration_context
    if migration_context is None:
        return False
    migration = objects.Migration.get_by_id_and_instance(
        context, migration_context.migration_id, instance.uuid)
    return migration.source_compute == migration.dest_compute


class Resizer:
    """Applies a flavor to an existing container."""

    def __init__(self, session):
        """:param session: LXDSession."""
        self._session = session

    def check(self, instance, new_flavor, network_info, pool, pool_driver):
        """See :func:`check_resize` (reads the pool's space)."""
        check_resize(instance.flavor, new_flavor, instance, network_info,
                     pool, pool_driver,
                     self._session.pool_resources(pool)['space'],
                     self._host_resources(instance))

    def _host_resources(self, instance):
        if assembly.needs_host_resources(instance):
            return self._session.host_resources()
        return None

    def apply(self, instance, old_flavor, pool, pool_driver):
        """Give the container ``instance.flavor``'s config and devices.

        :param old_flavor: the flavor whose keys it has now.
        :raises InstanceNotFound: no container.
        :raises LXDRequestFailed: LXD refused, e.g. a root quota under what
            the filesystem holds.
        """
        current = self._session.get_instance(instance.name)['devices']
        self._session.update_instance(
            instance.name,
            flavor_config_update(instance, old_flavor, instance.flavor,
                                 self._host_resources(instance)),
            flavor_devices(instance, pool, pool_driver, current))
