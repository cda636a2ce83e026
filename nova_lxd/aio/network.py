"""The sandbox's one network, subnet and port, held by nova's NeutronFixture.

There is no Neutron: nova's ``NeutronFixture`` answers nova's neutron client
calls from dictionaries in memory.  The port is bound as ``tap`` (a routed
host interface, the binding Neutron gives with a routed backend), so the
driver gives the container a routed nic with the port's MAC and address.
"""
import copy

PROJECT_ID = 'demo'
ADMIN_PROJECT_ID = 'admin'

NETWORK_ID = '5a1d0e77-0000-4000-8000-000000000001'
SUBNET_ID = '5a1d0e77-0000-4000-8000-000000000002'
PORT_ID = '5a1d0e77-0000-4000-8000-000000000003'
SECURITY_GROUP_ID = '5a1d0e77-0000-4000-8000-000000000004'

CIDR = '192.168.77.0/24'
GATEWAY = '192.168.77.1'
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


def register(neutron):
    """Add the sandbox network, subnet and port to a NeutronFixture.

    :param neutron: a started ``nova.tests.fixtures.NeutronFixture``.
    """
    neutron._networks[NETWORK_ID] = copy.deepcopy(NETWORK)
    neutron._subnets[SUBNET_ID] = copy.deepcopy(SUBNET)
    neutron._security_groups[SECURITY_GROUP_ID] = copy.deepcopy(SECURITY_GROUP)
    neutron._ports[PORT_ID] = copy.deepcopy(PORT)
