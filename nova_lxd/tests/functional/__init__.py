"""Functional tests: the real LXD daemon, OVS/OVN and nova's services."""
from nova_lxd.aio import lxd as aio_lxd

aio_lxd.quiet_ws4py_shutdown()
