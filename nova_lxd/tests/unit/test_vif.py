"""vif.py: Neutron VIFs -> LXD nics (no mocks)."""
from nova.network import model
import testtools

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import vif

PORT = 'ce531f90-199f-48c0-816c-13e38010b442'


def _vif(vif_type='tap', ips=('192.168.77.10',), active=True, mtu=1450):
    subnets = []
    for address in ips:
        cidr = '192.168.77.0/24' if '.' in address else 'fd00::/64'
        subnets.append(model.Subnet(cidr=cidr, ips=[
            model.FixedIP(address=address)]))
    network = model.Network(id='net', subnets=subnets, meta={'mtu': mtu})
    return model.VIF(id=PORT, address='fa:16:3e:4c:2c:30', type=vif_type,
                     network=network, active=active,
                     devname='tap' + PORT[:11])


class NicTest(testtools.TestCase):

    def test_tap_becomes_routed_nic(self):
        devices = vif.nic_devices(model.NetworkInfo([_vif()]), {})
        self.assertEqual({'eth0': {
            'type': 'nic', 'nictype': 'routed', 'name': 'eth0',
            'host_name': 'tapce531f90-19', 'hwaddr': 'fa:16:3e:4c:2c:30',
            'ipv4.address': '192.168.77.10', 'mtu': '1450'}}, devices)

    def test_dual_stack(self):
        nic = vif.nic_device(_vif(ips=('192.168.77.10', 'fd00::5')),
                             'eth1', {})
        self.assertEqual('192.168.77.10', nic['ipv4.address'])
        self.assertEqual('fd00::5', nic['ipv6.address'])
        self.assertEqual('eth1', nic['name'])

    def test_port_without_ip_is_p2p(self):
        nic = vif.nic_device(_vif(ips=()), 'eth0', {})
        self.assertEqual('p2p', nic['nictype'])
        self.assertNotIn('ipv4.address', nic)

    def test_tap_name_without_devname(self):
        v = _vif()
        del v['devname']
        self.assertEqual('tapce531f90-19', vif.tap_name(v))

    def test_ovs_refused_naming_port(self):
        e = self.assertRaises(lxd_exception.UnsupportedVIFType,
                              vif.nic_devices,
                              model.NetworkInfo([_vif('ovs')]), {})
        self.assertIn(PORT, str(e))
        self.assertIn("'ovs'", str(e))

    def test_bandwidth(self):
        nic = vif.nic_device(_vif(), 'eth0',
                             {'quota:vif_inbound_average': '125'})
        self.assertEqual('1000kbit', nic['limits.ingress'])

    def test_events_only_for_inactive_ports(self):
        info = model.NetworkInfo([_vif(active=False), _vif(active=True)])
        self.assertEqual([('network-vif-plugged', PORT)],
                         vif.plugged_events(info))
        self.assertEqual([], vif.plugged_events(None))

    def test_only_the_first_nic_gets_the_default_route(self):
        info = model.NetworkInfo([_vif(), _vif(ips=('192.168.78.4',)),
                                  _vif(ips=())])
        devices = vif.nic_devices(info, {})
        self.assertNotIn('ipv4.gateway', devices['eth0'])
        self.assertNotIn('ipv6.gateway', devices['eth0'])
        # Both families, even on a nic with IPv4 only.
        self.assertEqual(('none', 'none'),
                         (devices['eth1']['ipv4.gateway'],
                          devices['eth1']['ipv6.gateway']))
        self.assertNotIn('ipv4.gateway', devices['eth2'])  # p2p
