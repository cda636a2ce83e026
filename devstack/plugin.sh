#!/bin/bash
# DevStack plugin: nova-compute with the LXD driver.
#
# Neutron must bind ports with VIF type "tap" (a routed mechanism driver);
# ML2/OVS and OVN bindings are refused by this release of the driver.

function install_nova_lxd {
    if ! command -v lxd >/dev/null; then
        install_package lxd
    fi
    setup_develop "$NOVA_LXD_DIR"
    # nova-compute talks to the daemon through its unix socket.
    sudo usermod -a -G lxd "$STACK_USER" || true
}

function configure_nova_lxd {
    iniset "$NOVA_CPU_CONF" DEFAULT compute_driver \
        nova_lxd.nova.virt.lxd.LXDDriver
    iniset "$NOVA_CPU_CONF" DEFAULT force_config_drive True
    iniset "$NOVA_CPU_CONF" lxd pool "$LXD_POOL"
    iniset "$NOVA_CPU_CONF" lxd project "$LXD_PROJECT"
}

function init_nova_lxd_pool {
    # Create the pool only when absent; an existing setup is never changed.
    if ! sudo lxc query "/1.0/storage-pools/$LXD_POOL" >/dev/null 2>&1; then
        printf 'storage_pools:\n- name: %s\n  driver: %s\n' \
            "$LXD_POOL" "$LXD_POOL_DRIVER" | sudo lxd init --preseed
    fi
}

if is_service_enabled n-cpu; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        install_nova_lxd
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        init_nova_lxd_pool
        configure_nova_lxd
    fi
fi
