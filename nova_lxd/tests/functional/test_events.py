"""Lifecycle events on the real daemon: containers changed with LXD's own
API, behind nova's back, and a daemon killed and restarted under the
listener."""
import os
import queue
import signal
import subprocess

from nova.compute import power_state
from nova.network import model as network_model
from nova.virt import event as virtevent
import psutil
import tenacity

from nova_lxd.tests.functional import base

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


class OutsideChangesTest(base.LXDTestCase):
    """nova hears of outside changes from the driver's lifecycle events:
    its periodic power state sync is off here."""

    def _setup_compute_service(self):
        self.flags(sync_power_state_interval=-1)
        return super()._setup_compute_service()

    def setUp(self):
        super().setUp()
        self.image_id = self.register_image()
        self.flavor_id = self.create_flavor_with(vcpus=1, memory_mb=128)

    def boot(self):
        return self._create_server(image_uuid=self.image_id,
                                   flavor_id=self.flavor_id, networks='none')

    def wait_for(self, server, **params):
        return self._wait_for_server_parameter(server, params,
                                               max_retries=120)

    def test_outside_stop_makes_the_server_shutoff(self):
        server = self.boot()
        self.container(server).stop(force=True, wait=True)
        self.wait_for(server, status='SHUTOFF', **{
            'OS-EXT-STS:power_state': power_state.SHUTDOWN})

    def test_outside_freeze_and_unfreeze_update_power_state(self):
        server = self.boot()
        self.container(server).freeze(wait=True)
        self.wait_for(server, status='ACTIVE', **{
            'OS-EXT-STS:power_state': power_state.PAUSED})
        self.container(server).unfreeze(wait=True)
        self.wait_for(server, status='ACTIVE', **{
            'OS-EXT-STS:power_state': power_state.RUNNING})

    @tenacity.retry(retry=tenacity.retry_if_result(lambda s: s != 'Stopped'),
                    stop=tenacity.stop_after_delay(60),
                    wait=tenacity.wait_fixed(0.5),
                    retry_error_callback=lambda rs: rs.outcome.result())
    def container_status(self, server):
        """The container's status once Stopped (or after 60 s)."""
        return self.container(server).status

    def test_outside_start_of_shutoff_server_is_undone(self):
        # nova's rule for a stopped server found running: stop it again.
        server = self._stop_server(self.boot())
        self.container(server).start(wait=True)
        self.assertEqual('Stopped', self.container_status(server))
        self.wait_for(server, status='SHUTOFF')


class TwoDaemonsEventsTest(base.DriverTestCase):
    """A listener on the second daemon (tools/lib/lxd2.sh), which is
    killed with SIGKILL and started again under it.  In the TwoDaemons
    test group (.stestr.conf): never beside the migration tests."""

    def setUp(self):
        super().setUp()
        self.target, self.other = base.on_second_daemon(self, 'compute2')
        self.events = queue.Queue()
        self.other.register_event_listener(self.events.put)

    def wait_for_event(self, uuid, transition):
        """Skip other events until (uuid, transition); fail after 60 s."""
        while True:
            try:
                event = self.events.get(timeout=60)
            except queue.Empty:
                self.fail(f'no {transition} event of {uuid} in 60 s')
            if (event.uuid, event.transition) == (uuid, transition):
                return

    def kill_daemon(self):
        # By command line: the monitor of each container ("[lxc monitor]
        # ...") is an lxd process with the daemon's environment too.
        for proc in psutil.process_iter(['cmdline', 'environ']):
            env = proc.info['environ'] or {}
            if ((proc.info['cmdline'] or [])[:1] == ['lxd'] and
                    env.get('LXD_DIR') == base.LXD2_DIR):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(30)
                return
        self.fail(f'no LXD daemon with LXD_DIR={base.LXD2_DIR} running')

    def test_events_follow_a_restarted_daemon(self):
        inst = self.instance()
        self.other.spawn(self.context, inst, self.image_meta, [], None, {},
                         network_model.NetworkInfo([]))
        self.wait_for_event(inst.uuid, virtevent.EVENT_LIFECYCLE_STARTED)
        container = self.target.client.instances.get(inst.name)
        init_pid = container.state().pid
        self.kill_daemon()
        subprocess.run(['bash', os.path.join(REPO, 'tools/lib/lxd2.sh')],
                       check=True, capture_output=True, timeout=180)
        # The container outlived its daemon.
        self.assertEqual(('Running', init_pid),
                         (container.state().status, container.state().pid))
        container.stop(force=True, wait=True)
        self.wait_for_event(inst.uuid, virtevent.EVENT_LIFECYCLE_STOPPED)
