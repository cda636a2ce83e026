"""LXDDriver against raw pylxd on this host's LXD daemon (``tools/bench``).

Prints, measured in one run on the same image (median of ``--runs``, driver
and raw runs alternating):

1. ``LXDDriver.spawn`` / pylxd ``instances.create`` + ``start``;
2. ``LXDDriver.destroy`` / pylxd ``stop(force)`` + ``delete``;
3. first-boot image sync: ``ImageStore.ensure_image`` for a fresh glance
   image id (glance served from the test tarball) / pylxd
   ``images.create`` of the same file with the same metadata tarball, for
   the busybox and the Debian image, with where the driver's time goes;
4. LXD requests of the resource tracker periodic
   (``get_available_resource`` + ``update_provider_tree``) and of the power
   state sync (``get_num_instances`` + ``get_info`` of each instance) at 1
   and at ``--instances`` running instances.

Everything happens in an LXD project of the benchmark's own (``--project``),
deleted with its content at the end, also after an error or Ctrl-C.  A
missed target is a finding: the exit code is non-zero only when the
benchmark itself fails (1) or is interrupted (130).
"""
import collections
import itertools
import os
import shutil
import sys
import tempfile
import time
import traceback
import uuid

from nova.compute import power_state
from nova.compute import provider_tree
from nova import context as nova_context
from nova.network import model as network_model

from nova_lxd.tests import image_fakes
from nova_lxd.nova.virt.lxd import disks
from nova_lxd.nova.virt.lxd import image_format
from benchmarks import lib
from benchmarks import report
from benchmarks.lib import log

NODE = lib.NODE
IMAGES = lib.IMAGES
TARGETS = {'spawn': 1.10, 'destroy': 1.10, 'sync': 1.05, 'requests': 4}


class Bench:
    """One benchmark run: set up, measure, clean up."""

    TARGETS = TARGETS

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix='nova-lxd-bench-')
        lib.configure(args.project, self.tmp, args.pool)
        self.counter = lib.RequestCounter()
        self.glance = image_fakes.ImageServiceFixture()
        self.context = nova_context.get_admin_context()
        self.serial = itertools.count(1)
        self.samples = collections.defaultdict(list)
        self.trails = {}
        self.counts = {}
        self.notes = []
        self.project = self.driver = self.raw = self.fingerprint = None

    # -- set up / clean up ---------------------------------------------------
    def setup(self):
        self.driver, self.project = lib.driver_in_project(self.args.project)
        self.raw = self.project.client()
        self.counter.attach(self.driver._session.client)
        self.counter.attach(self.raw)

    def close(self):
        if self.project is not None:
            log(f'deleting LXD project {self.project.name}')
            try:
                self.project.delete()
            except Exception:
                traceback.print_exc()
                log(f'could not delete LXD project {self.project.name}')
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers -------------------------------------------------------------
    def measure(self, key, side, fn, *args):
        """Run fn; record its seconds and LXD requests; return its result."""
        mark = self.counter.mark()
        start = time.perf_counter()
        result = fn(*args)
        self.samples[key, side].append(time.perf_counter() - start)
        self.samples[key + ' requests', side].append(
            self.counter.since(mark))
        self.trails[key, side] = self.counter.trail_since(mark)
        return result

    def instance(self, image_id):
        return lib.make_instance(next(self.serial), image_id)

    def spawn(self, inst, meta):
        self.driver.spawn(self.context, inst, meta, [], None, {},
                          network_model.NetworkInfo())

    def destroy(self, inst):
        self.driver.destroy(self.context, inst, network_model.NetworkInfo())

    # -- 1 and 2: spawn, destroy --------------------------------------------
    def bench_lifecycle(self, meta, fingerprint):
        log(f'spawn/destroy: {self.args.warmup} + {self.args.runs} rounds')
        self.check_same_definition(meta, fingerprint)
        lib.rounds(self.args, [
            lambda measured: self.driver_lifecycle(meta, measured),
            lambda measured: self.raw_lifecycle(fingerprint, measured)])

    def driver_lifecycle(self, meta, measured):
        inst = self.instance(meta.id)
        self.measure('spawn', 'driver', self.spawn, inst, meta)
        self.measure('destroy', 'driver', self.destroy, inst)
        if not measured:
            self.drop_last('driver', ('spawn', 'destroy'))

    def raw_lifecycle(self, fingerprint, measured):
        definition = self.raw_definition(fingerprint)
        inst = self.measure('spawn', 'raw', lib.raw_spawn, self.raw,
                            definition)
        self.measure('destroy', 'raw', lib.raw_destroy, inst)
        if not measured:
            self.drop_last('raw', ('spawn', 'destroy'))

    def raw_definition(self, fingerprint):
        quota = disks.pool_features(self.driver._session.storage_pool(
            self.args.pool))[0]
        return lib.raw_definition(next(self.serial), fingerprint,
                                  self.args.pool, quota)

    def drop_last(self, side, keys):
        """Forget the last samples of ``keys`` (a warm-up round)."""
        for key in keys:
            for k in (key, key + ' requests'):
                del self.samples[k, side][-1]

    def check_same_definition(self, meta, fingerprint):
        """Note it if LXD holds different containers for the two sides."""
        inst = self.instance(meta.id)
        self.spawn(inst, meta)
        raw = lib.raw_spawn(
            self.raw, self.raw_definition(fingerprint))
        get = self.raw.api.instances
        ours = lib.shape(get[inst.name].get().json()['metadata'])
        theirs = lib.shape(get[raw.name].get().json()['metadata'])
        if ours != theirs:
            self.notes.append(f'definitions differ: driver {ours} / raw '
                              f'{theirs}')
        self.destroy(inst)
        lib.raw_destroy(raw)

    # -- 3: image sync -------------------------------------------------------
    def bench_sync(self, name, path):
        log(f'image sync {name}: {self.args.warmup} + {self.args.runs} '
            f'rounds ({os.path.getsize(path) >> 20} MiB)')
        probe = self.glance.add_file(path, name=f'bench {name}')
        metadata = image_format.metadata_tarball(
            probe, self.driver._session.architecture(),
            image_fakes.CREATED.timestamp())
        key = f'sync {name}'
        lib.rounds(self.args, [
            lambda measured: self.driver_sync(key, path, name, measured),
            lambda measured: self.raw_sync(key, path, metadata, measured)])

    @staticmethod
    def sync_phase(request):
        """The phase of ``ensure_image`` an LXD request belongs to (see
        report.PHASES)."""
        method, path = request.split()[:2]
        if path.startswith('/1.0/images/aliases') and method == 'POST':
            return 'LXD alias'
        if (method, path) == ('POST', '/1.0/images') or \
                path.startswith('/1.0/operations/'):
            return 'streamed upload'
        return 'LXD lookups'

    def driver_sync(self, key, path, name, measured):
        meta = self.glance.add_file(path, name=f'bench {name}')
        shown, mark = self.glance.show_seconds, self.counter.mark()
        self.measure(key, 'driver', self.driver._images.ensure_image,
                     self.context, meta)
        times = self.counter.seconds_since(mark, self.sync_phase)
        times['glance show'] = self.glance.show_seconds - shown
        session = self.driver._session
        self.fingerprint = session.image_by_alias(meta.id)
        session.delete_image(self.fingerprint)
        if not measured:
            self.drop_last('driver', (key,))
            return
        times['other'] = self.samples[key, 'driver'][-1] - sum(times.values())
        for phase, seconds in times.items():
            self.samples[f'{key}: {phase}', 'driver'].append(seconds)

    def raw_sync(self, key, path, metadata, measured):
        lxd_image = self.measure(key, 'raw', lib.raw_import, self.raw,
                                 path, metadata)
        if self.fingerprint not in (None, lxd_image.fingerprint):
            self.notes.append(f'{key}: raw fingerprint '
                              f'{lxd_image.fingerprint} != driver '
                              f'{self.fingerprint}')
        lxd_image.delete(wait=True)
        if not measured:
            self.drop_last('raw', (key,))

    # -- 4: periodic work ----------------------------------------------------
    def bench_periodic(self, meta):
        instances = []
        try:
            for size in sorted({1, self.args.instances}):
                log(f'periodic work at {size} running instance(s)')
                while len(instances) < size:
                    inst = self.instance(meta.id)
                    self.spawn(inst, meta)
                    instances.append(inst)
                self.periodic_at(size, instances)
        finally:
            log(f'removing {len(instances)} instance(s)')
            self.project.remove_instances([i.name for i in instances])

    def periodic_at(self, size, instances):
        tree = provider_tree.ProviderTree()
        tree.new_root(NODE, str(uuid.uuid4()))
        mark = self.counter.mark()
        self.driver.get_available_resource(NODE)
        self.driver.update_provider_tree(tree, NODE)
        self.counts['RT periodic', size] = self.counter.since(mark)
        self.trails['RT periodic', size] = self.counter.trail_since(mark)
        mark = self.counter.mark()
        num = self.driver.get_num_instances()
        states = {self.driver.get_info(i).state for i in instances}
        self.counts['power sync', size] = self.counter.since(mark)
        if num != size or states != {power_state.RUNNING}:
            self.notes.append(f'at {size}: get_num_instances {num}, '
                              f'power states {states}')

    # -- the run -------------------------------------------------------------
    def run(self):
        self.setup()
        images = {name: os.path.join(self.args.cache, 'images', file)
                  for name, file in IMAGES.items()}
        with self.glance:
            meta = self.glance.add_file(
                images[self.args.spawn_image],
                name=f'bench {self.args.spawn_image}')
            self.driver._images.ensure_image(self.context, meta)
            fingerprint = self.driver._session.image_by_alias(meta.id)
            self.bench_lifecycle(meta, fingerprint)
            self.bench_periodic(meta)
            for name in self.args.sync_images:
                self.bench_sync(name, images[name])


def parse_args(argv):
    parser = lib.arg_parser(
        'tools/bench', "LXDDriver against raw pylxd on this host's LXD "
        'daemon', 'holds images/<name>-rootfs.tar.gz')
    parser.add_argument('--instances', type=int, default=50,
                        help='instances for the second periodic count '
                             '(default 50)')
    parser.add_argument('--spawn-image', choices=sorted(IMAGES),
                        default='busybox')
    parser.add_argument('--sync-images', default='busybox,debian',
                        help='comma-separated, of: ' + ', '.join(IMAGES))
    args = parser.parse_args(argv)
    args.sync_images = [n for n in args.sync_images.split(',') if n]
    for name in {args.spawn_image, *args.sync_images} & set(IMAGES):
        path = os.path.join(args.cache, 'images', IMAGES[name])
        if not os.path.isfile(path):
            parser.error(f'{path} is missing (tools/lib/build-images.sh)')
    unknown = set(args.sync_images) - set(IMAGES)
    if unknown or args.runs < 1 or args.warmup < 0 or args.instances < 1:
        parser.error(f'need --runs >= 1, --warmup >= 0, --instances >= 1 '
                     f'and --sync-images of {", ".join(IMAGES)}')
    return args


def main(argv=None):
    """Run, clean up, print; 0, or 1 on an error, 130 if interrupted."""
    return lib.main(Bench(parse_args(argv)), report.report)


if __name__ == '__main__':
    sys.exit(main())
