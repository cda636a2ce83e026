"""The table and the details ``tools/bench`` prints.  Pure formatting.

Inputs are a :class:`benchmarks.lifecycle.Bench` after its run: samples in
seconds (timed keys) or request counts (``'<key> requests'``) per side
(``'driver'`` / ``'raw'``), per-size request counts of the periodic work,
request trails and notes.
"""
import re
import statistics

# Operation ids, glance image ids and fingerprints in request trails.
_IDS = re.compile(r'\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                  r'[0-9a-f]{12}\b|\b[0-9a-f]{64}\b')
HEADER = ('metric', 'driver', 'raw', 'ratio', 'target', 'verdict')
# The steps of ImageStore.ensure_image, timed by explicit hooks (the glance
# stand-in's own clock, requests' elapsed time of each LXD request): glance
# show (metadata), LXD lookups (alias, server, pool space), the upload
# streamed from the glance download and checked member by member on the
# way, the alias, and the rest (inspection of the first bytes before the
# upload starts, locks, metadata tarball, logging).
PHASES = ('glance show', 'LXD lookups', 'streamed upload', 'LXD alias',
          'other')


def _median(samples, key, side):
    return statistics.median(samples[key, side])


def timed_row(metric, samples, key, target):
    """A row comparing median seconds of driver and raw (shown in ms)."""
    driver, raw = (_median(samples, key, s) for s in ('driver', 'raw'))
    ratio = driver / raw
    return (metric, f'{driver * 1000:.1f} ms', f'{raw * 1000:.1f} ms',
            f'{ratio:.3f}', f'<= {target:.2f}',
            'PASS' if ratio <= target else 'MISS')


def count_row(metric, samples, key):
    """A row comparing median LXD requests of driver and raw (no target)."""
    driver, raw = (_median(samples, key + ' requests', s)
                   for s in ('driver', 'raw'))
    return (metric, f'{driver:g}', f'{raw:g}', f'{driver / raw:.2f}',
            'info', '-')


def periodic_rows(counts, sizes, limit):
    """Rows of the periodic request counts at each instance count."""
    rows = []
    for what in ('RT periodic', 'power sync'):
        first = counts[what, sizes[0]]
        for size in sizes:
            count = counts[what, size]
            target = f'<= {limit}'
            if size != sizes[0]:
                target += f', = @{sizes[0]}'
            verdict = 'PASS' if count <= limit and count == first else 'MISS'
            rows.append((f'{what} requests @{size} inst', str(count), '-',
                         '-', target, verdict))
    return rows


def table(rows):
    """Aligned lines: the header, then one line per row."""
    rows = [HEADER] + list(rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])]
        lines.append('  '.join(cells))
    return lines


def spread(samples, key):
    """``key: driver min/median/max ms; raw ...`` (the noise)."""
    parts = []
    for side in ('driver', 'raw'):
        values = sorted(samples[key, side])
        parts.append(f'{side} {values[0] * 1000:.0f}/'
                     f'{statistics.median(values) * 1000:.0f}/'
                     f'{values[-1] * 1000:.0f}')
    return f'  {key} (min/median/max ms, n={len(values)}): ' + '; '.join(parts)


def phase_lines(samples, key):
    """Where the driver's image sync time goes, against the raw upload."""
    phases = {p: _median(samples, f'{key}: {p}', 'driver') * 1000
              for p in PHASES if samples.get((f'{key}: {p}', 'driver'))}
    raw = _median(samples, key, 'raw') * 1000
    driver = _median(samples, key, 'driver') * 1000
    listed = ', '.join(f'{p} {ms:.0f}' for p, ms in phases.items())
    upload = phases.get('streamed upload', 0.0)
    return [f'  {key}: driver phases (median ms): {listed}',
            f'    driver - raw = {driver - raw:.0f} ms: the driver\'s upload '
            f'(glance download streamed into LXD) takes {upload:.0f} ms, the '
            f'raw upload of the local file {raw:.0f} ms']


def trail_lines(trails, key):
    """The LXD requests of the last run of ``key``, per side."""
    lines = []
    for side in ('driver', 'raw'):
        trail = trails.get((key, side))
        if trail is not None:
            lines.append(f'  {key} {side} ({len(trail)}): ' +
                         _IDS.sub('{id}', ', '.join(trail)))
    return lines


def report(bench):
    """All lines to print after a successful run of ``bench``."""
    samples, args = bench.samples, bench.args
    sizes = sorted({1, args.instances})
    rows = [timed_row(f'spawn ({args.spawn_image})', samples, 'spawn',
                      bench.TARGETS['spawn']),
            timed_row('destroy', samples, 'destroy',
                      bench.TARGETS['destroy'])]
    for name in args.sync_images:
        rows.append(timed_row(f'image sync {name}', samples,
                              f'sync {name}', bench.TARGETS['sync']))
    rows += [count_row('spawn LXD requests', samples, 'spawn'),
             count_row('destroy LXD requests', samples, 'destroy')]
    for name in args.sync_images:
        rows.append(count_row(f'image sync {name} LXD requests', samples,
                              f'sync {name}'))
    rows += periodic_rows(bench.counts, sizes, bench.TARGETS['requests'])
    lines = table(rows) + ['', 'Details:']
    keys = ['spawn', 'destroy'] + [f'sync {n}' for n in args.sync_images]
    lines += [spread(samples, key) for key in keys]
    for name in args.sync_images:
        lines += phase_lines(samples, f'sync {name}')
    for key in keys:
        lines += trail_lines(bench.trails, key)
    lines += [f'  RT periodic @{sizes[-1]} inst: ' +
              ', '.join(bench.trails['RT periodic', sizes[-1]])]
    lines += [f'  note: {note}' for note in bench.notes]
    return lines
