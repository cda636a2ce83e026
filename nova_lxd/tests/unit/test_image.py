"""Tests of image_format (the classifier) and image_store (the import).

The pure parts are run on real tarballs written to a temporary directory.
ImageStore runs through nova's real glance download path (nova.virt.images)
on image_fakes.ImageServiceFixture, and on image_fakes.FakeSession.
"""
import hashlib
import io
import logging
import os
import random
import tarfile
import threading

import fixtures
from nova import context as nova_context
from nova import exception
from nova import objects
from oslo_config import fixture as config_fixture
from oslo_utils import timeutils
from oslo_utils import uuidutils
import testtools
import yaml
import zstandard

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import image_format as fmt
from nova_lxd.nova.virt.lxd import image_store
from nova_lxd.tests import image_fakes as fakes

CONF = lxd_conf.CONF


class TestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        objects.register_all()
        self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = self.useFixture(config_fixture.Config(CONF))

    def tarball(self, members, name='fmt.tar.gz', **kwargs):
        path = os.path.join(self.tmp, name)
        return fakes.write_tarball(path, members, **kwargs)

    def tarball_bytes(self, members, name='fmt.tar.gz'):
        with open(self.tarball(members, name), 'rb') as f:
            return f.read()

    def read_metadata(self, data):
        """metadata.yaml of a metadata tarball, parsed."""
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            self.assertEqual(['metadata.yaml'], archive.getnames())
            return yaml.safe_load(archive.extractfile('metadata.yaml'))

    def assertRefused(self, func, *args, words=()):
        e = self.assertRaises(exception.ImageUnacceptable, func, *args)
        for word in ('--disk-format raw --container-format bare',) + words:
            self.assertIn(word, str(e))
        return e


class TestGlanceFormat(TestCase):
    def test_raw_bare_accepted(self):
        self.assertIsNone(fmt.check_glance_format(fakes.image_meta()))

    def test_disk_images_refused(self):
        for disk in ('qcow2', 'iso', 'vmdk', 'ami'):
            meta = fakes.image_meta(disk_format=disk, name='cirros')
            e = self.assertRefused(fmt.check_glance_format, meta,
                                   words=(meta.id, 'cirros', disk))
            self.assertIn(f'disk_format={disk}', str(e))

    def test_container_formats_refused(self):
        for container in ('ova', 'docker', 'compressed'):
            self.assertRefused(fmt.check_glance_format,
                               fakes.image_meta(container_format=container),
                               words=(f'container_format={container}',))

    def test_unset_formats_refused(self):
        meta = objects.ImageMeta(id=uuidutils.generate_uuid(),
                                 properties=objects.ImageMetaProps())
        self.assertRefused(fmt.check_glance_format, meta,
                           words=('disk_format=None',))


class TestInspectTarball(TestCase):
    def test_rootfs_any_compression(self):
        for mode, name in (('w:gz', 'a.tar.gz'), ('w:xz', 'a.tar.xz'),
                           ('w:bz2', 'a.tar.bz2'), ('w', 'a.tar')):
            path = self.tarball(fakes.ROOTFS, name, mode=mode)
            self.assertEqual('rootfs', fmt.inspect_tarball(path, 'id'),
                             name)

    def test_rootfs_without_dot_prefix(self):
        path = self.tarball(fakes.ROOTFS, prefix='')
        self.assertEqual('rootfs', fmt.inspect_tarball(path, 'id'))

    def test_merged_usr_rootfs(self):
        path = self.tarball(fakes.MERGED_USR)
        self.assertEqual('rootfs', fmt.inspect_tarball(path, 'id'))

    def test_unified(self):
        path = self.tarball(fakes.UNIFIED, mode='w:xz')
        self.assertEqual('unified', fmt.inspect_tarball(path, 'id'))

    def test_stops_reading_once_decided(self):
        # The tail is cut off: reading on to it would fail.
        noise = os.urandom(1 << 20)
        path = self.tarball(fakes.ROOTFS + [('var/big', noise)])
        os.truncate(path, os.path.getsize(path) // 2)
        self.assertEqual('rootfs', fmt.inspect_tarball(path, 'id'))
        path = self.tarball(fakes.ROOTFS[:2] + [('var/big', noise)],
                            'b.tar.gz')
        os.truncate(path, os.path.getsize(path) // 2)
        self.assertRefused(fmt.inspect_tarball, path, 'id',
                           words=('not a readable tar archive',))

    def test_only_etc_refused(self):
        path = self.tarball(fakes.ROOTFS[:2])
        self.assertRefused(fmt.inspect_tarball, path, 'img-1',
                           words=('img-1', 'no bin/, sbin/ or usr/',
                                  'metadata.yaml'))

    def test_other_tarball_refused(self):
        path = self.tarball(fakes.DOCS)
        self.assertRefused(fmt.inspect_tarball, path, 'id',
                           words=('no etc/', 'neither a root filesystem'))

    def test_rootfs_in_a_directory_refused(self):
        path = self.tarball(fakes.ROOTFS, prefix='debian/')
        self.assertRefused(fmt.inspect_tarball, path, 'id',
                           words=('below debian/', 'at the top'))

    def test_empty_tarball_refused(self):
        path = self.tarball([])
        self.assertRefused(fmt.inspect_tarball, path, 'id',
                           words=('empty',))

    def test_not_a_tarball_refused(self):
        path = os.path.join(self.tmp, 'junk')
        # Fixed bytes: os.urandom made this test flaky (random data can
        # happen to parse as some archive).
        rng = random.Random(4096)
        junk = (b'', rng.randbytes(4096), b'\x1f\x8b' + rng.randbytes(99))
        for data in junk:
            with open(path, 'wb') as f:
                f.write(data)
            self.assertRaises(exception.ImageUnacceptable,
                              fmt.inspect_tarball, path, 'id')

    def test_known_formats_named(self):
        path = os.path.join(self.tmp, 'disk')
        # Named by oslo.utils' format inspector: an ISO 9660 primary volume
        # descriptor at 32 KiB, a qcow2 header.
        iso = (b'\0' * 32768 + b'\x01CD001\x01' + b'\0' * 2041 +
               b'\xffCD001\x01' + b'\0' * 2041)
        cases = ((b'QFI\xfb\0\0\0\3' + b'\0' * 600, 'qcow2'),
                 (iso, 'in iso format'))
        for data, what in cases:
            with open(path, 'wb') as f:
                f.write(data)
            self.assertRefused(fmt.inspect_tarball, path, 'id',
                               words=(what,))

    def test_zstd_rootfs_accepted(self):
        with open(self.tarball(fakes.ROOTFS, 'a.tar', mode='w'), 'rb') as f:
            plain = f.read()
        path = os.path.join(self.tmp, 'a.tar.zst')
        with open(path, 'wb') as f:
            f.write(zstandard.ZstdCompressor().compress(plain))
        self.assertEqual('rootfs', fmt.inspect_tarball(path, 'id'))

    def test_squashfs_accepted(self):
        path = os.path.join(self.tmp, 'rootfs.squashfs')
        with open(path, 'wb') as f:
            f.write(b'hsqs' + b'\0' * 600)
        self.assertEqual('squashfs', fmt.inspect_tarball(path, 'id'))

    def test_metadata(self):
        meta = fakes.image_meta(name='Debian 12',
                                properties={'os_distro': 'debian'})
        data = fmt.metadata_tarball(meta, 'aarch64', 1700000000.7, '12')
        self.assertEqual(
            {'architecture': 'aarch64', 'creation_date': 1700000000,
             'properties': {'description': 'Debian 12', 'os': 'debian',
                            'release': '12'}}, self.read_metadata(data))
        self.assertEqual(data, fmt.metadata_tarball(
            meta, 'aarch64', 1700000000.7, '12'))

    def test_unknown_properties_left_out(self):
        meta = fakes.image_meta(name='')
        doc = self.read_metadata(fmt.metadata_tarball(meta, 'x86_64', 5))
        self.assertEqual({'description': meta.id}, doc['properties'])

    def test_fingerprint_while_streaming(self):
        data = os.urandom(3 * 1024 * 1024 + 5)
        for metadata in (None, b'meta'):
            fingerprint = fmt.Fingerprint(metadata)
            sent = b''.join(fingerprint.chunks(io.BytesIO(data)))
            self.assertEqual(data, sent)
            self.assertEqual(len(data), fingerprint.size)
            self.assertEqual(
                hashlib.sha256((metadata or b'') + data).hexdigest(),
                fingerprint.hexdigest())

    def test_multipart_body(self):
        body = b''.join(fmt.multipart_body('BND', b'META', [b'ro', b'otfs']))
        self.assertEqual(
            b'--BND\r\nContent-Disposition: form-data; name="metadata"; '
            b'filename="metadata"\r\nContent-Type: application/octet-stream'
            b'\r\n\r\nMETA\r\n--BND\r\nContent-Disposition: form-data; '
            b'name="rootfs"; filename="rootfs"\r\nContent-Type: '
            b'application/octet-stream\r\n\r\nrootfs\r\n--BND--\r\n', body)

    def test_stream_head_is_what_was_read(self):
        data = self.tarball_bytes(fakes.ROOTFS + [('var/big', os.urandom(
            1 << 20))])
        source = io.BytesIO(data)
        kind, head = fmt.inspect_stream(source, 'id')
        self.assertEqual('rootfs', kind)
        self.assertEqual(data[:len(head)], head)
        self.assertLess(len(head), len(data))
        rest = fmt.Replayed(head, source)
        self.assertEqual(data, b''.join(iter(lambda: rest.read(7777), b'')))

    def test_undecided_within_the_limit_refused(self):
        data = self.tarball_bytes([('var/', None)] + [
            (f'var/{i}', os.urandom(4096)) for i in range(64)])
        e = self.assertRaises(exception.ImageUnacceptable,
                              fmt.inspect_stream, io.BytesIO(data), 'id',
                              64 * 1024)
        self.assertIn('no decision within the first', str(e))

    def test_architectures(self):
        for nova_name, lxd_name in (('x86_64', 'x86_64'), ('AMD64', 'x86_64'),
                                    ('aarch64', 'aarch64'),
                                    ('armv6', 'armv6l'), ('i386', 'i686'),
                                    ('ppc64le', 'ppc64le')):
            self.assertEqual(lxd_name, fmt.lxd_architecture(nova_name))


class StoreTestCase(TestCase):
    """An ImageStore on image_fakes' glance and FakeSession."""

    def setUp(self):
        super().setUp()
        self.fds = self.open_fds()
        self.glance = self.useFixture(fakes.ImageServiceFixture())
        self.session = fakes.FakeSession()
        self.store = image_store.ImageStore(self.session)
        self.context = nova_context.get_admin_context()
        self.rootfs = self.tarball_bytes(fakes.ROOTFS)

    def ensure(self, meta):
        return self.store.ensure_image(self.context, meta)

    @staticmethod
    def open_fds():
        return sorted(os.listdir('/proc/self/fd'))

    def assertNothingLeft(self):
        """No pipe of a download left open, no download thread alive."""
        self.assertEqual(self.fds, self.open_fds())
        self.assertEqual([], [t.name for t in threading.enumerate()
                              if t.name.startswith('glance-')])


class TestImageStore(StoreTestCase):

    def test_rootfs_imported_once_with_metadata(self):
        self.session.architectures = ['aarch64', 'armv7l', 'armv6l']
        meta = self.glance.add(self.rootfs, properties={
            'os_distro': 'debian', 'os_version': '12',
            'hw_architecture': 'armv6'})
        self.assertEqual(meta.id, self.ensure(meta))
        self.assertEqual(meta.id, self.ensure(meta))
        self.assertEqual(1, self.session.uploads)
        self.assertEqual([meta.id], self.glance.downloads)
        [metadata] = self.session.images.values()
        doc = self.read_metadata(metadata)
        self.assertEqual('armv6l', doc['architecture'])
        self.assertEqual(int(meta.created_at.timestamp()),
                         doc['creation_date'])
        self.assertEqual({'description': 'busybox', 'os': 'debian',
                          'release': '12'}, doc['properties'])
        self.assertNothingLeft()

    def test_unified_uploaded_as_is(self):
        data = self.tarball_bytes(fakes.UNIFIED, 'u.tar.gz')
        meta = self.glance.add(data)
        self.ensure(meta)
        self.assertEqual({hashlib.sha256(data).hexdigest(): None},
                         self.session.images)

    def test_disk_image_refused_without_download(self):
        meta = self.glance.add(b'QFI\xfb', disk_format='qcow2')
        self.assertRefused(self.ensure, meta)
        self.assertEqual([], self.glance.downloads)
        self.assertEqual({}, self.session.images)

    def test_non_rootfs_refused_before_lxd(self):
        meta = self.glance.add(self.tarball_bytes(fakes.DOCS))
        self.assertRefused(self.ensure, meta)
        self.assertEqual(({}, {}), (self.session.images,
                                    self.session.aliases))
        self.assertNothingLeft()

    def test_failed_alias_rolls_back(self):
        meta = self.glance.add(self.rootfs)
        self.session.fail_alias = True
        self.assertRaises(lxd_exception.LXDRequestFailed, self.ensure, meta)
        self.assertEqual((1, {}), (self.session.uploads, self.session.images))
        self.assertNothingLeft()
        self.session.fail_alias = False
        self.ensure(meta)
        self.assertEqual(1, len(self.session.images))

    def test_missing_glance_image(self):
        meta = fakes.image_meta()
        self.assertRaises(exception.ImageNotFound, self.ensure, meta)
        self.assertNothingLeft()

    def test_orphan_with_same_content_aliased(self):
        meta = self.glance.add(self.rootfs)
        self.ensure(meta)
        fingerprint = self.session.aliases.pop(meta.id)
        self.ensure(meta)
        self.assertEqual(1, self.session.uploads)
        self.assertEqual(fingerprint, self.session.aliases[meta.id])

    def test_concurrent_boots_import_once(self):
        meta = self.glance.add(self.rootfs)
        self.session.delay = 0.2
        results = []
        threads = [threading.Thread(
            target=lambda: results.append(self.ensure(meta)))
            for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        self.assertEqual([meta.id] * 3, results)
        self.assertEqual(1, self.session.uploads)
        self.assertEqual([meta.id], self.glance.downloads)

    def test_same_bytes_under_two_ids_share_one_image(self):
        data = self.tarball_bytes(fakes.UNIFIED, 'u.tar.gz')
        metas = [self.glance.add(data), self.glance.add(data)]
        self.session.delay = 0.2
        threads = [threading.Thread(target=self.ensure, args=(meta,))
                   for meta in metas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        [fingerprint] = self.session.images
        self.assertEqual({m.id: fingerprint for m in metas},
                         self.session.aliases)
        self.assertEqual(1, self.session.uploads)

    def test_different_images_do_not_wait(self):
        slow = self.glance.add(self.rootfs)
        fast = self.glance.add(self.rootfs + b'\0' * 512)
        self.session.gates[slow.id] = release = threading.Event()
        self.addCleanup(release.set)
        first = threading.Thread(target=self.ensure, args=(slow,))
        first.start()
        self.assertTrue(self.session.importing.wait(10))
        second = threading.Thread(target=self.ensure, args=(fast,))
        second.start()
        second.join(10)
        self.assertFalse(second.is_alive())
        self.assertTrue(first.is_alive())
        self.assertIn(fast.id, self.session.aliases)
        release.set()
        first.join(10)
        self.assertIn(slow.id, self.session.aliases)


class TestImageCache(StoreTestCase):
    """expired_images (pure) and ImageStore.cache/use/prune."""

    NEVER = '0001-01-01T00:00:00Z'
    OLD = '2020-01-01T00:00:00Z'

    def image(self, fingerprint, aliases=('a',), uploaded=OLD, used=NEVER):
        return {'fingerprint': fingerprint, 'uploaded_at': uploaded,
                'last_used_at': used,
                'aliases': [{'name': a, 'description': ''} for a in aliases]}

    def expired(self, images, aliases=(), bases=(), min_age=3600,
                now='2020-01-02T00:00:00Z'):
        now = timeutils.parse_isotime(now).timestamp()
        return image_store.expired_images(images, set(aliases), set(bases),
                                          min_age, now)

    def test_expired_unused_image(self):
        self.assertEqual([('f1', ['a', 'b'])],
                         self.expired([self.image('f1', ('b', 'a'))]))

    def test_in_use_by_nova_instance_or_lxd_instance_kept(self):
        images = [self.image('f1', ('a',)), self.image('f2', ('b',))]
        self.assertEqual([], self.expired(images, aliases={'a'},
                                          bases={'f2'}))

    def test_age_counts_from_last_use_else_upload(self):
        recent = '2020-01-01T23:30:00Z'
        self.assertEqual([], self.expired([self.image('f1', used=recent)]))
        self.assertEqual([], self.expired([self.image('f1',
                                                      uploaded=recent)]))
        self.assertEqual([('f1', ['a'])], self.expired(
            [self.image('f1', used=recent)], min_age=60))

    def test_unaliased_images_never_candidates(self):
        # Snapshot images being published have no alias.
        self.assertEqual([], self.expired([self.image('f1', aliases=())]))

    def old_image(self):
        meta = self.glance.add(self.rootfs)
        self.ensure(meta)
        fingerprint = self.session.aliases[meta.id]
        self.session.times[fingerprint] = (self.OLD, self.OLD)
        return meta, fingerprint

    def test_cache_imports_once(self):
        meta = self.glance.add(self.rootfs)
        self.assertTrue(self.store.cache(self.context, meta))
        self.assertFalse(self.store.cache(self.context, meta))
        self.assertEqual(1, self.session.uploads)

    def test_prune_deletes_old_unused_image(self):
        meta, fingerprint = self.old_image()
        self.assertEqual([], self.store.prune({meta.id}))
        self.session.instances = [{'name': 'x', 'status': 'Stopped',
                                   'config': {'volatile.base_image':
                                              fingerprint}}]
        self.assertEqual([], self.store.prune(set()))
        self.session.instances = []
        self.assertEqual([fingerprint], self.store.prune(set()))
        self.assertEqual(({}, {}), (self.session.images,
                                    self.session.aliases))

    def test_prune_spares_image_an_instance_is_made_from(self):
        meta, fingerprint = self.old_image()
        with self.store.use(self.context, meta) as alias:
            self.assertEqual(meta.id, alias)
            self.assertEqual([], self.store.prune(set()))
        self.assertEqual([fingerprint], self.store.prune(set()))

    def test_prune_off(self):
        _meta, fingerprint = self.old_image()
        self.conf.config(remove_unused_base_images=False,
                         group='image_cache')
        self.assertEqual([], self.store.prune(set()))
        self.assertIn(fingerprint, self.session.images)

    def test_prune_min_age_from_nova_option(self):
        _meta, fingerprint = self.old_image()
        self.session.times[fingerprint] = (self.OLD, timeutils.utcnow(
        ).strftime('%Y-%m-%dT%H:%M:%SZ'))
        self.conf.config(remove_unused_original_minimum_age_seconds=3600,
                         group='image_cache')
        self.assertEqual([], self.store.prune(set()))
        self.conf.config(remove_unused_original_minimum_age_seconds=0,
                         group='image_cache')
        self.assertEqual([fingerprint], self.store.prune(set()))
