"""What a container cannot honour of nova's ``hw:``/``os:`` requests.

Pure: no I/O.  Flavor extra specs and image properties are read through
nova's own parsers (``nova.virt.hardware``), so a spec means here what it
means to nova; the CPU and memory requests a container can honour are
:mod:`cpu_numa`'s.
"""
import itertools
import re

from nova import objects
from nova.objects import fields
from nova.virt import hardware
from oslo_utils import strutils

from nova_lxd.nova.virt.lxd import exception as lxd_exception

# Placement classes this driver never reports: mdev vGPUs are VM-only in
# LXD; whole GPUs come through pci_passthrough:alias.
_GPU_RESOURCE = re.compile(r'^resources[^:]*:(VGPU|VGPU_DISPLAY_HEAD|PGPU)$')


def _request(flavor, image_meta, name, prefix='hw'):
    """``(key, value)``: the flavor's extra spec, else the image's."""
    spec = f'{prefix}:{name}'
    if spec in flavor.extra_specs:
        return spec, flavor.extra_specs[spec]
    return f'{prefix}_{name}', image_meta.properties.get(f'{prefix}_{name}')


def _device_refusals(flavor, image):
    gpus = sorted(k for k, v in flavor.extra_specs.items()
                  if _GPU_RESOURCE.match(k) and str(v).strip() != '0')
    if gpus:
        yield ('a virtual GPU', (gpus[0], flavor.extra_specs[gpus[0]]),
               'mediated devices are VM-only in LXD')
    if hardware.get_vpmems(flavor):
        yield ('persistent memory', ('hw:pmem', flavor.extra_specs['hw:pmem']),
               'LXD has no virtual NVDIMM')
    if hardware.get_vtpm_constraint(flavor, image):
        yield ('a TPM', _request(flavor, image, 'tpm_version'),
               'the driver gives a container no LXD tpm device')
    # As libvirt: the image's action wins over the flavor's.
    key = 'hw_watchdog_action'
    action = image.properties.get(key)
    if not action:
        key = 'hw:watchdog_action'
        action = flavor.extra_specs.get(key, fields.WatchdogAction.DISABLED)
    if action != fields.WatchdogAction.DISABLED:
        yield 'a watchdog', (key, action), 'LXD has no watchdog device'
    if hardware.get_number_of_serial_ports(flavor, image) > 1:
        yield ('serial ports', _request(flavor, image, 'serial_port_count'),
               'a container has one console, no serial ports')
    wanted = {'viommu_model': _request(flavor, image, 'viommu_model')[1],
              'sound_model': hardware.get_sound_model(flavor, image),
              'usb_model': hardware.get_usb_model(flavor, image),
              'redirected_usb_ports': hardware.get_redirected_usb_ports(
                  flavor, image)}
    for name, value in wanted.items():
        if value not in (None, 'none', 0):
            yield (name.replace('_', ' '), _request(flavor, image, name),
                   'a container has no emulated devices')


def _security_refusals(flavor, image):
    if (hardware.get_secure_boot_constraint(flavor, image) ==
            fields.SecureBoot.REQUIRED):
        yield ('secure boot', _request(flavor, image, 'secure_boot', 'os'),
               'a container boots no firmware or kernel of its own')
    # Not nova's get_mem_encryption_constraint: it first asks for UEFI and
    # q35, settings that cannot help here.
    key, value = _request(flavor, image, 'mem_encryption')
    if strutils.bool_from_string(value):
        yield ('memory encryption', (key, value),
               "a container's memory is the host kernel's")
    if hardware.get_locked_memory_constraint(flavor, image):
        yield ('locked memory', _request(flavor, image, 'locked_memory'),
               "the driver does not lock a container's memory in RAM")


def _cpu_refusals(flavor, image):
    if hardware.is_realtime_enabled(flavor):
        yield ('real-time CPUs', _request(flavor, image, 'cpu_realtime'),
               'LXD gives a container no real-time scheduling budget')
    if (hardware.get_cpu_policy_constraint(flavor, image) ==
            fields.CPUAllocationPolicy.MIXED):
        yield ('pinned and floating CPUs',
               _request(flavor, image, 'cpu_policy'), "a container has no "
               "vCPUs to split; LXD's limits.cpu is one host CPU set")
    if len(hardware.numa_get_constraints(flavor, image) or ()) > 1:
        yield ('several NUMA nodes', _request(flavor, image, 'numa_nodes'),
               "LXD 5.0 cannot bind a container's memory to NUMA nodes, "
               "and a container sees the host's nodes, not guest ones")
    if hardware.get_pmu_constraint(flavor, image):
        yield ('a virtual PMU', _request(flavor, image, 'pmu'),
               "the host's kernel.perf_event_paranoid, not the flavor, rules "
               "a container's access to the host's counters")


def check_supported(flavor, image_meta, instance_name):
    """Refuse flavor extra specs and image properties (``hw:x``/``hw_x``,
    read through nova's parsers) a container cannot honour.

    Refused, as the user would believe they got them: ``resources*:VGPU``,
    ``PGPU``, ``hw:pmem``, ``hw:tpm_*``, a watchdog (``hw:watchdog_action``
    but ``disabled``), ``hw:serial_port_count`` > 1, ``hw:viommu_model``,
    ``hw:sound_model``, ``hw:usb_model`` (but ``none``),
    ``hw:redirected_usb_ports``, ``os:secure_boot=required``,
    ``hw:mem_encryption``, ``hw:locked_memory``, ``hw:cpu_realtime``,
    ``hw:cpu_policy=mixed``, more than one NUMA node, ``hw:pmu=true``.

    Accepted: honoured by nova's fitting and this module:
    ``hw:cpu_policy=dedicated|shared``, ``hw:cpu_thread_policy``,
    ``hw:mem_page_size``, one NUMA node, ``hw:pci_numa_affinity_policy``.
    ``hw:emulator_threads_policy``: no emulator threads; the CPU
    ``isolate`` reserves idles, ``share`` moves nothing.  No-ops, there is
    no virtual hardware to shape: ``hw:cpu_sockets|cores|threads`` (and
    ``max_``), ``hw:boot_menu``, ``hw:hide_hypervisor_id``,
    ``hw:vif_multiqueue_enabled``, ``hw:virtio_packed_ring`` (a veth has
    no virtio queues), ``hw:video:*``/``hw_video_model`` (no display),
    ``hw_rng:*``/``hw_rng_model`` (the host kernel's random pool is read
    directly).  What a container is anyway: ``hw:pmu=false``,
    ``hw:watchdog_action=disabled``, ``hw:serial_port_count=1``,
    ``os:secure_boot=disabled|optional``.

    :param flavor: nova ``Flavor``.
    :param image_meta: nova ``ImageMeta``, or None.
    :param instance_name: named in the error.
    :raises UnsupportedInstanceFeature: the first refused request.
    :raises nova.exception.Invalid: (subclasses) what nova's parsers reject,
        e.g. a flavor/image conflict.
    """
    image = image_meta or objects.ImageMeta.from_dict({})
    # Lazily, so a refusal precedes nova's parsers' demands (UEFI for SEV).
    for what, (key, value), reason in itertools.chain(
            _device_refusals(flavor, image),
            _security_refusals(flavor, image), _cpu_refusals(flavor, image)):
        raise lxd_exception.UnsupportedInstanceFeature(
            instance=instance_name, what=what, key=key, value=value,
            reason=reason)
