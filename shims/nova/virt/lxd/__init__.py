"""``compute_driver = lxd.LXDDriver`` (the classic spelling).

nova 34 loads drivers only as ``nova.virt.<compute_driver>``; this module
re-exports the one LXDDriver class of the nova_lxd package.
"""
from nova_lxd.nova.virt.lxd import LXDDriver  # noqa: F401
