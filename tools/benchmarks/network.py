"""LXDDriver's OVS ports against the same nics made by hand
(``tools/bench network``).

Prints, measured in one run on the busybox image (median of ``--runs``,
sides alternating):

1. spawn with one ``ovs`` port, hybrid and native plug: ``LXDDriver.spawn``
   (os-vif plug through its privsep daemon while LXD creates the
   container, then start) / the same host devices made by hand
   (:mod:`benchmarks.handmade`), then pylxd create + start;
2. hot attach and detach of a native port to a running instance:
   ``attach_interface`` / ``detach_interface`` against hand-made devices +
   a pylxd device add (removal, then the devices deleted);
3. TCP throughput container to container (busybox ``nc`` of
   ``--megabytes`` MiB, timed inside the sender): two instances the driver
   spawned on ports of one plug mode / two raw containers on hand-made
   veths on the same bridge, the shortest path to it.

Everything is on the userspace OVS bridge br-ml2 of tools/lib/ovs.sh,
addresses 192.168.78.0/24 that only the benchmark's containers hold.  The
LXD project, the instances and every host device are removed at the end,
also after an error or Ctrl-C.
"""
import collections
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid

from nova import context as nova_context
from nova.network import model as network_model

from benchmarks import handmade
from benchmarks import lib
from benchmarks import report
from benchmarks.lib import log
from nova_lxd.aio import conf as aio_conf
from nova_lxd.nova.virt.lxd import disks
from nova_lxd.tests import image_fakes

BRIDGE = 'br-ml2'
OVSDB = 'unix:/var/run/openvswitch/db.sock'
ADDRESS = '192.168.78.{}'
NC_PORT = 5001
MTU = 1500
TARGETS = {'spawn': 1.10, 'throughput': 0.90}


def ovs_vif(port_id, mac, hybrid):
    """A nova VIF bound as ``ovs`` on BRIDGE (userspace datapath)."""
    net = network_model.Network(id=str(uuid.uuid4()), bridge=BRIDGE,
                                label='bench', subnets=[],
                                meta={'mtu': MTU})
    return network_model.VIF(
        id=port_id, address=mac, network=net, type='ovs', active=True,
        devname=('tap' + port_id)[:network_model.NIC_NAME_LEN],
        ovs_interfaceid=port_id,
        details={'port_filter': not hybrid, 'ovs_hybrid_plug': hybrid,
                 'datapath_type': 'netdev', 'bridge_name': BRIDGE})


class Bench:
    """One benchmark run: set up, measure, clean up."""

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix='nova-lxd-bench-')
        lib.configure(args.project, self.tmp, args.pool)
        # os-vif and the driver plug through privsep daemons, as in
        # nova-compute.
        aio_conf.configure_os_vif(OVSDB)
        self.glance = image_fakes.ImageServiceFixture()
        self.context = nova_context.get_admin_context()
        self.serial = itertools.count(1)
        self.macs = itertools.count(1)
        self.samples = collections.defaultdict(list)
        self.project = self.driver = self.raw = self.meta = None
        self.fingerprint = self.quota = None
        self.spawned = {}  # driver instances: uuid -> (instance, nw info)
        self.handmade = set()  # port ids plugged by hand

    # -- set up / clean up ---------------------------------------------------
    def setup(self):
        self.driver, self.project = lib.driver_in_project(self.args.project)
        self.raw = self.project.client()
        path = os.path.join(self.args.cache, 'images', 'busybox-rootfs.tar.gz')
        self.meta = self.glance.add_file(path, name='bench busybox')
        with self.glance:
            self.driver._images.ensure_image(self.context, self.meta)
        self.fingerprint = self.driver._session.image_by_alias(self.meta.id)
        self.quota = disks.pool_features(
            self.driver._session.storage_pool(self.args.pool))[0]

    def close(self):
        for instance, network_info in list(self.spawned.values()):
            self._quietly(self.destroy, instance, network_info)
        for port_id in list(self.handmade):
            self._quietly(handmade.unplug, BRIDGE, port_id)
        if self.project is not None:
            log(f'deleting LXD project {self.project.name}')
            self._quietly(self.project.delete)
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def _quietly(fn, *args):
        try:
            fn(*args)
        except Exception:
            traceback.print_exc()

    # -- helpers -------------------------------------------------------------
    def measure(self, key, side, fn, *args):
        """Run fn; record its seconds under (key, side); return its result."""
        start = time.perf_counter()
        result = fn(*args)
        self.samples[key, side].append(time.perf_counter() - start)
        return result

    def forget(self, measured, side, *keys):
        if not measured:
            for key in keys:
                del self.samples[key, side][-1]

    def port(self):
        """A new port id and its MAC."""
        return str(uuid.uuid4()), 'fa:16:3e:78:%02x:%02x' % divmod(
            next(self.macs), 256)

    def spawn(self, vif):
        instance = lib.make_instance(next(self.serial), self.meta.id)
        network_info = network_model.NetworkInfo([vif])
        self.spawned[instance.uuid] = (instance, network_info)
        self.driver.spawn(self.context, instance, self.meta, [], None, {},
                          network_info)
        return instance

    def destroy(self, instance, network_info):
        self.driver.destroy(self.context, instance, network_info)
        self.spawned.pop(instance.uuid, None)

    def raw_spawn(self, port_id, mac, hybrid):
        plug = handmade.plug_hybrid if hybrid else handmade.plug_native
        self.handmade.add(port_id)
        nic = plug(BRIDGE, port_id, mac, str(uuid.uuid4()), MTU)
        definition = lib.raw_definition(
            next(self.serial), self.fingerprint, self.args.pool, self.quota)
        definition['devices']['eth0'] = dict(nic, name='eth0')
        return lib.raw_spawn(self.raw, definition)

    def raw_destroy(self, container, port_id):
        lib.raw_destroy(container)
        handmade.unplug(BRIDGE, port_id)
        self.handmade.discard(port_id)

    # -- 1: spawn with one port ---------------------------------------------
    def bench_spawn(self, hybrid):
        key = f'spawn {"hybrid" if hybrid else "native"}'
        log(f'{key}: {self.args.warmup} + {self.args.runs} rounds')

        def driver(measured):
            port_id, mac = self.port()
            vif = ovs_vif(port_id, mac, hybrid)
            instance = self.measure(key, 'driver', self.spawn, vif)
            self.destroy(instance, network_model.NetworkInfo([vif]))
            self.forget(measured, 'driver', key)

        def raw(measured):
            port_id, mac = self.port()
            container = self.measure(key, 'raw', self.raw_spawn, port_id,
                                     mac, hybrid)
            self.raw_destroy(container, port_id)
            self.forget(measured, 'raw', key)
        lib.rounds(self.args, [driver, raw])

    # -- 2: hot attach / detach ----------------------------------------------
    def bench_hotplug(self):
        log(f'attach/detach: {self.args.warmup} + {self.args.runs} rounds')
        instance = self.spawn(ovs_vif(*self.port(), hybrid=False))
        definition = lib.raw_definition(
            next(self.serial), self.fingerprint, self.args.pool, self.quota)
        container = lib.raw_spawn(self.raw, definition)

        def driver(measured):
            vif = ovs_vif(*self.port(), hybrid=False)
            self.measure('attach', 'driver', self.driver.attach_interface,
                         self.context, instance, self.meta, vif)
            self.measure('detach', 'driver', self.driver.detach_interface,
                         self.context, instance, vif)
            self.forget(measured, 'driver', 'attach', 'detach')

        def raw(measured):
            port_id, mac = self.port()
            self.measure('attach', 'raw', self.raw_attach, container,
                         port_id, mac)
            self.measure('detach', 'raw', self.raw_detach, container,
                         port_id)
            self.forget(measured, 'raw', 'attach', 'detach')
        lib.rounds(self.args, [driver, raw])
        self.destroy(instance, self.spawned[instance.uuid][1])
        lib.raw_destroy(container)

    def raw_attach(self, container, port_id, mac):
        self.handmade.add(port_id)
        nic = handmade.plug_native(BRIDGE, port_id, mac, str(uuid.uuid4()),
                                   MTU)
        container.sync()  # a PUT of stale config would drop volatile keys
        container.devices['eth1'] = dict(nic, name='eth1')
        container.save(wait=True)

    def raw_detach(self, container, port_id):
        container.sync()  # LXD keeps the nic's host link in volatile keys
        del container.devices['eth1']
        container.save(wait=True)
        handmade.unplug(BRIDGE, port_id)
        self.handmade.discard(port_id)

    # -- 3: throughput -------------------------------------------------------
    def bench_throughput(self):
        pairs = {}
        hosts = itertools.count(11)
        for mode in ('native', 'hybrid'):
            pairs[f'driver {mode}'] = [
                self._driver_guest(mode == 'hybrid', next(hosts))
                for _ in range(2)]
        pairs['raw'] = [self._raw_guest(False, next(hosts))
                        for _ in range(2)]
        pairs['raw hybrid'] = [self._raw_guest(True, next(hosts))
                               for _ in range(2)]
        log(f'throughput: {self.args.warmup} + {self.args.runs} rounds of '
            f'{self.args.megabytes} MiB per path')

        def side(name):
            def run(measured):
                mib_s = self.transfer(*pairs[name])
                self.samples['throughput', name].append(mib_s)
                self.forget(measured, name, 'throughput')
            return run
        lib.rounds(self.args, [side(name) for name in pairs])

    def _driver_guest(self, hybrid, host):
        instance = self.spawn(ovs_vif(*self.port(), hybrid=hybrid))
        guest = self.raw.instances.get(instance.name)
        return self._address(guest, host)

    def _raw_guest(self, hybrid, host):
        return self._address(self.raw_spawn(*self.port(), hybrid=hybrid),
                             host)

    @staticmethod
    def _address(guest, host):
        address = ADDRESS.format(host)
        lib.run_in(guest, 'sh', '-c', f'ip link set eth0 up && ip addr add '
                   f'{address}/24 dev eth0')
        return guest, address

    def transfer(self, sender, receiver):
        """Send --megabytes MiB with nc; return MiB/s as the sender saw it
        (its /proc/uptime before and after, 10 ms resolution).

        :raises RuntimeError: the receiver did not get every byte.
        """
        (src, _), (dst, dst_address) = sender, receiver
        received = []
        # The listener's stdin must never reach EOF (nc would close the
        # connection): a FIFO it holds open itself.
        listener = threading.Thread(target=lambda: received.append(lib.run_in(
            dst, 'sh', '-c', f'[ -p /tmp/idle ] || mkfifo /tmp/idle; '
            f'exec 3<>/tmp/idle; nc -l -p {NC_PORT} <&3 | wc -c')))
        listener.start()
        lib.wait_listening(dst, NC_PORT)
        count = self.args.megabytes * 16  # blocks of 64 KiB
        out = lib.run_in(src, 'sh', '-c', (
            'read s x < /proc/uptime; dd if=/dev/zero bs=64k count='
            f'{count} 2>/dev/null | nc {dst_address} {NC_PORT}; '
            'read e x < /proc/uptime; echo $s $e'))
        listener.join(timeout=60)
        if received != [f'{count * 65536}\n']:
            raise RuntimeError(f'{dst.name} received {received} bytes of '
                               f'{count * 65536}')
        start, end = (float(v) for v in out.split())
        return self.args.megabytes / max(end - start, 0.01)

    # -- the run -------------------------------------------------------------
    def run(self):
        self.setup()
        for hybrid in (True, False):
            self.bench_spawn(hybrid)
        self.bench_hotplug()
        self.bench_throughput()


def throughput_rows(samples):
    """driver/raw MiB/s rows (higher is better): each plug mode against
    the hand-made veths (the target), and hybrid against the same hybrid
    devices made by hand (information: what the topology itself costs)."""
    def median(side):
        return statistics.median(samples['throughput', side])
    target = TARGETS['throughput']
    rows = []
    for mode, raw_side in (('native', 'raw'), ('hybrid', 'raw'),
                           ('hybrid', 'raw hybrid')):
        driver, raw = median(f'driver {mode}'), median(raw_side)
        ratio = driver / raw
        if raw_side == 'raw':
            metric = f'TCP throughput ({mode})'
            goal = f'>= {target:.2f}'
            verdict = 'PASS' if ratio >= target else 'MISS'
        else:
            metric, goal, verdict = 'TCP hybrid / hybrid by hand', 'info', '-'
        rows.append((metric, f'{driver:.0f} MiB/s', f'{raw:.0f} MiB/s',
                     f'{ratio:.3f}', goal, verdict))
    return rows


def render(bench):
    """All lines to print after a successful run."""
    samples = bench.samples
    rows = [report.timed_row(f'spawn, {m} ovs port', samples, f'spawn {m}',
                             TARGETS['spawn']) for m in ('hybrid', 'native')]
    for key in ('attach', 'detach'):
        row = report.timed_row(f'hot {key} (native)', samples, key, 1)
        rows.append(row[:4] + ('info', '-'))
    rows += throughput_rows(samples)
    lines = report.table(rows) + ['', 'Details:']
    keys = ['spawn hybrid', 'spawn native', 'attach', 'detach']
    lines += [report.spread(samples, key) for key in keys]
    for name in ('driver native', 'driver hybrid', 'raw', 'raw hybrid'):
        values = sorted(samples['throughput', name])
        lines.append(f'  throughput {name} (min/median/max MiB/s, '
                     f'n={len(values)}): {values[0]:.0f}/'
                     f'{statistics.median(values):.0f}/{values[-1]:.0f}')
    return lines


def parse_args(argv):
    parser = lib.arg_parser(
        'tools/bench network', "LXDDriver's OVS ports against the same "
        'nics made by hand', 'holds images/busybox-rootfs.tar.gz')
    parser.add_argument('--megabytes', type=int, default=128,
                        help='MiB per throughput transfer (default 128)')
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.megabytes < 1:
        parser.error('need --runs >= 1, --warmup >= 0, --megabytes >= 1')
    return args


def main(argv=None):
    """Run, clean up, print; 0, or 1 on an error, 130 if interrupted."""
    return lib.main(Bench(parse_args(argv)), render)


if __name__ == '__main__':
    sys.exit(main())
