"""The hand-written half of the support matrix: why something is missing.

support_matrix.problems() fails the documentation build when a feature
becomes supported while its reason is still here, or when tempest fails a
test that has no reason here.  Reasons are either what a container cannot
do or the open work item that brings the feature.
"""

# Feature name (support_matrix.FEATURES) -> why the driver lacks it.
MISSING = {
    'Server diagnostics, API 2.48 and later': (
        "Nova's typed diagnostics (nova.objects.diagnostics) only admit the "
        'drivers libvirt, xenapi, vmwareapi, ironic and hyperv, and the API '
        'response schema enforces that list; the driver will not claim to be '
        'one of them.  Nova answers 501; the pre-2.48 diagnostics work.'),
    'Tagged interface attach': (
        'No device metadata reaches the guest yet (tags need the metadata '
        'service or a config drive rewrite on attach).'),
    'Device tags at boot': 'No device metadata reaches the guest yet.',
    'Image: qcow2': (
        'A container is created from a filesystem tree, not a disk image; '
        'upload a root tarball or an LXD image as raw/bare.'),
    'Live migration': (
        'LXD documents containers as stop-to-migrate: CRIU checkpointing '
        "fails on current kernels.  The driver's prechecks refuse a live "
        'migration with this reason before anything moves; cold migration '
        'is the way to move a container.'),
    'Volume multi-attach': (
        'LXD mounts a volume\'s filesystem on the host for each container; '
        'two mounts of one ext4/xfs filesystem corrupt it.  Not offered.'),
    'Volume swap (retype, migration)': (
        'A live swap copies the data while the guest keeps writing, which '
        "needs a block layer between the guest and the volume (libvirt's "
        'block copy); a container writes straight to the mounted '
        'filesystem.  Detach, copy and attach instead.'),
    'VNC or SPICE console': (
        'A system container has no framebuffer: there is no screen to '
        'show.  The console log is available.'),
    'Serial console': (
        "Not yet: LXD's console websocket is not proxied to nova's serial "
        'console service.'),
    'Virtual TPM': (
        'The driver gives a container no LXD tpm device; a flavor asking '
        'for one fails its boot (nova\'s scheduler already needs the TPM '
        'traits, which this driver does not report).'),
    'UEFI secure boot': (
        'A container boots no firmware or kernel of its own: '
        'os:secure_boot=required is refused.'),
}

_NO_FIP_TRAFFIC = (
    'Not the driver: the test reaches the server through a floating IP '
    "from tempest's host (SSH or ping).  The one-node test cloud has no "
    'gateway chassis because the userspace Open vSwitch of its machine '
    '(3.1, netdev datapath) aborts on NATed packets, so floating IPs carry '
    'no traffic there (doc/source/cloud.rst).')

# Regex on a failed tempest test's name -> why it fails.
TEMPEST_FAILURES = {
    r'ServerDiagnosticsV248Test': MISSING[
        'Server diagnostics, API 2.48 and later'],
    r'^tempest\.scenario\.(test_network_advanced_server_ops|'
    r'test_network_basic_ops|test_network_v6|'
    r'test_security_groups_basic_ops)\.': _NO_FIP_TRAFFIC,
}
