"""Rescue: a container from the rescue image with the instance's root
filesystem at ``/mnt/rescue``.

nova powers the instance off and calls ``rescue``; the driver then creates
and starts a second container, ``<instance name>-rescue``, from the rescue
image (``[DEFAULT]`` rescue image or the instance's own, as nova chose),
with the instance's limits, profiles and nics (the same ports: the
instance is stopped), a config drive carrying the rescue password, and
the stopped instance's root filesystem mounted read-write at
:data:`RESCUE_PATH`.  ``unrescue`` deletes the rescue container and starts
the instance again, with whatever was repaired under ``/mnt/rescue``.

The root filesystem is the instance's root volume as LXD keeps it,
``<LXD dir>/storage-pools/<pool>/containers/<project>_<name>/rootfs``,
given to LXD as a disk source; LXD resolves it in its own mount namespace
(the snap's too).  Only pools whose volumes stay mounted while the
instance is stopped (dir, btrfs) have it; zfs, lvm and ceph mount them only
while the instance runs, so rescue is refused there, as it is with an
``https://`` endpoint (the daemon's directory is unknown).  LXD 5.0 cannot
attach one instance's root volume to another through its API.
"""
import os

from nova.compute import vm_states
from nova import exception
from nova.virt import configdrive
from oslo_log import log as logging
from oslo_utils import excutils

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import instance_files

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

RESCUE_PATH = '/mnt/rescue'
RESCUE_OF_KEY = 'user.nova.rescue_of'
RESCUE_CONFIG_DRIVE = 'rescue-config-drive'
MOUNTED_WHEN_STOPPED = ('dir', 'btrfs')
# Devices the rescue container takes over: the ports, and the root disk's
# pool and size.  Volumes and ephemeral disks stay with the instance.
_KEPT_DEVICE_TYPES = ('nic',)


def rescue_name(instance):
    """LXD name of the instance's rescue container."""
    return f'{instance.name}-rescue'


def container_name(instance):
    """The LXD container that runs for ``instance`` now: its rescue
    container while nova has it RESCUED, else its own."""
    if instance.vm_state == vm_states.RESCUED:
        return rescue_name(instance)
    return instance.name


def lxd_dir_of(endpoint):
    """The daemon's directory (``LXD_DIR``) from its endpoint, or None.

    :param endpoint: unix socket path (``<LXD_DIR>/unix.socket``, as the
        apt package, the snap and Incus place it) or ``https://`` URL.
    """
    if endpoint.startswith('https://'):
        return None
    return os.path.dirname(endpoint)


def root_volume_path(lxd_dir, pool, project, name):
    """Where LXD keeps a container's root filesystem (its ``rootfs``).

    LXD names a container's volume ``<project>_<name>``, except in the
    ``default`` project.
    """
    volume = name if project == 'default' else f'{project}_{name}'
    return os.path.join(lxd_dir, 'storage-pools', pool, 'containers',
                        volume, 'rootfs')


def rescue_definition(instance, original, root_source, config_drive):
    """The ``POST /1.0/instances`` body of the rescue container (without
    its image alias).  Pure.

    :param instance: nova Instance (uuid, name).
    :param original: ``GET /1.0/instances/<name>`` metadata of the
        instance's container.
    :param root_source: :func:`root_volume_path` of the instance.
    :param config_drive: host directory of the rescue config drive, or
        None.
    """
    config = {key: value for key, value in original['config'].items()
              if not key.startswith(('volatile.', 'image.')) and
              key not in (definition.UUID_KEY, definition.SUSPENDED_KEY)}
    # Without the uuid key nova never lists it as an instance of its own.
    config[RESCUE_OF_KEY] = instance.uuid
    devices = {name: device for name, device in original['devices'].items()
               if device.get('type') in _KEPT_DEVICE_TYPES}
    devices['root'] = original['devices']['root']
    devices['rescue'] = {'type': 'disk', 'source': root_source,
                         'path': RESCUE_PATH}
    if original['config'].get('volatile.last_state.idmap') == '[]':
        # The rootfs is stored unshifted (Incus, LXD with idmapped
        # mounts): without an idmapped mount of it, host root's files are
        # nobody's in the rescue container (/root unreadable).
        devices['rescue']['shift'] = 'true'
    if config_drive:
        devices['config'] = instance_files.config_drive_device(config_drive)
    return definition.instance_definition(
        rescue_name(instance), None, config, devices, original['profiles'])


class Rescuer:
    """Rescue and unrescue of instances."""

    def __init__(self, session, power, images):
        """:param session: LXDSession; :param power: power.PowerControl;
        :param images: image_store.ImageStore."""
        self._session, self._power, self._images = session, power, images

    def _root_source(self, instance, pool, pool_driver):
        if pool_driver not in MOUNTED_WHEN_STOPPED:
            raise exception.InstanceNotRescuable(
                instance_id=instance.uuid,
                reason=f'storage pool {pool} ({pool_driver}) mounts an '
                       f'instance\'s root only while it runs; rescue needs '
                       f'a {" or ".join(MOUNTED_WHEN_STOPPED)} pool')
        lxd_dir = lxd_dir_of(self._session.endpoint)
        if lxd_dir is None:
            raise exception.InstanceNotRescuable(
                instance_id=instance.uuid,
                reason='rescue needs LXD on a local unix socket ([lxd] '
                       'endpoint), to find the instance\'s root filesystem')
        return root_volume_path(lxd_dir, pool, CONF.lxd.project,
                                instance.name)

    def rescue(self, context, instance, network_info, image_meta,
               rescue_password, pool, pool_driver):
        """Stop the instance; create and start its rescue container.

        :param image_meta: nova ImageMeta of the rescue image.
        :param rescue_password: str or None, the config drive's admin_pass.
        :param pool: ``[lxd] pool``; :param pool_driver: its LXD driver.
        :raises InstanceNotFound: the instance has no container.
        :raises InstanceNotRescuable: the pool or endpoint cannot give the
            rescue container the instance's root; nothing changed.
        :raises ImageUnacceptable: the rescue image is no root filesystem;
            nothing changed.
        """
        original = self._session.get_instance(instance.name)
        root_source = self._root_source(instance, pool, pool_driver)
        with self._images.use(context, image_meta) as alias:
            self._power.stop(instance.name)
            try:
                self._create(instance, network_info, rescue_password,
                             original, root_source, alias)
            except Exception:
                with excutils.save_and_reraise_exception():
                    LOG.error('Rescue failed; removing the rescue container',
                              instance=instance)
                    self._remove_quietly(instance)
        LOG.info('Rescue container %s started with the instance\'s root at '
                 '%s', rescue_name(instance), RESCUE_PATH, instance=instance)

    def _create(self, instance, network_info, rescue_password, original,
                root_source, alias):
        config_drive = None
        if configdrive.required_by(instance):
            config_drive = instance_files.build_config_drive(
                instance, [], rescue_password, network_info,
                subdir=RESCUE_CONFIG_DRIVE)
        body = rescue_definition(instance, original, root_source,
                                 config_drive)
        body['source']['alias'] = alias
        self._session.create_instance(body)
        self._power.boot(body['name'])

    def _remove_quietly(self, instance):
        try:
            self.remove(instance)
        except Exception:
            LOG.exception('Could not remove the rescue container',
                          instance=instance)

    def remove(self, instance):
        """Delete the rescue container and its config drive (idempotent)."""
        name = rescue_name(instance)
        self._power.kill(name)
        self._session.delete_instance(name)
        instance_files.remove_instance_subdir(instance, RESCUE_CONFIG_DRIVE)

    def unrescue(self, instance):
        """Delete the rescue container; start the instance again.

        :raises InstanceNotFound: the instance has no container.
        """
        self.remove(instance)
        self._power.start(instance.name)
