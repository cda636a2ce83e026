"""Neutron VIFs -> LXD nic devices.  Pure: no I/O.

Supported VIF types (LXD nics:
https://documentation.ubuntu.com/lxd/en/latest/reference/devices_nic/):

``tap`` (routed Neutron backends)
    An LXD ``routed`` nic: LXD creates the veth pair at start with the host
    side named as Neutron expects (``tap`` + the first 11 characters of the
    port id), gives the guest side the port's MAC and fixed IPs, and adds
    the host route and proxy ARP to each address.  A port without fixed
    IPs gets a ``p2p`` nic: routed needs an address.

``ovs`` with hybrid plug (ML2/OVS, iptables_hybrid firewall)
    os-vif makes the per-port Linux bridge ``qbr<id>`` and the veth pair
    ``qvb<id>``/``qvo<id>`` with ``qvo`` on the integration bridge carrying
    Neutron's external ids; the nic is ``bridged`` on ``qbr<id>`` with its
    host side named ``tap<id>``, the name Neutron's iptables firewall
    filters on (CVE-2017-5936: a wrong name bypassed security groups).

``ovs`` native (openvswitch firewall, OVN)
    LXD would delete and re-add an OVS port it plugs itself at every stop
    and guest reboot, losing Neutron's external ids (the port unbinds).  So
    the plugging code owns a veth pair: the host end ``tap<id>`` sits on
    the integration bridge with the ids for the instance's whole life, and
    the peer ``tin<id>`` is given to the container as a ``physical`` nic,
    which LXD moves in at start and hands back at stop.

Everything else (vhostuser, SR-IOV, direct vNICs...) is refused with
:class:`UnsupportedVIFType` before anything is created.
"""
import ipaddress

from nova.network import model as network_model

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import definition

SUPPORTED_VIF_TYPES = (network_model.VIF_TYPE_TAP,
                       network_model.VIF_TYPE_OVS)
PEER_PREFIX = 'tin'
HYBRID_BRIDGE_PREFIX = 'qbr'


def _device_name(prefix, vif):
    # As nova and os-vif name them: prefix + port id, cut to 14 chars.
    return (prefix + vif['id'])[:network_model.NIC_NAME_LEN]


def tap_name(vif):
    """Host-side device name of the port (max 14 chars): Neutron's
    ``devname``; without one, the name nova's os-vif conversion gives an
    ``ovs`` port (``nic<id>``, which os-vif plugs), else ``tap<id>``."""
    prefix = 'nic' if vif['type'] == network_model.VIF_TYPE_OVS else 'tap'
    name = vif.get('devname') or (prefix + vif['id'])
    return name[:network_model.NIC_NAME_LEN]


def peer_name(vif):
    """Container end of a natively plugged OVS port's veth pair."""
    return _device_name(PEER_PREFIX, vif)


def hybrid_bridge_name(vif):
    """Per-port Linux bridge of a hybrid-plugged OVS port (``qbr<id>``)."""
    return _device_name(HYBRID_BRIDGE_PREFIX, vif)


def is_native_ovs(vif):
    """True for an ``ovs`` port plugged straight on the integration bridge
    (by the driver's own veth pair), False for hybrid and other types."""
    return (vif['type'] == network_model.VIF_TYPE_OVS and
            not vif.is_hybrid_plug_enabled())


def mtu_of(vif):
    """The port's network MTU (int bytes) or None when Neutron gives none."""
    mtu = (vif.get('network') or {}).get('meta', {}).get('mtu')
    return int(mtu) if mtu else None


def _fixed_ips(vif, version):
    return [str(ip['address']) for ip in vif.fixed_ips()
            if ipaddress.ip_address(ip['address']).version == version]


def check_vif_types(network_info):
    """Refuse ports the driver cannot plug, before anything is created.

    :param network_info: nova NetworkInfo (list of VIF models).
    :raises UnsupportedVIFType: naming the port and its VIF type.
    :raises InvalidInput: a port without MAC, an ``ovs`` port with another
        vNIC type than ``normal`` or without an integration bridge.
    """
    for vif in network_info or []:
        if vif['type'] not in SUPPORTED_VIF_TYPES:
            raise lxd_exception.UnsupportedVIFType(
                port_id=vif['id'], vif_type=vif['type'],
                supported=', '.join(SUPPORTED_VIF_TYPES))
        if not vif.get('address'):
            raise lxd_exception.InvalidPort(
                port_id=vif['id'], reason='it has no MAC address')
        if vif['type'] != network_model.VIF_TYPE_OVS:
            continue
        vnic_type = vif.get('vnic_type') or network_model.VNIC_TYPE_NORMAL
        if vnic_type != network_model.VNIC_TYPE_NORMAL:
            raise lxd_exception.InvalidPort(
                port_id=vif['id'],
                reason=f'vNIC type {vnic_type!r} needs a PCI device, which '
                       f'the LXD driver does not pass to containers; use '
                       f'vnic_type normal')
        if not (vif.get('network') or {}).get('bridge'):
            raise lxd_exception.InvalidPort(
                port_id=vif['id'],
                reason='its binding names no integration bridge '
                       '(network bridge / bridge_name); check the '
                       'Neutron mechanism driver\'s configuration')


def _routed_nic(vif, default_route):
    ipv4 = _fixed_ips(vif, 4)
    ipv6 = _fixed_ips(vif, 6)
    device = {'nictype': 'routed' if (ipv4 or ipv6) else 'p2p',
              'host_name': tap_name(vif)}
    if ipv4:
        device['ipv4.address'] = ','.join(ipv4)
    if ipv6:
        device['ipv6.address'] = ','.join(ipv6)
    if device['nictype'] == 'routed' and not default_route:
        # Both families: LXD counts an unset gateway as "auto" even on a
        # nic without addresses of that family.
        device['ipv4.gateway'] = device['ipv6.gateway'] = 'none'
    return device


def nic_device(vif, guest_name, extra_specs, default_route=True):
    """The LXD nic device dict of one supported VIF.

    :param vif: nova VIF model (id, type, address, details,
        network.subnets[].ips, network.meta.mtu).
    :param guest_name: interface name in the guest (eth0, eth1...).
    :param extra_specs: flavor extra specs (quota:vif_* bandwidth).
    :param default_route: False for every nic but the first: LXD gives a
        routed nic the guest's default routes and refuses a second nic that
        would add others ("already uses ipv4.gateway in auto mode").
    :raises InvalidExtraSpec: bandwidth limits on a native OVS port.
    """
    if vif['type'] == network_model.VIF_TYPE_TAP:
        device = _routed_nic(vif, default_route)
    elif is_native_ovs(vif):
        device = {'nictype': 'physical', 'parent': peer_name(vif)}
    else:
        device = {'nictype': 'bridged', 'parent': hybrid_bridge_name(vif),
                  'host_name': tap_name(vif)}
    device.update({'type': 'nic', 'name': guest_name,
                   'hwaddr': vif['address']})
    mtu = mtu_of(vif)
    if mtu:
        device['mtu'] = str(mtu)
    limits = definition.nic_limits(extra_specs)
    if limits and device['nictype'] == 'physical':
        key = sorted(k for k in extra_specs if k.startswith('quota:vif_')
                     and k.endswith('_average'))[0]
        raise lxd_exception.InvalidExtraSpec(
            key=key, value=extra_specs[key],
            reason=f'LXD cannot limit the bandwidth of port {vif["id"]}, '
                   f'plugged natively on Open vSwitch; use a Neutron QoS '
                   f'policy on the port instead')
    device.update(limits)
    return device


def nic_devices(network_info, extra_specs):
    """LXD devices for all VIFs, named eth0, eth1... in port order.

    :raises UnsupportedVIFType: for any VIF not of a supported type.
    """
    check_vif_types(network_info)
    return {f'eth{index}': nic_device(vif, f'eth{index}', extra_specs,
                                      default_route=index == 0)
            for index, vif in enumerate(network_info or [])}


def free_nic_name(devices):
    """The first ``eth<n>`` that is neither a device name nor a guest
    interface name among ``devices`` (an LXD devices dict)."""
    taken = set(devices) | {d.get('name') for d in devices.values()}
    index = 0
    while f'eth{index}' in taken:
        index += 1
    return f'eth{index}'


def nic_name_for(devices, vif):
    """Name of the nic device carrying the port's MAC, or None."""
    mac = vif['address'].lower()
    for name, device in sorted(devices.items()):
        if (device.get('type') == 'nic' and
                str(device.get('hwaddr', '')).lower() == mac):
            return name
    return None


def plugged_events(network_info):
    """``network-vif-plugged`` events to wait for when the guest starts.

    Only ports Neutron has not yet reported active send one, as for
    nova's in-tree drivers.

    :returns: list of ``('network-vif-plugged', port_id)``.
    """
    return [('network-vif-plugged', vif['id'])
            for vif in network_info or [] if vif.get('active') is False]
