"""Cold migration between two LXD daemons: LXDDriver against raw LXD
(``tools/bench migration``; the daemons are host-setup's: the local one and
tools/lib/lxd2.sh's at /var/lib/lxd2).

Per round, one running instance of the image on the local daemon (made
unmeasured), then measured:

* driver: ``migrate_disk_and_power_off`` on the source's LXDDriver,
  ``finish_migration`` (the pull, start) on the destination's,
  ``confirm_migration`` (source container deleted) on the source's, as
  nova-compute on both hosts calls them;
* raw: pylxd (https to the source, the same client certificate) stop,
  the destination daemon pulling the container (``generate_migration_data``
  + create), start, delete on the source.

The destination copy is deleted after each round (unmeasured).  Medians of
``--runs``.
"""
import os
import shutil
import statistics
import sys
import tempfile
import time
import types

from cryptography.hazmat.primitives import hashes
from cryptography import x509
from nova import context as nova_context
from nova.network import model as network_model
from nova import objects
import pylxd

from benchmarks import lib
from benchmarks import report
from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import driver as lxd_driver
from nova_lxd.nova.virt.lxd import session_migration
from nova_lxd.tests.functional import test_init_host
from nova_lxd.tests import image_fakes

IMAGES = lib.IMAGES
LXD2_SOCKET = '/var/lib/lxd2/unix.socket'
TARGET = 1.10


class Bench:

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix='nova-lxd-bench-')
        lib.configure(args.project, self.tmp, args.pool)
        cert, key, self.pem = test_init_host.write_client_certificate(
            self.tmp)
        lib.CONF.set_override('migration_client_cert', cert, group='lxd')
        lib.CONF.set_override('migration_client_key', key, group='lxd')
        self.glance = image_fakes.ImageServiceFixture()
        self.context = nova_context.get_admin_context()
        self.samples = {'driver': [], 'raw': []}
        self.serial = 0
        self.source = self.dest = self.project = self.project2 = None
        self.trusted = None

    def close(self):
        for driver in (self.source, self.dest):
            if driver is not None:
                driver.cleanup_host(lib.NODE)
        if self.trusted is not None:
            self.project.admin.api.certificates[self.trusted].delete()
        for project in (self.project, self.project2):
            if project is not None:
                project.delete()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self):
        if not os.path.exists(LXD2_SOCKET):
            raise RuntimeError('no second LXD daemon at /var/lib/lxd2; run '
                               'tools/lib/host-setup.sh')
        self.source, self.project = lib.driver_in_project(self.args.project)
        self.project2 = lib.Project(self.args.project, LXD2_SOCKET,
                                    lib.CONF.lxd.timeout)
        self.project2.create()
        self.dest = lxd_driver.LXDDriver(self.source.virtapi)
        opts = {opt.dest: getattr(lib.CONF.lxd, opt.dest)
                for opt in lxd_conf.lxd_opts}
        self.dest._session._opts = types.SimpleNamespace(
            **dict(opts, endpoint=LXD2_SOCKET))
        self.dest.init_host('bench-destination')
        self.project.admin.certificates.create(
            password='', cert_data=self.pem, name='nova-lxd-bench')
        self.trusted = x509.load_pem_x509_certificate(self.pem).fingerprint(
            hashes.SHA256()).hex()
        # pylxd builds the source's operation URL from its client: the raw
        # side talks https to the source too, with the same certificate.
        address = session_migration.https_url(
            self.project.admin.host_info['config']['core.https_address'],
            '127.0.0.1')
        server_cert = os.path.join(os.path.dirname(
            self.source._session.endpoint), 'server.crt')
        self.https_source = pylxd.Client(
            endpoint=address, project=self.args.project,
            session=session_migration.https_session(
                address, server_cert,
                (lib.CONF.lxd.migration_client_cert,
                 lib.CONF.lxd.migration_client_key)))

    def driver_round(self, meta, measured):
        self.serial += 1
        inst = lib.make_instance(self.serial, meta.id)
        self.source.spawn(self.context, inst, meta, [], None, {})
        inst.old_flavor = inst.new_flavor = inst.flavor
        migration = objects.Migration(source_compute=lib.NODE,
                                      dest_compute='bench-destination')
        network_info = network_model.NetworkInfo([])
        start = time.perf_counter()
        info = self.source.migrate_disk_and_power_off(
            self.context, inst, '127.0.0.1', inst.flavor, network_info)
        self.dest.finish_migration(self.context, migration, inst, info,
                                   network_info, meta, True, {})
        self.source.confirm_migration(self.context, migration, inst,
                                      network_info)
        if measured:
            self.samples['driver'].append(time.perf_counter() - start)
        self.dest.destroy(self.context, inst, network_info)

    def raw_round(self, fingerprint, measured):
        self.serial += 1
        inst = lib.raw_spawn(self.https_source, lib.raw_definition(
            self.serial, fingerprint, self.args.pool))
        start = time.perf_counter()
        # Forced, as the driver stops when nova gives no shutdown timeout.
        inst.stop(force=True, wait=True)
        moved = self.project2.client().instances.create(
            inst.generate_migration_data(), wait=True)
        moved.start(wait=True)
        inst.delete(wait=True)
        if measured:
            self.samples['raw'].append(time.perf_counter() - start)
        lib.raw_destroy(moved)

    def run(self):
        self.start()
        path = os.path.join(self.args.cache, 'images', IMAGES[self.args.image])
        with self.glance:
            meta = self.glance.add_file(path, name=f'bench {self.args.image}')
            # The image on both daemons first, as after earlier boots.
            for driver in (self.source, self.dest):
                driver._images.ensure_image(self.context, meta)
            fingerprint = self.source._session.image_by_alias(meta.id)
            lib.log(f'migration {self.args.image}: {self.args.warmup} + '
                    f'{self.args.runs} rounds')
            lib.rounds(self.args, [
                lambda measured: self.driver_round(meta, measured),
                lambda measured: self.raw_round(fingerprint, measured)])


def render(bench):
    driver = statistics.median(bench.samples['driver'])
    raw = statistics.median(bench.samples['raw'])
    ratio = driver / raw
    return report.table([(
        f'cold migration ({bench.args.image}, {bench.args.pool})',
        f'{driver * 1000:.0f} ms', f'{raw * 1000:.0f} ms', f'{ratio:.3f}',
        f'<= {TARGET:.2f}', 'PASS' if ratio <= TARGET else 'MISS')])


def main(argv=None):
    parser = lib.arg_parser('tools/bench migration', 'Cold migration '
                            'between two daemons against raw LXD',
                            'holds images/<name>-rootfs.tar.gz')
    parser.add_argument('--image', choices=sorted(IMAGES), default='debian')
    parser.set_defaults(runs=5)
    return lib.main(Bench(parser.parse_args(argv)), render)


if __name__ == '__main__':
    sys.exit(main())
