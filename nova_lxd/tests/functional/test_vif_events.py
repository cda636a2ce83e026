"""Waiting for Neutron's network-vif-plugged events at spawn.

nova's NeutronFixture sets ``vif_plugging_timeout=0``, so the API-level
tests never wait for an event.  Here the driver runs on the real daemon with
a VirtAPI that plays nova-compute's part: it records what the driver plans
to wait for, the container's status when the wait was planned ('absent'
before it is created), and then lets the events arrive, time out or fail.
"""
import contextlib

from nova import exception
from nova.virt import fake
import testscenarios

from nova_lxd.tests.functional import base
from nova_lxd.tests.functional import network

load_tests = testscenarios.load_tests_apply_scenarios


class EventVirtAPI(fake.FakeVirtAPI):
    """nova-compute's event waiting with a scripted outcome.

    :param outcome: 'arrive', 'timeout' (InstanceEventTimeout after the
        body, as nova raises it) or 'fail' (each event arrives with status
        failed: nova calls ``error_callback(event_key, instance)``).
    """

    def __init__(self, outcome='arrive'):
        super().__init__()
        self.outcome = outcome
        self.waits = []
        self.status_when_planned = None
        self.lxd = None

    @contextlib.contextmanager
    def wait_for_instance_event(self, instance, event_names, timeout=300,
                                error_callback=None):
        self.waits.append((list(event_names), timeout))
        if self.lxd is not None:
            self.status_when_planned = (
                self.lxd.instances.get(instance.name).status
                if self.lxd.instances.exists(instance.name) else 'absent')
        yield
        if not event_names or self.outcome == 'arrive':
            return
        if self.outcome == 'timeout':
            raise exception.InstanceEventTimeout()
        for name, tag in event_names:
            if not error_callback(f'{name}-{tag}', instance):
                break


class _EventTestBase(base.DriverTestCase):
    OUTCOME = None

    def virtapi(self):
        self.events = EventVirtAPI(self.OUTCOME)
        return self.events

    def setUp(self):
        super().setUp()
        self.events.lxd = self.project.client
        self.flags(vif_plugging_timeout=42)


class VIFEventTest(_EventTestBase):
    OUTCOME = 'arrive'

    def test_waits_for_ports_not_yet_active_planned_before_start(self):
        down, up = network.tap_vif(active=False), network.tap_vif()
        inst = self.instance()
        self.spawn(inst, network_info=[down, up])
        self.assertEqual([([('network-vif-plugged', down['id'])], 42)],
                         self.events.waits)
        # Planned before the container (created while its ports are
        # plugged) exists, so no event can be missed.
        self.assertEqual('absent', self.events.status_when_planned)
        self.assertEqual('Running', self.container(inst).status)

    def test_no_wait_when_timeout_is_zero(self):
        self.flags(vif_plugging_timeout=0)
        self.spawn(self.instance(),
                   network_info=[network.tap_vif(active=False)])
        self.assertEqual([([], 0)], self.events.waits)


class VIFEventOutcomeTest(_EventTestBase):
    """The event times out or arrives failed: fatal unless
    ``vif_plugging_is_fatal`` is off."""
    scenarios = [('timeout', {'OUTCOME': 'timeout'}),
                 ('failed', {'OUTCOME': 'fail'})]

    def test_fatal_rolls_back(self):
        inst = self.instance()
        self.assertRaises(exception.VirtualInterfaceCreateException,
                          self.spawn, inst,
                          network_info=[network.tap_vif(active=False)])
        self.assertEqual([], self.project.names())

    def test_not_fatal_keeps_instance(self):
        self.flags(vif_plugging_is_fatal=False)
        inst = self.instance()
        self.spawn(inst, network_info=[network.tap_vif(active=False)])
        self.assertEqual('Running', self.container(inst).status)
