# tools/cloud: paths, ports, credentials and small helpers (sourced by
# tools/cloud after tools/lib/common.sh).  Environment overrides:
#   NOVA_LXD_CLOUD_VENV  the services' venv (/var/lib/nova-lxd/cloud/venv)
#   NOVA_LXD_CACHE       cached root tarballs (/var/cache/nova-lxd)
#   LXD_DIR              the LXD daemon's directory (/var/lib/lxd)

CLOUD_ETC=/etc/nova-lxd-cloud
CLOUD_DATA=/var/lib/nova-lxd/cloud
CLOUD_RUN=/run/nova-lxd-cloud
CLOUD_LOGS=/var/log/nova-lxd/cloud
CLOUD_VENV=${NOVA_LXD_CLOUD_VENV:-$CLOUD_DATA/venv}
CLOUD_IMAGES=${NOVA_LXD_CACHE:-/var/cache/nova-lxd}/images
LXD_DIR=${LXD_DIR:-/var/lib/lxd}
export LXD_DIR

HOST_IP=127.0.0.1
REGION=RegionOne
KEYSTONE_URL=http://$HOST_IP:5000/v3
# nova-compute's user: a member of the LXD socket's group, not root.
NOVA_USER=nova
LXD_GROUP=lxd
LXD_POOL=default
LXD_PROJECT=nova
# The shared Open vSwitch of tools/lib/ovs.sh, through a TCP manager on
# loopback: its unix socket is root-only.
OVSDB_TCP=tcp:$HOST_IP:6640
OVN_NB=unix:/var/run/ovn/ovnnb_db.sock
OVN_SB=unix:/var/run/ovn/ovnsb_db.sock
# The external network `public` (in Neutron only: no chassis maps it) and
# the default subnet pool of auto-allocated project networks.
PUBLIC_CIDR=172.24.4.0/24
POOL_CIDR=10.200.0.0/16

# API services: name, port, WSGI module.
declare -A API_PORT=([keystone]=5000 [glance]=9292 [placement]=8778
    [neutron]=9696 [nova]=8774)
declare -A API_MODULE=([keystone]=keystone.wsgi.api [glance]=glance.wsgi.api
    [placement]=placement.wsgi.api [neutron]=neutron.wsgi.api
    [nova]=nova.wsgi.osapi_compute)
# Every process tools/cloud starts, in start order: what the services use,
# then the services (down stops the services first).
BACKING_PROCS=(mariadb rabbitmq memcached)
SERVICE_PROCS=(keystone glance placement neutron neutron-rpc neutron-periodic
    neutron-ovn-maintenance nova nova-conductor nova-scheduler nova-compute)
CLOUD_PROCS=("${BACKING_PROCS[@]}" "${SERVICE_PROCS[@]}")

# Databases, all owned by the user `openstack`.
CLOUD_DBS=(keystone glance placement neutron nova_api nova_cell0 nova_cell1)

# iniset FILE SECTION OPTION VALUE: DevStack's signature, on crudini, so
# that devstack/lib/nova-lxd works the same here.
iniset() { crudini --set "$1" "$2" "$3" "$4"; }

# load_passwords: read (or create once, mode 0600) the generated passwords:
# ADMIN_PASSWORD, SERVICE_PASSWORD, DB_PASSWORD, RABBIT_PASSWORD.
load_passwords() {
    local file=$CLOUD_ETC/passwords name
    if [[ ! -s $file ]]; then
        install -d -m 0755 "$CLOUD_ETC"
        (
            umask 077
            for name in ADMIN_PASSWORD SERVICE_PASSWORD DB_PASSWORD RABBIT_PASSWORD; do
                echo "$name=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
            done >"$file"
        )
    fi
    # shellcheck source=/dev/null
    source "$file"
}

db_url() { echo "mysql+pymysql://openstack:$DB_PASSWORD@$HOST_IP/$1?charset=utf8"; }
rabbit_url() { echo "rabbit://openstack:$RABBIT_PASSWORD@$HOST_IP:5672/"; }

# openrc: the admin credentials as `export OS_...=` lines.
openrc() {
    cat <<EOF
export OS_AUTH_URL=$KEYSTONE_URL
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=$REGION
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PASSWORD
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_INTERFACE=public
export PATH=$CLOUD_VENV/bin:\$PATH
EOF
}

# osc ARGS...: the openstack CLI as admin; output on stdout.
osc() { (eval "$(openrc)" && openstack "$@"); }
