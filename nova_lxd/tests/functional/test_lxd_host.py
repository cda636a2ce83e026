"""nova_lxd.aio.lxd_host (host-setup and the DevStack plugin) on the real
daemon."""
import io
import uuid

import fixtures
import testtools

from nova_lxd.aio import lxd_host


class EnsurePoolTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.client = lxd_host.connect()

    def test_creates_a_missing_pool_once_and_keeps_an_existing_one(self):
        name = 'nlxd-test-' + uuid.uuid4().hex[:8]
        self.addCleanup(self._delete_pool, name)
        self.assertTrue(lxd_host.ensure_pool(self.client, name, 'dir'))
        self.assertEqual('dir', self.client.storage_pools.get(name).driver)
        # A second call, even naming another driver, changes nothing.
        self.assertFalse(lxd_host.ensure_pool(self.client, name, 'btrfs'))
        self.assertEqual('dir', self.client.storage_pools.get(name).driver)

    def _delete_pool(self, name):
        if self.client.storage_pools.exists(name):
            self.client.storage_pools.get(name).delete()

    def test_an_existing_https_listener_is_kept(self):
        # tools/lib/host-setup.sh made the daemon listen on loopback.
        before = self.client.host_info['config']['core.https_address']
        # Put the daemon back should a broken ensure_https change it.
        self.addCleanup(self.client.api.patch, json={
            'config': {'core.https_address': before}})
        self.assertFalse(lxd_host.ensure_https(self.client, '127.0.0.1:1'))
        self.client.host_info = self.client.api.get().json()['metadata']
        self.assertEqual(before,
                         self.client.host_info['config']['core.https_address'])

    def test_cli_reports_what_it_did(self):
        out, err = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', out))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', err))
        self.assertEqual(0, lxd_host.main(['ensure-pool', 'default', 'dir']))
        self.assertEqual('storage pool default ok\n', out.getvalue())
        self.assertEqual(2, lxd_host.main(['ensure-pool', 'default']))
        self.assertIn('ensure-pool NAME DRIVER', err.getvalue())
