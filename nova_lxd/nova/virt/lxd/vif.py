"""Neutron VIFs -> LXD nic devices.  Pure: no I/O.

Supported VIF type: ``tap`` (routed Neutron backends).  Each such port
becomes an LXD ``routed`` nic
(https://documentation.ubuntu.com/lxd/en/latest/reference/devices_nic/):
LXD creates the veth pair at start with the host side named as Neutron
expects (``tap`` + the first 11 characters of the port id), gives the guest
side the port's MAC and fixed IPs, and adds the host route and proxy ARP to
each address.  So the guest is reachable from the host as soon as it starts,
whether or not its image runs cloud-init, and no agent has to program the
link.  (``p2p`` would only make the veth; the guest address and the host
route would then be left to the guest and the backend agent.)  A port
without fixed IPs gets a ``p2p`` nic: routed needs an address.

OVS and other VIF types are refused with :class:`UnsupportedVIFType`.
"""
import ipaddress

from nova.network import model as network_model

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import flavor

SUPPORTED_VIF_TYPES = (network_model.VIF_TYPE_TAP,)


def tap_name(vif):
    """Host-side device name Neutron expects for the port (max 14 chars)."""
    name = vif.get('devname') or ('tap' + vif['id'])
    return name[:network_model.NIC_NAME_LEN]


def _fixed_ips(vif, version):
    return [str(ip['address']) for ip in vif.fixed_ips()
            if ipaddress.ip_address(ip['address']).version == version]


def check_vif_types(network_info):
    """Refuse ports the driver cannot plug, before anything is created.

    :param network_info: nova NetworkInfo (list of VIF models).
    :raises UnsupportedVIFType: naming the port and its VIF type.
    """
    for vif in network_info or []:
        if vif['type'] not in SUPPORTED_VIF_TYPES:
            raise lxd_exception.UnsupportedVIFType(
                port_id=vif['id'], vif_type=vif['type'],
                supported=', '.join(SUPPORTED_VIF_TYPES))


def nic_device(vif, guest_name, extra_specs, default_route=True):
    """The LXD nic device dict of one ``tap`` VIF.

    :param vif: nova VIF model (id, address, network.subnets[].ips).
    :param guest_name: interface name in the guest (eth0, eth1...).
    :param extra_specs: flavor extra specs (quota:vif_* bandwidth).
    :param default_route: False for every nic but the first: LXD gives a
        routed nic the guest's default routes and refuses a second nic that
        would add others ("already uses ipv4.gateway in auto mode").
    """
    ipv4 = _fixed_ips(vif, 4)
    ipv6 = _fixed_ips(vif, 6)
    device = {
        'type': 'nic',
        'nictype': 'routed' if (ipv4 or ipv6) else 'p2p',
        'name': guest_name,
        'host_name': tap_name(vif),
        'hwaddr': vif['address'],
    }
    if ipv4:
        device['ipv4.address'] = ','.join(ipv4)
    if ipv6:
        device['ipv6.address'] = ','.join(ipv6)
    if device['nictype'] == 'routed' and not default_route:
        # Both families: LXD counts an unset gateway as "auto" even on a
        # nic without addresses of that family.
        device['ipv4.gateway'] = device['ipv6.gateway'] = 'none'
    mtu = (vif.get('network') or {}).get('meta', {}).get('mtu')
    if mtu:
        device['mtu'] = str(mtu)
    device.update(flavor.nic_limits(extra_specs))
    return device


def nic_devices(network_info, extra_specs):
    """LXD devices for all VIFs, named eth0, eth1... in port order.

    :raises UnsupportedVIFType: for any VIF not of a supported type.
    """
    check_vif_types(network_info)
    return {f'eth{index}': nic_device(vif, f'eth{index}', extra_specs,
                                      default_route=index == 0)
            for index, vif in enumerate(network_info or [])}


def plugged_events(network_info):
    """``network-vif-plugged`` events to wait for when the guest starts.

    Only ports Neutron has not yet reported active send one, as for
    nova's in-tree drivers.

    :returns: list of ``('network-vif-plugged', port_id)``.
    """
    return [('network-vif-plugged', vif['id'])
            for vif in network_info or [] if vif.get('active') is False]
