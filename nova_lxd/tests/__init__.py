"""Tests run the way nova-compute 34 runs: native threads, no eventlet.

This must happen before anything imports nova (nova's functional test
package would otherwise monkey-patch the whole test process with eventlet).
"""
import os

os.environ.setdefault('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1')

from nova import monkey_patch  # noqa: E402

monkey_patch.patch(backend='threading')
