"""A table of timed steps, one printed row each: the demo's and the cloud
smoke test's output.  A step that raises is a failed row, never the end of
the run; a step whose prerequisites failed is skipped."""
import time

ROW = '{:<26} {:>8}  {}'


class Skip(Exception):
    """A step that cannot run (an earlier step failed, or it does not apply);
    the message says why."""


class StepTable:
    """Runs steps in order and keeps their rows: ``(name, seconds, ok,
    result)`` with ok True (passed), False (failed) or None (skipped)."""

    def __init__(self):
        self.rows = []
        print(ROW.format('step', 'seconds', 'result'), flush=True)

    def step(self, name, func, *needs):
        """Run ``func()`` unless one of ``needs`` is falsy; print the row.

        :returns: True when the step passed.
        """
        t0 = time.monotonic()
        try:
            if not all(needs):
                raise Skip('an earlier step failed')
            result, ok = func(), True
        except Skip as e:
            result, ok = f'skipped: {e}', None
        except Exception as e:
            result, ok = f'FAILED: {type(e).__name__}: {e}', False
        secs = time.monotonic() - t0
        self.rows.append((name, secs, ok, result))
        print(ROW.format(name, f'{secs:.1f}', result), flush=True)
        return ok is True

    @property
    def failed(self):
        """Rows of failed steps."""
        return [r for r in self.rows if r[2] is False]

    def report(self, prog):
        """Print the total and the failures; return the exit status
        (0: no step failed)."""
        total = sum(r[1] for r in self.rows)
        print(ROW.format('total', f'{total:.1f}', ''), flush=True)
        if not self.failed:
            print(f'{prog}: all steps passed', flush=True)
            return 0
        print(f'{prog}: {len(self.failed)} step(s) failed:', flush=True)
        for name, _secs, _ok, result in self.failed:
            print(f'  {name}: {result}', flush=True)
        return 1
