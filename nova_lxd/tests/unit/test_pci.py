"""pci.py: /1.0/resources -> nova's PCI tracker, PCI claims -> LXD devices.

Pure functions, no mocks, no daemon.
"""
import copy

from nova import exception
from nova import objects
from nova.objects import fields
from oslo_serialization import jsonutils
import testtools

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import pci

PCI = fields.PciDeviceType.STANDARD
PF = fields.PciDeviceType.SRIOV_PF
VF = fields.PciDeviceType.SRIOV_VF
INSTANCE = 'instance-0000002a'


def _pci(address, vendor, product, driver='', numa_node=0):
    return {'driver': driver, 'driver_version': '', 'iommu_group': 0,
            'numa_node': numa_node, 'pci_address': address, 'product': '',
            'product_id': product, 'vendor': '', 'vendor_id': vendor,
            'vpd': {}}


# ``lxc query /1.0/resources`` on the test VM (LXD 5.0.2, no GPU): the
# gpu, network and pci sections, verbatim but for the dropped keys.
HOST = {
    'gpu': {'cards': [], 'total': 0},
    'network': {'cards': [{
        'driver': 'virtio_net', 'driver_version': '6.18.44-fc-v1252',
        'numa_node': 0, 'pci_address': '0000:00:03.0',
        'ports': [{'address': '02:fc:00:00:00:01',
                   'auto_negotiation': False, 'id': 'eth0',
                   'link_detected': True, 'port': 0, 'port_type': 'other',
                   'protocol': 'ethernet', 'transceiver_type': 'internal'}],
        # The virtio bus id, not the PCI one (1041) the pci section gives.
        'product_id': '0001', 'vendor_id': '1af4'}], 'total': 1},
    'pci': {'devices': [
        _pci('0000:00:00.0', '8086', '0d57'),
        _pci('0000:00:01.0', '1af4', '1045', 'virtio-pci'),
        _pci('0000:00:02.0', '1af4', '1042', 'virtio-pci'),
        _pci('0000:00:03.0', '1af4', '1041', 'virtio-pci'),
        _pci('0000:00:04.0', '1af4', '1053', 'virtio-pci'),
        _pci('0000:00:05.0', '1af4', '1044', 'virtio-pci'),
    ], 'total': 6},
}
# ``lxc query /1.0`` on the same VM: LXD 5.0.2 has nvidia_runtime and
# nvidia_runtime_config, not gpu_cdi (only the relevant names).
LXD_5_0 = ['resources', 'nvidia_runtime', 'nvidia_runtime_config',
           'resources_gpu', 'resources_v2', 'resources_usb_pci',
           'resources_gpu_mdev', 'resources_pci_iommu', 'gpu_sriov']
LXD_6 = ['resources', 'resources_usb_pci', 'gpu_sriov', 'gpu_cdi']

NVIDIA_UUID = 'GPU-6ddadebd-dafe-2db9-f10f-125719770fd3'
INTEL_IGPU = {
    'driver': 'i915', 'driver_version': '6.8.0-45-generic',
    'drm': {'id': 0, 'card_name': 'card0', 'card_device': '226:0',
            'control_name': 'controlD64', 'control_device': '226:0',
            'render_name': 'renderD128', 'render_device': '226:128'},
    'numa_node': 0, 'pci_address': '0000:00:02.0', 'vendor': 'Intel',
    'vendor_id': '8086', 'product': 'UHD Graphics 630', 'product_id': '3e92'}
NVIDIA = {
    'driver': 'nvidia', 'driver_version': '550.107.02',
    'drm': {'id': 1, 'card_name': 'card1', 'card_device': '226:1'},
    'numa_node': 1, 'pci_address': '0000:41:00.0', 'vendor': 'NVIDIA',
    'vendor_id': '10de', 'product': 'GA100 [A100 PCIe 40GB]',
    'product_id': '20f1',
    'nvidia': {'cuda_version': '12.4', 'nvrm_version': '550.107.02',
               'brand': 'NVIDIA', 'model': 'NVIDIA A100-PCIE-40GB',
               'uuid': NVIDIA_UUID, 'architecture': '8.0',
               'card_name': 'nvidia0', 'card_device': '195:0'}}
# An SR-IOV GPU (Intel Data Center GPU Flex 170) with two VFs enabled.
FLEX = {
    'driver': 'i915', 'numa_node': 0, 'pci_address': '0000:4d:00.0',
    'vendor_id': '8086', 'product_id': '56c0',
    'sriov': {'current_vfs': 2, 'maximum_vfs': 31, 'vfs': [
        {'driver': 'i915', 'numa_node': 0, 'pci_address': '0000:4d:00.1',
         'vendor_id': '8086', 'product_id': '56c0'},
        {'driver': 'vfio-pci', 'numa_node': 0,
         'pci_address': '0000:4d:00.2', 'vendor_id': '8086',
         'product_id': '56c0'}]}}
# A GPU carved into vGPUs (an mdev profile with a created device).
VGPU_HOST = {
    'driver': 'nvidia', 'numa_node': 0, 'pci_address': '0000:65:00.0',
    'vendor_id': '10de', 'product_id': '1eb8',
    'mdev': {'nvidia-222': {'api': 'vfio-pci', 'available': 15,
                            'name': 'GRID T4-1B', 'description': '',
                            'devices': [
                                '42200aac-0977-495c-8c9e-6c51b9092a01']},
             'nvidia-223': {'api': 'vfio-pci', 'available': 16,
                            'name': 'GRID T4-2B', 'description': '',
                            'devices': []}}}
# A ConnectX-5 port with two VFs: one on mlx5_core (has an interface),
# one bound to vfio-pci (none).
MLX5 = {
    'driver': 'mlx5_core', 'numa_node': 0, 'pci_address': '0000:3b:00.0',
    'vendor_id': '15b3', 'product_id': '1017',
    'ports': [{'id': 'enp59s0f0np0', 'address': 'b8:ce:f6:00:00:01',
               'port': 0, 'protocol': 'ethernet'}],
    'sriov': {'current_vfs': 2, 'maximum_vfs': 8, 'vfs': [
        {'driver': 'mlx5_core', 'numa_node': 0,
         'pci_address': '0000:3b:00.2', 'vendor_id': '15b3',
         'product_id': '1018',
         'ports': [{'id': 'enp59s0f0v0', 'address': '6a:1c:00:00:00:02',
                    'port': 0, 'protocol': 'ethernet'}]},
        {'driver': 'vfio-pci', 'numa_node': 0,
         'pci_address': '0000:3b:00.3', 'vendor_id': '15b3',
         'product_id': '1018'}]}}
# A USB GPU: no PCI address, nothing nova could track.
USB_GPU = {'driver': 'udl', 'usb_address': '2:7', 'numa_node': 0,
           'vendor_id': '17e9', 'product_id': '4301'}


def _host(gpus=(), nics=(), with_pci=True):
    """Resources of a GPU/SR-IOV host, shaped like LXD's."""
    gpus = [copy.deepcopy(g) for g in gpus]
    nics = [copy.deepcopy(n) for n in nics]
    resources = {'gpu': {'cards': gpus, 'total': len(gpus)},
                 'network': {'cards': nics, 'total': len(nics)}}
    if with_pci:
        devices = [_pci('0000:00:00.0', '8086', '3e30')]
        for card in gpus + nics:
            if card.get('pci_address'):
                devices.append(_pci(card['pci_address'], card['vendor_id'],
                                    card['product_id'], card['driver'],
                                    card['numa_node']))
            for vf in (card.get('sriov') or {}).get('vfs', []):
                devices.append(_pci(vf['pci_address'], vf['vendor_id'],
                                    vf['product_id'], vf['driver'],
                                    vf['numa_node']))
        resources['pci'] = {'devices': devices[::-1],
                            'total': len(devices)}
    return resources


GPU_HOST = _host(gpus=[INTEL_IGPU, NVIDIA, FLEX, VGPU_HOST, USB_GPU],
                 nics=[MLX5])


def _entry(address, vendor, product, dev_type=PCI, numa_node=0, **extra):
    entry = {'address': address, 'vendor_id': vendor, 'product_id': product,
             'numa_node': numa_node,
             'label': 'label_%s_%s' % (vendor, product),
             'dev_id': 'pci_' + address.replace(':', '_').replace('.', '_'),
             'dev_type': dev_type}
    entry.update(extra)
    return entry


def _claimed(address, vendor, product, dev_type=PCI):
    objects.register_all()
    return objects.PciDevice(address=address, vendor_id=vendor,
                             product_id=product, dev_type=dev_type)


IGPU_DEV = _claimed('0000:00:02.0', '8086', '3e92')
NVIDIA_DEV = _claimed('0000:41:00.0', '10de', '20f1')
FLEX_DEV = _claimed('0000:4d:00.0', '8086', '56c0', PF)
FLEX_VF_DEV = _claimed('0000:4d:00.1', '8086', '56c0', VF)
VGPU_HOST_DEV = _claimed('0000:65:00.0', '10de', '1eb8')
MLX5_DEV = _claimed('0000:3b:00.0', '15b3', '1017', PF)
MLX5_VF_DEV = _claimed('0000:3b:00.2', '15b3', '1018', VF)
MLX5_VFIO_VF_DEV = _claimed('0000:3b:00.3', '15b3', '1018', VF)


# What the GPU and network cards of GPU_HOST (and their VFs) report.
CARD_ENTRIES = [
    _entry('0000:3b:00.0', '15b3', '1017', PF),
    _entry('0000:3b:00.2', '15b3', '1018', VF, parent_addr='0000:3b:00.0'),
    _entry('0000:3b:00.3', '15b3', '1018', VF, parent_addr='0000:3b:00.0'),
    _entry('0000:41:00.0', '10de', '20f1', numa_node=1),
    _entry('0000:4d:00.0', '8086', '56c0', PF),
    _entry('0000:4d:00.1', '8086', '56c0', VF, parent_addr='0000:4d:00.0'),
    _entry('0000:4d:00.2', '8086', '56c0', VF, parent_addr='0000:4d:00.0'),
]


class PassthroughDevicesTest(testtools.TestCase):

    def test_this_host(self):
        self.assertEqual([
            _entry('0000:00:00.0', '8086', '0d57'),
            _entry('0000:00:01.0', '1af4', '1045'),
            _entry('0000:00:02.0', '1af4', '1042'),
            # The pci section's id wins over the network card's virtio one.
            _entry('0000:00:03.0', '1af4', '1041'),
            _entry('0000:00:04.0', '1af4', '1053'),
            _entry('0000:00:05.0', '1af4', '1044'),
        ], pci.passthrough_devices(HOST))

    def test_sriov_functions_and_order(self):
        expected = sorted(CARD_ENTRIES + [
            _entry('0000:00:00.0', '8086', '3e30'),
            _entry('0000:00:02.0', '8086', '3e92'),
            _entry('0000:65:00.0', '10de', '1eb8'),
        ], key=lambda entry: entry['address'])
        self.assertEqual(expected, pci.passthrough_devices(GPU_HOST))

    def test_without_pci_section_cards_and_vfs_are_used(self):
        resources = _host(gpus=[NVIDIA, FLEX, USB_GPU], nics=[MLX5],
                          with_pci=False)
        self.assertNotIn('pci', resources)
        self.assertEqual(CARD_ENTRIES, pci.passthrough_devices(resources))

    def test_no_duplicates(self):
        resources = {'gpu': {'cards': [INTEL_IGPU, INTEL_IGPU]},
                     'network': {'cards': [dict(INTEL_IGPU,
                                                product_id='ffff')]}}
        self.assertEqual([_entry('0000:00:02.0', '8086', '3e92')],
                         pci.passthrough_devices(resources))
        with_pci = copy.deepcopy(HOST)
        with_pci['pci']['devices'].append(
            _pci('0000:00:01.0', '1af4', 'ffff'))
        found = pci.passthrough_devices(with_pci)
        self.assertEqual(6, len(found))
        self.assertEqual('1045', found[1]['product_id'])

    def test_normalisation(self):
        resources = {'pci': {'devices': [
            _pci('0000:0A:00.0', '0x10DE', '0x1EB8', numa_node=-1),
            dict(_pci('0000:0b:00.0', '8086', 'abc'), numa_node=None),
            _pci('', '8086', '1234'),
            _pci('0000:0c:00.0', '', '1234'),
            _pci('0000:0d:00.0', '8086', None),
        ]}}
        self.assertEqual([
            _entry('0000:0a:00.0', '10de', '1eb8', numa_node=None),
            _entry('0000:0b:00.0', '8086', '0abc', numa_node=None),
        ], pci.passthrough_devices(resources))

    def test_empty(self):
        self.assertEqual([], pci.passthrough_devices({}))
        self.assertEqual([], pci.passthrough_devices(None))
        self.assertEqual([], pci.passthrough_devices(
            {'gpu': {'cards': [], 'total': 0}, 'pci': None}))

    def test_nova_takes_the_entries(self):
        objects.register_all()
        found = jsonutils.loads(
            jsonutils.dumps(pci.passthrough_devices(GPU_HOST)))
        devs = {d['address']: objects.PciDevice.create(None, d)
                for d in found}
        vf = devs['0000:3b:00.2']
        self.assertEqual(VF, vf.dev_type)
        self.assertEqual('0000:3b:00.0', vf.parent_addr)
        self.assertEqual('pci_0000_3b_00_2', vf.dev_id)
        self.assertEqual('label_15b3_1018', vf.label)
        self.assertEqual(0, vf.numa_node)
        self.assertEqual(fields.PciDeviceStatus.AVAILABLE, vf.status)
        self.assertIsNone(devs['0000:41:00.0'].parent_addr)
        self.assertEqual(PF, devs['0000:4d:00.0'].dev_type)
        self.assertEqual({}, devs['0000:41:00.0'].extra_info)


class InstanceDevicesTest(testtools.TestCase):

    def devices(self, claimed, extensions=LXD_5_0, resources=GPU_HOST):
        return pci.instance_devices(claimed, resources, extensions, INSTANCE)

    def refused(self, claimed, resources=GPU_HOST):
        return self.assertRaises(lxd_exception.UnsupportedPCIDevice,
                                 self.devices, [claimed],
                                 resources=resources)

    def test_no_devices(self):
        self.assertEqual(({}, {}), self.devices([]))
        self.assertEqual(({}, {}), self.devices(None, resources=None))

    def test_device_name(self):
        self.assertEqual('pci-0000-3b-00-2', pci.device_name('0000:3B:00.2'))

    def test_gpu_by_pci_address(self):
        for extensions in (LXD_5_0, LXD_6, []):
            self.assertEqual(
                ({'pci-0000-00-02-0': {'type': 'gpu', 'gputype': 'physical',
                                       'pci': '0000:00:02.0'}}, {}),
                self.devices([IGPU_DEV], extensions))

    def test_sriov_gpu_pf_is_whole_gpu(self):
        self.assertEqual(
            ({'pci-0000-4d-00-0': {'type': 'gpu', 'gputype': 'physical',
                                   'pci': '0000:4d:00.0'}}, {}),
            self.devices([FLEX_DEV]))

    def test_nvidia_cdi(self):
        # gpu_cdi wins even where nvidia_runtime is still there (6.x).
        for extensions in (LXD_6, LXD_6 + ['nvidia_runtime']):
            self.assertEqual(
                ({'pci-0000-41-00-0': {
                    'type': 'gpu', 'gputype': 'physical',
                    'id': 'nvidia.com/gpu=' + NVIDIA_UUID}}, {}),
                self.devices([NVIDIA_DEV], extensions))

    def test_nvidia_runtime(self):
        self.assertEqual(
            ({'pci-0000-41-00-0': {'type': 'gpu', 'gputype': 'physical',
                                   'pci': '0000:41:00.0'}},
             {'nvidia.runtime': 'true',
              'nvidia.driver.capabilities': 'compute,utility'}),
            self.devices([NVIDIA_DEV], LXD_5_0))

    def test_nvidia_runtime_without_its_config_keys(self):
        devices, config = self.devices([NVIDIA_DEV], ['nvidia_runtime'])
        self.assertEqual({'nvidia.runtime': 'true'}, config)
        self.assertEqual('0000:41:00.0', devices['pci-0000-41-00-0']['pci'])

    def test_nvidia_without_cdi_or_runtime(self):
        self.assertEqual(
            ({'pci-0000-41-00-0': {'type': 'gpu', 'gputype': 'physical',
                                   'pci': '0000:41:00.0'}}, {}),
            self.devices([NVIDIA_DEV], ['resources', 'gpu_sriov']))

    def test_nvidia_driver_without_uuid(self):
        card = dict(NVIDIA)
        del card['nvidia']
        resources = _host(gpus=[card])
        pci_form = {'pci-0000-41-00-0': {'type': 'gpu', 'gputype': 'physical',
                                         'pci': '0000:41:00.0'}}
        self.assertEqual((pci_form, {}), self.devices(
            [NVIDIA_DEV], LXD_6, resources))
        self.assertEqual((pci_form, {'nvidia.runtime': 'true'}),
                         self.devices([NVIDIA_DEV],
                                      LXD_6 + ['nvidia_runtime'], resources))

    def test_nics(self):
        self.assertEqual(
            ({'pci-0000-00-03-0': {'type': 'nic', 'nictype': 'physical',
                                   'parent': 'eth0'}}, {}),
            self.devices([_claimed('0000:00:03.0', '1af4', '1041')],
                         resources=HOST))
        self.assertEqual(
            ({'pci-0000-3b-00-0': {'type': 'nic', 'nictype': 'physical',
                                   'parent': 'enp59s0f0np0'},
              'pci-0000-3b-00-2': {'type': 'nic', 'nictype': 'physical',
                                   'parent': 'enp59s0f0v0'}}, {}),
            self.devices([MLX5_DEV, MLX5_VF_DEV]))

    def test_gpu_and_nic_together(self):
        devices, config = self.devices(
            [NVIDIA_DEV, MLX5_VF_DEV, IGPU_DEV], LXD_5_0)
        self.assertEqual(
            {'pci-0000-41-00-0': {'type': 'gpu', 'gputype': 'physical',
                                  'pci': '0000:41:00.0'},
             'pci-0000-3b-00-2': {'type': 'nic', 'nictype': 'physical',
                                  'parent': 'enp59s0f0v0'},
             'pci-0000-00-02-0': {'type': 'gpu', 'gputype': 'physical',
                                  'pci': '0000:00:02.0'}}, devices)
        self.assertEqual({'nvidia.runtime': 'true',
                          'nvidia.driver.capabilities': 'compute,utility'},
                         config)

    def test_gpu_vf_refused(self):
        exc = self.refused(FLEX_VF_DEV)
        self.assertIsInstance(exc, exception.InvalidInput)
        self.assertEqual(
            'PCI device 0000:4d:00.1 (8086:56c0) claimed for instance '
            'instance-0000002a cannot be given to an LXD container: it is '
            'an SR-IOV virtual function of GPU 0000:4d:00.0; LXD gives '
            'SR-IOV GPU functions (gputype=sriov) and mediated GPUs '
            '(gputype=mdev) to virtual machines only.', str(exc))

    def test_gpu_claimed_as_vf_refused(self):
        # nova's record says VF even though resources list no parent.
        claimed = _claimed('0000:00:02.0', '8086', '3e92', VF)
        exc = self.refused(claimed)
        self.assertIn('cannot be given to an LXD container: it is an '
                      'SR-IOV virtual function of GPU; ', str(exc))

    def test_mdev_gpu_refused(self):
        exc = self.refused(VGPU_HOST_DEV)
        self.assertIn('0000:65:00.0 (10de:1eb8)', str(exc))
        self.assertIn(': the GPU is split into mediated devices (vGPUs); '
                      'LXD gives SR-IOV GPU functions', str(exc))

    def test_nic_without_interface_refused(self):
        exc = self.refused(MLX5_VFIO_VF_DEV)
        self.assertIn(
            '0000:3b:00.3 (15b3:1018) claimed for instance '
            'instance-0000002a cannot be given to an LXD container: the '
            "network function has no interface on the host (driver "
            "'vfio-pci')", str(exc))

    def test_other_devices_refused(self):
        expected = (
            'PCI device 0000:00:04.0 (1af4:1053) claimed for instance '
            'instance-0000002a cannot be given to an LXD container: an LXD '
            'container takes only GPUs (whole, by PCI address) and network '
            'cards (as physical nics); remove the device from the [pci] '
            'alias or device_spec this request matched.')
        exc = self.refused(_claimed('0000:00:04.0', '1af4', '1053'),
                           resources=HOST)
        self.assertEqual(expected, str(exc))
        # Unknown to resources altogether.
        self.refused(_claimed('0000:99:00.0', '8086', '1234'))
        self.refused(IGPU_DEV, resources={})

    def test_first_refusal_stops_the_build(self):
        self.assertRaises(lxd_exception.UnsupportedPCIDevice, self.devices,
                          [IGPU_DEV, FLEX_VF_DEV])
