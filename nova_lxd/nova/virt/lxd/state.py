"""LXD instance status -> nova power state: the one table.

LXD status names: https://documentation.ubuntu.com/lxd/en/latest/rest-api/
(status codes); nova power states: nova/compute/power_state.py.
"""
import time

from nova.compute import power_state

from nova_lxd.nova.virt.lxd import definition

POWER_STATES = {
    'Running': power_state.RUNNING,
    'Stopped': power_state.SHUTDOWN,
    'Frozen': power_state.PAUSED,
    'Error': power_state.CRASHED,
}


def power_state_of(status, config):
    """Nova power state of an LXD instance.

    :param status: LXD ``status`` string (Running, Stopped, Frozen...).
    :param config: the instance's LXD ``config`` dict.
    :returns: a nova.compute.power_state constant; NOSTATE for statuses that
        are transitions (Starting, Freezing...) or unknown to this table.
    """
    state = POWER_STATES.get(status, power_state.NOSTATE)
    # Suspend freezes too; the mark tells the two apart.
    if state == power_state.PAUSED and config.get(definition.SUSPENDED_KEY):
        return power_state.SUSPENDED
    return state


class StatusCache:
    """The last instance listing, for nova's periodic power state sync.

    ``_sync_power_states`` lists the instances, then asks ``get_info`` of
    each; answering those from the listing keeps the periodic at one LXD
    request whatever the instance count.  Entries expire after
    ``max_age`` seconds and are dropped whenever the driver itself changes
    an instance's state, so an answer is never staler than one listing.
    """

    def __init__(self, max_age=10.0, clock=None):
        self._max_age = max_age
        self._clock = clock or time.monotonic
        self._entries = {}

    def fill(self, instances):
        """Record ``[{'name', 'status', 'config'}...]`` from one listing."""
        now = self._clock()
        self._entries = {i['name']: (now, i['status'], i['config'])
                         for i in instances}

    def forget(self, name):
        """Drop an instance whose state is being changed."""
        self._entries.pop(name, None)

    def power_state(self, name):
        """Cached power state, or None when absent or too old."""
        entry = self._entries.get(name)
        if entry is None or self._clock() - entry[0] > self._max_age:
            return None
        return power_state_of(entry[1], entry[2])
