"""Filesystems of attached volumes, mounted on the host (privileged).

The driver mounts a volume's filesystem on the host and LXD binds that
directory into the container: an unprivileged container cannot mount a
block device, and LXD 5.0 keeps the mounts it makes itself inside the
container's namespace, where the host could neither grow the filesystem
after an extend nor give its top directory to the container's root.

What can be found out unprivileged is (:func:`find_mount`); each
entrypoint does one change.
"""
import os

from nova import exception
from oslo_concurrency import processutils

import nova_lxd.privsep

# fstype -> argv growing a mounted filesystem to its device's size;
# ``{device}``/``{mountpoint}`` are filled in.
_ONLINE = {
    'ext4': ('resize2fs', '{device}'),
    'ext3': ('resize2fs', '{device}'),
    'xfs': ('xfs_growfs', '{mountpoint}'),
    'btrfs': ('btrfs', 'filesystem', 'resize', 'max', '{mountpoint}'),
}


def _unescape(path):
    # /proc/mounts escapes blanks, tabs, newlines and backslashes as octal.
    for code, char in (('\\040', ' '), ('\\011', '\t'), ('\\012', '\n'),
                       ('\\134', '\\')):
        path = path.replace(code, char)
    return path


def mounts(mounts_file='/proc/self/mounts'):
    """``[(source, mountpoint, fstype)]`` of the host's mounts."""
    with open(mounts_file) as f:
        return [tuple(_unescape(v) for v in line.split()[:3]) for line in f]


def find_mount(device, mounts_file='/proc/self/mounts'):
    """``(fstype, mountpoint)`` of the first host mount of ``device``, or
    None when it is not mounted (unprivileged)."""
    target = os.path.realpath(device)
    for source, mountpoint, fstype in mounts(mounts_file):
        if source.startswith('/') and os.path.realpath(source) == target:
            return fstype, mountpoint
    return None


def mounted_at(path, mounts_file='/proc/self/mounts'):
    """The source mounted at ``path``, or None (unprivileged)."""
    for source, mountpoint, _fstype in mounts(mounts_file):
        if mountpoint == path:
            return source
    return None


def grow_mounted_filesystem(device):
    """Grow the filesystem mounted from ``device`` to the device's size.

    :raises ExtendVolumeNotSupported: the device is not mounted, or its
        filesystem cannot grow online (e.g. vfat).
    :raises ProcessExecutionError: the grow command failed.
    """
    found = find_mount(device)
    if found is None or found[0] not in _ONLINE:
        raise exception.ExtendVolumeNotSupported()
    grow_filesystem(found[0], device, found[1])


@nova_lxd.privsep.storage_pctxt.entrypoint
def grow_filesystem(fstype: str, device: str, mountpoint: str) -> None:
    """Run the online grow command of ``fstype`` (see _ONLINE).

    :raises ValueError: an fstype not in _ONLINE.
    """
    if fstype not in _ONLINE:
        raise ValueError(f'cannot grow a {fstype} filesystem online')
    argv = [a.format(device=device, mountpoint=mountpoint)
            for a in _ONLINE[fstype]]
    processutils.execute(*argv)


@nova_lxd.privsep.storage_pctxt.entrypoint
def mount(device: str, target: str) -> None:
    """Mount the filesystem on ``device`` at ``target`` (made if missing),
    nosuid and nodev: what is on a volume never gains host privileges.

    :raises ProcessExecutionError: e.g. no filesystem the kernel knows.
    """
    os.makedirs(target, mode=0o711, exist_ok=True)
    try:
        processutils.execute('mount', '-o', 'nosuid,nodev', device, target)
    except Exception:
        os.rmdir(target)
        raise


@nova_lxd.privsep.storage_pctxt.entrypoint
def unmount(target: str) -> None:
    """Unmount ``target`` and remove the empty directory."""
    processutils.execute('umount', target)
    os.rmdir(target)


@nova_lxd.privsep.storage_pctxt.entrypoint
def chown_dir(path: str, uid: int, gid: int) -> None:
    """``chown uid:gid path`` (the path itself, not what is below)."""
    os.chown(path, int(uid), int(gid), follow_symlinks=False)
