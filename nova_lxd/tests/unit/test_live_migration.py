"""Live migration is refused by the prechecks, before anything moves."""
from nova import exception
from nova import objects
from nova import test
from nova.virt import fake

from nova_lxd.nova.virt.lxd import driver as lxd_driver


class LiveMigrationPrecheckTest(test.NoDBTestCase):

    def test_both_prechecks_refuse_with_the_reason(self):
        driver = lxd_driver.LXDDriver(fake.FakeVirtAPI())
        instance = objects.Instance(uuid='0b7c6c62-3f8e-4a36-9b3c-'
                                         '4c3f4b1f6b2a')
        for check, args in (
                (driver.check_can_live_migrate_destination, ({}, {})),
                (driver.check_can_live_migrate_source, ({},))):
            e = self.assertRaises(exception.MigrationPreCheckError, check,
                                  None, instance, *args)
            self.assertIn('CRIU', str(e))
            self.assertIn('stopped', str(e))
