"""rescue.py's pure parts: names, the root volume's path and the rescue
container's definition."""
from nova.compute import vm_states
from nova import objects
import testtools

from nova_lxd.nova.virt.lxd import definition
from nova_lxd.nova.virt.lxd import rescue

UUID = '6c5c9f4e-3d3a-4a4e-9a43-0d2f7a1b2c3d'
NIC = {'type': 'nic', 'nictype': 'routed', 'host_name': 'tap6c5c9f4e-3d',
       'hwaddr': 'fa:16:3e:00:00:01', 'name': 'eth0'}
ROOT = {'type': 'disk', 'path': '/', 'pool': 'btrfs', 'size': '2GiB'}
ORIGINAL = {
    'profiles': ['default'],
    'config': {definition.UUID_KEY: UUID, 'limits.cpu': '2',
               'limits.memory': '512MiB', 'volatile.eth0.hwaddr': 'x',
               'image.os': 'debian', definition.SUSPENDED_KEY: ''},
    'devices': {'eth0': NIC, 'root': ROOT,
                'config': {'type': 'disk', 'source': '/i/config-drive',
                           'path': '/config-drive', 'readonly': 'true'},
                'ephemeral0': {'type': 'disk', 'pool': 'btrfs',
                               'source': 'instance-1-ephemeral0',
                               'path': '/mnt'},
                'vdb': {'type': 'disk', 'source': '/v/vdb',
                        'path': '/media/vdb'}},
}


def instance(vm_state=vm_states.ACTIVE):
    return objects.Instance(uuid=UUID, id=1, vm_state=vm_state)


class NamesTest(testtools.TestCase):

    def test_rescue_name(self):
        self.assertEqual('instance-00000001-rescue',
                         rescue.rescue_name(instance()))

    def test_container_name_follows_vm_state(self):
        self.assertEqual('instance-00000001',
                         rescue.container_name(instance()))
        self.assertEqual('instance-00000001-rescue', rescue.container_name(
            instance(vm_states.RESCUED)))

    def test_lxd_dir_from_socket(self):
        self.assertEqual('/var/snap/lxd/common/lxd', rescue.lxd_dir_of(
            '/var/snap/lxd/common/lxd/unix.socket'))
        self.assertEqual('/var/lib/incus',
                         rescue.lxd_dir_of('/var/lib/incus/unix.socket'))
        self.assertIsNone(rescue.lxd_dir_of('https://10.0.0.1:8443'))

    def test_root_volume_path_carries_the_project(self):
        self.assertEqual(
            '/var/lib/lxd/storage-pools/btrfs/containers/nova_i-1/rootfs',
            rescue.root_volume_path('/var/lib/lxd', 'btrfs', 'nova', 'i-1'))
        self.assertEqual(
            '/var/lib/lxd/storage-pools/default/containers/i-1/rootfs',
            rescue.root_volume_path('/var/lib/lxd', 'default', 'default',
                                    'i-1'))


class RescueDefinitionTest(testtools.TestCase):

    def definition(self, config_drive='/i/rescue-config-drive'):
        return rescue.rescue_definition(instance(), ORIGINAL, '/r/rootfs',
                                        config_drive)

    def test_takes_limits_nics_root_not_volumes(self):
        body = self.definition()
        self.assertEqual('instance-00000001-rescue', body['name'])
        self.assertEqual(['default'], body['profiles'])
        self.assertEqual({'limits.cpu': '2', 'limits.memory': '512MiB',
                          rescue.RESCUE_OF_KEY: UUID}, body['config'])
        self.assertEqual({'eth0': NIC, 'root': ROOT,
                          'rescue': {'type': 'disk', 'source': '/r/rootfs',
                                     'path': '/mnt/rescue'},
                          'config': {'type': 'disk',
                                     'source': '/i/rescue-config-drive',
                                     'path': '/config-drive',
                                     'readonly': 'true'}},
                         body['devices'])

    def test_unshifted_root_mounted_idmapped(self):
        # Incus (and LXD with idmapped mounts) keep the rootfs unshifted:
        # volatile.last_state.idmap is '[]'.  Shifted on disk (LXD 5.0
        # here): a list of maps, and no shift.
        original = dict(ORIGINAL, config=dict(
            ORIGINAL['config'], **{'volatile.last_state.idmap': '[]'}))
        body = rescue.rescue_definition(instance(), original, '/r/rootfs',
                                        None)
        self.assertEqual({'type': 'disk', 'source': '/r/rootfs',
                          'path': '/mnt/rescue', 'shift': 'true'},
                         body['devices']['rescue'])
        self.assertNotIn('volatile.last_state.idmap', body['config'])
        shifted = dict(ORIGINAL, config=dict(
            ORIGINAL['config'], **{'volatile.last_state.idmap':
                                   '[{"Isuid":true,"Nsid":0,"Hostid":100000,'
                                   '"Maprange":65536}]'}))
        body = rescue.rescue_definition(instance(), shifted, '/r/rootfs',
                                        None)
        self.assertNotIn('shift', body['devices']['rescue'])

    def test_no_config_drive(self):
        self.assertNotIn('config', self.definition(None)['devices'])

    def test_original_untouched(self):
        self.definition()
        self.assertIn(definition.UUID_KEY, ORIGINAL['config'])
        self.assertIn('vdb', ORIGINAL['devices'])
