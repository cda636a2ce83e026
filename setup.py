# nova 34 imports compute drivers only from the nova.virt package
# (nova/virt/driver.py load_compute_driver), so two tiny alias packages,
# nova.virt.lxd and nova.virt.nova_lxd, are installed there from shims/.
# pbr fills in our own packages; they are added after it, with their own
# package_dir, which regular and editable (PEP 660) installs both honour.
import setuptools
from setuptools import dist

SHIMS = {
    'nova.virt.lxd': 'shims/nova/virt/lxd',
    'nova.virt.nova_lxd': 'shims/nova/virt/nova_lxd',
}


class Distribution(dist.Distribution):
    def finalize_options(self):
        super().finalize_options()
        self.packages = sorted(set(self.packages or []) | set(SHIMS))
        self.package_dir = dict(self.package_dir or {}, **SHIMS)


setuptools.setup(setup_requires=['pbr>=6.0.0'], pbr=True,
                 distclass=Distribution)
