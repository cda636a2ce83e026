#!/usr/bin/env bash
# Incus next to LXD on this host, for `tools/run-tests --backend incus`
# (idempotent): Debian's bookworm-backports in the apt sources (added here,
# only when Incus is asked for), the container-only daemon incus-base 6.0
# (never the `incus` metapackage, which brings QEMU, nor incus-extra, whose
# lxd-to-incus would take LXD's data), incusd started by hand with the
# group incus-admin, its storage pools `default` (dir) and `btrfs`, https
# on 127.0.0.1:8445.  Its socket is
# /var/lib/incus/unix.socket; LXD keeps its own.  One line per step;
# details in /var/log/nova-lxd/incus.log.
#   --huge-pages N: at least N 2 MiB huge pages reserved on the host before
#   incusd starts (restarted, stopping its instances, when it runs with
#   fewer): Incus reads the host's huge pages once, when it starts
#   (measured: LXD 5.0 reads them at each /1.0/resources request).
set -eEuo pipefail
PATH=$PATH:/usr/sbin:/sbin
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${NOVA_LXD_VENV:-/var/lib/nova-lxd/venv}
INCUS_DIR=/var/lib/incus
mkdir -p /var/log/nova-lxd
NAME=incus LOG=/var/log/nova-lxd/incus.log
# shellcheck source=tools/lib/common.sh
source "$repo/tools/lib/common.sh"
incusd=/usr/libexec/incus/incusd
sources=/etc/apt/sources.list.d/bookworm-backports.sources

if [[ ! -x $incusd ]]; then
    t0=$SECONDS
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
        cat >"$sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        say "bookworm-backports added to the apt sources"
    fi
    export DEBIAN_FRONTEND=noninteractive
    run apt-get update
    # Backports are NotAutomatic: only what is named comes from there.
    run apt-get install -y --no-install-recommends \
        -o Dpkg::Options::=--force-confold incus-base/bookworm-backports
    say "incus-base installed ($((SECONDS - t0))s)"
fi

answers() { INCUS_DIR=$INCUS_DIR "$incusd" waitready --timeout=2 >/dev/null 2>&1; }
huge_pages=0
[[ ${1:-} == --huge-pages ]] && huge_pages=${2:?--huge-pages N}
if ((huge_pages > $(cat /proc/sys/vm/nr_hugepages))); then
    echo "$huge_pages" >/proc/sys/vm/nr_hugepages
    say "$(cat /proc/sys/vm/nr_hugepages) huge pages reserved (Incus reads them when it starts)"
    if answers; then
        run env INCUS_DIR=$INCUS_DIR "$incusd" shutdown --timeout=60
        say "incusd stopped, to start again with them"
    fi
fi
if answers; then
    say "incusd running"
else
    getent group incus-admin >/dev/null || run groupadd --system incus-admin
    mkdir -p /var/log/incus
    # As host-setup starts LXD: own session, from /.  No instance types
    # download (no internet here).
    (cd / && exec setsid nohup env -u LXD_DIR INCUS_DIR=$INCUS_DIR \
        INCUS_SKIP_INSTANCE_TYPES=true \
        PATH=/usr/libexec/incus:/usr/sbin:/usr/bin:/sbin:/bin \
        "$incusd" --group incus-admin --logfile=/var/log/incus/incus.log) \
        >>"$LOG" 2>&1 </dev/null &
    run env INCUS_DIR=$INCUS_DIR "$incusd" waitready --timeout=60
    say "incusd started ($INCUS_DIR)"
fi
# lxd_host reads $LXD_DIR as pylxd does: here, Incus's directory.  The
# pools and listener host-setup.sh gives LXD: `default` (dir), `btrfs` (a
# loop file), https on loopback (another port).
lxd_host() {
    LXD_DIR=$INCUS_DIR "$venv/bin/python" -m nova_lxd.aio.lxd_host "$@" \
        2>>"$LOG" || die "lxd_host $* failed on Incus"
}
say "$(lxd_host ensure-pool default dir)"
say "$(lxd_host ensure-pool btrfs btrfs size=8GiB)"
say "$(lxd_host ensure-https 127.0.0.1:8445)"
