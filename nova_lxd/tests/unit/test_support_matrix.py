"""support_matrix.py: features from the driver class, tempest summary."""
from nova.virt import driver as base
import testtools

from nova_lxd.aio import support_matrix
from nova_lxd.aio import support_reasons

OUTPUT = """\
{0} tempest.api.compute.servers.test_a.A.test_ok[id-1,smoke] [1.5s] ... ok
{1} tempest.api.compute.servers.test_a.A.test_bad[id-2] [0.3s] ... FAILED
{1} tempest.api.compute.servers.test_a.A.test_bad[id-2] [0.1s] ... FAILED
{0} setUpClass (tempest.api.compute.admin.test_l.L) ... SKIPPED: no live
{0} tempest.api.compute.test_b.B.test_s[id-3] ... SKIPPED: no live
{1} tempest.api.compute.test_b.B.test_t[id-4] ... SKIPPED: Cinder
some other line ... ok
"""
EMPTY = {'passed': 1, 'failed': [], 'skipped': {}, 'run': 'a run'}


class FakeDriver(base.ComputeDriver):
    capabilities = dict(base.ComputeDriver.capabilities,
                        supports_attach_interface=True)

    def attach_interface(self, *args):
        pass

    def detach_interface(self, *args):
        pass


class SummaryTest(testtools.TestCase):

    def test_summarise(self):
        self.assertEqual(
            {'passed': 1,
             'failed': ['tempest.api.compute.servers.test_a.A.test_bad'],
             'skipped': {'no live': 2, 'Cinder': 1}},
            support_matrix.summarise(OUTPUT.splitlines(True)))

    def test_a_rerun_replaces_its_classes(self):
        rerun = [
            '{0} tempest.api.compute.servers.test_a.A.test_bad[id-2] '
            '[2.0s] ... ok',
            '{0} tempest.api.compute.admin.test_l.L.test_x[id-5] [1s] ... ok']
        self.assertEqual(
            {'passed': 3, 'failed': [], 'skipped': {'no live': 1,
                                                    'Cinder': 1}},
            support_matrix.summarise(OUTPUT.splitlines(True), rerun))


class FeatureTest(testtools.TestCase):

    def feature(self, name):
        return next(f for f in support_matrix.FEATURES if f.name == name)

    def test_methods_and_capability(self):
        self.assertTrue(support_matrix.supported(
            self.feature('Interface attach and detach'), FakeDriver))
        self.assertFalse(support_matrix.supported(
            self.feature('Tagged interface attach'), FakeDriver))
        self.assertFalse(support_matrix.supported(
            self.feature('Pause and unpause'), FakeDriver))

    def test_the_real_driver_has_a_reason_for_each_missing_feature(self):
        # Fails when a feature lands and its "why not" is left behind.
        self.assertEqual([], support_matrix.problems(EMPTY))

    def test_stale_and_absent_reasons_are_problems(self):
        found = support_matrix.problems(EMPTY, FakeDriver)
        self.assertIn("'Pause and unpause' is missing without a reason in "
                      "support_reasons.MISSING", found)
        self.add_stale_reason('Interface attach and detach')
        self.assertIn("'Interface attach and detach' is supported now: drop "
                      "its reason in support_reasons.MISSING",
                      support_matrix.problems(EMPTY, FakeDriver))

    def add_stale_reason(self, name):
        reasons = dict(support_reasons.MISSING, **{name: 'stale'})
        self.patch(support_reasons, 'MISSING', reasons)

    def test_unexplained_failure_stops_the_page(self):
        summary = dict(EMPTY, failed=['tempest.X.test_unknown'])
        error = self.assertRaises(ValueError, support_matrix.rst, summary)
        self.assertIn('tempest.X.test_unknown', str(error))

    def test_page(self):
        summary = dict(EMPTY, passed=9, skipped={'no *live*': 3}, failed=[
            'tempest.api.compute.admin.test_server_diagnostics.'
            'ServerDiagnosticsV248Test.test_get_server_diagnostics'])
        page = support_matrix.rst(summary)
        self.assertIn('   * - Pause and unpause\n     - yes\n     - \n',
                      page)
        self.assertIn('   * - Rescue\n     - yes\n', page)
        self.assertIn('   * - Live migration\n     - no\n', page)
        self.assertIn('* passed: 9 of 10 tests that ran (90.0 %)', page)
        self.assertIn('ServerDiagnosticsV248Test', page)
        self.assertIn(r'   * - no \*live\*' + '\n     - 3', page)
