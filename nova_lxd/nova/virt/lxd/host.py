"""The host half of LXDDriver's facade: start-up and shut-down checks,
lifecycle events, resources and the image cache.

A mixin of :class:`nova_lxd.nova.virt.lxd.driver.LXDDriver` (it uses the
driver's session, resources, image store and event listener); like the rest
of the facade it only validates and orders.
"""
from nova.image import glance
from nova import objects
from oslo_concurrency import processutils
from oslo_log import log as logging
import psutil

from nova_lxd.nova.virt.lxd import assembly
from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import config_checks
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import local_disks

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF


class HostMixin:
    """ComputeDriver calls about the host rather than one instance."""

    def init_host(self, host):
        """Check LXD, the project, pool and profiles before taking work,
        then follow LXD's lifecycle events (see the events module).

        Running containers are not touched.

        :raises InvalidLXDOption, LXDUnreachable, LXDProjectUnavailable,
            LXDStoragePoolNotFound, LXDProfilesMissing: naming the fix.
        """
        self._nodename = host
        config_checks.check(CONF.lxd)
        info = self._session.server_info()
        if self._session.ensure_project():
            LOG.info('Created LXD project %s', CONF.lxd.project)
        pool = self._session.storage_pool(CONF.lxd.pool)
        self._assembler.set_pool_driver(pool['driver'])
        local_disks.warn_about_pool(pool)
        # A malformed device set stops nova-compute here, not at a boot.
        assembly.policy()
        missing = sorted((set(CONF.lxd.profiles) |
                          set(CONF.lxd.flavor_profiles)) -
                         set(self._session.profile_names()))
        if missing:
            raise lxd_exception.LXDProfilesMissing(
                profiles=', '.join(missing), project=CONF.lxd.project)
        env = info.get('environment', {})
        LOG.info('LXD %s at %s, project %s, storage pool %s (driver %s)',
                 env.get('server_version'), self._session.endpoint,
                 CONF.lxd.project, CONF.lxd.pool, pool['driver'])
        self._events.start()

    def cleanup_host(self, host):
        """Stop following LXD's events (nova-compute is stopping); the
        containers keep running."""
        self._events.stop()

    def get_available_nodes(self, refresh=False):
        """``[host]``: the host nova-compute gave init_host (CONF.host
        before that)."""
        return [self._nodename or CONF.host]

    def get_host_ip_addr(self):
        return CONF.my_ip

    def get_host_uptime(self):
        out, _err = processutils.execute('env', 'LANG=C', 'uptime')
        return out

    def get_host_cpu_stats(self):
        """The host's CPU counters for nova's ``cpu.virt_driver`` monitor
        (containers run on the host's kernel: its counters are theirs).

        :returns: ``{'kernel', 'idle', 'user', 'iowait'}`` in nanoseconds
            since boot (ints) and ``'frequency'``, the current frequency in
            MHz (0 where the host does not tell).
        """
        times = psutil.cpu_times()
        freq = psutil.cpu_freq()
        stats = {key: int(getattr(times, field) * 1e9)
                 for key, field in (('kernel', 'system'), ('idle', 'idle'),
                                    ('user', 'user'), ('iowait', 'iowait'))}
        stats['frequency'] = int(freq.current) if freq else 0
        return stats

    def get_available_resource(self, nodename):
        return self._resources.available_resource(nodename)

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        self._resources.update_provider_tree(provider_tree, nodename,
                                             allocations)

    # -- image cache ----------------------------------------------------------
    def cache_image(self, context, image_id):
        """Import a glance image into LXD ahead of boots (nova's image
        pre-caching, API microversion 2.81).

        :returns: True if it was imported, False if LXD had it already.
        :raises ImageNotFound, ImageUnacceptable: see
            image_store.ImageStore.ensure_image.
        """
        image_meta = objects.ImageMeta.from_image_ref(
            context, glance.API(), image_id)
        return self._images.cache(context, image_meta)

    def manage_image_cache(self, context, all_instances):
        """Delete the LXD images no instance uses any more, after nova's
        ``[image_cache]`` settings (see image_store.ImageStore.prune).

        :param all_instances: nova InstanceList of the instances on this
            host.
        """
        self._images.prune({i.image_ref for i in all_instances})
