"""console.py: the host-side console log built from LXD's one-shot reads."""
import os
import random

import fixtures
from nova import exception
from nova import test

from nova_lxd.nova.virt.lxd import console
from nova_lxd.nova.virt.lxd import instance_files


class FakeInstance:
    uuid = '6f3b1c7e-0c57-4d3a-9a55-4c0a3f0f7a11'
    name = 'instance-00000001'


class ScriptedSession:
    """LXD as the console sees it: a status and the next console answer."""

    def __init__(self):
        self.status = 'Running'
        self.answers = []

    def get_instance(self, name):
        if self.status is None:
            raise exception.InstanceNotFound(instance_id=name)
        return {'status': self.status}

    def console_log(self, name):
        return self.answers.pop(0) if self.answers else b''


class ConsoleLogTest(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.flags(instances_path=self.useFixture(fixtures.TempDir()).path)
        self.lxd = ScriptedSession()
        self.console = console.ConsoleLog(self.lxd)
        self.instance = FakeInstance()

    def read(self, *answers, max_bytes=1000):
        self.lxd.answers.extend(answers)
        return self.console.tail(self.instance, max_bytes)

    def test_running_reads_accumulate(self):
        self.assertEqual(b'boot\n', self.read(b'boot\n'))
        self.assertEqual(b'boot\n', self.read())  # LXD: nothing new
        self.assertEqual(b'boot\nlogin:', self.read(b'login:'))

    def test_stopped_file_is_copied_once_then_only_its_growth(self):
        self.read(b'boot\n')
        self.lxd.status = 'Stopped'
        # The stopped log file holds what was never read while running.
        self.assertEqual(b'boot\nhalt\n', self.read(b'halt\n'))
        self.assertEqual(b'boot\nhalt\n', self.read(b'halt\n'))
        self.lxd.status = 'Running'
        self.read(b'boot2\n')
        self.lxd.status = 'Stopped'
        self.assertEqual(b'boot\nhalt\nboot2\nhalt2\n',
                         self.read(b'halt\nhalt2\n'))

    def test_tail_and_size_bound(self):
        for _ in range(10):
            self.read(b'0123456789')
        self.assertEqual(b'6789', self.read(max_bytes=4))
        path = os.path.join(instance_files.instance_dir(self.instance),
                            console.LOG_NAME)
        self.assertLessEqual(os.path.getsize(path), 2 * 1000)
        self.read(b'x' * 30, max_bytes=10)
        self.assertLessEqual(os.path.getsize(path), 2 * 10)
        self.assertEqual(b'x' * 10, self.read(max_bytes=10))

    def test_missing_instance(self):
        self.lxd.status = None
        self.assertRaises(exception.InstanceNotFound, self.read)

    def test_stopped_file_repeating_what_was_read(self):
        # Measured: the stopped file may hold the whole run again.
        self.read(b'boot\n')
        self.read(b'marker\n')
        self.lxd.status = 'Stopped'
        self.assertEqual(b'boot\nmarker\nhalt\n',
                         self.read(b'boot\nmarker\nhalt\n'))


class OverlapTest(test.NoDBTestCase):

    def test_overlap(self):
        for head, tail, expected in [
                (b'abc', b'xxab', 2), (b'abc', b'abc', 3), (b'abc', b'', 0),
                (b'', b'abc', 0), (b'aaaa', b'aa', 2), (b'abab', b'xaba', 3),
                (b'abc', b'xyz', 0), (b'\0a', b'x\0', 1)]:
            self.assertEqual(expected, console.overlap(head, tail),
                             (head, tail))

    def test_overlap_matches_a_plain_search(self):
        # Short strings over a tiny alphabet (NUL included, the separator
        # of the linear search) hit every border case.
        rng = random.Random(7)

        def plain(head, tail):
            for k in range(min(len(head), len(tail)), 0, -1):
                if tail.endswith(head[:k]):
                    return k
            return 0
        for _ in range(3000):
            head, tail = (bytes(rng.choice(b'a\0b') for _ in range(
                rng.randint(0, 6))) for _ in range(2))
            self.assertEqual(plain(head, tail), console.overlap(head, tail),
                             (head, tail))
