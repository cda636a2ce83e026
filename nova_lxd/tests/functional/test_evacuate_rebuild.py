"""Rebuild and evacuate through nova's API (nova's default rebuild: the
container is deleted and spawned again from the image)."""
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.tests.functional import base


class RebuildTest(base.LXDTestCase):

    def test_rebuild_recreates_the_container_from_the_new_image(self):
        first = self.register_image()
        second = self.register_image(name='busybox-2')
        flavor = self.create_flavor_with(vcpus=1, memory_mb=128)
        server = self._create_server(image_uuid=first, flavor_id=flavor,
                                     networks='none')
        self.guest_run(server, 'touch', '/old-root')
        server = self._rebuild_server(server, second)
        container = self.container(server)
        self.assertEqual(('Running', server['id']), (
            container.status, container.config[definition.UUID_KEY]))
        self.assertEqual(1, base.execute(
            container, ['test', '-e', '/old-root']).exit_code)
        self.assertEqual(sorted([first, second]), sorted(
            a['name'] for i in self.lxd.images.all() for a in i.aliases))


class TwoDaemonsEvacuateTest(base.LXDTestCase):
    """Evacuate from a failed host ('compute', the local daemon) to another
    ('compute2', the second daemon).  In the TwoDaemons test group
    (.stestr.conf)."""

    def test_evacuate_then_the_old_host_deletes_its_leftover(self):
        image = self.register_image()
        flavor = self.create_flavor_with(vcpus=1, memory_mb=128)
        server = self._create_server(image_uuid=image, flavor_id=flavor,
                                     networks='none')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        target, _compute2 = self.start_compute_on_second_daemon('compute2')
        # The host fails: its service stops, the operator forces it down;
        # its container is still there.
        self.computes['compute'].stop()
        [service] = self.admin_api.get_services(binary='nova-compute',
                                                host='compute')
        self.admin_api.put_service_force_down(service['id'], True)
        # Since API 2.95 an evacuated server arrives stopped.
        server = self._evacuate_server(server, expected_host='compute2',
                                       expected_state='SHUTOFF')
        moved = target.client.instances.get(name)
        self.assertEqual(('Stopped', server['id']), (
            moved.status, moved.config[definition.UUID_KEY]))
        self.assertEqual([name], self.project.names())
        self._start_server(server)
        self.assertEqual('Running', target.client.instances.get(name).status)
        # The old host comes back: nova-compute's start deletes what was
        # evacuated from it, and only that (nova lets it be forced up only
        # then).
        self.restart_compute_service(self.computes['compute'],
                                     keep_hypervisor_state=False)
        self.assertEqual([], self.project.names())
        self.admin_api.put_service_force_down(service['id'], False)
        self.assertEqual('Running', target.client.instances.get(name).status)
