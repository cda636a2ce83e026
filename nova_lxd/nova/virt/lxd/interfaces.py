"""Interface attach and detach: a Neutron port plugged on the host and its
nic added to (or removed from) a container, live when it runs."""
from nova import exception
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import vif as vifs

LOG = logging.getLogger(__name__)


class InterfaceAttacher:
    """Adds and removes the nics of ports on existing containers."""

    def __init__(self, session, plugger):
        """:param session: the driver's LXDSession.
        :param plugger: the driver's plug.VIFPlugger."""
        self._session = session
        self._plugger = plugger

    def attach(self, instance, vif):
        """Plug the port and add its nic to the container.

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

    def detach(self, instance, vif):
        """Remove the port's nic from the container and unplug it.

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
