"""init_host against the real daemon: clear errors naming value and fix."""
from nova import test
from nova.virt import fake

from nova_lxd.nova.virt.lxd import driver as lxd_driver
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.tests.functional import base


class InitHostTest(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.project = self.useFixture(base.LXDProjectFixture())
        self.flags(project=self.project.name, pool='default', group='lxd')

    def driver(self):
        return lxd_driver.LXDDriver(fake.FakeVirtAPI())

    def test_creates_missing_project_only(self):
        self.assertFalse(self.project.admin.projects.exists(
            self.project.name))
        self.driver().init_host('compute')
        project = self.project.admin.projects.get(self.project.name)
        self.assertEqual('true', project.config['features.images'])
        # A second start (nova-compute restart) changes nothing.
        self.driver().init_host('compute')

    def test_missing_pool_lists_existing_pools(self):
        self.flags(pool='no-such-pool', group='lxd')
        e = self.assertRaises(lxd_exception.LXDStoragePoolNotFound,
                              self.driver().init_host, 'compute')
        self.assertIn('no-such-pool', str(e))
        self.assertIn('default', str(e))
        self.assertIn('lxc storage create', str(e))

    def test_unreachable_socket_names_it_and_the_fix(self):
        self.flags(endpoint='/nonexistent/lxd.socket', group='lxd')
        e = self.assertRaises(lxd_exception.LXDUnreachable,
                              self.driver().init_host, 'compute')
        self.assertIn('/nonexistent/lxd.socket', str(e))
        self.assertIn('group', str(e))

    def test_missing_profile_refused(self):
        self.flags(profiles=['site-defaults'], group='lxd')
        e = self.assertRaises(lxd_exception.LXDDriverError,
                              self.driver().init_host, 'compute')
        self.assertIn('site-defaults', str(e))
