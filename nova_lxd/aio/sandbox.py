"""Nova's API, conductor, scheduler and compute plus placement in one process.

The services themselves are nova's real ones (``nova.service.Service`` with
the real managers, the compute manager driving the configured virt driver)
and the compute API is nova's real WSGI application on a real loopback
socket.  What surrounds them are nova's own in-process test fixtures
(``nova.tests.fixtures``, ``nova.tests.functional.fixtures``):

* messaging: ``RPCFixture``, oslo.messaging's in-memory ``fake://`` driver;
* databases: ``Database`` (API) and ``CellDatabases`` (cell0, cell1):
  temporary sqlite files, cell switching patched in ``nova.context``;
* placement: ``PlacementFixture``, placement's WSGI app reached in-process
  through wsgi-intercept, its own sqlite database;
* neutron, glance, cinder: ``NeutronFixture``, ``GlanceFixture`` (images
  kept in memory), ``CinderFixture``: stand-ins for nova's client calls.

Those fixtures take a test case (``test.stub_out``, ``test.flags``...);
:class:`Sandbox` is itself a ``fixtures.Fixture`` and offers those few
methods, so every patch they make is undone when the sandbox is cleaned up.
"""
import os

import fixtures
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import uuidutils

from nova.api.openstack import wsgi_app
from nova.api import wsgi as nova_wsgi
from nova.compute import flavors
from nova.compute import rpcapi as compute_rpcapi
from nova import context as nova_context
from nova import objects
from nova.objects import host_mapping
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional import fixtures as func_fixtures

from nova_lxd.aio import httpserver
from nova_lxd.aio import network

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

CELL1_UUID = 'a10ce11a-0000-4000-8000-000000000001'
FAKE_TRANSPORT = 'fake://nowhere/'


class Sandbox(fixtures.Fixture):
    """All nova services of one compute host, serving the compute API.

    ``configure`` (:func:`nova_lxd.aio.conf.configure`) must have run.
    ``setUp()`` starts everything; ``cleanUp()`` stops it and undoes every
    patch.  Nothing outside the process is touched except by the compute
    driver itself.
    """

    def __init__(self, port=8774, host='127.0.0.1', vif_type='ovs'):
        super().__init__()
        self._listen = (host, port)
        self._vif_type = vif_type
        self.services = {}
        self.cells = {}
        self.api = self.glance = self.neutron = None

    # -- the part of a test case that nova's fixtures use ---------------
    def id(self):
        """Name used by fixtures that label their work with a test id."""
        return 'nova-lxd-aio'

    def stub_out(self, old, new):
        """Replace ``old`` (a dotted name) by ``new`` until cleanup."""
        self.useFixture(fixtures.MonkeyPatch(old, new))

    def flags(self, **kw):
        """Override options (of ``group``, if given) until cleanup."""
        self.useFixture(nova_fixtures.ConfPatcher(**kw))

    # -- start ------------------------------------------------------------
    def _setUp(self):
        objects.register_all()
        self.useFixture(nova_fixtures.OpenStackSDKFixture())
        self.useFixture(nova_fixtures.RPCFixture())
        self.useFixture(nova_fixtures.Database(database='api'))
        self._setup_cells()
        self.useFixture(func_fixtures.PlacementFixture())
        self._setup_stand_ins()
        self.flags(transport_url=FAKE_TRANSPORT)
        for name in ('conductor', 'scheduler'):
            self._start(name)
        self._start('compute', host=CONF.host, cell=self.cells['cell1'],
                    topic_alt=compute_rpcapi.RPC_TOPIC_ALT)
        host_mapping.discover_hosts(nova_context.get_admin_context())
        self._start_api()

    def _setup_cells(self):
        ctxt = nova_context.get_admin_context()
        celldbs = nova_fixtures.CellDatabases()
        for name, uuid in (('cell0', objects.CellMapping.CELL0_UUID),
                           ('cell1', CELL1_UUID)):
            cell = objects.CellMapping(
                context=ctxt, uuid=uuid, name=name,
                transport_url=FAKE_TRANSPORT, database_connection=uuid)
            cell.create()
            self.cells[name] = cell
            celldbs.add_cell_database(uuid, default=(name == 'cell1'))
        self.useFixture(celldbs)

    def _setup_stand_ins(self):
        self.neutron = self.useFixture(nova_fixtures.NeutronFixture(self))
        network.register(self.neutron, self._vif_type)
        self.useFixture(nova_fixtures.CinderFixture(self))
        self.glance = self.useFixture(nova_fixtures.GlanceFixture(self))
        self.glance.images.clear()  # the fixture's sample images

    def _start(self, name, **kwargs):
        LOG.info('Starting nova-%s', name)
        # nova's Manager.periodic_tasks returns None during a graceful
        # shutdown; without a maximum the looping call then logs an ERROR.
        kwargs.setdefault('periodic_interval_max', 60)
        svc = self.useFixture(nova_fixtures.ServiceFixture(name, **kwargs))
        self.services[name] = svc.service
        return svc.service

    def _start_api(self):
        app = nova_wsgi.Loader().load_app('osapi_compute')
        wsgi_app._setup_service(CONF.host, 'osapi_compute')
        self.api = httpserver.APIServer(app, *self._listen)
        self.api.start()
        self.addCleanup(self.api.stop)
        LOG.info('Compute API listening on %s', self.api.url)

    # -- stop -------------------------------------------------------------
    def destroy_servers(self):
        """Destroy this host's instances with the compute driver.

        Purging the LXD project removes containers but not the host side of
        their ports (OVS ports, veths); the driver's ``destroy`` unplugs
        those as a server delete would.

        :returns: names of the instances destroyed.
        """
        ctxt = nova_context.get_admin_context()
        driver = self.services['compute'].manager.driver
        names = []
        for instance in objects.InstanceList.get_by_host(ctxt, CONF.host):
            driver.destroy(ctxt, instance, instance.get_network_info(),
                           destroy_disks=True)
            names.append(instance.name)
        return names

    # -- content ------------------------------------------------------------
    def add_image(self, path, name=None, image_id=None):
        """Register the file ``path`` in the Glance stand-in (held in memory).

        :returns: the image id.
        """
        meta = {
            'id': image_id or uuidutils.generate_uuid(),
            'name': name or os.path.basename(path),
            'disk_format': 'raw', 'container_format': 'bare',
            'status': 'active', 'visibility': 'public', 'is_public': True,
            'size': os.path.getsize(path), 'min_ram': 0, 'min_disk': 0,
            'protected': False, 'deleted': False, 'deleted_at': None,
            'tags': [], 'properties': {},
        }
        with open(path, 'rb') as data:
            image = self.glance.create(None, meta, data=data)
        return image['id']

    def add_flavor(self, name, vcpus, memory_mb, root_gb):
        """Create a public flavor; its flavor id is its name.

        :returns: the flavor id.
        """
        return flavors.create(name, memory_mb, vcpus, root_gb,
                              flavorid=name).flavorid
