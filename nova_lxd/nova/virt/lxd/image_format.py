"""Glance image data: which kind of LXD image they are.  Pure: reads only
the stream it is given.

Three kinds of image are accepted, all registered in glance as
``--disk-format raw --container-format bare``:

* a *split root tarball*: the root filesystem at the top of a tar archive
  (plain, gzip, bzip2, xz or zstd), as published for LXD/OpenStack.  The
  driver writes the ``metadata.yaml`` LXD needs from the image's
  properties (:func:`metadata_tarball`).
* a *squashfs root filesystem* (LXD's own split image format), with the
  same metadata written for it; its content is checked by LXD when it
  unpacks it.
* a *unified LXD tarball*: ``metadata.yaml`` at the top (and ``rootfs/``),
  uploaded as it is.

Anything else is refused with ``ImageUnacceptable`` before anything is
created in LXD: first on glance's disk and container formats (a qcow2 or iso
is refused without a download), then on the first bytes of the download,
whose disk image format (qcow2, vmdk, vhdx, iso...) oslo.utils' format
inspector names in the refusal.

A root filesystem is recognised by its top-level layout, as members of the
archive (files, links or directories, in any order): ``etc`` and one of
``bin``, ``sbin`` or ``usr`` (with a merged /usr, bin and sbin are links
into it).  Reading stops as soon as they (or a ``metadata.yaml``) are seen,
which is within the first few hundred members of the distributions' root
tarballs (measured: entry 669 of 13,827 for Debian bookworm, against
12,513 for usr/bin); at worst it costs one decompression pass, never an
extraction to disk.  An archive with that layout but no
usable init fails when the instance starts, and the spawn is rolled back.

LXD image format:
https://documentation.ubuntu.com/lxd/en/latest/reference/image_format/
"""
import hashlib
import io
import lzma
import posixpath
import tarfile
import zlib

from nova import exception
from oslo_utils.imageutils import format_inspector
import yaml
import zstandard

UNIFIED = 'unified'
ROOTFS = 'rootfs'
SQUASHFS = 'squashfs'

# How much of an archive may be read (and kept in memory) before its kind
# is known; the distributions' root tarballs are decided within their first
# few MiB.
HEAD_LIMIT = 64 * 1024 * 1024
_SQUASHFS_MAGIC = b'hsqs'
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
# Enough of the start of a file for the format inspector (an ISO's first
# descriptor is at 32 KiB).
_INSPECT_BYTES = 64 * 1024

FIX = ('Upload a root filesystem tarball (e.g. `tar -C ROOTFS -czf '
       'image.tar.gz .`) with --disk-format raw --container-format bare.')

# nova's canonical names (hw_architecture) and uname/Debian spellings that
# LXD spells differently; the others are the same in both.
_LXD_ARCHITECTURES = {
    'amd64': 'x86_64', 'i386': 'i686', 'i486': 'i686', 'i586': 'i686',
    'arm64': 'aarch64', 'armv6': 'armv6l', 'armhf': 'armv7l',
    'armv7': 'armv7l', 'ppc64el': 'ppc64le',
}

# Evidence of a root filesystem: each key needs a member at one of its paths
# (or below it).  Checked against paths normalised by _member_path.
_ROOTFS_EVIDENCE = {
    'etc/': ('etc',),
    'bin/, sbin/ or usr/': ('bin', 'sbin', 'usr'),
}

_ROOTFS_TOPS = {c.split('/', 1)[0]
                for cs in _ROOTFS_EVIDENCE.values() for c in cs}

# What tarfile raises on a damaged or foreign stream, depending on the
# compression and on where the stream breaks.
READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError,
               zstandard.ZstdError)


def lxd_architecture(name):
    """LXD's name for a CPU architecture.

    :param name: a nova ``hw_architecture`` or ``uname -m`` name, e.g.
        'x86_64', 'amd64', 'aarch64', 'armv6'.
    :returns: the LXD name, e.g. 'x86_64', 'aarch64', 'armv6l'; names LXD
        spells like nova are returned lowercased.
    """
    name = name.lower()
    return _LXD_ARCHITECTURES.get(name, name)


def meta_field(obj, name):
    """An object field's value, or None when it is unset."""
    return getattr(obj, name) if obj.obj_attr_is_set(name) else None


def check_glance_format(image_meta):
    """Refuse images glance does not register as root tarballs.

    :param image_meta: nova.objects.ImageMeta (id, disk_format,
        container_format; name used in the message).
    :raises ImageUnacceptable: unless disk_format is 'raw' and
        container_format is 'bare'.
    """
    disk = meta_field(image_meta, 'disk_format')
    container = meta_field(image_meta, 'container_format')
    if (disk, container) == ('raw', 'bare'):
        return
    name = meta_field(image_meta, 'name') or image_meta.id
    reason = (f'glance image {name!r} has disk_format={disk} and '
              f'container_format={container}, but LXD containers boot '
              f'from root filesystem tarballs only, not from disk images '
              f'(qcow2, iso, vmdk...). {FIX}')
    raise exception.ImageUnacceptable(image_id=image_meta.id, reason=reason)


def _disk_format(head):
    """Why data that is no tarball was refused, if oslo.utils' format
    inspector recognises its start as a disk image (qcow2, vmdk...)."""
    wrapper = format_inspector.InspectWrapper(io.BytesIO(head))
    while wrapper.read(4096):
        pass
    wrapper.close()  # the end of what there is to inspect
    try:
        found = wrapper.format
    except format_inspector.ImageFormatError:  # several formats matched
        found = None
    if found is None or str(found) == 'raw':
        return None
    return (f'the downloaded image is a disk image in {found} format, '
            f'not a tarball. {FIX}')


class _Recorder:
    """A read-only stream that keeps every byte read through it."""

    def __init__(self, source, limit):
        self._source, self._limit = source, limit
        self.head = bytearray()

    def read(self, size=-1):
        room = self._limit - len(self.head)
        if room <= 0:
            raise EOFError(f'no decision within the first '
                           f'{self._limit // (1024 * 1024)} MiB')
        data = self._source.read(room if size < 0 else min(size, room))
        self.head += data
        return data

    def fill(self, size):
        """Read on until ``size`` bytes are kept (or the stream ends)."""
        while len(self.head) < size:
            if not self.read(size - len(self.head)):
                break


def _member_path(name):
    """Archive member name without './', leading or trailing slashes."""
    return posixpath.normpath('/' + name).lstrip('/')


class _Scan:
    """What the members read so far tell about an archive."""

    def __init__(self):
        self.found = set()
        self.tops = set()
        self.members = 0

    def add(self, path):
        self.members += 1
        if len(self.tops) < 2:
            self.tops.add(path.split('/', 1)[0])
        for key, candidates in _ROOTFS_EVIDENCE.items():
            if any(path == c or path.startswith(c + '/') for c in candidates):
                self.found.add(key)

    def reason(self):
        """Why the archive is no root filesystem, with the fix."""
        if not self.members:
            return f'the tar archive is empty. {FIX}'
        top = next(iter(self.tops))
        if len(self.tops) == 1 and top not in _ROOTFS_TOPS:
            return (f'everything in the tar archive is below {top}/, but '
                    f'the root filesystem must be at the top of the '
                    f'archive. {FIX}')
        missing = [k for k in _ROOTFS_EVIDENCE if k not in self.found]
        return (f'the tar archive is neither a root filesystem (no '
                f'{", no ".join(missing)} at its top) nor a unified LXD '
                f'image (no metadata.yaml at its top). {FIX}')


def _scan_members(archive):
    """Read members until the kind is known; return (kind or None, scan)."""
    scan = _Scan()
    for member in archive:
        path = _member_path(member.name)
        if not path:
            continue
        if path == 'metadata.yaml' and member.isfile():
            return UNIFIED, scan
        scan.add(path)
        if len(scan.found) == len(_ROOTFS_EVIDENCE):
            return ROOTFS, scan
    return None, scan


def inspect_stream(source, image_id, limit=HEAD_LIMIT):
    """Tell which kind of LXD image a stream is, reading no more of it than
    needed.

    :param source: readable binary stream: a tar archive (plain, gzip,
        bzip2, xz or zstd) or a squashfs filesystem.
    :param image_id: glance image id, for the error message.
    :param limit: bytes that may be read (and kept) before deciding.
    :returns: ``(kind, head)``: ``'unified'`` (metadata.yaml at the top),
        ``'rootfs'`` (a root filesystem at the top, see the module
        docstring) or ``'squashfs'``, and the bytes read from ``source``
        (to be sent before the rest of it).
    :raises ImageUnacceptable: not a readable archive, or neither kind.
    """
    recorder = _Recorder(source, limit)
    recorder.fill(tarfile.BLOCKSIZE)
    if recorder.head.startswith(_SQUASHFS_MAGIC):
        return SQUASHFS, bytes(recorder.head)
    try:
        if recorder.head.startswith(ZSTD_MAGIC):
            archive = tarfile.open(
                mode='r|', fileobj=zstandard.ZstdDecompressor().stream_reader(
                    Replayed(bytes(recorder.head), recorder)))
        else:
            # Stream mode: members are read in order and nothing is
            # indexed, so leaving early leaves the rest unread.
            archive = Replayed(bytes(recorder.head), recorder).tar()
        with archive:
            kind, scan = _scan_members(archive)
    except READ_ERRORS as e:
        reason = (f'the downloaded image is not a readable tar archive '
                  f'({e}). {FIX}')
    else:
        if kind is not None:
            return kind, bytes(recorder.head)
        reason = scan.reason()
    # Some disk images (iso) start like an empty tar archive.
    recorder.fill(_INSPECT_BYTES)
    reason = _disk_format(bytes(recorder.head[:_INSPECT_BYTES])) or reason
    raise exception.ImageUnacceptable(image_id=image_id, reason=reason)


class Replayed:
    """``head`` (already read from ``rest``) followed by ``rest``."""

    def __init__(self, head, rest):
        self._head, self._rest = head, rest

    def read(self, size=-1):
        if not self._head:
            return self._rest.read(size)
        data = self._head if size < 0 else self._head[:size]
        self._head = self._head[len(data):]
        # A short first read would hide a compression magic from tarfile,
        # which looks at its first read only.
        if size < 0 or len(data) < size:
            data += self._rest.read(-1 if size < 0 else size - len(data))
        return data

    def tar(self):
        return tarfile.open(mode='r|*', fileobj=self)


def inspect_tarball(path, image_id):
    """:func:`inspect_stream` of a local file; returns the kind only."""
    with open(path, 'rb') as f:
        return inspect_stream(f, image_id)[0]


def metadata_tarball(image_meta, architecture, created_at, os_version=None):
    """The metadata tarball LXD needs beside a split root tarball.

    The result depends only on its arguments, so importing the same glance
    image again gives the same LXD fingerprint.

    :param image_meta: nova.objects.ImageMeta: name gives the description,
        properties.os_distro the ``os`` property.
    :param architecture: LXD architecture name, e.g. 'x86_64'.
    :param created_at: creation time, epoch seconds (int or float).
    :param os_version: glance ``os_version`` property (the ``release``
        property), or None.
    :returns: bytes of an uncompressed tar archive holding metadata.yaml.
    """
    properties = {'description': (meta_field(image_meta, 'name') or
                                  image_meta.id)}
    os_distro = image_meta.properties.get('os_distro')
    if os_distro:
        properties['os'] = os_distro
    if os_version:
        properties['release'] = str(os_version)
    document = {'architecture': architecture,
                'creation_date': int(created_at),
                'properties': properties}
    data = yaml.safe_dump(document, default_flow_style=False).encode()
    info = tarfile.TarInfo('metadata.yaml')
    info.size, info.mtime, info.mode = len(data), int(created_at), 0o644
    info.uname = info.gname = 'root'
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def multipart_body(boundary, metadata, chunks):
    """The ``multipart/form-data`` body of a split image upload, streamed.

    LXD takes a split image (``POST /1.0/images``) as two parts, the
    metadata tarball first and then the root filesystem; this yields them
    with their framing, without ever holding the root filesystem in memory,
    so that it can be sent with chunked transfer encoding (its length need
    not be known).

    :param boundary: the boundary of the Content-Type header (str).
    :param metadata: bytes of the metadata tarball.
    :param chunks: iterable of bytes of the root filesystem.
    """
    def head(name):
        return (f'--{boundary}\r\nContent-Disposition: form-data; '
                f'name="{name}"; filename="{name}"\r\nContent-Type: '
                f'application/octet-stream\r\n\r\n').encode()
    yield head('metadata') + metadata + b'\r\n' + head('rootfs')
    yield from chunks
    yield f'\r\n--{boundary}--\r\n'.encode()


def chunks(stream, size=1024 * 1024):
    """Yield ``stream`` in pieces of ``size`` bytes until its end."""
    yield from iter(lambda: stream.read(size), b'')


class Fingerprint:
    """LXD's fingerprint of an image: the SHA-256 of the unified tarball,
    or of the metadata tarball followed by the root filesystem of a split
    image (LXD's image format docs)."""

    def __init__(self, metadata=None):
        self._digest = hashlib.sha256(metadata or b'')
        self.size = 0

    def chunks(self, stream, size=1024 * 1024):
        """Yield ``stream`` in pieces of ``size`` bytes, hashing them."""
        for chunk in chunks(stream, size):
            self._digest.update(chunk)
            self.size += len(chunk)
            yield chunk

    def hexdigest(self):
        return self._digest.hexdigest()
