"""ImageStore against the real LXD daemon of this host.

Each test works in an LXD project of its own (own image store), created in
setUp and deleted with its images afterwards.  Glance is
ImageServiceFixture behind nova's real download path; the images are real
tarballs built from the host's static busybox.
"""
import hashlib
import logging
import os
import random
import shutil
import subprocess
import tarfile
import threading
import uuid

import fixtures
from nova import context as nova_context
from nova import exception
from nova import objects
from oslo_config import fixture as config_fixture
import testtools
import yaml

from nova_lxd.aio import lxd as aio_lxd
from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import image_format
from nova_lxd.nova.virt.lxd import image_store
from nova_lxd.nova.virt.lxd import session as lxd_session
from nova_lxd.tests.functional import base as ft_base
from nova_lxd.tests import hostile_archives
from nova_lxd.tests import image_fakes

CONF = lxd_conf.CONF
BUSYBOX = '/bin/busybox'


def busybox_rootfs(root):
    """Lay out a bootable busybox root filesystem under ``root``."""
    for sub in ('bin', 'sbin', 'etc', 'dev', 'proc', 'sys', 'tmp'):
        os.makedirs(os.path.join(root, sub))
    shutil.copy(BUSYBOX, os.path.join(root, 'bin', 'busybox'))
    os.symlink('busybox', os.path.join(root, 'bin', 'sh'))
    os.symlink('../bin/busybox', os.path.join(root, 'sbin', 'init'))
    with open(os.path.join(root, 'etc', 'hostname'), 'w') as f:
        f.write('busybox\n')


def tar_directory(root, path, arcname='.', compression='gz'):
    """Tar ``root`` (gzip unless told) into ``path``; return the archive
    bytes."""
    with tarfile.open(path, f'w:{compression}') as archive:
        archive.add(root, arcname=arcname)
    with open(path, 'rb') as f:
        return f.read()


class TestImageSync(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(BUSYBOX):
            ft_base.missing_prerequisite(f'{BUSYBOX} is missing (apt-get '
                                         f'install busybox-static)')
        objects.register_all()
        self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        self.tmp = self.useFixture(fixtures.TempDir()).path
        conf = self.useFixture(config_fixture.Config(CONF))
        conf.config(group='lxd', project=f'nova-lxd-ftest-{uuid.uuid4().hex}')
        conf.config(instances_path=self.tmp)
        self.session = lxd_session.LXDSession()
        self._make_project()
        self.glance = self.useFixture(image_fakes.ImageServiceFixture())
        # What the tests themselves put in the temporary directory.
        self.files = {'rootfs', 'rootfs.tar.gz', 'rootfs.tar', 'docs',
                      'docs.tar.gz', 'unified', 'u.tar.gz',
                      'rootfs.squashfs', 'rootfs.tar.zst'}
        self.store = image_store.ImageStore(self.session)
        self.context = nova_context.get_admin_context()

    def _make_project(self):
        try:
            self.session.server_info()
        except lxd_exception.LXDUnreachable as e:
            ft_base.missing_prerequisite(f'no LXD daemon: {e}')
        self.assertTrue(self.session.ensure_project())
        self.addCleanup(aio_lxd.purge, CONF.lxd.project)

    def lxd_images(self):
        """Fingerprint -> pylxd Image, for every image of the project."""
        return {i.fingerprint: i for i in self.session.client.images.all()}

    def rootfs_tarball(self, name='rootfs.tar.gz'):
        root = os.path.join(self.tmp, 'rootfs')
        if not os.path.isdir(root):
            busybox_rootfs(root)
        return tar_directory(root, os.path.join(self.tmp, name))

    def assertNothingLeft(self):
        """No copy of an image on the local disk, no download running."""
        self.assertEqual(set(), set(os.listdir(self.tmp)) - self.files)
        self.assertEqual([], [t.name for t in threading.enumerate()
                              if t.name.startswith('glance-')])

    def test_concurrent_boots_import_once(self):
        meta = self.glance.add(self.rootfs_tarball(), name='Busybox 1.35',
                               properties={'os_distro': 'busybox',
                                           'os_version': '1.35'})
        barrier = threading.Barrier(2)
        results = []

        def boot():
            barrier.wait(10)
            results.append(self.store.ensure_image(self.context, meta))

        threads = [threading.Thread(target=boot) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual([meta.id, meta.id], results)
        self.assertEqual([meta.id], self.glance.downloads)
        [(fingerprint, lxd_image)] = self.lxd_images().items()
        self.assertEqual(fingerprint, self.session.image_by_alias(meta.id))
        self.assertEqual(self.session.architecture(), lxd_image.architecture)
        self.assertEqual({'description': 'Busybox 1.35', 'os': 'busybox',
                          'release': '1.35'}, lxd_image.properties)
        # The reuse path relies on computing the same while sending.
        metadata = image_format.metadata_tarball(
            meta, self.session.architecture(), meta.created_at.timestamp(),
            '1.35')
        with open(os.path.join(self.tmp, 'rootfs.tar.gz'), 'rb') as f:
            self.assertEqual(fingerprint, hashlib.sha256(
                metadata + f.read()).hexdigest())
        self.assertNothingLeft()

    def test_refused_images_leave_lxd_untouched(self):
        qcow2 = self.glance.add(b'QFI\xfb' + b'\0' * 508,
                                disk_format='qcow2')
        docs = os.path.join(self.tmp, 'docs')
        os.makedirs(os.path.join(docs, 'share'))
        with open(os.path.join(docs, 'share', 'README'), 'w') as f:
            f.write('not a root filesystem\n')
        other = self.glance.add(tar_directory(
            docs, os.path.join(self.tmp, 'docs.tar.gz')))
        for meta in (qcow2, other):
            e = self.assertRaises(exception.ImageUnacceptable,
                                  self.store.ensure_image, self.context, meta)
            self.assertIn(meta.id, str(e))
            self.assertIn('--disk-format raw --container-format bare',
                          str(e))
        self.assertEqual({}, self.lxd_images())
        self.assertEqual([other.id], self.glance.downloads)
        self.assertNothingLeft()

    def test_unified_tarball_uploaded_as_is(self):
        root = os.path.join(self.tmp, 'unified')
        busybox_rootfs(os.path.join(root, 'rootfs'))
        with open(os.path.join(root, 'metadata.yaml'), 'w') as f:
            yaml.safe_dump({'architecture': self.session.architecture(),
                            'creation_date': 1700000000,
                            'properties': {'description': 'unified'}}, f)
        data = tar_directory(root, os.path.join(self.tmp, 'u.tar.gz'))
        meta = self.glance.add(data)
        self.assertEqual(meta.id, self.store.ensure_image(self.context, meta))
        fingerprint = hashlib.sha256(data).hexdigest()
        self.assertEqual([fingerprint], list(self.lxd_images()))
        self.assertEqual(fingerprint, self.session.image_by_alias(meta.id))

    def test_same_bytes_under_two_ids_share_one_image(self):
        data = self.rootfs_tarball()
        metas = [self.glance.add(data, name='twin'),
                 self.glance.add(data, name='twin')]
        threads = [threading.Thread(target=self.store.ensure_image,
                                    args=(self.context, meta))
                   for meta in metas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        [fingerprint] = self.lxd_images()
        self.assertEqual([fingerprint] * 2, [
            self.session.image_by_alias(meta.id) for meta in metas])

    def test_image_left_without_alias_is_reused(self):
        meta = self.glance.add(self.rootfs_tarball())
        metadata = image_format.metadata_tarball(
            meta, self.session.architecture(), meta.created_at.timestamp())
        # As if nova-compute had died between upload and alias.
        with open(os.path.join(self.tmp, 'rootfs.tar.gz'), 'rb') as rootfs:
            orphan = self.session.client.images.create(
                rootfs, metadata=metadata).fingerprint
        self.store.ensure_image(self.context, meta)
        self.assertEqual([orphan], list(self.lxd_images()))
        self.assertEqual(orphan, self.session.image_by_alias(meta.id))
        self.assertNothingLeft()

    def boots(self, alias):
        """A container made from the image starts (LXD unpacked it)."""
        name = 'boot-' + uuid.uuid4().hex[:8]
        instance = self.session.client.instances.create(
            {'name': name, 'source': {'type': 'image', 'alias': alias},
             'devices': {'root': {'type': 'disk', 'path': '/',
                                  'pool': 'default'}}}, wait=True)
        instance.start(wait=True)
        self.assertEqual('Running', self.session.client.instances.get(
            name).status)

    def test_squashfs_and_zstd_root_images(self):
        root = os.path.join(self.tmp, 'rootfs')
        busybox_rootfs(root)
        squashfs = os.path.join(self.tmp, 'rootfs.squashfs')
        subprocess.run(['mksquashfs', root, squashfs, '-quiet',
                        '-all-root'], check=True, capture_output=True)
        plain = os.path.join(self.tmp, 'rootfs.tar')
        tar_directory(root, plain, compression='')
        zstd = os.path.join(self.tmp, 'rootfs.tar.zst')
        subprocess.run(['zstd', '-q', plain, '-o', zstd], check=True)
        for path in (squashfs, zstd):
            meta = self.glance.add_file(path, name=os.path.basename(path))
            self.store.ensure_image(self.context, meta)
            self.boots(meta.id)
        self.assertNothingLeft()

    def test_hostile_archives_stopped_while_streaming(self):
        """The bad part comes after more than one upload chunk, so LXD has
        received data when the audit stops the upload; it keeps nothing."""
        noise = hostile_archives.regular(
            './var/noise', random.Random(2).randbytes(3 * 1024 * 1024))
        space = self.session.pool_resources(CONF.lxd.pool)['space']
        cases = [
            (hostile_archives.rootfs(noise, hostile_archives.regular(
                '../../etc/cron.d/evil')), '".." path component'),
            (hostile_archives.rootfs(noise, hostile_archives.device(
                './dev/sda', tarfile.BLKTYPE, 8, 0)), 'block device'),
            (hostile_archives.rootfs(noise)[:-4096], 'truncated'),
            # Twice the free space: other tests' writes move it meanwhile.
            (hostile_archives.bomb(2 * (space['total'] - space['used'])),
             'free space of [lxd] pool'),
        ]
        for data, words in cases:
            meta = self.glance.add(data)
            e = self.assertRaises(exception.ImageUnacceptable,
                                  self.store.ensure_image, self.context, meta)
            self.assertIn(words, str(e))
            self.assertEqual({}, self.lxd_images())
        self.assertNothingLeft()
        # The daemon took the broken uploads in its stride.
        meta = self.glance.add(self.rootfs_tarball())
        self.store.ensure_image(self.context, meta)
        self.assertEqual(1, len(self.lxd_images()))
