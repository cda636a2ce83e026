"""Helpers of the benchmarks (:mod:`benchmarks.lifecycle`, `.network`).

Nothing here times anything: the raw pylxd side of each comparison (the
same container config, image file and metadata as the driver's), an LXD
project of the benchmark's own, a counter of the HTTP requests pylxd
clients make, and phase timers that wrap functions of the image store
without changing them.
"""
import argparse
import os
import signal
import sys
import time
import traceback
import urllib.parse
import uuid

from nova import objects
from nova.virt import fake
import pylxd

from nova_lxd.aio import demo as aio_demo
from nova_lxd.aio import lxd as aio_lxd
from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import driver as lxd_driver
from nova_lxd.nova.virt.lxd import session as lxd_session

#: The flavor of every instance (CPU count, MiB, GiB).
FLAVOR = {'vcpus': 1, 'memory_mb': 256, 'root_gb': 1}
#: nova's host name (CONF.host) in the benchmarks.
NODE = 'nova-lxd-bench-node'
CONF = lxd_conf.CONF


def configure(project, instances_path, pool='default'):
    """nova.conf of the benchmarks: no config files, [lxd] as asked, no
    wait for network-vif-plugged (no Neutron sends it)."""
    CONF([], project='nova', default_config_files=[], default_config_dirs=[])
    CONF.set_override('project', project, group='lxd')
    CONF.set_override('pool', pool, group='lxd')
    CONF.set_override('instances_path', instances_path)
    CONF.set_override('vif_plugging_timeout', 0)
    CONF.set_override('host', NODE)
    objects.register_all()


def make_instance(serial, image_id):
    """A nova Instance as the compute manager hands it to spawn."""
    return objects.Instance(
        id=serial, uuid=str(uuid.uuid4()), hostname=f'bench-{serial}',
        image_ref=image_id, project_id='bench', user_id='bench',
        flavor=objects.Flavor(ephemeral_gb=0, swap=0, extra_specs={},
                              **FLAVOR),
        config_drive='', launched_at=None, system_metadata={},
        vm_state='building', task_state='spawning')


# The images the benchmarks boot, in <--cache>/images (build-images.sh).
IMAGES = {'busybox': 'busybox-rootfs.tar.gz',
          'debian': 'debian-bookworm-rootfs.tar.gz'}


def sandbox(args, boot_timeout=600, driver='lxd', port_offset=0):
    """The all-in-one sandbox (aio demo) for ``args.image`` on
    ``args.pool``, its compute API on ``args.api_port`` (+ ``port_offset``),
    ``tap`` ports, ``driver`` 'lxd' or nova's 'fake'; not started yet."""
    return aio_demo.Demo(argparse.Namespace(
        image=os.path.join(args.cache, 'images', IMAGES[args.image]),
        port=args.api_port + port_offset, driver=driver, vif_type='tap',
        boot_timeout=boot_timeout, pool=args.pool))


def log(message):
    """Progress line on stderr (stdout carries the results only)."""
    print(f'bench: {message}', file=sys.stderr, flush=True)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def rounds(args, sides):
    """``args.warmup`` then ``args.runs`` rounds calling each side in turn,
    the order reversed every other round; each side gets ``measured``
    (False in the warm-up)."""
    for i in range(args.warmup + args.runs):
        order = sides if i % 2 == 0 else sides[::-1]
        for side in order:
            side(i >= args.warmup)


def arg_parser(prog, description, cache_help):
    """An argparse parser with the options every benchmark has: --runs,
    --warmup, --project, --cache."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description + ': prints ratios, never '
        'fails on a missed target.')
    parser.add_argument('--runs', type=int, default=10,
                        help='measured runs per side and metric (median; '
                             'default 10)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='unmeasured rounds first (default 1)')
    parser.add_argument('--project', default='nova-lxd-bench',
                        help='LXD project to create and delete')
    parser.add_argument('--pool', default='default',
                        help="LXD storage pool of both sides' instances "
                             "(default: default, a dir pool; host-setup "
                             "also makes btrfs)")
    parser.add_argument('--cache', default=os.environ.get(
        'NOVA_LXD_CACHE', '/var/cache/nova-lxd'), help=cache_help)
    return parser


def main(bench, render):
    """Run ``bench``, clean up, print ``render(bench)`` lines on success
    and the total runtime.

    :returns: the exit status of :func:`run_bench`.
    """
    started = time.monotonic()
    status = run_bench(bench)
    if status == 0:
        print('\n'.join(render(bench)))
    print(f'total runtime: {time.monotonic() - started:.1f} s')
    return status


def run_bench(bench):
    """``bench.run()``, then ``bench.close()`` whatever happened (not
    interruptible half-way).

    :returns: 0, 1 after an error (traceback printed), 130 if interrupted
        (Ctrl-C or SIGTERM).
    """
    signal.signal(signal.SIGTERM, _terminate)
    status = 0
    try:
        bench.run()
    except KeyboardInterrupt:
        log('interrupted')
        status = 130
    except Exception:
        traceback.print_exc()
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.close()
    return status


def run_in(container, *argv):
    """Run argv in a pylxd container; return stdout.

    :raises RuntimeError: on a non-zero exit status.
    """
    result = container.execute(list(argv))
    if result.exit_code != 0:
        raise RuntimeError(f'{container.name}: {" ".join(argv)} exited '
                           f'{result.exit_code}: {result.stderr.strip()}')
    return result.stdout


def wait_listening(container, port, timeout=30):
    """Wait until a TCP socket listens on ``port`` in the container.

    :raises RuntimeError: none after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = container.execute(['netstat', '-ltn'])
        if f':{port} ' in result.stdout:
            return
        time.sleep(0.05)
    raise RuntimeError(f'{container.name}: nothing listens on {port}')


# -- the raw pylxd side ------------------------------------------------------
def raw_definition(serial, fingerprint, pool='default', quota=False):
    """The same container as the driver's, written out by hand.

    :param quota: the pool enforces sizes (the driver then sets the root
        disk's size to the flavor's).
    """
    hostname = f'bench-{serial}'
    root = {'type': 'disk', 'path': '/', 'pool': pool}
    if quota:
        root['size'] = f"{FLAVOR['root_gb']}GiB"
    return {
        'name': f'raw-{serial:08x}', 'type': 'container', 'profiles': [],
        'source': {'type': 'image', 'fingerprint': fingerprint},
        'config': {definition.UUID_KEY: str(uuid.uuid4()),
                   'limits.cpu': str(FLAVOR['vcpus']),
                   'limits.memory': f"{FLAVOR['memory_mb']}MiB",
                   'security.privileged': 'false',
                   'boot.autostart': 'false',
                   'raw.lxc': f'lxc.uts.name = {hostname}'},
        'devices': {'root': root},
    }


def raw_spawn(client, definition):
    """pylxd create + start, each waited for."""
    inst = client.instances.create(definition, wait=True)
    inst.start(wait=True)
    return inst


def raw_destroy(inst):
    """pylxd forced stop + delete, each waited for."""
    inst.stop(force=True, wait=True)
    inst.delete(wait=True)


def raw_import(client, path, metadata):
    """pylxd image upload of a split image (metadata tarball + rootfs)."""
    with open(path, 'rb') as rootfs:
        return client.images.create(rootfs, metadata=metadata)


def shape(meta):
    """An instance's LXD definition minus what differs by name/uuid."""
    config = {k: v for k, v in meta['config'].items()
              if not k.startswith(('volatile.', 'image.', 'user.'))
              and k != 'raw.lxc'}
    return config, meta['devices'], meta['profiles']


class RequestCounter:
    """Counts real HTTP requests of pylxd clients, by a response hook."""

    def __init__(self):
        self.count = 0
        self.trail = []
        self.elapsed = []  # seconds of each request, as requests measures

    def attach(self, client):
        """Hook the requests session every ``_APINode`` of ``client``
        shares."""
        client.api.session.hooks['response'].append(self._hook)

    def _hook(self, response, *args, **kwargs):
        self.count += 1
        path = urllib.parse.urlsplit(response.request.url).path
        self.trail.append(f'{response.request.method} {path} '
                          f'{response.status_code}')
        # From sending the request (a streamed body included) to its
        # response's headers.
        self.elapsed.append(response.elapsed.total_seconds())

    def mark(self):
        """Position to pass to :meth:`since` later."""
        return self.count

    def since(self, mark):
        """Requests made after ``mark``."""
        return self.count - mark

    def trail_since(self, mark):
        """``METHOD /path status`` of each request made after ``mark``."""
        return self.trail[mark:]

    def seconds_since(self, mark, classify):
        """Seconds of the requests made after ``mark``, summed per label.

        :param classify: ``'METHOD /path status'`` -> a label, or None to
            leave the request out.
        """
        totals = {}
        for line, seconds in zip(self.trail[mark:], self.elapsed[mark:]):
            label = classify(line)
            if label:
                totals[label] = totals.get(label, 0.0) + seconds
        return totals


def driver_in_project(name):
    """A fresh LXD project ``name`` (see :class:`Project`) and an LXDDriver
    started on it (``init_host``); returns ``(driver, project)``."""
    driver = lxd_driver.LXDDriver(fake.FakeVirtAPI())
    project = Project(name, driver._session.endpoint, CONF.lxd.timeout)
    project.create()
    driver.init_host(NODE)
    return driver, project


class Project:
    """An LXD project of the benchmark's own, deleted with its content
    (``nova_lxd.aio.lxd``: the one purge of scratch projects)."""

    def __init__(self, name, endpoint, timeout):
        self.name = name
        self.endpoint = endpoint
        self.timeout = timeout
        self.admin = pylxd.Client(endpoint=endpoint, timeout=timeout)

    def client(self):
        """A new pylxd client bound to the project."""
        return pylxd.Client(endpoint=self.endpoint, project=self.name,
                            timeout=self.timeout)

    def create(self):
        """Create the project as the driver's ``init_host`` would
        (its own images, profiles and volumes); a leftover of an
        interrupted run is deleted first."""
        if self.admin.projects.exists(self.name):
            log(f'deleting leftover LXD project {self.name}')
            self.delete()
        self.admin.projects.create(
            self.name, description='nova-lxd benchmark (tools/bench)',
            config=lxd_session.PROJECT_CONFIG)

    def remove_instances(self, names):
        """Stop and delete instances, several at a time."""
        aio_lxd.remove_instances(self.client(), names)

    def delete(self):
        """Delete instances, images, profiles, volumes, then the project."""
        aio_lxd.purge(self.name, self.endpoint)
