"""Glance images -> the LXD image store of this host.

Each glance image is imported once per host and aliased by its glance image
id; instances are created from that alias.  Glance's data are streamed
into LXD as they arrive, with no copy on the local disk: the first bytes
are classified (:mod:`image_format`: a root tarball or squashfs gets a
metadata tarball written for it, a unified tarball goes as it is) and sent
on with the rest, every member of a tar archive checked on the way
(:mod:`image_audit`).  LXD computes the fingerprint.  Only when LXD answers
that it has the image already (the same bytes under another glance id, or
an import that died before its alias) does the driver compute it, reading
glance again, to alias that image.  Concurrent boots of one image import
it once.
"""
import collections
import contextlib
import os
import threading
import time
import uuid

from nova import exception
from nova.image import glance
from nova.virt import images
from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import excutils
from oslo_utils import timeutils
from oslo_utils import units

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import image_audit
from nova_lxd.nova.virt.lxd import image_format

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

LOCK_PREFIX = 'nova-lxd-image-'


class GlanceStream:
    """A glance image's data as a readable stream, downloaded by nova's
    glance API (``download(data=...)``, which checks image signatures when
    nova is told to) in a thread that writes into a pipe.

    Use as a context manager: leaving it stops the download (the pipe's
    reader is closed first, so a blocked writer fails instead of hanging)
    and re-raises the download's error if the stream ended because of it.
    """

    def __init__(self, context, image_id):
        self._context, self._image_id = context, image_id
        read_fd, write_fd = os.pipe()
        self._reader = os.fdopen(read_fd, 'rb')
        self._writer = os.fdopen(write_fd, 'wb')
        self._error = None
        self._thread = threading.Thread(
            target=self._download, name=f'glance-{image_id}', daemon=True)

    def _download(self):
        try:
            glance.API().download(self._context, self._image_id,
                                  data=self._writer)
        except BaseException as e:  # handed to the reading thread
            self._error = e
        finally:
            try:
                self._writer.close()
            except OSError:  # the reader went away first
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def read(self, size=-1):
        """Bytes of the image; b'' at its end.

        :raises: the download's error, when it ended the stream early.
        """
        data = self._reader.read(size)
        if not data and self._error is not None:
            raise self._error
        return data

    def __exit__(self, *exc):
        self._reader.close()
        self._thread.join()
        if exc[0] is None and self._error is not None:
            raise self._error


def _audited(kind, data, head, audit):
    """The chunks to upload; tar archives checked member by member as they
    pass (squashfs goes as it is: see image_audit)."""
    if kind == image_format.SQUASHFS:
        return image_format.chunks(data)
    return image_audit.audited_chunks(data, head, audit)


def _created_at(image_meta):
    """The glance image's creation time in epoch seconds (now if unknown)."""
    created = image_format.meta_field(image_meta, 'created_at')
    return created.timestamp() if created else time.time()


def _last_use(image):
    """Epoch seconds the image was last used by a new instance, or uploaded
    when never used (LXD's zero time, year 1)."""
    last = timeutils.parse_isotime(image.get('last_used_at') or
                                   image['uploaded_at'])
    if last.year <= 1:
        last = timeutils.parse_isotime(image['uploaded_at'])
    return last.timestamp()


def expired_images(images, aliases_in_use, fingerprints_in_use, min_age,
                   now):
    """The images the cache manager deletes.

    Only images under an alias (glance images this store imported; not
    snapshot images being published) are candidates.

    :param images: LXD's image listing (session.list_images).
    :param aliases_in_use: glance image ids of instances nova knows.
    :param fingerprints_in_use: fingerprints LXD instances were created
        from (their ``volatile.base_image``).
    :param min_age: seconds an image must have gone unused.
    :param now: epoch seconds.
    :returns: ``[(fingerprint, [alias names])]``.
    """
    expired = []
    for image in images:
        aliases = sorted(a['name'] for a in image.get('aliases') or [])
        if (not aliases or set(aliases) & aliases_in_use or
                image['fingerprint'] in fingerprints_in_use or
                now - _last_use(image) < min_age):
            continue
        expired.append((image['fingerprint'], aliases))
    return expired


class ImageStore:
    """Keeps the glance images of this host's instances in LXD."""

    def __init__(self, session):
        """:param session: the host's LXDSession."""
        self._session = session
        self._users = collections.Counter()  # alias -> creations under way
        self._users_lock = threading.Lock()

    def ensure_image(self, context, image_meta):
        """Make sure LXD holds the glance image; import it if needed.

        Concurrent calls for the same image import it once; calls for
        different images do not wait for each other.

        :param context: nova RequestContext (for glance).
        :param image_meta: nova.objects.ImageMeta of the instance's image.
        :returns: the LXD image alias to create the instance from (the
            glance image id).
        :raises ImageUnacceptable: the image is no root filesystem (nothing
            is created in LXD then).
        :raises ImageNotFound: glance has no such image.
        :raises LXDRequestFailed, LXDUnreachable: LXD refused or is gone;
            an image uploaded before the failure is deleted again.
        """
        self.cache(context, image_meta)
        return image_meta.id

    def cache(self, context, image_meta):
        """ensure_image, telling whether the image was imported now.

        :returns: True if imported, False if LXD had it already.
        """
        image_format.check_glance_format(image_meta)
        alias = image_meta.id
        with lockutils.lock(LOCK_PREFIX + alias):
            # Looked up under the lock: another boot may have imported it
            # while this one waited.
            if self._session.image_by_alias(alias) is not None:
                return False
            self._import(context, image_meta)
            return True

    @contextlib.contextmanager
    def use(self, context, image_meta):
        """ensure_image for an instance being created from the image: the
        alias is yielded and :meth:`prune` leaves the image alone until the
        block ends (the instance exists then, or its creation failed)."""
        alias = image_meta.id
        # Counted before the alias lock is taken: prune, holding that lock,
        # either sees the count or has deleted before the lookup.
        with self._users_lock:
            self._users[alias] += 1
        try:
            yield self.ensure_image(context, image_meta)
        finally:
            with self._users_lock:
                self._users[alias] -= 1
                if not self._users[alias]:
                    del self._users[alias]

    def prune(self, aliases_in_use):
        """Delete the images no instance uses, once unused for
        ``[image_cache] remove_unused_original_minimum_age_seconds``;
        nothing with ``[image_cache] remove_unused_base_images`` off.

        An image is in use while an instance (nova's, on any host sharing
        this check, or any LXD instance of the project) was created from
        it, or one is being created (:meth:`use`).

        :param aliases_in_use: glance image ids of nova's instances.
        :returns: the fingerprints deleted.
        """
        if not CONF.image_cache.remove_unused_base_images:
            return []
        bases = {i['config'].get('volatile.base_image')
                 for i in self._session.list_instances()}
        deleted = []
        for fingerprint, aliases in expired_images(
                self._session.list_images(), aliases_in_use, bases,
                CONF.image_cache.remove_unused_original_minimum_age_seconds,
                time.time()):
            with contextlib.ExitStack() as locks:
                for alias in aliases:  # sorted: one order for every caller
                    locks.enter_context(lockutils.lock(LOCK_PREFIX + alias))
                with self._users_lock:
                    if any(self._users[alias] for alias in aliases):
                        continue
                LOG.info('Deleting LXD image %s of glance image(s) %s: '
                         'unused since longer than [image_cache] '
                         'remove_unused_original_minimum_age_seconds',
                         fingerprint, ', '.join(aliases))
                try:
                    self._session.delete_image(fingerprint)
                except lxd_exception.LXDDriverError as e:
                    LOG.warning('Could not delete LXD image %s: %s',
                                fingerprint, e)
                    continue
                deleted.append(fingerprint)
        return deleted

    def _import(self, context, image_meta):
        start = time.monotonic()
        architecture = self._architecture(image_meta)
        max_bytes = self._max_unpacked_bytes()
        with GlanceStream(context, image_meta.id) as stream:
            kind, head = image_format.inspect_stream(stream, image_meta.id)
            metadata = None
            if kind != image_format.UNIFIED:
                metadata = self._metadata(context, image_meta, architecture)
            chunks = _audited(kind, image_format.Replayed(head, stream), head,
                              image_audit.MemberAudit(
                                  image_meta.id, max_bytes,
                                  architecture if kind == image_format.ROOTFS
                                  else None))
            try:
                uploaded = self._upload(chunks, metadata, image_meta)
            except lxd_exception.LXDImageExists:
                uploaded = None
        if uploaded is None:
            self._alias_existing(context, image_meta, metadata)
            return
        self._alias_new(uploaded, image_meta)
        LOG.info('Imported image %s into LXD as %s (%s) in %.2f s',
                 image_meta.id, uploaded, kind, time.monotonic() - start)

    def _architecture(self, image_meta):
        """The LXD architecture a split image is registered for: glance's
        hw_architecture, else the daemon's own.

        :raises ImageUnacceptable: the daemon cannot run that architecture
            (before anything is downloaded).
        """
        arch = image_meta.properties.get('hw_architecture')
        if not arch:
            return self._session.architecture()
        arch = image_format.lxd_architecture(arch)
        runs = self._session.server_info()['environment']['architectures']
        if arch not in runs:
            raise exception.ImageUnacceptable(
                image_id=image_meta.id,
                reason=f'its hw_architecture is {arch}, but this LXD host '
                       f'runs {", ".join(runs)} only; boot it on a host of '
                       f'that architecture or correct the property')
        return arch

    def _max_unpacked_bytes(self):
        """``[lxd] image_max_unpacked_gb``, within the pool's free space."""
        space = self._session.pool_resources(CONF.lxd.pool)['space']
        free = space['total'] - space['used']
        if CONF.lxd.image_max_unpacked_gb:
            return min(free, CONF.lxd.image_max_unpacked_gb * units.Gi)
        return free

    def _metadata(self, context, image_meta, architecture):
        # ImageMetaProps has no os_version field: only glance still has it.
        glance_image = images.get_info(context, image_meta.id)
        os_version = (glance_image.get('properties') or {}).get('os_version')
        return image_format.metadata_tarball(
            image_meta, architecture, _created_at(image_meta), os_version)

    def _upload(self, chunks, metadata, image_meta):
        if metadata is None:
            return self._session.upload_image(
                chunks, 'application/octet-stream', image_meta.id)
        boundary = uuid.uuid4().hex
        return self._session.upload_image(
            image_format.multipart_body(boundary, metadata, chunks),
            f'multipart/form-data; boundary={boundary}', image_meta.id)

    @staticmethod
    def _description(image_meta):
        name = image_format.meta_field(image_meta, 'name') or image_meta.id
        return f'{name} (glance image {image_meta.id})'

    def _alias_existing(self, context, image_meta, metadata):
        """Alias the image LXD already has with these bytes.

        :raises LXDRequestFailed: it is gone (deleted meanwhile).
        """
        fingerprint = image_format.Fingerprint(metadata)
        with GlanceStream(context, image_meta.id) as stream:
            for _chunk in fingerprint.chunks(stream):
                pass
        fingerprint = fingerprint.hexdigest()
        # Under the fingerprint's lock: the roll back of another import of
        # the same bytes could delete the image in between.
        with lockutils.lock(LOCK_PREFIX + fingerprint):
            LOG.info('Image %s: aliasing LXD image %s, which has the same '
                     'content', image_meta.id, fingerprint)
            self._session.add_image_alias(fingerprint, image_meta.id,
                                          self._description(image_meta))

    def _alias_new(self, fingerprint, image_meta):
        with lockutils.lock(LOCK_PREFIX + fingerprint):
            try:
                self._session.add_image_alias(fingerprint, image_meta.id,
                                              self._description(image_meta))
            except Exception:
                with excutils.save_and_reraise_exception():
                    self._roll_back(fingerprint, image_meta.id)

    def _roll_back(self, fingerprint, alias):
        """Delete an image whose import failed after its upload."""
        try:
            self._session.delete_image(fingerprint)
        except Exception:
            LOG.exception('Could not delete LXD image %s after the failed '
                          'import of %s; delete it by hand', fingerprint,
                          alias)
