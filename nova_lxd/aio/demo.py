"""Scripted end-to-end demo of nova-lxd through nova's real HTTP API.

Starts ``nova-lxd-aio`` as a child process, then, over HTTP on 127.0.0.1:
creates a flavor (admin), boots a server on the sandbox's port (native OVS
on the userspace bridge br-ml2 by default; --vif-type tap: routed), proves
through pylxd that the container really booted (systemd, cloud-init and the
hostname, the port's MAC and IP, the OVS port with Neutron's ids, a ping
from the host that passes through that OVS port, the flavor's CPU and
memory limits), lists servers with curl, reboots, stops, starts (and pings
again), pauses, unpauses and deletes it (the OVS port must go too), checks
the LXD project is left empty, and stops the sandbox (which removes the
project).  Prints one row per step and exits
non-zero if any step failed.

    python -m nova_lxd.aio.demo --image debian-bookworm-rootfs.tar.gz
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from nova_lxd.aio import api as aio_api
from nova_lxd.aio import guest as aio_guest
from nova_lxd.aio import lxd
from nova_lxd.aio import network
from nova_lxd.aio import steps

FLAVOR = {'name': 'demo.small', 'id': 'demo.small', 'vcpus': 1,
          'ram': 512, 'disk': 1}
SERVER_NAME = 'aio-demo'


class Demo:
    """The demo's state and steps; :meth:`run` runs them all in order."""

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix='nova-lxd-aio-demo-')
        self.out_file = os.path.join(self.tmp, 'sandbox.out')
        self.log_file = os.path.join(self.tmp, 'services.log')
        self.proc = self.info = None
        self.table = None
        self.admin = self.user = self.server_id = self.guest = None
        self.hostname = None
        self.real = args.driver == 'lxd'

    # -- the sandbox process --------------------------------------------------
    def start_sandbox(self):
        """Start ``nova-lxd-aio`` and wait for its ready file."""
        ready = os.path.join(self.tmp, 'ready.json')
        cmd = [sys.executable, '-m', 'nova_lxd.aio.main', '--image',
               self.args.image, '--port', str(self.args.port), '--driver',
               self.args.driver, '--vif-type', self.args.vif_type,
               '--ready-file', ready,
               '--log-file', self.log_file,
               '--pool', getattr(self.args, 'pool', 'default')]
        with open(self.out_file, 'w') as out:
            self.proc = subprocess.Popen(cmd, stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise RuntimeError(f'sandbox exited {self.proc.returncode}: '
                                   f'{self._tail(self.out_file, 2)}')
            if time.monotonic() > deadline:
                raise RuntimeError('sandbox not ready after 300s')
            time.sleep(0.2)
        with open(ready) as f:
            self.info = json.load(f)
        self._clients()
        self.user.request('GET', '/servers')
        return f'API {self.info["url"]}/v2.1'

    def _clients(self):
        url = self.info['url']
        self.admin = aio_api.ComputeAPI(url, 'admin', network.ADMIN_PROJECT_ID,
                                        ['admin', 'member', 'reader'])
        self.user = aio_api.ComputeAPI(url, 'demo', network.PROJECT_ID,
                                       ['member', 'reader'])

    def stop_sandbox(self):
        """SIGTERM the sandbox; it must exit 0 having removed its project."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=300)
        if rc != 0:
            raise RuntimeError(f'sandbox exited {rc}: '
                               f'{self._tail(self.out_file, 2)}')
        if self.real and lxd.project_exists(self.info['lxd_project']):
            raise RuntimeError(f'LXD project {self.info["lxd_project"]} '
                               'still exists')
        return 'exit 0' + (', LXD project removed' if self.real else '')

    def kill_sandbox(self):
        """Last resort when the demo itself breaks: stop the child."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    @staticmethod
    def _tail(path, lines):
        with open(path, errors='replace') as f:
            return ' | '.join(f.read().strip().splitlines()[-lines:])

    # -- API steps ----------------------------------------------------------
    def create_flavor(self):
        """Create the demo flavor through the admin API."""
        body = {'flavor': dict(FLAVOR)}
        flavor = self.admin.request('POST', '/flavors', json=body)['flavor']
        return (f'{flavor["id"]}: {flavor["vcpus"]} vCPU, {flavor["ram"]} '
                f'MiB, {flavor["disk"]} GiB')

    def boot(self):
        """Boot the server on the sandbox's port and wait for ACTIVE."""
        body = {'server': {
            'name': SERVER_NAME, 'imageRef': self.info['image_id'],
            'flavorRef': FLAVOR['id'],
            'networks': [{'port': network.PORT_ID}]}}
        server = self.user.request('POST', '/servers', expect=(202,),
                                   json=body)['server']
        self.server_id = server['id']
        self.user.wait_status(self.server_id, 'ACTIVE',
                              timeout=self.args.boot_timeout)
        detail = self.admin.server(self.server_id)
        name = detail['OS-EXT-SRV-ATTR:instance_name']
        self.hostname = detail['OS-EXT-SRV-ATTR:hostname']
        if self.real:
            self.guest = aio_guest.Guest(self.info['lxd_project'], name)
        return f'ACTIVE, container {name}'

    def curl_list(self):
        """List servers with the curl command the sandbox prints."""
        hdr = aio_api.identity_headers('demo', network.PROJECT_ID,
                                       ['member', 'reader'])
        cmd = ['curl', '-s', '--noproxy', '*', '--max-time', '10',
               '-w', '\n%{http_code}']
        for key, value in hdr.items():
            cmd += ['-H', f'{key}: {value}']
        cmd.append(self.info['url'] + '/v2.1/servers')
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=20).stdout
        body, _, code = out.rpartition('\n')
        ids = [s['id'] for s in json.loads(body)['servers']]
        if code != '200' or self.server_id not in ids:
            raise RuntimeError(f'HTTP {code}, servers {ids}')
        return f'HTTP 200, {len(ids)} server(s)'

    def _power(self, body, status, lxd_status):
        self.user.action(self.server_id, body)
        self.user.wait_status(self.server_id, status, timeout=300)
        if self.guest is None:
            return status
        seen = self.guest.status()
        if seen != lxd_status:
            raise RuntimeError(f'nova says {status}, LXD says {seen}')
        return f'{status}, LXD {seen}'

    def reboot(self):
        """SOFT reboot: ACTIVE again with a new init process."""
        before = self.guest.init_pid() if self.guest else None
        result = self._power({'reboot': {'type': 'SOFT'}}, 'ACTIVE',
                             'Running')
        if self.guest is None:
            return result
        after = self.guest.init_pid()
        if after == before:
            raise RuntimeError(f'init PID still {before}: no restart')
        return f'{result}, init PID {before} -> {after}'

    def delete(self):
        """Delete the server; it and its container must go."""
        self.user.request('DELETE', f'/servers/{self.server_id}',
                          expect=(204,))
        self.user.wait_gone(self.server_id)
        if self.guest is None:
            return 'gone (API 404)'
        if self.guest.exists():
            raise RuntimeError(f'container {self.guest.name} still exists')
        if self.args.vif_type != 'ovs':
            return 'gone (API 404, no container)'
        left = network.ovs_interface(network.PORT_ID)
        if left is not None:
            raise RuntimeError(f'OVS interface {left["name"]} still on '
                               f'{left["bridge"]}')
        return 'gone (API 404, no container, no OVS port)'

    def lxd_empty(self):
        """No instance and no profile left in the sandbox's LXD project."""
        if not self.real:
            raise steps.Skip('fake driver')
        found = lxd.contents(self.info['lxd_project'])
        if found['instances'] or found['profiles']:
            raise RuntimeError(f'left over: {found}')
        return (f'no instances, no profiles; {len(found["images"])} image(s)'
                ' cached until the sandbox stops')

    # -- guest checks --------------------------------------------------------
    def in_guest(self, check, *args):
        """A step function running ``check(guest, *args)``."""
        def run():
            if not self.real:
                raise steps.Skip('fake driver')
            return check(self.guest, *args)
        return run

    def ping(self, wait=0):
        """The host pings the port's address (for up to ``wait`` seconds
        while the guest brings its network up); on an ``ovs`` port the
        packets must pass the port's OVS interface both ways."""
        if not self.real:
            raise steps.Skip('fake driver')
        if self.args.vif_type != 'ovs':
            return aio_guest.host_pings(network.FIXED_IP, wait)
        iface = self._ovs_interface()
        before = network.ovs_packets(iface['bridge'], iface['name'])
        result = aio_guest.host_pings(network.FIXED_IP, wait)
        after = network.ovs_packets(iface['bridge'], iface['name'])
        grew = {way: after[way] - before[way] for way in after}
        if min(grew.values()) <= 0:
            raise RuntimeError(f'no packets through {iface["name"]}: {grew}')
        return (f'{result} through {iface["name"]} (tx +{grew["tx"]}, '
                f'rx +{grew["rx"]} packets)')

    def ovs_port(self):
        """The port's OVS interface is on its bridge with Neutron's ids."""
        if not self.real or self.args.vif_type != 'ovs':
            raise steps.Skip('no ovs port')
        iface = self._ovs_interface()
        wanted = {'iface-id': network.PORT_ID, 'attached-mac': network.MAC,
                  'vm-uuid': self.server_id, 'iface-status': 'active'}
        seen = {key: iface['external_ids'].get(key) for key in wanted}
        if iface['bridge'] != network.BRIDGE or seen != wanted:
            raise RuntimeError(f'{iface["name"]} on {iface["bridge"]} with '
                               f'{seen}, expected {network.BRIDGE} with '
                               f'{wanted}')
        return (f'{iface["name"]} on {iface["bridge"]}, iface-id, '
                'attached-mac, vm-uuid set')

    def _ovs_interface(self):
        iface = network.ovs_interface(network.PORT_ID)
        if iface is None:
            raise RuntimeError(f'no OVS interface with iface-id '
                               f'{network.PORT_ID}')
        return iface

    # -- the whole run -------------------------------------------------------
    def run(self):
        """All steps in order; returns the process exit status."""
        self.table = steps.StepTable()
        try:
            self._run_steps()
        finally:
            self.kill_sandbox()
        status = self._report()
        if status == 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return status

    def _run_steps(self):
        s = self.table.step
        s('sandbox start', self.start_sandbox)
        up = self.info is not None
        s('create flavor', self.create_flavor, up)
        booted = s('boot server', self.boot, up)
        s('systemd is PID 1', self.in_guest(aio_guest.systemd_is_pid1),
          booted)
        s('cloud-init + hostname', lambda: self.in_guest(
            aio_guest.cloud_init_done, self.hostname)(), booted)
        s('eth0 MAC + IP', self.in_guest(
            aio_guest.nic, network.MAC, network.FIXED_IP), booted)
        s('OVS port + ids', self.ovs_port, booted)
        s('host pings guest', self.ping, booted)
        s('vCPUs + memory limit', self.in_guest(
            aio_guest.limits, FLAVOR['vcpus'], FLAVOR['ram']), booted)
        s('curl list servers', self.curl_list, booted)
        s('reboot (SOFT)', self.reboot, booted)
        s('stop', lambda: self._power({'os-stop': None}, 'SHUTOFF',
                                      'Stopped'), booted)
        s('start', lambda: self._power({'os-start': None}, 'ACTIVE',
                                       'Running'), booted)
        s('ping after restart', lambda: self.ping(wait=60), booted)
        s('pause', lambda: self._power({'pause': None}, 'PAUSED',
                                       'Frozen'), booted)
        s('unpause', lambda: self._power({'unpause': None}, 'ACTIVE',
                                         'Running'), booted)
        s('delete', self.delete, self.server_id)
        s('LXD project empty', self.lxd_empty, up)
        s('sandbox stop', self.stop_sandbox, self.proc)

    def _report(self):
        if self.table.report('demo') == 0:
            return 0
        print(f'  sandbox output: {self.out_file}\n'
              f'  services log:   {self.log_file}', flush=True)
        for line in self._errors():
            print('  | ' + line[:300], flush=True)
        return 1

    def _errors(self, count=5):
        """The last ERROR lines of the services' log."""
        if not os.path.exists(self.log_file):
            return []
        with open(self.log_file, errors='replace') as f:
            lines = [ln.rstrip() for ln in f if ' ERROR ' in ln]
        return lines[-count:]


def parse_args(argv=None):
    """Command line of the demo."""
    p = argparse.ArgumentParser(
        prog='python -m nova_lxd.aio.demo', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--image', required=True,
                   help='root filesystem tarball (systemd, cloud-init)')
    p.add_argument('--port', type=int, default=8774,
                   help='compute API port on 127.0.0.1 (default 8774)')
    p.add_argument('--boot-timeout', type=int, default=600,
                   help='seconds to wait for ACTIVE (default 600)')
    p.add_argument('--driver', choices=('lxd', 'fake'), default='lxd',
                   help="'fake' checks only the service wiring")
    p.add_argument('--vif-type', choices=network.VIF_TYPES, default='ovs',
                   help="the server's port: 'ovs' (default: native, on "
                   "userspace OVS) or 'tap' (routed)")
    return p.parse_args(argv)


def main(argv=None):
    """Run the demo; returns the exit status."""
    args = parse_args(argv)
    if not os.path.isfile(args.image):
        print(f'demo: no such image file: {args.image}', file=sys.stderr)
        return 2
    return Demo(args).run()


if __name__ == '__main__':
    sys.exit(main())
