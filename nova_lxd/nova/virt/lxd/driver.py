"""LXDDriver: nova's ComputeDriver interface over LXD system containers.

A thin facade: it validates, orders and rolls back; the LXD work lives in
session (connection, errors), flavor/vif (pure translation), image (glance
-> LXD), storage (config drive), power and resources.
"""
import contextlib

from nova.compute import power_state
from nova.compute import vm_states
from nova import exception
from nova.virt import configdrive
from nova.virt import driver
from nova.virt import hardware
from oslo_log import log as logging
from oslo_utils import excutils

from nova_lxd.nova.virt.lxd import assembly
from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import console
from nova_lxd.nova.virt.lxd import creation
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import diagnostics
from nova_lxd.nova.virt.lxd import disks
from nova_lxd.nova.virt.lxd import events
from nova_lxd.nova.virt.lxd import host
from nova_lxd.nova.virt.lxd import image_store
from nova_lxd.nova.virt.lxd import interfaces
from nova_lxd.nova.virt.lxd import lifecycle
from nova_lxd.nova.virt.lxd import local_disks
from nova_lxd.nova.virt.lxd import migration
from nova_lxd.nova.virt.lxd import plug
from nova_lxd.nova.virt.lxd import power
from nova_lxd.nova.virt.lxd import rescue
from nova_lxd.nova.virt.lxd import resize
from nova_lxd.nova.virt.lxd import resources
from nova_lxd.nova.virt.lxd import session
from nova_lxd.nova.virt.lxd import snapshots
from nova_lxd.nova.virt.lxd import state
from nova_lxd.nova.virt.lxd import instance_files
from nova_lxd.nova.virt.lxd import vif as vifs
from nova_lxd.nova.virt.lxd import volumes

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

CONSOLE_LOG_MAX_BYTES = 100 * 1024


class LXDDriver(host.HostMixin, lifecycle.LifecycleMixin,
                driver.ComputeDriver):
    """Runs nova instances as unprivileged LXD system containers."""

    capabilities = dict(driver.ComputeDriver.capabilities,
                        supports_image_type_raw=True,
                        supports_attach_interface=True,
                        supports_extend_volume=True,
                        supports_migrate_to_same_host=True,
                        supports_evacuate=True,
                        has_imagecache=True,
                        # Pinned instances get their host CPUs (cpu_numa).
                        supports_pcpus=True,
                        # No device metadata reaches the guest yet.
                        supports_device_tagging=False,
                        supports_tagged_attach_interface=False)

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi)
        self._session = session.LXDSession()
        self._statuses = state.StatusCache()
        self._power = power.PowerControl(self._session, self._statuses)
        self._images = image_store.ImageStore(self._session)
        self._resources = resources.HostResources(self._session)
        self._console = console.ConsoleLog(self._session)
        self._plugger = plug.VIFPlugger()
        self._ephemerals = local_disks.EphemeralDisks(self._session)
        self._interfaces = interfaces.InterfaceAttacher(self._session,
                                                        self._plugger)
        self._volumes = volumes.VolumeAttacher(self._session)
        self._snapshots = snapshots.Snapshotter(self._session)
        self._rescuer = rescue.Rescuer(self._session, self._power,
                                       self._images)
        self._resizer = resize.Resizer(self._session)
        self._assembler = assembly.Assembler(self._session,
                                             self._ephemerals)
        self._migrator = migration.Migrator(
            self._session, self._plugger, self._volumes, self._ephemerals,
            self._assembler, self._rollback)
        self._creator = creation.Creator(self._session, self._plugger,
                                         self._power, virtapi)
        self._events = events.LifecycleListener(
            self._session, self._statuses, self.emit_event)
        self._nodename = None

    # -- inventory of instances --------------------------------------------
    def _nova_instances(self):
        instances = [i for i in self._session.list_instances()
                     if definition.UUID_KEY in i['config']]
        self._statuses.fill(instances)
        return instances

    def list_instances(self):
        return [i['name'] for i in self._nova_instances()]

    def list_instance_uuids(self):
        return [i['config'][definition.UUID_KEY]
                for i in self._nova_instances()]

    def instance_exists(self, instance):
        try:
            self._session.get_instance(instance.name)
            return True
        except exception.InstanceNotFound:
            return False

    def get_info(self, instance, use_cache=True):
        """Power state of an instance (of its rescue container while
        RESCUED).

        :raises InstanceNotFound: no container for the instance.
        """
        name = rescue.container_name(instance)
        cached = self._statuses.power_state(name)
        if use_cache and cached is not None:
            return hardware.InstanceInfo(state=cached)
        try:
            return hardware.InstanceInfo(state=self._power.power_state(name))
        except exception.InstanceNotFound:
            raise exception.InstanceNotFound(instance_id=instance.uuid)

    def get_console_output(self, context, instance):
        """The last CONSOLE_LOG_MAX_BYTES bytes the guest's console wrote,
        as str: each byte one latin-1 character, which nova's manager
        encodes back to the same bytes.

        :raises InstanceNotFound: the instance has no container.
        """
        return self._console.tail(instance,
                                  CONSOLE_LOG_MAX_BYTES).decode('latin-1')

    def get_diagnostics(self, instance):
        """Pre-2.48 server diagnostics of a running instance.

        See diagnostics.legacy_diagnostics for the keys and units; 2.48's
        get_instance_diagnostics is not offered (diagnostics module doc).

        :raises InstanceNotFound: the instance has no container.
        """
        try:
            state = self._session.instance_state(instance.name)
        except exception.InstanceNotFound:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return diagnostics.legacy_diagnostics(state,
                                              instance.flavor.memory_mb)

    # -- spawn / destroy ----------------------------------------------------
    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        """Create the container from the glance image and start it.

        Anything created is removed again when a step fails, and the
        original error is raised.
        """
        disks.check_disks(instance, block_device_info)
        vifs.check_vif_types(network_info)
        if self.instance_exists(instance):
            raise exception.InstanceExists(name=instance.name)
        # Everything is validated before the image is imported.
        volumes, body = self._assembler.definition(
            instance, network_info, block_device_info, image_meta)
        self._plugger.check(network_info, instance)
        create = (self._creator.create_and_start if power_on
                  else self._creator.create)
        # The image stays while the container is made from it (see
        # ImageStore.prune).
        with self._images.use(context, image_meta) as alias:
            body['source']['alias'] = alias
            try:
                self._ephemerals.create(CONF.lxd.pool, volumes)
                body['devices'].update(self._volumes.connect_all(
                    instance, block_device_info))
                if configdrive.required_by(instance):
                    source = instance_files.build_config_drive(
                        instance, injected_files, admin_password, network_info)
                    body['devices']['config'] = (
                        instance_files.config_drive_device(source))
                    configdrive.update_instance(instance)
                create(instance, network_info, body)
            except Exception:
                with excutils.save_and_reraise_exception():
                    self._rollback(instance, network_info, block_device_info)
        if power_on and block_device_info:
            self._volumes.hand_over(instance)
        LOG.info('Container %s created%s', instance.name,
                 ' and started' if power_on else '', instance=instance)

    def _rollback(self, instance, network_info, block_device_info):
        """Undo a failed spawn (or migration pull); a failing step is
        logged, never raised, so that nova reports the original error."""
        LOG.error('Removing what was created', instance=instance)
        # Each step on its own: a container LXD will not delete must not
        # keep the ports plugged or the files.
        for step in (lambda: self._delete_container(instance),
                     lambda: self._plugger.unplug(instance, network_info),
                     lambda: self._ephemerals.delete(instance.name,
                                                     CONF.lxd.pool),
                     lambda: instance_files.remove_instance_dir(instance),
                     lambda: self._volumes.disconnect_all(
                         instance, block_device_info)):
            try:
                step()
            except Exception:
                LOG.exception('Rollback step failed', instance=instance)

    def _delete_container(self, instance):
        """Stop and delete the container; its devices, or None when there
        was none."""
        devices = None
        with contextlib.suppress(exception.InstanceNotFound):
            devices = self._session.get_instance(instance.name)['devices']
            self._power.kill(instance.name)
        self._session.delete_instance(instance.name)
        self._statuses.forget(instance.name)
        return devices

    def _remove(self, instance, network_info, destroy_disks=True):
        """Stop and delete the container, unplug its ports, delete its
        ephemeral volumes (with ``destroy_disks``) and remove its host
        files; idempotent."""
        devices = self._delete_container(instance)
        self._plugger.unplug(instance, network_info)
        if destroy_disks:
            self._ephemerals.delete(
                instance.name, CONF.lxd.pool,
                None if devices is None else
                self._ephemerals.volumes_of(devices))
        instance_files.remove_instance_dir(instance)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        """Delete the container and unplug its ports; its ephemeral volumes
        too unless ``destroy_disks`` is False.  An already-deleted instance
        is success.  The host connections of its volumes are removed (nova
        then tells Cinder).  The rescue container goes too.  A resize
        reverted on this host keeps the container (see
        resize.reverting_on_same_host)."""
        if resize.reverting_on_same_host(context, instance):
            LOG.info('Keeping the container of the resize being reverted '
                     'on this host', instance=instance)
            self._plugger.unplug(instance, network_info)
        else:
            if instance.vm_state in (vm_states.RESCUED, vm_states.ERROR):
                self._rescuer.remove(instance)
            self._remove(instance, network_info, destroy_disks)
        self._volumes.disconnect_all(instance, block_device_info)

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        """Remove the instance's host files and, with ``destroy_vifs``,
        the host side of its ports (the container is gone)."""
        if destroy_vifs:
            self._plugger.unplug(instance, network_info)
        instance_files.remove_instance_dir(instance)

    def plug_vifs(self, instance, network_info):
        """Plug the host side of the ports (idempotent; nova calls it for
        running instances when nova-compute starts)."""
        self._plugger.plug(instance, network_info)

    def unplug_vifs(self, instance, network_info):
        """Remove the host side of the ports."""
        self._plugger.unplug(instance, network_info)

    # -- power --------------------------------------------------------------
    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):
        # A HARD reboot is also how operators repair an instance: plug
        # again whatever its ports lost on the host.
        if reboot_type == 'HARD':
            self._plugger.plug(instance, network_info)
        self._power.reboot(instance.name, hard=reboot_type == 'HARD',
                           soft_timeout=CONF.lxd.soft_reboot_timeout)

    def power_off(self, instance, timeout=0, retry_interval=0):
        self._power.stop(instance.name, timeout, retry_interval)

    def power_on(self, context, instance, network_info,
                 block_device_info=None, accel_info=None, share_info=None):
        self._start(instance, network_info, block_device_info)

    def _start(self, instance, network_info, block_device_info):
        """Plug the ports and mount the volumes again (a host reboot loses
        both), start, then hand new volumes to the container's root."""
        self._plugger.plug(instance, network_info)
        self._volumes.connect_all(instance, block_device_info)
        self._boot(instance, block_device_info)

    def _boot(self, instance, block_device_info):
        """Start with ports and volumes in place; hand new volumes to the
        container's root."""
        self._power.start(instance.name)
        if driver.block_device_info_get_mapping(block_device_info):
            self._volumes.hand_over(instance)

    def pause(self, instance):
        self._power.pause(instance.name)

    def unpause(self, instance):
        self._power.unpause(instance.name)

    def suspend(self, context, instance):
        self._power.suspend(instance.name)

    def resume(self, context, instance, network_info, block_device_info=None,
               share_info=None):
        self._power.resume(instance.name)

    def resume_state_on_host_boot(self, context, instance, network_info,
                                  share_info, block_device_info=None):
        """Start an instance that should run after the host rebooted."""
        if self._power.power_state(instance.name) != power_state.RUNNING:
            self._start(instance, network_info, block_device_info)

    # -- interfaces ---------------------------------------------------------
    def attach_interface(self, context, instance, image_meta, vif):
        """See interfaces.InterfaceAttacher.attach."""
        self._interfaces.attach(instance, vif)

    def detach_interface(self, context, instance, vif):
        """See interfaces.InterfaceAttacher.detach."""
        self._interfaces.detach(instance, vif)

    # -- volumes ------------------------------------------------------------
    def get_volume_connector(self, instance):
        """os-brick's connector properties of this host (see volumes)."""
        return self._volumes.connector_properties()

    def attach_volume(self, context, connection_info, instance, mountpoint,
                      disk_bus=None, device_type=None, encryption=None):
        """See volumes.VolumeAttacher.attach (running or stopped)."""
        if encryption:
            connection_info['data']['encrypted'] = True
        self._volumes.attach(instance, connection_info, mountpoint,
                             device_type)

    def detach_volume(self, context, connection_info, instance, mountpoint,
                      encryption=None):
        """See volumes.VolumeAttacher.detach."""
        self._volumes.detach(instance, connection_info, mountpoint)

    def extend_volume(self, context, connection_info, instance,
                      requested_size):
        """See volumes.VolumeAttacher.extend (requested_size in bytes)."""
        return self._volumes.extend(instance, connection_info,
                                    requested_size)

    def get_num_instances(self):
        return len(self._nova_instances())
