"""``[lxd]`` values checked when nova-compute starts, before it connects
to LXD or creates anything.  Pure apart from looking at certificate files.

oslo.config already refuses values of the wrong type or out of range
(timeouts below 1 second, negative sizes); these are the checks of form it
cannot express.  Names follow LXD's rules for projects and storage pools
(``lxd/project``'s and ``lxd/storage``'s name validation): a refused name
would otherwise surface as an LXD error at the first boot, or, for a
project, at its creation.
"""
import os
from urllib import parse

from nova_lxd.nova.virt.lxd import exception as lxd_exception

# Characters LXD refuses in a project name ('_' because it joins project
# and instance names on the host: <project>_<instance>), and '?' and '#',
# which LXD accepts but which break the project's URLs (measured: LXD 5.0
# creates 'x?y', then answers "Project not found" for it).
_PROJECT_FORBIDDEN = '/ _\'"?#'
_POOL_FORBIDDEN = '/ ?#'


def _invalid(option, value, reason):
    raise lxd_exception.InvalidLXDOption(option=option, value=value,
                                         reason=reason)


def check_endpoint(opts):
    """``endpoint``: empty, an absolute socket path, or ``https://host:port``
    with a client certificate and key that exist.

    :param opts: the ``[lxd]`` group (or any object with its attributes).
    :raises InvalidLXDOption: naming the option and the fix.
    """
    endpoint = opts.endpoint
    if not endpoint:
        return
    if '://' not in endpoint:
        if not os.path.isabs(endpoint):
            _invalid('endpoint', endpoint,
                     'a unix socket path must be absolute, e.g. '
                     '/var/lib/lxd/unix.socket')
        return
    url = parse.urlsplit(endpoint)
    if url.scheme != 'https':
        _invalid('endpoint', endpoint,
                 'LXD serves its REST API over https:// or a unix socket '
                 'path only')
    try:
        valid = bool(url.hostname) and url.port is not False
    except ValueError:  # .port: no number, or out of range
        valid = False
    if not valid or url.path not in ('', '/'):
        _invalid('endpoint', endpoint,
                 'expected https://<host>[:<port>], e.g. '
                 'https://192.0.2.10:8443')
    if not opts.client_cert or not opts.client_key:
        _invalid('endpoint', endpoint,
                 'an https endpoint needs [lxd] client_cert and client_key '
                 '(a certificate in the daemon\'s trust store)')
    for option in ('client_cert', 'client_key', 'server_cert'):
        path = getattr(opts, option)
        if path and not os.access(path, os.R_OK):
            _invalid(option, path, 'the file does not exist or is not '
                     'readable by nova-compute')


def check_names(opts):
    """``project`` and ``pool`` follow LXD's naming rules.

    :raises InvalidLXDOption: naming the option and the fix.
    """
    for option, forbidden in (('project', _PROJECT_FORBIDDEN),
                              ('pool', _POOL_FORBIDDEN)):
        name = getattr(opts, option)
        if not name or name in ('.', '..', '*'):
            _invalid(option, name, 'LXD needs a name; "", ".", ".." and '
                     '"*" are none')
        bad = sorted({c for c in name if c in forbidden})
        if bad:
            _invalid(option, name,
                     f'LXD refuses {" ".join(repr(c) for c in bad)} in '
                     f'{option} names')


def check(opts):
    """Every check of this module, in the order an operator reads them."""
    check_endpoint(opts)
    check_names(opts)
