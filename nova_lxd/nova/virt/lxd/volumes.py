"""Cinder volumes of containers, through os-brick.

A volume's ``connection_info`` (what Cinder's ``initialize_connection``
returned: ``driver_volume_type`` and ``data``) is connected on the host by
the os-brick connector of its protocol (iSCSI, FC, NVMe-oF, RBD, local...),
which yields a block device.  Its filesystem is mounted on the host under
``[lxd] volume_mount_dir`` and the container gets that directory as an LXD
``disk`` device: an unprivileged container cannot mount a block device
itself, and a host mount is what lets the filesystem grow online after an
extend and its top directory be handed to the container's root (see
nova_lxd.privsep.fs).  A volume nova names ``/dev/vdb`` appears at
``/media/vdb`` (disks.volume_path).  A BDM with ``device_type`` ``lun``
gets the raw block device instead, at ``/dev/vdb`` (no host mount).

os-brick runs its root commands through its own privsep context
(``[privsep_osbrick]``, set up by nova-compute's ``os_brick.setup``); ours
go through nova_lxd.privsep.fs.

References: os-brick's ``InitiatorConnector`` API
(https://docs.openstack.org/os-brick/latest/reference/), nova's
``ComputeDriver.attach_volume``/``detach_volume``/``extend_volume``, LXD's
disk devices (https://documentation.ubuntu.com/lxd/en/latest/reference/
devices_disk/).
"""
import os

from nova import exception
from nova import utils
from nova.virt import driver
from os_brick.initiator import connector
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import disks
from nova_lxd.privsep import fs

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF


def mount_dir(instance, mountpoint):
    """Host directory where a volume of ``instance`` is mounted."""
    return os.path.join(CONF.lxd.volume_mount_dir, instance.uuid + '-' +
                        mountpoint.rstrip('/').rsplit('/', 1)[-1])


class VolumeAttacher:
    """Connects and mounts volumes on the host, hands them to containers."""

    def __init__(self, session):
        """:param session: the driver's LXDSession."""
        self._session = session

    @staticmethod
    def connector_properties():
        """os-brick's connector of this host: ``ip``
        (``[DEFAULT] my_block_storage_ip``), ``host``, ``initiator`` (iSCSI
        IQN when the host has one), ``nqn``, ``multipath``... what Cinder
        needs to export a volume to this host."""
        return connector.get_connector_properties(
            utils.get_root_helper(), CONF.my_block_storage_ip,
            CONF.lxd.volume_use_multipath, enforce_multipath=True,
            host=CONF.host)

    @staticmethod
    def _connector(connection_info):
        protocol = connection_info.get('driver_volume_type') or ''
        try:
            return connector.InitiatorConnector.factory(
                protocol, utils.get_root_helper(),
                use_multipath=CONF.lxd.volume_use_multipath,
                device_scan_attempts=CONF.lxd.volume_scan_tries)
        except ValueError:
            raise exception.VolumeDriverNotFound(driver_type=protocol)

    def _connect_and_mount(self, instance, connection_info, mountpoint,
                           device_type=None):
        """Connect the volume and mount its filesystem on the host
        (idempotent); return its LXD ``(device name, disk device)``.  With
        ``device_type`` ``lun`` the block device itself is handed over
        (``data['lxd_access'] = 'block'`` records it for extend)."""
        data = connection_info['data']
        if data.get('encrypted'):
            raise exception.VolumeEncryptionNotSupported(
                volume_type=connection_info.get('driver_volume_type'),
                volume_id=connection_info.get('serial'))
        device_info = self._connector(connection_info).connect_volume(data)
        data['device_path'] = device_info['path']
        if device_type == 'lun':
            data['lxd_access'] = 'block'
            return disks.raw_volume_device(device_info['path'], mountpoint)
        target = mount_dir(instance, mountpoint)
        if fs.mounted_at(target) is None:
            fs.mount(device_info['path'], target)
        return disks.volume_device(target, mountpoint,
                                   instance.flavor.extra_specs)

    def _release(self, instance, connection_info, mountpoint):
        """Unmount and disconnect (idempotent); errors are raised."""
        target = mount_dir(instance, mountpoint)
        if fs.mounted_at(target) is not None:
            fs.unmount(target)
        self._connector(connection_info).disconnect_volume(
            connection_info['data'], None, force=True)

    def attach(self, instance, connection_info, mountpoint,
               device_type=None):
        """Connect and mount a volume and bind it into the container, live
        if it runs.

        :param connection_info: Cinder's connection info dict; its
            ``data['device_path']`` is set to the host device, as nova's
            other drivers do.
        :param mountpoint: nova's device name (``/dev/vdb``).
        :param device_type: the BDM's; ``lun`` hands over the raw block
            device (disks.raw_volume_device).
        :raises VolumeEncryptionNotSupported: an encrypted volume.
        :raises VolumeDriverNotFound: os-brick has no connector for it.
        :raises VolumeAttachFailed: no filesystem the host can mount, or LXD
            refused the device; nothing is left mounted or connected.
        """
        volume_id = connection_info.get('serial')
        try:
            name, device = self._connect_and_mount(
                instance, connection_info, mountpoint, device_type)
            self._session.add_device(instance.name, name, device)
            self.hand_over(instance)
        except (exception.VolumeEncryptionNotSupported,
                exception.VolumeDriverNotFound):
            raise
        except Exception as e:
            self._release_quietly(instance, connection_info, mountpoint)
            raise exception.VolumeAttachFailed(
                volume_id=volume_id, reason=str(e)) from e
        LOG.info('Volume %s (%s) attached at %s', volume_id,
                 connection_info['data']['device_path'],
                 disks.volume_path(mountpoint), instance=instance)

    def hand_over(self, instance):
        """Give the top directory of each mounted volume of the instance to
        the container's root when host root owns it (a filesystem made
        with mkfs elsewhere): otherwise even the container's root could not
        write there.  Only the top directory changes.

        :raises InstanceNotFound: no such container.
        """
        meta = self._session.get_instance(instance.name)
        root = disks.container_root(meta['config'])
        if root is None:
            return
        for name, device in meta['devices'].items():
            source = device.get('source', '')
            if (name.startswith('volume-') and os.path.isdir(source) and
                    os.stat(source).st_uid == 0 and fs.mounted_at(source)):
                fs.chown_dir(source, *root)
                LOG.info("Gave the top directory of %s to the container's "
                         'root (host uid %d)', name, root[0],
                         instance=instance)

    def connect_all(self, instance, block_device_info):
        """Connect and mount every volume nova maps for the instance
        (spawn, and before a start: a host reboot loses the mounts).

        :returns: dict of LXD device name -> disk device.  On a failure the
            caller releases them all (:meth:`disconnect_all`).
        """
        devices = {}
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            name, device = self._connect_and_mount(
                instance, bdm['connection_info'], bdm['mount_device'],
                bdm.get('device_type'))
            devices[name] = device
        return devices

    def detach(self, instance, connection_info, mountpoint):
        """Take the volume from the container (live), unmount and
        disconnect it.

        :raises DiskNotFound: the container has no such volume (nova then
            only tells Cinder; the host side is still released).
        :raises VolumeDetachFailed: LXD refused to remove the device.
        """
        name = disks.volume_device_name(mountpoint)
        try:
            removed = self._session.remove_device(instance.name, name)
        except exception.InstanceNotFound:
            removed = False
        except exception.NovaException as e:
            raise exception.VolumeDetachFailed(
                volume_id=connection_info.get('serial'), reason=str(e))
        self._release(instance, connection_info, mountpoint)
        if not removed:
            raise exception.DiskNotFound(location=mountpoint)

    def disconnect_all(self, instance, block_device_info):
        """Unmount and disconnect every volume of nova's block device info
        (the container is gone); each is tried, the first error raised."""
        failed = None
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            try:
                self._release(instance, bdm['connection_info'],
                              bdm['mount_device'])
            except Exception as e:
                LOG.error('Could not release volume %s: %s',
                          bdm['connection_info'].get('serial'), e,
                          instance=instance)
                failed = failed or e
        if failed is not None:
            raise failed

    def extend(self, instance, connection_info, requested_size):
        """Grow an attached volume's device and its filesystem, live.

        :param requested_size: new size in bytes (from Cinder).
        :returns: the size os-brick reads on the device, in bytes.
        :raises ExtendVolumeNotSupported: the filesystem cannot grow online.
        """
        new_size = self._connector(connection_info).extend_volume(
            connection_info['data'])
        # A raw block device needs nothing more: the guest sees its size.
        if connection_info['data'].get('lxd_access') != 'block':
            fs.grow_mounted_filesystem(connection_info['data']['device_path'])
        LOG.info('Volume %s grown to %s bytes (asked %s)',
                 connection_info.get('serial'), new_size, requested_size,
                 instance=instance)
        return new_size

    def _release_quietly(self, instance, connection_info, mountpoint):
        try:
            self._release(instance, connection_info, mountpoint)
        except Exception as e:
            # The error being raised is the one nova must report.
            LOG.error('Could not release volume %s while rolling back: %s',
                      connection_info.get('serial'), e, instance=instance)
