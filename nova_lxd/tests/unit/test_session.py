"""session.py: what each pylxd/requests error of a call becomes.

LXDSession is the one place where LXD errors become nova exceptions; every
test here drives a public method through a real pylxd.Client whose daemon
is fake_lxd.FakeLXD, and checks the class raised and that the message names
the action, the target, the endpoint and the fix.
"""
import os

import fixtures
from nova import exception
from nova import test
from pylxd import exceptions as lxd_exc
import requests

from nova_lxd.nova.virt.lxd import endpoints
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import session
from nova_lxd.tests.unit import fake_lxd

SOCKET = '/run/nova-lxd-test/unix.socket'
URL = 'https://lxd.example:8443'
GROUP_FIX = 'usermod -a -G lxd nova'

# (method, args, HTTP method, path, words of the action and target)
CALLS = [
    ('get_instance', ('i1',), 'GET', '/instances/i1', 'read instance i1'),
    ('create_instance', ({'name': 'i1'},), 'POST', '/instances',
     'create instance i1'),
    ('change_state', ('i1', 'start'), 'PUT', '/instances/i1/state',
     'start i1'),
    ('delete_instance', ('i1',), 'DELETE', '/instances/i1',
     'delete instance i1'),
    ('console_log', ('i1',), 'GET', '/instances/i1/console',
     'read console log of i1'),
    ('list_instances', (), 'GET', '/instances',
     'list instances of project nova'),
    ('profile_names', (), 'GET', '/profiles', 'list profiles of project nova'),
    ('storage_pool', ('default',), 'GET', '/storage-pools',
     'read storage pool default'),
    ('image_by_alias', ('a1',), 'GET', '/images/aliases/a1',
     'read image alias a1'),
    ('image_exists', ('f1',), 'GET', '/images/f1', 'read image f1'),
    ('delete_image', ('f1',), 'DELETE', '/images/f1', 'delete image f1'),
]
# Calls whose work is a background operation LXD may fail.
ASYNC = [c for c in CALLS if c[2] in ('POST', 'PUT', 'DELETE')]


class SessionTestCase(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.lxd = self.useFixture(fake_lxd.FakeLXD())
        self.flags(endpoint=SOCKET, group='lxd')
        self.lxd.answer('GET', '/instances', [])
        self.session = session.LXDSession()

    def call(self, method, args):
        return getattr(self.session, method)(*args)

    def assertRaisesNaming(self, cls, words, func, *args):
        e = self.assertRaises(cls, func, *args)
        # Exactly this class: a subclass would mean another message.
        self.assertIs(cls, type(e), words)
        for word in words:
            self.assertIn(word, str(e))
        return e


class RefusedTest(SessionTestCase):
    """LXD answered with an error: LXDRequestFailed naming what failed."""

    def test_error_statuses(self):
        for status, text in ((500, 'database is locked'),
                             (409, 'Instance is busy running a stop'),
                             (403, 'not authorized')):
            for method, args, verb, path, action in CALLS:
                self.lxd.on(verb, path, fake_lxd.error(status, text))
                self.assertRaisesNaming(
                    lxd_exception.LXDRequestFailed,
                    ['LXD refused to ' + action, text],
                    self.call, method, args)

    def test_failed_operation(self):
        # LXD accepts the request, then the background work fails: pylxd
        # raises LXDAPIException from operations.wait_for_operation.
        for method, args, verb, path, action in ASYNC:
            op = self.lxd.operation(verb, path, err='disk quota exceeded')
            self.assertRaisesNaming(
                lxd_exception.LXDRequestFailed,
                ['LXD refused to ' + action, 'disk quota exceeded'],
                self.call, method, args)
            self.assertEqual(('GET', op + '/wait'), self.lxd.paths()[-1])

    def test_known_image_named_as_such(self):
        # LXD's own check, and its database's when two uploads race.
        for text in ('Image with same fingerprint already exists',
                     'UNIQUE constraint failed: images.project_id, '
                     'images.fingerprint'):
            self.lxd.operation('POST', '/images', err=text)
            self.assertRaisesNaming(
                lxd_exception.LXDImageExists, ['import image', text],
                self.session.upload_image, [b'x'], 'x/y', 'img')

    def test_operation_waited_for(self):
        for method, args, verb, path, action in ASYNC:
            op = self.lxd.operation(verb, path)
            self.call(method, args)
            self.assertEqual(('GET', op + '/wait'), self.lxd.paths()[-1])


class NotFoundTest(SessionTestCase):
    """An LXD 404: the nova exception of the method, or its no-op."""

    def test_instance_not_found(self):
        for method, args in (('get_instance', ('i1',)),
                             ('change_state', ('i1', 'stop')),
                             ('console_log', ('i1',)),
                             ('update_config', ('i1', {'k': 'v'}))):
            self.assertRaisesNaming(exception.InstanceNotFound, ['i1'],
                                    self.call, method, args)

    def test_absent_is_no_error(self):
        self.assertIsNone(self.session.delete_instance('i1'))
        self.assertIsNone(self.session.delete_image('f1'))
        self.assertIsNone(self.session.image_by_alias('a1'))
        self.assertFalse(self.session.image_exists('f1'))
        self.assertEqual([('DELETE', '/instances/i1'),
                          ('DELETE', '/images/f1'),
                          ('GET', '/images/aliases/a1'),
                          ('GET', '/images/f1')], self.lxd.paths()[1:])

    def test_without_replacement_is_refusal(self):
        # A 404 on a collection: e.g. the project itself is gone.
        for method, args, verb, path, action in CALLS:
            if method not in ('create_instance', 'list_instances',
                              'profile_names', 'storage_pool'):
                continue
            self.lxd.on(verb, path, fake_lxd.error(404, 'not found'))
            self.assertRaisesNaming(
                lxd_exception.LXDRequestFailed,
                ['LXD refused to ' + action, 'not found'],
                self.call, method, args)


class UnreachableTest(SessionTestCase):
    """Transport errors: LXDUnreachable naming the socket and the fix."""

    def test_connection_errors(self):
        for exc in (requests.exceptions.ConnectionError('Connection reset'),
                    requests.exceptions.ChunkedEncodingError('Connection '
                                                             'reset'),
                    requests.exceptions.RequestException('Connection reset')):
            for method, args, verb, path, action in CALLS:
                self.lxd.fail(verb, path, exc)
                self.assertRaisesNaming(
                    lxd_exception.LXDUnreachable,
                    ['at ' + SOCKET, 'Connection reset', GROUP_FIX],
                    self.call, method, args)

    def test_connect_fails(self):
        # pylxd.Client turns requests' ConnectionError into this.
        self.lxd.connect_error = lxd_exc.ClientConnectionFailed(
            '[Errno 13] Permission denied')
        self.assertRaisesNaming(
            lxd_exception.LXDUnreachable,
            ['at ' + SOCKET, 'Permission denied', GROUP_FIX],
            self.session.get_instance, 'i1')

    def test_error_without_text_named_by_class(self):
        # pylxd raises ClientConnectionFailed() when GET /1.0 is not 200.
        self.lxd.connect_error = lxd_exc.ClientConnectionFailed()
        self.assertRaisesNaming(
            lxd_exception.LXDUnreachable,
            ['at ' + SOCKET + ': ClientConnectionFailed.'],
            self.session.list_instances)

    def test_https_fix(self):
        self.flags(endpoint=URL, group='lxd')
        self.lxd.fail('GET', '/instances', requests.exceptions.SSLError(
            'certificate verify failed'))
        e = self.assertRaisesNaming(
            lxd_exception.LXDUnreachable,
            ['at ' + URL, 'certificate verify failed', 'client_cert',
             'lxc config trust add'], self.session.list_instances)
        self.assertNotIn(GROUP_FIX, str(e))

    def test_timeouts(self):
        for exc in (requests.exceptions.ReadTimeout('Read timed out'),
                    requests.exceptions.ConnectTimeout('Read timed out'),
                    requests.exceptions.Timeout('Read timed out')):
            for method, args, verb, path, action in CALLS:
                self.lxd.fail(verb, path, exc)
                e = self.assertRaisesNaming(
                    lxd_exception.LXDTimeout,
                    [SOCKET, 'did not answer within 120 s', action,
                     'Read timed out', '[lxd] timeout'],
                    self.call, method, args)
                self.assertIsInstance(e, lxd_exception.LXDUnreachable)
                self.assertNotIn(GROUP_FIX, str(e))

    def test_operation_wait_timeout(self):
        op = self.lxd.operation('PUT', '/instances/i1/state')
        self.lxd.fail('GET', op + '/wait',
                      requests.exceptions.ReadTimeout('Read timed out'))
        self.flags(timeout=7, group='lxd')
        self.assertRaisesNaming(
            lxd_exception.LXDTimeout, ['within 7 s', 'stop i1'],
            session.LXDSession().change_state, 'i1', 'stop')
        # One slice of LXD's /wait, plus the read timeout for its answer.
        self.assertEqual((10, session.OPERATION_SLICE + 7),
                         self.lxd.requests[-1].timeout)
        self.assertEqual({'timeout': session.OPERATION_SLICE,
                          'project': 'nova'}, self.lxd.requests[-1].params)


class OperationWaitTest(SessionTestCase):
    """Background operations are waited for in slices (issue 10, R5)."""

    def running(self, op_path):
        op = self.lxd.operation('PUT', '/instances/i1/state')
        return op, dict(id=op.rsplit('/', 1)[1], status='Running',
                        status_code=103, err='', metadata=None)

    def test_long_operation_is_no_timeout(self):
        op, running = self.running('/instances/i1/state')
        done = dict(running, status='Success', status_code=200)
        self.lxd.on('GET', op + '/wait', fake_lxd.ok(running),
                    fake_lxd.ok(running), fake_lxd.ok(done))
        self.session.change_state('i1', 'stop')
        waits = [r for r in self.lxd.requests if r.path == op + '/wait']
        self.assertEqual(3, len(waits))

    def test_wait_timeout_answered_as_an_error(self):
        # Incus: a /wait whose timeout passes is an error, the operation
        # goes on; the driver asks for the operation and waits again.
        op, running = self.running('/instances/i1/state')
        done = dict(running, status='Success', status_code=200)
        deadline = fake_lxd.error(500, 'context deadline exceeded')
        self.lxd.on('GET', op + '/wait', deadline, fake_lxd.ok(done))
        self.lxd.on('GET', op, fake_lxd.ok(running))
        self.session.change_state('i1', 'stop')
        self.assertEqual([op + '/wait', op, op + '/wait'],
                         [p for m, p in self.lxd.paths('GET')
                          if p.startswith(op)])

    def test_operation_timeout_is_named(self):
        op, running = self.running('/instances/i1/state')
        self.lxd.on('GET', op + '/wait', fake_lxd.ok(running))
        self.flags(operation_timeout=1, group='lxd')
        # The deadline, one slice of 1 s, then past the deadline.
        self.useFixture(fixtures.MockPatch(
            'nova_lxd.nova.virt.lxd.session.time.monotonic',
            side_effect=[100.0, 100.2, 101.3]))
        e = self.assertRaisesNaming(
            lxd_exception.LXDOperationTimeout,
            [SOCKET, '[lxd] operation_timeout (1 s)',
             'lxc operation show op-'],
            session.LXDSession().change_state, 'i1', 'stop')
        self.assertIsInstance(e, lxd_exception.LXDTimeout)
        self.assertEqual({'timeout': 1, 'project': 'nova'},
                         self.lxd.requests[-1].params)

    def test_failed_operation_names_the_action(self):
        op = self.lxd.operation('PUT', '/instances/i1/state',
                                err='Failed to detect requested GPU device')
        self.assertRaisesNaming(
            lxd_exception.LXDRequestFailed,
            ['start i1', 'Failed to detect requested GPU device'],
            self.session.change_state, 'i1', 'start')
        self.assertIn(op + '/wait', self.lxd.paths('GET')[-1])


class AutodetectedEndpointTest(SessionTestCase):
    """Errors name the socket found, not the instance being worked on."""

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.snap = os.path.join(tmp, 'snap.socket')
        self.apt = os.path.join(tmp, 'apt.socket')
        self.useFixture(fixtures.MonkeyPatch(
            'nova_lxd.nova.virt.lxd.conf.SNAP_SOCKET', self.snap))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_lxd.nova.virt.lxd.conf.APT_SOCKET', self.apt))
        self.incus = os.path.join(tmp, 'incus.socket')
        self.useFixture(fixtures.MonkeyPatch(
            'nova_lxd.nova.virt.lxd.conf.INCUS_SOCKET', self.incus))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_lxd.nova.virt.lxd.conf.INCUS_RUN_SOCKET',
            os.path.join(tmp, 'run-incus.socket')))
        self.useFixture(fixtures.EnvironmentVariable('LXD_DIR'))
        self.tmp = tmp
        self.flags(endpoint='', group='lxd')

    def test_connection_error_names_socket(self):
        open(self.apt, 'w').close()
        self.lxd.fail('GET', '/instances/i1',
                      requests.exceptions.ConnectionError('refused'))
        e = self.assertRaisesNaming(
            lxd_exception.LXDUnreachable, ['at ' + self.apt, GROUP_FIX],
            self.session.get_instance, 'i1')
        self.assertNotIn('at i1', str(e))

    def test_socket_gone_names_both_paths(self):
        open(self.snap, 'w').close()
        self.session.list_instances()
        os.unlink(self.snap)
        self.lxd.fail('GET', '/instances/i1',
                      requests.exceptions.ConnectionError('refused'))
        self.assertRaisesNaming(
            lxd_exception.LXDUnreachable,
            [self.snap, self.apt, 'refused', GROUP_FIX],
            self.session.get_instance, 'i1')

    def test_find_endpoint_order(self):
        open(self.incus, 'w').close()
        self.assertEqual((self.incus, False), endpoints.find_endpoint(''))
        open(self.apt, 'w').close()
        self.assertEqual((self.apt, False), endpoints.find_endpoint(''))
        open(self.snap, 'w').close()
        self.assertEqual((self.snap, False), endpoints.find_endpoint(''))
        lxd_dir = os.path.join(self.tmp, 'lxd-dir')
        os.mkdir(lxd_dir)
        own = os.path.join(lxd_dir, 'unix.socket')
        open(own, 'w').close()
        self.useFixture(fixtures.EnvironmentVariable('LXD_DIR', lxd_dir))
        self.assertEqual((own, False), endpoints.find_endpoint(''))

    def test_no_socket(self):
        self.assertRaisesNaming(
            lxd_exception.LXDUnreachable,
            [self.snap, self.apt, self.incus,
             'no LXD or Incus unix socket found', GROUP_FIX,
             '[lxd] endpoint'], endpoints.find_endpoint, '')

    def test_explicit_endpoints_not_probed(self):
        self.assertEqual((SOCKET, False), endpoints.find_endpoint(SOCKET))
        self.assertEqual((URL, True), endpoints.find_endpoint(URL))


class ConnectTest(SessionTestCase):
    """What pylxd.Client is given."""

    def test_unix_socket(self):
        self.session.list_instances()
        self.assertEqual([{'endpoint': SOCKET, 'cert': None, 'verify': True,
                           'timeout': (10, 120), 'project': 'nova'}],
                         self.lxd.clients)
        self.assertEqual({'recursion': 1, 'project': 'nova'},
                         self.lxd.requests[-1].params)

    def test_https_with_certificates(self):
        self.flags(endpoint=URL, client_cert='/etc/c.crt',
                   client_key='/etc/c.key', server_cert='/etc/s.crt',
                   group='lxd')
        self.session.list_instances()
        # trust_env off: REQUESTS_CA_BUNDLE must not replace the pinned
        # server certificate.
        self.assertEqual({'endpoint': URL,
                          'cert': ('/etc/c.crt', '/etc/c.key'),
                          'verify': '/etc/s.crt', 'timeout': (10, 120),
                          'project': 'nova', 'trust_env': False},
                         self.lxd.clients[0])

    def test_https_system_ca_without_client_cert(self):
        self.flags(endpoint=URL, group='lxd')
        self.session.list_instances()
        self.assertIsNone(self.lxd.clients[0]['cert'])
        self.assertIs(True, self.lxd.clients[0]['verify'])
        self.assertIs(True, self.lxd.clients[0]['trust_env'])

    def test_one_client(self):
        self.lxd.answer('GET', '/profiles', [])
        self.session.list_instances()
        self.session.profile_names()
        self.assertEqual(1, len(self.lxd.clients))


class ReadersTest(SessionTestCase):
    """What the readers return, and in how many requests."""

    def test_architecture_cached(self):
        self.assertEqual('x86_64', self.session.architecture())
        self.assertEqual('x86_64', self.session.architecture())
        # One GET /1.0 to connect, one to read the server info.
        self.assertEqual([('GET', ''), ('GET', '')], self.lxd.paths())

    def test_server_info_error(self):
        self.lxd.on('GET', '', fake_lxd.ok(fake_lxd.SERVER),
                    fake_lxd.error(500, 'boom'))
        self.assertRaisesNaming(
            lxd_exception.LXDRequestFailed,
            ['LXD refused to read server info of ' + SOCKET, 'boom'],
            self.session.server_info)

    def test_storage_pool(self):
        self.lxd.answer('GET', '/storage-pools', [
            '/1.0/storage-pools/fast', '/1.0/storage-pools/default'])
        self.lxd.answer('GET', '/storage-pools/default', {'driver': 'dir'})
        self.assertEqual({'driver': 'dir'},
                         self.session.storage_pool('default'))

    def test_missing_pool_lists_existing(self):
        self.lxd.answer('GET', '/storage-pools', [
            '/1.0/storage-pools/fast', '/1.0/storage-pools/default'])
        self.assertRaisesNaming(
            lxd_exception.LXDStoragePoolNotFound,
            ["'nova'", 'existing pools: default, fast',
             'lxc storage create nova', '[lxd] pool'],
            self.session.storage_pool, 'nova')
        self.lxd.answer('GET', '/storage-pools', [])
        self.assertRaisesNaming(
            lxd_exception.LXDStoragePoolNotFound, ['existing pools: (none)'],
            self.session.storage_pool, 'nova')

    def test_listings(self):
        self.lxd.answer('GET', '/profiles', [
            '/1.0/profiles/default?project=nova', '/1.0/profiles/site'])
        self.assertEqual(['default', 'site'], self.session.profile_names())
        instances = [{'name': 'i1', 'status': 'Running', 'config': {}}]
        self.lxd.answer('GET', '/instances', instances)
        self.assertEqual(instances, self.session.list_instances())
        self.assertEqual({'recursion': 1, 'project': 'nova'},
                         self.lxd.requests[-1].params)

    def test_images_and_console(self):
        self.lxd.answer('GET', '/images/aliases/a1', {'target': 'f1'})
        self.assertEqual('f1', self.session.image_by_alias('a1'))
        self.lxd.answer('GET', '/images/f1', {'fingerprint': 'f1'})
        self.assertTrue(self.session.image_exists('f1'))
        self.lxd.on('GET', '/instances/i1/console',
                    fake_lxd.ok(content=b'login:'))
        self.assertEqual(b'login:', self.session.console_log('i1'))

    def test_console_with_nothing_new(self):
        # LXD 5.0's answer when a running container wrote nothing since the
        # last read; any other 500 is an error.
        self.lxd.on('GET', '/instances/i1/console', fake_lxd.error(
            500, 'open : no such file or directory'))
        self.assertEqual(b'', self.session.console_log('i1'))
        self.lxd.on('GET', '/instances/i1/console', fake_lxd.error(
            500, 'Failed to read console'))
        self.assertRaises(lxd_exception.LXDRequestFailed,
                          self.session.console_log, 'i1')


class ProjectTest(SessionTestCase):
    """ensure_project, on a client outside any project."""

    def test_exists(self):
        self.lxd.answer('GET', '/projects/nova', {'name': 'nova'})
        self.assertFalse(self.session.ensure_project())
        self.assertEqual([], self.lxd.paths('POST'))
        self.assertIsNone(self.lxd.clients[0]['project'])

    def test_created(self):
        self.lxd.on('GET', '/projects/nova', fake_lxd.error(404, 'not found'),
                    fake_lxd.ok({'name': 'nova'}))
        self.lxd.answer('POST', '/projects')
        self.assertTrue(self.session.ensure_project())
        body = self.lxd.requests[-2].json
        self.assertEqual(('nova', session.PROJECT_CONFIG),
                         (body['name'], body['config']))

    def test_refused(self):
        self.lxd.on('POST', '/projects', fake_lxd.error(403, 'not allowed'))
        self.assertRaisesNaming(
            lxd_exception.LXDProjectUnavailable,
            ["'nova'", 'not allowed', 'lxc project create nova'],
            self.session.ensure_project)

    def test_unreachable(self):
        self.lxd.fail('GET', '/projects/nova',
                      requests.exceptions.ConnectionError('refused'))
        self.assertRaisesNaming(
            lxd_exception.LXDUnreachable, ['at ' + SOCKET, GROUP_FIX],
            self.session.ensure_project)
        self.lxd.connect_error = lxd_exc.ClientConnectionFailed('refused')
        self.assertRaisesNaming(
            lxd_exception.LXDUnreachable, ['at ' + SOCKET, GROUP_FIX],
            self.session.ensure_project)


class DeviceTest(SessionTestCase):
    """Live device changes: PATCH to add, PUT with the ETag to remove."""

    def test_add_device(self):
        self.lxd.operation('PATCH', '/instances/i1')
        self.session.add_device('i1', 'eth1', {'type': 'nic'})
        patch = [r for r in self.lxd.requests if r.method == 'PATCH'][0]
        self.assertEqual({'devices': {'eth1': {'type': 'nic'}}}, patch.json)

    def test_remove_device_puts_the_rest_with_the_etag(self):
        meta = {'architecture': 'x86_64', 'config': {}, 'ephemeral': False,
                'profiles': [], 'description': '', 'status': 'Running',
                'devices': {'eth0': {'type': 'nic'}, 'root': {'type': 'disk'}}}
        response = fake_lxd.ok(meta)
        response.headers = {'ETag': '"abc"'}
        self.lxd.on('GET', '/instances/i1', response)
        self.lxd.operation('PUT', '/instances/i1')
        self.assertTrue(self.session.remove_device('i1', 'eth0'))
        put = [r for r in self.lxd.requests if r.method == 'PUT'][0]
        self.assertEqual({'root': {'type': 'disk'}}, put.json['devices'])
        self.assertNotIn('status', put.json)
        self.assertFalse(self.session.remove_device('i1', 'eth9'))

    def test_remove_device_of_missing_instance(self):
        self.assertRaises(exception.InstanceNotFound,
                          self.session.remove_device, 'gone', 'eth0')
