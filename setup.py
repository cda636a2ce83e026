# nova 34 imports compute drivers only from the nova.virt package
# (nova/virt/driver.py load_compute_driver), so two tiny alias modules are
# installed there as data files.  Data files are also installed by editable
# (PEP 660) installs, which package files inside nova.virt would not be.
import os
import sys
import sysconfig

import setuptools

_NOVA_VIRT = os.path.join(
    os.path.relpath(sysconfig.get_path('purelib'), sys.prefix), 'nova', 'virt')

setuptools.setup(
    setup_requires=['pbr>=6.0.0'],
    pbr=True,
    data_files=[
        (os.path.join(_NOVA_VIRT, 'lxd'),
         ['shims/nova/virt/lxd/__init__.py']),
        (os.path.join(_NOVA_VIRT, 'nova_lxd'),
         ['shims/nova/virt/nova_lxd/__init__.py']),
    ])
