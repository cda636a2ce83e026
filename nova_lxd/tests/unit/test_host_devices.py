"""host_devices: [lxd] host_device_set entries -> LXD devices (pure)."""
import testtools

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import host_devices

FUSE = ('{"name": "fuse", "devices": '
        '{"fuse": {"type": "unix-char", "source": "/dev/fuse"}}}')
HPC = ('{"name": "hpc", "devices": {'
       '"kvm": {"type": "unix-char", "source": "/dev/kvm", "mode": "0666"},'
       '"scratch": {"type": "disk", "source": "/srv/scratch",'
       ' "path": "/scratch"}}}')


class ParseTest(testtools.TestCase):

    def test_sets(self):
        self.assertEqual(
            {'fuse': {'fuse': {'type': 'unix-char', 'source': '/dev/fuse'}},
             'hpc': {'kvm': {'type': 'unix-char', 'source': '/dev/kvm',
                             'mode': '0666'},
                     'scratch': {'type': 'disk', 'source': '/srv/scratch',
                                 'path': '/scratch'}}},
            host_devices.parse_sets([FUSE, HPC]))

    def refused(self, entry, text):
        e = self.assertRaises(lxd_exception.InvalidLXDOption,
                              host_devices.parse_sets, [entry])
        self.assertIn('[lxd] host_device_set', str(e))
        self.assertIn(text, str(e))

    def test_not_json(self):
        self.refused('fuse:/dev/fuse', 'not JSON')

    def test_wrong_shape(self):
        self.refused('{"name": "x"}', 'expected {"name"')
        self.refused('{"name": "x", "devices": {}}', 'at least one device')
        self.refused('{"name": "x", "devices": {}, "extra": 1}',
                     'expected {"name"')

    def test_bad_names(self):
        self.refused('{"name": "a b", "devices": {"d": {"type": "usb"}}}',
                     'set name')
        self.refused('{"name": "a", "devices": {"d/x": {"type": "usb"}}}',
                     "device 'd/x'")

    def test_device_types(self):
        for kind in ('nic', 'pci', 'proxy', 'tpm', 'infiniband', None):
            entry = ('{"name": "a", "devices": {"d": {"type": %s}}}'
                     % ('null' if kind is None else f'"{kind}"'))
            self.refused(entry, 'allowed: unix-char')

    def test_values_are_strings(self):
        self.refused('{"name": "a", "devices": {"d": {"type": "unix-char",'
                     ' "mode": 438}}}', 'values are strings')

    def test_disk_is_a_host_path(self):
        self.refused('{"name": "a", "devices": {"d": {"type": "disk",'
                     ' "pool": "default", "source": "vol", "path": "/x"}}}',
                     'absolute host "source"')
        self.refused('{"name": "a", "devices": {"d": {"type": "disk",'
                     ' "source": "srv", "path": "/x"}}}',
                     'absolute host "source"')

    def test_vm_only_gpus(self):
        for gputype in ('mdev', 'sriov'):
            self.refused('{"name": "a", "devices": {"g": {"type": "gpu",'
                         ' "gputype": "%s"}}}' % gputype, 'VM-only')

    def test_container_gpus(self):
        sets = host_devices.parse_sets([
            '{"name": "mig", "devices": {"g": {"type": "gpu", '
            '"gputype": "mig", "pci": "0000:07:00.0", "mig.uuid": '
            '"MIG-0b1f"}}}',
            '{"name": "all", "devices": {"g": {"type": "gpu"}}}'])
        self.assertEqual(['all', 'mig'], sorted(sets))

    def test_twice(self):
        e = self.assertRaises(lxd_exception.InvalidLXDOption,
                              host_devices.parse_sets, [FUSE, FUSE])
        self.assertIn('defined twice', str(e))


class DevicesForTest(testtools.TestCase):

    def test_named_per_set(self):
        sets = host_devices.parse_sets([FUSE, HPC])
        self.assertEqual(
            {'hostdev-hpc-kvm': {'type': 'unix-char', 'source': '/dev/kvm',
                                 'mode': '0666'},
             'hostdev-hpc-scratch': {'type': 'disk',
                                     'source': '/srv/scratch',
                                     'path': '/scratch'},
             'hostdev-fuse-fuse': {'type': 'unix-char',
                                   'source': '/dev/fuse'}},
            host_devices.devices_for(['hpc', 'fuse'], sets))
        self.assertEqual({}, host_devices.devices_for([], sets))
