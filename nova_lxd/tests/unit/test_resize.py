"""resize.py's pure parts: what a resize refuses, and the config and
devices that move a container from one flavor to another."""
import fixtures
from nova.compute import task_states
from nova import exception
from nova.network import model as network_model
from nova import objects
import testtools

from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import resize
from nova_lxd.tests.unit import test_vif

GIB = 1024 ** 3
SPACE = {'used': 2 * GIB, 'total': 10 * GIB}


def flavor(vcpus=1, memory_mb=256, root_gb=1, ephemeral_gb=0, **specs):
    return objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, root_gb=root_gb,
                          ephemeral_gb=ephemeral_gb, swap=0,
                          extra_specs=specs)


def instance(current):
    return objects.Instance(uuid='6c5c9f4e-3d3a-4a4e-9a43-0d2f7a1b2c3d',
                            id=1, hostname='vm', flavor=current)


class CheckResizeTest(testtools.TestCase):

    def check(self, old, new, pool_driver='btrfs', network_info=()):
        resize.check_resize(old, new, instance(old),
                            network_model.NetworkInfo(network_info),
                            'p1', pool_driver, SPACE)

    def refusal(self, old, new, pool_driver='btrfs', network_info=()):
        error = self.assertRaises(exception.InstanceFaultRollback,
                                  self.check, old, new, pool_driver,
                                  network_info)
        self.assertIsInstance(error.inner_exception, exception.ResizeError)
        return str(error.inner_exception)

    def test_grow_within_the_pool(self):
        self.check(flavor(root_gb=1), flavor(vcpus=2, root_gb=9))

    def test_root_shrink_refused(self):
        self.assertIn('root disk cannot shrink (5 GiB -> 2 GiB)',
                      self.refusal(flavor(root_gb=5), flavor(root_gb=2)))

    def test_quota_to_no_quota_is_growth(self):
        self.check(flavor(root_gb=5), flavor(root_gb=0))

    def test_ephemeral_change_refused(self):
        self.assertIn('ephemeral disks keep their size',
                      self.refusal(flavor(ephemeral_gb=1),
                                   flavor(ephemeral_gb=2)))

    def test_growth_past_free_space_refused(self):
        self.assertIn('storage pool p1 has 8 GiB free, the root disk would '
                      'grow by 9 GiB',
                      self.refusal(flavor(root_gb=1), flavor(root_gb=10)))

    def test_dir_pool_has_no_quota_to_check(self):
        self.check(flavor(root_gb=1), flavor(root_gb=100), 'dir')

    def test_malformed_new_extra_spec(self):
        # Rolled back: nova leaves the instance ACTIVE, not in ERROR.
        self.assertIn("quota:cpu_quota='many'", self.refusal(
            flavor(), flavor(**{'quota:cpu_quota': 'many'})))

    def test_new_extra_spec_not_permitted_here(self):
        self.assertIn('[lxd] allowed_security_options', self.refusal(
            flavor(), flavor(**{'lxd:security.privileged': 'true'})))

    def test_change_of_profiles_refused(self):
        # Whatever this host permits now: the old flavor was permitted.
        self.assertIn("different LXD profiles (lxd:profiles): ['hpc'] -> []",
                      self.refusal(flavor(**{'lxd:profiles': 'hpc'}),
                                   flavor()))

    def test_bandwidth_on_native_ovs_port_refused(self):
        vif = test_vif._ovs(hybrid=False)
        self.assertIn('quota:vif_inbound_average', self.refusal(
            flavor(), flavor(**{'quota:vif_inbound_average': '100'}),
            network_info=[vif]))


class FlavorUpdateTest(testtools.TestCase):

    def test_config_update_unsets_what_only_the_old_flavor_set(self):
        old = flavor(**{'quota:cpu_quota': '50000'})
        new = flavor(vcpus=4, memory_mb=1024)
        update = resize.flavor_config_update(instance(new), old, new)
        self.assertEqual('4', update['limits.cpu'])
        self.assertEqual('1024MiB', update['limits.memory'])
        self.assertEqual('', update['limits.cpu.allowance'])
        self.assertEqual(instance(new).uuid, update[definition.UUID_KEY])

    def test_devices_root_and_nic_limits(self):
        new = flavor(root_gb=3, **{'quota:vif_inbound_average': '128',
                                   'quota:disk_read_iops_sec': '100'})
        current = {
            'eth1': {'type': 'nic', 'nictype': 'routed', 'name': 'eth1',
                     'limits.egress': '8kbit'},
            'eth0': {'type': 'nic', 'nictype': 'physical', 'name': 'eth0'},
            'root': {'type': 'disk', 'path': '/', 'pool': 'p1'}}
        devices = resize.flavor_devices(instance(new), 'p1', 'btrfs',
                                        current)
        self.assertEqual({
            'eth1': {'type': 'nic', 'nictype': 'routed', 'name': 'eth1',
                     'limits.ingress': '1024kbit'},
            'root': {'type': 'disk', 'path': '/', 'pool': 'p1',
                     'size': '3GiB', 'limits.read': '100iops'}}, devices)

    def test_unchanged_nics_are_not_rewritten(self):
        current = {'eth0': {'type': 'nic', 'nictype': 'routed'}}
        devices = resize.flavor_devices(instance(flavor()), 'p1', 'dir',
                                        current)
        self.assertEqual(['root'], list(devices))


class RevertOnSameHostTest(testtools.TestCase):
    """Reads the migration record: a fake of nova's Migration lookup."""

    def revert(self, task_state, source, dest):
        inst = instance(flavor())
        inst.task_state = task_state
        inst.migration_context = objects.MigrationContext(migration_id=7)
        migration = objects.Migration(id=7, source_compute=source,
                                      dest_compute=dest)
        lookups = []

        def lookup(context, migration_id, instance_uuid):
            lookups.append((migration_id, instance_uuid))
            return migration
        self.useFixture(fixtures.MockPatch(
            'nova.objects.Migration.get_by_id_and_instance', lookup))
        return resize.reverting_on_same_host('ctx', inst), lookups

    def test_same_host_revert(self):
        same, lookups = self.revert(task_states.RESIZE_REVERTING, 'h', 'h')
        self.assertTrue(same)
        self.assertEqual([(7, instance(flavor()).uuid)], lookups)

    def test_other_host(self):
        self.assertFalse(self.revert(task_states.RESIZE_REVERTING,
                                     'h1', 'h2')[0])

    def test_other_task_reads_nothing(self):
        self.assertEqual((False, []),
                         self.revert(task_states.DELETING, 'h', 'h'))
