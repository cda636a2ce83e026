"""Migration calls of :class:`session.LXDSession`: a stopped container
pulled from another host's LXD daemon.

LXD's migration API: the source daemon starts a migration operation
(``POST /1.0/instances/<name>`` ``{"migration": true}``) whose websocket
secrets the destination daemon uses to pull the container, root volume
included (``POST /1.0/instances`` with a ``migration`` source in ``pull``
mode), over TLS, checking the source's certificate.  This host's
nova-compute asks the source daemon for that operation over https with a
client certificate the source trusts (``[lxd] migration_client_cert``).

A mixin kept apart only for size, like session_storage; errors become nova
exceptions here, naming the source daemon.
"""
import contextlib
import tempfile

from nova import exception
from oslo_log import log as logging
from oslo_utils import excutils
import pylxd
from pylxd import exceptions as lxd_exc
import requests

LOG = logging.getLogger(__name__)
_WILDCARDS = ('', '0.0.0.0', '::', '[::]')


def https_session(url, server_cert, cert):
    """The requests session of a pylxd client over https.

    :param server_cert: path of the PEM certificate (or CA bundle) the
        daemon must present, or None for the system CA bundle.
    :param cert: ``(certificate path, key path)`` presented, or None.
    """
    http = pylxd.client.get_session_for_url(
        url, verify=server_cert or True, cert=cert)
    # requests puts REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE from the environment
    # over Session.verify on every request, which would replace the pinned
    # certificate; with none pinned the environment's bundle is what the
    # operator asked for.
    http.trust_env = not server_cert
    return http


def https_url(address, my_ip):
    """``core.https_address`` (``host:port``, ``:port``, ``[::]:port``)
    -> the URL other hosts use; a wildcard host becomes ``my_ip``."""
    host, _sep, port = address.rpartition(':')
    if not _sep:
        host, port = address, '8443'
    if host in _WILDCARDS:
        host = f'[{my_ip}]' if ':' in my_ip else my_ip
    return f'https://{host}:{port}'


# Source config kept on the destination: the image the root filesystem
# came from (LXD then creates the instance from its own copy of that image
# and transfers only the differences), the uid/gid map its files are
# shifted to (else they are shifted again), the instance id cloud-init saw
# from LXD, and the image's description keys.
_CARRIED_KEYS = ('volatile.base_image', 'volatile.cloud-init.instance-id')
_CARRIED_PREFIXES = ('image.', 'volatile.idmap.', 'volatile.last_state.idmap')


def carried_config(config):
    """The keys of the source instance's LXD ``config`` the destination
    keeps (see _CARRIED_KEYS)."""
    return {key: value for key, value in config.items()
            if key in _CARRIED_KEYS or key.startswith(_CARRIED_PREFIXES)}


class MigrationCalls:
    """Pulling instances from other daemons (see the module docstring)."""

    def migration_source(self, my_ip):
        """What another host needs to pull from this daemon.

        :param my_ip: this host's address (``[DEFAULT] my_ip``).
        :returns: ``{'url': 'https://...', 'certificate': PEM}``, or None
            when the daemon does not listen on https.
        """
        info = self.server_info()
        address = info.get('config', {}).get('core.https_address')
        if not address:
            return None
        return {'url': https_url(address, my_ip),
                'certificate': info['environment']['certificate']}

    @contextlib.contextmanager
    def _remote_errors(self, url, action):
        try:
            yield
        except (lxd_exc.LXDAPIException, lxd_exc.ClientConnectionFailed,
                requests.exceptions.RequestException) as e:
            raise exception.MigrationError(
                reason=f'LXD at {url} refused to {action}: '
                       f'{e or type(e).__name__}. Check that it trusts '
                       f'this host\'s [lxd] migration_client_cert (`lxc '
                       f'config trust add`) and that this host reaches it '
                       f'over https') from e

    @contextlib.contextmanager
    def _remote(self, source, client_cert):
        """A pylxd client of the source daemon, its certificate pinned for
        as long as the block runs (the cancellation of a failed pull
        included)."""
        url = source['url']
        with tempfile.NamedTemporaryFile('w', suffix='.crt') as pinned:
            pinned.write(source['certificate'])
            pinned.flush()
            with self._remote_errors(url, 'answer'):
                remote = pylxd.Client(
                    endpoint=url, project=self._opts.project,
                    timeout=self._opts.timeout,
                    session=https_session(url, pinned.name, client_cert))
            yield remote

    def pull_instance(self, source, body, client_cert):
        """Create the instance ``body['name']`` here by pulling it, stopped,
        from the daemon ``source`` (see :meth:`migration_source`).

        :param body: ``POST /1.0/instances`` body for this host (config,
            devices, profiles); its ``source`` is replaced.
        :param client_cert: ``(certificate path, key path)``.
        :raises MigrationError: the source cannot be reached or refuses,
            naming its URL; nothing was created here.
        :raises LXDRequestFailed: this daemon refused or the transfer
            failed.
        """
        url, name = source['url'], body['name']
        with self._remote(source, client_cert) as remote:
            with self._remote_errors(url, f'start migrating {name}'):
                data = remote.instances.get(name).generate_migration_data()
            try:
                with self._errors(f'pull instance {name} from', url):
                    self._wait(self.client.api.instances.post(json=dict(
                        body, source=data['source'],
                        architecture=data['architecture'],
                        config=dict(body['config'], **carried_config(
                            data['config'])))))
            except Exception:
                with excutils.save_and_reraise_exception():
                    self._cancel(remote, data['source']['operation'])
        LOG.info('Instance %s pulled from %s', name, url)

    def pull_volume(self, source, source_pool, name, pool, client_cert):
        """Create the custom volume ``name`` in ``pool`` here by pulling
        it from the daemon ``source`` (same project), where it is in
        ``source_pool`` (``POST .../volumes/custom/<name>`` with
        ``migration`` there, ``POST .../volumes/custom`` with a
        ``migration`` source here).

        :raises MigrationError: the source cannot be reached or refuses.
        :raises LXDRequestFailed: this daemon refused or the transfer
            failed.
        """
        url = source['url']
        with self._remote(source, client_cert) as remote:
            with self._remote_errors(url, f'start migrating volume {name}'):
                operation = remote.api.storage_pools[source_pool].volumes \
                    .custom[name].post(json={'name': name,
                                             'migration': True}).json()
            pulled = {'type': 'migration', 'mode': 'pull',
                      'operation': url + operation['operation'],
                      'certificate': source['certificate'],
                      'secrets': operation['metadata']['metadata']}
            try:
                with self._errors(f'pull volume {name} from', url):
                    self._wait(self.client.api.storage_pools[pool].volumes
                               .custom.post(json={'name': name,
                                                  'type': 'custom',
                                                  'source': pulled}))
            except Exception:
                with excutils.save_and_reraise_exception():
                    self._cancel(remote, operation['operation'])
        LOG.info('Volume %s pulled from %s', name, url)

    @staticmethod
    def _cancel(remote, operation_url):
        """Cancel the source's waiting migration operation (logged, never
        raised: the pull's error is the one to report)."""
        try:
            remote.api.operations[operation_url.rsplit('/', 1)[-1]].delete()
        except Exception as e:
            LOG.warning('Could not cancel migration operation %s: %s',
                        operation_url, e)
