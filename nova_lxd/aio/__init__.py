"""All-in-one sandbox: nova API, conductor, scheduler, compute and placement
in one process, for trying and demonstrating the LXD driver on one machine.

* :mod:`nova_lxd.aio.sandbox`: the services and the HTTP API socket.
* :mod:`nova_lxd.aio.main`: the ``nova-lxd-aio`` command.
* :mod:`nova_lxd.aio.demo`: the scripted end-to-end demo.

Messaging, Glance, Neutron, Cinder and the databases are nova's own
in-process test fixtures; nothing here is fit for production.
"""
import os

# Native threads, as nova 34's own service commands use: this must happen
# before nova (or futurist) is imported, and it keeps nova's functional test
# package, which the sandbox uses, from monkey patching with eventlet.
os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'
from nova import monkey_patch  # noqa: E402

monkey_patch.patch(backend='threading')
