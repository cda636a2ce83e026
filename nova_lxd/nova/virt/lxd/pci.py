"""Host PCI devices -> nova's PCI tracker, claimed devices -> LXD devices.

Two pure translations (dicts and objects in, dicts out, no LXD request):

* :func:`passthrough_devices` turns LXD's ``GET /1.0/resources`` into the
  list nova's PCI tracker reads from ``get_available_resource()``'s
  ``pci_passthrough_devices`` key.  The keys follow the libvirt driver's
  producer (``nova.virt.libvirt.host.Host._get_pcidev_info``), because
  ``nova.pci.manager.PciDevTracker`` matches them against ``[pci]
  device_spec`` (``nova.pci.devspec``: ``vendor_id``, ``product_id``,
  ``address``, ``parent_addr``) and ``nova.objects.PciDevice.create``
  stores them.
* :func:`instance_devices` turns the PCI devices nova claimed for an
  instance into LXD devices: ``gpu`` devices with ``gputype=physical`` and
  ``nic`` devices with ``nictype=physical`` (LXD's ``reference/devices_gpu``
  and ``reference/devices_nic``).  Nothing else has a container form in
  LXD, so anything else is refused before the container is built.

Sections of ``GET /1.0/resources`` read here: ``pci.devices`` (API
extension ``resources_usb_pci``), ``gpu.cards`` (``resources_gpu``,
``resources_v2``; ``sriov.vfs`` and ``nvidia`` per card, ``mdev`` since
``resources_gpu_mdev``) and ``network.cards`` (``resources_v2``; ``ports``
and ``sriov.vfs``).  LXD spells PCI addresses ``0000:03:00.0`` and ids as
4 lower-case hex digits, as nova does.
"""
import itertools
import re

from nova.objects import fields
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import exception as lxd_exception

LOG = logging.getLogger(__name__)

# LXD's doc/api-extensions.md, "gpu_cdi" (LXD 6.2, canonical/lxd commit
# 0f6aff5 "api: Add gpu_cdi extension"): a gpu device's ``id`` may be a
# fully-qualified CDI name, for containers only.
GPU_CDI_EXTENSION = 'gpu_cdi'
# LXD (lxd/device/cdi/id.go) accepts ``nvidia.com/gpu=<index|uuid|all>``
# and generates its CDI spec with both nvidia-container-toolkit device
# namers (index and UUID, lxd/device/cdi/spec.go).  The UUID is the NVML
# one, ``GPU-<hex>``, which is what ``/1.0/resources`` reports as
# ``nvidia.uuid``; the index is NVML's enumeration order, which nothing in
# ``/1.0/resources`` gives, so the UUID is the only stable choice.
CDI_NVIDIA_GPU = 'nvidia.com/gpu=%s'
# ``nvidia.runtime`` (LXD 3.0 to 6.x, Incus) passes libnvidia-container's
# host libraries into the container; ``nvidia.driver.capabilities`` needs
# the later ``nvidia_runtime_config`` extension.  Recent LXD dropped both
# extensions in favour of CDI, hence CDI is tried first.
NVIDIA_RUNTIME_EXTENSION = 'nvidia_runtime'
NVIDIA_RUNTIME_CONFIG_EXTENSION = 'nvidia_runtime_config'
# NVIDIA_DRIVER_CAPABILITIES for libnvidia-container: CUDA plus
# nvidia-smi/NVML, no graphics or video.  It is LXD's own default, written
# out so the container does not change if a profile sets another value.
NVIDIA_DRIVER_CAPABILITIES = 'compute,utility'

DEVICE_PREFIX = 'pci-'

_NOT_NAME_CHARS = re.compile(r'[^a-z0-9-]')
_VM_ONLY_GPU = ('LXD gives SR-IOV GPU functions (gputype=sriov) and mediated '
                'GPUs (gputype=mdev) to virtual machines only')
_WHAT_FITS = ('an LXD container takes only GPUs (whole, by PCI address) and '
              'network cards (as physical nics); remove the device from the '
              '[pci] alias or device_spec this request matched')


def _address(value):
    return (value or '').strip().lower()


def _hex_id(value):
    value = (value or '').strip().lower()
    if value.startswith('0x'):
        value = value[2:]
    return value.zfill(4)


def _numa_node(entry):
    node = entry.get('numa_node')
    # bool is an int, and sysfs says -1 for "no affinity": nova wants None.
    if isinstance(node, int) and not isinstance(node, bool) and node >= 0:
        return node
    return None


def _cards(resources, section):
    return ((resources or {}).get(section) or {}).get('cards') or []


def _vfs(card):
    return (card.get('sriov') or {}).get('vfs') or []


def _card_index(cards):
    """Cards and their VFs by PCI address -> (card, parent address)."""
    index = {}
    for card in cards:
        address = _address(card.get('pci_address'))
        # USB GPUs and NICs have no PCI address, nothing to pass through.
        if address:
            index.setdefault(address, (card, None))
    for card in cards:
        parent = _address(card.get('pci_address')) or None
        for vf in _vfs(card):
            address = _address(vf.get('pci_address'))
            if address:
                index[address] = (vf, parent)
    return index


def _tracker_entry(entry, parents, pfs):
    address = _address(entry.get('pci_address'))
    if not (address and entry.get('vendor_id') and entry.get('product_id')):
        return None
    device = {
        'address': address,
        'vendor_id': _hex_id(entry['vendor_id']),
        'product_id': _hex_id(entry['product_id']),
        'numa_node': _numa_node(entry),
        'dev_id': 'pci_' + re.sub(r'[:.]', '_', address),
        'dev_type': fields.PciDeviceType.STANDARD,
    }
    device['label'] = 'label_%(vendor_id)s_%(product_id)s' % device
    if parents.get(address):
        device['dev_type'] = fields.PciDeviceType.SRIOV_VF
        device['parent_addr'] = parents[address]
    elif address in pfs:
        device['dev_type'] = fields.PciDeviceType.SRIOV_PF
    return device


def passthrough_devices(resources):
    """Host PCI functions in the shape of nova's PCI tracker.

    :param resources: ``GET /1.0/resources`` metadata (a dict), read for
        ``pci.devices``, ``gpu.cards`` and ``network.cards``.
    :returns: a list of dicts sorted by ``address``, one per PCI function,
        with ``address`` (``0000:03:00.0``), ``vendor_id`` and
        ``product_id`` (4 lower-case hex digits), ``numa_node`` (int, or
        None when unknown), ``label`` (``label_<vendor>_<product>``),
        ``dev_id`` (``pci_0000_03_00_0``), ``dev_type`` (a
        ``nova.objects.fields.PciDeviceType``: ``type-PF`` for a GPU or
        network card with SR-IOV VFs, ``type-VF`` with ``parent_addr`` for
        each of those VFs, ``type-PCI`` otherwise).  The caller
        JSON-encodes it into ``pci_passthrough_devices``; nova's
        ``[pci] device_spec`` decides which ones are assignable.

    ``pci.devices`` lists every function sysfs knows, with the function's
    own ids, so it comes first; the cards and their VFs add what it lacks,
    which is everything on daemons without the ``pci`` section.  A VF that
    belongs to neither a GPU nor a network card is reported as ``type-PCI``
    since ``/1.0/resources`` does not name its parent.  Entries without a
    PCI address or ids are left out.  Raises nothing.
    """
    gpus = _card_index(_cards(resources, 'gpu'))
    nics = _card_index(_cards(resources, 'network'))
    cards = list(itertools.chain(gpus.items(), nics.items()))
    parents = {address: parent for address, (_card, parent) in cards}
    pfs = {address for address, (card, _parent) in cards if _vfs(card)}
    pci = ((resources or {}).get('pci') or {}).get('devices') or []
    found = {}
    for entry in itertools.chain(pci, (card for _a, (card, _p) in cards)):
        device = _tracker_entry(entry, parents, pfs)
        if device is not None:
            found.setdefault(device['address'], device)
    return [found[address] for address in sorted(found)]


def device_name(address):
    """LXD device name for the PCI function at ``address``.

    ``0000:03:00.0`` -> ``pci-0000-03-00-0``: letters, digits and hyphens
    only, which every LXD release accepts as a device name (at most 63
    characters; this is 16).
    """
    return DEVICE_PREFIX + _NOT_NAME_CHARS.sub('-', _address(address))


def _unsupported(pci_device, instance_name, reason):
    return lxd_exception.UnsupportedPCIDevice(
        address=pci_device.address, vendor_id=pci_device.vendor_id,
        product_id=pci_device.product_id, instance=instance_name,
        reason=reason)


def _is_nvidia(card):
    return bool(card.get('nvidia')) or card.get('driver') == 'nvidia'


def _has_mdevs(card):
    return any(profile.get('devices')
               for profile in (card.get('mdev') or {}).values())


def _nvidia_config(extensions):
    if NVIDIA_RUNTIME_EXTENSION not in extensions:
        return {}
    config = {'nvidia.runtime': 'true'}
    if NVIDIA_RUNTIME_CONFIG_EXTENSION in extensions:
        config['nvidia.driver.capabilities'] = NVIDIA_DRIVER_CAPABILITIES
    return config


def _gpu_device(pci_device, card, parent, extensions, instance_name):
    address = _address(pci_device.address)
    if parent or pci_device.dev_type == fields.PciDeviceType.SRIOV_VF:
        of = ' %s' % parent if parent else ''
        raise _unsupported(pci_device, instance_name,
                           'it is an SR-IOV virtual function of GPU%s; %s'
                           % (of, _VM_ONLY_GPU))
    if _has_mdevs(card):
        raise _unsupported(pci_device, instance_name,
                           'the GPU is split into mediated devices (vGPUs); '
                           + _VM_ONLY_GPU)
    device = {'type': 'gpu', 'gputype': 'physical'}
    if not _is_nvidia(card):
        device['pci'] = address
        return device, {}
    uuid = (card.get('nvidia') or {}).get('uuid')
    if GPU_CDI_EXTENSION in extensions and uuid:
        # LXD refuses ``pci`` next to ``id``; the CDI name alone selects
        # the card and brings the NVIDIA libraries with it.
        device['id'] = CDI_NVIDIA_GPU % uuid
        return device, {}
    if GPU_CDI_EXTENSION in extensions:
        LOG.debug('NVIDIA GPU %s has no UUID in /1.0/resources (is '
                  'nvidia-container-cli missing?); passing it by PCI '
                  'address instead of CDI', address)
    device['pci'] = address
    return device, _nvidia_config(extensions)


def _nic_device(pci_device, card, instance_name):
    ports = card.get('ports') or []
    # LXD's physical nic moves one host interface into the container; a
    # function with several ports (mlx4) shows its first one first.
    ifname = ports[0].get('id') if ports else None
    if not ifname:
        raise _unsupported(
            pci_device, instance_name,
            'the network function has no interface on the host (driver %r) '
            'and an LXD physical nic moves a host interface; bind it to its '
            'network driver' % (card.get('driver') or 'none'))
    return {'type': 'nic', 'nictype': 'physical', 'parent': ifname}


def instance_devices(pci_devices, resources, api_extensions, instance_name):
    """LXD devices and config giving an instance its claimed PCI devices.

    :param pci_devices: the instance's ``nova.objects.PciDevice`` list, as
        ``instance.get_pci_devices()`` returns it (nova 34); read for
        ``address``, ``vendor_id``, ``product_id`` and ``dev_type``.
    :param resources: ``GET /1.0/resources`` metadata (a dict), read for
        ``gpu.cards`` and ``network.cards`` (including their ``sriov.vfs``).
    :param api_extensions: the daemon's ``api_extensions`` (``GET /1.0``),
        any iterable of names.
    :param instance_name: named in the error message.
    :returns: ``(devices, config)``: a dict of LXD device name
        (:func:`device_name`) -> LXD device dict, and a dict of extra LXD
        instance config keys.  ``({}, {})`` without devices.

    A GPU becomes ``{'type': 'gpu', 'gputype': 'physical', 'pci': address}``;
    an NVIDIA one becomes ``{'type': 'gpu', 'gputype': 'physical', 'id':
    'nvidia.com/gpu=GPU-<uuid>'}`` on a daemon with :data:`GPU_CDI_EXTENSION`,
    or keeps ``pci`` and adds ``nvidia.runtime: 'true'`` (and
    ``nvidia.driver.capabilities``) to the config on a daemon with
    ``nvidia_runtime``.  A network card or network VF becomes ``{'type':
    'nic', 'nictype': 'physical', 'parent': <its interface>}``.

    :raises: nova_lxd's ``UnsupportedPCIDevice`` (an ``InvalidInput``: the
        build aborts, no reschedule) for a GPU virtual function, a GPU
        split into mediated devices, a network function without a host
        interface, or any device that is neither a GPU nor a network card
        in ``resources``.
    """
    devices, config = {}, {}
    if not pci_devices:
        return devices, config
    gpus = _card_index(_cards(resources, 'gpu'))
    nics = _card_index(_cards(resources, 'network'))
    extensions = frozenset(api_extensions or ())
    for pci_device in pci_devices:
        address = _address(pci_device.address)
        if address in gpus:
            card, parent = gpus[address]
            device, extra = _gpu_device(pci_device, card, parent,
                                        extensions, instance_name)
        elif address in nics:
            device = _nic_device(pci_device, nics[address][0], instance_name)
            extra = {}
        else:
            raise _unsupported(pci_device, instance_name, _WHAT_FITS)
        devices[device_name(address)] = device
        config.update(extra)
    return devices, config
