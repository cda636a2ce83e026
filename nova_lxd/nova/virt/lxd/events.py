"""Lifecycle events: containers started, stopped, frozen or deleted behind
nova's back reach nova's power state sync in about a second, instead of at
its next periodic sync (``[DEFAULT] sync_power_state_interval``, 10 min).

A native thread follows LXD's lifecycle event stream of the project
(:mod:`session_events`) and hands nova ``virtevent.LifecycleEvent`` objects
through the driver's ``emit_event``, as nova's libvirt driver does in
native-threading mode.  nova itself then compares the event with
``get_info`` and, when nova did not cause the change, updates the instance
(an instance that stopped by itself becomes SHUTOFF).

- A stop is held back ``[lxd] stopped_event_delay`` seconds: a guest
  rebooting itself is stopped and started again by LXD within that time,
  and the start cancels the stop.
- When the stream breaks (the daemon restarted), the thread reconnects,
  then lists the instances once and emits an event for every instance
  whose state changed while no events came.
- Containers without nova's uuid key (rescue containers, anything not
  nova's) are ignored.
- nova has no event for an instance that vanished: a container deleted
  outside nova is logged; nova's periodic sync then finds it gone.
"""
import threading

from nova.compute import power_state
from nova import exception
from nova.virt import event as virtevent
from oslo_log import log as logging
import tenacity

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import state

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

# LXD lifecycle action -> nova transition; the actions LXD emits for
# snapshots, exec, updates... change no power state.  A frozen instance
# may be suspended (see state.power_state_of), decided per event.
TRANSITIONS = {
    'instance-started': virtevent.EVENT_LIFECYCLE_STARTED,
    'instance-restarted': virtevent.EVENT_LIFECYCLE_STARTED,
    'instance-resumed': virtevent.EVENT_LIFECYCLE_RESUMED,
    'instance-paused': virtevent.EVENT_LIFECYCLE_PAUSED,
    'instance-shutdown': virtevent.EVENT_LIFECYCLE_STOPPED,
    'instance-stopped': virtevent.EVENT_LIFECYCLE_STOPPED,
}
DELETED = 'instance-deleted'

# Power state found after a reconnect -> the transition that reports it.
CATCH_UP = {
    power_state.RUNNING: virtevent.EVENT_LIFECYCLE_STARTED,
    power_state.SHUTDOWN: virtevent.EVENT_LIFECYCLE_STOPPED,
    power_state.CRASHED: virtevent.EVENT_LIFECYCLE_STOPPED,
    power_state.PAUSED: virtevent.EVENT_LIFECYCLE_PAUSED,
    power_state.SUSPENDED: virtevent.EVENT_LIFECYCLE_SUSPENDED,
}

# The power state each transition reports (nova's handle_lifecycle_event).
REPORTED = {
    virtevent.EVENT_LIFECYCLE_STARTED: power_state.RUNNING,
    virtevent.EVENT_LIFECYCLE_RESUMED: power_state.RUNNING,
    virtevent.EVENT_LIFECYCLE_STOPPED: power_state.SHUTDOWN,
    virtevent.EVENT_LIFECYCLE_PAUSED: power_state.PAUSED,
    virtevent.EVENT_LIFECYCLE_SUSPENDED: power_state.SUSPENDED,
}


def transition_of(action, status, config):
    """nova's transition for an LXD lifecycle action, or None.

    :param action: LXD's action (``instance-paused``...).
    :param status: the instance's LXD status now (``Frozen``...).
    :param config: its LXD config (suspend marks a freeze there).
    """
    transition = TRANSITIONS.get(action)
    if (transition == virtevent.EVENT_LIFECYCLE_PAUSED and
            state.power_state_of(status, config) == power_state.SUSPENDED):
        return virtevent.EVENT_LIFECYCLE_SUSPENDED
    return transition


def catch_up(known, instances):
    """Events for what changed while the stream was down.

    :param known: ``{name: (uuid, power state)}`` last reported.
    :param instances: LXD's instance listing now (dicts with ``name``,
        ``status``, ``config``).
    :returns: ``(events, now_known, vanished names)``; ``events`` is a list
        of ``(uuid, transition)``.
    """
    events, now = [], {}
    for inst in instances:
        uuid = inst['config'].get(definition.UUID_KEY)
        if not uuid:
            continue
        current = state.power_state_of(inst['status'], inst['config'])
        now[inst['name']] = (uuid, current)
        before = known.get(inst['name'])
        if (before is not None and before[1] != current and
                current in CATCH_UP):
            events.append((uuid, CATCH_UP[current]))
    return events, now, sorted(set(known) - set(now))


class LifecycleListener:
    """Follows the project's lifecycle events in a thread of its own."""

    def __init__(self, session, statuses, emit):
        """:param session: the host's LXDSession.
        :param statuses: the driver's state.StatusCache (entries of changed
            instances are dropped).
        :param emit: the driver's ``emit_event``."""
        self._session = session
        self._statuses = statuses
        self._emit = emit
        self._known = {}
        self._pending = {}  # name -> threading.Timer of a held-back stop
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._stream = None
        self._thread = None

    def start(self):
        """Start following events (returns at once; connecting is the
        thread's job, retried until it works)."""
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._follow, name='lxd-lifecycle-events', daemon=True)
        self._thread.start()

    def stop(self, timeout=5.0):
        """Stop following; held-back stops are dropped."""
        self._stopping.set()
        if self._stream is not None:
            self._stream.shut()
        with self._lock:
            for timer in self._pending.values():
                timer.cancel()
            self._pending.clear()
        if self._thread is not None:
            self._thread.join(timeout)

    def _follow(self):
        first = True
        while not self._stopping.is_set():
            try:
                stream = self._connect()
            except tenacity.RetryError:
                return  # stopping
            try:
                self._catch_up(report=not first)
            except Exception as e:
                # The thread must not die: without it nova hears of changes
                # only at its periodic sync.
                LOG.warning('LXD events: could not list instances, '
                            'reconnecting: %s', e,
                            exc_info=not isinstance(
                                e, lxd_exception.LXDDriverError))
                stream.close_connection()
                self._stopping.wait(1.0)
                continue
            first = False
            self._stream = stream
            if self._stopping.is_set():  # stop() came before _stream was set
                stream.close_connection()
                return
            LOG.info('Following LXD lifecycle events of project %s at %s',
                     CONF.lxd.project, self._session.endpoint)
            try:
                stream.run()
            except Exception as e:
                # ws4py raises when it answers a ping on a socket the
                # daemon has just closed; the thread must go on.
                LOG.warning('LXD event stream failed: %s', e)
            if not self._stopping.is_set():
                LOG.warning('LXD event stream at %s ended (daemon '
                            'restarted?); reconnecting',
                            self._session.endpoint)

    def _connect(self):
        """The stream, once the daemon answers (retried with back-off
        until it does or the listener stops)."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(
                lxd_exception.LXDUnreachable),
            wait=tenacity.wait_exponential(multiplier=0.5, max=5),
            stop=tenacity.stop_when_event_set(self._stopping),
            sleep=self._stopping.wait,
            before_sleep=lambda rs: LOG.warning(
                'LXD events: %s', rs.outcome.exception()))
        return retrying(self._session.lifecycle_stream, self._on_event)

    def _catch_up(self, report):
        """Take the instances' states from a listing; emit the changes
        since the last one when ``report``."""
        events, now, vanished = catch_up(self._known,
                                         self._session.list_instances())
        self._known = now
        if not report:
            return
        for uuid, transition in events:
            self._send(uuid, transition)
        for name in vanished:
            LOG.warning('Container %s was deleted outside nova', name)

    def _on_event(self, action, name):
        try:
            self._handle(action, name)
        except Exception:
            # The stream must outlive any one event.
            LOG.exception('Could not handle LXD event %s of %s', action, name)

    def _handle(self, action, name):
        self._statuses.forget(name)
        if action == DELETED:
            if self._known.pop(name, None) is not None:
                LOG.warning('Container %s was deleted outside nova, or '
                            'nova deleted it', name)
            return
        if action not in TRANSITIONS:
            return
        try:
            inst = self._session.get_instance(name)
        except exception.InstanceNotFound:
            return  # deleted meanwhile; its deletion is the next event
        uuid = inst['config'].get(definition.UUID_KEY)
        if not uuid:
            return  # not a nova instance (a rescue container...)
        transition = transition_of(action, inst['status'], inst['config'])
        self._known[name] = (uuid, REPORTED[transition])
        self._cancel_stop(name)
        if transition == virtevent.EVENT_LIFECYCLE_STOPPED:
            self._hold_stop(name, uuid)
        else:
            self._send(uuid, transition)

    def _hold_stop(self, name, uuid):
        timer = threading.Timer(CONF.lxd.stopped_event_delay, self._send_stop,
                                (name, uuid))
        timer.daemon = True
        with self._lock:
            self._pending[name] = timer
        timer.start()

    def _send_stop(self, name, uuid):
        with self._lock:
            if self._pending.get(name) is not threading.current_thread():
                return  # cancelled, or replaced by a later stop
            del self._pending[name]
        self._send(uuid, virtevent.EVENT_LIFECYCLE_STOPPED)

    def _cancel_stop(self, name):
        with self._lock:
            timer = self._pending.pop(name, None)
        if timer is not None:
            timer.cancel()

    def _send(self, uuid, transition):
        LOG.debug('Lifecycle event %s of instance %s', transition, uuid)
        self._emit(virtevent.LifecycleEvent(uuid, transition))
