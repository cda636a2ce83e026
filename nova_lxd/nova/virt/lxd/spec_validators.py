"""nova API validators for the ``lxd:`` extra spec namespace.

Registered under nova's ``nova.api.extra_spec_validators`` entry point
(setup.cfg), which nova-api loads to check ``openstack flavor set
--property`` from microversion 2.86 on, as it does for ``hw:`` and
``quota:``.  The forms are :mod:`lxd_specs`'s own, so the API and the
compute host agree; whether a compute host permits a value is its
operator's ``[lxd]`` policy, checked at boot.
"""
import dataclasses

from nova.api.validation.extra_specs import base
from nova import exception

from nova_lxd.nova.virt.lxd import lxd_specs


@dataclasses.dataclass
class LXDExtraSpecValidator(base.ExtraSpecValidator):
    """nova's validator, plus :func:`lxd_specs.check_form`."""

    def validate(self, name, value):
        """:raises ValidationError: nova's API error (HTTP 400)."""
        super().validate(name, value)
        try:
            lxd_specs.check_form(name, value)
        except exception.InvalidInput as e:
            raise exception.ValidationError(
                f'Validation failed; {e.format_message()}') from None


def _validators():
    def spec(key, description, value, parameters=()):
        return LXDExtraSpecValidator(
            name=f'{lxd_specs.NAMESPACE}{key}', description=description,
            value=value, parameters=list(parameters))

    names = {'type': str, 'pattern': lxd_specs.NAME_LIST.pattern[1:-1]}
    result = [spec('limits.processes',
                   'Maximum number of processes in the container.',
                   {'type': int, 'min': 1})]
    result += [spec(key, f'LXD {key} (true/false); the compute host must '
                         f'permit it ([lxd] allowed_security_options).',
                    {'type': bool})
               for key in lxd_specs.SECURITY_KEYS]
    result += [
        spec('linux.kernel_modules', 'Kernel modules LXD loads on the host '
             'before the container starts; the compute host must permit '
             'each ([lxd] allowed_kernel_modules).', names),
        spec('profiles', 'Extra LXD profiles for the container; the compute '
             'host must permit each ([lxd] flavor_profiles).', names),
        spec('host_devices', 'Named host device sets for the container, '
             'defined by the compute host ([lxd] host_device_set).', names),
        spec('{key}', 'Any other LXD instance config key, set verbatim when '
             'the compute host permits it ([lxd] allowed_config_keys).',
             {'type': str},
             [{'name': 'key', 'pattern': lxd_specs.LXD_KEY.pattern[1:-1],
               'description': 'an LXD instance config key'}]),
    ]
    return result


def register():
    """The validators, as nova's extension manager expects them."""
    return _validators()
