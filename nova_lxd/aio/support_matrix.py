"""The support matrix (doc/source/support-matrix.rst), generated.

Two sources, neither written by hand:

* the driver class: a feature is supported when ``LXDDriver`` overrides the
  ``nova.virt.driver.ComputeDriver`` methods behind it and sets its
  capability (the same test as the tempest flags);
* the last tempest run on ``tools/cloud``, summarised into
  ``doc/source/data/tempest-summary.json``.

Only the reasons are hand-written: why a feature is missing, why a tempest
test fails.  A reason left on a feature that became supported, or a failed
test without a reason, is an error, so the page cannot go stale quietly::

    python -m nova_lxd.aio.support_matrix summarise RUN OUT... > SUMMARY
    python -m nova_lxd.aio.support_matrix rst SUMMARY     # the page body
"""
import collections
import json
import re
import sys

from nova_lxd.aio import support_reasons
from nova_lxd.aio import tempest_flags
from nova_lxd.nova.virt.lxd import driver as lxd_driver

Feature = collections.namedtuple('Feature', 'name methods capability')

FEATURES = (
    Feature('Boot and delete a server', ('spawn', 'destroy'), None),
    Feature('Rebuild (nova re-creates the container)',
            ('spawn', 'destroy'), None),
    Feature('Stop and start', ('power_off', 'power_on'), None),
    Feature('Reboot, soft and hard', ('reboot',), None),
    Feature('Pause and unpause', ('pause', 'unpause'), None),
    Feature('Suspend and resume', ('suspend', 'resume'), None),
    Feature('Console log', ('get_console_output',), None),
    Feature('Server diagnostics, API before 2.48', ('get_diagnostics',),
            None),
    Feature('Server diagnostics, API 2.48 and later',
            ('get_instance_diagnostics',), None),
    Feature('Interface attach and detach',
            ('attach_interface', 'detach_interface'),
            'supports_attach_interface'),
    Feature('Tagged interface attach', ('attach_interface',),
            'supports_tagged_attach_interface'),
    Feature('Device tags at boot', (), 'supports_device_tagging'),
    Feature('Config drive', ('spawn',), None),
    Feature('Image: root tarball or LXD image (raw)', (),
            'supports_image_type_raw'),
    Feature('Image: qcow2', (), 'supports_image_type_qcow2'),
    Feature('Snapshot', ('snapshot',), None),
    Feature('Shelve and unshelve', ('snapshot',), None),
    Feature('Rescue', ('rescue', 'unrescue'), None),
    Feature('Resize', ('migrate_disk_and_power_off', 'finish_migration',
                       'confirm_migration', 'finish_revert_migration'),
            None),
    Feature('Cold migration', ('migrate_disk_and_power_off',
                               'finish_migration'), None),
    Feature('Evacuate', (), 'supports_evacuate'),
    Feature('Live migration', ('live_migration',), None),
    Feature('Volume attach and detach', ('attach_volume', 'detach_volume'),
            None),
    Feature('Volume extend', ('extend_volume',), 'supports_extend_volume'),
    Feature('Volume multi-attach', (), 'supports_multiattach'),
    Feature('Volume swap (retype, migration)', ('swap_volume',), None),
    Feature('Set admin password', ('set_admin_password',), None),
    Feature('VNC or SPICE console', ('get_vnc_console',), None),
    Feature('Serial console', ('get_serial_console',), None),
    Feature('Dedicated CPUs (PCPU)', (), 'supports_pcpus'),
    Feature('Huge pages (hw:mem_page_size)', ('spawn',), None),
    Feature('PCI passthrough: whole GPUs and NICs', ('spawn',), None),
    Feature('Virtual TPM', (), 'supports_vtpm'),
    Feature('UEFI secure boot', (), 'supports_secure_boot'),
)

# One line of `tempest run` (stestr) output: worker, test id, time, result.
_RESULT = re.compile(r'^\{\d+\} (?P<test>\S+(?: \([^)]*\))?)'
                     r'(?: \[[0-9.]+s\])? \.\.\. '
                     r'(?P<status>ok|FAILED|SKIPPED)(?:: (?P<reason>.*))?$')
# tempest ids end in "[id-<uuid>,tags]": the matrix shows the name only.
_ID_TAIL = re.compile(r'\[[^\]]*\]$')


def supported(feature, driver_class=lxd_driver.LXDDriver):
    """True when the driver implements every method and the capability."""
    methods = all(tempest_flags.implements(driver_class, m)
                  for m in feature.methods)
    capability = (feature.capability is None or
                  bool(driver_class.capabilities.get(feature.capability)))
    return methods and capability


def _results(lines):
    """``{test name: (status, skip reason)}`` of one ``tempest run``
    output; names without tempest's ``[id-...]`` tail."""
    results = {}
    for line in lines:
        match = _RESULT.match(line.rstrip('\n'))
        if match:
            results[_ID_TAIL.sub('', match['test'])] = (
                match['status'], match['reason'] or 'no reason given')
    return results


def _test_class(test):
    """The class of a test name or of a ``setUpClass (CLASS)`` entry."""
    match = re.match(r'setUpClass \((.*)\)$', test)
    return match[1] if match else test.rsplit('.', 1)[0]


def summarise(*outputs):
    """Summary of a ``tempest run`` and of later re-runs of some classes.

    :param outputs: iterables of output lines (str), oldest first.  A
        test that a later output ran again counts with its later result;
        so does a class's ``setUpClass`` failure once a later output ran
        tests of that class.
    :returns: ``{'passed': int, 'failed': [test name...],
        'skipped': {reason: count}}``; failed names sorted.
    """
    results = {}
    for lines in outputs:
        run = _results(lines)
        again = {f'setUpClass ({_test_class(test)})' for test in run}
        results = {test: result for test, result in results.items()
                   if test not in again}
        results.update(run)
    statuses = [status for status, _ in results.values()]
    skipped = collections.Counter(
        reason for status, reason in results.values() if status == 'SKIPPED')
    return {'passed': statuses.count('ok'),
            'failed': sorted(t for t, (status, _) in results.items()
                             if status == 'FAILED'),
            'skipped': dict(skipped.most_common())}


def failure_reason(test):
    """The hand-written reason for a failed tempest test, or None."""
    for pattern, reason in support_reasons.TEMPEST_FAILURES.items():
        if re.search(pattern, test):
            return reason
    return None


def problems(summary, driver_class=lxd_driver.LXDDriver):
    """What keeps the page from being honest: a list of sentences."""
    out = []
    for feature in FEATURES:
        has_reason = feature.name in support_reasons.MISSING
        if supported(feature, driver_class) and has_reason:
            out.append(f'{feature.name!r} is supported now: drop its reason '
                       'in support_reasons.MISSING')
        elif not supported(feature, driver_class) and not has_reason:
            out.append(f'{feature.name!r} is missing without a reason in '
                       'support_reasons.MISSING')
    out.extend(f'tempest failure without a reason in '
               f'support_reasons.TEMPEST_FAILURES: {test}'
               for test in summary['failed'] if failure_reason(test) is None)
    return out


def _table(header, rows):
    """A reST list-table: ``header`` and ``rows`` are lists of str."""
    out = ['.. list-table::', '   :header-rows: 1', '']
    for row in [header] + rows:
        out.append('   * - ' + row[0])
        out.extend('     - ' + cell for cell in row[1:])
    return out


def rst(summary, driver_class=lxd_driver.LXDDriver):
    """The page body: features, then the tempest result.

    :param summary: a summarise() result plus ``run`` (a one-line
        description of the run: date, versions, regex).
    :raises ValueError: when problems() finds any.
    """
    found = problems(summary, driver_class)
    if found:
        raise ValueError('support matrix: ' + '; '.join(found))
    rows = []
    for feature in FEATURES:
        ok = supported(feature, driver_class)
        rows.append([feature.name, 'yes' if ok else 'no',
                     '' if ok else support_reasons.MISSING[feature.name]])
    out = ['Features', '--------', '']
    out += _table(['Feature', 'Supported', 'Why not'], rows)
    skipped = sum(summary['skipped'].values())
    failed = len(summary['failed'])
    ran = summary['passed'] + failed
    out += ['', 'Tempest', '-------', '', summary['run'], '',
            f'* passed: {summary["passed"]} of {ran} tests that ran '
            f'({100.0 * summary["passed"] / max(ran, 1):.1f} %)',
            f'* failed: {failed}', f'* skipped: {skipped}', '']
    if failed:
        out += _table(['Failed test', 'Why'],
                      [[f'``{t}``', failure_reason(t)]
                       for t in summary['failed']])
        out.append('')
    out += _table(['Skipped (tempest\'s reason)', 'Tests'],
                  [[reason.replace('*', r'\*'), str(count)]
                   for reason, count in summary['skipped'].items()])
    return '\n'.join(out) + '\n'


def main(argv=None):
    """``summarise RUN TEMPEST_OUT...`` prints the JSON summary (RUN: one
    line saying when and what ran; outputs oldest first); ``rst SUMMARY``
    prints the page body.  Exit status 1 on problems()."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['summarise'] and len(argv) >= 3:
        outputs = []
        for path in argv[2:]:
            with open(path, encoding='utf-8') as f:
                outputs.append(f.readlines())
        summary = dict(summarise(*outputs), run=argv[1])
        print(json.dumps(summary, indent=1, sort_keys=True))
        return 0
    if argv[:1] != ['rst'] or len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding='utf-8') as f:
        summary = json.load(f)
    try:
        sys.stdout.write(rst(summary))
    except ValueError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
