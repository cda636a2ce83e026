"""``nova-lxd-aio``: run the all-in-one sandbox until Ctrl-C or SIGTERM.

Starts nova's API, conductor, scheduler and compute (LXD driver) and
placement in this process (see :mod:`nova_lxd.aio.sandbox`), registers an
image and a flavor, prints how to reach the compute API, and on exit stops
the services and removes the sandbox's LXD project with everything in it.
"""
import argparse
import fcntl
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

from nova_lxd.aio import conf as aio_conf
from nova_lxd.aio import network

FLAVOR = ('aio.small', 1, 512, 1)  # name, vCPUs, MiB, GiB
DRIVERS = {'lxd': aio_conf.LXD_DRIVER, 'fake': aio_conf.FAKE_DRIVER}


def parse_args(argv=None):
    """Command line of ``nova-lxd-aio``."""
    p = argparse.ArgumentParser(prog='nova-lxd-aio', description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--image', help='root filesystem tarball to register '
                   'in the (in-memory) Glance stand-in')
    p.add_argument('--port', type=int, default=8774,
                   help='compute API port on 127.0.0.1 (default 8774)')
    p.add_argument('--driver', choices=sorted(DRIVERS), default='lxd',
                   help="'lxd' (default) or nova's fake driver")
    p.add_argument('--log-file', default=os.path.join(
        tempfile.gettempdir(), 'nova-lxd-aio.log'),
        help='services log, truncated at start (default %(default)s)')
    p.add_argument('--debug', action='store_true', help='debug logging')
    p.add_argument('--vif-type', choices=network.VIF_TYPES, default='ovs',
                   help="the port's binding: 'ovs' (default: native, on "
                   "the userspace OVS bridge br-ml2 of tools/lib/ovs.sh; "
                   "cloud-init sets the address) or 'tap' (routed)")
    p.add_argument('--pool', default=aio_conf.LXD_POOL,
                   help='LXD storage pool of the instances (default '
                   '%(default)s; tools/lib/host-setup.sh also makes btrfs)')
    p.add_argument('--ready-file', help='write the endpoints and ids there '
                   'as JSON once the API answers (used by the demo)')
    return p.parse_args(argv)


def say(msg):
    """One line of output for the person running the sandbox."""
    print(f'nova-lxd-aio: {msg}', flush=True)


def curl_commands(url, image_id):
    """The shell commands to list servers and to boot one."""
    auth = ("-H 'X-User-Id: demo' -H 'X-Project-Id: demo' "
            "-H 'X-Roles: member,reader'")
    admin = ("-H 'X-User-Id: admin' -H 'X-Project-Id: admin' "
             "-H 'X-Roles: admin,member,reader'")
    body = json.dumps({'server': {
        'name': 'vm1', 'imageRef': image_id or '<image id>',
        'flavorRef': FLAVOR[0], 'networks': [{'port': network.PORT_ID}]}})
    return [
        f'curl -s {auth} {url}/v2.1/servers',
        f"curl -s {auth} -H 'Content-Type: application/json' "
        f"-d '{body}' {url}/v2.1/servers",
        f"curl -s {admin} '{url}/v2.1/servers/detail?all_tenants=1'",
    ]


def _summary(sandbox, image_id, driver):
    url = sandbox.api.url
    lines = [
        f'compute API  {url}/v2.1  (no authentication: the identity '
        'headers are trusted, loopback only)',
        f'compute      {driver} on host {aio_conf.HOST}',
        f'image        {image_id or "(none: use --image)"}',
        f'flavor       {FLAVOR[0]} ({FLAVOR[1]} vCPU, {FLAVOR[2]} MiB, '
        f'{FLAVOR[3]} GiB)',
        f'port         {network.PORT_ID} {network.FIXED_IP} {network.MAC} '
        f'(project {network.PROJECT_ID}, one server at a time)',
    ]
    if driver == aio_conf.LXD_DRIVER:
        lines.append(f'LXD project  {aio_conf.LXD_PROJECT} '
                     '(removed with everything in it at exit)')
    cmds = curl_commands(url, image_id)
    lines += ['list servers:', '  ' + cmds[0], 'boot one:', '  ' + cmds[1],
              'as admin:', '  ' + cmds[2], 'Ctrl-C or SIGTERM stops it.']
    return lines


def _write_ready(path, sandbox, image_id, flavor_id, args):
    info = {'url': sandbox.api.url, 'image_id': image_id,
            'flavor_id': flavor_id, 'port_id': network.PORT_ID,
            'lxd_project': aio_conf.LXD_PROJECT, 'log_file': args.log_file,
            'pid': os.getpid()}
    tmp = path + '.tmp'
    with open(tmp, 'w') as out:
        json.dump(info, out)
    os.replace(tmp, path)


def _stop_event():
    """An Event set by SIGINT (Ctrl-C) or SIGTERM."""
    stop = threading.Event()

    def handler(signum, _frame):
        say(f'{signal.Signals(signum).name}: stopping')
        stop.set()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _purge_lxd():
    from nova_lxd.aio import lxd
    removed = lxd.purge(aio_conf.LXD_PROJECT)
    say('LXD: removed ' + (', '.join(removed) if removed else 'nothing'))


def _claim_lxd_project():
    """Lock the sandbox's LXD project for this process and empty it.

    One sandbox at a time owns the project: a second one would purge the
    first one's containers.  Whatever the project still holds once the lock
    is ours was left by a sandbox that did not stop cleanly.

    :returns: the open lock file (keep it open), or None if another
        ``nova-lxd-aio`` holds it.
    """
    path = os.path.join(tempfile.gettempdir(),
                        f'nova-lxd-aio.{aio_conf.LXD_PROJECT}.lock')
    lock = open(path, 'w')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    from nova_lxd.aio import lxd
    try:
        if lxd.project_exists(aio_conf.LXD_PROJECT):
            say(f'LXD project {aio_conf.LXD_PROJECT} left by an earlier '
                'run: removing it')
            _purge_lxd()
    except Exception as e:  # the driver's init_host will say it better
        say(f'could not check LXD project {aio_conf.LXD_PROJECT}: {e}')
    return lock


def _start(sandbox, args):
    """Start the services and register the image and flavor."""
    sandbox.setUp()
    try:
        image_id = sandbox.add_image(args.image) if args.image else None
        return image_id, sandbox.add_flavor(*FLAVOR)
    except Exception:
        sandbox.cleanUp()
        raise


def _reason(exc):
    """The first underlying error of a fixture's MultipleExceptions."""
    first = exc.args[0] if exc.args else None
    if isinstance(first, tuple) and len(first) == 3:
        exc = first[1]
    return f'{type(exc).__name__}: {exc}'


def _shutdown(sandbox, driver):
    """Destroy the servers (their ports unplugged), stop the services, then
    purge the LXD project; True if all went."""
    ok = True
    if sandbox is not None and driver == aio_conf.LXD_DRIVER:
        try:
            for name in sandbox.destroy_servers():
                say(f'destroyed {name}')
        except Exception as e:
            say(f'error while destroying the servers: {e}')
            ok = False
    if sandbox is not None:
        try:
            sandbox.cleanUp()
        except Exception as e:
            say(f'error while stopping the services: {e}')
            ok = False
    if driver == aio_conf.LXD_DRIVER:
        try:
            _purge_lxd()
        except Exception as e:
            say(f'error while removing LXD project '
                f'{aio_conf.LXD_PROJECT}: {e}')
            ok = False
    return ok


def _serve(args, driver, stop):
    """Start, announce, wait for ``stop``, shut down; return exit status."""
    from nova_lxd.aio import sandbox as aio_sandbox
    say(f'starting nova API, conductor, scheduler, compute and placement '
        f'(log {args.log_file})')
    sandbox = aio_sandbox.Sandbox(port=args.port, vif_type=args.vif_type)
    t0 = time.monotonic()
    try:
        image_id, flavor_id = _start(sandbox, args)
    except Exception as e:
        say(f'failed to start: {_reason(e)} (details in {args.log_file})')
        _log_exception()
        _shutdown(None, driver)
        return 1
    say(f'ready in {time.monotonic() - t0:.1f}s')
    for line in _summary(sandbox, image_id, driver):
        print('  ' + line, flush=True)
    if args.ready_file:
        _write_ready(args.ready_file, sandbox, image_id, flavor_id, args)
    while not stop.wait(0.5):
        pass
    ok = _shutdown(sandbox, driver)
    say('stopped' if ok else 'stopped, with errors')
    return 0 if ok else 1


def main(argv=None):
    """Entry point of ``nova-lxd-aio``; returns the exit status."""
    args = parse_args(argv)
    if args.image and not os.path.isfile(args.image):
        say(f'no such image file: {args.image}')
        return 2
    stop = _stop_event()
    driver = DRIVERS[args.driver]
    lock = None  # held (open) until main returns
    if driver == aio_conf.LXD_DRIVER:
        lock = _claim_lxd_project()
        if lock is None:
            say(f'another nova-lxd-aio uses LXD project '
                f'{aio_conf.LXD_PROJECT}')
            return 1
    workdir = tempfile.mkdtemp(prefix='nova-lxd-aio-')
    ovs = args.vif_type == 'ovs' and driver == aio_conf.LXD_DRIVER
    host_address = False
    try:
        open(args.log_file, 'w').close()
        aio_conf.configure(workdir, driver=driver, log_file=args.log_file,
                           debug=args.debug,
                           ovsdb=network.OVSDB if ovs else None,
                           pool=args.pool)
        if ovs:
            try:
                host_address = network.add_host_address()
            except RuntimeError as e:
                say(f'failed to start: {e}')
                return 1
        return _serve(args, driver, stop)
    finally:
        if host_address:
            network.remove_host_address()
        shutil.rmtree(workdir, ignore_errors=True)
        if lock:
            lock.close()


def _log_exception():
    from oslo_log import log as logging
    logging.getLogger(__name__).exception('nova-lxd-aio failed')


if __name__ == '__main__':
    sys.exit(main())
