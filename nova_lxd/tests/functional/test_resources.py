"""HostResources against the real LXD daemon of this host.

Each test makes its own LXD project (as ``init_host`` would: own images,
profiles and volumes) and its own ``dir`` storage pool in a fresh directory,
points ``[lxd] project`` / ``[lxd] pool`` at them, and deletes all of it
afterwards.  Skipped when no LXD socket is found (a failure on CI).

Other test workers write to the same filesystem meanwhile (image imports),
so disk figures are compared with statvfs readings taken just before and
just after LXD's, never with one reading at another moment.
"""
import os
import shutil
import tempfile

from nova.compute import provider_tree
import os_resource_classes as orc
from oslo_config import fixture as config_fixture
from oslo_utils import units
from oslo_utils import uuidutils
from oslotest import base
import pylxd

from nova_lxd.nova.virt.lxd import endpoints
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import host_info
from nova_lxd.nova.virt.lxd import resources
from nova_lxd.nova.virt.lxd import session as lxd_session
from nova_lxd.tests.functional import base as ft_base

NODE = 'functional-node'


def _proc_cpus():
    """CPU threads listed in /proc/cpuinfo."""
    with open('/proc/cpuinfo') as f:
        return sum(1 for line in f if line.startswith('processor'))


def _proc_mem_mib():
    """MemTotal of /proc/meminfo in MiB (rounded down)."""
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                return int(line.split()[1]) // 1024
    raise AssertionError('no MemTotal in /proc/meminfo')


class TestHostResourcesOnLXD(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        try:
            endpoint, _ = endpoints.find_endpoint('')
        except lxd_exception.LXDUnreachable as e:
            ft_base.missing_prerequisite(f'no LXD daemon: {e}')
        admin = pylxd.Client(endpoint=endpoint, timeout=60)
        name = f'nlxd-res-{uuidutils.generate_uuid()[:8]}'
        self.project = self.pool = name

        self.pool_dir = tempfile.mkdtemp(prefix=f'{name}-', dir='/var/tmp')
        self.addCleanup(shutil.rmtree, self.pool_dir, ignore_errors=True)
        admin.api.storage_pools.post(json={
            'name': self.pool, 'driver': 'dir',
            'config': {'source': self.pool_dir}})
        self.addCleanup(admin.api.storage_pools[self.pool].delete)
        admin.projects.create(
            self.project, description='nova-lxd functional test (resources)',
            config=lxd_session.PROJECT_CONFIG)
        self.addCleanup(admin.api.projects[self.project].delete)

        conf = self.useFixture(config_fixture.Config(resources.CONF))
        conf.config(project=self.project, pool=self.pool, group='lxd')
        self.session = lxd_session.LXDSession()
        self.addCleanup(self._delete_instances)
        # Connecting costs one GET /1.0 of its own, once per process.
        self.http = self.session.client.api.session
        self.requests = []
        self.http.hooks['response'].append(self._count)

    def _count(self, response, *args, **kwargs):
        self.requests.append(f'{response.request.method} {response.url}')

    def _delete_instances(self):
        for inst in self.session.list_instances():
            self.session.delete_instance(inst['name'])

    def _add_instances(self, count):
        """Stopped, empty containers (no image needed) with a CPU limit."""
        have = len(self.session.list_instances())
        for i in range(have, count):
            self.session.create_instance({
                'name': f'res-{i}',
                'source': {'type': 'none'},
                'config': {'limits.cpu': '1', 'limits.memory': '64MiB'},
                'devices': {'root': {'type': 'disk', 'path': '/',
                                     'pool': self.pool}},
            })

    def _periodic(self):
        """available_resource + update_provider_tree as the tracker calls
        them; returns (requests made, resource dict, inventory)."""
        host = resources.HostResources(self.session)
        tree = provider_tree.ProviderTree()
        tree.new_root(NODE, uuidutils.generate_uuid())
        del self.requests[:]
        res = host.available_resource(NODE)
        host.update_provider_tree(tree, NODE)
        return list(self.requests), res, tree.data(NODE).inventory

    def test_request_count_does_not_grow_with_instances(self):
        counts = {}
        for n in (1, 8):
            self._add_instances(n)
            self.assertEqual(n, len(self.session.list_instances()))
            made, res, _ = self._periodic()
            counts[n] = len(made)
            self.assertEqual(0, res['vcpus_used'])  # all stopped
        self.assertEqual(counts[1], counts[8], counts)
        self.assertLessEqual(counts[1], 4, made)

    def test_totals_match_the_host(self):
        before = os.statvfs(self.pool_dir)
        made, res, inv = self._periodic()
        stat = os.statvfs(self.pool_dir)

        self.assertEqual(_proc_cpus(), inv[orc.VCPU]['total'])
        self.assertEqual(_proc_cpus(), res['vcpus'])

        # LXD counts installed memory (memory blocks in sysfs); MemTotal
        # leaves out what the kernel keeps for itself, so it is a bit less.
        mem_total = _proc_mem_mib()
        self.assertEqual(res['memory_mb'], inv[orc.MEMORY_MB]['total'])
        self.assertGreaterEqual(res['memory_mb'], mem_total)
        self.assertLessEqual(res['memory_mb'], mem_total * 1.25)
        self.assertLess(0, res['memory_mb_used'])
        self.assertLess(res['memory_mb_used'], res['memory_mb'])

        disk_total = stat.f_blocks * stat.f_frsize // units.Gi
        used = sorted((s.f_blocks - s.f_bfree) * s.f_frsize
                      for s in (before, stat))
        self.assertEqual(disk_total, inv[orc.DISK_GB]['total'])
        self.assertEqual(disk_total, res['local_gb'])
        # LXD read the usage between the two statvfs readings.
        self.assertGreaterEqual(res['local_gb_used'],
                                resources.floor_gib(used[0]))
        self.assertLessEqual(res['local_gb_used'],
                             resources.ceil_gib(used[1]))
        self.assertLessEqual(res['disk_available_least'],
                             disk_total - res['local_gb_used'] + 1)

        server = self.session.server_info()['environment']
        self.assertEqual('lxd', res['hypervisor_type'])
        self.assertEqual(
            host_info.hypervisor_version(server['server_version']),
            res['hypervisor_version'])
        self.assertIn((os.uname().machine, 'lxd', 'exe'),
                      res['supported_instances'])
        for rc in (orc.VCPU, orc.MEMORY_MB, orc.DISK_GB):
            self.assertEqual(inv[rc]['total'], inv[rc]['max_unit'])
