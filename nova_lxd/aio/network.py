"""The sandbox's one network, subnet and port, held by nova's NeutronFixture.

There is no Neutron: nova's ``NeutronFixture`` answers nova's neutron client
calls from dictionaries in memory.  By default the port is bound as ``ovs``
(native, as ML2/OVS with the openvswitch firewall or OVN bind it) on the
userspace Open vSwitch bridge ``br-ml2`` of tools/lib/ovs.sh, which holds
the host's address 192.168.77.1 while the sandbox runs; cloud-init in the
guest sets the port's address from the config drive's network_data.json.
``br-int`` is left to OVN, which cuts off ports without a logical port.
With ``--vif-type tap`` the port is bound as ``tap`` (routed: LXD gives the
guest its address and the host a route to it).
"""
import copy
import json
import re
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


def register(neutron, vif_type='ovs'):
    """Make the sandbox network, subnet and port a NeutronFixture's only ones.

    The fixture's own samples go: its ``list_subnets`` ignores the id
    filter, so nova would put the sample subnets (without the port's
    address) first in the network info, and network_data.json would give
    the guest no address.

    :param neutron: a started ``nova.tests.fixtures.NeutronFixture``.
    :param vif_type: 'ovs' (native, on BRIDGE) or 'tap' (routed).
    """
    for samples in (neutron._networks, neutron._subnets, neutron._ports):
        samples.clear()
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


def ovs_interface(port_id):
    """The OVS Interface row carrying Neutron's ``iface-id`` ``port_id``.

    :returns: dict with ``name``, ``bridge`` and ``external_ids`` (dict),
        or None if there is none.
    """
    out = _ovs('ovs-vsctl', '--format=json', '--columns=name,external_ids',
               'find', 'Interface', f'external_ids:iface-id={port_id}')
    found = json.loads(out)
    if not found['data']:
        return None
    row = dict(zip(found['headings'], found['data'][0]))
    name = row['name']
    return {'name': name, 'external_ids': dict(row['external_ids'][1]),
            'bridge': _ovs('ovs-vsctl', 'port-to-br', name).strip()}


def ovs_packets(bridge, name):
    """Packets OVS has received from and sent to the port ``name``.

    Read with ``ovs-ofctl dump-ports``, which is current; the Interface
    table's statistics column is refreshed only every few seconds.

    :returns: ``{'rx': int, 'tx': int}``.
    """
    out = _ovs('ovs-ofctl', 'dump-ports', bridge, name)
    return {way: int(re.search(rf'{way} pkts=(\d+)', out).group(1))
            for way in ('rx', 'tx')}


def _ovs(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          check=True).stdout
