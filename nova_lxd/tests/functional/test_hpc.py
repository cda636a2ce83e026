"""HPC knobs through nova's API on real containers: nesting, host devices,
kernel modules, the operator's policy and its refusals (busybox image)."""
import json
import os
import time

from nova import context as nova_context
from nova import objects
from nova.tests.functional.api import client as api_client
import pylxd

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import instance_files
from nova_lxd.tests.functional import base

FUSE_SET = {'name': 'fuse', 'devices': {
    'fuse': {'type': 'unix-char', 'source': '/dev/fuse'}}}
# A GPU by PCI address: this host has none (LXD: "Failed to detect
# requested GPU device").
GPU_SET = {'name': 'gpu', 'devices': {
    'gpu0': {'type': 'gpu', 'gputype': 'physical', 'pci': '0000:00:02.0'}}}
# What a nested container runtime does first: new user, mount, pid and net
# namespaces with a /proc and /sys of their own.  LXD refuses the mounts
# without security.nesting.
NESTED = ("unshare -U -r -m -p -n -f --mount-proc sh -c "
          "'mount -t sysfs sys /sys && echo nested-pid-$$'")


class HPCTest(base.LXDTestCase):

    def _setup_compute_service(self):
        self.flags(host_device_set=[json.dumps(FUSE_SET),
                                    json.dumps(GPU_SET)],
                   allowed_kernel_modules=['overlay', 'fuse'],
                   group='lxd')
        return super()._setup_compute_service()

    def setUp(self):
        super().setUp()
        self.image_id = self.register_image()

    def boot(self, extra_specs, expected_state='ACTIVE'):
        flavor_id = self.create_flavor_with(extra_specs=extra_specs)
        return self._create_server(
            image_uuid=self.image_id, flavor_id=flavor_id,
            networks=[{'port': self.create_tap_port()['id']}],
            expected_state=expected_state)

    def test_nested_container_starts_with_nesting_only(self):
        nested = self.boot({'lxd:security.nesting': 'true'})
        plain = self.boot({'lxd:security.nesting': 'false'})
        self.assertEqual('true',
                         self.container(nested).config['security.nesting'])
        self.assertIn('nested-pid-1',
                      self.guest_run(nested, 'sh', '-c', NESTED))
        result = base.execute(self.container(plain), ['sh', '-c', NESTED])
        self.assertNotEqual(0, result.exit_code)
        self.assertIn('Operation not permitted', result.stderr)

    def test_host_device_set_and_kernel_modules(self):
        server = self.boot({'lxd:host_devices': 'fuse',
                            'lxd:linux.kernel_modules': 'overlay,fuse'})
        inst = self.container(server)
        self.assertEqual({'type': 'unix-char', 'source': '/dev/fuse'},
                         inst.devices['hostdev-fuse-fuse'])
        self.assertEqual('overlay,fuse', inst.config['linux.kernel_modules'])
        self.assertEqual('false', inst.config['security.privileged'])
        # The host's character device 10:229 (hex a:e5).
        self.assertEqual('character special file a e5', self.guest_run(
            server, 'stat', '-c', '%F %t %T', '/dev/fuse').strip())

    def test_refused_before_anything_is_created(self):
        writes = self.record_writes()
        for specs, text in (
                ({'lxd:security.privileged': 'true'},
                 '[lxd] allowed_security_options'),
                ({'lxd:host_devices': 'kvm'},
                 'device sets kvm not permitted (permitted: fuse, gpu)'),
                ({'lxd:linux.kernel_modules': 'nbd'},
                 'kernel modules nbd not permitted'),
                ({'lxd:raw.lxc': 'lxc.apparmor.profile = unconfined'},
                 '[lxd] allowed_config_keys'),
                # (A TPM or memory encryption never gets here: nova's
                # scheduler wants traits this host does not report.)
                ({'hw:watchdog_action': 'reset'},
                 'hw:watchdog_action=reset')):
            server = self.boot(specs, expected_state='ERROR')
            self.assertIn(text, server['fault']['message'], specs)
        self.assertEqual([], [w for w in writes if w.startswith('POST')])
        self.assertEqual([], self.lxd.instances.all())

    def test_api_rejects_malformed_lxd_specs(self):
        flavor_id = self.create_flavor_with()
        for specs in ({'lxd:security.privileged': 'maybe'},
                      {'lxd:limits.cpu': '2'},
                      {'lxd:host_devices': 'a b'}):
            e = self.assertRaises(
                api_client.OpenStackApiException,
                self.admin_api.post_extra_spec, flavor_id,
                {'extra_specs': specs})
            self.assertEqual(400, e.response.status_code, specs)

    def test_gpu_less_host_fails_and_leaves_nothing(self):
        self.flags(max_attempts=1, group='scheduler')
        server = self.boot({'lxd:host_devices': 'gpu'},
                           expected_state='ERROR')
        # Without a retry nova reports the driver's error as it is.
        self.assertIn('Failed to detect requested GPU device',
                      server['fault']['message'])
        self.assertEqual([], self.lxd.instances.all())
        self.assertEqual(['default'],
                         [p.name for p in self.lxd.profiles.all()])


class _NUMAComputeTest(base.LXDTestCase):
    """[compute] cpu_dedicated_set=1, cpu_shared_set=0 on this 2-CPU host;
    the virtio PCI devices in [pci] device_spec."""

    def _setup_compute_service(self):
        self.flags(cpu_dedicated_set='1', cpu_shared_set='0',
                   group='compute')
        self.flags(device_spec=[json.dumps({'vendor_id': '1af4'})],
                   group='pci')
        return super()._setup_compute_service()

    def setUp(self):
        super().setUp()
        self.image_id = self.register_image()

    def boot(self, extra_specs, vcpus=1, memory_mb=256):
        flavor_id = self.create_flavor_with(
            vcpus=vcpus, memory_mb=memory_mb, extra_specs=extra_specs)
        return self._create_server(
            image_uuid=self.image_id, flavor_id=flavor_id,
            networks=[{'port': self.create_tap_port()['id']}])

    def allowed_cpus(self, server):
        status = self.guest_run(server, 'cat', '/proc/1/status')
        line = [x for x in status.splitlines()
                if x.startswith('Cpus_allowed_list')][0]
        return line.split()[1], self.guest_run(server, 'nproc').strip()


class PinningTest(_NUMAComputeTest):

    def test_pinned_and_shared_instances(self):
        rp = self._get_provider_uuid_by_host(self.compute.host)
        inventory = self._get_provider_inventory(rp)
        self.assertEqual((1, 1, 1.0), (inventory['PCPU']['total'],
                                       inventory['VCPU']['total'],
                                       inventory['PCPU']['allocation_ratio']))
        pinned = self.boot({'hw:cpu_policy': 'dedicated'})
        self.assertEqual('1-1', self.container(pinned).config['limits.cpu'])
        self.assertEqual(('1', '1'), self.allowed_cpus(pinned))
        self.assertEqual({'PCPU': 1},
                         {k: v for k, v in self._get_provider_usages(
                             rp).items() if k.endswith('CPU') and v})
        shared = self.boot({})
        config = self.container(shared).config
        self.assertEqual(('0-0', '100ms/100ms'),
                         (config['limits.cpu'],
                          config['limits.cpu.allowance']))
        self.assertEqual(('0', '1'), self.allowed_cpus(shared))

    def test_pci_devices_reported_to_nova(self):
        ctxt = nova_context.get_admin_context()
        node = objects.ComputeNode.get_by_nodename(ctxt, self.compute.host)
        tracked = objects.PciDeviceList.get_by_compute_node(ctxt, node.id)
        expected = sorted(
            d['pci_address'] for d in
            self.lxd.api.resources.get().json()['metadata']['pci']['devices']
            if d['vendor_id'] == '1af4')
        self.assertNotEqual([], expected)
        self.assertEqual(expected, sorted(d.address for d in tracked))
        self.assertEqual({'available'}, {d.status for d in tracked})


class HugePagesTest(_NUMAComputeTest):
    """The only test that changes the host's huge page pool: a second test
    doing so in another worker would restore its own reading of
    nr_hugepages under this one (seen: the claim found no huge pages)."""

    HUGE_PAGES = 64  # 2 MiB pages the test reserves on the host

    def _setup_compute_service(self):
        self.huge_pages = self._reserve_huge_pages()
        return super()._setup_compute_service()

    def _reserve_huge_pages(self):
        """:returns: why the pages could not be reserved, or None."""
        path = '/proc/sys/vm/nr_hugepages'
        with open(path) as f:
            before = int(f.read())
        try:
            self._write(path, str(max(before, self.HUGE_PAGES)))
        except OSError as e:
            return f'cannot reserve huge pages: {e}'
        self.addCleanup(self._write, path, str(before))
        with open(path) as f:
            # The kernel gives fewer when memory is too fragmented.
            got = int(f.read())
        if got < self.HUGE_PAGES:
            return (f'the kernel reserved {got} of {self.HUGE_PAGES} huge '
                    f'pages (memory fragmented)')
        return self._daemon_sees(got)

    def _daemon_sees(self, pages):
        """None once the daemon reports ``pages`` huge pages, else why."""
        resources = pylxd.Client().api.resources
        for _ in range(20):
            memory = resources.get().json()['metadata']['memory']
            seen = (memory.get('hugepages_total') or 0) // max(
                memory.get('hugepages_size') or 1, 1)
            if seen >= pages:
                return None
            time.sleep(0.5)
        return (f'the daemon reports {seen} of the {pages} huge pages '
                f'reserved: Incus reads them when it starts (tools/lib/'
                f'incus.sh --huge-pages {pages} restarts it with them)')

    @staticmethod
    def _write(path, text):
        with open(path, 'w') as f:
            f.write(text)

    def test_huge_pages(self):
        if self.huge_pages:
            base.missing_prerequisite(self.huge_pages)
        if not os.path.ismount('/sys/fs/cgroup/hugetlb') and \
                not os.path.exists('/sys/fs/cgroup/cgroup.controllers'):
            base.missing_prerequisite('no hugetlb cgroup controller; run '
                                      'tools/lib/host-setup.sh')
        server = self.boot({'hw:mem_page_size': '2MB'}, memory_mb=64)
        inst = self.container(server)
        self.assertEqual('64MiB', inst.config['limits.hugepages.2MB'])
        # LXD names a project's containers <project>_<name> on the host.
        limit = (f'/sys/fs/cgroup/hugetlb/lxc.payload.{self.project.name}_'
                 f'{inst.name}/hugetlb.2MB.limit_in_bytes')
        base.allow_host_reads(self)
        with open(limit) as f:
            self.assertEqual(64 * 1024 * 1024, int(f.read()))


class GPURollbackTest(base.DriverTestCase):
    """What the driver itself does with devices the host cannot give."""

    def setUp(self):
        super().setUp()
        self.flags(host_device_set=[json.dumps(GPU_SET)], group='lxd')

    def test_gpu_on_a_gpu_less_host_is_rolled_back(self):
        inst = self.instance(extra_specs={'lxd:host_devices': 'gpu'})
        requests = self.record_requests()
        e = self.assertRaises(lxd_exception.LXDRequestFailed, self.spawn,
                              inst)
        self.assertIn('Failed to detect requested GPU device', str(e))
        # Created, refused at start, then deleted by the driver itself.
        self.assertIn('POST /1.0/instances', requests)
        self.assertIn(f'DELETE /1.0/instances/{inst.name}', requests)
        self.assertEqual([], self.project.names())
        self.assertFalse(os.path.exists(instance_files.instance_dir(inst)))

    def test_claimed_pci_device_that_is_no_gpu_creates_nothing(self):
        inst = self.instance()
        inst.pci_requests = objects.InstancePCIRequests(requests=[
            objects.InstancePCIRequest(
                request_id=None, count=1, alias_name='virtio-blk',
                spec=[{'vendor_id': '1af4'}])])
        inst.pci_devices = objects.PciDeviceList(objects=[objects.PciDevice(
            address='0000:00:02.0', vendor_id='1af4', product_id='1042',
            dev_type='type-PCI', request_id=None)])
        requests = self.record_requests()
        e = self.assertRaises(lxd_exception.UnsupportedPCIDevice, self.spawn,
                              inst)
        self.assertIn('0000:00:02.0 (1af4:1042)', str(e))
        self.assertEqual([], [r for r in requests if not r.startswith('GET')])
        self.assertEqual([], self.project.names())
