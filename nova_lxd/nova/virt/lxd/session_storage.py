"""Storage pool and custom volume calls of :class:`session.LXDSession`.

A mixin kept apart only for size: its methods map errors with the
session's ``_errors`` (session.py stays the one place where LXD errors
become nova exceptions) and need the session's ``client`` and ``_wait``.

LXD REST API: ``/1.0/storage-pools`` and ``/1.0/storage-pools/<pool>/
volumes/custom`` (https://documentation.ubuntu.com/lxd/en/latest/rest-api/).
Volume calls act in ``[lxd] project``, whose ``features.storage.volumes``
keeps nova's volumes apart from other projects'.
"""
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import exception as lxd_exception

LOG = logging.getLogger(__name__)


class StorageCalls:
    """Blocking, error-mapped storage calls (see the module docstring)."""

    def storage_pool(self, name):
        """Return the pool's ``GET /1.0/storage-pools/<name>`` metadata.

        :raises LXDStoragePoolNotFound: naming the pools that do exist.
        """
        with self._errors('read storage pool', name):
            pools = self.client.api.storage_pools.get().json()['metadata']
            names = sorted(p.rsplit('/', 1)[-1] for p in pools)
            if name not in names:
                raise lxd_exception.LXDStoragePoolNotFound(
                    pool=name, pools=', '.join(names) or '(none)')
            return self.client.api.storage_pools[name].get().json()[
                'metadata']

    def pool_resources(self, name):
        """``GET /1.0/storage-pools/<name>/resources``: space in bytes."""
        with self._errors('read resources of storage pool', name):
            node = self.client.api.storage_pools[name].resources
            return node.get().json()['metadata']

    def custom_volume_names(self, pool):
        """Names of the project's custom volumes in ``pool``."""
        with self._errors('list custom volumes of storage pool', pool):
            urls = self.client.api.storage_pools[pool].volumes.custom.get(
            ).json()['metadata']
            return [url.rsplit('/', 1)[-1].split('?')[0] for url in urls]

    def image_volumes(self, pool):
        """Fingerprints of the image volumes LXD keeps in ``pool`` (the
        sources it clones instances from on optimised pools)."""
        with self._errors('list image volumes of storage pool', pool):
            urls = self.client.api.storage_pools[pool].volumes.image.get(
            ).json()['metadata']
            return [url.rsplit('/', 1)[-1].split('?')[0] for url in urls]

    def create_volume(self, pool, body):
        """Create a custom volume and wait for it.

        :param body: ``POST .../volumes/custom`` body (name, type,
            content_type, config with ``size``...).
        :raises LXDRequestFailed: e.g. the pool is full or the name taken.
        """
        with self._errors('create storage volume', f"{pool}/{body['name']}"):
            self._wait(self.client.api.storage_pools[pool].volumes.custom
                       .post(json=body))

    def delete_volume(self, pool, name):
        """Delete a custom volume; an already-absent one is no error.

        :raises LXDRequestFailed: e.g. an instance still uses it.
        """
        try:
            with self._errors('delete storage volume', f'{pool}/{name}',
                              LookupError()):
                self._wait(self.client.api.storage_pools[pool].volumes
                           .custom[name].delete())
        except LookupError:
            LOG.debug('Storage volume %s/%s was already deleted', pool, name)
