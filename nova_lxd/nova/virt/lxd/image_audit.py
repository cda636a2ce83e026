"""Every member of a glance image's tar archive, checked while the archive
streams into LXD.  Pure: reads only the stream it is given.

:mod:`image_format` decides an image's kind from its first members and
stops; LXD unpacks the whole archive later, as root on the host, into the
storage pool.  So each member is checked on the way, and the first bad one
stops the upload: LXD keeps nothing of an interrupted upload, and the
refusal names the member and the fix.  Refused:

* a path with a ``..`` component, or one that goes through a symbolic link
  of the same archive (a link to ``/etc`` followed by ``etc-link/shadow``
  would be written outside the root filesystem by a naive unpacker);
* a hard link to a path outside the archive (absolute or with ``..``);
* block devices, and character devices other than the ones a root
  filesystem carries in ``/dev`` (null, zero, full, random, urandom, tty,
  console, ptmx): a device node in an image must never open a host device;
* more unpacked bytes than ``max_bytes`` (a decompression bomb fills the
  pool before the container exists); the count is of the members' sizes,
  read from their headers before their data;
* for a root filesystem tarball, programs built for another CPU
  architecture than the image is registered for (the first ELF program in
  ``bin``, ``sbin``, ``usr/bin`` or ``usr/sbin``);
* a truncated or damaged archive.

The audit costs one decompression pass in nova-compute, in step with the
upload.  Squashfs images are not audited: LXD's ``unsquashfs`` refuses
unsafe paths itself, and their unpacked size is not in their superblock.
"""
import posixpath
import tarfile

from nova import exception
import zstandard

from nova_lxd.nova.virt.lxd import image_format

# (major, minor) of the character devices a root filesystem's /dev holds.
_HARMLESS_CHAR_DEVICES = {
    (1, 3): 'null', (1, 5): 'zero', (1, 7): 'full', (1, 8): 'random',
    (1, 9): 'urandom', (5, 0): 'tty', (5, 1): 'console', (5, 2): 'ptmx',
}

# ELF e_machine -> the LXD architectures it runs as.
_ELF_MACHINES = {
    3: ('i686',), 62: ('x86_64',), 183: ('aarch64',),
    40: ('armv6l', 'armv7l', 'armv8l'), 21: ('ppc64le', 'ppc64'),
    22: ('s390x',), 243: ('riscv64',),
}
_PROGRAM_DIRS = ('bin/', 'sbin/', 'usr/bin/', 'usr/sbin/')
_ELF_MAGIC = b'\x7fELF'

CHUNK = 1024 * 1024


def _refuse(image_id, reason):
    raise exception.ImageUnacceptable(
        image_id=image_id, reason=f'{reason}. {image_format.FIX}')


def elf_architectures(header):
    """The LXD architectures an ELF program runs as.

    :param header: at least the first 20 bytes of the file.
    :returns: a tuple of LXD architecture names; () for a file that is no
        ELF program or of a machine this table does not know.
    """
    if len(header) < 20 or not header.startswith(_ELF_MAGIC):
        return ()
    order = 'little' if header[5] == 1 else 'big'
    return _ELF_MACHINES.get(int.from_bytes(header[18:20], order), ())


class MemberAudit:
    """The checks of one archive, member by member (see the module
    docstring).

    :param image_id: glance image id, for the refusals.
    :param max_bytes: unpacked bytes allowed (int, bytes).
    :param architecture: the LXD architecture the image is registered for
        (e.g. 'x86_64'), or None to skip the program check (unified
        tarballs carry their own).
    """

    def __init__(self, image_id, max_bytes, architecture=None):
        self.image_id, self._max_bytes = image_id, max_bytes
        self._architecture = architecture
        self._symlinks = set()
        self.unpacked = 0
        self.members = 0

    def check(self, member, archive):
        """Check one member; ``archive`` is the stream it was read from (to
        read an ELF header of the current member).

        :raises ImageUnacceptable: naming the member.
        """
        self.members += 1
        path = self._path(member.name, member.name)
        if member.islnk():
            self._hard_link(member)
        elif member.issym():
            self._symlinks.add(path)
        elif member.isdev():
            self._device(member)
        self.unpacked += member.size
        if self.unpacked > self._max_bytes:
            _refuse(self.image_id,
                    f'the archive unpacks to more than {self._max_bytes} '
                    f'bytes (at member {member.name!r}), the limit set by '
                    f'[lxd] image_max_unpacked_gb and the free space of '
                    f'[lxd] pool')
        if self._architecture and member.isfile() and path.startswith(
                _PROGRAM_DIRS):
            self._program(member, archive)

    def _path(self, name, member):
        """``name`` normalised; refused with ``..`` or through a link."""
        parts = [p for p in name.split('/') if p not in ('', '.')]
        if '..' in parts:
            _refuse(self.image_id,
                    f'archive member {member!r} has a ".." path component '
                    f'and would be written outside the root filesystem')
        for depth in range(1, len(parts)):
            parent = '/'.join(parts[:depth])
            if parent in self._symlinks:
                _refuse(self.image_id,
                        f'archive member {member!r} is written through the '
                        f'symbolic link {parent!r} of the same archive')
        return '/'.join(parts)

    def _hard_link(self, member):
        target = member.linkname
        if posixpath.isabs(target):
            _refuse(self.image_id,
                    f'archive member {member.name!r} is a hard link to the '
                    f'absolute path {target!r}')
        self._path(target, member.name)

    def _device(self, member):
        if member.ischr() and (member.devmajor, member.devminor) in \
                _HARMLESS_CHAR_DEVICES:
            return
        kind = 'block' if member.isblk() else (
            'character' if member.ischr() else 'fifo')
        if kind == 'fifo':
            return
        _refuse(self.image_id,
                f'archive member {member.name!r} is a {kind} device node '
                f'{member.devmajor}:{member.devminor}; images may carry '
                f'only the character devices '
                f'{", ".join(sorted(_HARMLESS_CHAR_DEVICES.values()))}')

    def _program(self, member, archive):
        f = archive.extractfile(member)
        found = elf_architectures(f.read(20))
        if not found:
            return
        self._architecture, expected = None, self._architecture
        if expected not in found:
            _refuse(self.image_id,
                    f'the image\'s programs ({member.name!r}) are built for '
                    f'{found[0]}, but it is registered for {expected} (glance '
                    f'property hw_architecture, or this host\'s '
                    f'architecture when unset)')


class _Tee:
    """A read-only stream that keeps what was read for the upload."""

    def __init__(self, source):
        self._source = source
        self.out = bytearray()

    def read(self, size=-1):
        data = self._source.read(size)
        self.out += data
        return data

    def take(self):
        data, self.out = bytes(self.out), bytearray()
        return data


def _open(tee, head):
    if head.startswith(image_format.ZSTD_MAGIC):
        return tarfile.open(
            mode='r|',
            fileobj=zstandard.ZstdDecompressor().stream_reader(tee))
    return tarfile.open(mode='r|*', fileobj=tee)


def audited_chunks(stream, head, audit, chunk=CHUNK):
    """Yield the bytes of a tar archive for the upload, checking each
    member with ``audit`` as it passes.

    :param stream: readable binary stream of the whole archive (plain,
        gzip, bzip2, xz or zstd).
    :param head: its first bytes (to tell zstd, which tarfile cannot).
    :param audit: a :class:`MemberAudit`.
    :param chunk: bytes per chunk yielded (the last may be shorter).
    :raises ImageUnacceptable: at the first bad member, or when the archive
        is truncated or damaged; the caller's upload stops there.
    """
    tee = _Tee(stream)
    try:
        with _open(tee, head) as archive:
            for member in archive:
                audit.check(member, archive)
                if len(tee.out) >= chunk:
                    yield tee.take()
            if not _ended(archive):
                raise tarfile.ReadError('no end-of-archive marker')
    except image_format.READ_ERRORS as e:
        _refuse(audit.image_id,
                f'the archive is truncated or damaged after '
                f'{audit.members} members ({e})')
    # What follows the end-of-archive blocks (padding, trailing data).
    while tee.read(chunk):
        if len(tee.out) >= chunk:
            yield tee.take()
    if tee.out:
        yield tee.take()


def _ended(archive):
    """Whether a stream-mode archive stopped at its end-of-archive marker
    (two zero blocks) rather than where its data ran out or a header was
    damaged: tarfile ends the iteration quietly in all three cases."""
    stream = archive.fileobj
    if stream.pos - archive.offset != tarfile.BLOCKSIZE:
        return False  # the data ran out within the header or the member
    # The block read was zeros or a damaged header; the marker's second
    # block tells which.
    return stream.read(tarfile.BLOCKSIZE) == tarfile.NUL * tarfile.BLOCKSIZE
