"""P7: many small instances on this host (``tools/bench scale``).

LXDDriver in this process, on a project of the benchmark's own, fills the
host with ``--instances`` busybox instances (``LXDDriver.spawn``, the same
small flavor as ``tools/bench``).  At 10 running instances and again at
``--instances``:

* spawn p50/p95 of one more instance (spawned and destroyed, ``--runs``
  times) against raw pylxd create + start of the same container at the
  same population, alternating;
* the LXD requests of the resource tracker periodic
  (``get_available_resource`` + ``update_provider_tree``) and of the power
  state sync (``get_num_instances`` + ``get_info`` of each instance);
* this process's resident memory (after a garbage collection): its growth
  between the two points, per instance, is what each instance costs the
  driver in nova-compute.

Everything is deleted at the end, also after an error or Ctrl-C.
"""
import gc
import statistics
import sys

import psutil

from benchmarks import lib
from benchmarks import lifecycle
from benchmarks import report
from benchmarks.lib import log

FIRST = 10  # the first measuring point (instances running)
TARGET_P50 = 1.10  # p50 growth FIRST -> --instances, driver / raw (flat)


def percentile(values, fraction):
    """The value below which ``fraction`` of ``values`` lie (nearest
    rank)."""
    ordered = sorted(values)
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


class Bench(lifecycle.Bench):

    def __init__(self, args):
        super().__init__(args)
        self.instances = []
        self.rss = {}
        self.fingerprint = self.meta = None

    def grow_to(self, size):
        log(f'spawning up to {size} instances')
        while len(self.instances) < size:
            inst = self.instance(self.meta.id)
            self.measure('ramp spawn', 'driver', self.spawn, inst, self.meta)
            self.instances.append(inst)

    def driver_one(self, size, measured):
        inst = self.instance(self.meta.id)
        self.measure(f'spawn at {size}', 'driver', self.spawn, inst,
                     self.meta)
        self.destroy(inst)
        if not measured:
            self.drop_last('driver', (f'spawn at {size}',))

    def raw_one(self, size, measured):
        inst = self.measure(f'spawn at {size}', 'raw', lib.raw_spawn,
                            self.raw, self.raw_definition(self.fingerprint))
        lib.raw_destroy(inst)
        if not measured:
            self.drop_last('raw', (f'spawn at {size}',))

    def at(self, size):
        self.grow_to(size)
        log(f'at {size}: {self.args.warmup} + {self.args.runs} rounds')
        lib.rounds(self.args, [
            lambda measured: self.driver_one(size, measured),
            lambda measured: self.raw_one(size, measured)])
        self.periodic_at(size, self.instances)
        gc.collect()
        self.rss[size] = psutil.Process().memory_info().rss

    def run(self):
        self.setup()
        with self.glance:
            self.meta = self.glance.add_file(
                f'{self.args.cache}/images/{lib.IMAGES["busybox"]}',
                name='bench busybox')
            self.driver._images.ensure_image(self.context, self.meta)
            self.fingerprint = self.driver._session.image_by_alias(
                self.meta.id)
            try:
                for size in (FIRST, self.args.instances):
                    self.at(size)
            finally:
                log(f'removing {len(self.instances)} instance(s)')
                self.project.remove_instances(
                    [i.name for i in self.instances])


def _ms(seconds):
    return f'{seconds * 1000:.0f} ms'


def render(bench):
    n, rows, lines = bench.args.instances, [], []
    p50 = {}
    for size in (FIRST, n):
        key = f'spawn at {size}'
        for label, fraction in (('p50', 0.5), ('p95', 0.95)):
            ours = percentile(bench.samples[key, 'driver'], fraction)
            raw = percentile(bench.samples[key, 'raw'], fraction)
            p50.setdefault(size, (ours, raw))
            rows.append((f'spawn {label} at {size} instances', _ms(ours),
                         _ms(raw), f'{ours / raw:.3f}', '', ''))
    # LXD itself slows down with more containers; what must stay flat is
    # the driver's share.
    growth = [p50[n][i] / p50[FIRST][i] for i in (0, 1)]
    ratio = growth[0] / growth[1]
    rows.append((f'spawn p50 growth, {FIRST} -> {n} instances',
                 f'{growth[0]:.3f}', f'{growth[1]:.3f}', f'{ratio:.3f}',
                 f'<= {TARGET_P50:.2f}',
                 'PASS' if ratio <= TARGET_P50 else 'MISS'))
    rt = [bench.counts['RT periodic', s] for s in (FIRST, n)]
    rows.append((f'RT periodic LXD requests at {FIRST} / {n}',
                 f'{rt[0]} / {rt[1]}', '', '', 'constant',
                 'PASS' if rt[0] == rt[1] else 'MISS'))
    sync = [bench.counts['power sync', s] for s in (FIRST, n)]
    rows.append((f'power sync LXD requests at {FIRST} / {n}',
                 f'{sync[0]} / {sync[1]}', '', '', 'constant',
                 'PASS' if sync[0] == sync[1] else 'MISS'))
    per_instance = (bench.rss[n] - bench.rss[FIRST]) / (n - FIRST)
    rows.append(('driver memory per instance', f'{per_instance / 1024:.0f} '
                 'KiB', '', '', '', ''))
    ramp = bench.samples['ramp spawn', 'driver']
    lines.append(f'  ramp to {n}: spawn p50 {_ms(statistics.median(ramp))}, '
                 f'p95 {_ms(percentile(ramp, 0.95))}, max {_ms(max(ramp))}')
    lines.append(f'  resident memory: {bench.rss[FIRST] >> 20} MiB at '
                 f'{FIRST}, {bench.rss[n] >> 20} MiB at {n}')
    lines += bench.notes
    return report.table(rows) + lines


def main(argv=None):
    parser = lib.arg_parser('tools/bench scale', 'many small instances '
                            'through LXDDriver against raw pylxd',
                            'holds images/busybox-rootfs.tar.gz')
    parser.set_defaults(runs=7)
    parser.add_argument('--instances', type=int, default=200,
                        help='instances at the second point (default 200)')
    args = parser.parse_args(argv)
    if args.instances <= FIRST:
        parser.error(f'--instances must be more than {FIRST}')
    return lib.main(Bench(args), render)


if __name__ == '__main__':
    sys.exit(main())
