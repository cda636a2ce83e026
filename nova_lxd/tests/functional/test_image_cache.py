"""nova's image cache on LXD: pre-caching through the aggregate API
(microversion 2.81) and the cache manager's pass deleting unused images."""
from nova import context as nova_context

from nova_lxd.tests.functional import base


class ImageCacheTest(base.LXDTestCase):

    def setUp(self):
        super().setUp()
        self.image_id = self.register_image()
        self.flavor_id = self.create_flavor_with(vcpus=1, memory_mb=128)

    def aliases(self):
        return sorted(a['name'] for image in self.lxd.images.all()
                      for a in image.aliases)

    def test_aggregate_precache_imports_the_image(self):
        aggregate = self.admin_api.post_aggregate(
            {'aggregate': {'name': 'lxd-hosts'}})
        self.admin_api.add_host_to_aggregate(aggregate['id'], 'compute')
        self.assertEqual([], self.aliases())
        self.admin_api.api_post(
            f'/os-aggregates/{aggregate["id"]}/images',
            {'cache': [{'id': self.image_id}]}, check_response_status=[202])
        self.assertEqual([self.image_id], self.aliases())
        # The boot finds it there: no second import.
        server = self._create_server(image_uuid=self.image_id,
                                     flavor_id=self.flavor_id,
                                     networks='none')
        self.assertEqual(1, len(self.lxd.images.all()))
        self._delete_server(server)

    def cache_manager_pass(self):
        self.compute.manager._run_image_cache_manager_pass(
            nova_context.get_admin_context())

    def test_cache_manager_deletes_images_no_instance_uses(self):
        self.flags(remove_unused_original_minimum_age_seconds=0,
                   group='image_cache')
        server = self._create_server(image_uuid=self.image_id,
                                     flavor_id=self.flavor_id,
                                     networks='none')
        self.cache_manager_pass()
        self.assertEqual([self.image_id], self.aliases())
        self._delete_server(server)
        self.cache_manager_pass()
        self.assertEqual([], self.lxd.images.all())

    def test_cache_manager_keeps_recently_used_images(self):
        server = self._create_server(image_uuid=self.image_id,
                                     flavor_id=self.flavor_id,
                                     networks='none')
        self._delete_server(server)
        self.cache_manager_pass()  # default: unused for a day first
        self.assertEqual([self.image_id], self.aliases())
