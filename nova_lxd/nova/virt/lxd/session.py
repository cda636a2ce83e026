"""The connection to the LXD daemon.

:class:`LXDSession` owns the pylxd client of a compute host and is the only
place where LXD and transport errors become nova exceptions (as nova's z/VM
driver does with its hypervisor object).  Every call blocks until LXD has
finished the background operation it started.

LXD REST API: https://documentation.ubuntu.com/lxd/en/latest/rest-api/
"""
import contextlib
import math
import time

from nova import exception
from oslo_log import log as logging
import pylxd
from pylxd import exceptions as lxd_exc
import requests
import tenacity

from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import endpoints
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import session_events
from nova_lxd.nova.virt.lxd import session_images
from nova_lxd.nova.virt.lxd import session_migration
from nova_lxd.nova.virt.lxd import session_storage

LOG = logging.getLogger(__name__)
CONF = lxd_conf.CONF

# Project features: nova's images, profiles and volumes stay out of sight of
# other projects; networks are the host's, shared with everyone.
PROJECT_CONFIG = {
    'features.images': 'true',
    'features.profiles': 'true',
    'features.storage.volumes': 'true',
}

# Seconds of one LXD /wait request while an operation runs (see _wait).
OPERATION_SLICE = 30


class LXDSession(session_storage.StorageCalls,
                 session_migration.MigrationCalls,
                 session_events.EventCalls,
                 session_images.ImageCalls):
    """Blocking, error-mapped access to one LXD daemon and project."""

    def __init__(self, lxd_opts=None):
        """:param lxd_opts: the ``[lxd]`` group (defaults to CONF.lxd)."""
        self._opts = lxd_opts or CONF.lxd
        self._client = None
        self._architecture = None

    # -- connection -------------------------------------------------------
    @property
    def endpoint(self):
        return endpoints.find_endpoint(self._opts.endpoint)[0]

    def _connect(self, project):
        target, https = endpoints.find_endpoint(self._opts.endpoint)
        kwargs = {'timeout': (self._opts.connect_timeout, self._opts.timeout),
                  'project': project}
        if https:
            cert = None
            if self._opts.client_cert:
                cert = (self._opts.client_cert, self._opts.client_key)
            kwargs['session'] = session_migration.https_session(
                target, self._opts.server_cert, cert)
        with self._errors('connect to', target):
            return pylxd.Client(endpoint=target, **kwargs)

    @property
    def client(self):
        """The pylxd client bound to ``[lxd] project`` (made on first use)."""
        if self._client is None:
            self._client = self._connect(self._opts.project)
        return self._client

    @contextlib.contextmanager
    def _errors(self, action, target, not_found=None):
        """Turn pylxd/requests errors into nova exceptions.

        :param not_found: exception raised instead on an LXD 404.
        """
        try:
            yield
        except lxd_exc.NotFound as e:
            if not_found is not None:
                raise not_found from e
            raise lxd_exception.LXDRequestFailed(
                action=action, target=target, error=e) from e
        except lxd_exc.LXDAPIException as e:
            raise lxd_exception.LXDRequestFailed(
                action=action, target=target, error=e) from e
        except (lxd_exc.ClientConnectionFailed,
                requests.exceptions.RequestException) as e:
            raise self._unreachable(action, target, e) from e

    def _unreachable(self, action, target, error):
        """LXDTimeout or LXDUnreachable naming the daemon's endpoint."""
        try:
            endpoint = self.endpoint
        except lxd_exception.LXDUnreachable:
            # The autodetected socket is gone: name where it was looked for.
            endpoint = endpoints.socket_paths()
        # pylxd raises some errors without text (ClientConnectionFailed()).
        text = str(error) or type(error).__name__
        if isinstance(error, requests.exceptions.Timeout):
            return lxd_exception.LXDTimeout(
                endpoint=endpoint, timeout=self._opts.timeout, action=action,
                target=target, error=text)
        https = endpoint.startswith('https://')
        return lxd_exception.LXDUnreachable(
            endpoint=endpoint, error=text,
            fix=endpoints.HTTPS_FIX if https else endpoints.UNIX_FIX)

    def _wait(self, response):
        """Wait for the background operation an LXD response started.

        LXD's ``GET /1.0/operations/<id>/wait?timeout=N`` is asked in
        slices of OPERATION_SLICE seconds, each request with its own read
        timeout, until the operation ends or ``[lxd] operation_timeout``
        has passed: a long operation never looks like a daemon that does
        not answer.

        :returns: the operation's final metadata (``metadata`` holds its
            result, e.g. an image fingerprint), or the response's metadata
            when it was synchronous.
        :raises pylxd LXDAPIException: the operation failed (the caller's
            ``_errors`` names what failed).
        :raises LXDOperationTimeout: it did not end in time.
        """
        body = response.json()
        if body.get('type') != 'async':
            return body.get('metadata')
        op_id = pylxd.models.Operation.extract_operation_id(body['operation'])
        deadline = time.monotonic() + self._opts.operation_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._operation_timeout(op_id, body)
            wait = min(OPERATION_SLICE, max(1, math.ceil(left)))
            node = self.client.api.operations[op_id]
            try:
                reply = node.wait.get(params={'timeout': wait},
                                      timeout=(self._opts.connect_timeout,
                                               wait + self._opts.timeout))
            except lxd_exc.LXDAPIException:
                # Incus answers a /wait that timed out with an error
                # ('context deadline exceeded'): ask for the operation.
                reply = node.get()
            meta = reply.json().get('metadata') or {}
            code = meta.get('status_code') or 0
            if 200 <= code < 300:
                return meta
            if code >= 400:
                raise lxd_exc.LXDAPIException(reply)

    def _operation_timeout(self, op_id, body):
        description = (body.get('metadata') or {}).get('description')
        return lxd_exception.LXDOperationTimeout(
            endpoint=self.endpoint, operation=op_id,
            description=description or 'an operation',
            timeout=self._opts.operation_timeout)

    # -- host -------------------------------------------------------------
    def server_info(self):
        """``GET /1.0`` metadata: api_extensions, environment, config."""
        with self._errors('read server info of', self.endpoint):
            return self.client.api.get().json()['metadata']

    def architecture(self):
        """The daemon's native architecture in LXD's naming (x86_64...).

        The daemon, not this process, decides what an image must be built
        for: with an https endpoint it may be another machine.
        """
        if self._architecture is None:
            info = self.server_info()
            self._architecture = info['environment']['architectures'][0]
        return self._architecture

    def ensure_project(self):
        """Create ``[lxd] project`` if missing; return True if created.

        :raises LXDProjectUnavailable: the project cannot be read or made.
        """
        name = self._opts.project
        admin = self._connect(None)
        error = lxd_exception.LXDProjectUnavailable
        # LXD's refusals are about the project; transport errors are not.
        with self._errors('create project', name):
            try:
                if admin.projects.exists(name):
                    return False
                admin.projects.create(
                    name, description='Instances of OpenStack Nova (nova-lxd)',
                    config=PROJECT_CONFIG)
                return True
            except (lxd_exc.LXDAPIException,
                    lxd_exc.LXDAPIExtensionNotAvailable) as e:
                raise error(project=name, error=e) from e

    def host_resources(self):
        """``GET /1.0/resources`` metadata (cpu, memory in bytes...)."""
        with self._errors('read resources of', self.endpoint):
            return self.client.api.resources.get().json()['metadata']

    def profile_names(self):
        """Names of the LXD profiles of the project."""
        with self._errors('list profiles of project', self._opts.project):
            urls = self.client.api.profiles.get().json()['metadata']
            return [url.rsplit('/', 1)[-1].split('?')[0] for url in urls]

    # -- instances --------------------------------------------------------
    def list_instances(self):
        """All instances of the project in ONE request (recursion=1).

        :returns: list of dicts with at least ``name``, ``status``,
            ``config`` and ``devices``.
        """
        with self._errors('list instances of project', self._opts.project):
            params = {'recursion': 1}
            return self.client.api.instances.get(
                params=params).json()['metadata']

    def get_instance(self, name):
        """``GET /1.0/instances/<name>`` metadata.

        :raises InstanceNotFound: no such instance in the project.
        """
        with self._errors('read instance', name,
                          exception.InstanceNotFound(instance_id=name)):
            return self.client.api.instances[name].get().json()['metadata']

    def instance_state(self, name):
        """``GET /1.0/instances/<name>/state`` metadata (InstanceState:
        status, cpu, memory, network counters, disk usage, processes).

        :raises InstanceNotFound: no such instance in the project.
        """
        with self._errors('read state of instance', name,
                          exception.InstanceNotFound(instance_id=name)):
            return self.client.api.instances[name].state.get().json()[
                'metadata']

    def create_instance(self, config):
        """Create (not start) an instance from an LXD instance definition.

        :param config: the ``POST /1.0/instances`` body (name, source,
            config, devices, profiles).
        """
        with self._errors('create instance', config['name']):
            self._wait(self.client.api.instances.post(json=config))

    def change_state(self, name, action, timeout=-1, force=False):
        """``PUT /1.0/instances/<name>/state`` and wait for it.

        :param action: start, stop, restart, freeze or unfreeze.
        :param timeout: seconds LXD waits for a clean stop (-1: forever).
        :param force: kill instead of asking the init system.
        :raises InstanceNotFound: no such instance.
        """
        body = {'action': action, 'timeout': timeout, 'force': force}
        with self._errors(action, name,
                          exception.InstanceNotFound(instance_id=name)):
            self._wait(self.client.api.instances[name].state.put(json=body))

    def update_config(self, name, updates):
        """Merge ``updates`` into the instance's ``config`` keys (PATCH)."""
        with self._errors('update config of', name,
                          exception.InstanceNotFound(instance_id=name)):
            self.client.api.instances[name].patch(json={'config': updates})

    def update_instance(self, name, config, devices):
        """One PATCH: merge ``config`` keys (``''`` unsets one) and replace
        the named ``devices`` (live when the instance runs).

        :raises InstanceNotFound: no such instance.
        :raises LXDRequestFailed: LXD refused, e.g. a quota too small.
        """
        with self._errors('update', name,
                          exception.InstanceNotFound(instance_id=name)):
            self._wait(self.client.api.instances[name].patch(
                json={'config': config, 'devices': devices}))

    def add_device(self, name, device_name, device):
        """Add a device to the instance; LXD plugs it live when it runs.

        :param device: LXD device dict (``type``, ``nictype``...).
        :raises InstanceNotFound: no such instance.
        :raises LXDRequestFailed: e.g. the device name is taken or LXD
            cannot start the device.
        """
        with self._errors(f'add device {device_name} to', name,
                          exception.InstanceNotFound(instance_id=name)):
            self._wait(self.client.api.instances[name].patch(
                json={'devices': {device_name: device}}))

    def remove_device(self, name, device_name):
        """Remove a device from the instance (live when it runs).

        LXD removes devices only by replacing the whole configuration, so
        it is read and written back with its ETag: a concurrent change
        makes LXD refuse instead of being overwritten.

        :returns: False when the instance has no such device.
        :raises InstanceNotFound: no such instance.
        """
        with self._errors(f'remove device {device_name} from', name,
                          exception.InstanceNotFound(instance_id=name)):
            node = self.client.api.instances[name]
            response = node.get()
            meta = response.json()['metadata']
            if meta['devices'].pop(device_name, None) is None:
                return False
            body = {key: meta[key] for key in (
                'architecture', 'config', 'devices', 'ephemeral',
                'profiles', 'description')}
            self._wait(node.put(json=body, headers={
                'If-Match': response.headers['ETag']}))
            return True

    def delete_instance(self, name):
        """Delete a stopped instance; an already-absent one is no error."""
        try:
            with self._errors('delete instance', name,
                              exception.InstanceNotFound(instance_id=name)):
                self._wait(self.client.api.instances[name].delete())
        except exception.InstanceNotFound:
            LOG.debug('Instance %s was already deleted', name)

    # pylxd's exec websockets can break while connecting (ws4py answering
    # LXD's first ping on a busy host); LXD runs the command only once all
    # are connected, so it has not run then.
    @tenacity.retry(
        retry=tenacity.retry_if_exception_type(
            (BrokenPipeError, ConnectionResetError)),
        stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(0.5),
        reraise=True)
    def execute(self, name, argv, stdin=None):
        """Run a command in the running instance as its root and wait.

        :param argv: the command, a list of str.
        :param stdin: str fed to its standard input, or None.
        :returns: ``(exit code, stdout str, stderr str)``; 127 when the
            command does not exist in the guest.
        :raises InstanceNotFound: no such instance.
        :raises LXDRequestFailed: e.g. the instance is not running.
        """
        try:
            with self._errors('run a command in', name,
                              exception.InstanceNotFound(instance_id=name)):
                result = self.client.instances.get(name).execute(
                    argv, stdin_payload=stdin)
        except lxd_exception.LXDRequestFailed as e:
            # LXD 5.0 fails the exec operation instead of answering 127.
            if 'Command not found' not in str(e):
                raise
            return 127, '', str(e)
        return result.exit_code, result.stdout, result.stderr

    def console_log(self, name):
        """New console output of the instance (``GET .../console``), bytes.

        Of a running instance LXD returns only what was written since the
        last read (see console.py), and when there is nothing new it
        answers 500 "open : no such file or directory" (LXD 5.0: an empty
        file response); that is returned as ``b''``.  Of a stopped one it
        returns its console log file.

        :raises InstanceNotFound: no such instance.
        """
        try:
            with self._errors('read console log of', name,
                              exception.InstanceNotFound(instance_id=name)):
                return self.client.api.instances[name].console.get().content
        except lxd_exception.LXDRequestFailed as e:
            cause = e.__cause__
            if (getattr(cause.response, 'status_code', None) == 500 and
                    'no such file or directory' in str(cause)):
                return b''
            raise
