# Sourced by tools/run-tests --as-user: the tests run as a user that is not
# root, in the daemons' groups, the way nova-compute runs in production.

# Tests that need root on the host itself, by id: OVS ports and their
# privsep (in the test process), loop-device volumes, writing
# vm.nr_hugepages, daemons of their own (a private one, the second one at
# /var/lib/lxd2, whose socket is root's), nova's driver suite (privsep in
# the test process) and the spawn faults (one step plugs an OVS port).
ROOT_ONLY_TESTS='test_ovs\.|test_ovn\.|test_vif_events\.|test_volumes\.|test_virt_driver_suite\.|TwoDaemons|DaemonKilled|HugePagesTest|HTTPSInitHost|SpawnFaultTest'

# test_user_stestr NAME ARGS...: stestr ARGS as NAME, made if missing (a
# system user with no login) and put in the groups lxd and incus-admin;
# its stestr repository in /var/tmp/nova-lxd-tests-NAME (the checkout
# stays root's and is only read).
test_user_stestr() {
    local user=$1 group home
    shift
    home=/var/tmp/nova-lxd-tests-$user
    getent passwd "$user" >/dev/null ||
        useradd --system --home-dir "$home" --shell /usr/sbin/nologin "$user"
    for group in lxd incus-admin; do
        getent group "$group" >/dev/null && usermod -a -G "$group" "$user"
    done
    install -d -o "$user" -m 0700 "$home"
    # The test subnet slots (tests/functional/network.py), maybe made by a
    # root run before.
    install -d -m 1777 /run/nova-lxd-tests
    find /run/nova-lxd-tests -name '*.lock' -exec chmod 0666 {} +
    runuser -u "$user" -- env -i HOME="$home" PATH="$PATH" LANG=C.UTF-8 \
        ${LXD_DIR:+LXD_DIR=$LXD_DIR} ${CI:+CI=$CI} \
        ${NOVA_LXD_TEST_BACKEND:+NOVA_LXD_TEST_BACKEND=$NOVA_LXD_TEST_BACKEND} \
        NOVA_LXD_TEST_BUSYBOX_IMAGE="$NOVA_LXD_TEST_BUSYBOX_IMAGE" \
        NOVA_LXD_TEST_DEBIAN_IMAGE="$NOVA_LXD_TEST_DEBIAN_IMAGE" \
        PYTHONWARNINGS="$PYTHONWARNINGS" TMPDIR="$home" \
        stestr --repo-url "$home" "$@"
}
