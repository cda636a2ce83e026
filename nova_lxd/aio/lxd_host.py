"""Host-level LXD set-up for deployment scripts, through pylxd.

Used by ``tools/lib/host-setup.sh`` and the DevStack plugin
(``devstack/lib/nova-lxd``) so that neither talks to LXD over raw HTTP::

    python -m nova_lxd.aio.lxd_host ensure-pool NAME DRIVER [KEY=VALUE...]
    python -m nova_lxd.aio.lxd_host ensure-https ADDRESS

Each only creates what is missing and never changes what exists.  The
daemon is ``$LXD_DIR/unix.socket`` when ``LXD_DIR`` is set (as LXD's own
tools read it), else the snap's or the apt one.  Exit status 0 and one
line saying what was done; 1 and the reason on stderr.
"""
import sys

import pylxd
from pylxd import exceptions as lxd_exc


def connect(timeout=60):
    """A pylxd client for the local daemon (default project).

    pylxd itself looks for ``$LXD_DIR/unix.socket``, then the snap's
    socket, then the apt one: the driver's order for an empty
    ``[lxd] endpoint``.

    :raises pylxd.exceptions.ClientConnectionFailed: no daemon answers.
    """
    return pylxd.Client(timeout=timeout)


def ensure_pool(client, name, driver, config=None):
    """Create storage pool ``name`` with LXD driver ``driver`` (dir, btrfs,
    zfs, lvm, ceph...) unless a pool of that name exists, whatever its
    driver and configuration.

    :param config: LXD pool keys, e.g. ``{'size': '6GiB'}`` for a btrfs
        pool on a loop file LXD makes; empty: LXD's default source and size.
    :returns: True when the pool was created.
    :raises pylxd.exceptions.LXDAPIException: LXD refused the pool.
    """
    if client.storage_pools.exists(name):
        return False
    client.storage_pools.create({'name': name, 'driver': driver,
                                 'config': dict(config or {})})
    return True


def ensure_https(client, address):
    """Make LXD listen on ``address`` (``host:port``) unless it already
    listens somewhere (``core.https_address`` set).

    :returns: True when the listener was set.
    """
    if client.host_info['config'].get('core.https_address'):
        return False
    client.api.patch(json={'config': {'core.https_address': address}})
    return True


def main(argv=None):
    """Command line: see the module's docstring."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        config = dict(a.split('=', 1) for a in argv[3:] if '=' in a)
        if (argv[:1] == ['ensure-pool'] and len(argv) >= 3 and
                len(config) == len(argv) - 3):
            made = ensure_pool(connect(), argv[1], argv[2], config)
            print(f'storage pool {argv[1]} ' +
                  (f'created ({argv[2]})' if made else 'ok'))
        elif argv[:1] == ['ensure-https'] and len(argv) == 2:
            made = ensure_https(connect(), argv[1])
            print('lxd https listener ' +
                  (f'set ({argv[1]})' if made else 'ok'))
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except lxd_exc.ClientConnectionFailed as e:
        print(f'lxd_host {" ".join(argv)}: no LXD daemon answers at '
              '$LXD_DIR/unix.socket, the snap socket or the apt one '
              f'({e or type(e).__name__}); start LXD or set LXD_DIR',
              file=sys.stderr)
        return 1
    except lxd_exc.LXDAPIException as e:
        print(f'lxd_host {" ".join(argv)}: LXD refused: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
