"""The ``[lxd]`` configuration group of nova-compute.

Registered on nova's global CONF when this module is imported; listed for
oslo-config-generator through the ``oslo.config.opts`` entry point
``nova_lxd`` (see :func:`list_opts`).
"""
from oslo_config import cfg

import nova.conf

CONF = nova.conf.CONF

lxd_group = cfg.OptGroup(
    'lxd',
    title='LXD options',
    help='Options for the LXD compute driver '
         '(compute_driver = nova_lxd.nova.virt.lxd.LXDDriver).')

SNAP_SOCKET = '/var/snap/lxd/common/lxd/unix.socket'
APT_SOCKET = '/var/lib/lxd/unix.socket'
INCUS_SOCKET = '/var/lib/incus/unix.socket'
INCUS_RUN_SOCKET = '/run/incus/unix.socket'

lxd_opts = [
    cfg.StrOpt(
        'endpoint',
        default='',
        help=f"""
Where the LXD daemon listens.

Either the path of its unix socket, or an ``https://host:port`` URL.  Left
empty, the first socket that exists is used: ``$LXD_DIR/unix.socket`` when
nova-compute runs with ``LXD_DIR`` set, the snap path ``{SNAP_SOCKET}``,
the apt/source path ``{APT_SOCKET}``, then Incus's ``{INCUS_SOCKET}`` and
``{INCUS_RUN_SOCKET}``.  The user running nova-compute must be able to
open the socket (member of the group the daemon was started with, e.g.
``lxd``, or ``incus-admin`` for Incus).

Related options:

* ``client_cert``, ``client_key``, ``server_cert``: needed for https.
"""),
    cfg.StrOpt(
        'client_cert',
        help="""
PEM client certificate presented to an https ``endpoint``.  It must be in the
daemon's trust store (``lxc config trust add``).

Related options:

* ``endpoint``, ``client_key``
"""),
    cfg.StrOpt(
        'client_key',
        help="""
PEM private key of ``client_cert``.

Related options:

* ``client_cert``
"""),
    cfg.StrOpt(
        'server_cert',
        help="""
PEM certificate (or CA bundle) that the https ``endpoint`` must present.
Server certificates are always verified; left empty, the system CA bundle is
used.

Related options:

* ``endpoint``
"""),
    cfg.StrOpt(
        'project',
        default='nova',
        help="""
LXD project that holds every instance, profile and image of this compute
host, so that Nova only ever sees its own containers and never touches others
on the same daemon.  ``init_host`` creates it (with its own images, profiles
and storage volumes) when it is missing; nothing else is created.

Related options:

* ``pool``: must be usable from this project.
"""),
    cfg.StrOpt(
        'pool',
        default='default',
        help="""
Name of the LXD storage pool that holds instance root disks, whatever its
driver (dir, btrfs, zfs, lvm, ceph...).  It must already exist: ``init_host``
refuses to start otherwise and lists the pools that do exist.  Root disk
sizes (flavor ``root_gb``) are enforced on drivers with quotas (btrfs, zfs,
lvm, ceph); ``dir`` has none.
"""),
    cfg.IntOpt(
        'image_max_unpacked_gb',
        default=0,
        min=0,
        help="""
Largest size, in GiB, a glance image may unpack to (the sum of its archive
members' sizes, counted while it streams into LXD, before LXD unpacks it).
An image over the limit, or over the free space of ``pool``, is refused and
nothing of it is kept.  0: the free space of ``pool`` is the only limit.

Related options:

* ``pool``; glance's ``image_size_cap`` limits the compressed upload.
"""),
    cfg.IntOpt(
        'timeout',
        default=120,
        min=1,
        help="""
Seconds LXD has to answer one request once connected (the read timeout).
Background operations (create, start, stop, image import, migration...) are
waited for separately, up to ``operation_timeout``.

Related options:

* ``connect_timeout``, ``operation_timeout``
"""),
    cfg.IntOpt(
        'connect_timeout',
        default=10,
        min=1,
        help="""
Seconds to wait for a connection to LXD's socket or https endpoint.

Related options:

* ``timeout``
"""),
    cfg.IntOpt(
        'operation_timeout',
        default=3600,
        min=1,
        help="""
Seconds one LXD background operation (unpacking a large image, a long clean
shutdown, a migration) may take before the driver reports it as timed out.
The driver waits with LXD's ``/1.0/operations/<id>/wait?timeout=`` in
slices, so no single request has to last that long; the operation itself
may still finish in LXD after the driver gave up.

Related options:

* ``timeout``; ``[DEFAULT] shutdown_timeout`` (a clean stop is one
  operation)
"""),
    cfg.IntOpt(
        'soft_reboot_timeout',
        default=120,
        min=0,
        help="""
Seconds a SOFT reboot waits for the guest to shut down cleanly before it is
stopped by force.  0 makes every soft reboot a hard one.

Related options:

* ``[DEFAULT] shutdown_timeout``: the same for power off.
"""),
    cfg.ListOpt(
        'profiles',
        default=[],
        help="""
Names of extra LXD profiles (in ``project``) applied to every instance before
the instance's own configuration, e.g. for site-wide ``security.*`` or
``limits.*`` defaults.  Each must exist when an instance is created.
"""),
    cfg.BoolOpt(
        'volume_use_multipath',
        default=False,
        help="""
Connect Cinder volumes through multipath (os-brick's ``use_multipath``).
Multipath must run on the host (``multipathd``); with it set, a volume
that cannot be reached by multipath fails to attach instead of using a
single path.

Related options:

* ``volume_scan_tries``
"""),
    cfg.IntOpt(
        'volume_scan_tries',
        default=5,
        min=1,
        help="""
How many times os-brick looks for a volume's block device after connecting
it (iSCSI, FC, NVMe-oF rescans) before the attach fails.

Related options:

* ``volume_use_multipath``
"""),
    cfg.StrOpt(
        'snapshot_compression',
        help="""
Compression of the images LXD publishes for instance snapshots before they
are uploaded to Glance: one of LXD's algorithms (``gzip``, ``zstd``,
``xz``, ``bzip2``, ``none``...).  Unset, the daemon's
``images.compression_algorithm`` (gzip by default) is used.  ``none``
publishes fastest and uploads the most bytes.
"""),
    cfg.StrOpt(
        'volume_mount_dir',
        default='$state_path/lxd-volumes',
        help="""
Host directory under which the filesystems of attached Cinder volumes are
mounted (``<instance uuid>-<device>``, e.g. ``...-vdb``) before LXD binds
them into the containers.  It must be on the host's own filesystem and not
under ``[DEFAULT] instances_path``, which nova deletes recursively.

Related options:

* ``volume_use_multipath``
"""),
    cfg.StrOpt(
        'migration_client_cert',
        help="""
PEM client certificate this host presents to the LXD daemon of another host
to pull an instance from it (cold migration, resize to another host).  It
must be in the trust store of every other host's daemon (``lxc config trust
add --type client``); no password is ever used.  Unset, instances cannot
move to this host.

Related options:

* ``migration_client_key``
* the source daemon must listen on https (``core.https_address``),
  reachable from this host at ``[DEFAULT] my_ip`` when it listens on a
  wildcard address.
"""),
    cfg.FloatOpt(
        'stopped_event_delay',
        default=1.0,
        min=0.0,
        help="""
How long a "stopped" lifecycle event of an instance waits before it reaches
nova, in seconds.  A guest that reboots itself stops and is started again by
LXD a fraction of a second later; a start within this delay cancels the
stop, so that nova's power state sync does not take the reboot for a
shutdown and stop the instance for good.  Changes made behind nova's back
reach it after about this delay plus one LXD request.

Related options:

* ``[workarounds] handle_virt_lifecycle_events``: nova's switch for all
  lifecycle events.
* ``[DEFAULT] sync_power_state_interval``: the periodic sync that catches
  whatever events miss.
"""),
    cfg.StrOpt(
        'migration_client_key',
        help="""
PEM private key of ``migration_client_cert``.

Related options:

* ``migration_client_cert``
"""),
    cfg.ListOpt(
        'allowed_security_options',
        item_type=cfg.types.String(choices=[
            ('security.privileged',
             'root in the container is root on the host'),
            ('security.nesting', 'containers inside the container'),
            ('security.idmap.isolated',
             'a uid/gid range of its own for the container'),
        ]),
        default=['security.nesting', 'security.idmap.isolated'],
        help="""
LXD security options that flavors may switch on with the extra specs
``lxd:security.privileged``, ``lxd:security.nesting`` and
``lxd:security.idmap.isolated`` (``true``/``false``, parsed strictly).  A
flavor asking for an option missing here fails the boot before anything is
created.  Switching one off is always allowed.  ``security.privileged`` is
left out by default: a privileged container's root is the host's root.
Images cannot set any of them.

Related options:

* ``allowed_config_keys``, ``flavor_profiles``: the other ways a flavor
  could change a container's security.
"""),
    cfg.ListOpt(
        'allowed_config_keys',
        default=[],
        help="""
LXD instance config keys (shell-style patterns, e.g. ``linux.sysctl.*``,
``raw.lxc``) that flavors may set verbatim with an ``lxd:<key>`` extra spec,
beyond the keys the driver knows (``lxd:limits.processes`` and the
``lxd:security.*`` ones).  Empty by default: no raw keys.  LXD itself
validates the values when the container is created.  Keys the driver sets
itself (``limits.cpu``, ``limits.memory``, ``security.privileged``,
``user.*``, ``volatile.*``, ``image.*``) can never be set this way.

Related options:

* ``allowed_security_options``
"""),
    cfg.ListOpt(
        'flavor_profiles',
        default=[],
        help="""
LXD profiles (in ``project``) that flavors may add to their instances with
the extra spec ``lxd:profiles=<name>[,<name>...]``, applied after
``profiles`` and before the instance's own configuration.  Each must exist
when nova-compute starts.  Empty by default.

Related options:

* ``profiles``: profiles every instance gets.
"""),
    cfg.ListOpt(
        'allowed_kernel_modules',
        default=[],
        help="""
Kernel modules that flavors may ask LXD to load on the host before their
container starts, with the extra spec
``lxd:linux.kernel_modules=<module>[,<module>...]`` (LXD's
``linux.kernel_modules``).  Empty by default.
"""),
    cfg.MultiStrOpt(
        'host_device_set',
        default=[],
        help="""
A named set of host devices that flavors may request with the extra spec
``lxd:host_devices=<name>[,<name>...]``.  One JSON object per line (repeat
the option for more sets), with the LXD device definitions of the set
(each entry on one line in the file)::

  host_device_set = {"name": "fuse", "devices":
      {"fuse": {"type": "unix-char", "source": "/dev/fuse"}}}
  host_device_set = {"name": "kvm", "devices":
      {"kvm": {"type": "unix-char", "source": "/dev/kvm"}}}

Device types: ``unix-char``, ``unix-block``, ``unix-hotplug``, ``usb``,
``gpu`` (``gputype`` physical or mig) and ``disk`` (a host path, given
as an absolute ``source``, mounted at ``path``).  A device appears in the
container as ``hostdev-<set>-<device>``.  Only sets defined here can be
requested; images can request none.  nova-compute refuses to start with a
malformed set.

Related options:

* ``[pci] device_spec`` / ``[pci] alias``: GPUs and other PCI devices that
  nova tracks and schedules one instance at a time.
"""),
]


def register_opts(conf):
    """Register the ``[lxd]`` options on an oslo.config ConfigOpts."""
    conf.register_group(lxd_group)
    conf.register_opts(lxd_opts, group=lxd_group)


def list_opts():
    """Options for oslo-config-generator: ``[(group, [opts])]``."""
    return [(lxd_group, lxd_opts)]


register_opts(CONF)
