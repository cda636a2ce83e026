"""Server lifecycle through nova's API on real LXD containers (busybox)."""
import subprocess

from nova.compute import power_state

from nova_lxd.nova.virt.lxd import definition as lxd_definition
from nova_lxd.tests.functional import base


class LifecycleTest(base.LXDTestCase):

    def setUp(self):
        super().setUp()
        self.image_id = self.register_image()
        self.flavor_id = self.create_flavor_with(vcpus=1, memory_mb=256)
        self.port = self.create_tap_port()
        self.address = self.port['fixed_ips'][0]['ip_address']

    def boot(self, **kwargs):
        server = self._create_server(
            image_uuid=self.image_id, flavor_id=self.flavor_id,
            networks=[{'port': self.port['id']}], **kwargs)
        return server

    def test_boot_config_network_and_delete(self):
        server = self.boot()
        self.assertEqual('ACTIVE', server['status'])
        inst = self.container(server)
        self.assertEqual('Running', inst.status)
        self.assertEqual(server['id'], inst.config[lxd_definition.UUID_KEY])
        self.assertEqual('256MiB', inst.config['limits.memory'])
        self.assertEqual('1', inst.config['limits.cpu'])
        nic = inst.devices['eth0']
        self.assertEqual(('routed', 'tap' + self.port['id'][:11],
                          self.port['mac_address'], self.address),
                         (nic['nictype'], nic['host_name'], nic['hwaddr'],
                          nic['ipv4.address']))
        addr = self.guest_run(server, 'ip', '-4', 'addr', 'show', 'eth0')
        self.assertIn(self.address + '/32', addr)
        self.assertEqual(server['OS-EXT-SRV-ATTR:hostname'],
                         self.guest_run(server, 'hostname').strip())
        # The host reaches the guest (a local container) over the tap link.
        ping = subprocess.run(['ping', '-c', '1', '-W', '2', self.address],
                              capture_output=True, text=True, timeout=10)
        self.assertEqual(0, ping.returncode, ping.stdout + ping.stderr)
        self._delete_server(server)
        self.assertEqual([], self.lxd.instances.all())

    def test_power_operations(self):
        server = self.boot()
        name = server['OS-EXT-SRV-ATTR:instance_name']
        server = self._stop_server(server)
        self.assertEqual('Stopped', self.lxd.instances.get(name).status)
        server = self._start_server(server)
        self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('Running', self.lxd.instances.get(name).status)
        self.api.post_server_action(server['id'], {'pause': None})
        self._wait_for_state_change(server, 'PAUSED')
        self.assertEqual('Frozen', self.lxd.instances.get(name).status)
        self.api.post_server_action(server['id'], {'unpause': None})
        self._wait_for_state_change(server, 'ACTIVE')
        server = self._suspend_server(server)
        self.assertEqual(power_state.SUSPENDED,
                         self.compute.driver.get_info(
                             self._instance(server)).state)
        server = self._resume_server(server)
        self.assertEqual('Running', self.lxd.instances.get(name).status)
        for hard in (False, True):
            before = self.container(server).state().pid
            self._reboot_server(server, hard=hard)
            self.assertEqual('Running', self.lxd.instances.get(name).status)
            # A new init process: the container really went down and up.
            self.assertNotEqual(before, self.container(server).state().pid,
                                'HARD' if hard else 'SOFT')
        self._delete_server(server)

    def _instance(self, server):
        from nova import context
        from nova import objects
        return objects.Instance.get_by_uuid(
            context.get_admin_context(), server['id'])

    def test_console_log(self):
        server = self.boot()
        output = self.api.post_server_action(
            server['id'], {'os-getConsoleOutput': {'length': 50}})['output']
        # The test image's inittab writes this line to the console.
        self.assertIn('busybox image: init started', output)

    def test_restart_compute_keeps_containers_running(self):
        server = self.boot()
        name = server['OS-EXT-SRV-ATTR:instance_name']
        before = self.container(server).state().pid
        self.compute = self.restart_compute_service(self.compute)
        self.assertEqual('Running', self.lxd.instances.get(name).status)
        self.assertEqual(before, self.container(server).state().pid)
        self.assertEqual(power_state.RUNNING, self.compute.driver.get_info(
            self._instance(server)).state)
        self.assertEqual(['ACTIVE'], [self.api.get_server(server['id'])[
            'status']])

    def assertNoCreate(self, writes):
        # nova itself destroys after the failure (DELETE requests); the
        # driver must not have created (POST) anything before refusing.
        self.assertEqual([], [w for w in writes if w.startswith('POST')])
        self.assertEqual([], self.lxd.instances.all())
        self.assertEqual([], self.lxd.images.all())

    def test_unsupported_vif_type_fails_before_create(self):
        self.port['binding:vif_type'] = 'vhostuser'
        self.neutron._ports[self.port['id']] = self.port
        writes = self.record_writes()
        server = self._create_server(
            image_uuid=self.image_id, flavor_id=self.flavor_id,
            networks=[{'port': self.port['id']}], expected_state='ERROR')
        self.assertIn('vhostuser', server['fault']['message'])
        self.assertNoCreate(writes)

    def test_unpermitted_extra_spec_fails_before_create(self):
        # The API checks the form; the compute host its operator's policy.
        flavor_id = self.create_flavor_with(
            extra_specs={'lxd:security.privileged': 'true'})
        writes = self.record_writes()
        server = self._create_server(
            image_uuid=self.image_id, flavor_id=flavor_id,
            networks=[{'port': self.port['id']}], expected_state='ERROR')
        self.assertIn('lxd:security.privileged', server['fault']['message'])
        self.assertNoCreate(writes)
