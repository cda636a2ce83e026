"""nova-lxd's benchmarks, run by ``tools/bench`` (not part of the package).

Like nova-compute 34, the benchmarks run on native threads: nova must not
switch the process to eventlet, so this happens before any nova import.
"""
import os

os.environ.setdefault('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1')

from nova import monkey_patch  # noqa: E402

monkey_patch.patch(backend='threading')

from nova_lxd.aio import lxd as aio_lxd  # noqa: E402

aio_lxd.quiet_ws4py_shutdown()  # pylxd execute()'s harmless shutdown race
