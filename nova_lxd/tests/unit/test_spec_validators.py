"""spec_validators: nova's API check of ``lxd:`` extra specs, through
nova's own validators registry loaded from the installed entry point."""
from nova.api.validation.extra_specs import validators
from nova import exception
import testtools


class APIValidationTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        validators.load_validators()

    def test_entry_point_registers_the_namespace(self):
        self.assertIn('lxd', validators.NAMESPACES)
        self.assertIn('lxd:security.privileged', validators.VALIDATORS)

    def test_accepted(self):
        for name, value in (('lxd:security.privileged', 'False'),
                            ('lxd:security.nesting', 'true'),
                            ('lxd:security.idmap.isolated', '1'),
                            ('lxd:limits.processes', '100'),
                            ('lxd:linux.kernel_modules', 'overlay,fuse'),
                            ('lxd:profiles', 'hpc'),
                            ('lxd:host_devices', 'fuse, kvm'),
                            ('lxd:raw.lxc', 'lxc.cap.drop = sys_time'),
                            ('lxd:linux.sysctl.net.core.somaxconn', '4096')):
            validators.validate(name, value)

    def test_refused(self):
        for name, value, text in (
                ('lxd:security.privileged', 'maybe', 'boolean-like'),
                ('lxd:limits.processes', 'many', 'integer'),
                ('lxd:limits.processes', '0', 'min value'),
                ('lxd:host_devices', 'a b', 'format'),
                ('lxd:limits.cpu', '4', 'sets this LXD key itself'),
                ('lxd:user.nova.instance_uuid', 'x', 'itself'),
                ('lxd:Bad Key', '1', 'does not appear to be a valid')):
            e = self.assertRaises(exception.ValidationError,
                                  validators.validate, name, value)
            self.assertIn(text, str(e), name)
