"""A small threaded HTTP server for nova's compute API WSGI application.

The standard library's ``wsgiref`` server, one thread per request, bound to
a loopback address only: the sandbox trusts the identity headers it is sent.
"""
import ipaddress
import socketserver
import threading
from wsgiref import simple_server

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(simple_server.WSGIRequestHandler):
    def log_message(self, fmt, *args):
        """Request lines go to the debug log, not to stderr."""
        LOG.debug('%s %s', self.address_string(), fmt % args)


class APIServer:
    """Serve a WSGI application on ``host:port`` from a background thread."""

    def __init__(self, app, host='127.0.0.1', port=8774):
        """:raises ValueError: when ``host`` is not a loopback address."""
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f'{host} is not a loopback address: the sandbox '
                             'API has no authentication')
        self._httpd = simple_server.make_server(
            host, port, app, server_class=_Server, handler_class=_Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name='aio-api', daemon=True)

    @property
    def url(self):
        """Base URL of the server, e.g. ``http://127.0.0.1:8774``."""
        host, port = self._httpd.server_address[:2]
        return f'http://{host}:{port}'

    def start(self):
        """Start serving in the background."""
        self._thread.start()

    def stop(self):
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
