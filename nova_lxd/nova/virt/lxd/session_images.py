"""Image calls of :class:`session.LXDSession`: the project's image store.

LXD images API: https://documentation.ubuntu.com/lxd/en/latest/rest-api/
(``/1.0/images``, ``/1.0/images/aliases``).  A mixin kept apart only for
size, like session_storage; errors become nova exceptions here.
"""
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import exception as lxd_exception

LOG = logging.getLogger(__name__)

# LXD's words for a known fingerprint: its check's, its database's (race).
_DUPLICATE_IMAGE = ('already exists', 'UNIQUE constraint failed: images.')


class ImageCalls:
    """The project's images (see the module docstring)."""

    def list_images(self):
        """All images of the project in one request (recursion=1).

        :returns: list of dicts with at least ``fingerprint``, ``aliases``
            (``[{'name', 'description'}]``), ``uploaded_at`` and
            ``last_used_at`` (RFC 3339 strings; LXD's zero time
            ``0001-01-01T00:00:00Z`` for an image never used).
        """
        with self._errors('list images of project', self._opts.project):
            return self.client.api.images.get(
                params={'recursion': 1}).json()['metadata']

    def image_by_alias(self, alias):
        """Return the image fingerprint behind ``alias``, or None."""
        try:
            with self._errors('read image alias', alias, LookupError()):
                node = self.client.api.images.aliases[alias]
                return node.get().json()['metadata']['target']
        except LookupError:
            return None

    def upload_image(self, body, content_type, name):
        """``POST /1.0/images`` of an image streamed from ``body``.

        :param body: iterable of bytes, sent with chunked transfer encoding
            (a unified tarball, or image_format.multipart_body).
        :param content_type: ``application/octet-stream`` or the multipart
            type with its boundary.
        :param name: what the image is, for error messages.
        :returns: the fingerprint LXD gave the image.
        :raises LXDImageExists: an image with the same fingerprint exists
            (LXD says so, or, when two uploads of it finish together, its
            database refuses the second).
        :raises LXDRequestFailed: e.g. LXD cannot unpack it.
        """
        try:
            with self._errors('import image', name):
                response = self.client.api.images.post(
                    data=body, headers={'Content-Type': content_type})
                return self._wait(response)['metadata']['fingerprint']
        except lxd_exception.LXDRequestFailed as e:
            if not any(text in str(e) for text in _DUPLICATE_IMAGE):
                raise
            raise lxd_exception.LXDImageExists(
                action='import image', target=name, error=e) from e

    def image_exists(self, fingerprint):
        """True if the project holds the image with this full fingerprint."""
        try:
            with self._errors('read image', fingerprint, LookupError()):
                self.client.api.images[fingerprint].get()
                return True
        except LookupError:
            return False

    def add_image_alias(self, fingerprint, alias, description):
        """Alias an image already in the store.

        :raises LXDRequestFailed: e.g. the alias exists already.
        """
        body = {'name': alias, 'target': fingerprint,
                'description': description}
        with self._errors('create image alias', alias):
            self.client.api.images.aliases.post(json=body)

    def delete_image(self, fingerprint):
        """Delete an image; an already-absent one is no error."""
        try:
            with self._errors('delete image', fingerprint, LookupError()):
                self._wait(self.client.api.images[fingerprint].delete())
        except LookupError:
            LOG.debug('Image %s was already deleted', fingerprint)
