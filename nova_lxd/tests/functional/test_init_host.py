"""init_host against the real daemon: clear errors naming value and fix."""
import datetime
import os
import queue
import threading

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
import fixtures
from nova import test
from nova.virt import fake
import requests

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import endpoints
from nova_lxd.nova.virt.lxd import driver as lxd_driver
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import session as lxd_session
from nova_lxd.tests.functional import base


def write_client_certificate(directory):
    """A self-signed client certificate and key (PEM files) in directory;
    returns ``(cert_path, key_path, cert_pem_bytes)``."""
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         'nova-lxd-functional')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA384()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path = os.path.join(directory, 'client.crt')
    key_path = os.path.join(directory, 'client.key')
    with open(cert_path, 'wb') as f:
        f.write(pem)
    with open(key_path, 'wb') as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path, pem


class InitHostTest(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.project = self.useFixture(base.LXDProjectFixture())
        self.flags(project=self.project.name, pool='default', group='lxd')

    def driver(self):
        driver = lxd_driver.LXDDriver(fake.FakeVirtAPI())
        self.addCleanup(driver.cleanup_host, 'compute')
        return driver

    def project_state(self):
        """The test project as LXD describes it, and its profiles."""
        project = self.project.admin.api.projects[self.project.name].get()
        return (project.json()['metadata'],
                sorted(p.name for p in self.project.client.profiles.all()))

    def record_writes(self):
        """Every non-GET HTTP request this process makes from now on (the
        driver's own connections included; other test workers are other
        processes, so daemon-wide state is not compared)."""
        writes = []
        real = requests.Session.request

        def request(session, method, url, *args, **kwargs):
            if method.upper() != 'GET':
                writes.append(f'{method.upper()} {url}')
            return real(session, method, url, *args, **kwargs)
        self.useFixture(fixtures.MonkeyPatch('requests.Session.request',
                                             request))
        return writes

    def test_creates_missing_project_then_changes_nothing(self):
        self.assertFalse(self.project.admin.projects.exists(
            self.project.name))
        writes = self.record_writes()
        self.driver().init_host('compute')
        self.assertEqual(1, len(writes), writes)  # POST /1.0/projects
        project = self.project.admin.projects.get(self.project.name)
        for key, value in lxd_session.PROJECT_CONFIG.items():
            self.assertEqual(value, project.config[key], key)
        before = self.project_state()
        del writes[:]
        # A nova-compute restart.
        self.driver().init_host('compute')
        self.assertEqual([], writes)
        self.assertEqual(before, self.project_state())

    def test_existing_project_is_used_as_it_is(self):
        self.project.admin.projects.create(
            self.project.name, description='made by the operator',
            config={'features.images': 'false',
                    'features.profiles': 'true'})
        before = self.project_state()
        writes = self.record_writes()
        self.driver().init_host('compute')
        self.assertEqual([], writes)
        self.assertEqual(before, self.project_state())

    def test_unusable_project_is_named_before_lxd_is_asked(self):
        self.flags(project='no/slash allowed', group='lxd')
        e = self.assertRaises(lxd_exception.InvalidLXDOption,
                              self.driver().init_host, 'compute')
        self.assertIn("[lxd] project 'no/slash allowed'", str(e))
        self.assertNotIn('no/slash allowed',
                         [p.name for p in self.project.admin.projects.all()])

    def test_missing_pool_lists_existing_pools(self):
        self.flags(pool='no-such-pool', group='lxd')
        e = self.assertRaises(lxd_exception.LXDStoragePoolNotFound,
                              self.driver().init_host, 'compute')
        self.assertIn('no-such-pool', str(e))
        self.assertIn('default', str(e))
        self.assertIn('lxc storage create', str(e))

    def test_unreachable_socket_names_it_and_the_fix(self):
        self.flags(endpoint='/nonexistent/lxd.socket', group='lxd')
        e = self.assertRaises(lxd_exception.LXDUnreachable,
                              self.driver().init_host, 'compute')
        self.assertIn('/nonexistent/lxd.socket', str(e))
        self.assertIn('group', str(e))

    def test_no_socket_found_names_the_paths_searched(self):
        self.useFixture(fixtures.EnvironmentVariable('LXD_DIR'))
        for name in ('SNAP_SOCKET', 'APT_SOCKET', 'INCUS_SOCKET',
                     'INCUS_RUN_SOCKET'):
            self.useFixture(fixtures.MonkeyPatch(
                f'nova_lxd.nova.virt.lxd.conf.{name}',
                f'/nonexistent/{name.lower()}'))
        e = self.assertRaises(lxd_exception.LXDUnreachable,
                              self.driver().init_host, 'compute')
        self.assertIn('/nonexistent/snap_socket', str(e))
        self.assertIn('/nonexistent/apt_socket', str(e))
        self.assertIn('/nonexistent/incus_socket', str(e))
        self.assertIn('[lxd] endpoint', str(e))

    def test_missing_profile_refused(self):
        self.flags(profiles=['site-defaults'], group='lxd')
        e = self.assertRaises(lxd_exception.LXDDriverError,
                              self.driver().init_host, 'compute')
        self.assertIn('site-defaults', str(e))


class HTTPSInitHostTest(test.NoDBTestCase):
    """init_host over https with a trusted client certificate and the
    daemon's own certificate pinned (tools/lib/host-setup.sh makes the
    daemon listen on 127.0.0.1:8443)."""

    def setUp(self):
        super().setUp()
        self.project = self.useFixture(base.LXDProjectFixture())
        admin = self.project.admin
        address = admin.host_info['config'].get('core.https_address')
        if not address:
            base.missing_prerequisite('LXD does not listen on https '
                                      '(core.https_address); run '
                                      'tools/lib/host-setup.sh')
        socket_path, _https = endpoints.find_endpoint('')
        self.server_cert = os.path.join(os.path.dirname(socket_path),
                                        'server.crt')
        tmp = self.useFixture(fixtures.TempDir()).path
        cert, key, pem = write_client_certificate(tmp)
        admin.certificates.create(password='', cert_data=pem,
                                  name='nova-lxd-functional')
        fingerprint = x509.load_pem_x509_certificate(pem).fingerprint(
            hashes.SHA256()).hex()
        self.addCleanup(admin.api.certificates[fingerprint].delete)
        host = address.rsplit(':', 1)[0].strip('[]')
        if host in ('', '0.0.0.0', '::'):
            host = '127.0.0.1'
        port = address.rsplit(':', 1)[1] if ':' in address else '8443'
        self.flags(endpoint=f'https://{host}:{port}', client_cert=cert,
                   client_key=key, server_cert=self.server_cert,
                   project=self.project.name, pool='default', group='lxd')

    def driver(self):
        driver = lxd_driver.LXDDriver(fake.FakeVirtAPI())
        self.addCleanup(driver.cleanup_host, 'compute')
        return driver

    def test_trusted_certificate_and_pinned_server(self):
        self.driver().init_host('compute')
        self.assertTrue(self.project.admin.projects.exists(
            self.project.name))

    def test_wrong_server_certificate_is_refused(self):
        other = os.path.join(self.useFixture(fixtures.TempDir()).path,
                             'other')
        os.makedirs(other)
        self.flags(server_cert=write_client_certificate(other)[0],
                   group='lxd')
        e = self.assertRaises(lxd_exception.LXDUnreachable,
                              self.driver().init_host, 'compute')
        self.assertIn('server_cert', str(e))
        self.assertIn(lxd_conf.CONF.lxd.endpoint, str(e))

    def follow_events(self, session):
        """Connect session's event stream; return a queue of its events."""
        received = queue.Queue()
        stream = session.lifecycle_stream(
            lambda action, name: received.put((action, name)))
        threading.Thread(target=stream.run, daemon=True).start()
        self.addCleanup(stream.shut)
        return received

    def test_event_stream_over_https(self):
        # The stream is a websocket of its own (ws4py, not requests): the
        # client certificate and the pinned server certificate go there too.
        driver = self.driver()
        driver.init_host('compute')
        received = self.follow_events(driver._session)
        self.project.client.instances.create(
            {'name': 'ev', 'source': {'type': 'none'},
             'devices': {'root': {'type': 'disk', 'path': '/',
                                  'pool': 'default'}}}, wait=True)
        self.assertEqual(('instance-created', 'ev'),
                         received.get(timeout=30))

    def test_event_stream_refuses_wrong_server_certificate(self):
        other = os.path.join(self.useFixture(fixtures.TempDir()).path,
                             'other')
        os.makedirs(other)
        driver = self.driver()
        driver.init_host('compute')
        self.flags(server_cert=write_client_certificate(other)[0],
                   group='lxd')
        e = self.assertRaises(lxd_exception.LXDUnreachable,
                              driver._session.lifecycle_stream, print)
        self.assertIn(lxd_conf.CONF.lxd.endpoint, str(e))
        self.assertIn('CERTIFICATE_VERIFY_FAILED', str(e))
