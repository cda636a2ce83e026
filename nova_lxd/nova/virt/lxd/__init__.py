"""The LXD compute driver.

``compute_driver = nova_lxd.nova.virt.lxd.LXDDriver`` in nova.conf.
"""
from nova_lxd.nova.virt.lxd.driver import LXDDriver  # noqa: F401
