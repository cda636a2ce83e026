"""Where the LXD (or Incus) daemon of this host listens.

``[lxd] endpoint`` names it (a unix socket path or an ``https://`` URL);
left empty, the first socket that exists is used, in this order:

1. ``$LXD_DIR/unix.socket``, when nova-compute runs with ``LXD_DIR`` set
   (a daemon started with its own directory);
2. LXD from the snap, ``/var/snap/lxd/common/lxd/unix.socket``;
3. LXD from apt or source, ``/var/lib/lxd/unix.socket``;
4. Incus, ``/var/lib/incus/unix.socket``, then ``/run/incus/unix.socket``.

Incus speaks LXD's REST API (it forked from LXD 5.x): the driver decides
every feature difference from the daemon's ``api_extensions``, never from
its name or version.  Pure apart from checking that paths exist.
"""
import os

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import exception as lxd_exception

UNIX_FIX = ('Check that LXD runs and that the nova-compute user may open '
            'the socket (add it to the group LXD was started with, e.g. '
            '`usermod -a -G lxd nova`, or incus-admin for Incus), or set '
            '[lxd] endpoint.')
HTTPS_FIX = ('Check [lxd] endpoint, client_cert/client_key (trusted with '
             '`lxc config trust add`) and server_cert.')


def candidate_sockets(environ=None):
    """The unix sockets autodetection tries, in order (see the module).

    :param environ: the process environment (``os.environ`` by default).
    """
    environ = os.environ if environ is None else environ
    paths = []
    if environ.get('LXD_DIR'):
        paths.append(os.path.join(environ['LXD_DIR'], 'unix.socket'))
    paths += [lxd_conf.SNAP_SOCKET, lxd_conf.APT_SOCKET,
              lxd_conf.INCUS_SOCKET, lxd_conf.INCUS_RUN_SOCKET]
    return list(dict.fromkeys(paths))


def socket_paths():
    """The sockets autodetection looks for, for messages."""
    return ' or '.join(candidate_sockets())


def find_endpoint(endpoint):
    """Resolve ``[lxd] endpoint`` to ``(url_or_socket_path, is_https)``.

    :param endpoint: the configured value: '' (autodetect), a unix socket
        path, or an ``https://`` URL.
    :raises LXDUnreachable: when autodetection finds no socket, naming
        every path it tried.
    """
    if endpoint.startswith('https://'):
        return endpoint, True
    if endpoint:
        return endpoint, False
    for path in candidate_sockets():
        if os.path.exists(path):
            return path, False
    raise lxd_exception.LXDUnreachable(
        endpoint=socket_paths(), error='no LXD or Incus unix socket found',
        fix=UNIX_FIX)
