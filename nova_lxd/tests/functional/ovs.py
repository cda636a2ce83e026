"""Open vSwitch for functional tests: the userspace OVS that
``tools/lib/ovs.sh`` starts, seen through ovs-vsctl, and the fixture that
points os-vif at it and lets privsep run in the (root) test process.
"""
import os
import subprocess

import fixtures
import os_vif
from vif_plug_ovs import privsep as os_vif_privsep

import nova_lxd.privsep
from nova_lxd.tests.functional import base

DB_SOCKET = '/var/run/openvswitch/db.sock'
ML2_BRIDGE = 'br-ml2'  # standalone: ML2/OVS ports without an agent
OVN_BRIDGE = 'br-int'  # ovn-controller's integration bridge


def _ctl(tool, socket, args, check):
    result = subprocess.run(
        [tool, f'--db=unix:{socket}', '--timeout=10', *args],
        capture_output=True, text=True, timeout=30)
    if check and result.returncode:
        raise AssertionError(f'{tool} {" ".join(args)}: {result.stderr}')
    return result.stdout.strip()


def vsctl(*args, check=True):
    """Run ovs-vsctl on the test OVS; return its stripped stdout."""
    return _ctl('ovs-vsctl', DB_SOCKET, args, check)


def interface(name):
    """``{'bridge', 'ofport', 'iface-id', 'attached-mac', 'vm-uuid',
    'iface-status'}`` of an OVS interface, or None when there is none."""
    bridge = vsctl('port-to-br', name, check=False)
    if not bridge:
        return None
    found = {'bridge': bridge,
             'ofport': vsctl('get', 'Interface', name, 'ofport')}
    for key in ('iface-id', 'attached-mac', 'vm-uuid', 'iface-status'):
        found[key] = vsctl('--if-exists', 'get', 'Interface', name,
                           f'external_ids:{key}').strip('"')
    return found


def link_exists(name):
    """True if the host has the network device."""
    return os.path.exists(f'/sys/class/net/{name}')


def assert_no_port_devices(test, vifs):
    """Fail ``test`` if the host has a device or OVS port of the ports'
    plugging (tap/tin veth, hybrid qbr/qvb/qvo)."""
    for vif in vifs:
        short = vif['id'][:11]
        for prefix in ('tap', 'tin', 'qbr', 'qvb', 'qvo'):
            test.assertFalse(link_exists(prefix + short), prefix)
            test.assertIsNone(interface(prefix + short), prefix)


def mtu(name):
    """MTU (int) of a host network device."""
    # nova's test base forbids open() under /sys in the test process.
    fd = os.open(f'/sys/class/net/{name}/mtu', os.O_RDONLY)
    try:
        return int(os.read(fd, 32))
    finally:
        os.close(fd)


def bridge_members(name):
    """Devices enslaved to a Linux bridge."""
    out = subprocess.run(['ip', '-br', 'link', 'show', 'master', name],
                         capture_output=True, text=True, check=True,
                         timeout=30).stdout
    return sorted(line.split()[0].split('@')[0]
                  for line in out.splitlines())


class OVSFixture(fixtures.Fixture):
    """os-vif on the test OVS; privsep in-process (tests run as root)."""

    def __init__(self, test, bridge):
        super().__init__()
        self.test, self.bridge = test, bridge

    def _setUp(self):
        if not os.path.exists(DB_SOCKET):
            base.missing_prerequisite('no Open vSwitch; run tools/lib/ovs.sh')
        if subprocess.run(['ovs-vsctl', f'--db=unix:{DB_SOCKET}',
                           '--timeout=10', 'br-exists', self.bridge],
                          capture_output=True, timeout=30).returncode:
            base.missing_prerequisite(f'no OVS bridge {self.bridge}; run '
                                      f'tools/lib/ovs.sh')
        os_vif.initialize()  # registers [os_vif_ovs]
        self.test.flags(ovsdb_connection=f'unix:{DB_SOCKET}',
                        group='os_vif_ovs')
        # The plugins read their options when loaded.
        os_vif.initialize(reset=True)
        for context in (os_vif_privsep.vif_plug,
                        nova_lxd.privsep.net_admin_pctxt):
            self.useFixture(fixtures.MockPatchObject(
                context, 'client_mode', False))


NB_SOCKET = '/var/run/ovn/ovnnb_db.sock'


def nbctl(*args, check=True):
    """Run ovn-nbctl on the test OVN; return its stripped stdout."""
    return _ctl('ovn-nbctl', NB_SOCKET, args, check)


class OVNSwitchFixture(fixtures.Fixture):
    """A logical switch of the test's own, deleted with its ports."""

    def _setUp(self):
        if not os.path.exists(NB_SOCKET):
            base.missing_prerequisite('no OVN; run tools/lib/ovs.sh ovn')
        self.name = 'nova-lxd-ft-' + os.urandom(4).hex()
        nbctl('ls-add', self.name)
        self.addCleanup(nbctl, '--if-exists', 'ls-del', self.name)

    def add_port(self, port):
        """A logical port for a Neutron port dict (named by its id)."""
        nbctl('lsp-add', self.name, port['id'])
        nbctl('lsp-set-addresses', port['id'],
              f"{port['mac_address']} {port['fixed_ips'][0]['ip_address']}")

    @staticmethod
    def is_up(port):
        """True when ovn-controller has bound the logical port."""
        return nbctl('lsp-get-up', port['id'], check=False) == 'up'


def remove_port_devices(port_id):
    """Remove whatever a failed test left on the host for a port: its OVS
    ports and its veth/bridge devices (a passing test leaves nothing)."""
    short = port_id[:11]
    for prefix in ('qvo', 'tap'):
        vsctl('--if-exists', 'del-port', prefix + short, check=False)
    for prefix in ('tap', 'qvb', 'qbr'):
        if link_exists(prefix + short):
            subprocess.run(['ip', 'link', 'del', prefix + short],
                           capture_output=True, timeout=30)


def add_host_address(device, address, test, prefix=24):
    """Give the host ``address`` on ``device`` (up) for the test's life."""
    cidr = f'{address}/{prefix}'
    subprocess.run(['ip', 'link', 'set', device, 'up'], check=True,
                   timeout=30)
    added = subprocess.run(['ip', 'addr', 'add', cidr, 'dev', device],
                           capture_output=True, timeout=30).returncode == 0
    if added:
        test.addCleanup(subprocess.run, ['ip', 'addr', 'del', cidr, 'dev',
                                         device], capture_output=True,
                        timeout=30)
