"""Host side of Neutron ports: plugging ``ovs`` VIFs through os-vif.

``tap`` ports need nothing here: LXD makes their veth at start.  For
``ovs`` ports (see vif.py for the two designs):

* hybrid: ``os_vif.plug`` of the VIFBridge nova's os_vif_util makes from
  the port builds ``qbr``/``qvb``/``qvo`` with the external ids on
  ``qvo``; LXD attaches the container's ``tap`` to ``qbr`` at start.
* native: the driver creates the veth pair ``tap<id>``/``tin<id>`` (its own
  privsep entrypoint), then ``os_vif.plug`` of the VIFOpenVSwitch with
  ``create_port`` puts ``tap<id>`` on the integration bridge with the ids
  and the MTU.

Plugging is idempotent, so it is done again before every start: after a
host reboot it recreates what is missing.  A re-created veth replaces the
stale OVS port with a delete and a separate add (the userspace datapath
passes no traffic on a port re-used in one transaction; measured).

os-vif: https://docs.openstack.org/os-vif/latest/
"""
from nova import exception
from nova.network import model as network_model
from nova.network import os_vif_util
from nova import thread_pool_factory
import os_vif
from os_vif import exception as osv_exception
from oslo_log import log as logging
from oslo_utils import excutils
from pyroute2 import NetlinkError
from vif_plug_ovs.ovsdb import ovsdb_lib

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import vif as lxd_vif
from nova_lxd.privsep import linux_net

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF
_PLUG_ERRORS = (osv_exception.ExceptionBase, OSError, NetlinkError)


def _ovs_vifs(network_info):
    return [v for v in network_info or []
            if v['type'] == network_model.VIF_TYPE_OVS]


class VIFPlugger:
    """Plugs and unplugs the host side of an instance's ports."""

    def __init__(self):
        # Loads the os-vif plugins (ovs) and registers [os_vif_ovs];
        # idempotent, as nova-compute's own start-up calls it too.
        os_vif.initialize()
        self._ovs = None

    def _ovsdb(self):
        # os-vif's own OVSDB access, with its [os_vif_ovs] settings.
        if self._ovs is None:
            self._ovs = ovsdb_lib.BaseOVS(CONF.os_vif_ovs)
        return self._ovs.ovsdb

    def check(self, network_info, instance=None):
        """Check, before anything is created, that the integration bridge
        of every ``ovs`` port exists (os-vif would create a missing one,
        which no agent would then program); warn about the flavor's nic
        quotas LXD cannot enforce.

        :param instance: nova Instance whose flavor's extra specs are read.
        :raises OVSBridgeMissing: naming the port and the bridge.
        :raises OVSUnreachable: the OVS database does not answer.
        """
        specs = instance.flavor.extra_specs if instance else {}
        unenforced = sorted(set(specs) & set(definition.UNENFORCED_VIF_QUOTAS))
        if unenforced and network_info:
            LOG.warning('Flavor extra specs %s are not enforced: LXD limits '
                        'a nic by its average rate only',
                        ', '.join(unenforced), instance=instance)
        connection = CONF.os_vif_ovs.ovsdb_connection
        for vif in _ovs_vifs(network_info):
            bridge = vif['network']['bridge']
            try:
                exists = self._ovsdb().br_exists(bridge).execute(
                    check_error=True)
            except Exception as e:  # ovsdbapp raises many kinds
                self._ovs = None  # connect anew next time
                raise lxd_exception.OVSUnreachable(
                    connection=connection, error=str(e) or type(e).__name__
                ) from e
            if not exists:
                raise lxd_exception.OVSBridgeMissing(
                    port_id=vif['id'], bridge=bridge, connection=connection)

    @staticmethod
    def _os_vif_objects(instance, vif):
        info = os_vif_util.nova_to_osvif_instance(instance)
        return os_vif_util.nova_to_osvif_vif(vif), info

    def plug(self, instance, network_info):
        """Plug every ``ovs`` port of ``network_info`` (idempotent).

        :param instance: nova Instance.
        :param network_info: nova NetworkInfo.
        :raises VirtualInterfacePlugException: naming the port and why.
        """
        for vif in _ovs_vifs(network_info):
            osv_vif, info = self._os_vif_objects(instance, vif)
            try:
                if lxd_vif.is_native_ovs(vif):
                    self._own_veth(vif, osv_vif, info)
                    # os-vif adds the OVS port only when told to.
                    osv_vif.port_profile.create_port = True
                os_vif.plug(osv_vif, info)
            except _PLUG_ERRORS as e:
                raise exception.VirtualInterfacePlugException(
                    f'Failed to plug port {vif["id"]} ({vif["type"]}) on '
                    f'bridge {vif["network"]["bridge"]}: {e}') from e
            LOG.debug('Plugged port %s', vif['id'], instance=instance)

    def plug_while(self, instance, network_info, action):
        """Plug the ports on another thread while ``action()`` runs here.

        Spawn creates the container this way: LXD looks for a nic's parent
        device only at start, and plugging an OVS port through os-vif costs
        several privsep and OVSDB round trips (50-100 ms for a hybrid port,
        measured with tools/bench network).  Returns once both are done.

        :param action: callable taking no argument (e.g. the LXD create).
        :raises: what ``action`` raised (a plug failure as well is logged),
            else VirtualInterfacePlugException as :meth:`plug`.
        """
        if not _ovs_vifs(network_info):
            action()
            return
        plugging = thread_pool_factory.spawn(self.plug, instance,
                                             network_info)
        try:
            action()
        except Exception:
            with excutils.save_and_reraise_exception():
                # The caller's rollback unplugs: the plug must be over.
                try:
                    plugging.result()
                except Exception as e:
                    LOG.warning('Plugging failed as well: %s', e,
                                instance=instance)
        plugging.result()

    def _own_veth(self, vif, osv_vif, info):
        host, peer = lxd_vif.tap_name(vif), lxd_vif.peer_name(vif)
        if linux_net.link_exists(host):
            return
        # A port of the same name left in OVS (host reboot) is removed in a
        # transaction of its own before the new veth is added.
        os_vif.unplug(osv_vif, info)
        linux_net.create_veth_pair(host, peer, lxd_vif.mtu_of(vif))

    def unplug(self, instance, network_info):
        """Remove the host side of every ``ovs`` port: OVS port, veth,
        per-port bridge.  Missing pieces are no error; a failure is logged
        and the remaining ports are still unplugged.
        """
        for vif in _ovs_vifs(network_info):
            osv_vif, info = self._os_vif_objects(instance, vif)
            try:
                os_vif.unplug(osv_vif, info)
                if lxd_vif.is_native_ovs(vif):
                    linux_net.delete_link(lxd_vif.tap_name(vif))
            except _PLUG_ERRORS as e:
                LOG.warning('Could not unplug port %s: %s', vif['id'], e,
                            instance=instance)
