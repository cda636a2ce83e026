# tools/cloud: the services' configuration files under $CLOUD_ETC, written
# with iniset on every `up` (the files are ours: rewriting them is what
# keeps them current).  Sourced; needs env.sh and devstack/lib/nova-lxd.

# authtoken FILE USER: keystonemiddleware settings of a service user.
authtoken() {
    local f=$1 user=$2 s=keystone_authtoken
    iniset "$f" $s www_authenticate_uri "http://$HOST_IP:5000"
    iniset "$f" $s auth_url "http://$HOST_IP:5000"
    iniset "$f" $s memcached_servers "$HOST_IP:11211"
    service_auth "$f" $s "$user"
}

# service_auth FILE SECTION USER: keystoneauth password settings.
service_auth() {
    local f=$1 s=$2 user=$3
    iniset "$f" "$s" auth_type password
    iniset "$f" "$s" auth_url "http://$HOST_IP:5000"
    iniset "$f" "$s" project_domain_name Default
    iniset "$f" "$s" user_domain_name Default
    iniset "$f" "$s" project_name service
    iniset "$f" "$s" username "$user"
    iniset "$f" "$s" password "$SERVICE_PASSWORD"
    iniset "$f" "$s" region_name "$REGION"
}

# uwsgi_ini NAME: the uwsgi file serving API NAME on loopback.
uwsgi_ini() {
    local name=$1 f=$CLOUD_ETC/$1/uwsgi.ini
    cat >"$f" <<EOF
[uwsgi]
http-socket = $HOST_IP:${API_PORT[$name]}
module = ${API_MODULE[$name]}:application
virtualenv = $CLOUD_VENV
master = true
processes = 2
threads = 1
enable-threads = true
lazy-apps = true
die-on-term = true
buffer-size = 65535
# Clients fail on reused connections otherwise (ConnectionResetError).
add-header = Connection: close
EOF
    case $name in
        keystone) echo "env = OS_KEYSTONE_CONFIG_DIR=$CLOUD_ETC/keystone" ;;
        glance)
            echo "env = OS_GLANCE_CONFIG_DIR=$CLOUD_ETC/glance"
            # Image uploads arrive chunked, in glanceclient's 1 MiB chunks:
            # uwsgi's default chunked-input-limit (1 MB) fails every one
            # of them with "unable to receive chunked part" (nova's
            # snapshot upload of anything bigger than a chunk).
            printf '%s\n' "http-raw-body = true" "http-chunked-input = true" \
                "http-auto-chunked = true" "chunked-input-limit = 8388608"
            ;;
        placement) echo "env = OS_PLACEMENT_CONFIG_DIR=$CLOUD_ETC/placement" ;;
        neutron)
            echo "env = OS_NEUTRON_CONFIG_DIR=$CLOUD_ETC/neutron"
            echo "env = OS_NEUTRON_CONFIG_FILES=neutron.conf;ml2_conf.ini"
            ;;
        nova)
            echo "env = OS_NOVA_CONFIG_DIR=$CLOUD_ETC/nova"
            # nova's WSGI app loads its paste pipeline from the first file.
            echo "env = OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf"
            ;;
    esac >>"$f"
}

configure_keystone() {
    local f=$CLOUD_ETC/keystone/keystone.conf
    iniset "$f" database connection "$(db_url keystone)"
    iniset "$f" token provider fernet
    iniset "$f" fernet_tokens key_repository "$CLOUD_ETC/keystone/fernet-keys"
    iniset "$f" credential key_repository "$CLOUD_ETC/keystone/credential-keys"
}

configure_glance() {
    local f=$CLOUD_ETC/glance/glance-api.conf d=$CLOUD_DATA/glance
    install -d "$d/images" "$d/staging" "$d/tasks"
    cp "$CLOUD_VENV/etc/glance/glance-api-paste.ini" "$CLOUD_ETC/glance/"
    iniset "$f" DEFAULT enabled_backends fs:file
    iniset "$f" glance_store default_backend fs
    iniset "$f" fs filesystem_store_datadir "$d/images"
    iniset "$f" os_glance_staging_store filesystem_store_datadir "$d/staging"
    iniset "$f" os_glance_tasks_store filesystem_store_datadir "$d/tasks"
    iniset "$f" database connection "$(db_url glance)"
    iniset "$f" paste_deploy flavor keystone
    iniset "$f" oslo_concurrency lock_path "$d/locks"
    authtoken "$f" glance
}

configure_placement() {
    local f=$CLOUD_ETC/placement/placement.conf
    iniset "$f" placement_database connection "$(db_url placement)"
    iniset "$f" api auth_strategy keystone
    authtoken "$f" placement
}

configure_neutron() {
    local f=$CLOUD_ETC/neutron/neutron.conf m=$CLOUD_ETC/neutron/ml2_conf.ini
    iniset "$f" DEFAULT core_plugin ml2
    iniset "$f" DEFAULT service_plugins ovn-router
    iniset "$f" DEFAULT auth_strategy keystone
    iniset "$f" DEFAULT transport_url "$(rabbit_url)"
    iniset "$f" DEFAULT api_paste_config "$CLOUD_VENV/etc/neutron/api-paste.ini"
    iniset "$f" database connection "$(db_url neutron)"
    iniset "$f" oslo_concurrency lock_path "$CLOUD_DATA/neutron/locks"
    authtoken "$f" neutron
    service_auth "$f" nova nova
    iniset "$m" ml2 mechanism_drivers ovn
    iniset "$m" ml2 type_drivers local,flat,geneve
    iniset "$m" ml2 tenant_network_types geneve
    iniset "$m" ml2 extension_drivers port_security
    iniset "$m" ml2 overlay_ip_version 4
    iniset "$m" ml2_type_geneve vni_ranges 1:65536
    iniset "$m" ml2_type_flat flat_networks public
    iniset "$m" ml2_type_geneve max_header_size 38
    iniset "$m" securitygroup enable_security_group True
    iniset "$m" ovn ovn_nb_connection "$OVN_NB"
    iniset "$m" ovn ovn_sb_connection "$OVN_SB"
    # Instances read their metadata from the config drive.
    iniset "$m" ovn ovn_metadata_enabled False
}

configure_nova() {
    local f=$CLOUD_ETC/nova/nova.conf d=$CLOUD_DATA/nova
    iniset "$f" DEFAULT transport_url "$(rabbit_url)"
    iniset "$f" DEFAULT my_ip "$HOST_IP"
    iniset "$f" DEFAULT state_path "$d"
    iniset "$f" api auth_strategy keystone
    nova_lxd_configure_api "$f"
    cp "$CLOUD_VENV/etc/nova/api-paste.ini" "$CLOUD_ETC/nova/"
    iniset "$f" api_database connection "$(db_url nova_api)"
    iniset "$f" database connection "$(db_url nova_cell1)"
    iniset "$f" oslo_concurrency lock_path "$d/locks"
    iniset "$f" scheduler discover_hosts_in_cells_interval 10
    # One compute host: resize stays on it (as DevStack sets it).
    iniset "$f" DEFAULT allow_resize_to_same_host True
    iniset "$f" oslo_messaging_notifications driver noop
    authtoken "$f" nova
    service_auth "$f" placement placement
    service_auth "$f" neutron neutron
    service_auth "$f" service_user nova
    iniset "$f" service_user send_service_user_token True
}

# configure_compute: nova-cpu.conf, nova.conf plus what devstack/lib/nova-lxd
# adds for the driver (as DevStack does it), without database access.
configure_compute() {
    local f=$CLOUD_ETC/nova/nova-cpu.conf helper=$CLOUD_VENV/bin/privsep-helper
    cp "$CLOUD_ETC/nova/nova.conf" "$f"
    crudini --del "$f" api_database
    crudini --del "$f" database
    nova_lxd_configure_compute "$f" "$helper" "$LXD_POOL" "$LXD_PROJECT" "$OVSDB_TCP"
    iniset "$f" DEFAULT instances_path "$CLOUD_DATA/nova/instances"
    # Containers share the host's cores (limits.cpu caps how many each may
    # use): 16 vCPUs per core lets tempest's parallel servers fit on a
    # small host.
    iniset "$f" DEFAULT cpu_allocation_ratio 16.0
    chgrp "$NOVA_USER" "$f" && chmod 0640 "$f"
    nova_lxd_write_sudoers "$NOVA_USER" "$helper" /etc/sudoers.d/nova-lxd-cloud
}

write_configs() {
    local name
    for name in keystone glance placement neutron nova; do
        install -d -m 0755 "$CLOUD_ETC/$name" "$CLOUD_DATA/$name"
        uwsgi_ini "$name"
    done
    configure_keystone
    configure_glance
    configure_placement
    configure_neutron
    configure_nova
    configure_compute
    say "configuration written ($CLOUD_ETC)"
}
