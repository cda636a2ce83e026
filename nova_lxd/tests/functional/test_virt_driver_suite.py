"""nova's generic virt driver suite against LXDDriver on the real daemon.

``nova.tests.unit.virt.test_virt_drivers._VirtDriverTestCase`` is what
nova runs against each in-tree driver.  Here it runs against LXDDriver with
real containers, in an LXD project of the test's own, with these
deviations from how nova runs it for libvirt:

* No fakelibvirt (``_setup_fakelibvirt`` is replaced): LibvirtFixture and
  LibvirtImageBackendFixture concern libvirt only, and OSBrickFixture would
  fake the os-brick calls the driver makes for volumes.  os-brick and the
  driver's own privsep run in the (root) test process, on the real host.
* nova's GlanceFixture stays (the suite creates snapshot images through
  it), but the image every test instance boots (``image4``, the
  ``image_ref`` of ``get_test_instance``) holds the busybox root tarball
  and is registered raw/bare, the only format a container boots; a
  snapshot's upload is stored as glance would.
* The test flavor has no swap: a container has no disk of its own to swap
  to and the driver refuses a swap disk by design (disks.check_disks).
* The suite's OVS port is plugged on the test OVS's ML2 bridge instead of
  ``br0`` (which does not exist here; the driver refuses a missing
  integration bridge by design), with a port id of the test's own so that
  the host devices named after it (``tap<id>``) do not collide between
  concurrent tests, the device name nova's Neutron API always sets and
  the bridge's datapath type in the port's details (without it os-vif
  switches the bridge to the kernel datapath, which breaks it on this
  machine).
* The volume tests attach a real volume (a loop device, os-brick's
  ``local`` connector) instead of libvirt's ``fake`` volume driver, which
  os-brick does not know.

The suite's ``catch_notimplementederror`` would count a NotImplementedError
of the driver as a pass: here it fails the test, and what the driver does
not do is skipped with the reason (:data:`NOT_FOR_CONTAINERS`).
"""
import types
import uuid

import fixtures
from nova.network import model as network_model
from nova import test
from nova.tests.unit import fake_block_device
from nova.tests.unit import utils as test_utils
from nova.tests.unit.virt import test_virt_drivers
import os_brick.privileged

from nova.virt import block_device as driver_block_device
from nova import objects
import nova_lxd.privsep
from nova_lxd.nova.virt.lxd import lifecycle
from nova_lxd.tests.functional import base
from nova_lxd.tests.functional import ovs
from nova_lxd.tests.functional import test_volumes

#: ``get_test_instance``'s image_ref: ``image4`` of nova's GlanceFixture.
TEST_IMAGE_ID = 'cedef40a-ed67-4d10-800e-17455edce175'

_NO_LIVE = lifecycle.NO_LIVE_MIGRATION
_NOT_NEEDED = ("nova's compute manager does without it (libvirt does not "
               'implement it either)')
#: Suite tests of what the driver does not do, and why (the support
#: matrix, doc/source/support-matrix.rst, says the same).
NOT_FOR_CONTAINERS = {
    'test_live_migration': _NO_LIVE,
    'test_live_migration_abort': _NO_LIVE,
    'test_live_migration_force_complete': _NO_LIVE,
    'test_get_instance_disk_info': 'used by live migration only: ' + _NO_LIVE,
    'test_get_vnc_console': 'a system container has no framebuffer',
    'test_get_spice_console': 'a system container has no framebuffer',
    'test_get_mks_console': 'a system container has no framebuffer',
    'test_trigger_crash_dump': ('it sends an NMI to a guest kernel; a '
                                "container runs on the host's kernel"),
    'test_swap_volume': ('a live swap needs a block layer between the guest '
                         'and the volume; a container writes to the '
                         'mounted filesystem'),
    'test_get_instance_diagnostics': (
        "nova's 2.48 diagnostics admit only the drivers libvirt, xenapi, "
        'vmwareapi, ironic and hyperv (the pre-2.48 ones work)'),
    'test_get_serial_console': ("not yet: LXD's console websocket is not "
                                "proxied to nova's serial console service"),
    'test_block_stats': ('not yet: per-volume I/O counters for nova\'s '
                         'volume usage audit'),
    'test_get_volume_connector': (
        "this host has no iSCSI initiator name, so os-brick's connector "
        'properties have no "initiator" (the suite requires one)'),
    'test_get_volume_connector_storage_ip': (
        "this host has no iSCSI initiator name, so os-brick's connector "
        'properties have no "initiator" (the suite requires one)'),
    'test_set_admin_password': (
        'the busybox test image has no chpasswd (the driver then raises '
        'SetAdminPasswdNotSupported: test_driver); test_debian sets a '
        'password for real'),
    'test_soft_delete': _NOT_NEEDED,
    'test_restore_running': _NOT_NEEDED,
    'test_restore_soft_deleted': _NOT_NEEDED,
    'test_get_device_name_for_instance': _NOT_NEEDED,
    'test_poll_rebooting_instances': _NOT_NEEDED,
    'test_set_host_enabled': _NOT_NEEDED,
    'test_host_power_action_reboot': _NOT_NEEDED,
    'test_host_power_action_shutdown': _NOT_NEEDED,
    'test_host_power_action_startup': _NOT_NEEDED,
}


class LXDDriverSuiteTest(test_virt_drivers._VirtDriverTestCase,
                         test.TestCase):
    """_VirtDriverTestCase (it needs the database: its instances are
    created in it) with LXDDriver on the real daemon."""

    driver_module = 'nova_lxd.nova.virt.lxd.driver.LXDDriver'

    def _setup_fakelibvirt(self):
        # Called by the suite's setUp after nova's base setUp and before
        # the driver is made: the LXD set-up goes here instead.
        self.saved_libvirt = None  # read by _teardown_fakelibvirt
        image_file = base.image_path('NOVA_LXD_TEST_BUSYBOX_IMAGE')
        with open(image_file, 'rb') as data:
            self.image_data = data.read()
        base.allow_host_reads(self)
        for context in (os_brick.privileged.default,
                        nova_lxd.privsep.storage_pctxt):
            self.useFixture(fixtures.MockPatchObject(
                context, 'client_mode', False))
        self.useFixture(ovs.OVSFixture(self, ovs.ML2_BRIDGE))
        self.datapath_type = ovs.vsctl('get', 'Bridge', ovs.ML2_BRIDGE,
                                       'datapath_type')
        self.addCleanup(self._check_bridge)
        self.port_id = str(uuid.uuid4())
        # After the project's purge: the suite destroys few instances.
        self.addCleanup(ovs.remove_port_devices, self.port_id)
        self._adapt_test_utils()
        # Cleaned up after the driver and its containers.
        self.project = self.useFixture(base.LXDProjectFixture())
        self.flags(project=self.project.name, pool='default', group='lxd')

    def _adapt_test_utils(self):
        """No swap in the test flavor; the test port on the ML2 bridge,
        with an id of the test's own and its device name as nova's Neutron
        API always gives it (see the module docstring)."""
        get_test_flavor = test_utils.get_test_flavor
        get_test_network_info = test_utils.get_test_network_info

        def flavor(context=None, options=None):
            return get_test_flavor(context, dict(options or {}, swap=0))

        def network_info(count=1):
            info = get_test_network_info(count)
            for vif in info:
                vif['id'] = self.port_id
                vif['devname'] = (
                    'tap' + self.port_id)[:network_model.NIC_NAME_LEN]
                vif['network']['bridge'] = ovs.ML2_BRIDGE
                # As Neutron's OVS agent reports it.  Without it os-vif
                # plugs for the kernel datapath and switches the (shared)
                # bridge to it, breaking it where there is none.
                vif['details'][network_model.VIF_DETAILS_OVS_DATAPATH_TYPE] = (
                    self.datapath_type)
            return info

        self.stub_out('nova.tests.unit.utils.get_test_flavor', flavor)
        self.stub_out('nova.tests.unit.utils.get_test_network_info',
                      network_info)

    def _check_bridge(self):
        """Fail (after putting it back) if the shared test bridge lost its
        datapath type."""
        now = ovs.vsctl('get', 'Bridge', ovs.ML2_BRIDGE, 'datapath_type')
        if now != self.datapath_type:
            ovs.vsctl('set', 'Bridge', ovs.ML2_BRIDGE,
                      f'datapath_type={self.datapath_type}')
            raise AssertionError(f'{ovs.ML2_BRIDGE} datapath_type changed '
                                 f'from {self.datapath_type} to {now}')

    def setUp(self):
        if self._testMethodName in NOT_FOR_CONTAINERS:
            self.skipTest(NOT_FOR_CONTAINERS[self._testMethodName])
        super().setUp()
        # The suite's test without catch_notimplementederror around it.
        method = getattr(type(self), self._testMethodName)
        if hasattr(method, '__wrapped__'):
            setattr(self, self._testMethodName,
                    types.MethodType(method.__wrapped__, self))
        glance = self.image_service
        glance.images[TEST_IMAGE_ID].update(
            disk_format='raw', container_format='bare',
            size=len(self.image_data))
        glance._imagedata[TEST_IMAGE_ID] = self.image_data
        fixture_update = glance.update

        def update(context, image_id, metadata, data=None,
                   purge_props=False):
            # nova's GlanceFixture drops the data of an upload.
            if data is not None:
                glance._imagedata[image_id] = (
                    data.read() if hasattr(data, 'read') else b''.join(data))
            return fixture_update(context, image_id, metadata,
                                  purge_props=purge_props)
        glance.update = update
        self.connection.init_host('myhostname')
        self.addCleanup(self.connection.cleanup_host, 'myhostname')

    # -- inputs changed (see the module docstring) ---------------------------
    def volume(self):
        return self.useFixture(test_volumes.LoopVolume()).connection_info()

    def test_attach_detach_volume(self):
        instance_ref, network_info = self._get_running_instance()
        connection_info = self.volume()
        self.assertIsNone(self.connection.attach_volume(
            None, connection_info, instance_ref, '/dev/sdb'))
        self.assertIsNone(self.connection.detach_volume(
            self.ctxt, connection_info, instance_ref, '/dev/sdb'))

    def test_attach_detach_different_power_states(self):
        instance_ref, network_info = self._get_running_instance()
        connection_info = self.volume()
        self.connection.power_off(instance_ref)
        self.connection.attach_volume(None, connection_info, instance_ref,
                                      '/dev/sdb')
        bdm = {
            'root_device_name': None, 'swap': None, 'ephemerals': [],
            'block_device_mapping': driver_block_device.convert_volumes([
                objects.BlockDeviceMapping(
                    self.ctxt, **fake_block_device.FakeDbBlockDeviceDict({
                        'id': 1, 'instance_uuid': instance_ref['uuid'],
                        'device_name': '/dev/sdb', 'source_type': 'volume',
                        'destination_type': 'volume',
                        'delete_on_termination': False, 'snapshot_id': None,
                        'volume_id': connection_info['serial'],
                        'volume_size': None, 'no_device': None}))])}
        bdm['block_device_mapping'][0]['connection_info'] = connection_info
        self.stub_out('nova.virt.block_device.DriverVolumeBlockDevice.save',
                      lambda *args, **kwargs: None)
        self.connection.power_on(self.ctxt, instance_ref, network_info, bdm)
        self.connection.detach_volume(self.ctxt, connection_info,
                                      instance_ref, '/dev/sdb')
