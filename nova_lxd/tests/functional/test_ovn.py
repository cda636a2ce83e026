"""Native ``ovs`` ports under OVN (DevStack's default backend), on the
userspace OVS and OVN of this host (tools/lib/ovs.sh ovn).

The logical switch and ports stand in for what Neutron's OVN driver
would create; ovn-controller binds the driver's OVS interfaces to them by
``iface-id``.  The binding must survive stop/start and a reboot from
inside the guest: LXD-plugged OVS ports lose their ids then (measured), the
driver's own veth pair keeps them.
"""
import time

from nova_lxd.tests.functional import base
from nova_lxd.tests.functional import ovs


class OVNPortTest(base.LXDTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(ovs.OVSFixture(self, ovs.OVN_BRIDGE))
        self.switch = self.useFixture(ovs.OVNSwitchFixture())
        self.image_id = self.register_image()
        self.flavor_id = self.create_flavor_with(vcpus=1, memory_mb=128)

    def boot(self):
        port = self.create_port('ovs', {
            'port_filter': True, 'ovs_hybrid_plug': False,
            'datapath_type': 'netdev', 'bridge_name': ovs.OVN_BRIDGE},
            mtu=1442)
        self.addCleanup(ovs.remove_port_devices, port['id'])
        self.switch.add_port(port)
        server = self._create_server(
            image_uuid=self.image_id, flavor_id=self.flavor_id,
            networks=[{'port': port['id']}])
        return server, port

    def address(self, server, port):
        ip = port['fixed_ips'][0]['ip_address']
        self.guest_run(server, 'ip', 'addr', 'add', f'{ip}/24', 'dev',
                       'eth0')
        return ip

    def wait_up(self, port, up=True, attempts=200):
        for _ in range(attempts):
            if self.switch.is_up(port) == up:
                return
            time.sleep(0.1)
        self.fail(f'logical port {port["id"]} not {"up" if up else "down"}')

    def test_binding_survives_restarts(self):
        (one, port_one), (two, port_two) = self.boot(), self.boot()
        self.wait_up(port_one)
        self.wait_up(port_two)
        self.address(one, port_one)
        peer = self.address(two, port_two)
        self.guest_run(one, 'ping', '-c', '2', '-W', '3', peer)

        one = self._stop_server(one)
        one = self._start_server(one)
        self._wait_for_state_change(one, 'ACTIVE')
        self.wait_up(port_one)
        before = self.container(one).state().pid
        self.container(one).execute(['reboot', '-f'])
        for _ in range(100):
            state = self.container(one).state()
            if state.status == 'Running' and state.pid not in (0, before):
                break
            time.sleep(0.1)
        self.assertTrue(self.switch.is_up(port_one))
        self.address(one, port_one)
        self.guest_run(one, 'ping', '-c', '2', '-W', '3', peer)

        self._delete_server(one)
        self.wait_up(port_one, up=False)
        self.assertIsNone(ovs.interface('tap' + port_one['id'][:11]))
