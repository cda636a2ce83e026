"""pylxd access to a scratch LXD project: inspect it, purge it.

The one place that empties and deletes a project of our own: the sandbox's
(``nova-aio``), each functional test's and the benchmarks'.

Only the project named here is ever read or changed (never ``default``);
the daemon is found as the driver finds it (``[lxd] endpoint`` left empty:
the snap socket, then the apt one).
"""
import concurrent.futures
import contextlib
import threading

import pylxd
from pylxd import exceptions as lxd_exc

from nova_lxd.nova.virt.lxd import endpoints


def connect(project=None, timeout=120, endpoint=''):
    """A pylxd client for the local daemon (or the unix socket
    ``endpoint``), bound to ``project``."""
    endpoint, _https = endpoints.find_endpoint(endpoint)
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


def settle(client):
    """Wait for the running LXD operations of the client's project: an
    interrupted run leaves some (a start or stop LXD goes on with)."""
    running = client.api.operations.get().json()['metadata'] or {}
    for url in running.get('running') or []:
        with contextlib.suppress(lxd_exc.LXDAPIException):
            client.operations.wait_for_operation(url)


def _remove_instance(client, name, attempts=3):
    for attempt in range(attempts):
        try:
            instance = client.instances.get(name)
            if instance.status == 'Frozen':
                instance.unfreeze(wait=True)
            if instance.status != 'Stopped':
                instance.stop(force=True, wait=True)
            instance.delete(wait=True)
            return
        except lxd_exc.NotFound:
            return
        except lxd_exc.LXDAPIException:
            # Busy with an operation of its own (a start, a stop).
            if attempt == attempts - 1:
                raise
            settle(client)


def remove_instances(client, names, workers=8):
    """Stop (forced) and delete the named instances, several at a time;
    one already gone is no error.

    :param client: pylxd Client bound to the instances' project.
    :raises pylxd.exceptions.LXDAPIException: one could not be removed.
    """
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda name: _remove_instance(client, name), names))


def _custom_volumes(client):
    for pool in client.storage_pools.all():
        try:
            volumes = pool.volumes.all()
        except lxd_exc.NotFound:
            continue  # a pool another test deleted meanwhile
        for volume in volumes:
            if volume.type == 'custom':
                yield volume


def purge(project, endpoint=''):
    """Delete everything in ``project`` and then the project itself (on
    the local daemon, or the one at the unix socket ``endpoint``).

    :returns: list of ``"kind name"`` strings of what was removed.
    :raises ValueError: for the ``default`` project.
    """
    if not project or project == 'default':
        raise ValueError(f'refusing to purge LXD project {project!r}')
    if not connect(endpoint=endpoint).projects.exists(project):
        return []
    client = connect(project, endpoint=endpoint)
    settle(client)
    names = [i.name for i in client.instances.all()]
    remove_instances(client, names)
    removed = [f'instance {name}' for name in names]
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
        connect(endpoint=endpoint).projects.get(project).delete()
    except lxd_exc.NotFound:
        pass
    removed.append(f'project {project}')
    return removed


def quiet_ws4py_shutdown():
    """Install a threading.excepthook that drops one known, harmless race.

    pylxd's ``execute()`` closes its websocket manager while the manager's
    thread may still unregister a descriptor from the closed poller
    (``ValueError: I/O operation on closed epoll object``); the command's
    result is complete by then.  Every other thread exception is reported
    by the hook that was installed before.
    """
    previous = threading.excepthook

    def hook(args):
        if (args.exc_type is ValueError and args.thread is not None and
                args.thread.name == 'WebSocketManager' and
                'closed epoll' in str(args.exc_value)):
            return
        previous(args)
    threading.excepthook = hook
