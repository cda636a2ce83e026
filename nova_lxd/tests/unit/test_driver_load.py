"""Both documented compute_driver spellings load the one LXDDriver."""
import subprocess
import sys

from nova import test
from nova.virt import driver
from nova.virt import fake

from nova_lxd.nova.virt.lxd import driver as lxd_driver
from nova_lxd.nova.virt.lxd import endpoints


class DriverLoadTest(test.NoDBTestCase):

    def test_both_spellings_give_the_same_class(self):
        for spelling in ('lxd.LXDDriver',
                         'nova_lxd.nova.virt.lxd.LXDDriver'):
            loaded = driver.load_compute_driver(fake.FakeVirtAPI(), spelling)
            self.assertIs(lxd_driver.LXDDriver, type(loaded), spelling)

    def test_no_second_copy_of_any_module(self):
        driver.load_compute_driver(fake.FakeVirtAPI(),
                                   'nova_lxd.nova.virt.lxd.LXDDriver')
        alias = sys.modules['nova.virt.nova_lxd.nova.virt.lxd']
        self.assertIs(sys.modules['nova_lxd.nova.virt.lxd'], alias)
        self.assertNotIn('nova.virt.nova_lxd.nova.virt.lxd.driver',
                         sys.modules)

    def test_public_api_signatures(self):
        self.assertPublicAPISignatures(
            driver.ComputeDriver(None),
            lxd_driver.LXDDriver(fake.FakeVirtAPI()))

    def test_capabilities_honest(self):
        caps = lxd_driver.LXDDriver.capabilities
        self.assertTrue(caps['supports_image_type_raw'])
        self.assertEqual(['has_imagecache',
                          'supports_attach_interface',
                          'supports_evacuate',
                          'supports_extend_volume',
                          'supports_image_type_raw',
                          'supports_migrate_to_same_host',
                          'supports_pcpus'],
                         sorted(k for k, v in caps.items() if v))

    def test_works_where_eventlet_cannot_be_imported(self):
        # nova-compute 34 runs native threads, where importing eventlet
        # raises ImportError; the driver must load and start there.
        code = ('import nova.cmd.compute; '
                'from nova.virt import fake; '
                'import nova_lxd.nova.virt.lxd as lxd; '
                'lxd.LXDDriver(fake.FakeVirtAPI())')
        self.assertEqual(0, subprocess.call([sys.executable, '-c', code]))


class EndpointTest(test.NoDBTestCase):

    def test_https_and_explicit_socket(self):
        self.assertEqual(('https://h:8443', True),
                         endpoints.find_endpoint('https://h:8443'))
        self.assertEqual(('/tmp/x.socket', False),
                         endpoints.find_endpoint('/tmp/x.socket'))
