"""Fakes and tarball builders for the tests of the image store.

ImageServiceFixture stands in for glance behind nova's real glance API (the
same seam as nova's GlanceFixture, which cannot be imported without nova's
test package switching the process to eventlet).  FakeSession keeps the LXD
side of LXDSession's image methods in dicts, with faults to inject.
"""
import contextlib
import datetime
import hashlib
import io
import os
import tarfile
import threading
import time

import fixtures
from nova import exception
from nova import objects
from oslo_utils import uuidutils

from nova_lxd.nova.virt.lxd import exception as lxd_exception

ROOTFS = [('etc/', None), ('etc/hostname', b'box\n'), ('bin/', None),
          ('bin/busybox', b'\x7fELF' + b'\0' * 60), ('sbin/', None),
          ('sbin/init', '../bin/busybox')]
MERGED_USR = [('bin', 'usr/bin'), ('sbin', 'usr/sbin'), ('etc/', None),
              ('usr/bin/', None), ('usr/sbin/init', '../lib/systemd/systemd')]
UNIFIED = [('metadata.yaml', b'architecture: x86_64\ncreation_date: 1\n'),
           ('rootfs/', None)] + [('rootfs/' + p, d) for p, d in ROOTFS]
DOCS = [('README', b'hello\n'), ('doc/', None), ('doc/index.html', b'<p>')]


def write_tarball(path, members, mode='w:gz', prefix='./'):
    """Write a tar archive; return its path.

    :param members: (name, data) pairs: a name ending in '/' is a
        directory, bytes data a file, str data a symlink target.
    """
    with tarfile.open(path, mode) as archive:
        for name, data in members:
            info = tarfile.TarInfo(prefix + name.rstrip('/'))
            if name.endswith('/'):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
            else:
                info.size = len(data)
            file = io.BytesIO(data) if info.isfile() else None
            archive.addfile(info, file)
    return path


def image_meta(image_id=None, **fields):
    """An ImageMeta as the driver gets it (raw/bare unless told)."""
    values = {'id': image_id or uuidutils.generate_uuid(),
              'name': 'busybox', 'disk_format': 'raw',
              'container_format': 'bare', 'properties': {}}
    values.update(fields)
    return objects.ImageMeta.from_dict(values)


#: created_at of every image: fixed, so that the driver's metadata tarball
#: (and thus the LXD fingerprint) of one file is the same in every run.
CREATED = datetime.datetime(2025, 1, 2, tzinfo=datetime.timezone.utc)
#: glanceclient's download chunk size (bytes).
CHUNK = 64 * 1024


class ImageServiceFixture(fixtures.Fixture):
    """A glance image service behind nova's glance API (show, download),
    for the tests and the benchmarks (``with ImageServiceFixture() as g``).

    Like nova's GlanceFixture, which cannot be imported here: importing
    nova.tests.fixtures monkey-patches the test process with eventlet.
    Image data are bytes in memory or a local file, which a download copies
    in glanceclient-sized chunks (the copy is part of what the driver pays).
    """

    def __init__(self):
        super().__init__()
        self.images = {}
        self.data = {}
        self.downloads = []
        # Seconds spent answering image lookups (show), for the benchmarks.
        self.show_seconds = 0.0

    def _setUp(self):
        self.useFixture(fixtures.MonkeyPatch(
            'nova.image.glance.get_default_image_service', lambda: self))

    def add(self, data, **fields):
        """Register an image; return its nova.objects.ImageMeta.

        :param data: the image bytes.
        :param fields: glance fields (disk_format, name, properties...).
        """
        return self._register(data, len(data), fields)

    def add_file(self, path, **fields):
        """Register the file ``path`` (read at each download) as an image;
        return its nova.objects.ImageMeta."""
        return self._register(path, os.path.getsize(path), fields)

    def _register(self, data, size, fields):
        glance = {'id': uuidutils.generate_uuid(), 'name': 'busybox',
                  'disk_format': 'raw', 'container_format': 'bare',
                  'status': 'active', 'properties': {}, 'size': size,
                  'created_at': CREATED}
        glance.update(fields)
        self.images[glance['id']] = glance
        self.data[glance['id']] = data
        return objects.ImageMeta.from_dict(glance)

    def show(self, context, image_id, include_locations=False,
             show_deleted=True):
        start = time.perf_counter()
        try:
            return self._record(image_id)
        finally:
            self.show_seconds += time.perf_counter() - start

    def _record(self, image_id):
        if image_id not in self.images:
            raise exception.ImageNotFound(image_id=image_id)
        return dict(self.images[image_id])

    def download(self, context, image_id, data=None, dst_path=None,
                 trusted_certs=None):
        self._record(image_id)
        self.downloads.append(image_id)
        source = self.data[image_id]
        with contextlib.ExitStack() as stack:
            if data is None:
                data = stack.enter_context(open(dst_path, 'wb'))
            if isinstance(source, bytes):
                for start in range(0, len(source), CHUNK):
                    data.write(source[start:start + CHUNK])
                return
            with open(source, 'rb') as src:
                for chunk in iter(lambda: src.read(CHUNK), b''):
                    data.write(chunk)

    def update(self, context, image_id, metadata, data=None,
               purge_props=False):
        """Glance's image update: fields merged, data (a stream or an
        iterable of bytes) stored as the image's bytes."""
        image = self.images[image_id]
        metadata = dict(metadata)
        image['properties'].update(metadata.pop('properties', {}))
        image.update(metadata)
        if data is not None:
            stream = data
            if hasattr(stream, 'read'):
                data = iter(lambda: stream.read(CHUNK), b'')
            self.data[image_id] = b''.join(data)
            image['size'] = len(self.data[image_id])
        image['status'] = 'active'
        return dict(image)


class FakeSession:
    """The image methods of LXDSession over dicts, with faults to inject."""

    def __init__(self):
        self.images = {}
        self.aliases = {}
        self.uploads = 0
        self.uploaded = []  # (metadata, rootfs) bytes of every upload
        self.fail_alias = False
        self.delay = 0
        self.gates = {}
        self.importing = threading.Event()
        self.instances = []  # the instance listing (list_instances)
        self.times = {}  # fingerprint -> (uploaded_at, last_used_at)
        self.pool_free = 10 * 1024 ** 3  # bytes free in [lxd] pool
        self.architectures = ['x86_64', 'i686']  # what the daemon runs

    def list_instances(self):
        return self.instances

    def list_images(self):
        """LXD's image listing; times default to LXD's "never used" of an
        image uploaded now."""
        never = '0001-01-01T00:00:00Z'
        now = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
        return [{'fingerprint': fingerprint,
                 'aliases': [{'name': a, 'description': ''}
                             for a, f in sorted(self.aliases.items())
                             if f == fingerprint],
                 'uploaded_at': self.times.get(fingerprint, (now,))[0],
                 'last_used_at': self.times.get(fingerprint,
                                                (now, never))[1]}
                for fingerprint in self.images]

    def image_by_alias(self, alias):
        return self.aliases.get(alias)

    def architecture(self):
        return self.architectures[0]

    def server_info(self):
        return {'environment': {'architectures': self.architectures}}

    def pool_resources(self, name):
        return {'space': {'total': self.pool_free + 1024, 'used': 1024}}

    def image_exists(self, fingerprint):
        return fingerprint in self.images

    def upload_image(self, body, content_type, name):
        self.importing.set()
        if name in self.gates:
            self.gates[name].wait(10)
        time.sleep(self.delay)
        data = b''.join(body)
        metadata, rootfs = None, data
        if content_type.startswith('multipart/form-data; boundary='):
            boundary = content_type.split('=', 1)[1].encode()
            parts = data.split(b'--' + boundary)[1:-1]
            metadata, rootfs = (p.split(b'\r\n\r\n', 1)[1][:-2]
                                for p in parts)
        self.uploaded.append((metadata, rootfs))
        fingerprint = hashlib.sha256((metadata or b'') + rootfs).hexdigest()
        if fingerprint in self.images:
            raise lxd_exception.LXDImageExists(
                action='import image', target=name,
                error='Image with same fingerprint already exists')
        self.images[fingerprint] = metadata
        self.uploads += 1
        return fingerprint

    def add_image_alias(self, fingerprint, alias, description):
        if self.fail_alias or alias in self.aliases:
            raise lxd_exception.LXDRequestFailed(
                action='create image alias', target=alias, error='boom')
        self.aliases[alias] = fingerprint

    def delete_image(self, fingerprint):
        self.images.pop(fingerprint, None)
        for alias, target in list(self.aliases.items()):
            if target == fingerprint:
                del self.aliases[alias]
