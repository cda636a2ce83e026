"""devstack/plugin.sh run phase by phase against a stub of DevStack's
function library (tests/unit/devstack/functions), which records what the
plugin asks DevStack and the system to do."""
import os
import subprocess
import sys

import fixtures
import testtools

from nova_lxd.aio import tempest_flags

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))
STUB = os.path.join(os.path.dirname(__file__), 'devstack', 'functions')


class DevStackPluginTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.calls_file = os.path.join(self.tmp, 'calls')
        # DevStack's venv: nova's bin dir with its python3.
        self.bin_dir = os.path.join(self.tmp, 'bin')
        os.mkdir(self.bin_dir)
        python = os.path.join(self.bin_dir, 'python3')
        with open(python, 'w') as f:
            f.write(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        os.chmod(python, 0o755)
        self.python = python
        self.env = dict(
            os.environ, STUB_CALLS=self.calls_file,
            STUB_SERVICES='n-cpu n-api tempest', STUB_INSTALLED='lxd',
            DEST=self.tmp, DATA_DIR=os.path.join(self.tmp, 'data'),
            NOVA_LXD_DIR=REPO, NOVA_CONF='/etc/nova/nova.conf',
            NOVA_CPU_CONF='/etc/nova/nova-cpu.conf', NOVA_BIN_DIR=self.bin_dir,
            TEMPEST_CONFIG='/opt/tempest/etc/tempest.conf', STACK_USER='stack',
            VIRT_DRIVER='lxd', LXD_DIR='/srv/lxd',
            NOVA_LXD_IMAGE_FILE='/srv/rootfs.tar.gz')

    def phase(self, *args, **env):
        """Source the stub, the settings and the plugin with ``args``, as
        DevStack does; returns (exit code, stderr, recorded calls)."""
        script = ('set -eu; source "$1"; source "$2"; shift 2; '
                  'source "$NOVA_LXD_DIR/devstack/plugin.sh" "$@"')
        proc = subprocess.run(
            ['bash', '-c', script, 'plugin', STUB,
             os.path.join(REPO, 'devstack', 'settings'), *args],
            env=dict(self.env, **env), capture_output=True, text=True,
            timeout=120)
        calls = []
        if os.path.exists(self.calls_file):
            with open(self.calls_file) as f:
                calls = f.read().splitlines()
            os.unlink(self.calls_file)
        return proc.returncode, proc.stderr, calls

    def test_refuses_to_stack_unless_virt_driver_is_lxd(self):
        # stackrc reads VIRT_DRIVER before any plugin: only local.conf can
        # set it.
        rc, err, _ = self.phase('stack', 'pre-install', VIRT_DRIVER='libvirt')
        self.assertEqual(1, rc)
        self.assertIn('set VIRT_DRIVER=lxd in local.conf', err)
        self.assertEqual(0, self.phase('stack', 'pre-install')[0])

    def test_install_joins_the_lxd_group_and_its_failure_stops_stack(self):
        rc, _, calls = self.phase('stack', 'install', STUB_INSTALLED='')
        self.assertEqual(0, rc)
        self.assertIn('install_package lxd', calls)
        self.assertIn('sudo usermod -a -G lxd stack', calls)
        self.assertIn(f'setup_develop {REPO}', calls)
        rc, _, calls = self.phase('stack', 'install', STUB_FAIL='usermod')
        self.assertEqual(1, rc)
        self.assertNotIn(f'setup_develop {REPO}', calls)

    def test_install_from_the_snap(self):
        _, _, calls = self.phase('stack', 'install', LXD_INSTALL='snap',
                                 STUB_INSTALLED='snapd')
        self.assertIn('sudo snap install lxd --channel=5.21/stable', calls)
        self.assertNotIn('install_package lxd', calls)

    def test_post_config_writes_nova_conf_not_nova_cpu_conf(self):
        rc, _, calls = self.phase('stack', 'post-config')
        self.assertEqual(0, rc)
        conf = '/etc/nova/nova.conf'
        helper = os.path.join(self.bin_dir, 'privsep-helper')
        for line in (
                'DEFAULT compute_driver nova_lxd.nova.virt.lxd.LXDDriver',
                'DEFAULT force_config_drive True', 'lxd pool default',
                'api enable_instance_password False',
                'lxd project nova',
                'os_vif_ovs ovsdb_connection tcp:127.0.0.1:6640',
                f'nova_lxd_privileged helper_command sudo {helper} '
                f'--config-file {conf}',
                f'vif_plug_ovs_privileged helper_command sudo {helper} '
                f'--config-file {conf}'):
            self.assertIn(f'iniset {conf} {line}', calls)
        self.assertFalse([c for c in calls if 'nova-cpu.conf' in c])
        self.assertFalse([c for c in calls if 'lxd init' in c])

    def test_post_config_creates_a_missing_pool_with_the_storage_driver(self):
        _, _, calls = self.phase('stack', 'post-config', LXD_POOL='fast',
                                 LXD_STORAGE_DRIVER='btrfs')
        # pylxd does it (nova_lxd.aio.lxd_host, tested on the real daemon),
        # with DevStack's python and the daemon LXD_DIR names.
        self.assertIn(f'sudo LXD_DIR=/srv/lxd {self.python} -m '
                      'nova_lxd.aio.lxd_host ensure-pool fast btrfs', calls)
        self.assertIn('iniset /etc/nova/nova.conf lxd pool fast', calls)

    def test_extra_uploads_the_root_tarball_raw_bare(self):
        rc, _, calls = self.phase('stack', 'extra')
        self.assertEqual(0, rc)
        self.assertIn('openstack image create --disk-format raw '
                      '--container-format bare --public --property '
                      'os_type=linux --file /srv/rootfs.tar.gz -f value -c '
                      'id debian-12-lxd', calls)

    def test_test_config_sets_image_and_the_driver_feature_flags(self):
        rc, err, calls = self.phase('stack', 'test-config')
        self.assertEqual(0, rc, err)
        conf = '/opt/tempest/etc/tempest.conf'
        self.assertIn(f'iniset {conf} compute image_ref image-id-1', calls)
        self.assertIn(f'iniset {conf} compute flavor_ref stub-flavor_ref',
                      calls)
        for flag, value in tempest_flags.compute_feature_flags().items():
            self.assertIn(f'iniset {conf} compute-feature-enabled {flag} '
                          f'{value}', calls)

    def test_clean_purges_the_lxd_project_and_unstack_leaves_it(self):
        _, _, calls = self.phase('unstack')
        self.assertEqual([], calls)
        _, _, calls = self.phase('clean')
        self.assertEqual(1, len(calls))
        self.assertTrue(calls[0].startswith(
            f'sudo {os.path.join(self.bin_dir, "python3")} -c'))
        self.assertTrue(calls[0].endswith(' nova'))

    def test_nothing_happens_without_n_cpu(self):
        for phase in (('stack', 'install'), ('stack', 'post-config'),
                      ('clean',)):
            self.assertEqual((0, []), self.phase(
                *phase, STUB_SERVICES='n-api')[::2])
