"""Configuration of the sandbox: nova's global CONF, set in code.

No nova.conf file is read.  Everything the services write (state, instance
directories, locks, sqlite databases, the paste file, the log) goes below one
temporary directory.
"""
import configparser
import os
import sys

from oslo_config import cfg
from oslo_log import log as logging

from nova import config as nova_config

CONF = cfg.CONF

LXD_DRIVER = 'nova_lxd.nova.virt.lxd.LXDDriver'
FAKE_DRIVER = 'fake.SmallFakeDriver'
HOST = 'aio-compute'
LXD_PROJECT = 'nova-aio'
LXD_POOL = 'default'


def installed_paste_file():
    """Path of the api-paste.ini that nova installed into this venv."""
    return os.path.join(sys.prefix, 'etc', 'nova', 'api-paste.ini')


def write_paste_file(workdir, source=None):
    """Write the compute API paste file without keystone token validation.

    nova 34 has no ``noauth2`` pipeline any more: its only pipeline is
    ``... authtoken keystonecontext ...``.  The sandbox drops ``authtoken``
    (keystonemiddleware, which would need a Keystone), so
    ``keystonecontext`` builds the request context from the identity headers
    a client sends (``X-User-Id``, ``X-Project-Id``, ``X-Roles``), which
    keystonemiddleware would otherwise set after validating a token.

    :returns: the path of the new paste file.
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(source or installed_paste_file())
    for section in parser.sections():
        if parser.has_option(section, 'keystone'):
            stages = parser.get(section, 'keystone').split()
            parser.set(section, 'keystone',
                       ' '.join(s for s in stages if s != 'authtoken'))
    path = os.path.join(workdir, 'api-paste.ini')
    with open(path, 'w') as out:
        parser.write(out)
    return path


def _dirs(workdir):
    paths = {name: os.path.join(workdir, name)
             for name in ('state', 'instances', 'locks')}
    for path in paths.values():
        os.makedirs(path, exist_ok=True)
    return paths


def configure(workdir, driver=LXD_DRIVER, log_file=None, debug=False,
              ovsdb=None, pool=LXD_POOL):
    """Parse an empty command line into nova's CONF and set the sandbox's
    options.  Call once per process, before any service starts.

    :param workdir: existing directory for everything the services write.
    :param driver: ``compute_driver`` value.
    :param log_file: file for the services' log (None: stderr).
    :param ovsdb: OVSDB connection for os-vif (``ovs`` ports), or None.
    :param pool: ``[lxd] pool``.
    """
    nova_config.parse_args([sys.argv[0]], default_config_files=[],
                           configure_db=False, init_rpc=False)
    paths = _dirs(workdir)
    overrides = {
        None: dict(compute_driver=driver, host=HOST, my_ip='127.0.0.1',
                   force_config_drive=True, state_path=paths['state'],
                   instances_path=paths['instances'], debug=debug,
                   log_file=log_file, use_stderr=log_file is None,
                   manager_shutdown_timeout=0, max_concurrent_snapshots=10,
                   # Containers share the host's cores (limits.cpu caps
                   # each): 10 one-vCPU servers fit on a 2-core host, as
                   # tools/cloud's compute does.
                   cpu_allocation_ratio=16.0),
        'wsgi': dict(api_paste_config=write_paste_file(workdir)),
        'oslo_concurrency': dict(lock_path=paths['locks']),
        'api_database': dict(connection='sqlite://'),
        'database': dict(connection='sqlite://'),
        'key_manager': dict(
            backend='nova.keymgr.conf_key_mgr.ConfKeyManager'),
    }
    for group, values in overrides.items():
        for name, value in values.items():
            CONF.set_override(name, value, group)
    if driver != FAKE_DRIVER:
        _configure_lxd(pool)
        if ovsdb:
            configure_os_vif(ovsdb)
    logging.setup(CONF, 'nova')


def configure_os_vif(ovsdb):
    """os-vif on the OVS database ``ovsdb`` (e.g.
    ``unix:/var/run/openvswitch/db.sock``); privsep daemons started by
    privsep-helper directly (as root: no sudo in front).  Used by the
    sandbox and the benchmarks."""
    import os_vif
    import vif_plug_ovs.privsep  # noqa: F401 registers its privsep options

    import nova_lxd.privsep  # noqa: F401 likewise
    os_vif.initialize()  # registers [os_vif_ovs]
    CONF.set_override('ovsdb_connection', ovsdb, 'os_vif_ovs')
    os_vif.initialize(reset=True)  # plugins read their options on load
    helper = os.path.join(sys.prefix, 'bin', 'privsep-helper')
    for group in ('vif_plug_ovs_privileged', 'nova_lxd_privileged',
                  'nova_lxd_storage'):
        CONF.set_override('helper_command', helper, group)


def _configure_lxd(pool):
    """Set ``[lxd] project`` and ``pool`` when the driver's options exist."""
    from nova_lxd.nova.virt.lxd import conf as lxd_conf  # registers [lxd]
    lxd_conf.CONF.set_override('project', LXD_PROJECT, 'lxd')
    lxd_conf.CONF.set_override('pool', pool, 'lxd')
