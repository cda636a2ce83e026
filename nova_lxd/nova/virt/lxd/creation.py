"""Creating a container with its ports plugged, and starting it while
waiting for Neutron's ``network-vif-plugged`` events.

The events are planned before plugging: an OVS port comes up, and Neutron
sends its event, as soon as it is plugged.  ``[DEFAULT]
vif_plugging_timeout`` and ``vif_plugging_is_fatal`` apply as for nova's
other drivers.
"""
from nova import exception
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import vif as vifs

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF


class Creator:
    """Creates (and starts) containers from LXD instance definitions."""

    def __init__(self, session, plugger, power, virtapi):
        """:param session: LXDSession; :param plugger: plug.VIFPlugger;
        :param power: power.PowerControl; :param virtapi: nova's VirtAPI
        (events)."""
        self._session, self._plugger = session, plugger
        self._power, self._virtapi = power, virtapi

    def create(self, instance, network_info, definition):
        """Create the container while its ports are plugged."""
        self._plugger.plug_while(
            instance, network_info,
            lambda: self._session.create_instance(definition))

    def create_and_start(self, instance, network_info, definition):
        """Create the container, plug the ports and start it.

        :raises VirtualInterfaceCreateException: Neutron reported a failed
            port, or its events did not come in time, when fatal.
        """
        events = vifs.plugged_events(network_info)
        timeout = CONF.vif_plugging_timeout
        if not timeout:
            events = []
        try:
            with self._virtapi.wait_for_instance_event(
                    instance, events, timeout=timeout,
                    error_callback=self._event_failed):
                self.create(instance, network_info, definition)
                self._power.boot(instance.name)
        except exception.InstanceEventTimeout:
            LOG.warning('Timeout waiting for %s', events, instance=instance)
            if CONF.vif_plugging_is_fatal:
                raise exception.VirtualInterfaceCreateException()

    @staticmethod
    def _event_failed(event_name, instance):
        LOG.error('Neutron reported failure on event %s', event_name,
                  instance=instance)
        if CONF.vif_plugging_is_fatal:
            raise exception.VirtualInterfaceCreateException()
