"""state.py: the power state table and the listing cache."""
from nova.compute import power_state
import testtools

from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import state


class PowerStateTest(testtools.TestCase):

    def test_table(self):
        for status, expected in (('Running', power_state.RUNNING),
                                 ('Stopped', power_state.SHUTDOWN),
                                 ('Frozen', power_state.PAUSED),
                                 ('Error', power_state.CRASHED)):
            self.assertEqual(expected, state.power_state_of(status, {}))

    def test_unknown_and_transitions_are_nostate(self):
        for status in ('Starting', 'Freezing', 'Bogus', None):
            self.assertEqual(power_state.NOSTATE,
                             state.power_state_of(status, {}))

    def test_suspended_mark(self):
        self.assertEqual(power_state.SUSPENDED, state.power_state_of(
            'Frozen', {definition.SUSPENDED_KEY: 'true'}))


class StatusCacheTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.now = 100.0
        self.cache = state.StatusCache(max_age=10, clock=lambda: self.now)
        self.cache.fill([{'name': 'a', 'status': 'Running', 'config': {}}])

    def test_fresh_entry(self):
        self.assertEqual(power_state.RUNNING, self.cache.power_state('a'))
        self.assertIsNone(self.cache.power_state('b'))

    def test_expiry(self):
        self.now += 11
        self.assertIsNone(self.cache.power_state('a'))

    def test_forget(self):
        self.cache.forget('a')
        self.assertIsNone(self.cache.power_state('a'))
