"""Functional test base: nova's in-process services + the real LXD daemon.

Each test class runs in an LXD project of its own, created here and deleted
with everything in it afterwards.  Images are the tarballs built by
``tools/lib/build-images.sh``, found through ``NOVA_LXD_TEST_BUSYBOX_IMAGE``
and ``NOVA_LXD_TEST_DEBIAN_IMAGE`` (``tools/run-tests`` sets both).
"""
import builtins
import copy
import functools
import glob
import os
import sys
import types
import unittest
import uuid

import fixtures
from nova import context as nova_context
from nova.network import model as network_model
from nova import objects
from nova import test
from nova.tests.fixtures import neutron as neutron_fixture
from nova.tests.functional import integrated_helpers
from nova.virt import fake
import psutil
import tenacity

from nova_lxd.aio import lxd as aio_lxd
from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import driver as lxd_driver
from nova_lxd.nova.virt.lxd import session as lxd_session
from nova_lxd.tests.functional import network
from nova_lxd.tests import image_fakes

TEST_NET_ID = '5b4f6a0e-77ad-4b2e-9a7e-0000000000a7'
# What nova's test base poisons (GenericPoisonFixture, SysFsPoisonFixture):
# os-brick and the kernel's cgroup files are read for real in some tests,
# which is their point.  Taken before any test runs.
_HOST_READS = {
    'builtins.open': builtins.open, 'glob.glob': glob.glob,
    'glob.iglob': glob.iglob, 'os.listdir': os.listdir,
    'os.path.isdir': os.path.isdir, 'os.uname': os.uname,
    'psutil.net_if_addrs': psutil.net_if_addrs,
}


@tenacity.retry(
    retry=tenacity.retry_if_exception_type(
        (BrokenPipeError, ConnectionResetError)),
    stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(0.5),
    reraise=True)
def execute(container, argv):
    """``container.execute(argv)``, again when pylxd's exec websockets break
    while connecting (ws4py: "Broken pipe" answering LXD's first ping on a
    busy machine).  LXD starts the command only once every websocket is
    connected, so it has not run then."""
    return container.execute(argv)


def allow_host_reads(test):
    """Undo nova's poisoning of /sys reads and host inspection
    (_HOST_READS) for the rest of ``test``."""
    for name, original in _HOST_READS.items():
        test.useFixture(fixtures.MonkeyPatch(name, original))


def missing_prerequisite(reason):
    """Skip the test, except on CI (``CI=true``), where it fails: a daemon
    that stopped answering or an image not built must not turn a run
    green with fewer tests.

    :raises unittest.SkipTest: locally.
    :raises AssertionError: on CI.
    """
    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
        raise AssertionError(f'prerequisite missing on CI: {reason}')
    raise unittest.SkipTest(reason)


def backend():
    """The daemon the tests run against: ``lxd`` or ``incus``
    (``tools/run-tests --backend``)."""
    return os.environ.get('NOVA_LXD_TEST_BACKEND', 'lxd')


def needs_second_daemon():
    """Skip where the test needs a second daemon of the same kind: the
    Incus run has one Incus daemon (its migration between two Incus
    daemons is not covered on this machine)."""
    if backend() != 'lxd':
        raise unittest.SkipTest('needs a second daemon of the same kind; '
                                f'the {backend()} run has one')
    if not os.path.exists(LXD2_SOCKET):
        missing_prerequisite('no second LXD daemon; run '
                             'tools/lib/host-setup.sh')


def image_path(variable):
    """Path of a test image from the environment (see missing_prerequisite
    for what happens when it is absent)."""
    path = os.environ.get(variable)
    if not path or not os.path.exists(path):
        missing_prerequisite(f'{variable} not set or missing; run '
                             f'tools/run-tests')
    return path


class LXDProjectFixture(fixtures.Fixture):
    """A throwaway LXD project, emptied and deleted on cleanup."""

    def __init__(self, name=None, endpoint=''):
        """:param name: the project's name (default: a new one).
        :param endpoint: the daemon's unix socket ('' for the local one)."""
        super().__init__()
        self.name = name or 'nova-lxd-ft-' + uuid.uuid4().hex[:8]
        self.endpoint = endpoint

    def _setUp(self):
        self.admin = aio_lxd.connect(endpoint=self.endpoint)
        self.client = aio_lxd.connect(self.name, endpoint=self.endpoint)
        self.addCleanup(aio_lxd.purge, self.name, self.endpoint)

    def names(self):
        """Names of the instances in the project."""
        return sorted(i.name.split('?')[0]
                      for i in self.client.instances.all())


LXD2_DIR = '/var/lib/lxd2'
LXD2_SOCKET = LXD2_DIR + '/unix.socket'


def second_daemon_opts():
    """The [lxd] options now, with the second daemon as endpoint."""
    opts = {opt.dest: getattr(lxd_conf.CONF.lxd, opt.dest)
            for opt in lxd_conf.lxd_opts}
    return types.SimpleNamespace(**dict(opts, endpoint=LXD2_SOCKET))


def on_second_daemon(test, host):
    """The second daemon (tools/lib/lxd2.sh) for a DriverTestCase: the
    test's project there, and an LXDDriver whose [lxd] endpoint is that
    daemon, as another host's nova-compute would run it (init_host done,
    cleanup_host on cleanup).

    :returns: ``(LXDProjectFixture, LXDDriver)``.
    """
    needs_second_daemon()
    project = test.useFixture(LXDProjectFixture(test.project.name,
                                                endpoint=LXD2_SOCKET))
    driver = lxd_driver.LXDDriver(test.virtapi())
    driver._session._opts = second_daemon_opts()
    driver.init_host(host)
    test.addCleanup(driver.cleanup_host, host)
    return project, driver


class LXDTestCase(integrated_helpers._IntegratedTestBase):
    """Nova API, conductor, scheduler, placement and a compute service
    running LXDDriver on the real daemon, in a project of the test's own.
    """
    ADMIN_API = True
    microversion = 'latest'
    IMAGE_ENV = 'NOVA_LXD_TEST_BUSYBOX_IMAGE'
    # [lxd] pool of the compute service: `default` (dir) or `btrfs`, both
    # made by tools/lib/host-setup.sh.
    POOL = 'default'

    def setUp(self):
        self.image_file = image_path(self.IMAGE_ENV)
        self.project = LXDProjectFixture()
        super().setUp()

    def _setup_services(self):
        # nova's API reads its paste pipeline from the installed file.
        self.flags(api_paste_config=os.path.join(
            sys.prefix, 'etc', 'nova', 'api-paste.ini'), group='wsgi')
        super()._setup_services()

    def _setup_compute_service(self):
        # The project fixture goes first so that it is deleted last, after
        # the compute service has stopped.
        self.useFixture(self.project)
        self.flags(compute_driver='nova_lxd.nova.virt.lxd.LXDDriver')
        self.flags(project=self.project.name, pool=self.POOL, group='lxd')
        self.flags_instances_path = self.useFixture(fixtures.TempDir()).path
        self.flags(instances_path=self.flags_instances_path)
        return super()._setup_compute_service()

    def _wait_for_state_change(self, server, expected_status,
                               max_retries=240, wait_for_fault_key=True):
        # nova's default (5 s) suits its fake driver; real containers, and a
        # first boot that imports an image, take longer on a busy machine.
        return super()._wait_for_state_change(
            server, expected_status, max_retries, wait_for_fault_key)

    def start_compute_on_second_daemon(self, host):
        """Start nova-compute ``host`` with the second daemon
        (tools/lib/lxd2.sh) as its [lxd] endpoint, same project and pool:
        another host as nova sees it.  In-process services share one CONF,
        so the endpoint goes to that service's session only.

        :returns: ``(LXDProjectFixture on that daemon, compute service)``.
        """
        needs_second_daemon()
        # First, so that it is deleted after the service stopped.
        project = self.useFixture(LXDProjectFixture(self.project.name,
                                                    endpoint=LXD2_SOCKET))
        session_cls = lxd_session.LXDSession
        # Each host has a compute_id file of its own; nova reads one per
        # process and caches it.
        node = str(uuid.uuid5(uuid.NAMESPACE_URL, f'nova-lxd-test/{host}'))
        with fixtures.MonkeyPatch(
                'nova_lxd.nova.virt.lxd.session.LXDSession',
                functools.partial(session_cls, second_daemon_opts())), \
                fixtures.MonkeyPatch('nova.virt.node.get_local_node_uuid',
                                     lambda: node):
            compute = self._start_compute(host)
        compute.manager.driver.get_nodenames_by_uuid = (
            lambda refresh=False: {node: host})
        return project, compute

    @property
    def lxd(self):
        """pylxd client of the test's project."""
        return self.project.client

    def register_image(self, name='busybox', **overrides):
        """Put the test tarball in nova's glance fixture; return its id."""
        meta = {'id': str(uuid.uuid4()), 'name': name, 'status': 'active',
                'disk_format': 'raw', 'container_format': 'bare',
                'visibility': 'public', 'properties': {}}
        meta.update(overrides)
        with open(self.image_file, 'rb') as data:
            return self.glance.create(None, meta, data=data)['id']

    def create_flavor_with(self, vcpus=1, memory_mb=256, root_gb=1,
                           extra_specs=None, ephemeral_gb=0):
        """Create a flavor through the API (sizes in GiB, memory in MiB);
        return its id."""
        flavor = self.admin_api.post_flavor({'flavor': {
            'name': 'f-' + uuid.uuid4().hex[:6], 'vcpus': vcpus,
            'ram': memory_mb, 'disk': root_gb,
            'OS-FLV-EXT-DATA:ephemeral': ephemeral_gb}})
        if extra_specs:
            self.admin_api.post_extra_spec(
                flavor['id'], {'extra_specs': extra_specs})
        return flavor['id']

    def create_port(self, vif_type='tap', vif_details=None, address=None,
                    mtu=1500):
        """A Neutron port on the worker's test subnet (see :mod:`network`),
        bound with ``vif_type`` and ``vif_details``; returns the port dict.
        """
        address = address or network.free_address()
        cidr = network.subnet()
        net = copy.deepcopy(neutron_fixture.NeutronFixture.network_1)
        subnet = copy.deepcopy(neutron_fixture.NeutronFixture.subnet_1)
        net['id'] = subnet['network_id'] = TEST_NET_ID
        net['subnets'] = [subnet['id']]
        net['mtu'] = mtu
        subnet.update(cidr=str(cidr), gateway_ip=network.gateway(),
                      allocation_pools=[{'start': str(cidr[2]),
                                         'end': str(cidr[254])}])
        self.neutron._networks[net['id']] = net
        self.neutron._subnets[subnet['id']] = subnet
        port = copy.deepcopy(neutron_fixture.NeutronFixture.port_1)
        port.update({
            'id': str(uuid.uuid4()), 'network_id': net['id'],
            'mac_address': network.mac_for(address),
            'fixed_ips': [{'ip_address': address,
                           'subnet_id': subnet['id']}],
            'binding:vif_type': vif_type,
            'binding:vif_details': dict(vif_details or {})})
        self.neutron._ports[port['id']] = port
        return port

    def create_tap_port(self, address=None):
        """A Neutron port bound as VIF type ``tap`` (routed)."""
        return self.create_port('tap', address=address)

    def record_writes(self):
        """Non-GET requests of the compute service's LXD connection."""
        writes = []
        http = self.compute.driver._session.client.api.session

        def hook(response, *args, **kwargs):
            if response.request.method != 'GET':
                path = response.request.path_url.split('?')[0]
                writes.append(f'{response.request.method} {path}')
        http.hooks['response'].append(hook)
        self.addCleanup(http.hooks['response'].remove, hook)
        return writes

    def container(self, server):
        """The pylxd instance behind a server (API dict)."""
        return self.lxd.instances.get(server['OS-EXT-SRV-ATTR:instance_name'])

    def guest_run(self, server, *argv):
        """Run argv in the guest; return stdout, failing on non-zero exit."""
        result = execute(self.container(server), list(argv))
        self.assertEqual(0, result.exit_code,
                         f'{argv} failed: {result.stderr}')
        return result.stdout


class DriverTestCase(test.NoDBTestCase):
    """LXDDriver on the real daemon, in a project of the test's own, with
    no nova service around it; glance is image_fakes' stand-in."""

    def setUp(self):
        super().setUp()
        image_file = image_path('NOVA_LXD_TEST_BUSYBOX_IMAGE')
        self.project = self.useFixture(LXDProjectFixture())
        self.flags(project=self.project.name, pool='default', group='lxd')
        self.flags(instances_path=self.useFixture(fixtures.TempDir()).path)
        self.glance = self.useFixture(image_fakes.ImageServiceFixture())
        with open(image_file, 'rb') as data:
            self.image_meta = self.glance.add(data.read())
        self.driver = lxd_driver.LXDDriver(self.virtapi())
        self.driver.init_host('compute')
        self.addCleanup(self.driver.cleanup_host, 'compute')
        self.context = nova_context.get_admin_context()

    def virtapi(self):
        """The VirtAPI the driver is made with (nova's fake by default)."""
        return fake.FakeVirtAPI()

    def instance(self, extra_specs=None, vcpus=1, memory_mb=128):
        """A nova Instance (not in any database) with its own flavor."""
        flavor = objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, root_gb=0,
                                ephemeral_gb=0, swap=0,
                                extra_specs=extra_specs or {})
        return objects.Instance(
            uuid=str(uuid.uuid4()), hostname='drv', flavor=flavor,
            config_drive='', launched_at=None, vm_state='building',
            task_state=None, image_ref=self.image_meta.id,
            id=uuid.uuid4().int % 10 ** 6, system_metadata={}, metadata={},
            project_id='p', user_id='u', key_data=None, user_data=None,
            display_name='drv', availability_zone=None)

    def spawn(self, inst, power_on=True, network_info=None,
              block_device_info=None):
        """driver.spawn as nova-compute calls it."""
        self.driver.spawn(
            self.context, inst, self.image_meta, [], None, {},
            network_model.NetworkInfo(network_info or []),
            block_device_info=block_device_info, power_on=power_on)

    def container(self, inst):
        """A fresh pylxd instance (pylxd's sync() may return old state)."""
        return self.project.client.instances.get(inst.name)

    def init_pid(self, inst):
        """PID (on the host) of the container's init process."""
        return self.container(inst).state().pid

    def record_requests(self):
        """Record every LXD request of the driver's own connection from now
        on; returns the (live) list of ``"METHOD path"`` strings."""
        requests = []
        http = self.driver._session.client.api.session

        def hook(response, *args, **kwargs):
            url = response.request.path_url.split('?')[0]
            requests.append(f'{response.request.method} {url}')
        http.hooks['response'].append(hook)
        self.addCleanup(http.hooks['response'].remove, hook)
        return requests


class StubInstanceMetadata:
    """Stands in for nova's InstanceMetadata in driver-level tests.

    nova's class reads the database and Neutron (block devices, security
    groups, keypairs), which driver-level tests do not have.  The config
    drive's real content is proven through nova's services in test_debian;
    here only the driver's handling of the tree matters.
    """
    fail_after = None  # raise OSError after this many files when set

    def __init__(self, instance, content=None, extra_md=None,
                 network_info=None, **kwargs):
        self.instance = instance

    def metadata_for_config_drive(self):
        files = [('openstack/latest/meta_data.json',
                  '{"uuid": "%s"}' % self.instance.uuid),
                 ('openstack/latest/user_data', b'#!/bin/sh\n')]
        for count, item in enumerate(files):
            if self.fail_after is not None and count >= self.fail_after:
                raise OSError(28, 'No space left on device')
            yield item


def stub_instance_metadata(test_case, fail_after=None):
    """Use StubInstanceMetadata for the rest of the test."""
    stub = type('Stub', (StubInstanceMetadata,), {'fail_after': fail_after})
    test_case.useFixture(fixtures.MonkeyPatch(
        'nova.api.metadata.base.InstanceMetadata', stub))
