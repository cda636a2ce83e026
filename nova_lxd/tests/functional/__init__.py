"""Functional tests: the real LXD daemon, OVS/OVN and nova's services."""
import threading

_default_excepthook = threading.excepthook


def _quiet_ws4py_shutdown(args):
    # pylxd's execute() closes its websocket manager while the manager's
    # thread may still unregister a descriptor from the closed poller; the
    # command's result is complete by then.  Everything else is reported.
    if (args.exc_type is ValueError and args.thread is not None and
            args.thread.name == 'WebSocketManager' and
            'closed epoll' in str(args.exc_value)):
        return
    _default_excepthook(args)


threading.excepthook = _quiet_ws4py_shutdown
