"""events and session_events: LXD lifecycle events -> nova's virt events.

The translations are pure; LifecycleListener runs its real thread on a
scripted session whose stream replays events (the real stream is tested
against the daemon in functional/test_events.py).
"""
import queue
import threading

from nova.compute import power_state
from nova import exception
from nova.virt import event as virtevent
from oslo_config import fixture as config_fixture
import testtools

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import events
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import session_events
from nova_lxd.nova.virt.lxd import state

STARTED = virtevent.EVENT_LIFECYCLE_STARTED
STOPPED = virtevent.EVENT_LIFECYCLE_STOPPED
PAUSED = virtevent.EVENT_LIFECYCLE_PAUSED
SUSPENDED = virtevent.EVENT_LIFECYCLE_SUSPENDED


def message(action, source, kind='lifecycle'):
    return {'type': kind, 'project': 'nova',
            'metadata': {'action': action, 'source': source}}


class LifecycleActionTest(testtools.TestCase):

    def test_instance_event(self):
        self.assertEqual(('instance-started', 'i-1'),
                         session_events.lifecycle_action(message(
                             'instance-started', '/1.0/instances/i-1')))

    def test_project_query_and_quoting(self):
        self.assertEqual(('instance-paused', 'a b'),
                         session_events.lifecycle_action(message(
                             'instance-paused',
                             '/1.0/instances/a%20b?project=nova')))

    def test_not_about_an_instance_as_a_whole(self):
        for msg in (
                message('instance-snapshot-created',
                        '/1.0/instances/i-1/snapshots/s'),
                message('image-created', '/1.0/images/f'),
                message('instance-started', '/1.0/instances/'),
                message('instance-started', '/1.0/instances/i', 'logging'),
                {'type': 'lifecycle'}):
            self.assertIsNone(session_events.lifecycle_action(msg), msg)


class TranslationTest(testtools.TestCase):

    def test_actions(self):
        for action, expected in (('instance-started', STARTED),
                                 ('instance-restarted', STARTED),
                                 ('instance-shutdown', STOPPED),
                                 ('instance-stopped', STOPPED),
                                 ('instance-paused', PAUSED),
                                 ('instance-resumed',
                                  virtevent.EVENT_LIFECYCLE_RESUMED),
                                 ('instance-exec', None),
                                 ('instance-updated', None)):
            self.assertEqual(expected,
                             events.transition_of(action, 'Running', {}))

    def test_freeze_of_suspend_is_suspended(self):
        self.assertEqual(SUSPENDED, events.transition_of(
            'instance-paused', 'Frozen', {definition.SUSPENDED_KEY: 'true'}))

    def test_catch_up(self):
        known = {'a': ('ua', power_state.RUNNING),
                 'b': ('ub', power_state.RUNNING),
                 'c': ('uc', power_state.SHUTDOWN),
                 'gone': ('ug', power_state.RUNNING)}
        listing = [
            {'name': 'a', 'status': 'Stopped',
             'config': {definition.UUID_KEY: 'ua'}},
            {'name': 'b', 'status': 'Running',
             'config': {definition.UUID_KEY: 'ub'}},
            {'name': 'c', 'status': 'Frozen',
             'config': {definition.UUID_KEY: 'uc'}},
            {'name': 'new', 'status': 'Running',
             'config': {definition.UUID_KEY: 'un'}},
            {'name': 'a-rescue', 'status': 'Running', 'config': {}}]
        found, now, vanished = events.catch_up(known, listing)
        self.assertEqual([('ua', STOPPED), ('uc', PAUSED)], found)
        self.assertEqual(['gone'], vanished)
        self.assertEqual({'a', 'b', 'c', 'new'}, set(now))


class ScriptedStream:
    """A connected stream: run() hands queued events to the listener until
    the test drops it (the daemon went away) or the listener shuts it."""

    def __init__(self, on_event):
        self.on_event = on_event
        self.queue = queue.Queue()

    def run(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            self.on_event(*item)

    def shut(self):
        self.queue.put(None)

    close_connection = shut


class ScriptedSession:
    """The LXDSession calls the listener makes, over dicts."""

    endpoint = '/var/lib/lxd/unix.socket'

    def __init__(self):
        self.instances = {}
        self.streams = queue.Queue()
        self.refusals = 0

    def put(self, name, status, uuid=None, **config):
        if uuid:
            config[definition.UUID_KEY] = uuid
        self.instances[name] = {'name': name, 'status': status,
                                'config': config}

    def list_instances(self):
        return list(self.instances.values())

    def get_instance(self, name):
        if name not in self.instances:
            raise exception.InstanceNotFound(instance_id=name)
        return self.instances[name]

    def lifecycle_stream(self, on_event):
        if self.refusals:
            self.refusals -= 1
            raise lxd_exception.LXDUnreachable(
                endpoint=self.endpoint, error='connection refused', fix='')
        stream = ScriptedStream(on_event)
        self.streams.put(stream)
        return stream


class ListenerTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(lxd_conf.CONF))
        self.conf.config(stopped_event_delay=0, group='lxd')
        self.session = ScriptedSession()
        self.session.put('i-1', 'Running', 'u1')
        self.statuses = state.StatusCache()
        self.emitted = queue.Queue()
        self.listener = events.LifecycleListener(
            self.session, self.statuses, self.emitted.put)

    def start(self):
        self.listener.start()
        self.addCleanup(self.listener.stop)
        return self.session.streams.get(timeout=10)

    def next_event(self):
        event = self.emitted.get(timeout=10)
        return event.uuid, event.transition

    def send(self, stream, action, name, status):
        """LXD changed the instance, then told."""
        self.session.instances[name]['status'] = status
        stream.queue.put((action, name))

    def test_outside_stop_reaches_nova(self):
        stream = self.start()
        self.statuses.fill(self.session.list_instances())
        self.send(stream, 'instance-stopped', 'i-1', 'Stopped')
        self.assertEqual(('u1', STOPPED), self.next_event())
        # The cached answer of get_info went with the event.
        self.assertIsNone(self.statuses.power_state('i-1'))

    def test_guest_reboot_is_no_stop(self):
        self.conf.config(stopped_event_delay=30, group='lxd')
        stream = self.start()
        self.send(stream, 'instance-shutdown', 'i-1', 'Stopped')
        self.send(stream, 'instance-restarted', 'i-1', 'Running')
        self.assertEqual(('u1', STARTED), self.next_event())
        self.send(stream, 'instance-paused', 'i-1', 'Frozen')
        # Events are handled in order: had the stop been sent, it would be
        # here before the pause.
        self.assertEqual(('u1', PAUSED), self.next_event())
        self.assertEqual({}, self.listener._pending)

    def test_foreign_and_rescue_containers_ignored(self):
        self.session.put('i-1-rescue', 'Running')
        stream = self.start()
        self.send(stream, 'instance-stopped', 'i-1-rescue', 'Stopped')
        self.send(stream, 'instance-exec', 'i-1', 'Running')
        self.send(stream, 'instance-paused', 'i-1', 'Frozen')
        self.assertEqual(('u1', PAUSED), self.next_event())

    def test_reconnects_and_reports_what_changed_meanwhile(self):
        self.session.put('i-2', 'Running', 'u2')
        stream = self.start()
        self.session.refusals = 2  # the daemon is restarting
        self.session.instances['i-2']['status'] = 'Stopped'  # unreported
        stream.shut()  # the daemon went away
        self.session.streams.get(timeout=30)
        self.assertEqual(('u2', STOPPED), self.next_event())
        self.assertTrue(self.emitted.empty())

    def test_stream_error_reconnects(self):
        # ws4py raises when it answers a ping on a socket LXD closed.
        self.session.put('i-2', 'Running', 'u2')
        stream = self.start()
        self.session.instances['i-2']['status'] = 'Stopped'  # unreported
        stream.queue.put(RuntimeError('Cannot send on a terminated '
                                      'websocket'))
        stream = self.session.streams.get(timeout=30)
        self.assertEqual(('u2', STOPPED), self.next_event())
        self.send(stream, 'instance-paused', 'i-1', 'Frozen')
        self.assertEqual(('u1', PAUSED), self.next_event())

    def test_handler_error_keeps_stream(self):
        stream = self.start()
        self.session.put('bad', 'Frozen', 'u0')
        self.session.instances['bad']['config'] = None  # unreadable
        stream.queue.put(('instance-paused', 'bad'))
        self.send(stream, 'instance-paused', 'i-1', 'Frozen')
        self.assertEqual(('u1', PAUSED), self.next_event())

    def test_listing_failure_retried(self):
        self.session.put('bad', 'Running', 'u0')
        self.session.instances['bad']['config'] = None  # unreadable
        self.listener.start()
        self.addCleanup(self.listener.stop)
        self.session.streams.get(timeout=10)  # dropped: listing failed
        del self.session.instances['bad']
        stream = self.session.streams.get(timeout=10)
        self.send(stream, 'instance-stopped', 'i-1', 'Stopped')
        self.assertEqual(('u1', STOPPED), self.next_event())

    def test_stop_ends_the_thread(self):
        self.start()
        self.listener.stop()
        # (Other listeners of this test process may still be stopping.)
        self.assertFalse(self.listener._thread.is_alive())
        self.assertNotIn(self.listener._thread, threading.enumerate())
