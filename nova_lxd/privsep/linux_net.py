"""Host network devices of containers: veth pairs (privileged).

Each entrypoint does one change and nothing else; callers check first,
unprivileged, whether the change is needed (:func:`link_exists`).
"""
import os

from pyroute2 import IPRoute
from pyroute2 import NetlinkError

import nova_lxd.privsep

EEXIST = 17
ENODEV = 19


def link_exists(name):
    """True if the host has a network device ``name`` (unprivileged)."""
    return os.path.exists(os.path.join('/sys/class/net', name))


@nova_lxd.privsep.net_admin_pctxt.entrypoint
def create_veth_pair(host_name: str, peer_name: str, mtu: int | None) -> None:
    """Create the veth pair ``host_name`` <-> ``peer_name``, both up, with
    ``mtu`` (bytes; None keeps the kernel's 1500).

    An existing pair of those names is left as it is (EEXIST).

    :raises pyroute2.NetlinkError: any other netlink failure.
    """
    with IPRoute() as ip:
        try:
            ip.link('add', ifname=host_name, kind='veth', peer=peer_name)
        except NetlinkError as e:
            if e.code != EEXIST:
                raise
        for name in (host_name, peer_name):
            index = ip.link_lookup(ifname=name)[0]
            settings = {'state': 'up'}
            if mtu:
                settings['mtu'] = int(mtu)
            ip.link('set', index=index, **settings)


@nova_lxd.privsep.net_admin_pctxt.entrypoint
def delete_link(name: str) -> None:
    """Delete the network device ``name`` (a veth: both ends); an absent
    one is no error."""
    with IPRoute() as ip:
        indexes = ip.link_lookup(ifname=name)
        if not indexes:
            return
        try:
            ip.link('del', index=indexes[0])
        except NetlinkError as e:
            if e.code != ENODEV:
                raise
