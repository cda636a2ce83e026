"""Privileged actions of nova-lxd, through oslo.privsep (as nova/privsep).

One context, with only CAP_NET_ADMIN: the host-side network devices the
driver owns.  nova-compute starts its daemon through ``[nova_lxd_privileged]
helper_command`` (default: ``sudo privsep-helper`` with nova-compute's config
files), as for nova's and os-vif's own contexts.
"""
from oslo_privsep import capabilities
from oslo_privsep import priv_context

net_admin_pctxt = priv_context.PrivContext(
    'nova_lxd',
    cfg_section='nova_lxd_privileged',
    pypath=__name__ + '.net_admin_pctxt',
    capabilities=[capabilities.CAP_NET_ADMIN],
)
