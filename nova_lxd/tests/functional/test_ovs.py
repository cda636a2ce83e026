"""``ovs`` ports (ML2/OVS hybrid and native) through nova's API, on the
userspace Open vSwitch of this host (tools/lib/ovs.sh).

The ports sit on ``br-ml2``, a standalone (learning) bridge: no Neutron
agent programs flows here, so what is tested is the driver's plugging,
names, ids and the data path.  Guests get their addresses by hand (the
busybox image has no DHCP client); traffic stays between the test's own
containers.
"""
import subprocess
import threading
import time

import fixtures
from nova import exception
import testscenarios

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.privsep import linux_net
from nova_lxd.tests.functional import base
from nova_lxd.tests.functional import network
from nova_lxd.tests.functional import ovs

load_tests = testscenarios.load_tests_apply_scenarios

MTU = 1400


class OVSPortTest(base.LXDTestCase):
    scenarios = [('hybrid', {'hybrid': True}), ('native', {'hybrid': False})]

    def setUp(self):
        super().setUp()
        self.useFixture(ovs.OVSFixture(self, ovs.ML2_BRIDGE))
        self.image_id = self.register_image()
        self.flavor_id = self.create_flavor_with(vcpus=1, memory_mb=128)
        # The host's own address on the bridge (its internal port): the
        # worker's gateway, so that the host reaches the guests.
        self.host_address = network.gateway()
        ovs.add_host_address(ovs.ML2_BRIDGE, self.host_address, self)

    def ovs_port(self):
        port = self.create_port('ovs', {
            'port_filter': not self.hybrid, 'ovs_hybrid_plug': self.hybrid,
            'datapath_type': 'netdev', 'bridge_name': ovs.ML2_BRIDGE},
            mtu=MTU)
        self.addCleanup(ovs.remove_port_devices, port['id'])
        return port

    def boot(self, port):
        return self._create_server(
            image_uuid=self.image_id, flavor_id=self.flavor_id,
            networks=[{'port': port['id']}])

    def address(self, server, port):
        """Give the guest its port's address (no DHCP in the image)."""
        ip = port['fixed_ips'][0]['ip_address']
        self.guest_run(server, 'ip', 'addr', 'add', f'{ip}/24', 'dev',
                       'eth0')
        self.guest_run(server, 'ip', 'link', 'set', 'eth0', 'up')
        return ip

    def names(self, port):
        short = port['id'][:11]
        return {'tap': 'tap' + short, 'tin': 'tin' + short,
                'qbr': 'qbr' + short, 'qvb': 'qvb' + short,
                'qvo': 'qvo' + short}

    def ovs_interface_of(self, port):
        """The device carrying Neutron's ids: qvo (hybrid) or tap."""
        names = self.names(port)
        return names['qvo'] if self.hybrid else names['tap']

    def assertPlugged(self, server, port):
        names = self.names(port)
        device = self.ovs_interface_of(port)
        found = ovs.interface(device)
        self.assertEqual({'bridge': ovs.ML2_BRIDGE, 'iface-id': port['id'],
                          'attached-mac': port['mac_address'],
                          'vm-uuid': server['id'], 'iface-status': 'active'},
                         {k: v for k, v in found.items() if k != 'ofport'})
        self.assertEqual(MTU, ovs.mtu(device))
        if self.hybrid:
            # Neutron's iptables firewall filters on the tap name.
            self.assertEqual(sorted([names['qvb'], names['tap']]),
                             ovs.bridge_members(names['qbr']))
            self.assertEqual(MTU, ovs.mtu(names['tap']))
        else:
            self.assertFalse(ovs.link_exists(names['tin']))  # in the guest
        return found['ofport']

    def assertUnplugged(self, port):
        for name in self.names(port).values():
            self.assertFalse(ovs.link_exists(name), name)
            self.assertIsNone(ovs.interface(name), name)

    def test_plug_traffic_restart_and_delete(self):
        ports = [self.ovs_port(), self.ovs_port()]
        servers = [self.boot(port) for port in ports]
        for server, port in zip(servers, ports):
            self.assertEqual(port['mac_address'], self.guest_run(
                server, 'cat', '/sys/class/net/eth0/address').strip())
            self.assertEqual(str(MTU), self.guest_run(
                server, 'cat', '/sys/class/net/eth0/mtu').strip())
        ofport = self.assertPlugged(servers[0], ports[0])
        self.assertPlugged(servers[1], ports[1])
        self.address(servers[0], ports[0])
        peer = self.address(servers[1], ports[1])
        self.guest_run(servers[0], 'ping', '-c', '2', '-W', '3', peer)
        self.guest_run(servers[0], 'ping', '-c', '2', '-W', '3',
                       self.host_address)
        host_ping = subprocess.run(['ping', '-c', '2', '-W', '3', peer],
                                   capture_output=True, text=True,
                                   timeout=30)
        self.assertEqual(0, host_ping.returncode, host_ping.stdout)
        self.assertTransfer(servers[1], peer, servers[0])

        # Stop/start and a reboot from inside keep the port plugged with
        # its ids (native: the same OVS interface all along).
        server = self._stop_server(servers[0])
        server = self._start_server(server)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual(ofport, self.assertPlugged(server, ports[0]))
        before = self.container(server).state().pid
        self.container(server).execute(['reboot', '-f'])
        self.wait_for_new_init(server, before)
        self.assertEqual(ofport, self.assertPlugged(server, ports[0]))
        self.address(server, ports[0])
        self.guest_run(server, 'ping', '-c', '2', '-W', '3', peer)

        for server, port in zip(servers, ports):
            self._delete_server(server)
            self.assertUnplugged(port)
        self.assertEqual([], self.project.names())

    def guest_nics(self, server):
        """``{MAC: interface name}`` inside the guest."""
        out = self.guest_run(server, 'sh', '-c',
                             'for d in /sys/class/net/eth*; do echo '
                             '"$(cat $d/address) ${d##*/}"; done')
        return dict(line.split() for line in out.splitlines())

    def test_bandwidth_limit(self):
        limited = self.create_flavor_with(vcpus=1, memory_mb=128, extra_specs={
            'quota:vif_inbound_average': '128'})  # KiB/s into the guest
        ports = [self.ovs_port(), self.ovs_port()]
        if not self.hybrid:
            # LXD cannot limit a physical nic: refused, not ignored.
            server = self._create_server(
                image_uuid=self.image_id, flavor_id=limited,
                networks=[{'port': ports[0]['id']}], expected_state='ERROR')
            self.assertIn('quota:vif_inbound_average',
                          server['fault']['message'])
            return
        source = self.boot(ports[0])
        client = self._create_server(
            image_uuid=self.image_id, flavor_id=limited,
            networks=[{'port': ports[1]['id']}])
        address = self.address(source, ports[0])
        self.address(client, ports[1])
        start = time.monotonic()
        self.assertTransfer(source, address, client, size_kib=512)
        # 512 KiB at 128 KiB/s: about 4 s.  Only a lower bound: a slow
        # machine makes it slower, never faster.
        self.assertGreater(time.monotonic() - start, 2.0)

    def test_two_ports(self):
        ports = [self.ovs_port(), self.ovs_port()]
        server = self._create_server(
            image_uuid=self.image_id, flavor_id=self.flavor_id,
            networks=[{'port': p['id']} for p in ports])
        self.assertEqual({ports[0]['mac_address']: 'eth0',
                          ports[1]['mac_address']: 'eth1'},
                         self.guest_nics(server))
        for port in ports:
            self.assertPlugged(server, port)
        self._delete_server(server)
        for port in ports:
            self.assertUnplugged(port)

    def test_attach_and_detach_live_and_stopped(self):
        first, second, third = (self.ovs_port() for _ in range(3))
        server = self.boot(first)
        self._attach_interface(server, second['id'])
        self.assertEqual('eth1', self.guest_nics(server).get(
            second['mac_address']))
        self.assertPlugged(server, second)
        self._detach_interface(server, second['id'])
        self.assertNotIn(second['mac_address'], self.guest_nics(server))
        self.assertUnplugged(second)

        server = self._stop_server(server)
        self._attach_interface(server, third['id'])
        server = self._start_server(server)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('eth1', self.guest_nics(server).get(
            third['mac_address']))
        self.assertPlugged(server, third)
        self._delete_server(server)
        for port in (first, third):
            self.assertUnplugged(port)

    def assertTransfer(self, server, address, client, size_kib=2048):
        """TCP from ``server``'s httpd to ``client``: all bytes arrive."""
        self.guest_run(server, 'sh', '-c',
                       f'mkdir -p /tmp/www && dd if=/dev/zero '
                       f'of=/tmp/www/blob bs=1024 count={size_kib} '
                       f'2>/dev/null && httpd -p 8080 -h /tmp/www')
        got = self.guest_run(client, 'sh', '-c',
                             f'wget -q -O - http://{address}:8080/blob '
                             f'| wc -c')
        self.assertEqual(size_kib * 1024, int(got.strip()))

    def wait_for_new_init(self, server, old_pid, attempts=100):
        for _ in range(attempts):
            state = self.container(server).state()
            if state.status == 'Running' and state.pid not in (old_pid, 0):
                return
            time.sleep(0.1)
        self.fail(f'{server["id"]} did not come back after a guest reboot')


class OVSDriverTest(base.DriverTestCase):
    """The driver's own plugging behaviour, without nova around it."""

    def setUp(self):
        super().setUp()
        self.useFixture(ovs.OVSFixture(self, ovs.ML2_BRIDGE))

    def ovs_vif(self, bridge, hybrid):
        vif = network.ovs_vif(bridge, hybrid)
        self.addCleanup(ovs.remove_port_devices, vif['id'])
        return vif

    def test_missing_bridge_refused_before_anything_is_created(self):
        vif = self.ovs_vif('br-nowhere', hybrid=False)
        requests = self.record_requests()
        e = self.assertRaises(lxd_exception.OVSBridgeMissing, self.spawn,
                              self.instance(), network_info=[vif])
        self.assertIn('br-nowhere', str(e))
        self.assertIn(vif['id'], str(e))
        self.assertEqual([], [r for r in requests if not r.startswith('GET')])
        self.assertIsNone(ovs.interface(vif['devname']))

    def test_ovsdb_not_answering_is_named(self):
        self.flags(ovsdb_connection='unix:/nonexistent/db.sock',
                   group='os_vif_ovs')
        vif = self.ovs_vif(ovs.ML2_BRIDGE, hybrid=False)
        e = self.assertRaises(lxd_exception.OVSUnreachable, self.spawn,
                              self.instance(), network_info=[vif])
        self.assertIn('/nonexistent/db.sock', str(e))
        self.assertEqual([], self.project.names())

    def test_failed_start_unplugs_what_it_plugged(self):
        vifs = [self.ovs_vif(ovs.ML2_BRIDGE, hybrid=h)
                for h in (True, False)]
        self.useFixture(fixtures.MockPatchObject(
            self.driver._power, 'boot',
            side_effect=exception.InstanceNotFound(instance_id='x')))
        self.assertRaises(exception.InstanceNotFound, self.spawn,
                          self.instance(), network_info=vifs)
        self.assertEqual([], self.project.names())
        self.assertNoPortDevices(vifs)

    def assertNoPortDevices(self, vifs):
        ovs.assert_no_port_devices(self, vifs)

    def test_failed_create_unplugs_after_the_plug_running_beside_it(self):
        # The container is created while the ports are plugged; a create
        # failing at once must not let the rollback's unplug run before
        # the plug is over (the ports would be left plugged).
        vifs = [self.ovs_vif(ovs.ML2_BRIDGE, hybrid=h)
                for h in (True, False)]
        refused = lxd_exception.LXDRequestFailed(
            action='create', target='instance', error='refused')
        self.useFixture(fixtures.MockPatchObject(
            self.driver._session, 'create_instance', side_effect=refused))
        plug, plugged = self.driver._plugger.plug, threading.Event()

        def slow_plug(*args):
            time.sleep(0.5)  # a busy OVSDB: the create fails long before
            plug(*args)
            plugged.set()
        self.useFixture(fixtures.MockPatchObject(
            self.driver._plugger, 'plug', side_effect=slow_plug))
        e = self.assertRaises(lxd_exception.LXDRequestFailed, self.spawn,
                              self.instance(), network_info=vifs)
        self.assertIs(refused, e)
        self.assertTrue(plugged.is_set(), 'spawn returned while plugging')
        self.assertEqual([], self.project.names())
        self.assertNoPortDevices(vifs)

    def test_failed_create_is_reported_over_a_failed_plug(self):
        vif = self.ovs_vif(ovs.ML2_BRIDGE, hybrid=False)
        refused = lxd_exception.LXDRequestFailed(
            action='create', target='instance', error='refused')
        self.useFixture(fixtures.MockPatchObject(
            self.driver._session, 'create_instance', side_effect=refused))
        self.useFixture(fixtures.MockPatchObject(
            self.driver._plugger, 'plug',
            side_effect=exception.VirtualInterfacePlugException('no')))
        e = self.assertRaises(lxd_exception.LXDRequestFailed, self.spawn,
                              self.instance(), network_info=[vif])
        self.assertIs(refused, e)

    def test_power_on_replugs_what_the_host_lost(self):
        vif = self.ovs_vif(ovs.ML2_BRIDGE, hybrid=False)
        inst = self.instance()
        self.spawn(inst, network_info=[vif])
        ofport = ovs.interface(vif['devname'])['ofport']
        self.driver.power_off(inst)
        # A host reboot: the veth pair is gone, its OVS port is not.
        linux_net.delete_link(vif['devname'])
        self.assertFalse(ovs.link_exists(vif['devname']))
        self.driver.power_on(self.context, inst, [vif])
        self.assertEqual('Running', self.container(inst).status)
        found = ovs.interface(vif['devname'])
        self.assertEqual((ovs.ML2_BRIDGE, vif['id']),
                         (found['bridge'], found['iface-id']))
        self.assertNotEqual(ofport, found['ofport'])  # a new port
        self.driver.destroy(self.context, inst, [vif])
        self.assertIsNone(ovs.interface(vif['devname']))
        self.assertFalse(ovs.link_exists(vif['devname']))

    def test_refused_attach_unplugs_the_port(self):
        inst = self.instance()
        self.spawn(inst)
        vif = self.ovs_vif(ovs.ML2_BRIDGE, hybrid=False)
        self.useFixture(fixtures.MockPatchObject(
            self.driver._session, 'add_device',
            side_effect=lxd_exception.LXDRequestFailed(
                action='add device eth0 to', target=inst.name,
                error='refused')))
        self.assertRaises(exception.InterfaceAttachFailed,
                          self.driver.attach_interface, self.context, inst,
                          self.image_meta, vif)
        self.assertIsNone(ovs.interface(vif['devname']))
        self.assertFalse(ovs.link_exists(vif['devname']))
        self.assertEqual('Running', self.container(inst).status)

    def test_detach_of_a_port_without_nic_unplugs_it(self):
        inst = self.instance()
        vif = self.ovs_vif(ovs.ML2_BRIDGE, hybrid=False)
        self.spawn(inst, network_info=[vif])
        self.driver.detach_interface(self.context, inst, vif)
        self.assertEqual([], [d for d in self.container(inst).devices
                              if d.startswith('eth')])
        self.driver.detach_interface(self.context, inst, vif)
        self.assertIsNone(ovs.interface(vif['devname']))
