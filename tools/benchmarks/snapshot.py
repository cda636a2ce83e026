"""Instance snapshot to glance: LXDDriver against raw LXD (``tools/bench
snapshot``, target P8 <= 1.1).

One running container per side from the same image.  Per round, driver:
``LXDDriver.snapshot`` into the glance stand-in (image_fakes, which reads
the whole upload); raw: pylxd snapshot, publish of the snapshot, export
read to the end, then the temporary image and snapshot deleted, as the
driver does.  Medians of ``--runs``.
"""
import collections
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time

from nova import context as nova_context

from benchmarks import lib
from benchmarks import report
from nova_lxd.nova.virt.lxd import disks
from nova_lxd.tests import image_fakes

IMAGES = lib.IMAGES
TARGET = 1.10


class Bench:

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix='nova-lxd-bench-')
        lib.configure(args.project, self.tmp, args.pool)
        if args.compression:
            lib.CONF.set_override('snapshot_compression', args.compression,
                                  group='lxd')
        self.glance = image_fakes.ImageServiceFixture()
        self.context = nova_context.get_admin_context()
        self.serial = itertools.count(1)
        self.samples = collections.defaultdict(list)
        self.project = self.driver = None

    def close(self):
        if self.project is not None:
            self.project.delete()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def driver_round(self, inst, measured):
        record = self.glance.add(b'', name='bench snapshot')
        start = time.perf_counter()
        self.driver.snapshot(self.context, inst, record.id,
                             lambda **kwargs: None)
        if measured:
            self.samples['driver'].append(time.perf_counter() - start)
        del self.glance.data[record.id]

    def raw_round(self, client, inst, measured):
        start = time.perf_counter()
        inst.snapshots.create('raw-snap', wait=True)
        response = client.api.images.post(json={'source': {
            'type': 'snapshot', 'name': f'{inst.name}/raw-snap'}, **(
                {'compression_algorithm': self.args.compression}
                if self.args.compression else {})})
        operation = client.operations.wait_for_operation(
            response.json()['operation'])
        fingerprint = operation.metadata['fingerprint']
        inst.snapshots.get('raw-snap').delete(wait=True)
        export = client.api.images[fingerprint].export.get(stream=True)
        for _chunk in export.iter_content(1 << 20):
            pass
        client.images.get(fingerprint).delete(wait=True)
        if measured:
            self.samples['raw'].append(time.perf_counter() - start)

    def run(self):
        self.driver, self.project = lib.driver_in_project(self.args.project)
        path = os.path.join(self.args.cache, 'images', IMAGES[self.args.image])
        with self.glance:
            meta = self.glance.add_file(path, name=f'bench {self.args.image}')
            inst = lib.make_instance(next(self.serial), meta.id)
            self.driver.spawn(self.context, inst, meta, [], None, {})
            client = self.project.client()
            fingerprint = self.driver._session.image_by_alias(meta.id)
            quota = disks.pool_features(self.driver._session.storage_pool(
                self.args.pool))[0]
            raw = lib.raw_spawn(client, lib.raw_definition(
                next(self.serial), fingerprint, self.args.pool, quota))
            lib.log(f'snapshot {self.args.image}: {self.args.warmup} + '
                    f'{self.args.runs} rounds')
            lib.rounds(self.args, [
                lambda measured: self.driver_round(inst, measured),
                lambda measured: self.raw_round(client, raw, measured)])


def render(bench):
    driver = statistics.median(bench.samples['driver'])
    raw = statistics.median(bench.samples['raw'])
    ratio = driver / raw
    return report.table([(
        f'snapshot -> glance ({bench.args.image}, {bench.args.pool})',
        f'{driver * 1000:.0f} ms', f'{raw * 1000:.0f} ms', f'{ratio:.3f}',
        f'<= {TARGET:.2f}', 'PASS' if ratio <= TARGET else 'MISS')])


def main(argv=None):
    parser = lib.arg_parser('tools/bench snapshot', 'Instance snapshot to '
                            'glance against raw LXD publish + export',
                            'holds images/<name>-rootfs.tar.gz')
    parser.add_argument('--image', choices=sorted(IMAGES), default='busybox')
    parser.add_argument('--compression',
                        help="LXD's compression of the published image "
                             "(both sides; default: the daemon's)")
    return lib.main(Bench(parser.parse_args(argv)), render)


if __name__ == '__main__':
    sys.exit(main())
