"""Checks that a container booted for real, made through pylxd.

Commands run inside the guest with pylxd ``Instance.execute``, which does not
raise on a non-zero exit: every check looks at the exit code.  Each command
is bounded by coreutils ``timeout`` inside the guest.
"""
import json
import subprocess
import time

from nova_lxd.aio import lxd


class CheckFailed(Exception):
    """A guest check did not hold; the message says what was seen."""


class Guest:
    """One LXD instance of the sandbox project, looked at from the host."""

    def __init__(self, project, name):
        self.name = name
        self._client = lxd.connect(project)

    def instance(self):
        """The pylxd instance (fresh state)."""
        return self._client.instances.get(self.name)

    def exists(self):
        """True if LXD still has the instance."""
        return self._client.instances.exists(self.name)

    def status(self):
        """LXD status: Running, Stopped, Frozen..."""
        return self.instance().status

    def init_pid(self):
        """Host PID of the guest's init (changes when the guest restarts)."""
        return self.instance().state().pid

    def run(self, *cmd, timeout=60):
        """Run ``cmd`` in the guest; return stdout.

        :raises CheckFailed: on a non-zero exit code.
        """
        result = self.instance().execute(['timeout', str(timeout), *cmd])
        if result.exit_code != 0:
            raise CheckFailed(f'`{" ".join(cmd)}` exited {result.exit_code}:'
                              f' {(result.stdout + result.stderr).strip()}')
        return result.stdout.strip()


def _expect(what, seen, wanted):
    if seen != wanted:
        raise CheckFailed(f'{what}: {seen!r}, expected {wanted!r}')


def systemd_is_pid1(guest):
    """PID 1 of the guest is systemd."""
    exe = guest.run('readlink', '/proc/1/exe')
    if not exe.endswith('/systemd'):
        raise CheckFailed(f'PID 1 is {exe}, not systemd')
    return f'PID 1 is {exe}'


META_DATA = '/config-drive/openstack/latest/meta_data.json'


def cloud_init_done(guest, hostname):
    """cloud-init finished without error, from nova's config drive, and
    the guest's hostname is the one in the metadata (and the API's)."""
    status = guest.run('cloud-init', 'status', '--wait', '--long',
                       timeout=300)
    if 'status: done' not in status:
        raise CheckFailed(f'cloud-init: {status}')
    if 'DataSourceConfigDrive' not in status:
        raise CheckFailed(f'cloud-init did not use the config drive: '
                          f'{status}')
    meta = json.loads(guest.run('cat', META_DATA))
    wanted = meta['hostname'].split('.')[0]
    _expect('metadata hostname', wanted, hostname)
    _expect('guest hostname', guest.run('hostname'), wanted)
    return f'done (ConfigDrive), hostname {wanted}'


def nic(guest, mac, address):
    """eth0 carries the port's MAC and fixed IP."""
    _expect('eth0 MAC', guest.run('cat', '/sys/class/net/eth0/address'), mac)
    addrs = guest.run('ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0')
    if f' {address}/' not in addrs:
        raise CheckFailed(f'eth0 has no {address}: {addrs}')
    return f'eth0 {mac} {address}'


def host_pings(address, wait=0):
    """The host reaches the guest: one ping answered within two seconds,
    tried again for up to ``wait`` seconds (a guest still booting)."""
    deadline = time.monotonic() + wait
    while True:
        proc = subprocess.run(['ping', '-c1', '-W2', address], timeout=10,
                              capture_output=True, text=True)
        if proc.returncode == 0:
            return f'{address} answers'
        if time.monotonic() >= deadline:
            raise CheckFailed(f'ping {address}: exit {proc.returncode} '
                              f'{proc.stdout.strip().splitlines()[-1:]}')
        time.sleep(1)


# cgroup v2 first, then v1 (hosts with a hybrid hierarchy).
_MEMORY_LIMIT = ('cat /sys/fs/cgroup/memory.max 2>/dev/null '
                 '|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes')


def limits(guest, vcpus, memory_mb):
    """nproc and the cgroup memory limit match the flavor."""
    _expect('nproc', int(guest.run('nproc')), vcpus)
    raw = guest.run('sh', '-c', _MEMORY_LIMIT)
    _expect('cgroup memory limit', raw, str(memory_mb * 1024 * 1024))
    return f'nproc {vcpus}, memory limit {memory_mb} MiB'
