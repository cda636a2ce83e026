"""Local storage of instances: what the pool gives, and ephemeral disks.

A flavor's ``ephemeral_gb`` (or the ``ephemerals`` of nova's block device
info) becomes one custom volume per disk in ``[lxd] pool``, named
``<instance name>-ephemeral<num>`` (disks.EPHEMERAL_VOLUME), sized where
the pool has quotas, and mounted in the guest by a disk device (disks.
ephemeral_device: the first at /mnt).  The volumes are created before the
container, which refers to them, and deleted after it: LXD refuses to
delete a volume an instance still uses.
"""
import re

from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import disks

LOG = logging.getLogger(__name__)


def warn_about_pool(pool):
    """Log what an operator loses with this pool (once, at init_host).

    :param pool: ``GET /1.0/storage-pools/<name>`` metadata.
    """
    quota, clone = disks.pool_features(pool)
    if not quota:
        LOG.warning('Storage pool %s (%s) has no quotas: flavor root and '
                    'ephemeral sizes are not enforced, and DISK_GB is '
                    "the pool's free space, shared with the host",
                    pool['name'], pool['driver'])
    if not clone:
        LOG.warning('Storage pool %s (%s) cannot clone: LXD unpacks the '
                    'image again for every instance; a btrfs, zfs, '
                    'lvm-thin or ceph pool creates instances by snapshot',
                    pool['name'], pool['driver'])


class EphemeralDisks:
    """Creates and deletes the ephemeral volumes of instances."""

    def __init__(self, session):
        """:param session: the driver's LXDSession."""
        self._session = session

    @staticmethod
    def plan(instance, block_device_info, pool, pool_driver):
        """Validate the instance's ephemeral disks; nothing is created.

        :returns: ``(volumes, devices)``: the custom volume bodies to
            create and a dict of device name -> LXD disk device.
        :raises UnsupportedDisk, InvalidExtraSpec: before anything exists.
        """
        specs = instance.flavor.extra_specs
        volumes, devices = [], {}
        for disk in disks.ephemeral_disks(instance, block_device_info):
            volumes.append(disks.ephemeral_volume(instance, disk,
                                                  pool_driver))
            name, device = disks.ephemeral_device(pool, disk, instance.name,
                                                  specs)
            devices[name] = device
        return volumes, devices

    def create(self, pool, volumes):
        """Create the volumes of :meth:`plan`.  A failure leaves the ones
        already made to :meth:`delete`, which spawn's rollback calls.

        :raises LXDRequestFailed: e.g. the pool has no room left.
        """
        for body in volumes:
            self._session.create_volume(pool, body)

    def volumes_of(self, devices):
        """``[(pool, volume)]`` of the ephemeral disks among an instance's
        LXD devices (its own record of where they are)."""
        return [(d['pool'], d['source']) for name, d in devices.items()
                if name.startswith('ephemeral') and d.get('type') == 'disk'
                and d.get('pool') and d.get('source')]

    def delete(self, instance_name, pool, known=None):
        """Delete an instance's ephemeral volumes (idempotent).

        :param pool: the configured pool, searched by name when ``known``
            is None (no container record: a spawn that failed before the
            container existed).
        :param known: ``(pool, volume)`` pairs from :meth:`volumes_of`, or
            None.
        :raises LXDRequestFailed: LXD refused to delete one (the others
            are still tried first).
        """
        targets = set(known or ())
        if known is None:
            pattern = re.compile(re.escape(
                disks.ephemeral_volume_name(instance_name, '')) + r'\d+$')
            targets.update((pool, name) for name in
                           self._session.custom_volume_names(pool)
                           if pattern.match(name))
        failed = None
        for volume_pool, name in sorted(targets):
            try:
                self._session.delete_volume(volume_pool, name)
            except Exception as e:
                LOG.error('Could not delete ephemeral volume %s/%s: %s',
                          volume_pool, name, e)
                failed = failed or e
        if failed is not None:
            raise failed
