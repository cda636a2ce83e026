"""vif.py: Neutron VIFs -> LXD nics (no mocks)."""
from nova.network import model
from nova.network import os_vif_util
from os_vif import objects as os_vif_objects
import testtools

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import vif

PORT = 'ce531f90-199f-48c0-816c-13e38010b442'
NET = '0c2c4d2e-3b7a-4d8e-9a53-2f3f64a1d0b7'


def _vif(vif_type='tap', ips=('192.168.77.10',), active=True, mtu=1450,
         hybrid=None, bridge=None, **fields):
    subnets = []
    for address in ips:
        cidr = '192.168.77.0/24' if '.' in address else 'fd00::/64'
        subnets.append(model.Subnet(cidr=cidr, ips=[
            model.FixedIP(address=address)]))
    network = model.Network(id=NET, subnets=subnets, meta={'mtu': mtu},
                            bridge=bridge)
    details = {}
    if hybrid is not None:
        details = {'port_filter': not hybrid, 'ovs_hybrid_plug': hybrid,
                   'datapath_type': 'netdev'}
    values = dict(id=PORT, address='fa:16:3e:4c:2c:30', type=vif_type,
                  network=network, active=active, details=details,
                  devname='tap' + PORT[:11])
    values.update(fields)
    return model.VIF(**values)


def _ovs(hybrid, **fields):
    return _vif('ovs', hybrid=hybrid, bridge='br-int', **fields)


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

    def test_vhostuser_refused_naming_port(self):
        e = self.assertRaises(lxd_exception.UnsupportedVIFType,
                              vif.nic_devices,
                              model.NetworkInfo([_vif('vhostuser')]), {})
        self.assertIn(PORT, str(e))
        self.assertIn("'vhostuser'", str(e))

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


class OVSNicTest(testtools.TestCase):
    """``ovs`` ports; device names as nova/os-vif/Neutron make them."""

    def test_hybrid_is_bridged_on_qbr_with_neutrons_tap_name(self):
        nic = vif.nic_device(_ovs(hybrid=True), 'eth0', {})
        # CVE-2017-5936: Neutron's iptables firewall filters on exactly
        # this host-side name; a different one bypasses security groups.
        self.assertEqual({
            'type': 'nic', 'nictype': 'bridged', 'name': 'eth0',
            'parent': 'qbrce531f90-19', 'host_name': 'tapce531f90-19',
            'hwaddr': 'fa:16:3e:4c:2c:30', 'mtu': '1450'}, nic)

    def test_names_match_os_vif(self):
        os_vif_objects.register_all()
        hybrid = os_vif_util.nova_to_osvif_vif(_ovs(hybrid=True))
        native = os_vif_util.nova_to_osvif_vif(_ovs(hybrid=False))
        self.assertEqual(hybrid.bridge_name,
                         vif.hybrid_bridge_name(_ovs(hybrid=True)))
        self.assertEqual(hybrid.vif_name, vif.tap_name(_ovs(hybrid=True)))
        self.assertEqual(native.vif_name, vif.tap_name(_ovs(hybrid=False)))
        for hybrid in (True, False):
            port = _ovs(hybrid=hybrid)
            del port['devname']
            self.assertEqual(os_vif_util.nova_to_osvif_vif(port).vif_name,
                             vif.tap_name(port))
        self.assertEqual('netdev', native.port_profile.datapath_type)

    def test_native_is_physical_on_the_owned_veth_peer(self):
        nic = vif.nic_device(_ovs(hybrid=False), 'eth1', {})
        self.assertEqual({
            'type': 'nic', 'nictype': 'physical', 'name': 'eth1',
            'parent': 'tince531f90-19', 'hwaddr': 'fa:16:3e:4c:2c:30',
            'mtu': '1450'}, nic)
        self.assertTrue(vif.is_native_ovs(_ovs(hybrid=False)))
        self.assertFalse(vif.is_native_ovs(_ovs(hybrid=True)))
        self.assertFalse(vif.is_native_ovs(_vif()))

    def test_no_mtu_leaves_the_default(self):
        self.assertNotIn('mtu', vif.nic_device(
            _ovs(hybrid=False, mtu=None), 'eth0', {}))

    def test_bandwidth_on_hybrid_but_not_native(self):
        # The peak (not enforced anyway) must not be the key named.
        specs = {'quota:vif_outbound_average': '100',
                 'quota:vif_inbound_peak': '300'}
        self.assertEqual('800kbit', vif.nic_device(
            _ovs(hybrid=True), 'eth0', specs)['limits.egress'])
        e = self.assertRaises(lxd_exception.InvalidExtraSpec,
                              vif.nic_device, _ovs(hybrid=False), 'eth0',
                              specs)
        self.assertIn('quota:vif_outbound_average', str(e))
        self.assertIn('QoS', str(e))

    def test_bad_ports_refused_naming_them(self):
        for bad, words in [
                (_ovs(hybrid=False, vnic_type='direct'), "'direct'"),
                (_vif('ovs', hybrid=False, bridge=None), 'bridge'),
                (_ovs(hybrid=True, address=None), 'MAC')]:
            e = self.assertRaises(lxd_exception.InvalidPort,
                                  vif.check_vif_types,
                                  model.NetworkInfo([bad]))
            self.assertIn(PORT, str(e))
            self.assertIn(words, str(e))


class NicNamesTest(testtools.TestCase):

    def test_free_name_skips_device_and_guest_names(self):
        self.assertEqual('eth0', vif.free_nic_name({'root': {}}))
        devices = {'eth0': {'name': 'eth0'}, 'data': {'name': 'eth1'},
                   'root': {}}
        self.assertEqual('eth2', vif.free_nic_name(devices))

    def test_nic_found_by_mac(self):
        devices = {'eth0': {'type': 'nic', 'hwaddr': 'FA:16:3E:4C:2C:30'},
                   'root': {'type': 'disk'}}
        self.assertEqual('eth0', vif.nic_name_for(devices, _vif()))
        self.assertIsNone(vif.nic_name_for({'root': {'type': 'disk'}},
                                           _vif()))
