"""Power operations of one LXD instance, with nova's timing semantics.

LXD's clean stop sends the init system its halt signal (SIGPWR) and waits
``timeout`` seconds; a forced stop kills the container.
"""
import time

from nova.compute import power_state
from nova import exception
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import state

LOG = logging.getLogger(__name__)


class PowerControl:
    """Start, stop, freeze... an instance, by LXD name, through a session."""

    def __init__(self, session, status_cache):
        """:param status_cache: a state.StatusCache to invalidate."""
        self._session = session
        self._cache = status_cache

    def power_state(self, name):
        """Current nova power state (one LXD request)."""
        meta = self._session.get_instance(name)
        return state.power_state_of(meta['status'], meta['config'])

    def _change(self, name, action, **kwargs):
        self._cache.forget(name)
        self._session.change_state(name, action, **kwargs)

    def start(self, name):
        """Start unless already running."""
        if self.power_state(name) != power_state.RUNNING:
            self.boot(name)

    def boot(self, name):
        """Start an instance known to be stopped (e.g. just created)."""
        self._change(name, 'start')

    def _clean_stop(self, name, timeout, retry_interval):
        """Ask the guest to halt; True if it stopped within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            wait = max(1, int(min(retry_interval or remaining, remaining)))
            try:
                self._change(name, 'stop', timeout=wait, force=False)
                return True
            except lxd_exception.LXDRequestFailed as e:
                LOG.debug('Clean stop of %s not done after %ss: %s',
                          name, wait, e)

    def stop(self, name, timeout=0, retry_interval=0):
        """Stop the instance the way nova's power_off asks.

        :param timeout: seconds (int) to let the guest shut down cleanly;
            0 stops it at once by force.
        :param retry_interval: seconds between repeated halt signals within
            ``timeout``; 0 sends one and waits the whole ``timeout``.
        """
        current = self.power_state(name)
        if current == power_state.SHUTDOWN:
            return
        if current == power_state.RUNNING and timeout > 0:
            if self._clean_stop(name, timeout, retry_interval):
                return
            LOG.warning('%s did not shut down within %ss; stopping it by '
                        'force', name, timeout)
        self._change(name, 'stop', force=True)

    def reboot(self, name, hard, soft_timeout):
        """Reboot: SOFT is a clean stop (then forced after ``soft_timeout``
        seconds) and a start; HARD kills and restarts at once.
        """
        if hard or self.power_state(name) != power_state.RUNNING:
            self.stop(name)
        else:
            self.stop(name, timeout=soft_timeout)
        self._change(name, 'start')

    def pause(self, name):
        """Freeze every process of the instance (cgroup freezer)."""
        self._change(name, 'freeze')

    def unpause(self, name):
        """Thaw a frozen instance; a running one is left as it is."""
        if self.power_state(name) == power_state.PAUSED:
            self._change(name, 'unfreeze')

    def suspend(self, name):
        """Freeze and mark as suspended, so get_info reports SUSPENDED.

        Memory stays in RAM: LXD's stateful stop needs CRIU, which does not
        work on current kernels.
        """
        self._session.update_config(name, {definition.SUSPENDED_KEY: 'true'})
        try:
            self._change(name, 'freeze')
        except exception.NovaException:
            try:
                self._session.update_config(
                    name, {definition.SUSPENDED_KEY: ''})
            except exception.NovaException as e:
                # Report why the freeze failed, not why the undo did.
                LOG.warning('Could not remove the suspended mark of %s: %s',
                            name, e)
            raise

    def resume(self, name):
        """Thaw a suspended instance and drop the mark."""
        if self.power_state(name) in (power_state.PAUSED,
                                      power_state.SUSPENDED):
            self._change(name, 'unfreeze')
        self._session.update_config(name, {definition.SUSPENDED_KEY: ''})

    def kill(self, name):
        """Stop by force whatever the state; a missing instance is fine."""
        try:
            current = self.power_state(name)
        except exception.InstanceNotFound:
            return
        if current != power_state.SHUTDOWN:
            self._change(name, 'stop', force=True)
