"""A real Debian guest: systemd and cloud-init reading the config drive.

LXD alone already gives the guest its hostname (``raw.lxc``), MAC and
addresses (routed nic), so those prove nothing about the config drive.
What only cloud-init reading nova's config drive can do is checked:
the server's user_data script ran, and the server's keypair is in an
``authorized_keys`` file.
"""
import base64
import uuid
import warnings

from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives import serialization

from nova_lxd.tests.functional import base


def ssh_public_key():
    """A fresh OpenSSH ed25519 public key line (str)."""
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


class DebianGuestTest(base.LXDTestCase):
    IMAGE_ENV = 'NOVA_LXD_TEST_DEBIAN_IMAGE'

    def test_cloud_init_uses_config_drive(self):
        self.flags(force_config_drive=True)
        image_id = self.register_image(name='debian-bookworm',
                                       properties={'os_distro': 'debian'})
        port = self.create_tap_port()
        public_key = ssh_public_key()
        key_name = 'k-' + uuid.uuid4().hex[:6]
        self.api.post_keypair({'keypair': {'name': key_name,
                                           'public_key': public_key}})
        token = uuid.uuid4().hex
        user_data = f'#!/bin/sh\necho {token} > /var/tmp/user-data-ran\n'
        request = self._build_server(
            image_uuid=image_id,
            flavor_id=self.create_flavor_with(vcpus=1, memory_mb=512),
            networks=[{'port': port['id']}])
        request.update(key_name=key_name, user_data=base64.b64encode(
            user_data.encode()).decode())
        server = self._wait_for_state_change(
            self.api.post_server({'server': request}), 'ACTIVE')

        self.assertEqual('systemd', self.guest_run(
            server, 'ps', '-o', 'comm=', '-p', '1').strip())
        status = self.guest_run(server, 'timeout', '120', 'cloud-init',
                                'status', '--wait', '--long')
        self.assertIn('status: done', status)
        self.assertIn('ConfigDrive', status)
        self.assertEqual(token, self.guest_run(
            server, 'cat', '/var/tmp/user-data-ran').strip())
        keys = self.guest_run(server, 'sh', '-c',
                              'cat /root/.ssh/authorized_keys '
                              '/home/*/.ssh/authorized_keys 2>/dev/null; '
                              'true')
        self.assertIn(public_key.split()[1], keys)
        self.assertEqual(server['OS-EXT-SRV-ATTR:hostname'],
                         self.guest_run(server, 'hostname').strip())
        link = self.guest_run(server, 'ip', 'addr', 'show', 'eth0')
        self.assertIn(port['mac_address'], link)
        self.assertIn(port['fixed_ips'][0]['ip_address'] + '/32', link)
        self.check_admin_password(server)
        self._delete_server(server)
        self.assertEqual([], self.project.names())

    def check_admin_password(self, server):
        """``openstack server set --root-password``: the guest's chpasswd
        sets root's password to the one given."""
        password = 'Nova-LXD-' + uuid.uuid4().hex[:8]
        self.api.post_server_action(server['id'], {
            'changePassword': {'adminPass': password}})
        entry = self.guest_run(server, 'getent', 'shadow', 'root')
        stored = entry.split(':')[1]
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            import crypt  # the host's libxcrypt knows Debian's yescrypt
        self.assertEqual(stored, crypt.crypt(password, stored))
