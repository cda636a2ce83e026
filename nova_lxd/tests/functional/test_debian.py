"""A real Debian guest: systemd and cloud-init reading the config drive."""
from nova_lxd.tests.functional import base


class DebianGuestTest(base.LXDTestCase):
    IMAGE_ENV = 'NOVA_LXD_TEST_DEBIAN_IMAGE'

    def test_cloud_init_uses_config_drive(self):
        self.flags(force_config_drive=True)
        image_id = self.register_image(name='debian-bookworm',
                                       properties={'os_distro': 'debian'})
        port = self.create_tap_port()
        server = self._create_server(
            image_uuid=image_id,
            flavor_id=self.create_flavor_with(vcpus=1, memory_mb=512),
            networks=[{'port': port['id']}])
        self.assertEqual('systemd', self.guest_run(
            server, 'ps', '-o', 'comm=', '-p', '1').strip())
        status = self.guest_run(server, 'timeout', '120', 'cloud-init',
                                'status', '--wait', '--long')
        self.assertIn('status: done', status)
        self.assertIn('ConfigDrive', status)
        self.assertEqual(server['OS-EXT-SRV-ATTR:hostname'],
                         self.guest_run(server, 'hostname').strip())
        link = self.guest_run(server, 'ip', 'addr', 'show', 'eth0')
        self.assertIn(port['mac_address'], link)
        self.assertIn(port['fixed_ips'][0]['ip_address'] + '/32', link)
        self._delete_server(server)
        self.assertEqual([], self.project.names())
