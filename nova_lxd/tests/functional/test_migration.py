"""Cold migration between two LXD daemons on this host (the second is
tools/lib/lxd2.sh's: /var/lib/lxd2, https on 127.0.0.1:8444): two
LXDDriver objects, as the source's and the destination's nova-compute
would run them, driven through nova's resize calls."""

from cryptography.hazmat.primitives import hashes
from cryptography import x509
import fixtures
from nova import exception
from nova.network import model as network_model
from nova import objects

from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.tests.functional import base
from nova_lxd.tests.functional import network
from nova_lxd.tests.functional import ovs
from nova_lxd.tests.functional import test_init_host

LXD2_SOCKET = '/var/lib/lxd2/unix.socket'


class TwoDaemonsMigrationTest(base.DriverTestCase):
    """Source: the local daemon (the test's project); destination: the
    second daemon, same project name and pool name."""

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.cert, self.key, self.pem = (
            test_init_host.write_client_certificate(tmp))
        self.flags(migration_client_cert=self.cert,
                   migration_client_key=self.key, group='lxd')
        self.target, self.dest = base.on_second_daemon(self, 'compute2')

    def trust_destination(self):
        """The source daemon trusts the destination's certificate."""
        admin = self.project.admin
        admin.certificates.create(password='', cert_data=self.pem,
                                  name='nova-lxd-migration-test')
        fingerprint = x509.load_pem_x509_certificate(self.pem).fingerprint(
            hashes.SHA256()).hex()
        self.addCleanup(admin.api.certificates[fingerprint].delete)

    def resize_away(self, inst, vcpus=2):
        """migrate_disk_and_power_off on the source with a new flavor;
        returns (disk_info, migration)."""
        new = objects.Flavor(vcpus=vcpus, memory_mb=128, root_gb=0,
                             ephemeral_gb=inst.flavor.ephemeral_gb, swap=0,
                             extra_specs={})
        info = self.driver.migrate_disk_and_power_off(
            self.context, inst, '192.0.2.2', new,
            network_model.NetworkInfo([]))
        inst.old_flavor, inst.new_flavor = inst.flavor, new
        inst.flavor = new
        return info, objects.Migration(source_compute='compute',
                                       dest_compute='compute2')

    def finish(self, inst, info, migration):
        self.dest.finish_migration(
            self.context, migration, inst, info,
            network_model.NetworkInfo([]), self.image_meta, True, {})

    def target_container(self, inst):
        return self.target.client.instances.get(inst.name)

    def test_migrate_keeps_data_takes_new_flavor_then_confirm(self):
        self.trust_destination()
        inst = self.instance()
        self.spawn(inst)
        base.execute(self.container(inst),
                     ['sh', '-c', 'echo moved > /root/marker; sync'])
        source_config = self.container(inst).config
        info, migration = self.resize_away(inst)
        self.finish(inst, info, migration)
        moved = self.target_container(inst)
        self.assertEqual('Running', moved.status)
        self.assertEqual('2', moved.config['limits.cpu'])
        # What LXD knows of the root filesystem came along (the transfer
        # is a delta against the image; files are not shifted again).
        for key in ('volatile.base_image', 'volatile.last_state.idmap'):
            self.assertEqual(source_config[key], moved.config[key], key)
        self.assertEqual(inst.uuid, self.dest.list_instance_uuids()[0])
        out = base.execute(moved, ['cat', '/root/marker'])
        self.assertEqual('moved\n', out.stdout)
        # The source keeps its (stopped) container until confirmation.
        self.assertEqual('Stopped', self.container(inst).status)
        self.driver.confirm_migration(self.context, migration, inst, [])
        self.assertEqual([], self.project.names())
        self.assertEqual([inst.name], self.target.names())

    def test_revert_returns_to_the_source(self):
        self.trust_destination()
        inst = self.instance()
        self.spawn(inst)
        info, migration = self.resize_away(inst)
        self.finish(inst, info, migration)
        self.dest.destroy(self.context, inst, [])
        inst.flavor = inst.old_flavor
        self.driver.finish_revert_migration(self.context, inst, [],
                                            migration)
        self.assertEqual([], self.target.names())
        self.assertEqual('Running', self.container(inst).status)
        self.assertEqual('1', self.container(inst).config['limits.cpu'])

    def test_untrusted_destination_refused_nothing_made(self):
        inst = self.instance()
        self.spawn(inst)
        info, migration = self.resize_away(inst)
        error = self.assertRaises(exception.MigrationError, self.finish,
                                  inst, info, migration)
        self.assertIn('https://127.0.0.1:8443', str(error))
        self.assertIn('migration_client_cert', str(error))
        self.assertEqual([], self.target.names())
        self.assertEqual([inst.name], self.project.names())

    def volumes(self, project):
        return sorted(url.rsplit('/', 1)[-1].split('?')[0] for url in
                      project.client.api.storage_pools['default'].volumes
                      .custom.get().json()['metadata'])

    def test_ephemeral_disk_moves_with_its_data(self):
        self.trust_destination()
        inst = self.instance()
        inst.flavor.ephemeral_gb = 1
        self.spawn(inst)
        volume = f'{inst.name}-ephemeral0'
        base.execute(self.container(inst),
                     ['sh', '-c', 'echo kept > /mnt/marker; sync'])
        info, migration = self.resize_away(inst)
        self.finish(inst, info, migration)
        self.assertEqual([volume], self.volumes(self.target))
        out = base.execute(self.target_container(inst), ['cat', '/mnt/marker'])
        self.assertEqual('kept\n', out.stdout)
        # The source keeps its copy until confirmation, then deletes it.
        self.assertEqual([volume], self.volumes(self.project))
        self.driver.confirm_migration(self.context, migration, inst, [])
        self.assertEqual([], self.volumes(self.project))

    def test_ephemeral_disk_refused_pull_leaves_nothing(self):
        inst = self.instance()
        inst.flavor.ephemeral_gb = 1
        self.spawn(inst)
        info, migration = self.resize_away(inst)
        self.assertRaises(exception.MigrationError, self.finish, inst, info,
                          migration)
        self.assertEqual(([], []), (self.target.names(),
                                    self.volumes(self.target)))
        self.assertEqual([f'{inst.name}-ephemeral0'],
                         self.volumes(self.project))

    def test_failed_container_pull_removes_the_pulled_volumes(self):
        self.trust_destination()
        inst = self.instance()
        inst.flavor.ephemeral_gb = 1
        self.spawn(inst)
        info, migration = self.resize_away(inst)
        self.useFixture(fixtures.MockPatchObject(
            self.dest._session, 'pull_instance',
            side_effect=lxd_exception.LXDRequestFailed(
                action='pull instance', target=inst.name, error='injected')))
        error = self.assertRaises(lxd_exception.LXDRequestFailed,
                                  self.finish, inst, info, migration)
        self.assertIn('injected', str(error))
        self.assertEqual([], self.volumes(self.target))
        self.assertEqual([f'{inst.name}-ephemeral0'],
                         self.volumes(self.project))

    def test_destination_without_the_ports_bridge_refused_first(self):
        # The test's own OVS (tools/lib/ovs.sh), not whatever answers on
        # os-vif's default TCP address.
        self.useFixture(ovs.OVSFixture(self, ovs.OVN_BRIDGE))
        self.trust_destination()
        inst = self.instance()
        inst.flavor.ephemeral_gb = 1
        self.spawn(inst)
        info, migration = self.resize_away(inst)
        # The port is bound to a bridge this host does not have.
        vif = network.ovs_vif('br-nova-lxd-absent', hybrid=False)
        self.assertRaises(lxd_exception.OVSBridgeMissing,
                          self.dest.finish_migration, self.context,
                          migration, inst, info,
                          network_model.NetworkInfo([vif]), self.image_meta,
                          True, {})
        self.assertEqual(([], []), (self.target.names(),
                                    self.volumes(self.target)))
        self.assertEqual('Stopped', self.container(inst).status)
