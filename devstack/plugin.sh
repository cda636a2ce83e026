#!/bin/bash
# DevStack plugin: nova-compute with the LXD driver (devstack/local.conf.sample).
#
# Phases: stack install (LXD, nova-lxd, the LXD group), stack post-config
# (pool, nova.conf), stack extra (the image in Glance), stack test-config
# (tempest), unstack, clean (the LXD project).  The driver's settings go to
# $NOVA_CONF: DevStack copies it to $NOVA_CPU_CONF when it starts
# nova-compute, so anything written to nova-cpu.conf before that is lost.
# The configuration itself is in devstack/lib/nova-lxd, shared with
# tools/cloud.

source "$NOVA_LXD_DIR/devstack/lib/nova-lxd"

# The Python environment nova is installed in (DevStack's venv or the
# system's): nova-lxd goes there, privsep helpers come from there.
function nova_lxd_python {
    if [[ -x $NOVA_BIN_DIR/python3 ]]; then
        echo "$NOVA_BIN_DIR/python3"
    else
        command -v python3
    fi
}

function install_lxd {
    if [[ $LXD_INSTALL == snap ]]; then
        is_package_installed snapd || install_package snapd
        snap list lxd >/dev/null 2>&1 ||
            sudo snap install lxd --channel="$LXD_SNAP_CHANNEL"
    else
        is_package_installed lxd || install_package lxd
    fi
    sudo lxd waitready --timeout 120
    getent group "$LXD_GROUP" >/dev/null || sudo groupadd --system "$LXD_GROUP"
    # systemd starts nova-compute (devstack@n-cpu) with the user's groups
    # as /etc/group lists them, so this takes effect without a new login.
    sudo usermod -a -G "$LXD_GROUP" "$STACK_USER"
}

function configure_nova_lxd {
    local helper=$NOVA_BIN_DIR/privsep-helper
    nova_lxd_ensure_pool "$(nova_lxd_python)" "$LXD_POOL" "$LXD_STORAGE_DRIVER"
    nova_lxd_configure_compute "$NOVA_CONF" "$helper" "$LXD_POOL" \
        "$LXD_PROJECT" "tcp:127.0.0.1:6640"
    nova_lxd_configure_api "$NOVA_CONF"
    nova_lxd_write_sudoers "$STACK_USER" "$helper" /etc/sudoers.d/nova-lxd
}

function upload_nova_lxd_image {
    local file=$NOVA_LXD_IMAGE_FILE
    if [[ -z $file ]]; then
        is_package_installed debootstrap || install_package debootstrap
        sudo NOVA_LXD_CACHE="$DATA_DIR/nova-lxd" \
            bash "$NOVA_LXD_DIR/tools/lib/build-images.sh" --no-paths
        file=$DATA_DIR/nova-lxd/images/debian-bookworm-rootfs.tar.gz
    fi
    OS_CLOUD=devstack-admin nova_lxd_upload_image "$NOVA_LXD_IMAGE_NAME" "$file"
}

function configure_tempest_for_nova_lxd {
    local image
    image=$(OS_CLOUD=devstack-admin openstack image show -f value -c id \
        "$NOVA_LXD_IMAGE_NAME")
    nova_lxd_configure_tempest "$TEMPEST_CONFIG" "$(nova_lxd_python)" \
        "$image" "$(iniget "$TEMPEST_CONFIG" compute flavor_ref)" \
        "$(iniget "$TEMPEST_CONFIG" compute flavor_ref_alt)"
}

if is_service_enabled n-cpu; then
    case "${1:-} ${2:-}" in
        "stack pre-install")
            [[ $VIRT_DRIVER == lxd ]] ||
                die $LINENO "nova-lxd: set VIRT_DRIVER=lxd in local.conf ([[local|localrc]])"
            ;;
        "stack install")
            install_lxd
            setup_develop "$NOVA_LXD_DIR"
            ;;
        "stack post-config") configure_nova_lxd ;;
        "stack extra") upload_nova_lxd_image ;;
        "stack test-config")
            is_service_enabled tempest && configure_tempest_for_nova_lxd
            ;;
        "unstack "*)
            # Containers outlive nova-compute, as they do in production;
            # `clean` removes them.
            ;;
        "clean "*) nova_lxd_purge_project "$(nova_lxd_python)" "$LXD_PROJECT" ;;
    esac
fi
