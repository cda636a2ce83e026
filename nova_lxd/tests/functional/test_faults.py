"""Faults during a spawn and slow operations, on the real daemon (issue 10).

R1: a fault injected at each step of a spawn (image import, ephemeral
volume, config drive, VIF plug, create, start, the wait for Neutron's
events) leaves nothing behind, and the error raised is the injected one,
also when a step of the rollback fails as well.  The driver is called
directly: nova would destroy after a failed spawn and hide the driver's
own clean-up.

R3: the daemon killed during a spawn and started again.

R5: an operation that lasts longer than ``[lxd] timeout`` is no timeout.
"""
import contextlib
import os
import threading
from unittest import mock

import fixtures
from nova.compute import power_state
from nova import context as nova_context
from nova import exception
from nova.network import model as network_model
from nova import test
from nova.virt import fake

from nova_lxd.nova.virt.lxd import driver as lxd_driver
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import instance_files
from nova_lxd.tests.functional import base
from nova_lxd.tests.functional import daemon
from nova_lxd.tests.functional import network
from nova_lxd.tests.functional import ovs
from nova_lxd.tests import image_fakes

EPHEMERAL = {'block_device_mapping': [], 'swap': None,
             'root_device_name': None,
             'ephemerals': [{'num': 0, 'size': 1}]}


class Injected(Exception):
    """The fault a test injects; nothing else raises it."""


class SpawnFaultTest(base.DriverTestCase):
    """R1 on the btrfs pool (ephemeral volumes) with two OVS ports (one
    native, one hybrid) and a config drive."""

    def setUp(self):
        super().setUp()
        self.flags(pool='btrfs', group='lxd')
        self.flags(force_config_drive=True)
        base.stub_instance_metadata(self)
        self.useFixture(ovs.OVSFixture(self, ovs.ML2_BRIDGE))
        self.driver.init_host('compute')

    def vifs(self):
        vifs = [network.ovs_vif(ovs.ML2_BRIDGE, hybrid=h)
                for h in (False, True)]
        for vif in vifs:
            self.addCleanup(ovs.remove_port_devices, vif['id'])
        return vifs

    def inject(self, target, name):
        self.useFixture(fixtures.MockPatchObject(
            target, name, side_effect=Injected(name)))

    def assertNothingLeft(self, inst, vifs):
        client = self.project.client
        self.assertEqual([], self.project.names())
        volumes = client.api.storage_pools['btrfs'].volumes.custom.get()
        self.assertEqual([], volumes.json()['metadata'])
        self.assertEqual(['default'], [p.name for p in client.profiles.all()])
        # No creation holds an image any more (ImageStore.use).
        self.assertEqual({}, dict(self.driver._images._users))
        ovs.assert_no_port_devices(self, vifs)
        self.assertFalse(os.path.exists(instance_files.instance_dir(inst)))

    def fail_at(self, target, name):
        inst, vifs = self.instance(), self.vifs()
        self.inject(target, name)
        e = self.assertRaises(Injected, self.spawn, inst, network_info=vifs,
                              block_device_info=EPHEMERAL)
        self.assertEqual(name, str(e))
        self.assertNothingLeft(inst, vifs)

    def test_image_import(self):
        self.fail_at(self.driver._session, 'upload_image')

    def test_ephemeral_volume(self):
        self.fail_at(self.driver._session, 'create_volume')

    def test_config_drive(self):
        self.fail_at(instance_files, 'build_config_drive')

    def test_vif_plug(self):
        self.fail_at(self.driver._plugger, '_own_veth')

    def test_create(self):
        self.fail_at(self.driver._session, 'create_instance')

    def test_start(self):
        self.fail_at(self.driver._power, 'boot')

    def test_event_wait(self):
        self.flags(vif_plugging_timeout=1, vif_plugging_is_fatal=True)

        @contextlib.contextmanager
        def events_never_come(*args, **kwargs):
            yield
            raise exception.InstanceEventTimeout()
        virtapi = mock.Mock(wait_for_instance_event=events_never_come)
        self.useFixture(fixtures.MockPatchObject(
            self.driver._creator, '_virtapi', virtapi))
        inst, vifs = self.instance(), self.vifs()
        self.assertRaises(exception.VirtualInterfaceCreateException,
                          self.spawn, inst, network_info=vifs,
                          block_device_info=EPHEMERAL)
        self.assertNothingLeft(inst, vifs)

    def test_failing_rollback_step_keeps_the_error_and_the_others(self):
        inst, vifs = self.instance(), self.vifs()
        self.inject(self.driver._power, 'boot')
        refused = lxd_exception.LXDRequestFailed(
            action='delete instance', target=inst.name, error='busy')
        with mock.patch.object(self.driver._session, 'delete_instance',
                               side_effect=refused):
            e = self.assertRaises(Injected, self.spawn, inst,
                                  network_info=vifs,
                                  block_device_info=EPHEMERAL)
        self.assertEqual('boot', str(e))
        # The container could not go; the other steps went on.
        self.assertEqual([inst.name], self.project.names())
        ovs.assert_no_port_devices(self, vifs)
        self.assertFalse(os.path.exists(instance_files.instance_dir(inst)))
        # What nova does next: destroy.
        self.driver.destroy(self.context, inst, vifs, EPHEMERAL)
        self.assertNothingLeft(inst, vifs)


class SlowOperationTest(base.DriverTestCase):
    """R5: the read timeout is for LXD's answers, not its operations."""

    def test_clean_stop_longer_than_the_read_timeout(self):
        inst = self.instance()
        self.spawn(inst)
        self.flags(timeout=1, group='lxd')
        self.driver = type(self.driver)(self.virtapi())
        # busybox's init takes about 3 s to stop cleanly.
        self.driver.power_off(inst, timeout=20)
        self.assertEqual('Stopped', self.container(inst).status)

    def test_operation_timeout_is_reported_as_such(self):
        inst = self.instance()
        self.spawn(inst, power_on=False)
        self.flags(operation_timeout=1, group='lxd')
        self.driver = type(self.driver)(self.virtapi())
        session = self.driver._session
        session.change_state(inst.name, 'start')
        e = self.assertRaises(lxd_exception.LXDOperationTimeout,
                              session.change_state, inst.name, 'stop',
                              timeout=20)
        self.assertIn('[lxd] operation_timeout (1 s)', str(e))
        self.assertIn('Stopping instance', str(e))


class DaemonKilledTest(test.NoDBTestCase):
    """R3: the daemon killed (SIGKILL) during a spawn and restarted; the
    same driver object (nova-compute not restarted) goes on working."""

    def setUp(self):
        super().setUp()
        self.daemon = self.useFixture(daemon.PrivateDaemon())
        self.flags(endpoint=self.daemon.socket, project='nova',
                   pool='default', group='lxd')
        self.flags(instances_path=self.useFixture(fixtures.TempDir()).path)
        glance = self.useFixture(image_fakes.ImageServiceFixture())
        with open(base.image_path('NOVA_LXD_TEST_BUSYBOX_IMAGE'), 'rb') as f:
            self.busybox = glance.add(f.read())
        with open(base.image_path('NOVA_LXD_TEST_DEBIAN_IMAGE'), 'rb') as f:
            self.debian = glance.add(f.read())
        self.driver = lxd_driver.LXDDriver(fake.FakeVirtAPI())
        self.driver.init_host('compute')
        self.addCleanup(self.driver.cleanup_host, 'compute')
        self.context = nova_context.get_admin_context()
        self.image_meta = self.busybox

    # A nova Instance with its own flavor, as DriverTestCase makes them.
    instance = base.DriverTestCase.instance

    def spawn(self, inst, image):
        self.driver.spawn(self.context, inst, image, [], None, {},
                          network_model.NetworkInfo([]))

    def test_kill_during_spawn_then_restart(self):
        running = self.instance()
        self.spawn(running, self.busybox)
        client = self.daemon.client('nova')
        pid = client.instances.get(running.name).state().pid
        # The Debian image takes seconds to upload and unpack: the daemon
        # dies in the middle of that spawn.
        victim = self.instance()
        killer = threading.Timer(1.0, self.daemon.kill)
        killer.start()
        self.addCleanup(killer.cancel)
        e = self.assertRaises(lxd_exception.LXDUnreachable, self.spawn,
                              victim, self.debian)
        killer.join()
        self.assertIn(f'at {self.daemon.socket}', str(e))
        self.assertNotIn(f'at {victim.name}', str(e))
        # The container outlived its daemon.
        os.kill(pid, 0)
        self.daemon.start()
        self.assertEqual(pid, client.instances.get(running.name).state().pid)
        # nova destroys the failed instance, then boots another one, with
        # the same driver.
        self.driver.destroy(self.context, victim, [])
        self.assertEqual([running.name],
                         [i.name.split('?')[0]
                          for i in client.instances.all()])
        later = self.instance()
        self.spawn(later, self.busybox)
        self.assertEqual('Running', client.instances.get(later.name).status)
        self.assertEqual(power_state.RUNNING,
                         self.driver.get_info(running).state)


class ComputeRestartTest(base.LXDTestCase):
    """R2: nova-compute restarted with 20 instances, running, stopped and
    paused: none is disturbed and each state is reported as it is."""

    COUNT = 20

    def _setup_compute_service(self):
        # 20 one-CPU instances on this 2-CPU machine, over nova's quota.
        self.flags(cpu_allocation_ratio=16.0)
        self.flags(instances=-1, cores=-1, ram=-1, group='quota')
        return super()._setup_compute_service()

    def test_restart_disturbs_nothing(self):
        image_id = self.register_image()
        flavor_id = self.create_flavor_with(vcpus=1, memory_mb=64)
        servers = [self.api.post_server({'server': {
            'name': f'r2-{i}', 'imageRef': image_id, 'flavorRef': flavor_id,
            'networks': 'none'}}) for i in range(self.COUNT)]
        servers = [self._wait_for_state_change(s, 'ACTIVE') for s in servers]
        expected = {}
        for index, server in enumerate(servers):
            if index % 3 == 1:
                self._stop_server(server)
                expected[server['id']] = ('SHUTOFF', 'Stopped')
            elif index % 3 == 2:
                self.api.post_server_action(server['id'], {'pause': None})
                self._wait_for_state_change(server, 'PAUSED')
                expected[server['id']] = ('PAUSED', 'Frozen')
            else:
                expected[server['id']] = ('ACTIVE', 'Running')
        pids = {s['id']: self.container(s).state().pid for s in servers}
        self.compute = self.restart_compute_service(self.compute)
        # The periodic power state sync, as nova-compute runs it.
        self.compute.manager._sync_power_states(
            nova_context.get_admin_context())
        for server in servers:
            found = (self.api.get_server(server['id'])['status'],
                     self.container(server).status)
            self.assertEqual(expected[server['id']], found, server['name'])
            # Same init process: nothing was restarted (stopped ones have
            # none, before or after).
            self.assertEqual(pids[server['id']],
                             self.container(server).state().pid)
