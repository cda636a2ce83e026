"""``tools/cloud smoke``: the driver in a real OpenStack, through the
``openstack`` CLI (admin credentials in the environment; openstacksdk only
for the pre-2.48 diagnostics, which the CLI cannot show).

Creates a network, subnet, router, security group and key pair; boots two
servers from the Debian image at once; proves their ports are bound by OVN
on this host, that cloud-init took the hostname and the SSH key from the
config drive, that the two reach each other over OVN, and that
diagnostics, the console log, stop/start, reboot, pause, a stop behind
nova's back, snapshot (and a boot from it), rescue, resize and interface
attach/detach work; deletes
everything and checks that neither LXD nor Open vSwitch keeps anything of
it.  What happens inside a guest is read through pylxd (LXD project
``--lxd-project``).  One row per step; exit status 1 if a step failed.
Resources are named ``smoke-*``; leftovers of an interrupted run are
deleted first.
"""
import argparse
import json
import socket
import subprocess
import sys
import time

import openstack

from nova_lxd.aio import guest as aio_guest
from nova_lxd.aio import lxd
from nova_lxd.aio import network
from nova_lxd.aio import smoke_lifecycle
from nova_lxd.aio import steps

PREFIX = 'smoke-'
SERVERS = ('smoke-1', 'smoke-2')
CIDR = '10.99.0.0/24'


class CLIError(Exception):
    """An ``openstack`` command failed; the message has its stderr."""


def osc(*args, parse=True, timeout=300):
    """Run ``openstack ARGS -f json``; return the parsed output (or the text
    when ``parse`` is False, without ``-f json``).

    :raises CLIError: on a non-zero exit.
    """
    cmd = ['openstack', *args] + (['-f', 'json'] if parse else [])
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise CLIError(f'{" ".join(args[:3])}: '
                       f'{proc.stderr.strip().splitlines()[-1:]}')
    return json.loads(proc.stdout or 'null') if parse else proc.stdout


def wait(what, check, timeout=300, interval=2):
    """Call ``check()`` until it returns a true value; return that value.

    :raises TimeoutError: naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f'{what} after {timeout}s')
        time.sleep(interval)


class Smoke(smoke_lifecycle.LifecycleSteps):
    """The smoke test's state and steps."""

    # For the steps of smoke_lifecycle.
    SERVERS = SERVERS
    osc = staticmethod(osc)
    wait = staticmethod(wait)
    CLIError = CLIError

    def __init__(self, args):
        self.args = args
        self.table = steps.StepTable()
        self.guests = {}       # server name -> aio_guest.Guest
        self.ips = {}          # server name -> fixed IP
        self.ports = set()     # every port id a server had
        self.public_key = None
        self.extra_port = None

    # -- network, security group, key pair ------------------------------
    def cleanup(self):
        """Delete ``smoke-*`` resources an interrupted run left behind."""
        gone = []
        for server in osc('server', 'list', '--name', f'^{PREFIX}'):
            osc('server', 'delete', '--wait', server['ID'], parse=False)
            gone.append(server['Name'])
        for router in osc('router', 'list', '--name', 'smoke-router'):
            for subnet in osc('subnet', 'list', '--name', 'smoke-subnet'):
                subprocess.run(['openstack', 'router', 'remove', 'subnet',
                                router['ID'], subnet['ID']],
                               capture_output=True)
            osc('router', 'delete', router['ID'], parse=False)
            gone.append('smoke-router')
        for kind in ('port', 'network', 'security group'):
            for item in osc(*kind.split(), 'list'):
                if item['Name'].startswith(PREFIX):
                    osc(*kind.split(), 'delete', item['ID'], parse=False)
                    gone.append(item['Name'])
        for image in osc('image', 'list'):
            if image['Name'].startswith(PREFIX):
                osc('image', 'delete', image['ID'], parse=False)
                gone.append(image['Name'])
        for key in osc('keypair', 'list'):
            if key['Name'].startswith(PREFIX):
                osc('keypair', 'delete', key['Name'], parse=False)
                gone.append(key['Name'])
        return f'removed {", ".join(gone)}' if gone else 'nothing left over'

    def make_network(self):
        """Network, subnet and a router with the subnet on it."""
        osc('network', 'create', 'smoke-net')
        osc('subnet', 'create', '--network', 'smoke-net', '--subnet-range',
            CIDR, 'smoke-subnet')
        osc('router', 'create', 'smoke-router')
        osc('router', 'add', 'subnet', 'smoke-router', 'smoke-subnet',
            parse=False)
        return f'smoke-net {CIDR}, smoke-router'

    def make_security_group(self):
        """A group that lets ICMP and SSH in."""
        osc('security', 'group', 'create', 'smoke-sg')
        osc('security', 'group', 'rule', 'create', '--ingress', '--protocol',
            'icmp', 'smoke-sg')
        osc('security', 'group', 'rule', 'create', '--ingress', '--protocol',
            'tcp', '--dst-port', '22', 'smoke-sg')
        return 'smoke-sg: icmp, tcp/22 in'

    def make_keypair(self):
        """A key pair made by the CLI; keeps its public key."""
        osc('keypair', 'create', 'smoke-key', parse=False)
        self.public_key = osc('keypair', 'show', '--public-key', 'smoke-key',
                              parse=False).strip()
        return self.public_key.split()[0]

    # -- servers ------------------------------------------------------------
    def boot(self):
        """Boot both servers at once; wait until both are ACTIVE."""
        for name in SERVERS:
            osc('server', 'create', '--flavor', self.args.flavor, '--image',
                self.args.image, '--network', 'smoke-net',
                '--security-group', 'smoke-sg', '--key-name', 'smoke-key',
                name)
        for name in SERVERS:
            wait(f'{name} ACTIVE', lambda n=name: self._active(n),
                 timeout=self.args.boot_timeout)
            detail = osc('server', 'show', name)
            self.guests[name] = aio_guest.Guest(
                self.args.lxd_project, detail['OS-EXT-SRV-ATTR:instance_name'])
            port = osc('port', 'list', '--server', name)[0]
            self.ports.add(port['ID'])
            self.ips[name] = port['Fixed IP Addresses'][0]['ip_address']
        return ', '.join(f'{n} {self.ips[n]}' for n in SERVERS)

    @staticmethod
    def _active(name):
        status = osc('server', 'show', name, '-c', 'status')['status']
        if status == 'ERROR':
            raise RuntimeError(f'{name} is in ERROR: '
                               f'{osc("server", "show", name)["fault"]}')
        return status == 'ACTIVE'

    def ports_bound(self):
        """Every port ACTIVE, bound here with VIF type ovs, up in OVN."""
        host = socket.gethostname()
        for port_id in self.ports:
            port = osc('port', 'show', port_id)
            seen = (port['status'], port['binding_vif_type'],
                    port['binding_host_id'])
            if seen != ('ACTIVE', 'ovs', host):
                raise RuntimeError(f'port {port_id}: {seen}')
            up = subprocess.run(['ovn-nbctl', 'lsp-get-up', port_id],
                                capture_output=True, text=True).stdout
            if up.strip() != 'up':
                raise RuntimeError(f'OVN logical port {port_id}: {up!r}')
        return f'{len(self.ports)} ports ACTIVE, vif ovs on {host}, OVN up'

    def cloud_init(self):
        """cloud-init done from the config drive, hostname and SSH key."""
        body = self.public_key.split()[1]
        for name, guest in self.guests.items():
            aio_guest.cloud_init_done(guest, name)
            keys = guest.run('sh', '-c', 'cat /root/.ssh/authorized_keys '
                             '/home/*/.ssh/authorized_keys 2>/dev/null; true')
            if body not in keys:
                raise RuntimeError(f'{name}: the key pair is in no '
                                   'authorized_keys')
        return 'ConfigDrive, hostnames and SSH key in both'

    def ping_each_other(self):
        """Each server pings the other over the OVN network."""
        a, b = SERVERS
        for src, dst in ((a, b), (b, a)):
            wait(f'{src} -> {dst} ping', lambda s=src, d=dst: self._pings(
                s, self.ips[d]), timeout=60)
        return f'{a} <-> {b}'

    def _pings(self, src, address):
        try:
            self.guests[src].run('ping', '-c1', '-W2', address, timeout=10)
            return True
        except aio_guest.CheckFailed:
            return False

    def diagnostics(self):
        """Server diagnostics (API 2.47: the driver's dict; 2.48 and later
        admit no LXD driver, see the support matrix)."""
        # The CLI shows diagnostics through openstacksdk's 2.48 resource,
        # which drops the pre-2.48 keys: ask nova's API through the SDK.
        server = osc('server', 'show', SERVERS[0])['id']
        reply = openstack.connect().compute.get(
            f'/servers/{server}/diagnostics', microversion='2.47')
        if reply.status_code != 200:
            raise RuntimeError(f'diagnostics: HTTP {reply.status_code}')
        diags = reply.json()
        if not diags.get('cpu_time') or not diags.get('memory-rss'):
            raise RuntimeError(f'no CPU time or memory in {diags}')
        return (f'cpu_time {diags["cpu_time"] // 10**6} ms, memory-rss '
                f'{diags["memory-rss"] // 1024} MiB, {len(diags)} values')

    def console_log(self):
        """The console log shows the guest's login prompt."""
        name = SERVERS[0]

        def prompt():
            text = osc('console', 'log', 'show', name, parse=False)
            return text if 'login:' in text else None
        text = wait('a login prompt in the console log', prompt, timeout=60)
        return f'{len(text.splitlines())} lines, login prompt'

    def power(self, action, status, lxd_status):
        """Run a server action on the first server, wait for ``status``,
        check LXD's."""
        name = SERVERS[0]
        osc('server', action, name, parse=False)
        wait(f'{name} {status}', lambda: osc(
            'server', 'show', name, '-c', 'status')['status'] == status)
        seen = self.guests[name].status()
        if seen != lxd_status:
            raise RuntimeError(f'nova says {status}, LXD says {seen}')
        return f'{status}, LXD {seen}'

    def reboot(self):
        """Soft reboot: a new init process, and the network still works."""
        guest = self.guests[SERVERS[0]]
        before = guest.init_pid()
        result = self.power('reboot', 'ACTIVE', 'Running')
        after = guest.init_pid()
        if after == before:
            raise RuntimeError(f'init PID still {before}')
        self.ping_each_other()
        return f'{result}, init PID {before} -> {after}, pings'

    def attach_interface(self):
        """A second port attached to the running server appears in it."""
        port = osc('port', 'create', '--network', 'smoke-net',
                   '--security-group', 'smoke-sg', 'smoke-port')
        self.extra_port = port
        self.ports.add(port['id'])
        osc('server', 'add', 'port', SERVERS[0], port['id'], parse=False)
        guest = self.guests[SERVERS[0]]
        wait('the new nic in the guest', lambda: port['mac_address'] in
             guest.run('cat', *self._addresses(guest)), timeout=60)
        return f'{port["mac_address"]} in the guest'

    def detach_interface(self):
        """The attached port leaves the guest and the host's OVS."""
        port = self.extra_port
        osc('server', 'remove', 'port', SERVERS[0], port['id'], parse=False)
        guest = self.guests[SERVERS[0]]
        wait('the nic to leave the guest', lambda: port['mac_address'] not in
             guest.run('cat', *self._addresses(guest)), timeout=60)
        if network.ovs_interface(port['id']):
            raise RuntimeError(f'OVS still has port {port["id"]}')
        osc('port', 'delete', port['id'], parse=False)
        return 'gone from the guest and from OVS'

    @staticmethod
    def _addresses(guest):
        names = guest.run('ls', '/sys/class/net').split()
        return [f'/sys/class/net/{n}/address' for n in names]

    def delete(self):
        """Delete both servers and wait until they are gone."""
        osc('server', 'delete', '--wait', *SERVERS, parse=False)
        return 'deleted'

    def host_clean(self):
        """LXD has none of the containers, OVS none of the ports."""
        left = [g.name for g in self.guests.values() if g.exists()]
        left += [p for p in self.ports if network.ovs_interface(p)]
        left += [p['ID'] for p in osc('port', 'list')
                 if p['ID'] in self.ports]
        if left:
            raise RuntimeError(f'left behind: {left}')
        found = lxd.contents(self.args.lxd_project)['instances']
        return (f'no container, OVS or Neutron port left; project '
                f'{self.args.lxd_project} holds {len(found)} instance(s)')

    def teardown(self):
        """Remove the network, router, security group, key pair and
        snapshot image."""
        self.cleanup()
        return 'smoke-net, smoke-router, smoke-sg, smoke-key, images deleted'

    # -- the run --------------------------------------------------------------
    def run(self):
        """All steps; returns the exit status."""
        s = self.table.step
        ready = s('clean leftovers', self.cleanup)
        ready = s('network + router', self.make_network, ready) and ready
        ready = s('security group', self.make_security_group, ready) and ready
        ready = s('key pair', self.make_keypair, ready) and ready
        s('flavor lxd: spec checked by the API', self.flavor_spec_checked)
        booted = s('boot 2 servers (Debian)', self.boot, ready)
        s('ports bound by OVN', self.ports_bound, booted)
        s('cloud-init: name + key', self.cloud_init, booted)
        s('servers ping each other', self.ping_each_other, booted)
        s('diagnostics', self.diagnostics, booted)
        s('console log', self.console_log, booted)
        s('stop', lambda: self.power('stop', 'SHUTOFF', 'Stopped'), booted)
        s('start', lambda: self.power('start', 'ACTIVE', 'Running'), booted)
        s('reboot (soft) + ping', self.reboot, booted)
        s('pause', lambda: self.power('pause', 'PAUSED', 'Frozen'), booted)
        s('unpause', lambda: self.power('unpause', 'ACTIVE', 'Running'),
          booted)
        s('stopped outside nova', self.outside_stop, booted)
        snapshot = s('snapshot (running)', self.snapshot, booted)
        s('boot from the snapshot', self.boot_from_snapshot, snapshot)
        s('rescue + unrescue', self.rescue, booted)
        s('resize + confirm', self.resize, booted)
        attached = s('interface attach', self.attach_interface, booted)
        s('interface detach', self.detach_interface, attached)
        s('delete servers', self.delete, self.guests)
        s('LXD + OVS clean', self.host_clean, self.guests)
        s('delete network etc.', self.teardown)
        return self.table.report('smoke')


def parse_args(argv=None):
    """Command line of the smoke test."""
    p = argparse.ArgumentParser(
        prog='tools/cloud smoke', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--image', default='debian-12',
                   help='Glance image with systemd and cloud-init')
    p.add_argument('--flavor', default='lxd.small')
    p.add_argument('--lxd-project', default='nova',
                   help="nova-compute's [lxd] project")
    p.add_argument('--boot-timeout', type=int, default=600,
                   help='seconds to wait for ACTIVE (default 600)')
    return p.parse_args(argv)


def main(argv=None):
    """Run the smoke test; returns the exit status."""
    return Smoke(parse_args(argv)).run()


if __name__ == '__main__':
    sys.exit(main())
