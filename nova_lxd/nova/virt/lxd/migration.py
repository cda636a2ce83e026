"""Cold migration between hosts: the stopped container pulled by the
destination's LXD daemon from the source's (LXD's migration API, see
session_migration), with this host's ports, volumes and config drive.

The source's ``migrate_disk_and_power_off`` returns, as nova's
``disk_info``, where its daemon listens and its certificate
(:func:`disk_info`); the destination's ``finish_migration`` pulls from
there.  The source keeps its container until ``confirm_migration``, so a
failure on the destination, or a revert, leaves the instance whole on the
source.  Ephemeral disks (LXD custom volumes) are pulled the same way,
before the container, into this host's ``[lxd] pool``; the source deletes
its copies at confirmation.
"""
import json

from nova import exception
from nova.virt import configdrive
from oslo_log import log as logging
from oslo_utils import excutils

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import instance_files

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF


def disk_info(source, volumes=()):
    """nova's ``disk_info`` string for the destination.

    :param source: ``{'url', 'certificate'}`` of the source daemon, or
        None when it does not listen on https.
    :param volumes: ``[(pool, volume name)]`` of the instance's ephemeral
        disks on the source.
    """
    return json.dumps({'lxd': source, 'volumes': [list(v) for v in volumes]})


def source_volumes(disk_info_text):
    """``{volume name: source pool}`` of the ephemeral disks in
    ``disk_info``."""
    return {name: pool for pool, name in
            json.loads(disk_info_text or '{}').get('volumes', ())}


def source_of(disk_info_text):
    """The source daemon in ``disk_info``.

    :raises MigrationError: the source daemon cannot be pulled from.
    """
    source = json.loads(disk_info_text or '{}').get('lxd')
    if not source:
        raise exception.MigrationError(
            reason='the source host\'s LXD does not listen on https; set '
                   'core.https_address there (e.g. `lxc config set '
                   'core.https_address :8443`)')
    return source


def check_movable(source):
    """Refuse, before power-off, a source daemon that cannot be pulled
    from.

    :param source: this (source) host's daemon, as :func:`disk_info`
        takes it.
    :raises InstanceFaultRollback: wrapping MigrationError.
    """
    try:
        source_of(disk_info(source))
    except exception.MigrationError as e:
        raise exception.InstanceFaultRollback(inner_exception=e)


def client_cert():
    """``(cert, key)`` this host presents to other daemons.

    :raises MigrationError: ``[lxd] migration_client_cert`` unset.
    """
    if not (CONF.lxd.migration_client_cert and
            CONF.lxd.migration_client_key):
        raise exception.MigrationError(
            reason='[lxd] migration_client_cert and migration_client_key '
                   'are not set on the destination host')
    return CONF.lxd.migration_client_cert, CONF.lxd.migration_client_key


class Migrator:
    """Pulls instances from other hosts' daemons."""

    def __init__(self, session, plugger, volumes, ephemerals, assembler,
                 rollback):
        """:param session: LXDSession; :param plugger: plug.VIFPlugger;
        :param volumes: volumes.VolumeAttacher; :param ephemerals:
        local_disks.EphemeralDisks; :param assembler: assembly.Assembler
        (the definition, as at spawn); :param rollback: the driver's
        ``_rollback(instance, network_info, block_device_info)``, which
        removes the container, its ephemeral volumes, ports and volume
        connections."""
        self._session, self._plugger = session, plugger
        self._volumes, self._ephemerals = volumes, ephemerals
        self._assembler, self._rollback = assembler, rollback

    def pull(self, instance, network_info, block_device_info, info, pool,
             pool_driver):
        """Create the instance here from its source host, stopped, with
        ``instance.flavor``, its ephemeral volumes (pulled too), this
        host's ports, volumes (connected) and config drive.

        :param info: the source's ``disk_info``.
        :raises MigrationError: the source cannot be pulled from, or this
            host has no migration certificate; nothing was created.
        :raises OVSBridgeMissing: a port's bridge does not exist here;
            nothing was created.
        """
        source, cert = source_of(info), client_cert()
        # This host's bridges, before anything is pulled.
        self._plugger.check(network_info, instance)
        volumes, body = self._assembler.definition(
            instance, network_info, block_device_info)
        devices = body['devices']
        pulled = source_volumes(info)
        wanted = sorted(volume['name'] for volume in volumes)
        if sorted(pulled) != wanted:
            raise exception.MigrationError(
                reason=f'the source has the ephemeral volumes '
                       f'{sorted(pulled)}, the flavor asks for {wanted}')
        try:
            for name in wanted:
                self._session.pull_volume(source, pulled[name], name, pool,
                                          cert)
            devices.update(self._volumes.connect_all(instance,
                                                     block_device_info))
            if configdrive.required_by(instance):
                devices['config'] = instance_files.config_drive_device(
                    instance_files.build_config_drive(
                        instance, [], None, network_info))
            self._plugger.plug_while(
                instance, network_info,
                lambda: self._session.pull_instance(source, body, cert))
        except Exception:
            with excutils.save_and_reraise_exception():
                LOG.error('Pulling the instance from %s failed; removing '
                          'what was made here', source['url'],
                          instance=instance)
                self._rollback(instance, network_info, block_device_info)
