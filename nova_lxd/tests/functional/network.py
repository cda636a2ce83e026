"""Test networks for functional tests: one subnet per test worker.

stestr runs the functional tests in two (or more) worker processes on one
LXD daemon, and LXD adds a host route per ``routed`` nic address, so two
guests of different workers must never share an address or a MAC.  Each
worker holds, for its whole life, an inter-process lock on one *slot*; slot
``k`` owns ``192.168.(100 + k).0/24`` and the MACs ``fa:16:3e:ab:<k>:xx``.
The kernel drops the lock when the worker exits, however it exits.  The
all-in-one sandbox uses 192.168.77.0/24, which no slot touches.

Test traffic stays on this host: the subnets are only ever routed to the
test containers' host-side veths.
"""
import functools
import ipaddress
import itertools
import os
import socket
import struct
import uuid

from nova.network import model as network_model
from oslo_concurrency import lockutils

LOCK_DIR = '/run/nova-lxd-tests'
SLOTS = 32
FIRST_OCTET = 100


@functools.lru_cache(maxsize=None)
def _slot():
    """Claim this process's slot; the lock object stays referenced here
    (the cache) so that the lock is held until the process exits."""
    _shared(LOCK_DIR, 0o1777, directory=True)
    for slot in range(SLOTS):
        path = os.path.join(LOCK_DIR, f'subnet-{slot}.lock')
        _shared(path, 0o666)
        lock = lockutils.InterProcessLock(path)
        if lock.acquire(blocking=False):
            return slot, lock
    raise RuntimeError(f'all {SLOTS} test subnet slots in {LOCK_DIR} are '
                       f'held by other test processes')


def _shared(path, mode, directory=False):
    """Make ``path`` with ``mode`` whoever runs first: root's test runs and
    those of ``tools/run-tests --as-user`` share the slots."""
    if directory:
        os.makedirs(path, exist_ok=True)
    else:
        os.close(os.open(path, os.O_CREAT | os.O_RDONLY, mode))
    if os.stat(path).st_uid == os.geteuid():
        os.chmod(path, mode)  # the umask took bits off


def slot():
    """This worker's slot number (0..SLOTS-1)."""
    return _slot()[0]


def subnet():
    """This worker's IPv4 test subnet (an ipaddress.IPv4Network /24)."""
    return ipaddress.ip_network(f'192.168.{FIRST_OCTET + slot()}.0/24')


def gateway():
    """The (never configured) gateway address of the worker's subnet."""
    return str(subnet().network_address + 1)


def _routed_addresses():
    """Destinations of the host's IPv4 routes (leftovers of dead tests)."""
    with open('/proc/net/route') as routes:
        next(routes)
        return {socket.inet_ntoa(struct.pack('<I', int(line.split()[1], 16)))
                for line in routes}


@functools.lru_cache(maxsize=None)
def _host_numbers():
    # One cycle per worker process: tests of a worker run one at a time.
    return itertools.cycle(range(2, 255))


def free_address():
    """The next address of the worker's subnet that no host route uses."""
    used = _routed_addresses()
    net = subnet()
    for _ in range(253):
        address = str(net.network_address + next(_host_numbers()))
        if address not in used:
            return address
    raise RuntimeError(f'no free address left in {net}')


def mac_for(address):
    """A MAC unique to the address (and so to the worker)."""
    host = int(address.rsplit('.', 1)[1])
    return 'fa:16:3e:ab:%02x:%02x' % (slot(), host)


def tap_vif(address=None, active=True, mtu=1500, port_id=None):
    """A nova VIF model bound as ``tap`` with one fixed IPv4 address.

    :param active: False makes the driver wait for network-vif-plugged.
    :returns: nova.network.model.VIF
    """
    address = address or free_address()
    port_id = port_id or str(uuid.uuid4())
    sub = network_model.Subnet(
        cidr=str(subnet()), gateway=network_model.IP(address=gateway()),
        ips=[network_model.FixedIP(address=address)])
    net = network_model.Network(id=str(uuid.uuid4()), bridge=None,
                                label='test', subnets=[sub],
                                meta={'mtu': mtu})
    return network_model.VIF(
        id=port_id, address=mac_for(address), network=net,
        type=network_model.VIF_TYPE_TAP, active=active,
        devname=('tap' + port_id)[:network_model.NIC_NAME_LEN],
        details={})


def ovs_vif(bridge, hybrid, address=None, mtu=1400, active=True):
    """A nova VIF model bound as ``ovs`` (ML2/OVS or OVN) on ``bridge``,
    with one fixed IPv4 address of the worker's subnet.

    :param hybrid: True for the iptables hybrid plug, False for native.
    """
    vif = tap_vif(address=address, active=active, mtu=mtu)
    vif['type'] = network_model.VIF_TYPE_OVS
    vif['network']['bridge'] = bridge
    vif['details'] = {'port_filter': not hybrid, 'ovs_hybrid_plug': hybrid,
                      'datapath_type': 'netdev', 'bridge_name': bridge}
    vif['ovs_interfaceid'] = vif['id']
    return vif
