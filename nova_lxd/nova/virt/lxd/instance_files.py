"""Instance storage on the host: the config drive directory.

A container has no block devices to read an ISO from, so the config drive is
the same file tree nova's ConfigDriveBuilder would put in the ISO
(nova.api.metadata.base.InstanceMetadata.metadata_for_config_drive), in a
host directory mounted read-only at ``/config-drive``, where cloud-init's
ConfigDrive datasource looks for it.  The root disk device itself is built
by :func:`nova_lxd.nova.virt.lxd.disks.root_disk_device`.
"""
import os
import shutil

from nova.api.metadata import base as instance_metadata
from oslo_log import log as logging

from nova_lxd.nova.virt.lxd import conf as lxd_conf

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

CONFIG_DRIVE_PATH = '/config-drive'


def instance_dir(instance):
    """Host directory of an instance's files: ``<instances_path>/<uuid>``."""
    return os.path.join(CONF.instances_path, instance.uuid)


def _write(root, relative_path, data):
    path = os.path.join(root, relative_path)
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        raise ValueError(f'config drive path escapes its root: {path}')
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    # Readable by the container's (remapped, unprivileged) root user,
    # whatever the umask of nova-compute.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.fchmod(fd, 0o644)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)


def build_config_drive(instance, injected_files, admin_password,
                       network_info, subdir='config-drive'):
    """Write the instance's config drive tree; return its host directory.

    :param instance: nova Instance.
    :param injected_files: list of ``(guest path, bytes)`` to inject.
    :param admin_password: str or None (``admin_pass`` in meta_data.json).
    :param network_info: nova NetworkInfo (network_data.json).
    :param subdir: directory name under :func:`instance_dir`.
    :returns: absolute path of the directory to mount at /config-drive.
    """
    extra_md = {'admin_pass': admin_password} if admin_password else {}
    metadata = instance_metadata.InstanceMetadata(
        instance, content=injected_files, extra_md=extra_md,
        network_info=network_info)
    root = os.path.realpath(os.path.join(instance_dir(instance), subdir))
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root, mode=0o755)
    for relative_path, data in metadata.metadata_for_config_drive():
        _write(root, relative_path, data)
    for directory, _subdirs, _files in os.walk(root):
        os.chmod(directory, 0o755)  # os.makedirs honours the umask
    LOG.debug('Config drive written to %s', root, instance=instance)
    return root


def config_drive_device(source):
    """LXD disk device mounting ``source`` read-only at /config-drive."""
    return {'type': 'disk', 'source': source, 'path': CONFIG_DRIVE_PATH,
            'readonly': 'true'}


def remove_instance_dir(instance):
    """Remove the instance's host files; a missing directory is fine."""
    path = instance_dir(instance)
    if os.path.exists(path):
        shutil.rmtree(path)
        LOG.debug('Removed %s', path, instance=instance)


def remove_instance_subdir(instance, subdir):
    """Remove one directory of the instance's host files, if present."""
    path = os.path.join(instance_dir(instance), subdir)
    if os.path.exists(path):
        shutil.rmtree(path)
