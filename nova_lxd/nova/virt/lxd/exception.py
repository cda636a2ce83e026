"""Errors of the LXD driver that no nova exception already describes.

Every message names the value at fault and the fix.  Where nova has a class
for the situation (InstanceNotFound, ImageUnacceptable, InvalidInput...) the
driver raises that instead.
"""
from nova import exception


class LXDDriverError(exception.NovaException):
    msg_fmt = 'LXD driver error: %(reason)s'


class LXDUnreachable(LXDDriverError):
    msg_fmt = ('Cannot reach the LXD daemon at %(endpoint)s: %(error)s. '
               '%(fix)s')


class LXDTimeout(LXDUnreachable):
    msg_fmt = ('The LXD daemon at %(endpoint)s did not answer within '
               '%(timeout)s s to %(action)s %(target)s: %(error)s. Check that '
               'it is healthy (`lxc info`, `lxc operation list`), or raise '
               '[lxd] timeout if it is only slow to answer.')


class LXDOperationTimeout(LXDTimeout):
    msg_fmt = ('LXD at %(endpoint)s did not finish "%(description)s" '
               'within [lxd] operation_timeout (%(timeout)s s); operation '
               '%(operation)s may still be running (`lxc operation show '
               '%(operation)s`). Raise [lxd] operation_timeout if such work '
               'takes longer here.')


class LXDStoragePoolNotFound(LXDDriverError):
    msg_fmt = ('LXD storage pool %(pool)r does not exist; existing pools: '
               '%(pools)s. Create it (e.g. `lxc storage create %(pool)s dir`) '
               'or set [lxd] pool to one of the existing pools.')


class LXDProjectUnavailable(LXDDriverError):
    msg_fmt = ('LXD project %(project)r is unusable: %(error)s. Create it '
               '(`lxc project create %(project)s`) or set [lxd] project.')


class LXDProfilesMissing(LXDDriverError):
    msg_fmt = ('LXD driver error: [lxd] profiles %(profiles)s do not exist in '
               'LXD project %(project)s; create them (`lxc profile create '
               'NAME --project %(project)s`) or remove them from [lxd] '
               'profiles / flavor_profiles')


class LXDRequestFailed(LXDDriverError):
    msg_fmt = 'LXD refused to %(action)s %(target)s: %(error)s'


class LXDImageExists(LXDRequestFailed):
    """LXD already holds an image with the uploaded bytes' fingerprint."""


class InvalidExtraSpec(exception.InvalidInput):
    msg_fmt = ('Invalid flavor extra spec %(key)s=%(value)r: %(reason)s. '
               'Fix the flavor (openstack flavor set/unset --property).')


class UnsupportedVIFType(exception.InvalidInput):
    # An InvalidInput aborts the build with this message instead of a
    # reschedule that would hide it behind "Exceeded maximum retries".
    msg_fmt = ('Port %(port_id)s is bound with VIF type %(vif_type)r, which '
               'the LXD driver cannot plug (supported: %(supported)s). Bind '
               'the port with a supported mechanism driver.')


class UnsupportedDisk(exception.InvalidInput):
    # InvalidInput: the build aborts with this message, no reschedule.
    msg_fmt = ('Instance %(instance)s asks for %(what)s, which the LXD '
               'driver cannot give a container: %(reason)s.')


class InvalidPort(exception.InvalidInput):
    msg_fmt = ('Port %(port_id)s cannot be plugged into an LXD container: '
               '%(reason)s.')


class OVSBridgeMissing(LXDDriverError):
    msg_fmt = ('Port %(port_id)s is bound to Open vSwitch bridge '
               '%(bridge)r, which does not exist on this host (OVSDB '
               '%(connection)s). Start the Neutron OVS agent or '
               'ovn-controller that owns it, or fix the bridge mapping.')


class OVSUnreachable(LXDDriverError):
    msg_fmt = ('Open vSwitch database %(connection)s does not answer: '
               '%(error)s. Check that ovsdb-server and ovs-vswitchd run and '
               'that [os_vif_ovs] ovsdb_connection names their socket.')


class ExtraSpecNotAllowed(exception.InvalidInput):
    # InvalidInput: the build aborts with this message, no reschedule.
    # Option first: nova keeps 255 characters of a fault message.
    msg_fmt = ('Flavor extra spec %(key)s=%(value)r is not permitted by '
               '%(option)s of this compute host: %(reason)s. Ask its '
               'operator, or change the flavor.')


class UnsupportedInstanceFeature(exception.InvalidInput):
    msg_fmt = ('Instance %(instance)s asks for %(what)s (%(key)s=%(value)s), '
               'which an LXD container cannot have: %(reason)s. Remove '
               '%(key)s from the flavor or the image.')


class UnsupportedPCIDevice(exception.InvalidInput):
    msg_fmt = ('PCI device %(address)s (%(vendor_id)s:%(product_id)s) '
               'claimed for instance %(instance)s cannot be given to an LXD '
               'container: %(reason)s.')


class InvalidLXDOption(LXDDriverError):
    msg_fmt = ('Invalid [lxd] %(option)s %(value)r: %(reason)s. Fix '
               'nova-compute\'s configuration.')
