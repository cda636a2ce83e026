"""Snapshots of instances into glance, and instances booted from them, on
the real daemon."""
from nova.compute import task_states
from nova import exception
from nova import objects

from nova_lxd.tests.functional import base


class SnapshotDriverTest(base.DriverTestCase):
    """LXDDriver.snapshot with image_fakes' glance (which keeps the data)."""

    def snapshot(self, inst):
        record = self.glance.add(b'', name='snap', status='queued')
        states = []

        def update_task_state(task_state, expected_state=None):
            states.append((task_state, expected_state))
        self.driver.snapshot(self.context, inst, record.id,
                             update_task_state)
        return record.id, states

    def boot_from(self, image_id):
        """A new instance from the glance image; returns it."""
        inst = self.instance()
        meta = objects.ImageMeta.from_dict(self.glance.show(None, image_id))
        self.driver.spawn(self.context, inst, meta, [], None, {})
        return inst

    def leftovers(self):
        """Images and snapshots left in LXD (besides the boot image)."""
        client = self.project.client
        images = [i.fingerprint for i in client.images.all()
                  if 'nova snapshot' in i.properties.get('description', '')]
        snapshots = [url for name in self.project.names()
                     for url in client.api.instances[name].snapshots.get(
                     ).json()['metadata']]
        return images + snapshots

    def test_running_instance_keeps_running_and_the_image_boots(self):
        inst = self.instance()
        self.spawn(inst)
        pid = self.init_pid(inst)
        base.execute(self.container(inst), [
            'sh', '-c', 'echo from-snapshot > /root/marker; sync'])
        image_id, states = self.snapshot(inst)
        self.assertEqual(
            [(task_states.IMAGE_PENDING_UPLOAD, None),
             (task_states.IMAGE_UPLOADING, task_states.IMAGE_PENDING_UPLOAD)],
            states)
        self.assertEqual(pid, self.init_pid(inst))
        glance_image = self.glance.show(None, image_id)
        self.assertEqual(('raw', 'bare', 'active'), (
            glance_image['disk_format'], glance_image['container_format'],
            glance_image['status']))
        self.assertEqual([], self.leftovers())
        clone = self.boot_from(image_id)
        out = base.execute(self.container(clone), ['cat', '/root/marker'])
        self.assertEqual('from-snapshot\n', out.stdout)

    def test_stopped_instance(self):
        inst = self.instance()
        self.spawn(inst, power_on=False)
        image_id, _states = self.snapshot(inst)
        self.assertEqual('Stopped', self.container(inst).status)
        self.assertGreater(self.glance.show(None, image_id)['size'], 0)
        self.boot_from(image_id)

    def test_failed_upload_leaves_nothing_in_lxd(self):
        inst = self.instance()
        self.spawn(inst)

        def lost(*args, **kwargs):
            raise exception.ImageNotFound(image_id='gone')
        self.glance.update = lost
        self.assertRaises(exception.ImageNotFound, self.snapshot, inst)
        self.assertEqual([], self.leftovers())


class ShelveTest(base.LXDTestCase):
    """Shelve (snapshot + offload) and unshelve through nova's API; nova's
    glance fixture is made to keep the snapshot's data."""

    def setUp(self):
        super().setUp()
        self.image_id = self.register_image()
        glance = self.glance
        update = glance.update

        def update_keeping_data(context, image_id, metadata, data=None,
                                purge_props=False):
            if data is not None:
                glance._imagedata[image_id] = b''.join(
                    iter(lambda: data.read(1 << 20), b''))
            return update(context, image_id, metadata,
                          purge_props=purge_props)
        self.stub_out('nova.tests.fixtures.GlanceFixture.update',
                      lambda _self, *a, **k: update_keeping_data(*a, **k))

    def test_shelve_offload_unshelve(self):
        self.flags(shelved_offload_time=-1)
        server = self._create_server(
            image_uuid=self.image_id, flavor_id=self.create_flavor_with(),
            networks='none')
        self.guest_run(server, 'sh', '-c', 'echo kept > /root/marker')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.api.post_server_action(server['id'], {'shelve': None})
        self._wait_for_state_change(server, 'SHELVED')
        self.api.post_server_action(server['id'], {'shelveOffload': None})
        server = self._wait_for_state_change(server, 'SHELVED_OFFLOADED')
        self.assertNotIn(name, self.project.names())
        self.api.post_server_action(server['id'], {'unshelve': None})
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('kept\n',
                         self.guest_run(server, 'cat', '/root/marker'))
        self._delete_server(server)
