"""Privileged actions of nova-lxd, through oslo.privsep (as nova/privsep).

Two contexts: CAP_NET_ADMIN only, for the host-side network devices the
driver owns; CAP_SYS_ADMIN, CAP_SYS_RESOURCE and CAP_CHOWN only, for the
filesystems of attached volumes (mounting them on the host, growing one
after Cinder extended it, handing its top directory to the container's
root).  nova-compute starts their daemons
through ``[nova_lxd_privileged]`` and ``[nova_lxd_storage]
helper_command`` (default: ``sudo privsep-helper`` with nova-compute's
config files), as for nova's and os-vif's own contexts.
"""
from oslo_privsep import capabilities
from oslo_privsep import priv_context

net_admin_pctxt = priv_context.PrivContext(
    'nova_lxd',
    cfg_section='nova_lxd_privileged',
    pypath=__name__ + '.net_admin_pctxt',
    capabilities=[capabilities.CAP_NET_ADMIN],
)

storage_pctxt = priv_context.PrivContext(
    'nova_lxd',
    cfg_section='nova_lxd_storage',
    pypath=__name__ + '.storage_pctxt',
    # ext4 grows online only with CAP_SYS_RESOURCE as well.
    capabilities=[capabilities.CAP_SYS_ADMIN, capabilities.CAP_SYS_RESOURCE,
                  capabilities.CAP_CHOWN],
)
