"""Operator-defined sets of host devices (``[lxd] host_device_set``).

Pure: no I/O.  A set names LXD device definitions (LXD's device reference,
https://documentation.ubuntu.com/lxd/en/latest/reference/devices/) that a
flavor requests by name with ``lxd:host_devices``; nothing else can add a
host device to a container, so a user (or an image) only ever gets what
the operator wrote down.  Each line of the option is one JSON object, as
nova's own ``[pci] alias``::

    {"name": "fuse",
     "devices": {"fuse": {"type": "unix-char", "source": "/dev/fuse"}}}
"""
import re

from oslo_serialization import jsonutils

from nova_lxd.nova.virt.lxd import exception as lxd_exception

OPTION = 'host_device_set'
DEVICE_PREFIX = 'hostdev-'
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$')
# Container device types that give the guest something of the host's.
# nic/proxy/disk-from-a-pool have their own nova paths; pci, tpm and
# mdev/SR-IOV GPUs are VM-only in LXD.
DEVICE_TYPES = ('unix-char', 'unix-block', 'unix-hotplug', 'usb', 'gpu',
                'disk')
CONTAINER_GPU_TYPES = ('physical', 'mig')


def _invalid(entry, reason):
    raise lxd_exception.InvalidLXDOption(option=OPTION, value=entry,
                                         reason=reason)


def _check_device(entry, name, device):
    if not _NAME.match(name) or not isinstance(device, dict):
        _invalid(entry, f'device {name!r} needs a name of letters, digits, '
                        f'_ and - and a JSON object of LXD device keys')
    kind = device.get('type')
    if kind not in DEVICE_TYPES:
        _invalid(entry, f'device {name} has type {kind!r}; allowed: '
                        f'{", ".join(DEVICE_TYPES)}')
    if not all(isinstance(v, str) for v in device.values()):
        _invalid(entry, f'device {name}: LXD device values are strings')
    if kind == 'disk' and ('pool' in device or
                           not device.get('source', '').startswith('/') or
                           not device.get('path', '').startswith('/')):
        _invalid(entry, f'disk device {name} needs an absolute host '
                        f'"source" and an absolute "path" in the container '
                        f'(storage pool volumes are not host devices)')
    if kind == 'gpu' and (device.get('gputype', 'physical')
                          not in CONTAINER_GPU_TYPES):
        _invalid(entry, f'gpu device {name}: containers take gputype '
                        f'physical or mig (mdev and sriov are VM-only)')


def parse_set(entry):
    """One ``host_device_set`` line -> ``(name, {device: LXD dict})``.

    :param entry: a JSON object string ``{"name": str, "devices": {device
        name: {LXD device keys: str}}}``.
    :raises InvalidLXDOption: malformed JSON, name or device, naming the
        entry and what is wrong.
    """
    try:
        data = jsonutils.loads(entry)
    except ValueError as e:
        _invalid(entry, f'not JSON: {e}')
    if (not isinstance(data, dict) or set(data) != {'name', 'devices'} or
            not isinstance(data['devices'], dict) or not data['devices']):
        _invalid(entry, 'expected {"name": ..., "devices": {...}} with at '
                        'least one device')
    name = data['name']
    if not isinstance(name, str) or not _NAME.match(name):
        _invalid(entry, 'the set name must be 1-32 letters, digits, _ or -')
    for device_name, device in data['devices'].items():
        _check_device(entry, device_name, device)
    return name, dict(data['devices'])


def parse_sets(entries):
    """All ``host_device_set`` lines -> ``{set name: {device: LXD dict}}``.

    :raises InvalidLXDOption: a malformed entry, or a name used twice.
    """
    sets = {}
    for entry in entries:
        name, devices = parse_set(entry)
        if name in sets:
            _invalid(entry, f'set {name} is defined twice')
        sets[name] = devices
    return sets


def devices_for(set_names, sets):
    """The LXD devices of the requested sets.

    :param set_names: names from ``lxd:host_devices`` (already checked
        against the policy).
    :param sets: :func:`parse_sets` output.
    :returns: ``{'hostdev-<set>-<device>': LXD device dict}``.
    :raises KeyError: a name that is not in ``sets``.
    """
    devices = {}
    for set_name in set_names:
        for name, device in sets[set_name].items():
            devices[f'{DEVICE_PREFIX}{set_name}-{name}'] = dict(device)
    return devices
