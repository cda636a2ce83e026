"""Tempest feature flags follow what a driver class implements."""
import testtools

from nova.virt import driver as base

from nova_lxd.aio import tempest_flags
from nova_lxd.nova.virt.lxd import driver as lxd_driver


class PausesOnly(base.ComputeDriver):
    capabilities = dict(base.ComputeDriver.capabilities,
                        supports_attach_interface=False)

    def pause(self, instance):
        """Pauses."""

    def unpause(self, instance):
        """Unpauses."""

    def suspend(self, context, instance):
        """Suspends, but cannot resume: no suspend flag."""


class TempestFlagsTest(testtools.TestCase):

    def test_flags_follow_the_overridden_methods_and_capabilities(self):
        flags = tempest_flags.compute_feature_flags(PausesOnly)
        self.assertTrue(flags['pause'])
        self.assertFalse(flags['suspend'])
        self.assertFalse(flags['snapshot'])
        self.assertFalse(flags['interface_attach'])
        self.assertTrue(flags['config_drive'])

    def test_the_lxd_driver(self):
        flags = tempest_flags.compute_feature_flags()
        self.assertEqual(
            (True, True, True, True, False, False),
            (flags['console_output'], flags['pause'], flags['suspend'],
             flags['interface_attach'], flags['live_migration'],
             flags['metadata_service']))
        self.assertEqual(lxd_driver.LXDDriver.capabilities[
            'supports_multiattach'], flags['volume_multiattach'])
