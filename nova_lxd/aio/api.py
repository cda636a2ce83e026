"""A minimal client of the sandbox's compute API over real HTTP (requests).

The sandbox's API trusts the identity headers keystonemiddleware would set
(``X-User-Id``, ``X-Project-Id``, ``X-Roles``); see
:func:`nova_lxd.aio.conf.write_paste_file`.
"""
import time

import requests


class APIError(Exception):
    """The API answered with an unexpected status, or a wait timed out."""


def identity_headers(user, project, roles):
    """The headers that stand for a validated token in the sandbox."""
    return {'X-User-Id': user, 'X-Project-Id': project,
            'X-Roles': ','.join(roles)}


class ComputeAPI:
    """Requests to ``<url>/v2.1`` as one user, at the latest microversion."""

    def __init__(self, url, user, project, roles, timeout=30):
        self.base = url.rstrip('/') + '/v2.1'
        self._timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # no proxies: loopback only
        self._session.headers.update(identity_headers(user, project, roles))
        self._session.headers['OpenStack-API-Version'] = 'compute latest'

    def request(self, method, path, expect=(200,), **kwargs):
        """Send a request; return the decoded JSON body (or None).

        :raises APIError: when the status is not in ``expect``.
        """
        resp = self._session.request(method, self.base + path,
                                     timeout=self._timeout, **kwargs)
        if resp.status_code not in expect:
            raise APIError(f'{method} {path}: HTTP {resp.status_code} '
                           f'{resp.text[:300]}')
        return resp.json() if resp.content else None

    def server(self, server_id):
        """The server's representation, or None once it is gone (404)."""
        resp = self._session.get(f'{self.base}/servers/{server_id}',
                                 timeout=self._timeout)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise APIError(f'GET server: HTTP {resp.status_code}')
        return resp.json()['server']

    def action(self, server_id, body):
        """POST a server action (``{'reboot': {...}}``, ``{'os-stop':
        None}``...), expecting 202."""
        self.request('POST', f'/servers/{server_id}/action', expect=(202,),
                     json=body)

    def wait_status(self, server_id, status, timeout=300, interval=0.5):
        """Wait until the server has ``status`` and no task in progress.

        :returns: the server representation.
        :raises APIError: on ERROR, on its disappearance, or on timeout.
        """
        deadline = time.monotonic() + timeout
        server = None
        while time.monotonic() < deadline:
            server = self.server(server_id)
            if server is None:
                raise APIError('server disappeared')
            if server['status'] == 'ERROR':
                fault = server.get('fault', {}).get('message', 'no fault')
                raise APIError(f'server went to ERROR: {fault}')
            if (server['status'] == status
                    and not server.get('OS-EXT-STS:task_state')):
                return server
            time.sleep(interval)
        raise APIError(f'not {status} after {timeout}s (status '
                       f'{server and server["status"]}, task '
                       f'{server and server.get("OS-EXT-STS:task_state")})')

    def wait_gone(self, server_id, timeout=300, interval=0.5):
        """Wait until GET on the server answers 404."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server(server_id) is None:
                return
            time.sleep(interval)
        raise APIError(f'server still there after {timeout}s')
