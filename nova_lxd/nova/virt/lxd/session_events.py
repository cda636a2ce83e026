"""Event calls of :class:`session.LXDSession`: LXD's lifecycle event stream
of the ``[lxd] project``.

LXD publishes what happens to its instances on the websocket
``GET /1.0/events?type=lifecycle&project=<project>``; each message is
``{"type": "lifecycle", "project": ..., "metadata": {"action":
"instance-started", "source": "/1.0/instances/<name>", ...}}``
(https://documentation.ubuntu.com/lxd/en/latest/events/).  pylxd's
``Client.events`` builds the websocket client; it knows no project and no
client certificate of ours, which are added here.

A mixin kept apart only for size, like session_migration; errors become
nova exceptions here, naming the daemon's endpoint.
"""
import contextlib
import functools
import json
import socket
import ssl
from urllib import parse

from oslo_log import log as logging
from pylxd import client as pylxd_client
import requests
from ws4py import exc as ws_exc

LOG = logging.getLogger(__name__)

_INSTANCES = '/1.0/instances/'


def lifecycle_action(message):
    """``(action, instance name)`` of an LXD event, or None.

    :param message: one decoded event (see the module docstring).
    :returns: None for events that are not about an instance as a whole
        (snapshots, backups, other object types) or not lifecycle events.
    """
    if message.get('type') != 'lifecycle':
        return None
    metadata = message.get('metadata') or {}
    action = metadata.get('action') or ''
    path = parse.urlparse(metadata.get('source') or '').path
    if not action.startswith('instance-') or not path.startswith(_INSTANCES):
        return None
    name = path[len(_INSTANCES):]
    if not name or '/' in name:
        return None
    return action, parse.unquote(name)


class LifecycleStream(pylxd_client._WebsocketClient):
    """The event websocket; ``run()`` calls ``on_event(action, name)`` for
    each instance lifecycle event until the connection ends.

    pylxd's own client class is the base because it leaves out the Origin
    header, which LXD refuses on unix sockets.
    """

    def __init__(self, on_event, url, ssl_options=None):
        super().__init__(url, ssl_options=ssl_options)
        self._on_event = on_event

    def received_message(self, message):
        try:
            event = lifecycle_action(json.loads(message.data.decode()))
        except ValueError:
            LOG.warning('Ignoring an LXD event that is not JSON: %.200r',
                        message.data)
            return
        if event is not None:
            self._on_event(*event)

    def unhandled_error(self, error):
        # ws4py logs a traceback; a daemon that went away is no bug here.
        LOG.warning('LXD event stream broke: %s', error)

    def shut(self):
        """End ``run()`` from another thread.  The daemon may be gone, so
        the socket is shut down rather than closed with a close frame."""
        self.client_terminated = self.server_terminated = True
        with contextlib.suppress(OSError, AttributeError):
            self.sock.shutdown(socket.SHUT_RDWR)


class EventCalls:
    """Following LXD's lifecycle events (see the module docstring)."""

    def lifecycle_stream(self, on_event):
        """Connect to the lifecycle events of ``[lxd] project``.

        :param on_event: ``on_event(action, name)``, called in the thread
            that runs the returned stream's ``run()``; ``action`` is LXD's
            (``instance-started``, ``instance-shutdown``...).
        :returns: a connected :class:`LifecycleStream`; ``run()`` blocks
            until the daemon closes the connection (it stopped) or
            ``shut()`` is called.
        :raises LXDUnreachable: the daemon does not answer, or refuses the
            websocket; LXDTimeout if it does not within ``[lxd] timeout``.
        """
        project = self._opts.project
        stream = self.client.events(
            websocket_client=functools.partial(LifecycleStream, on_event),
            event_types={pylxd_client.EventType.Lifecycle})
        stream.resource += '&' + parse.urlencode({'project': project})
        if stream.scheme == 'wss':
            stream.ssl_options = self._event_ssl_options()
        stream.sock.settimeout(self._opts.timeout)
        try:
            stream.connect()
        except (OSError, ws_exc.HandshakeError) as e:
            stream.close_connection()
            if isinstance(e, socket.timeout):
                e = requests.exceptions.Timeout(str(e) or 'timed out')
            raise self._unreachable('follow the events of project', project,
                                    e) from e
        # Reads wait for events as long as it takes.
        stream.sock.settimeout(None)
        return stream

    def _event_ssl_options(self):
        """ws4py's TLS options: our client certificate, and the pinned
        server certificate (else the CA bundle requests uses)."""
        options = {'cert_reqs': ssl.CERT_REQUIRED,
                   'ca_certs': (self._opts.server_cert or
                                requests.certs.where())}
        if self._opts.client_cert:
            options.update(certfile=self._opts.client_cert,
                           keyfile=self._opts.client_key)
        return options
