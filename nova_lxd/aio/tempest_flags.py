"""Tempest's ``[compute-feature-enabled]`` flags for the LXD driver, derived
from what the driver class implements, so that tempest never runs a test of
something the driver refuses and never skips one it supports.

    python -m nova_lxd.aio.tempest_flags     # "SECTION OPTION VALUE" lines

Used by ``devstack/lib/nova-lxd`` (``nova_lxd_configure_tempest``) for both
the DevStack plugin and ``tools/cloud tempest``.  A flag is True when the
driver overrides the ``nova.virt.driver.ComputeDriver`` method(s) behind it
(the base class raises NotImplementedError) or sets the capability.
"""
import sys

from nova.virt import driver as base

from nova_lxd.nova.virt.lxd import driver as lxd_driver

# flag -> the ComputeDriver methods that must all be implemented.
METHODS = {
    'console_output': ('get_console_output',),
    'pause': ('pause', 'unpause'),
    'suspend': ('suspend', 'resume'),
    'snapshot': ('snapshot',),
    'shelve': ('snapshot',),
    'rescue': ('rescue', 'unrescue'),
    'resize': ('migrate_disk_and_power_off', 'finish_migration',
               'confirm_migration', 'finish_revert_migration'),
    'cold_migration': ('migrate_disk_and_power_off', 'finish_migration'),
    'live_migration': ('live_migration',),
    'change_password': ('set_admin_password',),
    'vnc_console': ('get_vnc_console',),
    'spice_console': ('get_spice_console',),
    'serial_console': ('get_serial_console',),
    'swap_volume': ('swap_volume',),
    'attach_encrypted_volume': ('attach_volume',),
}
# flag -> capability.
CAPABILITIES = {
    'interface_attach': 'supports_attach_interface',
    'volume_multiattach': 'supports_multiattach',
}
# Fixed by what a container is, whatever the driver implements.
FIXED = {
    # Instances read their metadata from the config drive (nova's
    # force_config_drive); there is no metadata agent in the deployments
    # documented here.
    'config_drive': True,
    'metadata_service': False,
    # File injection was removed from nova; containers have no BIOS/IDE.
    'personality': False,
    'ide_bus': False,
    'disk_config': False,
    'enable_instance_password': False,
    'stable_rescue': False,
    'live_migrate_back_and_forth': False,
    'block_migration_for_live_migration': False,
    'volume_backed_live_migration': False,
    'shelve_migrate': False,
    'vtpm_live_migration': False,
}


def implements(driver_class, method):
    """True when ``driver_class`` overrides ComputeDriver.``method``."""
    return (getattr(driver_class, method, None) is not None and
            getattr(driver_class, method) is not getattr(base.ComputeDriver,
                                                         method, None))


def compute_feature_flags(driver_class=lxd_driver.LXDDriver):
    """The ``[compute-feature-enabled]`` flags: ``{option: bool}``."""
    flags = {flag: all(implements(driver_class, m) for m in methods)
             for flag, methods in METHODS.items()}
    flags.update({flag: bool(driver_class.capabilities.get(cap))
                  for flag, cap in CAPABILITIES.items()})
    flags.update(FIXED)
    return flags


def main():
    """Print one ``compute-feature-enabled OPTION True|False`` line per
    flag, sorted."""
    for flag, value in sorted(compute_feature_flags().items()):
        print(f'compute-feature-enabled {flag} {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
