"""Glance image files: which kind of LXD image they are.  Pure: reads only
the file it is given.

Two kinds of image are accepted, both registered in glance as
``--disk-format raw --container-format bare``:

* a *split root tarball*: the root filesystem at the top of a tar archive
  (plain, gzip, bzip2 or xz), as published for LXD/OpenStack.  The driver
  writes the ``metadata.yaml`` LXD needs from the image's properties
  (:func:`metadata_tarball`).
* a *unified LXD tarball*: ``metadata.yaml`` at the top (and ``rootfs/``),
  uploaded as it is.

Anything else is refused with ``ImageUnacceptable`` before anything is
created in LXD: first on glance's disk and container formats (a qcow2 or iso
is refused without a download), then on the downloaded content.

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
import yaml

UNIFIED = 'unified'
ROOTFS = 'rootfs'

FIX = ('Upload a root filesystem tarball (e.g. `tar -C ROOTFS -czf '
       'image.tar.gz .`) with --disk-format raw --container-format bare.')

# nova's canonical names (hw_architecture) and uname/Debian spellings that
# LXD spells differently; the others are the same in both.
_LXD_ARCHITECTURES = {
    'amd64': 'x86_64', 'i386': 'i686', 'i486': 'i686', 'i586': 'i686',
    'arm64': 'aarch64', 'armv6': 'armv6l', 'armhf': 'armv7l',
    'armv7': 'armv7l', 'ppc64el': 'ppc64le',
}

# Content that glance calls "raw" yet is no tarball: named in the refusal,
# so that the uploader learns what went wrong.
_MAGIC = (
    (0, b'QFI\xfb', 'a qcow2 disk image', FIX),
    (0, b'KDMV', 'a vmdk disk image', FIX),
    (0, b'vhdxfile', 'a vhdx disk image', FIX),
    (0, b'hsqs', 'a squashfs image', FIX),
    (0, b'\x28\xb5\x2f\xfd', 'a zstd-compressed file, which cannot be read '
     'here', 'Recompress the tarball with gzip or xz.'),
    (32769, b'CD001', 'an ISO 9660 image', FIX),
)

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
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError)


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


def _known_format(path):
    """Why a file that is no tarball was refused, if its signature tells."""
    with open(path, 'rb') as f:
        head = f.read(32774)
    for offset, magic, what, fix in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return f'the downloaded image is {what}, not a tarball. {fix}'
    return None


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


def inspect_tarball(path, image_id):
    """Tell which kind of LXD image a downloaded file is, reading no more
    of it than needed.

    :param path: local file: a tar archive, plain or compressed with gzip,
        bzip2 or xz.
    :param image_id: glance image id, for the error message.
    :returns: ``'unified'`` (metadata.yaml at the top) or ``'rootfs'`` (a
        root filesystem at the top, see the module docstring).
    :raises ImageUnacceptable: not a readable tar archive, or neither kind.
    """
    try:
        # Stream mode: members are read in order and nothing is indexed,
        # so leaving early leaves the rest of the file unread.
        with tarfile.open(path, mode='r|*') as archive:
            kind, scan = _scan_members(archive)
    except _READ_ERRORS as e:
        reason = (f'the downloaded image is not a readable tar archive '
                  f'({e}). {FIX}')
    else:
        if kind is not None:
            return kind
        reason = scan.reason()
    # Some disk images (iso) start like an empty tar archive.
    reason = _known_format(path) or reason
    raise exception.ImageUnacceptable(image_id=image_id, reason=reason)


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


def lxd_fingerprint(path, metadata):
    """The fingerprint LXD gives an image before it is uploaded.

    LXD documents it as the SHA-256 of the unified tarball, or of the
    metadata tarball followed by the rootfs tarball for a split image.

    :param path: the (rootfs or unified) tarball on disk.
    :param metadata: bytes of the metadata tarball, or None (unified).
    :returns: 64 lowercase hex digits.
    """
    digest = hashlib.sha256(metadata or b'')
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()
