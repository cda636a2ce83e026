"""LXDDriver: nova's ComputeDriver interface over LXD system containers.

A thin facade: it validates, orders and rolls back; the LXD work lives in
session (connection, errors), flavor/vif (pure translation), image (glance
-> LXD), storage (config drive), power and resources.
"""
import contextlib

from nova.compute import power_state
from nova import exception
from nova.virt import configdrive
from nova.virt import driver
from nova.virt import hardware
from oslo_concurrency import processutils
from oslo_log import log as logging
from oslo_utils import excutils

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import console
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import diagnostics
from nova_lxd.nova.virt.lxd import disks
from nova_lxd.nova.virt.lxd import image_store
from nova_lxd.nova.virt.lxd import local_disks
from nova_lxd.nova.virt.lxd import plug
from nova_lxd.nova.virt.lxd import power
from nova_lxd.nova.virt.lxd import resources
from nova_lxd.nova.virt.lxd import session
from nova_lxd.nova.virt.lxd import state
from nova_lxd.nova.virt.lxd import instance_files
from nova_lxd.nova.virt.lxd import vif as vifs

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

CONSOLE_LOG_MAX_BYTES = 100 * 1024


class LXDDriver(driver.ComputeDriver):
    """Runs nova instances as unprivileged LXD system containers."""

    capabilities = dict(driver.ComputeDriver.capabilities,
                        supports_image_type_raw=True,
                        supports_attach_interface=True,
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
        self._pool_driver = None

    # -- host -------------------------------------------------------------
    def init_host(self, host):
        """Check LXD, the project, pool and profiles before taking work.

        Running containers are not touched.

        :raises LXDUnreachable, LXDProjectUnavailable,
            LXDStoragePoolNotFound, LXDDriverError: naming the fix.
        """
        info = self._session.server_info()
        if self._session.ensure_project():
            LOG.info('Created LXD project %s', CONF.lxd.project)
        pool = self._session.storage_pool(CONF.lxd.pool)
        self._pool_driver = pool['driver']
        local_disks.warn_about_pool(pool)
        missing = sorted(set(CONF.lxd.profiles) -
                         set(self._session.profile_names()))
        if missing:
            raise lxd_exception.LXDDriverError(
                reason=f'[lxd] profiles {", ".join(missing)} do not exist '
                       f'in LXD project {CONF.lxd.project}; create them '
                       f'(`lxc profile create NAME --project '
                       f'{CONF.lxd.project}`) or remove them from [lxd] '
                       f'profiles')
        env = info.get('environment', {})
        LOG.info('LXD %s at %s, project %s, storage pool %s (driver %s)',
                 env.get('server_version'), self._session.endpoint,
                 CONF.lxd.project, CONF.lxd.pool, self._pool_driver)

    def get_available_nodes(self, refresh=False):
        return [CONF.host]

    def get_host_ip_addr(self):
        return CONF.my_ip

    def get_host_uptime(self):
        out, _err = processutils.execute('env', 'LANG=C', 'uptime')
        return out

    def get_available_resource(self, nodename):
        return self._resources.available_resource(nodename)

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        self._resources.update_provider_tree(provider_tree, nodename,
                                             allocations)

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
        """Power state of an instance.

        :raises InstanceNotFound: no container for the instance.
        """
        cached = self._statuses.power_state(instance.name)
        if use_cache and cached is not None:
            return hardware.InstanceInfo(state=cached)
        try:
            return hardware.InstanceInfo(
                state=self._power.power_state(instance.name))
        except exception.InstanceNotFound:
            raise exception.InstanceNotFound(instance_id=instance.uuid)

    def get_console_output(self, context, instance):
        """The last CONSOLE_LOG_MAX_BYTES bytes the guest's console wrote.

        :raises InstanceNotFound: the instance has no container.
        """
        return self._console.tail(instance, CONSOLE_LOG_MAX_BYTES)

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
    def _pool(self):
        if self._pool_driver is None:
            self._pool_driver = self._session.storage_pool(
                CONF.lxd.pool)['driver']
        return CONF.lxd.pool, self._pool_driver

    def _definition(self, instance, network_info, block_device_info):
        """Validate everything; return the LXD instance definition and the
        ephemeral volumes to create for it."""
        specs = instance.flavor.extra_specs
        unenforced = sorted(set(specs) & set(definition.UNENFORCED_VIF_QUOTAS))
        if unenforced and network_info:
            LOG.warning('Flavor extra specs %s are not enforced: LXD limits '
                        'a nic by its average rate only',
                        ', '.join(unenforced), instance=instance)
        config = definition.instance_config(instance, instance.flavor, specs)
        pool, pool_driver = self._pool()
        devices = vifs.nic_devices(network_info, specs)
        devices['root'] = disks.root_disk_device(
            pool, pool_driver, instance.flavor.root_gb, specs)
        volumes, disk_devices = self._ephemerals.plan(
            instance, block_device_info, pool, pool_driver)
        devices.update(disk_devices)
        return volumes, definition.instance_definition(
            instance.name, None, config, devices, CONF.lxd.profiles)

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
        volumes, body = self._definition(instance, network_info,
                                         block_device_info)
        self._plugger.check(network_info)
        body['source']['alias'] = self._images.ensure_image(
            context, image_meta)
        try:
            self._ephemerals.create(CONF.lxd.pool, volumes)
            if configdrive.required_by(instance):
                source = instance_files.build_config_drive(
                    instance, injected_files, admin_password, network_info)
                body['devices']['config'] = (
                    instance_files.config_drive_device(source))
                configdrive.update_instance(instance)
            if power_on:
                self._create_and_start(instance, network_info, body)
            else:
                self._create(instance, network_info, body)
        except Exception:
            with excutils.save_and_reraise_exception():
                LOG.error('Spawn failed; removing what was created',
                          instance=instance)
                self._remove(instance, network_info)
        LOG.info('Container %s created%s', instance.name,
                 ' and started' if power_on else '', instance=instance)

    def _vif_event_failed(self, event_name, instance):
        LOG.error('Neutron reported failure on event %s', event_name,
                  instance=instance)
        if CONF.vif_plugging_is_fatal:
            raise exception.VirtualInterfaceCreateException()

    def _create(self, instance, network_info, definition):
        """Create the container while its ports are plugged."""
        self._plugger.plug_while(
            instance, network_info,
            lambda: self._session.create_instance(definition))

    def _create_and_start(self, instance, network_info, definition):
        """Create the container, plug the ports, start it, waiting for
        Neutron's vif-plugged events (planned before plugging: an OVS port
        comes up, and its event is sent, as soon as it is plugged)."""
        events = vifs.plugged_events(network_info)
        timeout = CONF.vif_plugging_timeout
        if not timeout:
            events = []
        try:
            with self.virtapi.wait_for_instance_event(
                    instance, events, timeout=timeout,
                    error_callback=self._vif_event_failed):
                self._create(instance, network_info, definition)
                self._power.boot(instance.name)
        except exception.InstanceEventTimeout:
            LOG.warning('Timeout waiting for %s', events, instance=instance)
            if CONF.vif_plugging_is_fatal:
                raise exception.VirtualInterfaceCreateException()

    def _remove(self, instance, network_info, destroy_disks=True):
        """Stop and delete the container, unplug its ports, delete its
        ephemeral volumes (with ``destroy_disks``) and remove its host
        files; idempotent."""
        devices = {}
        with contextlib.suppress(exception.InstanceNotFound):
            devices = self._session.get_instance(instance.name)['devices']
            self._power.kill(instance.name)
        self._session.delete_instance(instance.name)
        self._statuses.forget(instance.name)
        self._plugger.unplug(instance, network_info)
        if destroy_disks:
            self._ephemerals.delete(instance.name, CONF.lxd.pool,
                                    self._ephemerals.volumes_of(devices))
        instance_files.remove_instance_dir(instance)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        """Delete the container and unplug its ports; its ephemeral volumes
        too unless ``destroy_disks`` is False.  An already-deleted instance
        is success."""
        self._remove(instance, network_info, destroy_disks)

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
        self._plugger.plug(instance, network_info)
        self._power.start(instance.name)

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
            self._plugger.plug(instance, network_info)
            self._power.start(instance.name)

    # -- interfaces ---------------------------------------------------------
    def attach_interface(self, context, instance, image_meta, vif):
        """Plug the port and add its nic to the container, live when it runs.

        :raises UnsupportedVIFType, InvalidPort, OVSBridgeMissing: before
            anything is changed.
        :raises InterfaceAttachFailed: LXD refused the nic; the port is
            unplugged again.
        """
        vifs.check_vif_types([vif])
        current = self._session.get_instance(instance.name)['devices']
        nics = [d for d in current.values() if d.get('type') == 'nic']
        name = vifs.free_nic_name(current)
        device = vifs.nic_device(vif, name, instance.flavor.extra_specs,
                                 default_route=not nics)
        self._plugger.check([vif])
        self._plugger.plug(instance, [vif])
        try:
            self._session.add_device(instance.name, name, device)
        except exception.NovaException as e:
            self._plugger.unplug(instance, [vif])
            LOG.error('Could not attach port %s: %s', vif['id'], e,
                      instance=instance)
            raise exception.InterfaceAttachFailed(
                instance_uuid=instance.uuid) from e

    def detach_interface(self, context, instance, vif):
        """Remove the port's nic from the container (live) and unplug it.

        :raises InterfaceDetachFailed: LXD refused to remove the nic.
        """
        devices = self._session.get_instance(instance.name)['devices']
        name = vifs.nic_name_for(devices, vif)
        try:
            if name is None:
                LOG.warning('Port %s has no nic in the container; '
                            'unplugging it only', vif['id'],
                            instance=instance)
            else:
                self._session.remove_device(instance.name, name)
        except exception.NovaException as e:
            raise exception.InterfaceDetachFailed(
                instance_uuid=instance.uuid) from e
        self._plugger.unplug(instance, [vif])

    def get_num_instances(self):
        return len(self._nova_instances())
