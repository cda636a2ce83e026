"""What nova shows about the hypervisor: its version, CPU model and
topology, and the architectures it runs.  Pure: dicts in, values out.

Readings are LXD's ``GET /1.0`` (``environment.server_version``,
``environment.architectures``) and ``GET /1.0/resources`` (``cpu``).
"""
import re

from nova import exception
from nova.objects import fields
from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import versionutils

LOG = logging.getLogger(__name__)

_VERSION = re.compile(r'^\d+(\.\d+)*')


def hypervisor_version(server_version):
    """LXD's ``environment.server_version`` -> nova's integer version.

    ``'5.0.2'`` -> 5000002 (oslo's ``convert_version_to_int``).  Feature
    releases have two parts (``'6.1'``) and are padded to three (6001000),
    so that they still compare correctly with LTS point releases; anything
    after the leading dotted number (``'5.21.3 LTS'``) is ignored.

    :raises ValueError: the value does not start with a number.
    """
    match = _VERSION.match((server_version or '').strip())
    if not match:
        raise ValueError(f'unreadable LXD server_version {server_version!r}')
    parts = [int(p) for p in match.group(0).split('.')][:3]
    return versionutils.convert_version_to_int(
        tuple(parts + [0] * (3 - len(parts))))


def canonical_arch(name):
    """nova's name of an LXD architecture, or None if nova has none."""
    try:
        return fields.Architecture.canonicalize(name)
    except exception.InvalidArchitectureName:
        return None


def supported_instances(architectures):
    """``environment.architectures`` -> nova's ``supported_instances``.

    :param architectures: list of LXD architecture names, e.g.
        ``['x86_64', 'i686']`` (an x86_64 host runs i686 containers too).
    :returns: ``[(arch, 'lxd', 'exe'), ...]`` with arch canonicalized by
        nova; names nova does not know are left out.
    """
    result = []
    for name in architectures or ():
        arch = canonical_arch(name)
        if arch is None:
            LOG.debug('Ignoring LXD architecture %r unknown to nova', name)
            continue
        spec = (arch, fields.HVType.LXD, fields.VMMode.EXE)
        if spec not in result:
            result.append(spec)
    return result


def cpu_info(cpu):
    """``GET /1.0/resources`` ``cpu`` section -> nova's ``cpu_info`` JSON.

    :returns: a JSON string of ``{'arch', 'model', 'vendor', 'topology':
        {'cells', 'sockets', 'cores', 'threads'}, 'features': []}`` where
        cores are per socket and threads per core (the largest seen) and
        cells is the number of NUMA nodes.  LXD 5.0 reports no CPU flags, so
        ``features`` is empty.
    """
    sockets = cpu.get('sockets') or []
    cores = [core for sock in sockets for core in sock.get('cores') or []]
    numa = {thread.get('numa_node', 0)
            for core in cores for thread in core.get('threads') or []}
    first = sockets[0] if sockets else {}
    info = {
        'arch': canonical_arch(cpu.get('architecture')),
        'model': first.get('name'),
        'vendor': first.get('vendor'),
        'topology': {
            'cells': len(numa) or 1,
            'sockets': len(sockets) or 1,
            'cores': max([len(s.get('cores') or []) for s in sockets] or [1]),
            'threads': max([len(c.get('threads') or []) for c in cores]
                           or [1]),
        },
        'features': [],
    }
    return jsonutils.dumps(info)
