"""A scripted LXD daemon for unit tests: no socket, no daemon.

:class:`FakeLXD` stands in for the ``requests.Session`` of a real
``pylxd.Client`` (the documented ``session=`` argument), so pylxd's own
code still builds the request paths, adds the project and timeout, turns
error statuses into NotFound/Conflict/LXDAPIException and waits for
background operations.  Only the daemon's answers are scripted.

Use it as a fixture; it replaces ``pylxd.Client`` for the test::

    lxd = self.useFixture(fake_lxd.FakeLXD())
    lxd.answer('GET', '/instances/i1', {'name': 'i1', 'status': 'Running'})
    lxd.on('PUT', '/instances/i1/state', fake_lxd.error(500, 'boom'))
    lxd.fail('GET', '/instances', requests.exceptions.ReadTimeout('slow'))

Paths are relative to ``/1.0``; a path with no script answers 404, as LXD
does for anything that does not exist.
"""
import collections
import json
import re
from urllib import parse

import fixtures
from pylxd import client as pylxd_client

# The real class, kept before the fixture replaces ``pylxd.Client``.
_REAL_CLIENT = pylxd_client.Client

SERVER = {'api_extensions': ['projects', 'resources'],
          'auth': 'trusted',
          'environment': {'architectures': ['x86_64', 'i686'],
                          'server_version': '5.0.2'},
          'config': {}}

Request = collections.namedtuple('Request', 'method path params json timeout')


class FakeResponse:
    """The parts of a ``requests.Response`` that pylxd and nova-lxd read."""

    def __init__(self, body, status_code=200, content=None):
        self.status_code = status_code
        self.headers = {}  # e.g. {'ETag': ...} for LXD's ETag checks
        self._body = body
        self.content = (json.dumps(body).encode() if content is None
                        else content)

    def json(self):
        """The decoded body; ValueError when it is not JSON (as requests)."""
        if self._body is None:
            raise ValueError('not a JSON body')
        return self._body


def ok(metadata=None, content=None):
    """LXD's synchronous success answer carrying ``metadata``.

    :param content: raw bytes instead of a JSON body (console log...).
    """
    if content is not None:
        return FakeResponse(None, content=content)
    return FakeResponse({'type': 'sync', 'status': 'Success',
                         'status_code': 200, 'metadata': metadata})


def error(status_code, message):
    """LXD's error answer; pylxd raises NotFound (404), Conflict (409) or
    LXDAPIException (others) for it, with ``message`` as ``str()``."""
    return FakeResponse({'type': 'error', 'error': message,
                         'error_code': status_code}, status_code=status_code)


def _api_path(url):
    # '/run/x.socket/1.0/a', 'https://h:8443/1.0/a' or
    # 'http+unix://<quoted socket>/1.0/a' -> '/a'
    path = parse.urlsplit(url).path
    match = re.search(r'/1\.0(?=/|$)', path)
    return path[match.end():]


class FakeLXD(fixtures.Fixture):
    """The daemon: answers requests from scripts and records them."""

    def __init__(self, server=None):
        super().__init__()
        self.requests = []
        self.clients = []
        self.connect_error = None
        self._scripts = {}
        self._operations = 0
        self.answer('GET', '', server or SERVER)

    def _setUp(self):
        self.useFixture(fixtures.MonkeyPatch('pylxd.Client', self.client))

    # -- scripting ----------------------------------------------------------
    def on(self, method, path, *outcomes):
        """Answer ``method path`` with ``outcomes`` in turn, the last one
        repeating: a FakeResponse (see :func:`ok`, :func:`error`) or an
        exception for the transport to raise (requests.exceptions...).
        """
        self._scripts[(method, path)] = list(outcomes)

    def answer(self, method, path, metadata=None):
        """Answer ``method path`` with success and ``metadata``."""
        self.on(method, path, ok(metadata))

    def fail(self, method, path, exc):
        """Make ``method path`` raise ``exc`` as the transport would."""
        self.on(method, path, exc)

    def operation(self, method, path, err=None):
        """Answer ``method path`` with a background operation.

        :param err: LXD's ``err`` text: the operation then fails while
            pylxd waits for it, as when LXD cannot finish the work.
        :returns: the operation's path.
        """
        self._operations += 1
        op_id = f'op-{self._operations}'
        op = {'id': op_id, 'class': 'task', 'status': 'Running',
              'status_code': 103, 'err': '', 'metadata': None}
        self.on(method, path, FakeResponse(
            {'type': 'async', 'status': 'Operation created',
             'status_code': 100, 'operation': f'/1.0/operations/{op_id}',
             'metadata': op}, status_code=202))
        self.answer('GET', f'/operations/{op_id}', op)
        done = dict(op, status='Failure' if err else 'Success',
                    status_code=400 if err else 200, err=err or '')
        self.answer('GET', f'/operations/{op_id}/wait', done)
        return f'/operations/{op_id}'

    def paths(self, method=None):
        """``(method, path)`` of the requests so far (of one method)."""
        return [(r.method, r.path) for r in self.requests
                if method in (None, r.method)]

    # -- pylxd.Client and its requests.Session ------------------------------
    def client(self, endpoint=None, cert=None, verify=True, timeout=None,
               project=None, session=None):
        """Stand-in for ``pylxd.Client``: record the arguments, then make a
        real client whose requests this fake answers.  With a ``session``
        (pylxd then ignores cert and verify), its cert, verify and
        trust_env are recorded instead.

        :raises: ``connect_error`` when set (e.g. ClientConnectionFailed).
        """
        record = {'endpoint': endpoint, 'cert': cert, 'verify': verify,
                  'timeout': timeout, 'project': project}
        if session is not None:
            record.update(cert=session.cert, verify=session.verify,
                          trust_env=session.trust_env)
        self.clients.append(record)
        if self.connect_error is not None:
            raise self.connect_error
        return _REAL_CLIENT(endpoint=endpoint, timeout=timeout,
                            project=project, session=self)

    def request(self, method, url, params=None, json=None, timeout=None,
                **kwargs):
        """One HTTP request: record it, then return or raise its answer."""
        path = _api_path(url)
        self.requests.append(Request(method, path, dict(params or {}),
                                     json, timeout))
        outcomes = self._scripts.get((method, path))
        if not outcomes:
            return error(404, 'not found')
        outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def get(self, url, **kwargs):
        """``requests.Session.get``."""
        return self.request('GET', url, **kwargs)

    def post(self, url, **kwargs):
        """``requests.Session.post``."""
        return self.request('POST', url, **kwargs)

    def put(self, url, **kwargs):
        """``requests.Session.put``."""
        return self.request('PUT', url, **kwargs)

    def patch(self, url, **kwargs):
        """``requests.Session.patch``."""
        return self.request('PATCH', url, **kwargs)

    def delete(self, url, **kwargs):
        """``requests.Session.delete``."""
        return self.request('DELETE', url, **kwargs)
