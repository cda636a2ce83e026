"""lxd_specs: the ``lxd:`` extra spec namespace under the operator's
policy (pure; no mocks)."""
import testtools

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import lxd_specs

DEFAULT = lxd_specs.Policy(
    security_options=frozenset({'security.nesting',
                                'security.idmap.isolated'}))
OPEN = lxd_specs.Policy(
    security_options=frozenset(lxd_specs.SECURITY_KEYS),
    config_key_patterns=('linux.sysctl.*', 'raw.lxc'),
    profiles=frozenset({'gpu-drivers', 'hpc'}),
    kernel_modules=frozenset({'overlay', 'br_netfilter'}),
    device_sets=frozenset({'fuse', 'kvm'}))


class FlavorOptionsTest(testtools.TestCase):

    def options(self, specs, policy=OPEN):
        return lxd_specs.flavor_options(specs, policy)

    def test_known_keys(self):
        options = self.options({'lxd:security.nesting': 'True',
                                'lxd:security.idmap.isolated': 'yes',
                                'lxd:limits.processes': '500',
                                'hw:cpu_policy': 'shared'})
        self.assertEqual({'security.nesting': 'true',
                          'security.idmap.isolated': 'true',
                          'limits.processes': '500'}, options.config)
        self.assertEqual([], options.profiles)
        self.assertEqual([], options.device_sets)

    def test_false_is_false(self):
        # The 2019 driver enabled privileged on "False".
        for value in ('False', 'false', 'no', 'off', '0', 'F'):
            options = self.options({'lxd:security.privileged': value},
                                   DEFAULT)
            self.assertEqual({'security.privileged': 'false'},
                             options.config, value)

    def test_boolean_parsed_strictly(self):
        for value in ('maybe', '', 'enabled', '2'):
            e = self.assertRaises(
                lxd_exception.InvalidExtraSpec, self.options,
                {'lxd:security.nesting': value})
            self.assertIn('lxd:security.nesting', str(e))

    def test_privileged_refused_by_default(self):
        e = self.assertRaises(lxd_exception.ExtraSpecNotAllowed,
                              self.options,
                              {'lxd:security.privileged': 'true'}, DEFAULT)
        self.assertIn('[lxd] allowed_security_options', str(e))
        self.assertIn('lxd:security.privileged', str(e))

    def test_privileged_when_permitted(self):
        self.assertEqual(
            {'security.privileged': 'true'},
            self.options({'lxd:security.privileged': 'on'}).config)

    def test_nesting_refused_when_not_permitted(self):
        self.assertRaises(lxd_exception.ExtraSpecNotAllowed, self.options,
                          {'lxd:security.nesting': 'true'},
                          lxd_specs.Policy())

    def test_raw_keys_refused_by_default(self):
        e = self.assertRaises(lxd_exception.ExtraSpecNotAllowed,
                              self.options, {'lxd:raw.lxc': 'lxc.x = 1'},
                              DEFAULT)
        self.assertIn('[lxd] allowed_config_keys', str(e))

    def test_raw_keys_by_pattern(self):
        options = self.options({
            'lxd:linux.sysctl.net.core.somaxconn': '4096',
            'lxd:raw.lxc': 'lxc.apparmor.profile = unconfined'})
        self.assertEqual(
            {'linux.sysctl.net.core.somaxconn': '4096',
             'raw.lxc': 'lxc.apparmor.profile = unconfined'},
            options.config)
        self.assertRaises(lxd_exception.ExtraSpecNotAllowed, self.options,
                          {'lxd:raw.apparmor': 'x'})

    def test_reserved_keys_never_settable(self):
        policy = lxd_specs.Policy(config_key_patterns=('*',))
        for key in ('limits.cpu', 'limits.memory', 'limits.cpu.allowance',
                    'limits.hugepages.2MB', 'user.nova.instance_uuid',
                    'volatile.eth0.hwaddr', 'image.os', 'boot.autostart',
                    'nvidia.runtime', 'raw.idmap'):
            e = self.assertRaises(lxd_exception.InvalidExtraSpec,
                                  self.options, {f'lxd:{key}': '1'}, policy)
            self.assertIn('the driver sets this LXD key itself', str(e))

    def test_malformed_key_refused(self):
        self.assertRaises(lxd_exception.InvalidExtraSpec, self.options,
                          {'lxd:Raw Key': '1'})

    def test_limits_processes(self):
        self.assertRaises(lxd_exception.InvalidExtraSpec, self.options,
                          {'lxd:limits.processes': 'many'})
        self.assertRaises(lxd_exception.InvalidExtraSpec, self.options,
                          {'lxd:limits.processes': '0'})

    def test_kernel_modules(self):
        options = self.options(
            {'lxd:linux.kernel_modules': 'overlay, br_netfilter,overlay'})
        self.assertEqual({'linux.kernel_modules': 'overlay,br_netfilter'},
                         options.config)
        e = self.assertRaises(lxd_exception.ExtraSpecNotAllowed,
                              self.options,
                              {'lxd:linux.kernel_modules': 'overlay,nbd'})
        self.assertIn('kernel modules nbd not permitted', str(e))
        self.assertIn('[lxd] allowed_kernel_modules', str(e))

    def test_profiles_in_order(self):
        options = self.options({'lxd:profiles': 'hpc,gpu-drivers'})
        self.assertEqual(['hpc', 'gpu-drivers'], options.profiles)
        e = self.assertRaises(lxd_exception.ExtraSpecNotAllowed,
                              self.options, {'lxd:profiles': 'default'},
                              DEFAULT)
        self.assertIn('(permitted: none)', str(e))

    def test_device_sets(self):
        options = self.options({'lxd:host_devices': 'kvm,fuse'})
        self.assertEqual(['kvm', 'fuse'], options.device_sets)
        e = self.assertRaises(lxd_exception.ExtraSpecNotAllowed,
                              self.options, {'lxd:host_devices': 'tun'})
        self.assertIn('device sets tun not permitted (permitted: fuse, kvm)',
                      str(e))
        self.assertIn('[lxd] host_device_set', str(e))

    def test_name_list_form(self):
        for value in ('', ',', 'a,,b', 'a b', '../x'):
            self.assertRaises(lxd_exception.InvalidExtraSpec, self.options,
                              {'lxd:host_devices': value})


class PolicyFromConfTest(testtools.TestCase):

    def test_from_conf(self):
        class Conf:
            allowed_security_options = ['security.nesting']
            allowed_config_keys = ['raw.lxc']
            flavor_profiles = ['hpc']
            allowed_kernel_modules = ['overlay']
        policy = lxd_specs.Policy.from_conf(Conf, ['fuse'])
        self.assertEqual(lxd_specs.Policy(
            frozenset({'security.nesting'}), ('raw.lxc',),
            frozenset({'hpc'}), frozenset({'overlay'}),
            frozenset({'fuse'})), policy)
