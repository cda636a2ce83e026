"""Instance snapshots -> glance images, without stopping the instance.

nova creates the glance image record and calls ``snapshot``; the driver
then, in LXD:

1. snapshots the instance's filesystem (``POST .../snapshots``, not its
   memory: a running instance keeps running, as LXD copies or clones the
   root volume under it);
2. publishes that snapshot as an image (LXD writes a unified tarball,
   ``metadata.yaml`` and ``rootfs/``);
3. streams the image's export into glance (``disk_format raw``,
   ``container_format bare``), which image_store imports as it is when an
   instance boots from it, on this host or another;
4. deletes the temporary image and snapshot, whatever happened.

``update_task_state`` goes ``image_pending_upload`` (before 1) then
``image_uploading`` (before 3), as nova's API and other drivers expect.
What the guest had not written to disk yet is not in the image (as with a
virtual machine's disk snapshot without quiescing).
"""
import time

from nova.compute import task_states
from nova import exception
from nova.image import glance
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import conf as lxd_conf

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF


def snapshot_metadata(instance, name):
    """The glance fields of a snapshot image (a unified LXD tarball).

    :param instance: nova Instance (project_id, os_type).
    :param name: the image name nova gave the snapshot.
    """
    properties = {'image_location': 'snapshot', 'image_state': 'available',
                  'owner_id': instance.project_id}
    if instance.obj_attr_is_set('os_type') and instance.os_type:
        properties['os_type'] = instance.os_type
    return {'name': name, 'disk_format': 'raw', 'container_format': 'bare',
            'properties': properties}


def lxd_properties(instance, image_id):
    """Properties of the temporary LXD image (shown by ``lxc image list``
    while the snapshot uploads)."""
    return {'description': f'nova snapshot {image_id} of instance '
                           f'{instance.uuid}'}


class Snapshotter:
    """Makes glance images of instances through LXD snapshots."""

    def __init__(self, session):
        """:param session: the driver's LXDSession."""
        self._session = session

    def snapshot(self, context, instance, image_id, update_task_state):
        """See the module docstring.

        :raises InstanceNotRunning: the instance has no container.
        :raises LXDRequestFailed: LXD refused a step; the temporary
            snapshot and image are removed.
        :raises ImageNotFound: glance lost the image record meanwhile.
        """
        image_api = glance.API()
        record = image_api.get(context, image_id)
        start = time.monotonic()
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        # One LXD snapshot per glance image: never a user's own snapshot.
        snapshot = f'nova-snapshot-{image_id}'
        try:
            self._session.create_snapshot(instance.name, snapshot)
        except exception.InstanceNotFound:
            # What nova's snapshot expects of an instance with no guest.
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        try:
            fingerprint = self._session.publish_snapshot(
                instance.name, snapshot, lxd_properties(instance, image_id),
                CONF.lxd.snapshot_compression)
        finally:
            self._session.delete_snapshot(instance.name, snapshot)
        try:
            update_task_state(task_state=task_states.IMAGE_UPLOADING,
                              expected_state=task_states.IMAGE_PENDING_UPLOAD)
            with self._session.exported_image(fingerprint) as stream:
                image_api.update(context, image_id,
                                 snapshot_metadata(instance, record['name']),
                                 data=stream, purge_props=False)
        finally:
            self._session.delete_image(fingerprint)
        LOG.info('Snapshot %s of instance %s uploaded in %.1f s', image_id,
                 instance.name, time.monotonic() - start, instance=instance)
