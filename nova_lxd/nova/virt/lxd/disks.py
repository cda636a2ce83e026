"""Flavor, block device info and pool -> LXD disks.  Pure: no I/O.

Follows nova's units (root_gb and ephemeral sizes in GiB, swap in MiB) and
LXD's storage model:

* disk devices:
  https://documentation.ubuntu.com/lxd/en/latest/reference/devices_disk/
* pool drivers and what each can do (quotas, optimised image storage):
  https://documentation.ubuntu.com/lxd/en/latest/reference/storage_drivers/
* custom volumes (``POST /1.0/storage-pools/<pool>/volumes/custom``):
  https://documentation.ubuntu.com/lxd/en/latest/howto/storage_volumes/

Every value is validated here, before anything is created in LXD.
"""
from nova.virt import driver
from oslo_serialization import jsonutils

from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import exception as lxd_exception

# Pool drivers on which LXD enforces a disk ``size``; ``dir`` has no
# quota, so a size there would only make instance creation fail.
QUOTA_POOL_DRIVERS = frozenset(
    {'btrfs', 'zfs', 'lvm', 'ceph', 'powerflex', 'pure'})
# Pool drivers whose instances LXD makes from an image volume kept in the
# pool, by snapshot, instead of unpacking the image for every instance
# (LXD's "optimized image storage"); lvm only with its thin pool.
CLONE_POOL_DRIVERS = frozenset({'btrfs', 'zfs', 'lvm', 'ceph'})
# Drivers whose custom volumes are block devices formatted by LXD
# (``block.filesystem``); the others are directories of the pool.
BLOCK_POOL_DRIVERS = frozenset({'lvm', 'ceph', 'powerflex', 'pure'})
BLOCK_FILESYSTEMS = ('ext4', 'xfs', 'btrfs')

# Where the ephemeral disks appear in the guest: the first where
# cloud-init's default puts ``ephemeral0``, the others beside it.
FIRST_EPHEMERAL_PATH = '/mnt'
EPHEMERAL_VOLUME = '{instance}-ephemeral{num}'


def pool_features(pool):
    """What a storage pool gives instances.

    :param pool: ``GET /1.0/storage-pools/<name>`` metadata (``driver``,
        ``config``).
    :returns: ``(quota, clone)``: True when LXD enforces disk sizes on the
        pool, True when it clones instances from an image volume.
    """
    name = pool['driver']
    clone = name in CLONE_POOL_DRIVERS
    if name == 'lvm' and str(pool.get('config', {}).get(
            'lvm.use_thinpool', 'true')).lower() == 'false':
        clone = False
    return name in QUOTA_POOL_DRIVERS, clone


# nova's direction in quota:disk_<direction>_* -> LXD disk key.
_IO_KEYS = {'read': 'limits.read', 'write': 'limits.write',
            'total': 'limits.max'}


def _io_limit(specs, direction):
    """quota:disk_<direction>_{bytes,iops}_sec -> ``{LXD key: value}``."""
    bytes_key = f'quota:disk_{direction}_bytes_sec'
    iops_key = f'quota:disk_{direction}_iops_sec'
    if bytes_key in specs and iops_key in specs:
        raise lxd_exception.InvalidExtraSpec(
            key=iops_key, value=specs[iops_key],
            reason=f'LXD takes either {bytes_key} or {iops_key}, not both')
    if bytes_key in specs:
        return {_IO_KEYS[direction]:
                f'{definition.positive_int(bytes_key, specs[bytes_key])}B'}
    if iops_key in specs:
        return {_IO_KEYS[direction]:
                f'{definition.positive_int(iops_key, specs[iops_key])}iops'}
    return {}


def io_limits(extra_specs):
    """quota:disk_{read,write,total}_{bytes,iops}_sec -> LXD disk limits.

    ``read``/``write``/``total`` become ``limits.read``/``limits.write``/
    ``limits.max``; bytes per second are sent with LXD's ``B`` suffix
    (bytes/s), IOPS with ``iops``.  Every disk of the instance (root,
    ephemeral, volumes) gets the same limits, as libvirt applies the
    flavor's quotas to each of its disks.

    :raises InvalidExtraSpec: a malformed value; bytes and IOPS both given
        for one direction (LXD takes one); or a total with a read or write
        limit (LXD's ``limits.max`` replaces both).
    """
    limits = {}
    for direction in _IO_KEYS:
        limits.update(_io_limit(extra_specs, direction))
    if 'limits.max' in limits and len(limits) > 1:
        key = next(k for k in sorted(extra_specs)
                   if k.startswith('quota:disk_total_'))
        raise lxd_exception.InvalidExtraSpec(
            key=key, value=extra_specs[key],
            reason='a total limit replaces the read and write limits in '
                   'LXD; give either the total or read/write')
    return limits


def root_disk_device(pool, pool_driver, root_gb, extra_specs):
    """The ``root`` disk device of an instance.

    :param pool: LXD storage pool name.
    :param pool_driver: the pool's driver (dir, btrfs, zfs, lvm, ceph...).
    :param root_gb: flavor root disk in GiB; 0 means the image's size.
    :param extra_specs: flavor extra specs (disk I/O quotas).
    :returns: LXD device dict.
    """
    device = {'type': 'disk', 'path': '/', 'pool': pool}
    if root_gb and pool_driver in QUOTA_POOL_DRIVERS:
        device['size'] = f'{int(root_gb)}GiB'
    device.update(io_limits(extra_specs))
    return device


def ephemeral_disks(instance, block_device_info):
    """The ephemeral disks an instance must get.

    :param instance: nova Instance (uses ``flavor.ephemeral_gb``, GiB).
    :param block_device_info: nova's block device info dict or None; its
        ``ephemerals`` (``num``, ``size`` GiB, ``guest_format``) win over
        the flavor, as in nova's other drivers.
    :returns: list of ``{'num': int, 'size': GiB, 'guest_format': str or
        None}``, in ``num`` order.
    """
    found = driver.block_device_info_get_ephemerals(block_device_info)
    if not found and instance.flavor.ephemeral_gb:
        found = [{'num': 0, 'size': instance.flavor.ephemeral_gb}]
    disks = [{'num': int(e.get('num') or 0), 'size': int(e['size']),
              'guest_format': e.get('guest_format')} for e in found]
    return sorted(disks, key=lambda d: d['num'])


def ephemeral_volume_name(instance_name, num):
    """LXD custom volume name of ephemeral disk ``num`` of an instance."""
    return EPHEMERAL_VOLUME.format(instance=instance_name, num=num)


def ephemeral_path(num):
    """Guest path of ephemeral disk ``num``: /mnt, then /mnt/ephemeral1..."""
    return FIRST_EPHEMERAL_PATH if num == 0 else f'/mnt/ephemeral{num}'


def ephemeral_volume(instance, disk, pool_driver):
    """``POST /1.0/storage-pools/<pool>/volumes/custom`` body of one disk.

    :param instance: nova Instance (``name``, ``uuid``).
    :param disk: one item of :func:`ephemeral_disks`.
    :param pool_driver: the pool's driver.
    :raises UnsupportedDisk: a guest_format LXD cannot make (swap, vfat,
        ...), checked before anything exists.
    """
    config = {}
    if disk['size'] and pool_driver in QUOTA_POOL_DRIVERS:
        config['size'] = f"{disk['size']}GiB"
    fmt = disk.get('guest_format')
    if fmt and fmt not in BLOCK_FILESYSTEMS:
        raise lxd_exception.UnsupportedDisk(
            instance=instance.uuid,
            what=f"ephemeral disk {disk['num']} formatted {fmt!r}",
            reason='LXD formats volumes with ' + ', '.join(BLOCK_FILESYSTEMS)
                   + '; leave the format unset or use one of these')
    if fmt and pool_driver in BLOCK_POOL_DRIVERS:
        config['block.filesystem'] = fmt
    return {'name': ephemeral_volume_name(instance.name, disk['num']),
            'type': 'custom', 'content_type': 'filesystem',
            'description': f"Ephemeral disk {disk['num']} of nova instance "
                           f"{instance.uuid}",
            'config': config}


def ephemeral_device(pool, disk, instance_name, extra_specs):
    """The disk device that mounts an ephemeral volume in the guest.

    :returns: ``(device name, LXD device dict)``.
    """
    device = {'type': 'disk', 'pool': pool,
              'source': ephemeral_volume_name(instance_name, disk['num']),
              'path': ephemeral_path(disk['num'])}
    device.update(io_limits(extra_specs))
    return f"ephemeral{disk['num']}", device


def volume_device_name(mountpoint):
    """LXD device name of the volume nova put at ``mountpoint``
    (``/dev/vdb`` -> ``volume-vdb``)."""
    return 'volume-' + mountpoint.rstrip('/').rsplit('/', 1)[-1]


def volume_path(mountpoint):
    """Guest path where the filesystem of the volume nova put at
    ``mountpoint`` is mounted (``/dev/vdb`` -> ``/media/vdb``)."""
    return '/media/' + mountpoint.rstrip('/').rsplit('/', 1)[-1]


def raw_volume_device(device_path, mountpoint):
    """The ``unix-block`` device that gives the guest the volume's block
    device itself, at nova's device name (``/dev/vdb``): for BDMs with
    ``device_type`` ``lun``.  The guest cannot mount it (unprivileged);
    it is for programs that use a block device as it is.  LXD applies no
    I/O limits to unix-block devices.

    :returns: ``(device name, LXD device dict)``.
    """
    return volume_device_name(mountpoint), {
        'type': 'unix-block', 'source': device_path, 'path': mountpoint}


def volume_device(device_path, mountpoint, extra_specs):
    """The disk device that mounts a connected volume in the guest.

    :param device_path: the host block device os-brick connected.
    :param mountpoint: nova's device name for the volume (``/dev/vdb``).
    :param extra_specs: flavor extra specs (disk I/O quotas).
    :returns: ``(device name, LXD device dict)``.
    :raises InvalidExtraSpec: malformed disk quotas.
    """
    device = {'type': 'disk', 'source': device_path,
              'path': volume_path(mountpoint)}
    device.update(io_limits(extra_specs))
    return volume_device_name(mountpoint), device


def container_root(config):
    """Host ``(uid, gid)`` of the container's root, from its LXD config.

    :param config: the instance's ``config``: ``volatile.idmap.current``
        (``volatile.idmap.next`` before its first start), LXD's JSON list
        of ``{Isuid, Isgid, Hostid, Nsid, Maprange}``.
    :returns: the pair, or None for a privileged container (no map).
    """
    entries = jsonutils.loads(config.get('volatile.idmap.current') or
                              config.get('volatile.idmap.next') or '[]')
    ids = {}
    for entry in entries:
        if entry.get('Nsid') == 0:
            for kind in ('Isuid', 'Isgid'):
                if entry.get(kind):
                    ids.setdefault(kind, entry['Hostid'])
    if not ids:
        return None
    return ids['Isuid'], ids['Isgid']


def check_disks(instance, block_device_info):
    """Refuse the disks a container cannot have, before anything exists.

    :param instance: nova Instance (uses ``uuid``, ``flavor.swap`` MiB).
    :param block_device_info: nova's block device info dict or None.
    :raises UnsupportedDisk: a root volume (boot from volume: a container
        is made from an image's filesystem tree) or swap (a container swaps
        to the host's swap, within ``limits.memory``; it has no disk of
        its own to swap to).  Data volumes at boot are fine.
    """
    root_name = (block_device_info or {}).get('root_device_name')
    for bdm in driver.block_device_info_get_mapping(block_device_info):
        if bdm.get('boot_index') == 0 or (
                root_name and bdm.get('mount_device') == root_name):
            raise lxd_exception.UnsupportedDisk(
                instance=instance.uuid, what='a root volume',
                reason='containers boot from an image; boot from the image '
                       'and attach the volume, or make an image of it')
    swap = driver.block_device_info_get_swap(block_device_info) or {}
    swap_mb = instance.flavor.swap or swap.get('swap_size')
    if swap_mb:
        raise lxd_exception.UnsupportedDisk(
            instance=instance.uuid, what=f'a swap disk ({swap_mb} MiB)',
            reason="a container has no disk of its own to swap to and uses "
                   "the host's swap within limits.memory; use a flavor with "
                   "swap 0")
