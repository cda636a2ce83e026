"""Instance + flavor + image -> LXD instance definition.  Pure: no I/O.

Follows nova's flavor model (vcpus: CPU count, memory_mb: MiB, root_gb: GiB)
and LXD's instance options
(https://documentation.ubuntu.com/lxd/en/latest/reference/instance_options/)
and disk device options
(https://documentation.ubuntu.com/lxd/en/latest/reference/devices_disk/).
Every value is validated here, before anything is created in LXD.
"""
import re

from nova import exception
from nova.virt import driver

from nova_lxd.nova.virt.lxd import exception as lxd_exception

UUID_KEY = 'user.nova.instance_uuid'
SUSPENDED_KEY = 'user.nova.suspended'

# Pool drivers on which LXD enforces a root disk ``size``; ``dir`` has no
# quota, so a size there would only make instance creation fail.
QUOTA_POOL_DRIVERS = frozenset(
    {'btrfs', 'zfs', 'lvm', 'ceph', 'powerflex', 'pure'})

_HOSTNAME = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
                       r'(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$', re.I)
HOST_NAME_MAX = 64
_BOOLEANS = {'true': 'true', 'false': 'false', '1': 'true', '0': 'false',
             'yes': 'true', 'no': 'false'}


def _positive_int(key, value, minimum=1):
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum:
        raise lxd_exception.InvalidExtraSpec(
            key=key, value=value,
            reason=f'expected a whole number >= {minimum}')
    return number


def _boolean(key, value):
    try:
        return _BOOLEANS[str(value).strip().lower()]
    except KeyError:
        raise lxd_exception.InvalidExtraSpec(
            key=key, value=value, reason='expected true or false') from None


# ``lxd:<LXD key>`` extra specs passed through after validation.
_LXD_PASSTHROUGH = {
    'lxd:security.nesting': _boolean,
    'lxd:limits.processes': _positive_int,
}


def _cpu_allowance(specs):
    """quota:cpu_quota/cpu_period (microseconds, as libvirt) -> LXD."""
    quota = specs.get('quota:cpu_quota')
    period = specs.get('quota:cpu_period', 100000)
    if quota is None:
        return {}
    quota_us = _positive_int('quota:cpu_quota', quota, minimum=1000)
    period_us = _positive_int('quota:cpu_period', period, minimum=1000)
    # LXD takes the CFS quota and period in whole milliseconds.
    return {'limits.cpu.allowance':
            f'{quota_us // 1000}ms/{period_us // 1000}ms'}


def uts_name(hostname):
    """The kernel host name for a nova hostname.

    :param hostname: a valid host name, up to 255 characters (nova allows
        FQDNs from API 2.94).
    :returns: ``hostname`` when it fits the kernel's 64 bytes
        (HOST_NAME_MAX, the limit liblxc enforces on ``lxc.uts.name``),
        else its first label (at most 63).  cloud-init still writes the
        FQDN from the metadata where the guest keeps one (/etc/hosts).
    """
    if len(hostname) <= HOST_NAME_MAX:
        return hostname
    return hostname.split('.', 1)[0]


def check_disks(instance, block_device_info):
    """Refuse the disks a container cannot have, before anything exists.

    :param instance: nova Instance (uses ``uuid``, ``flavor.swap`` MiB).
    :param block_device_info: nova's block device info dict or None.
    :raises UnsupportedDisk: volumes, ephemeral disks (not implemented
        yet) or swap (a container swaps to the host's swap, within
        ``limits.memory``; it has no disk of its own to swap to).
    """
    if (driver.block_device_info_get_mapping(block_device_info) or
            driver.block_device_info_get_ephemerals(block_device_info)):
        raise lxd_exception.UnsupportedDisk(
            instance=instance.uuid, what='volumes or ephemeral disks',
            reason='not implemented yet; boot from an image with a flavor '
                   'without ephemeral disk')
    swap = driver.block_device_info_get_swap(block_device_info) or {}
    swap_mb = instance.flavor.swap or swap.get('swap_size')
    if swap_mb:
        raise lxd_exception.UnsupportedDisk(
            instance=instance.uuid, what=f'a swap disk ({swap_mb} MiB)',
            reason="a container has no disk of its own to swap to and uses "
                   "the host's swap within limits.memory; use a flavor with "
                   "swap 0")


def instance_config(instance, flavor, extra_specs):
    """LXD ``config`` keys for an instance.

    :param instance: nova Instance (uses ``uuid``, ``hostname``).
    :param flavor: nova Flavor: ``vcpus`` (CPU count), ``memory_mb`` (MiB).
    :param extra_specs: the flavor's extra specs dict.
    :returns: dict of LXD config key -> string value.
    :raises InvalidExtraSpec: an extra spec is malformed or unknown in the
        ``lxd:`` namespace.
    :raises InvalidInput: the hostname cannot be a UTS name.
    """
    config = {
        UUID_KEY: instance.uuid,
        'limits.cpu': str(_positive_int('vcpus', flavor.vcpus)),
        # Nova accounts memory in MiB; LXD's "MB" would be decimal.
        'limits.memory': f"{_positive_int('memory_mb', flavor.memory_mb)}MiB",
        'security.privileged': 'false',
        # Nova, not LXD, decides what runs after a host reboot
        # ([DEFAULT] resume_guests_state_on_host_boot).
        'boot.autostart': 'false',
    }
    hostname = instance.hostname
    if hostname:
        if not _HOSTNAME.match(hostname):
            raise exception.InvalidInput(
                reason=f'hostname {hostname!r} is not a valid host name')
        # LXD names the container's UTS namespace after the instance name;
        # the guest must see its own hostname even without cloud-init.
        config['raw.lxc'] = f'lxc.uts.name = {uts_name(hostname)}'
    config.update(_cpu_allowance(extra_specs))
    for key, value in extra_specs.items():
        if not key.startswith('lxd:'):
            continue
        if key not in _LXD_PASSTHROUGH:
            raise lxd_exception.InvalidExtraSpec(
                key=key, value=value,
                reason='unknown LXD extra spec; known: '
                       + ', '.join(sorted(_LXD_PASSTHROUGH)))
        config[key[4:]] = str(_LXD_PASSTHROUGH[key](key, value))
    return config


def _io_limit(specs, direction):
    """quota:disk_<direction>_{bytes,iops}_sec -> LXD limits.<direction>."""
    bytes_key = f'quota:disk_{direction}_bytes_sec'
    iops_key = f'quota:disk_{direction}_iops_sec'
    if bytes_key in specs and iops_key in specs:
        raise lxd_exception.InvalidExtraSpec(
            key=iops_key, value=specs[iops_key],
            reason=f'LXD takes either {bytes_key} or {iops_key}, not both')
    if bytes_key in specs:
        return {f'limits.{direction}':
                f'{_positive_int(bytes_key, specs[bytes_key])}B'}
    if iops_key in specs:
        return {f'limits.{direction}':
                f'{_positive_int(iops_key, specs[iops_key])}iops'}
    return {}


def root_disk_device(pool, pool_driver, root_gb, extra_specs):
    """The ``root`` disk device of an instance.

    :param pool: LXD storage pool name.
    :param pool_driver: the pool's driver (dir, btrfs, zfs, lvm, ceph...).
    :param root_gb: flavor root disk in GiB; 0 means the image's size.
    :param extra_specs: flavor extra specs (disk I/O quotas).
    :returns: LXD device dict.
    """
    device = {'type': 'disk', 'path': '/', 'pool': pool}
    if root_gb and pool_driver in QUOTA_POOL_DRIVERS:
        device['size'] = f'{int(root_gb)}GiB'
    device.update(_io_limit(extra_specs, 'read'))
    device.update(_io_limit(extra_specs, 'write'))
    return device


# LXD nic limits have a rate only: no peak rate, no burst size.
UNENFORCED_VIF_QUOTAS = tuple(
    f'quota:vif_{direction}_{kind}' for direction in ('inbound', 'outbound')
    for kind in ('peak', 'burst'))


def nic_limits(extra_specs):
    """quota:vif_{inbound,outbound}_average -> LXD nic limits.

    Nova counts the average in KiB/s (as libvirt); LXD's
    ``limits.ingress`` (traffic into the instance) and ``limits.egress``
    (out of it) take bit/s, so the value is KiB/s x 8 in ``kbit``
    (1 kbit = 1000 bit in LXD, 1 KiB = 1024 bytes: 128 KiB/s -> 1024kbit,
    about 2.4% below 128 KiB/s).  ``_peak`` and ``_burst`` are checked
    but LXD has nothing to enforce them with (see
    :data:`UNENFORCED_VIF_QUOTAS`).

    :returns: dict of LXD nic keys.
    :raises InvalidExtraSpec: a value that is not a whole number >= 1.
    """
    for key in UNENFORCED_VIF_QUOTAS:
        if key in extra_specs:
            _positive_int(key, extra_specs[key])
    limits = {}
    for direction, lxd_key in (('inbound', 'limits.ingress'),
                               ('outbound', 'limits.egress')):
        key = f'quota:vif_{direction}_average'
        if key in extra_specs:
            kib = _positive_int(key, extra_specs[key])
            limits[lxd_key] = f'{kib * 8}kbit'
    return limits


def instance_definition(name, image_alias, config, devices, profiles):
    """The ``POST /1.0/instances`` body of a container.

    :param name: LXD instance name (nova's ``instance.name``).
    :param image_alias: alias of the image in the LXD image store.
    :param config: dict from :func:`instance_config`.
    :param devices: dict of device name -> LXD device dict.
    :param profiles: list of LXD profile names applied first.
    """
    return {
        'name': name,
        'type': 'container',
        'source': {'type': 'image', 'alias': image_alias},
        'profiles': list(profiles),
        'config': config,
        'devices': devices,
    }
