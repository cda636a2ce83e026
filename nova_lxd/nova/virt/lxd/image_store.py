"""Glance images -> the LXD image store of this host.

Each glance image is imported once per host and aliased by its glance image
id; instances are created from that alias.  The image is downloaded to a
staging file, classified (:mod:`image_format`: a root tarball gets a
metadata tarball written for it, a unified tarball goes as it is) and
uploaded; concurrent boots of one image import it once.
"""
import contextlib
import os
import tempfile
import time

from nova.virt import images
from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import excutils
from oslo_utils import fileutils

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import image_format

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

LOCK_PREFIX = 'nova-lxd-image-'


def staging_dir():
    """``[lxd] image_staging_dir`` or ``instances_path``, created if needed."""
    path = CONF.lxd.image_staging_dir or CONF.instances_path
    os.makedirs(path, exist_ok=True)
    return path


@contextlib.contextmanager
def _downloaded(context, image_id):
    """Download a glance image to a temporary file; yield its path.

    The file is removed on leaving, whatever happens.
    """
    fd, path = tempfile.mkstemp(prefix=f'{image_id}.', suffix='.download',
                                dir=staging_dir())
    os.close(fd)
    try:
        start = time.monotonic()
        images.fetch(context, image_id, path)
        LOG.debug('Downloaded image %s (%d bytes) in %.2f s', image_id,
                  os.path.getsize(path), time.monotonic() - start)
        yield path
    finally:
        fileutils.delete_if_exists(path)


def _created_at(image_meta):
    """The glance image's creation time in epoch seconds (now if unknown)."""
    created = image_format.meta_field(image_meta, 'created_at')
    return created.timestamp() if created else time.time()


class ImageStore:
    """Keeps the glance images of this host's instances in LXD."""

    def __init__(self, session):
        """:param session: the host's LXDSession."""
        self._session = session

    def ensure_image(self, context, image_meta):
        """Make sure LXD holds the glance image; import it if needed.

        Concurrent calls for the same image import it once; calls for
        different images do not wait for each other.

        :param context: nova RequestContext (for glance).
        :param image_meta: nova.objects.ImageMeta of the instance's image.
        :returns: the LXD image alias to create the instance from (the
            glance image id).
        :raises ImageUnacceptable: the image is no root filesystem tarball
            (nothing is created in LXD then).
        :raises ImageNotFound: glance has no such image.
        :raises LXDRequestFailed, LXDUnreachable: LXD refused or is gone;
            an image uploaded before the failure is deleted again.
        """
        image_format.check_glance_format(image_meta)
        alias = image_meta.id
        if self._session.image_by_alias(alias) is None:
            with lockutils.lock(LOCK_PREFIX + alias):
                # Another boot may have imported it while this one waited.
                if self._session.image_by_alias(alias) is None:
                    self._import(context, image_meta)
        return alias

    def _import(self, context, image_meta):
        with _downloaded(context, image_meta.id) as path:
            kind = image_format.inspect_tarball(path, image_meta.id)
            metadata = None
            if kind == image_format.ROOTFS:
                metadata = self._metadata(context, image_meta)
            self._upload(path, metadata, image_meta)

    def _metadata(self, context, image_meta):
        arch = image_meta.properties.get('hw_architecture')
        architecture = (image_format.lxd_architecture(arch) if arch
                        else self._session.architecture())
        # ImageMetaProps has no os_version field: only glance still has it.
        glance_image = images.get_info(context, image_meta.id)
        os_version = (glance_image.get('properties') or {}).get('os_version')
        return image_format.metadata_tarball(
            image_meta, architecture, _created_at(image_meta), os_version)

    def _upload(self, path, metadata, image_meta):
        fingerprint = image_format.lxd_fingerprint(path, metadata)
        # Glance images with the same bytes share one LXD image: without
        # this lock the roll back of one could delete the other's upload.
        with lockutils.lock(LOCK_PREFIX + fingerprint):
            self._upload_new(path, metadata, image_meta, fingerprint)

    def _upload_new(self, path, metadata, image_meta, fingerprint):
        alias = image_meta.id
        name = image_format.meta_field(image_meta, 'name') or alias
        description = f'{name} (glance image {alias})'
        if self._session.image_exists(fingerprint):
            # Left by an import that died before its alias, or the same
            # bytes under another glance id: uploading again would fail.
            LOG.info('Image %s: aliasing LXD image %s, which has the same '
                     'content', alias, fingerprint)
            self._session.add_image_alias(fingerprint, alias, description)
            return
        start = time.monotonic()
        try:
            with open(path, 'rb') as rootfs:
                uploaded = self._session.import_image(
                    rootfs, metadata, alias, description)
        except Exception:
            with excutils.save_and_reraise_exception():
                self._roll_back(fingerprint, alias)
        if uploaded != fingerprint:
            LOG.warning('LXD gave image %s fingerprint %s, expected %s',
                        alias, uploaded, fingerprint)
        LOG.info('Imported image %s into LXD as %s (%d bytes) in %.2f s',
                 alias, uploaded, os.path.getsize(path),
                 time.monotonic() - start)

    def _roll_back(self, fingerprint, alias):
        """Delete an image whose import failed after its upload."""
        try:
            self._session.delete_image(fingerprint)
        except Exception:
            LOG.exception('Could not delete LXD image %s after the failed '
                          'import of %s; delete it by hand', fingerprint,
                          alias)
