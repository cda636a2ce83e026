"""The second half of LXDDriver's facade: snapshot, rescue, resize and
migration, and the live-migration prechecks.

A mixin of :class:`nova_lxd.nova.virt.lxd.driver.LXDDriver` (it uses the
driver's session, power control and helpers); like the rest of the facade
it only validates, orders and rolls back.
"""
from nova import exception
from nova.image import glance
from nova import objects
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import migration as cross_host


LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

NO_LIVE_MIGRATION = ('LXD moves containers only when they are stopped: '
                     'live (stateful) migration needs CRIU checkpointing, '
                     'which fails on current kernels')


class LifecycleMixin:
    """Server actions beyond spawn, power and destroy."""

    # -- snapshot -----------------------------------------------------------
    def snapshot(self, context, instance, image_id, update_task_state):
        """Upload a snapshot of the instance, running or not (see the
        snapshots module)."""
        self._snapshots.snapshot(context, instance, image_id,
                                 update_task_state)

    # -- rescue -------------------------------------------------------------
    def rescue(self, context, instance, network_info, image_meta,
               rescue_password, block_device_info, share_info):
        """Start a rescue container with the instance's root at
        /mnt/rescue (see the rescue module for what is refused).

        :param image_meta: nova ImageMeta of the rescue image; one without
            an id (nova's manager always names one) means the instance's
            own image.
        """
        if not image_meta.obj_attr_is_set('id'):
            image_meta = objects.ImageMeta.from_image_ref(
                context, glance.API(), instance.image_ref)
        pool, pool_driver = self._assembler.pool()
        self._rescuer.rescue(context, instance, network_info, image_meta,
                             rescue_password, pool, pool_driver)

    def unrescue(self, context, instance):
        """Delete the rescue container and start the instance again."""
        self._rescuer.unrescue(instance)

    # -- admin password -------------------------------------------------------
    def set_admin_password(self, instance, new_pass):
        """Set the password of the guest's admin user (image property
        ``os_admin_user``, default root) with the guest's ``chpasswd``.

        :raises SetAdminPasswdNotSupported: the guest has no chpasswd.
        :raises InstancePasswordSetFailed: a user or password chpasswd
            cannot take (``:`` in the user, a line break in either), or
            chpasswd failed (its message).
        """
        user = instance.image_meta.properties.get('os_admin_user', 'root')
        if ':' in user or any(c in user + new_pass for c in '\r\n'):
            raise exception.InstancePasswordSetFailed(
                instance=instance.uuid,
                reason="the user name has ':' or the user name or password "
                       "a line break, which chpasswd cannot take")
        code, _out, err = self._session.execute(
            instance.name, ['chpasswd'], f'{user}:{new_pass}\n')
        if code == 127:
            raise exception.SetAdminPasswdNotSupported()
        if code:
            raise exception.InstancePasswordSetFailed(
                instance=instance.uuid,
                reason=f'chpasswd for {user} exited {code}: {err.strip()}')
        LOG.info('Password of %s set', user, instance=instance)

    # -- resize and cold migration -------------------------------------------
    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):
        """Check that the container can take ``flavor`` (and move, when
        ``dest`` is another host), power it off and release its volumes.

        :param dest: the destination host's ``my_ip``.
        :raises InstanceFaultRollback: a root shrink, an ephemeral size
            change, a pool without room; for another host, no https
            listener here; the instance is untouched.
        :returns: disk_info for finish_migration (migration.disk_info).
        """
        pool, pool_driver = self._assembler.pool()
        self._resizer.check(instance, flavor, network_info, pool,
                            pool_driver)
        source = self._session.migration_source(CONF.my_ip)
        if dest != CONF.my_ip:
            cross_host.check_movable(source)
        ephemerals = self._ephemerals.volumes_of(
            self._session.get_instance(instance.name)['devices'])
        self._power.stop(instance.name, timeout, retry_interval)
        self._volumes.disconnect_all(instance, block_device_info)
        return cross_host.disk_info(source, ephemerals)

    @staticmethod
    def _same_host(migration_record):
        return (migration_record.source_compute ==
                migration_record.dest_compute)

    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance,
                         allocations, block_device_info=None, power_on=True,
                         share_info=None):
        """Give the container ``instance.flavor`` (the new one): in place
        on the same host, else pulled from the source host's daemon (see
        the migration module); start it when ``power_on``.

        :raises MigrationError: the source cannot be pulled from; nothing
            was made here and the source keeps the instance.
        """
        pool, pool_driver = self._assembler.pool()
        if self._same_host(migration):
            self._resizer.apply(instance, instance.old_flavor, pool,
                                pool_driver)
            if power_on:
                self._start(instance, network_info, block_device_info)
            return
        # The pull plugged the ports and connected the volumes already.
        self._migrator.pull(instance, network_info, block_device_info,
                            disk_info, pool, pool_driver)
        if power_on:
            self._boot(instance, block_device_info)

    def confirm_migration(self, context, migration, instance, network_info):
        """Delete the source's container once the instance moved hosts; a
        resize on one host keeps its container."""
        if not self._same_host(migration):
            self._remove(instance, network_info)
            LOG.info('Source container of the migration to %s deleted',
                     migration.dest_compute, instance=instance)

    def finish_revert_migration(self, context, instance, network_info,
                                migration, block_device_info=None,
                                power_on=True, share_info=None):
        """Give the container its old flavor again (``instance.flavor``);
        after a move between hosts it is the untouched source container."""
        pool, pool_driver = self._assembler.pool()
        self._resizer.apply(instance, instance.new_flavor or instance.flavor,
                            pool, pool_driver)
        if power_on:
            self._start(instance, network_info, block_device_info)

    # -- live migration: refused before anything moves ----------------------
    def check_can_live_migrate_destination(self, context, instance,
                                           src_compute_info, dst_compute_info,
                                           block_migration=False,
                                           disk_over_commit=False):
        """:raises MigrationPreCheckError: always (NO_LIVE_MIGRATION)."""
        raise exception.MigrationPreCheckError(reason=NO_LIVE_MIGRATION)

    def check_can_live_migrate_source(self, context, instance,
                                      dest_check_data, block_device_info=None):
        """:raises MigrationPreCheckError: always (NO_LIVE_MIGRATION)."""
        raise exception.MigrationPreCheckError(reason=NO_LIVE_MIGRATION)
