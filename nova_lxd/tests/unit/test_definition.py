"""definition.py: instance/flavor/extra specs -> LXD config (no mocks)."""
from nova import exception
from nova import objects
import testtools

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import definition

UUID = '0b7c6c62-3f8e-4a36-9b3c-4c3f4b1f6b2a'


def _instance(hostname='web-1', vcpus=2, memory_mb=1536, root_gb=10,
              extra_specs=None):
    objects.register_all()
    fl = objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, root_gb=root_gb,
                        ephemeral_gb=0, swap=0,
                        extra_specs=extra_specs or {})
    return objects.Instance(uuid=UUID, hostname=hostname, flavor=fl)


class InstanceConfigTest(testtools.TestCase):

    def config(self, **kwargs):
        inst = _instance(**kwargs)
        return definition.instance_config(inst, inst.flavor,
                                          inst.flavor.extra_specs)

    def test_limits_in_binary_units(self):
        config = self.config()
        self.assertEqual('2', config['limits.cpu'])
        # MiB as nova accounts, never decimal MB.
        self.assertEqual('1536MiB', config['limits.memory'])
        self.assertEqual(UUID, config[definition.UUID_KEY])
        self.assertEqual('false', config['security.privileged'])
        self.assertEqual('false', config['boot.autostart'])

    def test_hostname_becomes_uts_name(self):
        self.assertEqual('lxc.uts.name = web-1', self.config()['raw.lxc'])

    def test_fqdn_hostname_fits_the_kernel(self):
        # API 2.94 allows FQDN hostnames up to 255 characters; the kernel's
        # host name holds 64 and liblxc refuses a longer lxc.uts.name
        # (tempest ServersV294TestFqdnHostnames: 78 characters).
        fqdn = 'x' * 52 + '-guest-test.domaintest.com'
        self.assertEqual('lxc.uts.name = ' + 'x' * 52 + '-guest-test',
                         self.config(hostname=fqdn)['raw.lxc'])
        short = 'web-1.example.com'
        self.assertEqual('lxc.uts.name = web-1.example.com',
                         self.config(hostname=short)['raw.lxc'])
        exactly = 'a' * 60 + '.org'
        self.assertEqual('lxc.uts.name = ' + exactly,
                         self.config(hostname=exactly)['raw.lxc'])

    def test_hostname_cannot_inject_raw_lxc(self):
        self.assertRaises(exception.InvalidInput, self.config,
                          hostname='a\nlxc.apparmor.profile = unconfined')

    def test_zero_vcpus_refused(self):
        self.assertRaises(lxd_exception.InvalidExtraSpec, self.config,
                          vcpus=0)

    def test_cpu_quota_and_period(self):
        config = self.config(extra_specs={'quota:cpu_quota': '50000',
                                          'quota:cpu_period': '100000'})
        self.assertEqual('50ms/100ms', config['limits.cpu.allowance'])

    def test_cpu_quota_default_period(self):
        config = self.config(extra_specs={'quota:cpu_quota': '20000'})
        self.assertEqual('20ms/100ms', config['limits.cpu.allowance'])

    def test_malformed_cpu_quota_names_key_and_value(self):
        e = self.assertRaises(lxd_exception.InvalidExtraSpec, self.config,
                              extra_specs={'quota:cpu_quota': 'lots'})
        self.assertIn('quota:cpu_quota', str(e))
        self.assertIn("'lots'", str(e))

    def test_other_namespaces_ignored(self):
        config = self.config(extra_specs={'hw:cpu_policy': 'shared'})
        self.assertNotIn('hw:cpu_policy', config)


class DevicesTest(testtools.TestCase):

    def test_nic_limits_kib_to_kbit(self):
        self.assertEqual(
            {'limits.ingress': '8000kbit', 'limits.egress': '800kbit'},
            definition.nic_limits({'quota:vif_inbound_average': '1000',
                                   'quota:vif_outbound_average': '100'}))

    def test_nic_peak_and_burst_checked_not_sent(self):
        self.assertEqual({'limits.egress': '800kbit'}, definition.nic_limits(
            {'quota:vif_outbound_average': '100',
             'quota:vif_outbound_peak': '200',
             'quota:vif_inbound_burst': '64'}))
        e = self.assertRaises(lxd_exception.InvalidExtraSpec,
                              definition.nic_limits,
                              {'quota:vif_inbound_peak': 'fast'})
        self.assertIn('quota:vif_inbound_peak', str(e))

    def test_definition(self):
        body = definition.instance_definition('i-1', 'img', {'a': 'b'},
                                              {'root': {}}, ['site'])
        self.assertEqual({'type': 'image', 'alias': 'img'}, body['source'])
        self.assertEqual('container', body['type'])
        self.assertEqual(['site'], body['profiles'])
