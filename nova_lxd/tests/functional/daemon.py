"""A private daemon for tests that kill and restart it (issue 10, R3).

Its own directory under /var/lib/nova-lxd-test (``LXD_DIR``, or
``INCUS_DIR`` in the Incus run), its own ``dir`` pool, no network
listener: killing it disturbs no other test or daemon.  Started with the
host's ``lxd`` (or ``incusd``), as tools/lib scripts start the main one.
"""
import os
import shutil
import signal
import subprocess
import time
import uuid

import fixtures
import pylxd
from pylxd import exceptions as lxd_exc

from nova_lxd.aio import lxd as aio_lxd
from nova_lxd.tests.functional import base

ROOT = '/var/lib/nova-lxd-test'
# Backend -> (daemon command, the variable naming its directory).
DAEMONS = {
    'lxd': (['lxd', '--group', 'root'], 'LXD_DIR'),
    'incus': (['/usr/libexec/incus/incusd', '--group', 'root'], 'INCUS_DIR'),
}


class PrivateDaemon(fixtures.Fixture):
    """``lxd --group root`` in a directory of its own; :meth:`kill` sends
    it SIGKILL, :meth:`start` starts it again on the same directory."""

    def _setUp(self):
        self.command, self.dir_variable = DAEMONS[base.backend()]
        if not shutil.which(self.command[0]) or os.geteuid() != 0:
            base.missing_prerequisite(f'a private daemon needs '
                                      f'{self.command[0]} and root')
        self.dir = os.path.join(ROOT, 'lxd-' + uuid.uuid4().hex[:8])
        self.socket = os.path.join(self.dir, 'unix.socket')
        os.makedirs(self.dir)
        self.addCleanup(self._remove)
        self.process = None
        self.start()
        admin = self.client()
        admin.storage_pools.create({'name': 'default', 'driver': 'dir',
                                    'config': {}})

    def client(self, project=None):
        """pylxd client of the daemon (a project, or the default one)."""
        return aio_lxd.connect(project, endpoint=self.socket)

    def start(self, timeout=60):
        """Start the daemon and wait until it answers."""
        log = open(os.path.join(self.dir, 'lxd.log'), 'ab')
        env = {k: v for k, v in os.environ.items() if k != 'LXD_DIR'}
        env.update({self.dir_variable: self.dir,
                    'INCUS_SKIP_INSTANCE_TYPES': 'true'})
        self.process = subprocess.Popen(
            self.command, cwd='/', stdout=log, stderr=log,
            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                pylxd.Client(endpoint=self.socket, timeout=5).api.get()
                return
            except (lxd_exc.ClientConnectionFailed, OSError):
                if time.monotonic() > deadline or self.process.poll():
                    raise AssertionError(
                        f'private LXD in {self.dir} did not start')
                time.sleep(0.2)

    def kill(self):
        """SIGKILL the daemon (its containers keep running)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def _remove(self):
        if self.process.poll() is None:
            for project in self._projects():
                aio_lxd.purge(project, self.socket)
            self.process.terminate()
            self.process.wait(60)
        for mount in ('shmounts', 'devlxd'):
            subprocess.run(['umount', '-l', os.path.join(self.dir, mount)],
                           capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _projects(self):
        return [p.name for p in self.client().projects.all()
                if p.name != 'default']
