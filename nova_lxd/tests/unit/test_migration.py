"""migration.py and session_migration.py's pure parts: the source's
address, the disk_info nova carries, what cannot move."""
from nova import exception
from nova import test

from nova_lxd.nova.virt.lxd import migration
from nova_lxd.nova.virt.lxd import session_migration


SOURCE = {'url': 'https://h:8443', 'certificate': 'PEM'}


class HTTPSURLTest(test.NoDBTestCase):

    def test_addresses(self):
        url = session_migration.https_url
        self.assertEqual('https://10.0.0.5:8443', url('10.0.0.5:8443', 'x'))
        self.assertEqual('https://192.0.2.9:8443', url(':8443', '192.0.2.9'))
        self.assertEqual('https://192.0.2.9:9000',
                         url('0.0.0.0:9000', '192.0.2.9'))
        self.assertEqual('https://[2001:db8::9]:8443',
                         url('[::]:8443', '2001:db8::9'))
        self.assertEqual('https://lxd1:8443', url('lxd1', 'x'))


class CarriedConfigTest(test.NoDBTestCase):

    def test_state_of_the_root_filesystem_kept(self):
        source = {'volatile.base_image': 'f00d',
                  'volatile.idmap.base': '0',
                  'volatile.idmap.current': '[...]',
                  'volatile.last_state.idmap': '[...]',
                  'volatile.cloud-init.instance-id': 'c1',
                  'image.os': 'debian',
                  # Per host or per boot, or ours to set: not carried.
                  'volatile.last_state.power': 'STOPPED',
                  'volatile.eth0.hwaddr': '00:16:3e:00:00:01',
                  'volatile.uuid': 'u',
                  'limits.cpu': '4',
                  'user.nova.instance_uuid': 'i'}
        self.assertEqual(
            {'volatile.base_image': 'f00d', 'volatile.idmap.base': '0',
             'volatile.idmap.current': '[...]',
             'volatile.last_state.idmap': '[...]',
             'volatile.cloud-init.instance-id': 'c1', 'image.os': 'debian'},
            session_migration.carried_config(source))


class DiskInfoTest(test.NoDBTestCase):

    def test_round_trip(self):
        source = {'url': 'https://h:8443', 'certificate': 'PEM'}
        info = migration.disk_info(source, [('pool-a', 'i-1-ephemeral0'),
                                            ('pool-b', 'i-1-ephemeral1')])
        self.assertEqual(source, migration.source_of(info))
        self.assertEqual({'i-1-ephemeral0': 'pool-a',
                          'i-1-ephemeral1': 'pool-b'},
                         migration.source_volumes(info))
        self.assertEqual({}, migration.source_volumes(
            migration.disk_info(source)))

    def test_source_without_https_refused(self):
        for info in (migration.disk_info(None), '', None):
            error = self.assertRaises(exception.MigrationError,
                                      migration.source_of, info)
            self.assertIn('core.https_address', str(error))

    def test_destination_without_certificate_refused(self):
        self.flags(migration_client_cert=None, group='lxd')
        error = self.assertRaises(exception.MigrationError,
                                  migration.client_cert)
        self.assertIn('[lxd] migration_client_cert', str(error))
        self.flags(migration_client_cert='/c', migration_client_key='/k',
                   group='lxd')
        self.assertEqual(('/c', '/k'), migration.client_cert())


class MovableTest(test.NoDBTestCase):

    def test_source_without_https_refused_before_power_off(self):
        error = self.assertRaises(exception.InstanceFaultRollback,
                                  migration.check_movable, None)
        self.assertIsInstance(error.inner_exception,
                              exception.MigrationError)
        self.assertIn('core.https_address', str(error.inner_exception))
        migration.check_movable(SOURCE)
