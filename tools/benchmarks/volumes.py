"""Volume attach and detach: LXDDriver against raw LXD (``tools/bench
volumes``).

One running busybox container per side, one ext4 loop device (the
``local`` os-brick connector's volume).  Per round, driver:
``attach_volume`` then ``detach_volume`` (os-brick connect, host mount,
LXD disk device of the mount, top directory handed to the container's
root; and back); raw: the same block device given to the container as an
LXD disk device (LXD mounts it) with a ``PATCH``, removed with a ``PUT``
of the configuration without it.  Medians of ``--runs``; the difference is
what the driver does that LXD's own mount does not (see
doc/source/storage.rst).
"""
import collections
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from nova import context as nova_context
import os_brick.privileged

from benchmarks import lib
from benchmarks import report
import nova_lxd.privsep
from nova_lxd.tests import image_fakes


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix='nova-lxd-bench-')
        lib.configure(args.project, self.tmp, args.pool)
        lib.CONF.set_override('volume_mount_dir',
                              os.path.join(self.tmp, 'mnt'), group='lxd')
        # The benchmark runs as root: privileged calls stay in-process.
        for context in (os_brick.privileged.default,
                        nova_lxd.privsep.storage_pctxt):
            context.set_client_mode(False)
        self.glance = image_fakes.ImageServiceFixture()
        self.context = nova_context.get_admin_context()
        self.serial = itertools.count(1)
        self.samples = collections.defaultdict(list)
        self.project = self.driver = self.loop = None

    def setup(self):
        self.driver, self.project = lib.driver_in_project(self.args.project)
        image = os.path.join(self.tmp, 'volume.img')
        with open(image, 'wb') as f:
            f.truncate(64 << 20)
        subprocess.run(['mkfs.ext4', '-q', image], check=True)
        self.loop = subprocess.run(['losetup', '--find', '--show', image],
                                   check=True, capture_output=True,
                                   text=True).stdout.strip()

    def close(self):
        if self.project is not None:
            self.project.delete()
        for mount in sorted(os.listdir(os.path.join(self.tmp, 'mnt'))
                            if os.path.isdir(os.path.join(self.tmp, 'mnt'))
                            else []):
            subprocess.run(['umount', os.path.join(self.tmp, 'mnt', mount)])
        if self.loop:
            subprocess.run(['losetup', '-d', self.loop])
        subprocess.run(['rm', '-rf', self.tmp])

    def timed(self, key, side, measured, fn, *args):
        start = time.perf_counter()
        fn(*args)
        if measured:
            self.samples[key, side].append(time.perf_counter() - start)

    def connection_info(self):
        return {'driver_volume_type': 'local', 'serial': str(uuid.uuid4()),
                'data': {'device_path': self.loop}}

    def driver_round(self, inst, measured):
        info = self.connection_info()
        self.timed('attach', 'driver', measured, self.driver.attach_volume,
                   self.context, info, inst, '/dev/vdb')
        self.timed('detach', 'driver', measured, self.driver.detach_volume,
                   self.context, info, inst, '/dev/vdb')

    def raw_round(self, client, name, measured):
        node = client.api.instances[name]
        device = {'type': 'disk', 'source': self.loop, 'path': '/media/raw'}
        self.timed('attach', 'raw', measured, self.raw_change, client, node,
                   device)
        self.timed('detach', 'raw', measured, self.raw_change, client, node,
                   None)

    @staticmethod
    def raw_change(client, node, device):
        """Add ``device`` as ``vol`` (PATCH), or remove ``vol`` (PUT of the
        configuration without it, as LXD removes devices), and wait."""
        if device is not None:
            response = node.patch(json={'devices': {'vol': device}})
        else:
            current = node.get()
            meta = current.json()['metadata']
            del meta['devices']['vol']
            body = {k: meta[k] for k in ('architecture', 'config', 'devices',
                                         'ephemeral', 'profiles',
                                         'description')}
            response = node.put(json=body, headers={
                'If-Match': current.headers['ETag']})
        if response.json().get('type') == 'async':
            client.operations.wait_for_operation(
                response.json()['operation'])

    def run(self):
        self.setup()
        path = os.path.join(self.args.cache, 'images', 'busybox-rootfs.tar.gz')
        with self.glance:
            meta = self.glance.add_file(path, name='bench busybox')
            inst = lib.make_instance(next(self.serial), meta.id)
            self.driver.spawn(self.context, inst, meta, [], None, {})
            fingerprint = self.driver._session.image_by_alias(meta.id)
            client = self.project.client()
            raw = lib.raw_spawn(client, lib.raw_definition(
                next(self.serial), fingerprint, self.args.pool))
            lib.log(f'volume attach/detach: {self.args.warmup} + '
                    f'{self.args.runs} rounds')
            lib.rounds(self.args, [
                lambda measured: self.driver_round(inst, measured),
                lambda measured: self.raw_round(client, raw.name, measured)])


def render(bench):
    """No target: the issue asks for the figures (see the module doc)."""
    rows = []
    for key in ('attach', 'detach'):
        driver, raw = (statistics.median(bench.samples[key, side])
                       for side in ('driver', 'raw'))
        rows.append((f'volume {key}', f'{driver * 1000:.1f} ms',
                     f'{raw * 1000:.1f} ms', f'{driver / raw:.3f}', 'info',
                     '-'))
    return report.table(rows)


def main(argv=None):
    parser = lib.arg_parser('tools/bench volumes', 'Volume attach and '
                            'detach against raw LXD', 'holds images/'
                            'busybox-rootfs.tar.gz')
    return lib.main(Bench(parser.parse_args(argv)), render)


if __name__ == '__main__':
    sys.exit(main())
