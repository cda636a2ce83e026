"""The sandbox's one network, subnet and port, held by nova's NeutronFixture.

There is no Neutron: nova's ``NeutronFixture`` answers nova's neutron client
calls from dictionaries in memory.  By default the port is bound as ``tap``
(routed: LXD gives the guest its address).  With ``--vif-type ovs`` it is
bound as ``ovs`` (native, as ML2/OVS with the openvswitch firewall or OVN
bind it) on the userspace Open vSwitch bridge ``br-ml2`` of
tools/lib/ovs.sh, which holds the host's address 192.168.77.1 while the
sandbox runs; the guest must then configure its address itself.
``br-int`` is left to OVN, which cuts off ports without a logical port.
"""
import copy
import subprocess

PROJECT_ID = 'demo'
ADMIN_PROJECT_ID = 'admin'

NETWORK_ID = '5a1d0e77-0000-4000-8000-000000000001'
SUBNET_ID = '5a1d0e77-0000-4000-8000-000000000002'
PORT_ID = '5a1d0e77-0000-4000-8000-000000000003'
SECURITY_GROUP_ID = '5a1d0e77-0000-4000-8000-000000000004'

CIDR = '192.168.77.0/24'
GATEWAY = '192.168.77.1'
BRIDGE = 'br-ml2'
OVSDB = 'unix:/var/run/openvswitch/db.sock'
VIF_TYPES = ('ovs', 'tap')
FIXED_IP = '192.168.77.10'
MAC = 'fa:16:3e:77:00:10'


def _owned(**fields):
    fields.update(tenant_id=PROJECT_ID, project_id=PROJECT_ID)
    return fields


NETWORK = _owned(
    id=NETWORK_ID, name='aio-net', description='', status='ACTIVE',
    subnets=[SUBNET_ID], admin_state_up=True, shared=False, mtu=1500,
    **{'router:external': False, 'availability_zone_hints': [],
       'availability_zones': ['nova'], 'port_security_enabled': False,
       'ipv4_address_scope': None, 'ipv6_address_scope': None,
       'provider:network_type': 'flat',
       'provider:physical_network': 'aio',
       'provider:segmentation_id': None})

SUBNET = _owned(
    id=SUBNET_ID, name='aio-subnet', description='', ip_version=4,
    ipv6_address_mode=None, ipv6_ra_mode=None, enable_dhcp=False,
    network_id=NETWORK_ID, dns_nameservers=[], gateway_ip=GATEWAY,
    allocation_pools=[{'start': '192.168.77.10', 'end': '192.168.77.200'}],
    host_routes=[], cidr=CIDR)

SECURITY_GROUP = _owned(
    id=SECURITY_GROUP_ID, name='default', description='aio default',
    security_group_rules=[])

PORT = _owned(
    id=PORT_ID, name='aio-port', description='', network_id=NETWORK_ID,
    admin_state_up=True, status='ACTIVE', mac_address=MAC,
    fixed_ips=[{'ip_address': FIXED_IP, 'subnet_id': SUBNET_ID}],
    device_id='', device_owner='', port_security_enabled=False,
    security_groups=[],
    **{'binding:profile': {}, 'binding:vif_details': {},
       'binding:vif_type': 'tap', 'binding:vnic_type': 'normal'})


def register(neutron, vif_type='tap'):
    """Add the sandbox network, subnet and port to a NeutronFixture.

    :param neutron: a started ``nova.tests.fixtures.NeutronFixture``.
    :param vif_type: 'ovs' (native, on BRIDGE) or 'tap' (routed).
    """
    neutron._networks[NETWORK_ID] = copy.deepcopy(NETWORK)
    neutron._subnets[SUBNET_ID] = copy.deepcopy(SUBNET)
    neutron._security_groups[SECURITY_GROUP_ID] = copy.deepcopy(SECURITY_GROUP)
    port = copy.deepcopy(PORT)
    if vif_type == 'ovs':
        port['binding:vif_type'] = 'ovs'
        port['binding:vif_details'] = {
            'port_filter': True, 'ovs_hybrid_plug': False,
            'datapath_type': 'netdev', 'bridge_name': BRIDGE}
    neutron._ports[PORT_ID] = port


def _ip(*args):
    return subprocess.run(['ip', *args], capture_output=True, text=True,
                          timeout=30)


def add_host_address():
    """Give the host GATEWAY on BRIDGE; True if this call added it.

    :raises RuntimeError: the bridge does not exist (tools/lib/ovs.sh).
    """
    if _ip('link', 'set', BRIDGE, 'up').returncode:
        raise RuntimeError(f'no bridge {BRIDGE}: run tools/lib/ovs.sh')
    return _ip('addr', 'add', f'{GATEWAY}/24', 'dev', BRIDGE).returncode == 0


def remove_host_address():
    """Take GATEWAY off BRIDGE again."""
    _ip('addr', 'del', f'{GATEWAY}/24', 'dev', BRIDGE)
