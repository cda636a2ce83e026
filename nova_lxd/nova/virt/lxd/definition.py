"""Instance + flavor + image -> LXD instance definition.  Pure: no I/O.

Follows nova's flavor model (vcpus: CPU count, memory_mb: MiB, root_gb: GiB)
and LXD's instance options
(https://documentation.ubuntu.com/lxd/en/latest/reference/instance_options/);
disks are the disks module's.
Every value is validated here, before anything is created in LXD.
"""
import re

from nova import exception

from nova_lxd.nova.virt.lxd import lxd_specs

UUID_KEY = 'user.nova.instance_uuid'
SUSPENDED_KEY = 'user.nova.suspended'

_HOSTNAME = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
                       r'(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$', re.I)
HOST_NAME_MAX = 64
# Shared with the modules that parse other extra specs.
positive_int = lxd_specs.positive_int


def _cpu_allowance(specs):
    """quota:cpu_quota/cpu_period (microseconds, as libvirt) -> LXD."""
    quota = specs.get('quota:cpu_quota')
    period = specs.get('quota:cpu_period', 100000)
    if quota is None:
        return {}
    quota_us = positive_int('quota:cpu_quota', quota, minimum=1000)
    period_us = positive_int('quota:cpu_period', period, minimum=1000)
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


def instance_config(instance, flavor, extra_specs):
    """LXD ``config`` keys for an instance.

    :param instance: nova Instance (uses ``uuid``, ``hostname``).
    :param flavor: nova Flavor: ``vcpus`` (CPU count), ``memory_mb`` (MiB).
    :param extra_specs: the flavor's extra specs dict.
    :returns: dict of LXD config key -> string value, without what the
        ``lxd:`` extra specs and nova's NUMA claim add (assembly module).
    :raises InvalidExtraSpec: a malformed ``quota:cpu_*`` extra spec.
    :raises InvalidInput: the hostname cannot be a UTS name.
    """
    config = {
        UUID_KEY: instance.uuid,
        'limits.cpu': str(positive_int('vcpus', flavor.vcpus)),
        # Nova accounts memory in MiB; LXD's "MB" would be decimal.
        'limits.memory': f"{positive_int('memory_mb', flavor.memory_mb)}MiB",
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
    return config


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
            positive_int(key, extra_specs[key])
    limits = {}
    for direction, lxd_key in (('inbound', 'limits.ingress'),
                               ('outbound', 'limits.egress')):
        key = f'quota:vif_{direction}_average'
        if key in extra_specs:
            kib = positive_int(key, extra_specs[key])
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
