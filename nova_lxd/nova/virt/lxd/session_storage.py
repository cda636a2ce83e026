"""Storage calls of :class:`session.LXDSession`: pools, custom volumes,
instance snapshots and the images published from them.

A mixin kept apart only for size: its methods map errors with the
session's ``_errors`` (session.py stays the one place where LXD errors
become nova exceptions) and need the session's ``client`` and ``_wait``.

LXD REST API: ``/1.0/storage-pools`` and ``/1.0/storage-pools/<pool>/
volumes/custom`` (https://documentation.ubuntu.com/lxd/en/latest/rest-api/).
Volume calls act in ``[lxd] project``, whose ``features.storage.volumes``
keeps nova's volumes apart from other projects'.
"""
import contextlib

from nova import exception
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

    # -- instance snapshots and images made from them -----------------------
    def create_snapshot(self, name, snapshot):
        """Snapshot an instance's filesystem (not its memory), running or
        not: ``POST /1.0/instances/<name>/snapshots``.

        :raises InstanceNotFound: no such instance.
        """
        with self._errors(f'snapshot {snapshot} of', name,
                          exception.InstanceNotFound(instance_id=name)):
            self._wait(self.client.api.instances[name].snapshots.post(
                json={'name': snapshot, 'stateful': False}))

    def delete_snapshot(self, name, snapshot):
        """Delete an instance snapshot; an absent one is no error."""
        try:
            with self._errors(f'delete snapshot {snapshot} of', name,
                              LookupError()):
                self._wait(self.client.api.instances[name].snapshots[
                    snapshot].delete())
        except LookupError:
            LOG.debug('Snapshot %s/%s was already deleted', name, snapshot)

    def publish_snapshot(self, name, snapshot, properties, compression=None):
        """Make an image of an instance snapshot (``POST /1.0/images`` with
        a snapshot source); LXD writes it as a unified tarball.

        :param properties: image properties (str -> str).
        :param compression: LXD's compression algorithm (gzip, zstd,
            none...), or None for the daemon's ``images.compression_
            algorithm``.
        :returns: the new image's fingerprint.
        """
        body = {'source': {'type': 'snapshot', 'name': f'{name}/{snapshot}'},
                'properties': properties}
        if compression:
            body['compression_algorithm'] = compression
        with self._errors(f'publish snapshot {snapshot} of', name):
            response = self.client.api.images.post(json=body)
            return self._wait(response)['metadata']['fingerprint']

    @contextlib.contextmanager
    def exported_image(self, fingerprint):
        """The image's tarball as a stream (``GET /1.0/images/<fp>/
        export``), read as it comes; closed on leaving."""
        with self._errors('export image', fingerprint):
            response = self.client.api.images[fingerprint].export.get(
                stream=True)
        try:
            response.raw.decode_content = True
            yield response.raw
        finally:
            response.close()
