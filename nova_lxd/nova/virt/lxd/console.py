"""An instance's console log, kept whole on the compute host.

LXD (5.0) hands out console output only once while a container runs:
reading its console drains the ring buffer, and a second read gets nothing
(LXD even answers with an error, which the session turns into ``b''``).
When the container stops, its console log file receives the ring buffer:
measured, sometimes the whole run, sometimes only what was never read; and
read while stopped, that file grows with every run.  Nova expects
``get_console_output`` to return the tail of everything the guest wrote, as
often as it is asked, so the driver appends each new piece to
``<instance dir>/console.log`` (as libvirt keeps a console.log per
instance) and answers from there: of the stopped-instance file only the
part not copied before, less what the log already ends with.  The file
goes with the instance directory when the instance is deleted.

LXD console API: https://documentation.ubuntu.com/lxd/en/latest/rest-api/
(``GET /1.0/instances/<name>/console``).
"""
import os

from oslo_concurrency import lockutils

from nova_lxd.nova.virt.lxd import instance_files

LOG_NAME = 'console.log'
# How much of LXD's stopped-instance log file has been copied already.
OFFSET_NAME = 'console.lxd-offset'


def _read_offset(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _write_offset(path, offset):
    with open(path, 'w') as f:
        f.write(str(offset))


def overlap(head, tail):
    """Length of the longest end of ``tail`` that ``head`` starts with.

    Linear (KMP failure function over ``head + NUL + tail``): the console
    output is the guest's, so no quadratic search over it.
    """
    joined = head + b'\0' + tail
    fail = [0] * len(joined)
    for i in range(1, len(joined)):
        k = fail[i - 1]
        while k and joined[i] != joined[k]:
            k = fail[k - 1]
        if joined[i] == joined[k]:
            k += 1
        fail[i] = k
    # Borders longer than either side span the separator (NUL bytes in
    # the output): take the next shorter border until one fits.
    k, limit = fail[-1], min(len(head), len(tail))
    while k > limit:
        k = fail[k - 1]
    return k


def _append(path, data, keep_bytes):
    """Append ``data``; keep at most the last 2 x ``keep_bytes`` bytes."""
    with open(path, 'ab') as f:
        f.write(data)
        size = f.tell()
    if size > 2 * keep_bytes:
        with open(path, 'rb') as f:
            f.seek(size - keep_bytes)
            tail = f.read()
        with open(path, 'wb') as f:
            f.write(tail)


def _tail(path, max_bytes):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read()
    except FileNotFoundError:
        return b''


class ConsoleLog:
    """Collects the console output of instances through a session."""

    def __init__(self, session):
        """:param session: the driver's LXDSession."""
        self._session = session

    def tail(self, instance, max_bytes):
        """Collect new output, then return the last ``max_bytes`` bytes.

        :param instance: nova Instance.
        :param max_bytes: size limit of the answer, in bytes.
        :returns: bytes.
        :raises InstanceNotFound: the instance has no container.
        """
        directory = instance_files.instance_dir(instance)
        log_path = os.path.join(directory, LOG_NAME)
        with lockutils.lock(f'nova-lxd-console-{instance.uuid}'):
            running = (self._session.get_instance(instance.name)['status']
                       != 'Stopped')
            data = self._session.console_log(instance.name)
            os.makedirs(directory, exist_ok=True)
            if not running:
                # The whole stopped-instance file: copy only its new end.
                offset_path = os.path.join(directory, OFFSET_NAME)
                offset = _read_offset(offset_path)
                if len(data) < offset:  # a new file: a rebuilt container
                    offset = 0
                _write_offset(offset_path, len(data))
                data = data[offset:]
                data = data[overlap(data, _tail(log_path, len(data))):]
            if data:
                _append(log_path, data, max_bytes)
            return _tail(log_path, max_bytes)
