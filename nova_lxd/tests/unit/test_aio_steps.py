"""The step table of the demo and the cloud smoke test."""
import io
from unittest import mock

import testtools

from nova_lxd.aio import steps


class StepTableTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.out = io.StringIO()
        self.stdout = mock.patch('sys.stdout', self.out)
        self.stdout.start()
        self.addCleanup(self.stdout.stop)
        self.table = steps.StepTable()

    def test_a_raising_step_is_a_failed_row_and_the_run_goes_on(self):
        def broken():
            raise ValueError('no such port')
        self.assertFalse(self.table.step('first', broken))
        self.assertTrue(self.table.step('second', lambda: 'fine'))
        self.assertEqual([('first', False, 'FAILED: ValueError: no such port'),
                          ('second', True, 'fine')],
                         [(r[0], r[2], r[3]) for r in self.table.rows])
        self.assertEqual(1, self.table.report('smoke'))
        self.assertIn('smoke: 1 step(s) failed:\n  first: FAILED',
                      self.out.getvalue())

    def test_a_step_whose_prerequisite_failed_is_skipped_not_run(self):
        ran = []
        self.assertFalse(self.table.step('later', lambda: ran.append(1),
                                         True, False))
        self.assertEqual([], ran)
        self.assertEqual((None, 'skipped: an earlier step failed'),
                         self.table.rows[0][2:])
        self.assertEqual(0, self.table.report('demo'))
        self.assertIn('demo: all steps passed', self.out.getvalue())
