"""``compute_driver = nova_lxd.nova.virt.lxd.LXDDriver`` (documented spelling).

nova 34 loads drivers only as ``nova.virt.<compute_driver>``, that is
``nova.virt.nova_lxd.nova.virt.lxd``.  Each package on that path is made an
alias (in sys.modules) of the matching package of nova_lxd, so the import
system finds the real modules and never loads a second copy of them.
"""
import importlib
import sys

_TARGET = 'nova_lxd.nova.virt.lxd'

importlib.import_module(_TARGET)
_parts = _TARGET.split('.')
for _depth in range(1, len(_parts) + 1):
    _real = '.'.join(_parts[:_depth])
    sys.modules[__name__ + _real[len('nova_lxd'):]] = sys.modules[_real]
