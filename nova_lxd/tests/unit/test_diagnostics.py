"""diagnostics.py: LXD InstanceState -> pre-2.48 diagnostics dict."""
import testtools

from nova_lxd.nova.virt.lxd import diagnostics

# Shape of a real busybox container's GET /1.0/instances/<name>/state.
STATE = {
    'status': 'Running', 'status_code': 103, 'pid': 4242, 'processes': 3,
    'cpu': {'usage': 123456789, 'allocated_time': 0},
    'memory': {'usage': 2 * 1024 * 1024, 'usage_peak': 3 * 1024 * 1024,
               'swap_usage': 0, 'swap_usage_peak': 0, 'total': 0},
    'disk': {'root': {'usage': 4096, 'total': 0}},
    'network': {
        'lo': {'counters': {'bytes_received': 1, 'bytes_sent': 1}},
        'eth0': {'hwaddr': 'fa:16:3e:00:00:01', 'host_name': 'tap1',
                 'counters': {'bytes_received': 100, 'bytes_sent': 200,
                              'packets_received': 3, 'packets_sent': 4,
                              'errors_received': 0, 'errors_sent': 1,
                              'packets_dropped_inbound': 5,
                              'packets_dropped_outbound': 6}}},
}


class LegacyDiagnosticsTest(testtools.TestCase):

    def test_full_state(self):
        self.assertEqual({
            'memory': 512 * 1024,
            'cpu_time': 123456789,
            'memory-rss': 2048, 'memory-peak': 3072, 'memory-swap': 0,
            'eth0_rx': 100, 'eth0_rx_packets': 3, 'eth0_rx_errors': 0,
            'eth0_rx_drop': 5, 'eth0_tx': 200, 'eth0_tx_packets': 4,
            'eth0_tx_errors': 1, 'eth0_tx_drop': 6,
            'root_used': 4096,
            'processes': 3,
        }, diagnostics.legacy_diagnostics(STATE, 512))

    def test_missing_sections_are_left_out(self):
        # LXD sends null network/disk for a container that just stopped
        # and processes -1 when it cannot count them.
        self.assertEqual({'memory': 1024}, diagnostics.legacy_diagnostics(
            {'network': None, 'disk': None, 'cpu': None, 'memory': None,
             'processes': -1}, 1))
