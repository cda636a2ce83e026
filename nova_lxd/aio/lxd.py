"""pylxd access to the sandbox's own LXD project: inspect it, purge it.

Only the project named here is ever read or changed (never ``default``);
the daemon is found as the driver finds it (``[lxd] endpoint`` left empty:
the snap socket, then the apt one).
"""
import pylxd
from pylxd import exceptions as lxd_exc

from nova_lxd.nova.virt.lxd import session as lxd_session


def connect(project=None, timeout=120):
    """A pylxd client for the local daemon, bound to ``project``."""
    endpoint, _https = lxd_session.find_endpoint('')
    return pylxd.Client(endpoint=endpoint, project=project, timeout=timeout)


def project_exists(project):
    """True if the LXD project exists."""
    return connect().projects.exists(project)


def contents(project):
    """What the project holds: ``{'instances': [...], 'profiles': [...],
    'images': [...]}`` (profiles without ``default``; images by
    fingerprint).  Empty lists if the project does not exist.
    """
    found = {'instances': [], 'profiles': [], 'images': []}
    if not project_exists(project):
        return found
    client = connect(project)
    found['instances'] = [i.name for i in client.instances.all()]
    found['profiles'] = [p.name for p in client.profiles.all()
                         if p.name != 'default']
    found['images'] = [i.fingerprint for i in client.images.all()]
    return found


def _remove_instance(instance):
    if instance.status == 'Frozen':
        instance.unfreeze(wait=True)
    if instance.status != 'Stopped':
        instance.stop(force=True, wait=True)
    instance.delete(wait=True)


def _custom_volumes(client):
    for pool in client.storage_pools.all():
        for volume in pool.volumes.all():
            if volume.type == 'custom':
                yield volume


def purge(project):
    """Delete everything in ``project`` and then the project itself.

    :returns: list of ``"kind name"`` strings of what was removed.
    :raises ValueError: for the ``default`` project.
    """
    if not project or project == 'default':
        raise ValueError(f'refusing to purge LXD project {project!r}')
    if not project_exists(project):
        return []
    client = connect(project)
    removed = []
    for instance in client.instances.all():
        _remove_instance(instance)
        removed.append(f'instance {instance.name}')
    for image in client.images.all():
        image.delete(wait=True)
        removed.append(f'image {image.fingerprint[:12]}')
    for profile in client.profiles.all():
        if profile.name != 'default':
            profile.delete()
            removed.append(f'profile {profile.name}')
    for volume in _custom_volumes(client):
        volume.delete()
        removed.append(f'volume {volume.name}')
    try:
        connect().projects.get(project).delete()
    except lxd_exc.NotFound:
        pass
    removed.append(f'project {project}')
    return removed
