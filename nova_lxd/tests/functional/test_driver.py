"""LXDDriver called directly (as nova-compute does) on the real daemon.

Nova's compute manager destroys an instance itself after a failed spawn, so
rollback, validation order and event handling are tested here, by calling
the driver without nova around it: only the driver's own behaviour can make
these tests pass.
"""
import os
import time

import fixtures
from nova.compute import power_state
from nova import exception
from nova.network import model as network_model

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import instance_files
from nova_lxd.tests.functional import base
from nova_lxd.tests.functional import network


class DriverTest(base.DriverTestCase):

    def test_spawn_powered_off_then_on_and_destroy_twice(self):
        inst = self.instance()
        self.spawn(inst, power_on=False)
        self.assertEqual(power_state.SHUTDOWN,
                         self.driver.get_info(inst).state)
        self.assertEqual([inst.name], self.driver.list_instances())
        self.assertEqual([inst.uuid], self.driver.list_instance_uuids())
        self.assertTrue(self.driver.instance_exists(inst))
        # After a host reboot nova asks for the instance to run again.
        self.driver.resume_state_on_host_boot(self.context, inst, [], None)
        self.assertEqual(power_state.RUNNING,
                         self.driver.get_info(inst, use_cache=False).state)
        self.driver.destroy(self.context, inst, [])
        self.driver.destroy(self.context, inst, [])
        self.assertFalse(self.driver.instance_exists(inst))
        self.assertRaises(exception.InstanceNotFound,
                          self.driver.get_info, inst)

    def test_fqdn_hostname_longer_than_the_kernel_allows(self):
        # Nova allows 255-character FQDNs (API 2.94); liblxc refuses to
        # start a container whose lxc.uts.name exceeds 64 bytes.
        inst = self.instance()
        inst.hostname = 'x' * 52 + '-guest-test.domaintest.com'
        self.spawn(inst)
        result = base.execute(self.container(inst), ['hostname'])
        self.assertEqual('x' * 52 + '-guest-test', result.stdout.strip())

    def test_only_nova_containers_are_listed(self):
        inst = self.instance()
        self.spawn(inst, power_on=False)
        fingerprint = self.project.client.images.all()[0].fingerprint
        self.project.client.instances.create({
            'name': 'not-nova', 'source': {'type': 'image',
                                           'fingerprint': fingerprint},
            'devices': {'root': {'type': 'disk', 'path': '/',
                                 'pool': 'default'}}}, wait=True)
        self.assertEqual([inst.name], self.driver.list_instances())
        self.assertEqual(1, self.driver.get_num_instances())

    def test_running_instance_is_not_restarted(self):
        inst = self.instance()
        self.spawn(inst)
        pid = self.init_pid(inst)
        self.driver.power_on(self.context, inst, [])
        self.driver.resume_state_on_host_boot(self.context, inst, [], None)
        self.assertEqual(pid, self.init_pid(inst))

    def test_instance_exists_leaves_the_first_untouched(self):
        inst = self.instance()
        self.spawn(inst)
        pid = self.init_pid(inst)
        self.assertRaises(exception.InstanceExists, self.spawn, inst)
        self.assertEqual([inst.name], self.project.names())
        self.assertEqual(pid, self.init_pid(inst))

    def test_profiles_are_applied(self):
        self.project.client.profiles.create(
            'site', config={'user.site': 'hpc-1', 'limits.processes': '500'})
        self.flags(profiles=['site'], group='lxd')
        inst = self.instance()
        self.spawn(inst, power_on=False)
        container = self.container(inst)
        self.assertEqual(['site'], container.profiles)
        self.assertEqual('hpc-1', container.expanded_config['user.site'])


class DriverValidationTest(base.DriverTestCase):
    """Bad input is refused before the driver asks LXD to create anything
    (requests counted on the driver's own LXD connection)."""

    def assertNothingCreated(self, requests):
        writes = [r for r in requests if not r.startswith('GET ')]
        self.assertEqual([], writes)
        self.assertEqual([], self.project.names())
        self.assertEqual([], self.project.client.images.all())

    def test_bad_extra_spec(self):
        inst = self.instance(extra_specs={'lxd:limits.processes': 'many'})
        requests = self.record_requests()
        e = self.assertRaises(lxd_exception.InvalidExtraSpec, self.spawn,
                              inst)
        self.assertIn('lxd:limits.processes', str(e))
        self.assertNothingCreated(requests)

    def test_unsupported_vif_type(self):
        vif = network.tap_vif()
        vif['type'] = network_model.VIF_TYPE_VHOSTUSER
        requests = self.record_requests()
        e = self.assertRaises(lxd_exception.UnsupportedVIFType, self.spawn,
                              self.instance(), network_info=[vif])
        self.assertIn(vif['id'], str(e))
        self.assertNothingCreated(requests)

    def test_root_volume_refused(self):
        bdi = {'block_device_mapping': [{'mount_device': '/dev/vda',
                                         'boot_index': 0}],
               'ephemerals': [], 'swap': None, 'root_device_name': '/dev/vda'}
        requests = self.record_requests()
        self.assertRaises(lxd_exception.UnsupportedDisk, self.spawn,
                          self.instance(), block_device_info=bdi)
        self.assertNothingCreated(requests)

    def test_swap_refused(self):
        inst = self.instance()
        inst.flavor.swap = 256
        requests = self.record_requests()
        e = self.assertRaises(lxd_exception.UnsupportedDisk, self.spawn,
                              inst)
        self.assertIn('swap', str(e))
        self.assertNothingCreated(requests)


class DriverRollbackTest(base.DriverTestCase):
    """A spawn that fails midway removes what it created by itself."""

    def setUp(self):
        super().setUp()
        self.flags(force_config_drive=True)
        base.stub_instance_metadata(self)

    def test_failed_start_removes_container_and_files(self):
        first = self.instance()
        vif = network.tap_vif()
        self.spawn(first, network_info=[vif])
        self.assertTrue(os.path.isdir(instance_files.instance_dir(first)))
        # Same address again: LXD cannot add the host route when it starts
        # the second container, after it was created.
        clash = network.tap_vif(address=vif.fixed_ips()[0]['address'])
        second = self.instance()
        e = self.assertRaises(lxd_exception.LXDRequestFailed, self.spawn,
                              second, network_info=[clash])
        self.assertIn('start', str(e))
        self.assertEqual([first.name], self.project.names())
        self.assertFalse(os.path.exists(instance_files.instance_dir(second)))
        self.assertEqual('Running', self.container(first).status)

    def test_config_drive_failure_creates_nothing(self):
        base.stub_instance_metadata(self, fail_after=1)
        inst = self.instance()
        requests = self.record_requests()
        e = self.assertRaises(OSError, self.spawn, inst)
        self.assertEqual(28, e.errno)
        self.assertFalse(any(r.startswith('POST') and r.endswith(
            '/1.0/instances') for r in requests), requests)
        self.assertEqual([], self.project.names())
        self.assertFalse(os.path.exists(instance_files.instance_dir(inst)))

    def test_config_drive_is_mounted_and_removed_with_the_instance(self):
        inst = self.instance()
        self.spawn(inst)
        path = instance_files.instance_dir(inst)
        guest = base.execute(self.container(inst), [
            'cat', '/config-drive/openstack/latest/meta_data.json'])
        self.assertEqual(0, guest.exit_code, guest.stderr)
        self.assertIn(inst.uuid, guest.stdout)
        self.driver.destroy(self.context, inst, [])
        self.assertFalse(os.path.exists(path))

    def test_cleanup_removes_the_instance_directory(self):
        inst = self.instance()
        path = instance_files.instance_dir(inst)
        os.makedirs(os.path.join(path, 'config-drive'))
        self.driver.cleanup(self.context, inst, [])
        self.assertFalse(os.path.exists(path))
        self.driver.cleanup(self.context, inst, [])


class DriverHostTest(base.DriverTestCase):

    def console(self, inst):
        return self.driver.get_console_output(self.context, inst)

    def console_with(self, inst, needle, timeout=30):
        """The console output once it holds ``needle``: the guest's init
        writes it a moment after LXD reports the start."""
        deadline = time.monotonic() + timeout
        while True:
            output = self.console(inst)
            if needle in output or time.monotonic() > deadline:
                return output
            time.sleep(0.2)

    def test_console_output_is_whole_and_repeatable(self):
        inst = self.instance()
        self.spawn(inst)
        first = self.console_with(inst, 'init started')
        # str, as nova's driver suite wants; nova encodes it back to bytes.
        self.assertIsInstance(first, str)
        self.assertIn('init started', first)
        # LXD hands out output once; asking again must give it again.
        self.assertEqual(first, self.console(inst))
        base.execute(self.container(inst), [
            'sh', '-c', 'echo console-marker > /dev/console'])
        grown = self.console(inst)
        self.assertTrue(grown.startswith(first), grown)
        self.assertIn('console-marker', grown)
        self.driver.power_off(inst)
        stopped = self.console(inst)
        self.assertEqual(1, stopped.count('init started'), stopped)
        self.assertEqual(1, stopped.count('console-marker'), stopped)
        self.assertEqual(stopped, self.console(inst))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_lxd.nova.virt.lxd.driver.CONSOLE_LOG_MAX_BYTES', 8))
        self.assertEqual(stopped[-8:], self.console(inst))

    def test_console_output_of_missing_instance(self):
        self.assertRaises(exception.InstanceNotFound,
                          self.driver.get_console_output, self.context,
                          self.instance())

    def test_diagnostics_of_a_running_instance(self):
        inst = self.instance(memory_mb=128)
        vif = network.tap_vif()
        self.spawn(inst, network_info=[vif])
        self.console_with(inst, 'init started')
        diags = self.driver.get_diagnostics(inst)
        self.assertEqual(128 * 1024, diags['memory'])
        self.assertGreater(diags['cpu_time'], 0)
        self.assertGreater(diags['memory-rss'], 0)
        self.assertGreaterEqual(diags['processes'], 1)
        # The guest's interface, by its name inside the container.
        self.assertIn('eth0_tx_packets', diags)
        self.assertNotIn('lo_rx', diags)

    def test_diagnostics_of_missing_instance(self):
        inst = self.instance()
        error = self.assertRaises(exception.InstanceNotFound,
                                  self.driver.get_diagnostics, inst)
        self.assertIn(inst.uuid, str(error))

    def test_host_uptime(self):
        self.assertIn('load average', self.driver.get_host_uptime())

    def test_host_cpu_stats(self):
        first = self.driver.get_host_cpu_stats()
        self.assertEqual({'kernel', 'idle', 'user', 'iowait', 'frequency'},
                         set(first))
        self.assertTrue(all(isinstance(v, int) for v in first.values()))
        # Cumulative nanoseconds: they only grow.
        time.sleep(0.1)
        second = self.driver.get_host_cpu_stats()
        self.assertGreater(second['idle'] + second['user'] +
                           second['kernel'], first['idle'] + first['user'] +
                           first['kernel'])

    def test_admin_password_without_chpasswd_in_the_guest(self):
        # The busybox image has passwd but no chpasswd.
        inst = self.instance()
        self.spawn(inst)
        self.assertRaises(exception.SetAdminPasswdNotSupported,
                          self.driver.set_admin_password, inst, 'secret')

    def test_admin_password_with_a_line_break_refused(self):
        inst = self.instance()
        self.spawn(inst)
        error = self.assertRaises(exception.InstancePasswordSetFailed,
                                  self.driver.set_admin_password, inst,
                                  'secret\nother:pw')
        self.assertNotIn('secret', str(error))
