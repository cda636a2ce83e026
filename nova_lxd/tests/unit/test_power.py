"""power.py: nova's power semantics over a fake session and a fake clock.

The fake session keeps one instance's LXD status and records each call; a
clean stop the guest ignores fails after LXD's ``timeout`` seconds, which
the fake clock counts instead of the test waiting for them.
"""
import collections
import logging

import fixtures
from nova.compute import power_state
from nova import exception
import testtools

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import power

NAME = 'i1'
STATUS_AFTER = {'start': 'Running', 'stop': 'Stopped',
                'freeze': 'Frozen', 'unfreeze': 'Running'}
MARK = {definition.SUSPENDED_KEY: 'true'}
UNMARK = {definition.SUSPENDED_KEY: ''}


class FakeClock:
    """Stands in for the ``time`` module of power.py."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


class FakeSession:
    """LXDSession's instance calls over one instance, with faults."""

    def __init__(self, clock, status='Running'):
        self.clock = clock
        self.status = status
        self.config = {}
        self.exists = True
        self.calls = []
        # label ('stop', 'stop --force', 'freeze', 'config'...) -> one
        # outcome per call (an exception or None), then success.
        self.faults = collections.defaultdict(list)

    def _fault(self, label):
        # The next scripted outcome: an exception, or None for success.
        return self.faults[label].pop(0) if self.faults[label] else None

    def get_instance(self, name):
        if not self.exists:
            raise exception.InstanceNotFound(instance_id=name)
        return {'name': name, 'status': self.status,
                'config': dict(self.config)}

    def change_state(self, name, action, timeout=-1, force=False):
        label = action + (' --force' if force else '')
        self.calls.append((label, timeout))
        error = self._fault(label)
        if error is not None:
            if action == 'stop' and not force:
                self.clock.now += timeout   # LXD waited for the guest
            raise error
        self.status = STATUS_AFTER[action]

    def update_config(self, name, updates):
        self.calls.append(('config', updates))
        error = self._fault('config')
        if error is not None:
            raise error
        self.config.update(updates)


class FakeCache:
    """Records forget() into the session's call list, to check order."""

    def __init__(self, calls):
        self._calls = calls

    def forget(self, name):
        self._calls.append(('forget', name))


def refused(action='stop'):
    return lxd_exception.LXDRequestFailed(
        action=action, target=NAME, error='Failed shutting down instance')


class PowerTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = FakeClock()
        self.useFixture(fixtures.MonkeyPatch(
            'nova_lxd.nova.virt.lxd.power.time', self.clock))
        self.log = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        self.session = FakeSession(self.clock)
        self.power = power.PowerControl(self.session,
                                        FakeCache(self.session.calls))

    def changes(self):
        """State changes sent, each checked to follow a cache forget."""
        calls = self.session.calls
        result = []
        for i, call in enumerate(calls):
            if call[0] not in ('forget', 'config'):
                self.assertEqual(('forget', NAME), calls[i - 1], calls)
                result.append(call)
        return result


class StopTest(PowerTestCase):

    def test_clean_stop_retried_every_interval(self):
        self.session.faults['stop'] = [refused()] * 3
        self.power.stop(NAME, timeout=60, retry_interval=10)
        self.assertEqual([('stop', 10)] * 4, self.changes())
        self.assertEqual('Stopped', self.session.status)
        self.assertEqual(3, self.log.output.count(
            'Clean stop of i1 not done after 10s'))

    def test_forced_after_timeout(self):
        self.session.faults['stop'] = [refused()] * 100
        self.power.stop(NAME, timeout=60, retry_interval=10)
        self.assertEqual([('stop', 10)] * 6 + [('stop --force', -1)],
                         self.changes())
        self.assertIn('i1 did not shut down within 60s', self.log.output)
        self.assertEqual('Stopped', self.session.status)

    def test_last_signal_waits_what_remains(self):
        self.session.faults['stop'] = [refused()] * 100
        self.power.stop(NAME, timeout=25, retry_interval=10)
        self.assertEqual([('stop', 10), ('stop', 10), ('stop', 5),
                          ('stop --force', -1)], self.changes())

    def test_no_interval_one_signal_whole_timeout(self):
        self.session.faults['stop'] = [refused()]
        self.power.stop(NAME, timeout=60)
        self.assertEqual([('stop', 60), ('stop --force', -1)],
                         self.changes())

    def test_zero_timeout_forces_at_once(self):
        self.power.stop(NAME, timeout=0, retry_interval=10)
        self.assertEqual([('stop --force', -1)], self.changes())

    def test_frozen_forced(self):
        # A frozen guest cannot run its shutdown.
        self.session.status = 'Frozen'
        self.power.stop(NAME, timeout=60)
        self.assertEqual([('stop --force', -1)], self.changes())

    def test_stopped_sends_nothing(self):
        self.session.status = 'Stopped'
        self.power.stop(NAME, timeout=60, retry_interval=10)
        self.power.stop(NAME)
        self.assertEqual([], self.session.calls)

    def test_other_errors_not_retried(self):
        self.session.faults['stop'] = [
            exception.InstanceNotFound(instance_id=NAME)]
        self.assertRaises(exception.InstanceNotFound, self.power.stop,
                          NAME, timeout=60, retry_interval=10)
        self.assertEqual([('stop', 10)], self.changes())


class RebootTest(PowerTestCase):

    def test_soft(self):
        self.power.reboot(NAME, hard=False, soft_timeout=120)
        self.assertEqual([('stop', 120), ('start', -1)], self.changes())

    def test_soft_falls_back_to_force(self):
        self.session.faults['stop'] = [refused()]
        self.power.reboot(NAME, hard=False, soft_timeout=120)
        self.assertEqual([('stop', 120), ('stop --force', -1),
                          ('start', -1)], self.changes())
        self.assertEqual('Running', self.session.status)

    def test_soft_zero_timeout_is_hard(self):
        self.power.reboot(NAME, hard=False, soft_timeout=0)
        self.assertEqual([('stop --force', -1), ('start', -1)],
                         self.changes())

    def test_hard(self):
        self.power.reboot(NAME, hard=True, soft_timeout=120)
        self.assertEqual([('stop --force', -1), ('start', -1)],
                         self.changes())

    def test_stopped_instance_started(self):
        self.session.status = 'Stopped'
        for hard in (False, True):
            self.power.reboot(NAME, hard=hard, soft_timeout=120)
            self.session.status = 'Stopped'
        self.assertEqual([('start', -1)] * 2, self.changes())


class SuspendTest(PowerTestCase):

    def test_suspend_marks_then_freezes(self):
        self.power.suspend(NAME)
        self.assertEqual([('config', MARK), ('forget', NAME),
                          ('freeze', -1)], self.session.calls)
        self.assertEqual(power_state.SUSPENDED, self.power.power_state(NAME))

    def test_failed_freeze_unmarks(self):
        error = refused('freeze')
        self.session.faults['freeze'] = [error]
        e = self.assertRaises(lxd_exception.LXDRequestFailed,
                              self.power.suspend, NAME)
        self.assertIs(error, e)
        self.assertEqual(('config', UNMARK), self.session.calls[-1])
        self.assertEqual(UNMARK, self.session.config)

    def test_failed_unmark_keeps_freeze_error(self):
        # nova must still see why the freeze failed, not the undo's error.
        error = refused('freeze')
        self.session.faults['freeze'] = [error]
        self.session.faults['config'] = [None, refused('update config of')]
        e = self.assertRaises(lxd_exception.LXDRequestFailed,
                              self.power.suspend, NAME)
        self.assertIs(error, e)
        self.assertEqual(('config', UNMARK), self.session.calls[-1])
        self.assertIn('Could not remove the suspended mark of i1',
                      self.log.output)

    def test_resume_suspended(self):
        self.session.status, self.session.config = 'Frozen', dict(MARK)
        self.power.resume(NAME)
        self.assertEqual([('unfreeze', -1)], self.changes())
        self.assertEqual(UNMARK, self.session.config)
        self.assertEqual('Running', self.session.status)

    def test_resume_paused(self):
        self.session.status = 'Frozen'
        self.power.resume(NAME)
        self.assertEqual([('unfreeze', -1)], self.changes())

    def test_resume_running_only_unmarks(self):
        self.session.config = dict(MARK)
        self.power.resume(NAME)
        self.assertEqual([('config', UNMARK)], self.session.calls)

    def test_pause_unpause(self):
        self.power.pause(NAME)
        self.power.unpause(NAME)
        self.assertEqual([('freeze', -1), ('unfreeze', -1)], self.changes())

    def test_unpause_running_sends_nothing(self):
        self.power.unpause(NAME)
        self.assertEqual([], self.changes())


class StartKillTest(PowerTestCase):

    def test_start_running_sends_nothing(self):
        self.power.start(NAME)
        self.assertEqual([], self.session.calls)

    def test_start_stopped(self):
        self.session.status = 'Stopped'
        self.power.start(NAME)
        self.assertEqual([('start', -1)], self.changes())

    def test_kill(self):
        self.power.kill(NAME)
        self.assertEqual([('stop --force', -1)], self.changes())

    def test_kill_stopped_or_missing_sends_nothing(self):
        self.session.status = 'Stopped'
        self.power.kill(NAME)
        self.session.exists = False
        self.power.kill(NAME)
        self.assertEqual([], self.session.calls)
