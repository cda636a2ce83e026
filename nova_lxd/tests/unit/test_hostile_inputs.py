"""R4: malformed or hostile inputs, one table per kind.  Each is refused
with a nova error naming the value (and the fix), before anything is
created: no image kept, no LXD request made.

The image archives run through the real ImageStore (nova's glance download
path, image_fakes' session); flavors and image properties through the
driver's Assembler, the one place that checks an instance before creating
it; ``[lxd]`` values through init_host and oslo.config.  The same archives
run against a real daemon in functional/test_image_sync.py.
"""
import tarfile

import ddt
from nova import exception
from nova import objects
from oslo_config import fixture as config_fixture
import testtools

from nova_lxd.nova.virt.lxd import assembly
from nova_lxd.nova.virt.lxd import conf as lxd_conf
from nova_lxd.nova.virt.lxd import exception as lxd_exception
from nova_lxd.nova.virt.lxd import host
from nova_lxd.tests import hostile_archives
from nova_lxd.tests.unit import test_image

CONF = lxd_conf.CONF
POOL_FREE = 1024 * 1024  # bytes free in the fake session's pool


class Untouchable:
    """A session or helper that must not be used: the refusal comes
    first."""

    def __getattr__(self, name):
        raise AssertionError(f'{name} used before the refusal')


@ddt.ddt
class HostileArchivesTest(test_image.StoreTestCase):

    def setUp(self):
        super().setUp()
        self.session.pool_free = POOL_FREE

    @ddt.idata(hostile_archives.cases(POOL_FREE))
    @ddt.unpack
    def test_refused_and_nothing_kept(self, name, data, words, properties):
        meta = self.glance.add(data, properties=properties)
        e = self.assertRefused(self.ensure, meta, words=tuple(words))
        self.assertIn(meta.id, str(e))
        self.assertEqual(({}, {}), (self.session.images,
                                    self.session.aliases), name)
        self.assertNothingLeft()

    @ddt.data(
        ('harmless /dev nodes and a fifo', hostile_archives.rootfs(
            hostile_archives.device('./dev/zero', tarfile.CHRTYPE, 1, 5),
            hostile_archives.device('./dev/ptmx', tarfile.CHRTYPE, 5, 2),
            hostile_archives.device('./run/initctl', tarfile.FIFOTYPE,
                                    0, 0))),
        ('absolute symlinks, a link inside, hard link inside',
         hostile_archives.rootfs(
             hostile_archives.symlink('./sbin', 'usr/sbin'),
             hostile_archives.symlink('./etc/mtab', '/proc/self/mounts'),
             hostile_archives.hardlink('./bin/sh2', './bin/sh'))),
        ('just within the pool', hostile_archives.rootfs(
            hostile_archives.regular('./var/f', b'\0' * (POOL_FREE // 2)))),
        ('xz, bzip2, zstd, plain', hostile_archives.rootfs(
            compression='xz')),
    )
    @ddt.unpack
    def test_accepted(self, name, data):
        meta = self.glance.add(data)
        self.ensure(meta)
        self.assertEqual(1, len(self.session.images), name)
        [(_metadata, uploaded)] = self.session.uploaded
        self.assertEqual(data, uploaded, 'the audit changed the bytes')

    def test_architecture_refused_before_download(self):
        meta = self.glance.add(hostile_archives.rootfs(),
                               properties={'hw_architecture': 'aarch64'})
        e = self.assertRaises(exception.ImageUnacceptable, self.ensure, meta)
        self.assertIn('hw_architecture is aarch64, but this LXD host runs '
                      'x86_64, i686 only', str(e))
        self.assertEqual([], self.glance.downloads)

    def test_configured_limit_below_the_pool(self):
        self.session.pool_free = 100 * hostile_archives.GiB
        self.conf.config(image_max_unpacked_gb=1, group='lxd')
        meta = self.glance.add(hostile_archives.bomb(
            hostile_archives.GiB + 1))
        self.assertRefused(self.ensure, meta,
                           words=(f'more than {hostile_archives.GiB} bytes',))


def _instance(extra_specs):
    objects.register_all()
    flavor = objects.Flavor(name='m1.hostile', vcpus=1, memory_mb=256,
                            root_gb=1, ephemeral_gb=0, swap=0,
                            extra_specs=extra_specs)
    return objects.Instance(id=1, uuid='5a0c1b52-8c1d-4f0e-9d55-0d5f9e1f6b11',
                            hostname='h', flavor=flavor)


# Flavor extra specs and image properties -> (error class, words).
SPECS = [
    ({'lxd:security.privileged': 'Flase'}, {},
     lxd_exception.InvalidExtraSpec, ["'Flase'"]),
    ({'lxd:security.privileged': 'true'}, {},
     lxd_exception.ExtraSpecNotAllowed, ['allowed_security_options']),
    ({'lxd:limits.cpu': '0-3'}, {}, lxd_exception.InvalidExtraSpec,
     ['lxd:limits.cpu']),
    ({'lxd:raw.lxc': 'lxc.apparmor.profile=unconfined'}, {},
     lxd_exception.ExtraSpecNotAllowed, ['allowed_config_keys']),
    ({'lxd:profiles': 'default-privileged'}, {},
     lxd_exception.ExtraSpecNotAllowed, ['flavor_profiles']),
    ({'lxd:linux.kernel_modules': 'nbd'}, {},
     lxd_exception.ExtraSpecNotAllowed, ['allowed_kernel_modules']),
    ({'lxd:host_devices': '../../dev/sda'}, {},
     lxd_exception.InvalidExtraSpec, ['../../dev/sda']),
    ({'lxd:limits.processes': '-1'}, {}, lxd_exception.InvalidExtraSpec,
     ["'-1'"]),
    ({'lxd:security.syscalls.intercept.mount': 'true'}, {},
     exception.InvalidInput, ['lxd:security.syscalls.intercept.mount']),
    ({'hw:tpm_version': '2.0'}, {}, exception.InvalidInput,
     ['hw:tpm_version']),
    ({}, {'os_secure_boot': 'required'}, exception.InvalidInput,
     ['os_secure_boot']),
    ({}, {'hw_serial_port_count': 3}, exception.InvalidInput,
     ['hw_serial_port_count']),
]


@ddt.ddt
class HostileFlavorsTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(config_fixture.Config(CONF))

    @ddt.idata(SPECS)
    @ddt.unpack
    def test_refused_before_lxd_is_asked(self, specs, properties, error,
                                         words):
        instance = _instance(specs)
        image = objects.ImageMeta.from_dict(
            {'name': 'img', 'properties': properties})
        assembler = assembly.Assembler(Untouchable(), Untouchable())
        e = self.assertRaises(error, assembler.definition, instance, [],
                              None, image)
        for word in words:
            self.assertIn(word, str(e))


class _Host(host.HostMixin):
    _session = Untouchable()


# [lxd] option -> value, refused when nova-compute starts.
OPTIONS = [
    ('endpoint', 'http://127.0.0.1:8443', 'https:// or a unix socket'),
    ('endpoint', 'lxd/unix.socket', 'must be absolute'),
    ('endpoint', 'https://:8443', 'expected https://<host>[:<port>]'),
    ('endpoint', 'https://lxd.example:port', 'expected https://'),
    ('endpoint', 'https://lxd.example:8443/1.0', 'expected https://'),
    ('endpoint', 'https://lxd.example:8443', 'needs [lxd] client_cert'),
    ('project', '', 'LXD needs a name'),
    ('project', '..', 'LXD needs a name'),
    ('project', 'tenant/one', "'/'"),
    ('project', 'nova_lxd', "'_'"),
    ('pool', 'fast pool', "' '"),
    ('pool', '', 'LXD needs a name'),
]


@ddt.ddt
class HostileOptionsTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(CONF))

    @ddt.idata(OPTIONS)
    @ddt.unpack
    def test_refused_at_start_before_lxd_is_asked(self, option, value,
                                                  words):
        self.conf.config(**{option: value}, group='lxd')
        e = self.assertRaises(lxd_exception.InvalidLXDOption,
                              _Host().init_host, 'compute1')
        self.assertIn(f'[lxd] {option} {value!r}', str(e))
        self.assertIn(words, str(e))

    def test_missing_certificate_file(self):
        self.conf.config(endpoint='https://127.0.0.1:8443',
                         client_cert='/nonexistent/client.crt',
                         client_key='/etc/hostname', group='lxd')
        e = self.assertRaises(lxd_exception.InvalidLXDOption,
                              _Host().init_host, 'compute1')
        self.assertIn("[lxd] client_cert '/nonexistent/client.crt'", str(e))

    @ddt.data(('timeout', 0), ('connect_timeout', -5),
              ('operation_timeout', 0), ('image_max_unpacked_gb', -1),
              ('soft_reboot_timeout', -1))
    @ddt.unpack
    def test_out_of_range_refused_by_oslo(self, option, value):
        e = self.assertRaises(ValueError, self.conf.config,
                              **{option: value}, group='lxd')
        self.assertIn('greater than or equal', str(e))
