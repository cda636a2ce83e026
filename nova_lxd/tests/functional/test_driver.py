"""LXDDriver called directly (as nova-compute does) on the real daemon."""
import uuid

import fixtures
from nova.compute import power_state
from nova import context as nova_context
from nova import exception
from nova.network import model as network_model
from nova import objects
from nova import test
from nova.virt import fake

from nova_lxd.nova.virt.lxd import driver as lxd_driver
from nova_lxd.tests.functional import base
from nova_lxd.tests import image_fakes


class DriverTest(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        image_file = base.image_path('NOVA_LXD_TEST_BUSYBOX_IMAGE')
        self.project = self.useFixture(base.LXDProjectFixture())
        self.flags(project=self.project.name, pool='default', group='lxd')
        self.flags(instances_path=self.useFixture(fixtures.TempDir()).path)
        self.glance = self.useFixture(image_fakes.ImageServiceFixture())
        with open(image_file, 'rb') as data:
            self.image_meta = self.glance.add(data.read())
        self.driver = lxd_driver.LXDDriver(fake.FakeVirtAPI())
        self.driver.init_host('compute')
        self.context = nova_context.get_admin_context()

    def instance(self):
        flavor = objects.Flavor(vcpus=1, memory_mb=128, root_gb=0,
                                ephemeral_gb=0, swap=0, extra_specs={})
        return objects.Instance(
            uuid=str(uuid.uuid4()), hostname='drv', flavor=flavor,
            config_drive='', launched_at=None,
            image_ref=self.image_meta.id, id=uuid.uuid4().int % 10 ** 6,
            system_metadata={})

    def spawn(self, inst, power_on=True):
        self.driver.spawn(self.context, inst, self.image_meta, [], None, {},
                          network_model.NetworkInfo(), power_on=power_on)

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
