"""Malformed and hostile image archives, for the unit tests of the image
audit and for the same inputs against a real LXD daemon.

Each case is ``(name, archive bytes, words the refusal must contain,
glance properties)``.  The archives are otherwise root filesystems the
driver would accept (``etc/`` and ``bin/`` at the top), so that only the
hostile part can be what is refused.
"""
import gzip
import io
import lzma
import random
import tarfile

import zstandard

GiB = 1024 ** 3

# e_machine of the ELF programs below.
EM_X86_64, EM_AARCH64 = 62, 183


def elf(machine, little=True):
    """The first 64 bytes of a 64-bit ELF program for ``machine``."""
    order = 'little' if little else 'big'
    ident = b'\x7fELF' + bytes([2, 1 if little else 2, 1]) + b'\0' * 9
    return (ident + (2).to_bytes(2, order) + machine.to_bytes(2, order) +
            b'\0' * 44)


def _info(name, **fields):
    info = tarfile.TarInfo(name)
    info.mode = 0o755 if fields.get('type') == tarfile.DIRTYPE else 0o644
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def directory(name):
    return _info(name, type=tarfile.DIRTYPE), None


def regular(name, data=b'x' * 100):
    return _info(name, size=len(data)), data


def symlink(name, target):
    return _info(name, type=tarfile.SYMTYPE, linkname=target), None


def hardlink(name, target):
    return _info(name, type=tarfile.LNKTYPE, linkname=target), None


def device(name, kind, major, minor):
    return _info(name, type=kind, devmajor=major, devminor=minor), None


def root(program=elf(EM_X86_64)):
    """The members of a small root filesystem with ``program`` as
    bin/sh."""
    return [directory('./etc'), regular('./etc/hostname', b'box\n'),
            directory('./bin'), regular('./bin/sh', program),
            directory('./dev'),
            device('./dev/null', tarfile.CHRTYPE, 1, 3),
            device('./dev/console', tarfile.CHRTYPE, 5, 1)]


def tar(members, compression=''):
    """A tar archive of ``members`` ((TarInfo, data) pairs)."""
    buf = io.BytesIO()
    mode = 'w:' + compression if compression else 'w'
    with tarfile.open(fileobj=buf, mode=mode,
                      format=tarfile.GNU_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def rootfs(*extra, compression='gz', program=elf(EM_X86_64)):
    """A root filesystem with ``extra`` members after the usual ones."""
    return tar(root(program) + list(extra), compression)


def _zstd(data):
    return zstandard.ZstdCompressor().compress(data)


def _half(data):
    return data[:len(data) // 2]


def _damaged_header():
    """A plain archive whose last header has a wrong checksum."""
    data = bytearray(tar(root() + [regular('./etc/motd', b'm' * 2000)]))
    offset = data.index(b'./etc/motd\0')
    data[offset + 100:offset + 108] = b'0007777\0'  # its mode field
    return bytes(data)


def bomb(size):
    """A gzip archive whose last member claims ``size`` bytes; its data
    are not there: an audit must refuse it from the header alone."""
    plain = tar(root())[:-2 * tarfile.BLOCKSIZE].rstrip(b'\0')
    plain += b'\0' * (-len(plain) % tarfile.BLOCKSIZE)
    big = _info('./usr/share/bomb', size=size).tobuf(tarfile.GNU_FORMAT)
    return gzip.compress(plain + big + b'\0' * 4 * tarfile.BLOCKSIZE)


def _many_members(count, size):
    """``count`` files of ``size`` zero bytes: small once compressed."""
    zeros = b'\0' * size
    return rootfs(*[regular(f'./var/z{i}', zeros) for i in range(count)])


def cases(pool_free):
    """The hostile archives, for a pool with ``pool_free`` bytes free.

    :returns: list of (name, bytes, words, glance properties).
    """
    big_plain = tar(root() + [regular('./etc/motd', b'm' * 30000)])
    xz = lzma.compress(big_plain)
    # zstd decodes whole blocks (up to 128 KiB): half of a small archive
    # decodes to nothing at all.
    noise = random.Random(4).randbytes(600 * 1024)
    big_zstd = _zstd(tar(root() + [regular('./etc/noise', noise)]))
    return [
        ('truncated gzip', _half(rootfs(regular('./etc/motd',
                                                bytes(range(256)) * 200))),
         ['truncated or damaged'], {}),
        ('truncated plain tar', big_plain[:9 * tarfile.BLOCKSIZE],
         ['truncated or damaged'], {}),
        ('truncated xz', _half(xz), ['truncated or damaged'], {}),
        ('truncated zstd', _half(big_zstd),
         ['truncated or damaged'], {}),
        ('damaged header', _damaged_header(), ['truncated or damaged'], {}),
        ('dot-dot member', rootfs(regular('../etc/cron.d/evil')),
         ["'../etc/cron.d/evil'", '".." path component'], {}),
        ('dot-dot inside a path', rootfs(regular('./usr/../../x')),
         ['".." path component'], {}),
        ('absolute dot-dot', rootfs(regular('/../../root/x')),
         ['".." path component'], {}),
        ('write through a symlink to /', rootfs(
            symlink('./lib64', '/'), regular('./lib64/etc/shadow')),
         ["symbolic link 'lib64'"], {}),
        ('write through a symlink to ..', rootfs(
            symlink('./up', '..'), regular('./up/x')),
         ["symbolic link 'up'"], {}),
        ('hard link to a host path', rootfs(hardlink('./x', '/etc/shadow')),
         ["hard link to the absolute path '/etc/shadow'"], {}),
        ('hard link upwards', rootfs(hardlink('./x', '../../etc/shadow')),
         ['".." path component'], {}),
        ('block device', rootfs(device('./dev/sda', tarfile.BLKTYPE, 8, 0)),
         ["'./dev/sda' is a block device node 8:0"], {}),
        ('/dev/mem', rootfs(device('./dev/mem', tarfile.CHRTYPE, 1, 1)),
         ['character device node 1:1', 'null'], {}),
        ('/dev/kmsg elsewhere', rootfs(
            device('./tmp/kmsg', tarfile.CHRTYPE, 1, 11)),
         ['character device node 1:11'], {}),
        ('a GPU node', rootfs(device('./dev/nvidia0', tarfile.CHRTYPE,
                                     195, 0)),
         ['character device node 195:0'], {}),
        ('bomb: one member', bomb(pool_free + 1),
         ["member './usr/share/bomb'", 'image_max_unpacked_gb'], {}),
        ('bomb: many members', _many_members(8, pool_free // 6),
         ['unpacks to more than', 'free space of [lxd] pool'], {}),
        ('programs of another architecture',
         rootfs(program=elf(EM_AARCH64)),
         ['built for aarch64', 'registered for x86_64'], {}),
        ('x86_64 programs registered as i686', rootfs(),
         ['built for x86_64', 'registered for i686'],
         {'hw_architecture': 'i686'}),
    ]
