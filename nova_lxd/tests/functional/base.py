"""Functional test base: nova's in-process services + the real LXD daemon.

Each test class runs in an LXD project of its own, created here and deleted
with everything in it afterwards.  Images are the tarballs built by
``tools/lib/build-images.sh``, found through ``NOVA_LXD_TEST_BUSYBOX_IMAGE``
and ``NOVA_LXD_TEST_DEBIAN_IMAGE`` (``tools/run-tests`` sets both).
"""
import copy
import os
import random
import socket
import struct
import sys
import unittest
import uuid

import fixtures
from nova.tests.fixtures import neutron as neutron_fixture
from nova.tests.functional import integrated_helpers
import pylxd

TEST_NET_CIDR = '192.168.77.0/24'
TEST_NET_ID = '5b4f6a0e-77ad-4b2e-9a7e-0000000000a7'


def image_path(variable):
    """Path of a test image from the environment, or skip the test."""
    path = os.environ.get(variable)
    if not path or not os.path.exists(path):
        raise unittest.SkipTest(
            f'{variable} not set or missing; run tools/run-tests')
    return path


class LXDProjectFixture(fixtures.Fixture):
    """A throwaway LXD project, emptied and deleted on cleanup."""

    def _setUp(self):
        self.name = 'nova-lxd-ft-' + uuid.uuid4().hex[:8]
        self.admin = pylxd.Client()
        self.client = pylxd.Client(project=self.name)
        self.addCleanup(self._delete)

    def names(self):
        """Names of the instances in the project."""
        return sorted(i.name.split('?')[0]
                      for i in self.client.instances.all())

    def _delete(self):
        if not self.admin.projects.exists(self.name):
            return
        api = self.client.api
        for inst in self.client.instances.all():
            if inst.status != 'Stopped':
                inst.stop(force=True, wait=True)
            inst.delete(wait=True)
        for image in self.client.images.all():
            image.delete(wait=True)
        for url in api.profiles.get().json()['metadata']:
            name = url.rsplit('/', 1)[-1].split('?')[0]
            if name != 'default':
                api.profiles[name].delete()
        self.admin.api.projects[self.name].delete()


class LXDTestCase(integrated_helpers._IntegratedTestBase):
    """Nova API, conductor, scheduler, placement and a compute service
    running LXDDriver on the real daemon, in a project of the test's own.
    """
    ADMIN_API = True
    microversion = 'latest'
    IMAGE_ENV = 'NOVA_LXD_TEST_BUSYBOX_IMAGE'

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
        self.flags(project=self.project.name, pool='default', group='lxd')
        self.flags_instances_path = self.useFixture(fixtures.TempDir()).path
        self.flags(instances_path=self.flags_instances_path)
        return super()._setup_compute_service()

    def _wait_for_state_change(self, server, expected_status,
                               max_retries=240, wait_for_fault_key=True):
        # nova's default (5 s) suits its fake driver; real containers, and a
        # first boot that imports an image, take longer on a busy machine.
        return super()._wait_for_state_change(
            server, expected_status, max_retries, wait_for_fault_key)

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
                           extra_specs=None):
        """Create a flavor through the API; return its id."""
        flavor = self.admin_api.post_flavor({'flavor': {
            'name': 'f-' + uuid.uuid4().hex[:6], 'vcpus': vcpus,
            'ram': memory_mb, 'disk': root_gb}})
        if extra_specs:
            self.admin_api.post_extra_spec(
                flavor['id'], {'extra_specs': extra_specs})
        return flavor['id']

    @staticmethod
    def free_test_address():
        """An address of the test subnet no host route uses yet.

        Tests run in parallel and LXD adds a host route per routed address,
        so two guests must never share one.
        """
        with open('/proc/net/route') as routes:
            next(routes)
            destinations = (int(line.split()[1], 16) for line in routes)
            used = {socket.inet_ntoa(struct.pack('<I', d))
                    for d in destinations}
        free = [f'192.168.77.{n}' for n in range(2, 255)
                if f'192.168.77.{n}' not in used]
        return random.choice(free)

    def create_tap_port(self, address=None):
        """A Neutron port bound as VIF type ``tap`` on the test network."""
        address = address or self.free_test_address()
        suffix = int(address.rsplit('.', 1)[1])
        net = copy.deepcopy(neutron_fixture.NeutronFixture.network_1)
        subnet = copy.deepcopy(neutron_fixture.NeutronFixture.subnet_1)
        net['id'] = subnet['network_id'] = TEST_NET_ID
        net['subnets'] = [subnet['id']]
        subnet.update(cidr=TEST_NET_CIDR, gateway_ip='192.168.77.1',
                      allocation_pools=[{'start': '192.168.77.2',
                                         'end': '192.168.77.254'}])
        self.neutron._networks[net['id']] = net
        self.neutron._subnets[subnet['id']] = subnet
        port = copy.deepcopy(neutron_fixture.NeutronFixture.port_1)
        port.update({
            'id': str(uuid.uuid4()), 'network_id': net['id'],
            'mac_address': 'fa:16:3e:77:00:%02x' % suffix,
            'fixed_ips': [{'ip_address': address,
                           'subnet_id': subnet['id']}],
            'binding:vif_type': 'tap', 'binding:vif_details': {}})
        self.neutron._ports[port['id']] = port
        return port

    def container(self, server):
        """The pylxd instance behind a server (API dict)."""
        return self.lxd.instances.get(server['OS-EXT-SRV-ATTR:instance_name'])

    def guest_run(self, server, *argv):
        """Run argv in the guest; return stdout, failing on non-zero exit."""
        result = self.container(server).execute(list(argv))
        self.assertEqual(0, result.exit_code,
                         f'{argv} failed: {result.stderr}')
        return result.stdout
