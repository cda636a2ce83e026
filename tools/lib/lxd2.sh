#!/usr/bin/env bash
# A second LXD daemon on this host, for migration tests between two
# daemons (idempotent): LXD_DIR=/var/lib/lxd2 (NOVA_LXD_LXD2_DIR), its own
# `default` (dir) pool, https on 127.0.0.1:8444 only.  Reuses a daemon
# already answering there.  Prints one line per step; details in
# /var/log/nova-lxd/lxd2.log.
set -eEuo pipefail
PATH=$PATH:/usr/sbin:/sbin
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${NOVA_LXD_VENV:-/var/lib/nova-lxd/venv}
export LXD_DIR=${NOVA_LXD_LXD2_DIR:-/var/lib/lxd2}
mkdir -p /var/log/nova-lxd "$LXD_DIR"
NAME=lxd2 LOG=/var/log/nova-lxd/lxd2.log
# shellcheck source=tools/lib/common.sh
source "$repo/tools/lib/common.sh"

if lxd waitready --timeout 2 >/dev/null 2>&1; then
    say "second lxd running ($LXD_DIR)"
else
    # As host-setup starts the first: own session, from /, group lxd.
    (cd / && exec setsid nohup lxd --group lxd) >>"$LOG" 2>&1 </dev/null &
    run lxd waitready --timeout 60
    say "second lxd started ($LXD_DIR)"
fi
line=$("$venv/bin/python" -m nova_lxd.aio.lxd_host ensure-pool default dir \
    2>>"$LOG") || die "could not create the second daemon's pool"
say "$line"
line=$("$venv/bin/python" -m nova_lxd.aio.lxd_host ensure-https \
    127.0.0.1:8444 2>>"$LOG") || die "could not make it listen on 127.0.0.1:8444"
say "$line"
