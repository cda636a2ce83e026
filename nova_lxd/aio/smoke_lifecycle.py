"""The server-action steps of ``tools/cloud smoke`` beyond power: a change
made behind nova's back (lifecycle events), snapshot and a boot from it,
rescue, resize.

A mixin of :class:`nova_lxd.aio.cloud_smoke.Smoke` (it uses its ``args``,
``guests`` and ``SERVERS``); each step acts on the first server through the
``openstack`` CLI and checks what LXD did.
"""
import time

from nova_lxd.aio import guest as aio_guest

SNAPSHOT = 'smoke-snapshot'
FROM_SNAPSHOT = 'smoke-from-snapshot'
RESIZED_FLAVOR = 'lxd.medium'  # tools/lib/cloud/bootstrap.sh: 2 vCPUs


class LifecycleSteps:
    """Steps of the smoke test on the first server (see the module)."""

    def _first(self):
        name = self.SERVERS[0]
        return name, self.guests[name]

    def _status_is(self, name, status):
        found = self.osc('server', 'show', name, '-c', 'status')['status']
        if found == 'ERROR':
            raise RuntimeError(f'{name} is in ERROR: '
                               f'{self.osc("server", "show", name)["fault"]}')
        return found == status

    def outside_stop(self):
        """The container stopped with LXD's own API: nova marks the server
        SHUTOFF by itself (the driver's lifecycle events), then starts it
        again on request."""
        name, guest = self._first()
        start = time.monotonic()
        guest.instance().stop(force=True, wait=True)
        self.wait(f'{name} SHUTOFF', lambda: self._status_is(name, 'SHUTOFF'),
                  timeout=60, interval=0.2)
        noticed = time.monotonic() - start
        self.osc('server', 'start', name, parse=False)
        self.wait(f'{name} ACTIVE', lambda: self._status_is(name, 'ACTIVE'))
        return f'SHUTOFF {noticed:.1f} s after the LXD stop; started again'

    def snapshot(self):
        """A snapshot of the running server becomes an active image."""
        name, guest = self._first()
        before = guest.init_pid()
        self.osc('server', 'image', 'create', '--name', SNAPSHOT, '--wait',
                 name, timeout=600)
        image = self.osc('image', 'show', SNAPSHOT)
        if image['status'] != 'active' or not image.get('size'):
            raise RuntimeError(f'{SNAPSHOT}: {image["status"]}, size '
                               f'{image.get("size")}')
        if guest.init_pid() != before:
            raise RuntimeError('the server was restarted by the snapshot')
        return (f'{int(image["size"]) // 2 ** 20} MiB image, server kept '
                f'running')

    def boot_from_snapshot(self):
        """A server booted from the snapshot runs; then it is deleted."""
        self.osc('server', 'create', '--flavor', self.args.flavor, '--image',
                 SNAPSHOT, '--network', 'smoke-net', '--security-group',
                 'smoke-sg', FROM_SNAPSHOT)
        self.wait(f'{FROM_SNAPSHOT} ACTIVE',
                  lambda: self._status_is(FROM_SNAPSHOT, 'ACTIVE'),
                  timeout=self.args.boot_timeout)
        detail = self.osc('server', 'show', FROM_SNAPSHOT)
        guest = aio_guest.Guest(self.args.lxd_project,
                                detail['OS-EXT-SRV-ATTR:instance_name'])
        self.guests[FROM_SNAPSHOT] = guest
        status = guest.status()
        self.osc('server', 'delete', '--wait', FROM_SNAPSHOT, parse=False)
        return f'ACTIVE, LXD {status}; deleted'

    def rescue(self):
        """Rescue starts a rescue container with the server's root at
        /mnt/rescue; unrescue returns to the server."""
        name, guest = self._first()
        self.osc('server', 'rescue', name, parse=False)
        self.wait(f'{name} RESCUE', lambda: self._status_is(name, 'RESCUE'),
                  timeout=self.args.boot_timeout)
        rescuer = aio_guest.Guest(self.args.lxd_project,
                                  f'{guest.name}-rescue')
        rescuer.run('test', '-f', '/mnt/rescue/etc/os-release')
        self.osc('server', 'unrescue', name, parse=False)
        self.wait(f'{name} ACTIVE', lambda: self._status_is(name, 'ACTIVE'),
                  timeout=self.args.boot_timeout)
        if rescuer.exists() or guest.status() != 'Running':
            raise RuntimeError('after unrescue: rescue container '
                               f'{rescuer.exists()}, server {guest.status()}')
        return 'root at /mnt/rescue; rescue container gone after unrescue'

    def resize(self):
        """Resize to a bigger flavor and confirm: the container gets its
        limits."""
        name, guest = self._first()
        self.osc('server', 'resize', '--flavor', RESIZED_FLAVOR, '--wait',
                 name, parse=False, timeout=600)
        self.wait(f'{name} VERIFY_RESIZE',
                  lambda: self._status_is(name, 'VERIFY_RESIZE'))
        self.osc('server', 'resize', 'confirm', name, parse=False)
        self.wait(f'{name} ACTIVE', lambda: self._status_is(name, 'ACTIVE'))
        cpus = guest.instance().config.get('limits.cpu')
        if cpus != '2' or guest.status() != 'Running':
            raise RuntimeError(f'limits.cpu {cpus}, LXD {guest.status()}')
        return f'{RESIZED_FLAVOR}: limits.cpu {cpus}, running'

    def flavor_spec_checked(self):
        """nova-api refuses a malformed ``lxd:`` extra spec (the driver's
        validators, loaded from nova-lxd's entry point; nova validates from
        compute API 2.86 on); the flavor keeps its properties.  Without the
        validators nova stores the value (seen before they existed)."""
        key = 'lxd:security.nesting'
        self._unset_property(key)  # what an interrupted run left
        try:
            self.osc('--os-compute-api-version', '2.86', 'flavor', 'set',
                     '--property', f'{key}=maybe', RESIZED_FLAVOR,
                     parse=False)
            refused = None
        except self.CLIError as e:
            refused = str(e)
        # Not to break the resize step, nor the next run.
        if self._unset_property(key):
            raise RuntimeError(f'nova-api stored {key}=maybe')
        if refused is None:
            raise RuntimeError(f'nova-api accepted {key}=maybe')
        return f'refused, {RESIZED_FLAVOR} unchanged'

    def _unset_property(self, key):
        """Remove ``key`` from RESIZED_FLAVOR; True if it was there."""
        properties = self.osc('flavor', 'show', RESIZED_FLAVOR)['properties']
        if key not in (properties or {}):
            return False
        self.osc('flavor', 'unset', '--property', key, RESIZED_FLAVOR,
                 parse=False)
        return True
