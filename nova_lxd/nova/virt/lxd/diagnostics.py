"""LXD instance state -> nova's server diagnostics (pure, no I/O).

Nova has two diagnostics interfaces:

* ``get_diagnostics`` (API microversions before 2.48): a free-form dict
  whose keys each driver chooses.  This module builds it from LXD's
  ``GET /1.0/instances/<name>/state`` (see
  https://documentation.ubuntu.com/lxd/en/latest/rest-api/, InstanceState).
* ``get_instance_diagnostics`` (2.48 and later): a
  ``nova.objects.diagnostics.Diagnostics`` whose ``driver`` field only
  admits libvirt, xenapi, vmwareapi, ironic and hyperv, and the API's
  response schema enforces the same list.  An LXD container is none of
  them, so the driver does not claim to be one: that call stays
  unsupported (nova answers 501) and the support matrix says why.
"""

# LXD's per-interface counter names -> the suffix of our diagnostics key.
NIC_COUNTERS = {
    'bytes_received': 'rx',
    'packets_received': 'rx_packets',
    'errors_received': 'rx_errors',
    'packets_dropped_inbound': 'rx_drop',
    'bytes_sent': 'tx',
    'packets_sent': 'tx_packets',
    'errors_sent': 'tx_errors',
    'packets_dropped_outbound': 'tx_drop',
}


def legacy_diagnostics(state, memory_mb):
    """The pre-2.48 diagnostics dict of a running container.

    :param state: LXD InstanceState dict (``cpu``, ``memory``, ``network``,
        ``disk``, ``processes``...); missing sections are left out.
    :param memory_mb: the flavor's memory, MiB (the container's limit).
    :returns: dict of int values.  Units: ``cpu_time`` nanoseconds of CPU
        used by all the container's processes together (a container has no
        per-vCPU clock); ``memory``, ``memory-rss``, ``memory-peak`` and
        ``memory-swap`` KiB, as libvirt reports them; ``<nic>_rx``/``_tx``
        bytes and ``<nic>_rx_packets``... counts, per guest interface
        name (``lo`` left out); ``<disk>_used`` bytes per LXD disk device
        that reports usage (the root disk only has one on pools with
        quotas); ``processes`` a count.
    """
    out = {'memory': memory_mb * 1024}
    cpu = state.get('cpu') or {}
    if 'usage' in cpu:
        out['cpu_time'] = cpu['usage']
    memory = state.get('memory') or {}
    for lxd_key, key in (('usage', 'memory-rss'),
                         ('usage_peak', 'memory-peak'),
                         ('swap_usage', 'memory-swap')):
        if lxd_key in memory:
            out[key] = memory[lxd_key] // 1024
    for nic, info in sorted((state.get('network') or {}).items()):
        if nic == 'lo':
            continue
        counters = info.get('counters') or {}
        for lxd_key, suffix in NIC_COUNTERS.items():
            if lxd_key in counters:
                out['%s_%s' % (nic, suffix)] = counters[lxd_key]
    for disk, info in sorted((state.get('disk') or {}).items()):
        if 'usage' in info:
            out['%s_used' % disk] = info['usage']
    if state.get('processes', -1) >= 0:
        out['processes'] = state['processes']
    return out
