# tools/cloud: the services' venv, databases, Keystone catalog, Nova cells,
# nova-compute's user, flavors and images (sourced; every step idempotent).

# The releases that go with nova 34 (2026.2), as measured with `pip check`.
CLOUD_REQUIREMENTS=("keystone>=30,<31" "glance>=33,<34"
    "openstack-placement>=16,<17" "neutron>=29,<30" "nova>=34,<35"
    "python-openstackclient>=10,<11" "osc-placement" "tempest>=47,<48"
    uwsgi PyMySQL python-memcached)

install_venv() {
    local stamp=$CLOUD_VENV/.nova-lxd-cloud.sha256 want t0=$SECONDS
    [[ -x $CLOUD_VENV/bin/python ]] || run /usr/bin/python3 -m venv "$CLOUD_VENV"
    want=$(printf '%s\n' "${CLOUD_REQUIREMENTS[@]}" | cat - "$REPO/requirements.txt" |
        sha256sum | cut -d' ' -f1)
    if [[ $(cat "$stamp" 2>/dev/null) != "$want" ]]; then
        say "pip install of the OpenStack services (about 3 minutes) ..."
        rm -f "$stamp"
        run "$CLOUD_VENV/bin/pip" install -q "${CLOUD_REQUIREMENTS[@]}" -e "$REPO"
        run "$CLOUD_VENV/bin/pip" check
        echo "$want" >"$stamp"
        say "venv ready ($((SECONDS - t0))s)"
    fi
    # nova-compute runs the driver of this checkout (CI: a fresh clone),
    # with this checkout's entry points (setup.cfg: nova-api's extra spec
    # validators).
    local setup_stamp=$CLOUD_VENV/.nova-lxd-setup.sha256 setup_want
    setup_want=$(sha256sum "$REPO/setup.cfg" | cut -d' ' -f1)
    if ! (cd / && "$CLOUD_VENV/bin/python" -c 'import nova_lxd, sys, os
sys.exit(not os.path.samefile(nova_lxd.__path__[0], sys.argv[1]))' "$REPO/nova_lxd") 2>>"$LOG" ||
        [[ $(cat "$setup_stamp" 2>/dev/null) != "$setup_want" ]]; then
        run "$CLOUD_VENV/bin/pip" install -q --no-deps -e "$REPO"
        echo "$setup_want" >"$setup_stamp"
        say "nova-lxd (re)installed editable from $REPO"
        # A running nova-compute still has the other checkout's driver.
        stop_procs nova-compute
    fi
    say "venv ok ($CLOUD_VENV)"
}

# compute_user: nova-compute's system user, a member of the LXD socket's
# group; the LXD daemon must have been started with that group.
compute_user() {
    local group
    getent passwd "$NOVA_USER" >/dev/null ||
        run useradd --system --home-dir "$CLOUD_DATA/nova" --shell /usr/sbin/nologin \
            --groups "$LXD_GROUP" "$NOVA_USER"
    id -nG "$NOVA_USER" | grep -qw "$LXD_GROUP" || run usermod -a -G "$LXD_GROUP" "$NOVA_USER"
    group=$(stat -c %G "$LXD_DIR/unix.socket")
    [[ $group == "$LXD_GROUP" ]] || die "the LXD socket $LXD_DIR/unix.socket has group" \
        "'$group', not '$LXD_GROUP': restart LXD with 'lxd --group $LXD_GROUP'" \
        "(tools/lib/host-setup.sh starts it so)"
    install -d -o "$NOVA_USER" -g "$NOVA_USER" "$CLOUD_DATA/nova" \
        "$CLOUD_DATA/nova/instances" "$CLOUD_DATA/nova/locks"
    say "user $NOVA_USER ok (group $LXD_GROUP)"
}

# ovsdb_manager: a TCP manager on loopback for os-vif (nova-compute is not
# root and cannot open the OVSDB unix socket).
ovsdb_manager() {
    local target=ptcp:${OVSDB_TCP##*:}:$HOST_IP
    if ! grep -qx "$target" <<<"$(ovs-vsctl get-manager)"; then
        run ovs-vsctl -- --id=@m create Manager "target=\"$target\"" \
            -- add Open_vSwitch . manager_options @m
    fi
    say "ovsdb manager $target ok"
}

sync_databases() {
    local v=$CLOUD_VENV/bin e=$CLOUD_ETC
    run "$v/keystone-manage" --config-dir "$e/keystone" db_sync
    run "$v/glance-manage" --config-dir "$e/glance" db_sync
    run "$v/placement-manage" --config-dir "$e/placement" db sync
    run "$v/neutron-db-manage" --config-file "$e/neutron/neutron.conf" \
        --config-file "$e/neutron/ml2_conf.ini" upgrade head
    run "$v/nova-manage" --config-file "$e/nova/nova.conf" api_db sync
    # Read the list whole: `nova-manage ... | grep -q` fails under pipefail
    # whenever grep exits before nova-manage has written everything.
    local cells
    cells=$("$v/nova-manage" --config-file "$e/nova/nova.conf" cell_v2 list_cells 2>>"$LOG") ||
        die "nova-manage cell_v2 list_cells failed; see $LOG"
    grep -q ' cell0 ' <<<"$cells" ||
        run "$v/nova-manage" --config-file "$e/nova/nova.conf" cell_v2 map_cell0 \
            --database_connection "$(db_url nova_cell0)"
    grep -q ' cell1 ' <<<"$cells" ||
        run "$v/nova-manage" --config-file "$e/nova/nova.conf" cell_v2 create_cell --name cell1
    run "$v/nova-manage" --config-file "$e/nova/nova.conf" db sync
    say "databases synced"
}

bootstrap_keystone() {
    local v=$CLOUD_VENV/bin d=$CLOUD_ETC/keystone
    install -d -m 0700 "$d/fernet-keys" "$d/credential-keys"
    [[ -e $d/fernet-keys/0 ]] || run "$v/keystone-manage" --config-dir "$d" \
        fernet_setup --keystone-user root --keystone-group root
    [[ -e $d/credential-keys/0 ]] || run "$v/keystone-manage" --config-dir "$d" \
        credential_setup --keystone-user root --keystone-group root
    run "$v/keystone-manage" --config-dir "$d" bootstrap \
        --bootstrap-password "$ADMIN_PASSWORD" \
        --bootstrap-admin-url "$KEYSTONE_URL" \
        --bootstrap-internal-url "$KEYSTONE_URL" \
        --bootstrap-public-url "$KEYSTONE_URL" --bootstrap-region-id "$REGION"
}

# catalog: service project, service users (admin + service roles:
# keystonemiddleware checks the service role on service tokens), services
# and endpoints.  Lists are read once; only what is missing is created.
catalog() {
    local users assigned services endpoints user role type name url
    declare -A svc_name=([image]=glance [placement]=placement [network]=neutron
        [compute]=nova)
    declare -A svc_url=([image]=http://$HOST_IP:9292
        [placement]=http://$HOST_IP:8778 [network]=http://$HOST_IP:9696
        [compute]=http://$HOST_IP:8774/v2.1)
    osc project show service >/dev/null 2>&1 ||
        run osc project create --domain Default service
    osc role show service >/dev/null 2>&1 || run osc role create service
    users=$(osc user list -f value -c Name)
    assigned=$(osc role assignment list --project service --names \
        -f value -c Role -c User)
    for user in glance placement neutron nova; do
        grep -qx "$user" <<<"$users" ||
            run osc user create --domain Default --password "$SERVICE_PASSWORD" "$user"
        for role in admin service; do
            grep -qx "$role $user@Default" <<<"$assigned" ||
                run osc role add --project service --user "$user" "$role"
        done
    done
    services=$(osc service list -f value -c Type)
    endpoints=$(osc endpoint list -f value -c "Service Type" -c Interface)
    for type in "${!svc_name[@]}"; do
        name=${svc_name[$type]} url=${svc_url[$type]}
        grep -qx "$type" <<<"$services" ||
            run osc service create --name "$name" "$type"
        for iface in public internal; do
            grep -qx "$type $iface" <<<"$endpoints" ||
                run osc endpoint create --region "$REGION" "$type" "$iface" "$url"
        done
    done
    say "keystone catalog ok"
}

# flavors: small ones that fit a container host; disk 0 means no quota.
flavors() {
    local existing
    existing=$(osc flavor list --all -f value -c Name)
    grep -qx lxd.tiny <<<"$existing" ||
        run osc flavor create --vcpus 1 --ram 256 --disk 1 lxd.tiny
    grep -qx lxd.small <<<"$existing" ||
        run osc flavor create --vcpus 1 --ram 512 --disk 2 lxd.small
    grep -qx lxd.medium <<<"$existing" ||
        run osc flavor create --vcpus 2 --ram 1024 --disk 4 lxd.medium
    say "flavors ok (lxd.tiny, lxd.small, lxd.medium)"
}

# images: the Debian and busybox root tarballs of tools/lib/build-images.sh.
images() {
    local id
    id=$(eval "$(openrc)" && nova_lxd_upload_image debian-12 \
        "$CLOUD_IMAGES/debian-bookworm-rootfs.tar.gz" 2>>"$LOG") ||
        die "could not upload the Debian image"
    say "image debian-12 ok ($id)"
    id=$(eval "$(openrc)" && nova_lxd_upload_image busybox \
        "$CLOUD_IMAGES/busybox-rootfs.tar.gz" 2>>"$LOG") ||
        die "could not upload the busybox image"
    say "image busybox ok ($id)"
}

# public_network: what a cloud's projects reach the outside through, as
# DevStack makes it: the flat provider network `public` (physnet `public`,
# PUBLIC_CIDR), marked the default external network, and a shared default
# subnet pool.  Nova's auto-allocated networks, routers with a gateway and
# floating IPs need them.  No chassis here maps the physnet or may host a
# router gateway, so floating IPs carry no traffic: the userspace Open
# vSwitch of this machine (3.1, netdev datapath) aborts in its conntrack NAT
# code (conn_update_state assertion, doc/source/cloud.rst).
public_network() {
    local gw=${PUBLIC_CIDR%.*}.1
    if ! osc network show public >/dev/null 2>&1; then
        run osc network create --external --default --provider-network-type flat \
            --provider-physical-network public public
        run osc subnet create --network public --subnet-range "$PUBLIC_CIDR" \
            --gateway "$gw" --no-dhcp public-subnet
    fi
    osc subnet pool show shared-default-subnetpool-v4 >/dev/null 2>&1 ||
        run osc subnet pool create --share --default --pool-prefix "$POOL_CIDR" \
            --default-prefix-length 26 shared-default-subnetpool-v4
    say "public network ok (public $PUBLIC_CIDR, no gateway chassis; default subnet pool $POOL_CIDR)"
}
