"""The ``lxd:`` flavor extra spec namespace, and the operator's policy.

Pure: no I/O.  Every key is parsed here, for nova's API validators
(:mod:`spec_validators`) and for the compute host, so that the two cannot
disagree:

================================  =================  ========================
extra spec                        value              permitted by ``[lxd]``
================================  =================  ========================
``lxd:limits.processes``          whole number >= 1  always
``lxd:security.privileged``       true/false         allowed_security_options
``lxd:security.nesting``          true/false         allowed_security_options
``lxd:security.idmap.isolated``   true/false         allowed_security_options
``lxd:linux.kernel_modules``      name[,name...]     allowed_kernel_modules
``lxd:profiles``                  name[,name...]     flavor_profiles
``lxd:host_devices``              name[,name...]     host_device_set
``lxd:<other LXD key>``           any string         allowed_config_keys
================================  =================  ========================

Booleans follow oslo's strict parser, as nova's own validators do
(``true/false``, ``yes/no``, ``on/off``, ``1/0``...); anything else is an
error, never false (the 2019 driver enabled ``security.privileged`` on
"False").  Switching a security option off is always allowed.  The policy
lives in nova-compute's configuration, so the API can only check the form;
the compute host refuses what its operator did not permit, before anything
is created.
"""
import dataclasses
import fnmatch
import re

from oslo_utils import strutils

from nova_lxd.nova.virt.lxd import exception as lxd_exception

NAMESPACE = 'lxd:'
SECURITY_KEYS = ('security.privileged', 'security.nesting',
                 'security.idmap.isolated')
NAME_LIST = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.+-]*'
                       r'(\s*,\s*[A-Za-z0-9][A-Za-z0-9_.+-]*)*$')
LXD_KEY = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
# Keys the driver itself owns: a flavor setting them would undo nova's
# accounting (CPU, memory), its security default or its bookkeeping.
RESERVED_KEY_PATTERNS = ('limits.cpu', 'limits.cpu.*', 'limits.memory',
                         'limits.memory.*', 'limits.hugepages.*',
                         'security.privileged', 'user.*', 'volatile.*',
                         'image.*', 'boot.*', 'nvidia.*', 'raw.idmap')


@dataclasses.dataclass(frozen=True)
class Policy:
    """What the operator permits flavors (``[lxd]`` options)."""

    security_options: frozenset = frozenset()
    config_key_patterns: tuple = ()
    profiles: frozenset = frozenset()
    kernel_modules: frozenset = frozenset()
    device_sets: frozenset = frozenset()

    @classmethod
    def from_conf(cls, lxd_conf, device_sets):
        """:param lxd_conf: ``CONF.lxd``.
        :param device_sets: names of the parsed ``host_device_set``s."""
        return cls(frozenset(lxd_conf.allowed_security_options),
                   tuple(lxd_conf.allowed_config_keys),
                   frozenset(lxd_conf.flavor_profiles),
                   frozenset(lxd_conf.allowed_kernel_modules),
                   frozenset(device_sets))


@dataclasses.dataclass
class FlavorOptions:
    """What a flavor's ``lxd:`` extra specs ask for."""

    #: LXD config key -> value (str).
    config: dict = dataclasses.field(default_factory=dict)
    #: extra LXD profile names, in the flavor's order.
    profiles: list = dataclasses.field(default_factory=list)
    #: names of host device sets, in the flavor's order.
    device_sets: list = dataclasses.field(default_factory=list)


def boolean(key, value):
    """A strictly parsed boolean extra spec -> ``'true'``/``'false'``.

    :raises InvalidExtraSpec: naming ``key``, for any other value.
    """
    try:
        parsed = strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise lxd_exception.InvalidExtraSpec(
            key=key, value=value,
            reason='expected true or false') from None
    return 'true' if parsed else 'false'


def positive_int(key, value, minimum=1):
    """``value`` as an int >= ``minimum``.

    :raises InvalidExtraSpec: naming ``key`` when it is not one.
    """
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum:
        raise lxd_exception.InvalidExtraSpec(
            key=key, value=value,
            reason=f'expected a whole number >= {minimum}')
    return number


def name_list(key, value):
    """``'a, b,c'`` -> ``['a', 'b', 'c']`` (order kept, duplicates
    dropped).

    :raises InvalidExtraSpec: empty, or a name with other characters
        than letters, digits, ``_.+-``.
    """
    if not NAME_LIST.match(str(value).strip()):
        raise lxd_exception.InvalidExtraSpec(
            key=key, value=value,
            reason='expected a comma-separated list of names')
    names = [name.strip() for name in str(value).split(',')]
    return list(dict.fromkeys(names))


def is_reserved(lxd_key):
    """True for an LXD config key only the driver may set."""
    return any(fnmatch.fnmatchcase(lxd_key, pattern)
               for pattern in RESERVED_KEY_PATTERNS)


def check_form(key, value):
    """Check an ``lxd:`` extra spec's form (no policy).

    :param key: the full extra spec name, ``lxd:...``.
    :raises InvalidExtraSpec: the value or the key is malformed, or the
        key is one only the driver sets.
    """
    lxd_key = key[len(NAMESPACE):]
    if lxd_key in SECURITY_KEYS:
        boolean(key, value)
    elif lxd_key == 'limits.processes':
        positive_int(key, value)
    elif lxd_key in ('linux.kernel_modules', 'profiles', 'host_devices'):
        name_list(key, value)
    elif not LXD_KEY.match(lxd_key):
        raise lxd_exception.InvalidExtraSpec(
            key=key, value=value, reason='not an LXD config key')
    elif is_reserved(lxd_key):
        raise lxd_exception.InvalidExtraSpec(
            key=key, value=value,
            reason='the driver sets this LXD key itself (from the flavor '
                   'and nova\'s placement claims)')


def _refuse(key, value, reason, option):
    raise lxd_exception.ExtraSpecNotAllowed(
        key=key, value=value, reason=reason, option=f'[lxd] {option}')


def _names(key, value, allowed, option, what):
    names = name_list(key, value)
    refused = [name for name in names if name not in allowed]
    if refused:
        _refuse(key, value,
                f'{what} {", ".join(refused)} not permitted (permitted: '
                f'{", ".join(sorted(allowed)) or "none"})', option)
    return names


def _security(key, value, policy, options):
    lxd_key = key[len(NAMESPACE):]
    setting = boolean(key, value)
    if setting == 'true' and lxd_key not in policy.security_options:
        _refuse(key, value, f'{lxd_key} is not listed',
                'allowed_security_options')
    options.config[lxd_key] = setting


def _raw(key, value, policy, options):
    lxd_key = key[len(NAMESPACE):]
    if not any(fnmatch.fnmatchcase(lxd_key, pattern)
               for pattern in policy.config_key_patterns):
        _refuse(key, value, f'no pattern matches {lxd_key}',
                'allowed_config_keys')
    options.config[lxd_key] = str(value)


def flavor_options(extra_specs, policy):
    """The ``lxd:`` extra specs of a flavor, checked against ``policy``.

    :param extra_specs: the flavor's extra specs (dict str -> str); keys
        outside the ``lxd:`` namespace are ignored.
    :param policy: a :class:`Policy`.
    :returns: a :class:`FlavorOptions`.
    :raises InvalidExtraSpec: a malformed value or key.
    :raises ExtraSpecNotAllowed: something ``policy`` does not permit,
        naming the ``[lxd]`` option that would.
    """
    options = FlavorOptions()
    for key in sorted(extra_specs):
        if not key.startswith(NAMESPACE):
            continue
        value = extra_specs[key]
        check_form(key, value)
        lxd_key = key[len(NAMESPACE):]
        if lxd_key in SECURITY_KEYS:
            _security(key, value, policy, options)
        elif lxd_key == 'limits.processes':
            options.config[lxd_key] = str(positive_int(key, value))
        elif lxd_key == 'linux.kernel_modules':
            options.config[lxd_key] = ','.join(_names(
                key, value, policy.kernel_modules, 'allowed_kernel_modules',
                'kernel modules'))
        elif lxd_key == 'profiles':
            options.profiles = _names(key, value, policy.profiles,
                                      'flavor_profiles', 'profiles')
        elif lxd_key == 'host_devices':
            options.device_sets = _names(key, value, policy.device_sets,
                                         'host_device_set', 'device sets')
        else:
            _raw(key, value, policy, options)
    return options
