"""The raw side of the network benchmark: the host side of a port made by
hand, as few steps as it takes, with pyroute2 and ovs-vsctl.

The devices are the ones the driver makes for the same port (see
``nova_lxd.nova.virt.lxd.vif``): native ``tap<id>`` on the OVS bridge with
its peer ``tin<id>`` given to the container as a ``physical`` nic; hybrid
``qbr<id>`` with the veth ``qvb<id>``/``qvo<id>`` and a ``bridged`` nic
whose host end is ``tap<id>``.  OVS ports carry Neutron's external ids.
"""
import contextlib
import subprocess

import pyroute2

NAME_LEN = 14  # nova's NIC_NAME_LEN: 'tap' + 11 characters of the port id


def names(port_id):
    """Host device names of a port: ``{'tap', 'tin', 'qbr', 'qvb', 'qvo'}``."""
    return {prefix: (prefix + port_id)[:NAME_LEN]
            for prefix in ('tap', 'tin', 'qbr', 'qvb', 'qvo')}


def _vsctl(*args):
    subprocess.run(['ovs-vsctl', '--timeout=10', *args], check=True,
                   capture_output=True, timeout=30)


def _add_ovs_port(bridge, device, port_id, mac, vm_uuid, mtu):
    _vsctl('--', '--may-exist', 'add-port', bridge, device,
           '--', 'set', 'Interface', device,
           f'external_ids:iface-id={port_id}',
           f'external_ids:attached-mac={mac}',
           f'external_ids:vm-uuid={vm_uuid}',
           'external_ids:iface-status=active', f'mtu_request={mtu}')


def _veth(ipr, name, peer, mtu):
    ipr.link('add', ifname=name, kind='veth', peer=peer)
    for device in (name, peer):
        index = ipr.link_lookup(ifname=device)[0]
        ipr.link('set', index=index, mtu=mtu, state='up')


def plug_native(bridge, port_id, mac, vm_uuid, mtu):
    """veth ``tap``/``tin``, ``tap`` on ``bridge`` with Neutron's ids.

    :returns: the LXD nic device for the container (MTU in bytes).
    """
    dev = names(port_id)
    with pyroute2.IPRoute() as ipr:
        _veth(ipr, dev['tap'], dev['tin'], mtu)
    _add_ovs_port(bridge, dev['tap'], port_id, mac, vm_uuid, mtu)
    return {'type': 'nic', 'nictype': 'physical', 'parent': dev['tin'],
            'hwaddr': mac, 'mtu': str(mtu)}


def plug_hybrid(bridge, port_id, mac, vm_uuid, mtu):
    """Linux bridge ``qbr`` with veth ``qvb``/``qvo``, ``qvo`` on
    ``bridge`` with Neutron's ids.

    :returns: the LXD nic device for the container (LXD makes ``tap``).
    """
    dev = names(port_id)
    with pyroute2.IPRoute() as ipr:
        ipr.link('add', ifname=dev['qbr'], kind='bridge')
        qbr = ipr.link_lookup(ifname=dev['qbr'])[0]
        ipr.link('set', index=qbr, mtu=mtu, state='up')
        _veth(ipr, dev['qvb'], dev['qvo'], mtu)
        ipr.link('set', index=ipr.link_lookup(ifname=dev['qvb'])[0],
                 master=qbr)
    _add_ovs_port(bridge, dev['qvo'], port_id, mac, vm_uuid, mtu)
    return {'type': 'nic', 'nictype': 'bridged', 'parent': dev['qbr'],
            'host_name': dev['tap'], 'hwaddr': mac, 'mtu': str(mtu)}


def unplug(bridge, port_id):
    """Remove whatever :func:`plug_native` or :func:`plug_hybrid` made."""
    dev = names(port_id)
    _vsctl('--if-exists', 'del-port', bridge, dev['tap'],
           '--', '--if-exists', 'del-port', bridge, dev['qvo'])
    with pyroute2.IPRoute() as ipr:
        for name in ('tap', 'qvb', 'qbr'):
            for index in ipr.link_lookup(ifname=dev[name]):
                with contextlib.suppress(pyroute2.NetlinkError):
                    ipr.link('del', index=index)
