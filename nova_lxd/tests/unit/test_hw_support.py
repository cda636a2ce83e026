"""hw_support: hw:/os: requests a container cannot honour (pure)."""
from nova import exception
from oslotest import base

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import hw_support
from nova_lxd.tests.unit.test_cpu_numa import _flavor
from nova_lxd.tests.unit.test_cpu_numa import _image


# Extra specs (or image properties) refused -> the key named in the error.
REFUSED = [
    ({'resources:VGPU': '1'}, {}, 'resources:VGPU'),
    ({'resources1:VGPU': '1'}, {}, 'resources1:VGPU'),
    ({'resources:PGPU': '1'}, {}, 'resources:PGPU'),
    ({'hw:pmem': '4GB'}, {}, 'hw:pmem'),
    ({'hw:tpm_version': '2.0'}, {}, 'hw:tpm_version'),
    ({}, {'hw_tpm_version': '2.0', 'hw_tpm_model': 'tpm-crb'},
     'hw_tpm_version'),
    ({'hw:watchdog_action': 'reset'}, {}, 'hw:watchdog_action'),
    ({'hw:watchdog_action': 'none'}, {}, 'hw:watchdog_action'),
    ({'hw:watchdog_action': 'disabled'}, {'hw_watchdog_action': 'poweroff'},
     'hw_watchdog_action'),
    ({'hw:serial_port_count': '2'}, {}, 'hw:serial_port_count'),
    ({}, {'hw_serial_port_count': 3}, 'hw_serial_port_count'),
    ({'hw:viommu_model': 'virtio'}, {}, 'hw:viommu_model'),
    ({'hw:sound_model': 'virtio'}, {}, 'hw:sound_model'),
    ({'hw:usb_model': 'qemu-xhci'}, {}, 'hw:usb_model'),
    ({'hw:redirected_usb_ports': '2'}, {}, 'hw:redirected_usb_ports'),
    ({'os:secure_boot': 'required'}, {}, 'os:secure_boot'),
    ({}, {'os_secure_boot': 'required'}, 'os_secure_boot'),
    ({'hw:mem_encryption': 'true'}, {}, 'hw:mem_encryption'),
    ({}, {'hw_mem_encryption': True}, 'hw_mem_encryption'),
    ({'hw:locked_memory': 'true', 'hw:mem_page_size': 'large'}, {},
     'hw:locked_memory'),
    ({'hw:cpu_realtime': 'yes', 'hw:cpu_policy': 'dedicated',
      'hw:cpu_realtime_mask': '^0'}, {}, 'hw:cpu_realtime'),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0'}, {},
     'hw:cpu_policy'),
    ({'hw:numa_nodes': '2'}, {}, 'hw:numa_nodes'),
    ({}, {'hw_numa_nodes': 2}, 'hw_numa_nodes'),
    ({'hw:numa_nodes': '2', 'hw:numa_cpus.0': '0', 'hw:numa_cpus.1': '1',
      'hw:numa_mem.0': '256', 'hw:numa_mem.1': '768'}, {}, 'hw:numa_nodes'),
    ({'hw:pmu': 'true'}, {}, 'hw:pmu'),
    ({}, {'hw_pmu': True}, 'hw_pmu'),
]

# Harmless or honoured: each must boot.
ACCEPTED = [
    {'hw:cpu_policy': 'dedicated'},
    {'hw:cpu_policy': 'shared'},
    {'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate'},
    {'hw:cpu_policy': 'dedicated', 'hw:emulator_threads_policy': 'isolate'},
    {'hw:cpu_policy': 'dedicated', 'hw:emulator_threads_policy': 'share'},
    {'hw:mem_page_size': '2MB'},
    {'hw:mem_page_size': 'large'},
    {'hw:mem_page_size': 'any'},
    {'hw:mem_page_size': 'small'},
    {'hw:numa_nodes': '1'},
    {'hw:numa_nodes': '1', 'hw:numa_cpus.0': '0-1', 'hw:numa_mem.0': '1024'},
    {'hw:pci_numa_affinity_policy': 'preferred'},
    {'hw:cpu_sockets': '2', 'hw:cpu_cores': '1', 'hw:cpu_threads': '1'},
    {'hw:cpu_max_sockets': '2', 'hw:cpu_max_cores': '4'},
    {'hw:boot_menu': 'true'},
    {'hw:hide_hypervisor_id': 'true'},
    {'hw:vif_multiqueue_enabled': 'true'},
    {'hw:virtio_packed_ring': 'true'},
    {'hw:video:ram_max_mb': '64'},
    {'hw_rng:allowed': 'True', 'hw_rng:rate_bytes': '1024'},
    {'hw:pmu': 'false'},
    {'hw:watchdog_action': 'disabled'},
    {'hw:serial_port_count': '1'},
    {'os:secure_boot': 'optional'},
    {'os:secure_boot': 'disabled'},
    {'hw:mem_encryption': 'false'},
    {'hw:usb_model': 'none', 'hw:redirected_usb_ports': '0'},
    {'hw:viommu_model': 'none'},
    {'resources:VGPU': '0'},
]


class CheckSupportedTest(base.BaseTestCase):

    def test_each_refusal_names_its_key(self):
        for specs, props, key in REFUSED:
            try:
                hw_support.check_supported(_flavor(specs), _image(**props),
                                           'inst-1')
            except lxd_exception.UnsupportedInstanceFeature as e:
                msg = str(e)
            else:
                self.fail(f'{specs} {props} was accepted')
            self.assertIn(f'({key}=', msg, (specs, props))
            self.assertIn(f'Remove {key} from the flavor', msg)
            self.assertIn('Instance inst-1 asks for', msg)

    def test_refusal_message(self):
        e = self.assertRaises(
            lxd_exception.UnsupportedInstanceFeature,
            hw_support.check_supported, _flavor({'hw:numa_nodes': '2'}),
            None, 'inst-1')
        self.assertEqual(
            'Instance inst-1 asks for several NUMA nodes (hw:numa_nodes=2), '
            'which an LXD container cannot have: LXD 5.0 cannot bind a '
            "container's memory to NUMA nodes, and a container sees the "
            "host's nodes, not guest ones. Remove hw:numa_nodes from the "
            'flavor or the image.', str(e))

    def test_refusal_comes_before_nova_asks_for_uefi(self):
        # nova's own SEV check would first demand hw_firmware_type=uefi.
        e = self.assertRaises(
            lxd_exception.UnsupportedInstanceFeature,
            hw_support.check_supported,
            _flavor({'hw:mem_encryption': 'true',
                     'hw:locked_memory': 'true',
                     'hw:mem_page_size': '2MB'}), _image(), 'inst-1')
        self.assertIn('memory encryption', str(e))

    def test_harmless_and_honoured_specs_are_accepted(self):
        for specs in ACCEPTED:
            self.assertIsNone(hw_support.check_supported(
                _flavor(specs), _image(), 'inst-1'), specs)

    def test_harmless_image_properties_are_accepted(self):
        self.assertIsNone(hw_support.check_supported(
            _flavor({'hw:watchdog_action': 'reset',
                     'hw:mem_page_size': 'large'}),
            _image(hw_watchdog_action='disabled', hw_video_model='vga',
                   hw_rng_model='virtio', hw_pmu=False,
                   hw_serial_port_count=1, os_secure_boot='optional',
                   hw_cpu_policy='dedicated', hw_mem_page_size='2MB'),
            'inst-1'))

    def test_no_image(self):
        self.assertIsNone(hw_support.check_supported(_flavor({}), None, 'i'))

    def test_nova_parser_errors_pass_through(self):
        self.assertRaises(exception.FlavorImageConflict,
                          hw_support.check_supported,
                          _flavor({'hw:tpm_version': '1.2'}),
                          _image(hw_tpm_version='2.0'), 'inst-1')
