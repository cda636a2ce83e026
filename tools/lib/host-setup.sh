#!/usr/bin/env bash
# Prepare this host for nova-lxd development and tests (idempotent):
#   Debian packages, a running LXD daemon, the storage pools `default` (dir)
#   and `btrfs` (loop file) when missing, the venv with nova-lxd installed in
#   editable mode, and a second LXD daemon (tools/lib/lxd2.sh).
# Execute it or source it; either way it prints one short line per step and
# logs details to /var/log/nova-lxd/host-setup.log.  On failure it exits
# (or returns, when sourced) non-zero with a message on stderr.
#
# Environment: NOVA_LXD_VENV (default /var/lib/nova-lxd/venv),
#              LXD_DIR (default /var/lib/lxd, the Debian package's).

# Sourced: run as a child bash, so that nothing (options, variables, traps,
# `set -e` being ignored in the caller's context) leaks either way.
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
    bash "${BASH_SOURCE[0]}"
    return
fi

set -eEuo pipefail
PATH=$PATH:/usr/sbin:/sbin # in case the caller's PATH lacks the sbin dirs
trap 'echo "host-setup: ERROR: unexpected failure (line $LINENO), see /var/log/nova-lxd/host-setup.log" >&2' ERR
packages=(lxd busybox-static debootstrap iptables btrfs-progs python3-venv
    python3-dev gcc git iproute2 iputils-ping curl ca-certificates xz-utils
    openvswitch-switch ovn-central ovn-host)

main() {
    local repo venv logdir log lxd_dir
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    venv=${NOVA_LXD_VENV:-/var/lib/nova-lxd/venv}
    lxd_dir=${LXD_DIR:-/var/lib/lxd}
    logdir=/var/log/nova-lxd
    log=$logdir/host-setup.log
    mkdir -p "$logdir"
    echo "=== $(date -Is) host-setup from $repo" >>"$log"

    NAME=host-setup LOG=$log
    # shellcheck source=tools/lib/common.sh
    source "$repo/tools/lib/common.sh"

    # --- a. Debian packages ------------------------------------------------
    local missing=() p t0
    for p in "${packages[@]}"; do
        [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] ||
            missing+=("$p")
    done
    if ((${#missing[@]})); then
        t0=$SECONDS
        say "installing ${missing[*]} ..."
        export DEBIAN_FRONTEND=noninteractive
        run apt-get update
        run apt-get install -y -o Dpkg::Options::=--force-confold "${missing[@]}"
        say "packages installed ($((SECONDS - t0))s)"
    else
        say "packages ok"
    fi

    # --- b. LXD daemon -----------------------------------------------------
    # Huge page limits (flavor hw:mem_page_size) need the hugetlb cgroup
    # controller: this VM's kernel has it, but its cgroup v1 tree does not
    # mount it.  LXD sees it from its next start.
    if grep -q '^hugetlb' /proc/cgroups && [[ -d /sys/fs/cgroup/memory ]] &&
        ! mountpoint -q /sys/fs/cgroup/hugetlb; then
        run mkdir -p /sys/fs/cgroup/hugetlb
        run mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
        say "hugetlb cgroup controller mounted"
    fi
    export LXD_DIR=$lxd_dir
    lxd_answers() { lxd waitready --timeout 2 >/dev/null 2>&1; }
    if lxd_answers; then
        say "lxd running"
    else
        t0=$SECONDS
        # setsid: own session, so the daemon outlives this script and any
        # process-group cleanup of the caller (CI).  Append: keep old logs.
        # Socket group `lxd` (the Debian package's): nova-compute runs as a
        # member of it, not as root (tools/cloud).  Started from /: LXD's
        # rsync (dir pool snapshots and copies) fails in a working
        # directory that was deleted meanwhile, e.g. CI's fresh clone.
        (cd / && exec setsid nohup lxd --group lxd) >>"$logdir/lxd.log" \
            2>&1 </dev/null &
        run lxd waitready --timeout 60
        lxd_answers || die "lxd started but does not answer on $lxd_dir/unix.socket"
        say "lxd started ($((SECONDS - t0))s, log $logdir/lxd.log)"
    fi

    # --- c. venv -------------------------------------------------------------
    if [[ ! -x $venv/bin/python ]]; then
        run /usr/bin/python3 -m venv "$venv"
        say "venv created at $venv"
    fi
    local py=$venv/bin/python stamp=$venv/.nova-lxd-deps.sha256 want
    # The files that decide what pip installs.
    want=$(cd "$repo" && cat requirements.txt test-requirements.txt \
        doc/requirements.txt setup.cfg \
        setup.py | sha256sum | cut -d' ' -f1)
    if [[ $(cat "$stamp" 2>/dev/null) != "$want" ]]; then
        t0=$SECONDS
        say "pip install (requirements + editable nova-lxd, minutes on a new venv) ..."
        rm -f "$stamp"
        run "$py" -m pip install -r "$repo/requirements.txt" \
            -r "$repo/test-requirements.txt" -r "$repo/doc/requirements.txt"
        run "$py" -m pip install -e "$repo"
        echo "$want" >"$stamp"
        say "venv ready ($((SECONDS - t0))s)"
    fi
    # The editable install must point at *this* checkout: CI uses fresh
    # clones, so an older install may point at another (or a deleted) tree.
    editable_ok() {
        (cd / && "$py" - "$repo/nova_lxd" >/dev/null 2>&1) <<'EOF'
import importlib.util, os, sys
s = importlib.util.find_spec('nova_lxd')
assert s and os.path.samefile(s.submodule_search_locations[0], sys.argv[1])
EOF
    }
    if ! editable_ok; then
        t0=$SECONDS
        run "$py" -m pip install --no-deps -e "$repo"
        editable_ok || die "nova_lxd in $venv does not come from $repo after pip install -e"
        say "nova-lxd (re)installed editable ($((SECONDS - t0))s)"
    fi
    # find_spec does not run the driver code: a half-written driver must
    # not make host setup fail.
    (cd / && "$py" -c 'import importlib.util as u, sys
sys.exit(not (u.find_spec("nova.virt.lxd") and u.find_spec("nova.virt.nova_lxd")))') ||
        die "nova.virt.lxd / nova.virt.nova_lxd not found in $venv"
    say "venv ok ($venv)"

    # --- d. storage pools `default` (dir), `btrfs`; https on loopback ----------
    # Only when absent, through pylxd (nova_lxd.aio.lxd_host).  The listener
    # is for the https endpoint tests (client certificates) and, later, for
    # migrations between daemons; never on an outside address.
    local line
    line=$("$py" -m nova_lxd.aio.lxd_host ensure-pool default dir 2>>"$log") ||
        die "could not create the dir storage pool 'default' (log $log)"
    say "$line"
    # A pool that clones (LXD's optimised image volumes, root quotas): btrfs
    # on a sparse loop file LXD makes under its own directory.
    line=$("$py" -m nova_lxd.aio.lxd_host ensure-pool btrfs btrfs size=8GiB \
        2>>"$log") ||
        die "could not create the btrfs storage pool 'btrfs' (log $log)"
    say "$line"
    line=$("$py" -m nova_lxd.aio.lxd_host ensure-https 127.0.0.1:8443 2>>"$log") ||
        die "could not make LXD listen on 127.0.0.1:8443 (log $log)"
    say "$line"
    # --- e. a second daemon (migration tests between two daemons) ----------
    bash "$repo/tools/lib/lxd2.sh" | sed 's/^lxd2:/host-setup: second lxd:/'
}

main
