"""nova-lxd compute driver: ``compute_driver = nova_lxd.nova.virt.lxd.LXDDriver``."""
from nova_lxd.nova.virt.lxd.driver import LXDDriver  # noqa: F401
