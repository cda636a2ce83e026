#!/usr/bin/env bash
# Bring up Open vSwitch (userspace datapath) and, on request, a one-node OVN
# on this host, reusing whatever already runs (idempotent).
#
#   tools/lib/ovs.sh [ovs|ovn|status|stop]        (default: ovs)
#
#   ovs     ovsdb-server + ovs-vswitchd (userspace TSO on) and two netdev
#           bridges: br-int (OVN's integration bridge) and br-ml2
#           (fail_mode standalone, for ML2/OVS port tests without OVN).
#   ovn     `ovs`, then the OVN NB and SB ovsdb-servers, ovn-northd and
#           ovn-controller (chassis `hostname`, geneve on 127.0.0.1); waits
#           until the chassis is in the SB database.  ovn-controller sets
#           br-int's fail_mode to secure: that is expected.
#   status  one line per component; exit 0 when all run, 3 otherwise.
#   stop    stop all of them (OVN first); nothing running is fine.
#
# Execute it or source it (`source tools/lib/ovs.sh ovn`: pass the command
# explicitly, a bare `source` hands the caller's own arguments on); either
# way it prints one short line per step and logs details to
# /var/log/nova-lxd/ovs.log.  On failure it exits (or returns, when sourced)
# non-zero with a message on stderr.  Daemon logs: /var/log/openvswitch/,
# /var/log/ovn/.  Needs the Debian packages openvswitch-switch, ovn-central
# and ovn-host (tools/lib/host-setup.sh installs them).
#
# Reuse: a daemon is reused when its pid file names a live process of the
# right name and it answers (socket / unixctl); it is never started a second
# time -- only one userspace ovs-vswitchd can run per network namespace, so
# another ovs-vswitchd (or ovn-controller) in this namespace that is not the
# one of our pid file is an error, not something to start beside.
#
# The Debian helpers are used where they work without systemd: ovs-ctl for
# ovsdb-server (db creation / schema upgrade with backup, init, system-id)
# and ovn-ctl for every OVN daemon.  ovs-vswitchd is started directly:
# `ovs-ctl start` would first modprobe openvswitch, which fails on hosts
# with module support but no such module (and may try to rmmod bridge), and
# there is no option to skip it.  "Generic Netlink family 'ovs_datapath' does
# not exist" in ovs-vswitchd.log only says there is no kernel datapath:
# harmless, all our bridges use the userspace (netdev) datapath.

# Sourced: run as a child bash, so that nothing (options, variables, traps,
# `set -e` being ignored in the caller's context) leaks either way.
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
    bash "${BASH_SOURCE[0]}" "$@"
    return
fi

set -eEuo pipefail
PATH=$PATH:/usr/sbin:/sbin # in case the caller's PATH lacks the sbin dirs
trap 'echo "ovs: ERROR: unexpected failure (line $LINENO), see /var/log/nova-lxd/ovs.log" >&2' ERR

# Fixed locations (the Debian packages' defaults); exported so that the
# helper scripts and the *ctl tools agree with us whatever the caller set.
export OVS_RUNDIR=/var/run/openvswitch OVS_LOGDIR=/var/log/openvswitch
export OVS_DBDIR=/etc/openvswitch OVS_SYSCONFDIR=/etc
export OVN_RUNDIR=/var/run/ovn OVN_LOGDIR=/var/log/ovn OVN_DBDIR=/var/lib/ovn
export OVN_SYSCONFDIR=/etc
unset OVN_NB_DAEMON OVN_SB_DAEMON OVN_NB_DB OVN_SB_DB OVS_DB
OVS_CTL=/usr/share/openvswitch/scripts/ovs-ctl
OVN_CTL=/usr/share/ovn/scripts/ovn-ctl
OVS_DB_FILE=$OVS_DBDIR/conf.db
OVS_SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
OVS_SOCK=$OVS_RUNDIR/db.sock
VSWITCHD_PID=$OVS_RUNDIR/ovs-vswitchd.pid
# Holds the pid of an ovs-vswitchd that this script started with userspace
# TSO already enabled in the database.
TSO_MARK=$OVS_RUNDIR/ovs-vswitchd.nova-lxd-tso
NB_SOCK=$OVN_RUNDIR/ovnnb_db.sock
SB_SOCK=$OVN_RUNDIR/ovnsb_db.sock
OUR_BRIDGES=(br-int br-ml2)
LOGDIR=/var/log/nova-lxd
LOG=$LOGDIR/ovs.log

NAME=ovs
# shellcheck source=tools/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# alive PID: the process exists and is not a zombie.
alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# pid_of PIDFILE NAME: print the pid in PIDFILE if it is a live NAME process.
pid_of() {
    local pid comm
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$2" ]] || return 1
    echo "$pid"
}

# drop_stale_pidfile PIDFILE NAME: remove PIDFILE unless it names a live NAME
# process.  ovn-ctl trusts any live pid there (its comm check is a no-op), so
# after a crash a pid reused by another process keeps it from starting the db.
drop_stale_pidfile() {
    [[ -e $1 ]] || return 0
    pid_of "$1" "$2" >/dev/null && return 0
    say "removing stale pid file $1 ($(cat "$1" 2>/dev/null) is no $2)"
    rm -f "$1"
}

# parent_of PID: its parent's pid (empty when PID is gone).
parent_of() { awk '{print $4}' "/proc/$1/stat" 2>/dev/null || true; }

# foreign_pids NAME PID: NAME processes in this network namespace other
# than PID and its --monitor parent (processes of LXD containers live in
# their own namespaces and do not count).
foreign_pids() {
    local name=$1 ours=${2:-} parent='' me p
    me=$(readlink /proc/self/ns/net)
    [[ -n $ours ]] && parent=$(parent_of "$ours")
    for p in $(pgrep -x "$name" || true); do
        [[ $p == "$ours" || $p == "$parent" ]] && continue
        [[ $(readlink "/proc/$p/ns/net" 2>/dev/null) == "$me" ]] || continue
        echo "$p"
    done
}

# wait_for SECONDS CMD...: retry CMD (quietly) once a second.
wait_for() {
    local t=$1
    shift
    while ! quiet "$@"; do
        ((t-- > 0)) || return 1
        sleep 1
    done
}

vsctl() { ovs-vsctl --db="unix:$OVS_SOCK" --timeout=10 "$@"; }
ovsdb_answers() { ovs-vsctl --db="unix:$OVS_SOCK" --timeout=5 show; }
vswitchd_answers() { ovs-appctl -T 5 -t "$OVS_RUNDIR/ovs-vswitchd.$1.ctl" version; }
nb_answers() { ovn-nbctl --db="unix:$NB_SOCK" --timeout=5 show; }
sb_answers() { ovn-sbctl --db="unix:$SB_SOCK" --timeout=5 show; }
# ovn_answers NAME PID: the OVN daemon's unixctl socket answers.
ovn_answers() { ovs-appctl -T 5 -t "$OVN_RUNDIR/$1.$2.ctl" version; }

need() {
    local c missing=()
    for c in "$@"; do
        [[ -x $c ]] || command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    ((${#missing[@]} == 0)) || die "missing ${missing[*]}: install openvswitch-switch ovn-central ovn-host (tools/lib/host-setup.sh does)"
}

# tso_at_start PID: true if that ovs-vswitchd had userspace TSO enabled when
# it started.  The flag is read at every reconfiguration but only ports
# opened afterwards get TSO (the OVS docs: changing it needs a restart), so
# "enabled later" does not count.  Proof: our own mark, or, for a daemon
# that someone else started, its log: in the last start (vlog message 1
# "opened log file"), the TSO message comes before the bridge's version
# message only when it was set before the start.
tso_at_start() {
    local pid=$1 logf mark
    mark=$(cat "$TSO_MARK" 2>/dev/null || true)
    # The mark names the --monitor parent, which outlives restarted children.
    [[ -n $mark && ($mark == "$pid" || $mark == "$(parent_of "$pid")") ]] && return 0
    logf=$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^--log-file=//p' | tail -n1)
    [[ -n $logf ]] || logf=$OVS_LOGDIR/ovs-vswitchd.log
    [[ -r $logf ]] || return 1
    awk '/\|00001\|vlog\|INFO\|opened log file/ { tso = 0; ver = 0 }
         /userspace_tso\|INFO\|.*enabled/ { if (!ver) tso = 1 }
         /\|bridge\|INFO\|ovs-vswitchd \(Open vSwitch\)/ { ver = 1 }
         END { exit !tso }' "$logf"
}

# start_vswitchd: start it, its pid in $pid (the caller's).
start_vswitchd() {
    # Same command line as ovs-ctl, minus --mlockall and the kernel module.
    # --monitor as ovs-ctl: Debian's 3.1.0 userspace conntrack aborts on an
    # assertion now and then (conntrack.c:1063, seen under tempest and the
    # smoke run); the monitor starts a new ovs-vswitchd, which re-adds every
    # port from the database, instead of leaving the cloud without one.
    run ovs-vswitchd "unix:$OVS_SOCK" -vconsole:emer -vsyslog:err -vfile:info \
        --no-chdir --log-file="$OVS_LOGDIR/ovs-vswitchd.log" \
        --pidfile="$VSWITCHD_PID" --detach --monitor
    wait_for 10 pid_of "$VSWITCHD_PID" ovs-vswitchd
    pid=$(pid_of "$VSWITCHD_PID" ovs-vswitchd) ||
        die "ovs-vswitchd did not start, see $OVS_LOGDIR/ovs-vswitchd.log"
    parent_of "$pid" >"$TSO_MARK"
}

# --- ovs ---------------------------------------------------------------------
do_ovs() {
    local t0=$SECONDS pid tso others foreign b
    need "$OVS_CTL" ovsdb-server ovsdb-tool ovs-vswitchd ovs-vsctl ovs-appctl
    [[ -c /dev/net/tun ]] || warn "/dev/net/tun is missing: netdev bridges need it for their internal ports"
    mkdir -p "$OVS_RUNDIR" "$OVS_DBDIR" "$OVS_LOGDIR"

    # a. ovsdb-server (Open_vSwitch database)
    if quiet ovsdb_answers; then
        say "ovsdb-server running (pid $(pid_of "$OVS_RUNDIR/ovsdb-server.pid" ovsdb-server || echo '?'))"
    elif pid=$(pid_of "$OVS_RUNDIR/ovsdb-server.pid" ovsdb-server); then
        die "ovsdb-server (pid $pid) runs but $OVS_SOCK does not answer; not starting another one"
    else
        # ovs-ctl creates the db (or backs it up and converts an outdated
        # schema), starts ovsdb-server, runs `init` and sets the system-id.
        run timeout 60 "$OVS_CTL" start --no-ovs-vswitchd --no-monitor \
            --no-record-hostname --system-id="$(hostname)" \
            --db-file="$OVS_DB_FILE" --db-sock="$OVS_SOCK" --db-schema="$OVS_SCHEMA"
        wait_for 10 ovsdb_answers || die "ovsdb-server started but $OVS_SOCK does not answer"
        say "ovsdb-server started (pid $(pid_of "$OVS_RUNDIR/ovsdb-server.pid" ovsdb-server || echo '?'))"
    fi

    # b. ovs-vswitchd, with userspace TSO: without it, TCP between veths on a
    # netdev bridge fails (bad checksums) while ping works.  Only read for
    # ports opened after it is set, hence set before the daemon starts.
    run vsctl --no-wait set Open_vSwitch . other_config:userspace-tso-enable=true
    if pid=$(pid_of "$VSWITCHD_PID" ovs-vswitchd); then
        if tso_at_start "$pid"; then
            tso=ok
        else
            others=()
            for b in $(vsctl list-br 2>>"$LOG"); do
                [[ " ${OUR_BRIDGES[*]} " == *" $b "* ]] || others+=("$b")
            done
            if ((${#others[@]} == 0)); then
                say "ovs-vswitchd (pid $pid) was started without userspace TSO (read at start only): restarting it"
                run timeout 120 "$OVS_CTL" stop --no-ovsdb-server
                start_vswitchd
                tso=restarted
            else
                warn "ovs-vswitchd (pid $pid) was started without other_config:userspace-tso-enable=true (read at start only): TCP through veths on its netdev bridges may fail with bad checksums. Not restarting it, it has other bridges (${others[*]}); to fix: ovs-appctl -t ovs-vswitchd exit && $0 ovs"
                tso=off
            fi
        fi
        [[ $tso == restarted ]] || say "ovs-vswitchd running (pid $pid, userspace TSO ${tso/ok/on})"
    else
        foreign=$(foreign_pids ovs-vswitchd | tr '\n' ' ')
        [[ -z $foreign ]] ||
            die "an ovs-vswitchd (pid ${foreign% }) runs in this network namespace without $VSWITCHD_PID; only one can run per namespace: stop it or make it use $OVS_RUNDIR"
        start_vswitchd
        tso=started
    fi
    wait_for 30 vswitchd_answers "$pid" || die "ovs-vswitchd (pid $pid) does not answer, see $OVS_LOGDIR/ovs-vswitchd.log"
    [[ $tso == started ]] && say "ovs-vswitchd started (pid $pid, userspace TSO on)"
    [[ $tso == restarted ]] && say "ovs-vswitchd restarted (pid $pid, userspace TSO on)"

    # c. bridges, both on the userspace datapath.  br-int's fail_mode is
    # left alone (ovn-controller sets it to secure).
    local made=()
    for b in "${OUR_BRIDGES[@]}"; do
        quiet vsctl br-exists "$b" || made+=("$b")
    done
    run vsctl --timeout=30 --may-exist add-br br-int -- set Bridge br-int datapath_type=netdev
    run vsctl --timeout=30 --may-exist add-br br-ml2 -- set Bridge br-ml2 \
        datapath_type=netdev fail_mode=standalone
    if ((${#made[@]})); then
        say "bridges ${OUR_BRIDGES[*]} ok (created ${made[*]}) ($((SECONDS - t0))s)"
    else
        say "bridges ${OUR_BRIDGES[*]} ok ($((SECONDS - t0))s)"
    fi
}

# --- ovn ---------------------------------------------------------------------
# ovn_db NB|SB: reuse or start one OVN database server.
ovn_db() {
    local which=$1 lower sock pidf pid
    lower=${which,,}
    sock=$OVN_RUNDIR/ovn${lower}_db.sock
    pidf=$OVN_RUNDIR/ovn${lower}_db.pid
    if quiet "${lower}_answers"; then
        say "ovn $which db running (pid $(pid_of "$pidf" ovsdb-server || echo '?'))"
        return
    fi
    if pid=$(pid_of "$pidf" ovsdb-server); then
        die "the OVN $which ovsdb-server (pid $pid) runs but $sock does not answer; not starting another one"
    fi
    drop_stale_pidfile "$pidf" ovsdb-server
    # ovn-ctl: creates or upgrades the db, starts it (unix socket only).
    run timeout 60 "$OVN_CTL" "start_${lower}_ovsdb"
    wait_for 10 "${lower}_answers" || die "the OVN $which db started but $sock does not answer"
    say "ovn $which db started (pid $(pid_of "$pidf" ovsdb-server || echo '?'))"
}

do_ovn() {
    local t0 pid sysid others kv k v cur changed=()
    do_ovs
    t0=$SECONDS
    need "$OVN_CTL" ovn-northd ovn-controller ovn-nbctl ovn-sbctl ovn-appctl
    # ovn-controller fails "binding failed: No such file or directory"
    # without the run dir.
    mkdir -p "$OVN_RUNDIR" "$OVN_DBDIR" "$OVN_LOGDIR"

    ovn_db NB
    ovn_db SB

    if pid=$(pid_of "$OVN_RUNDIR/ovn-northd.pid" ovn-northd) &&
        quiet ovn_answers ovn-northd "$pid"; then
        say "ovn-northd running (pid $pid)"
    elif [[ -n ${pid:-} ]]; then
        die "ovn-northd (pid $pid) runs but does not answer on its unixctl socket"
    else
        run timeout 60 "$OVN_CTL" --ovn-manage-ovsdb=no \
            --ovn-northd-nb-db="unix:$NB_SOCK" --ovn-northd-sb-db="unix:$SB_SOCK" start_northd
        pid=$(pid_of "$OVN_RUNDIR/ovn-northd.pid" ovn-northd) ||
            die "ovn-northd did not start, see $OVN_LOGDIR/ovn-northd.log"
        say "ovn-northd started (pid $pid)"
    fi

    # Chassis settings in the Open_vSwitch table (only what differs).
    sysid=$(hostname)
    for kv in "ovn-remote=unix:$SB_SOCK" ovn-encap-type=geneve ovn-encap-ip=127.0.0.1 \
        "system-id=$sysid" ovn-bridge=br-int; do
        k=${kv%%=*} v=${kv#*=}
        cur=$(vsctl --if-exists get Open_vSwitch . "external_ids:$k" 2>>"$LOG" | tr -d '"') || cur=
        if [[ $cur != "$v" ]]; then
            run vsctl set Open_vSwitch . "external_ids:$k=\"$v\""
            changed+=("$k${cur:+ (was $cur)}")
        fi
    done
    if ((${#changed[@]})); then
        say "ovs external_ids for OVN set: ${changed[*]}"
    else
        say "ovs external_ids for OVN ok"
    fi

    pid=
    if pid=$(pid_of "$OVN_RUNDIR/ovn-controller.pid" ovn-controller) &&
        quiet ovn_answers ovn-controller "$pid"; then
        say "ovn-controller running (pid $pid)"
    elif [[ -n ${pid:-} ]]; then
        die "ovn-controller (pid $pid) runs but does not answer on its unixctl socket"
    else
        others=$(foreign_pids ovn-controller | tr '\n' ' ')
        [[ -z $others ]] ||
            die "an ovn-controller (pid ${others% }) runs in this network namespace without $OVN_RUNDIR/ovn-controller.pid; not starting a second one"
        run timeout 60 "$OVN_CTL" --db-sock="$OVS_SOCK" start_controller
        pid=$(pid_of "$OVN_RUNDIR/ovn-controller.pid" ovn-controller) ||
            die "ovn-controller did not start, see $OVN_LOGDIR/ovn-controller.log"
        say "ovn-controller started (pid $pid)"
    fi

    chassis_up() {
        ovn-sbctl --db="unix:$SB_SOCK" --timeout=5 --bare --columns=name list Chassis |
            grep -Fxq -- "$sysid"
    }
    wait_for 60 chassis_up ||
        die "chassis $sysid did not show up in the SB db within 60s, see $OVN_LOGDIR/ovn-controller.log"
    say "ovn chassis $sysid registered ($((SECONDS - t0))s)"
}

# --- status ------------------------------------------------------------------
do_status() {
    local rc=0 pid line
    # one NAME PIDFILE COMM ANSWER-CMD...
    one() {
        local name=$1 pidf=$2 comm=$3
        shift 3
        if pid=$(pid_of "$pidf" "$comm"); then
            if quiet "$@" "$pid"; then
                line="$name running (pid $pid)"
            else
                line="$name running (pid $pid) but NOT ANSWERING"
                rc=3
            fi
        else
            line="$name not running"
            rc=3
        fi
    }
    # The answer commands get the pid as their last argument.
    ovsdb_answers_() { ovsdb_answers; }
    nb_answers_() { nb_answers; }
    sb_answers_() { sb_answers; }
    one ovsdb-server "$OVS_RUNDIR/ovsdb-server.pid" ovsdb-server ovsdb_answers_
    say "$line"
    one ovs-vswitchd "$VSWITCHD_PID" ovs-vswitchd vswitchd_answers
    if [[ $line == *"(pid $pid)" ]]; then
        if tso_at_start "$pid"; then
            line="${line%)}, userspace TSO on)"
        else
            line="${line%)}, userspace TSO OFF)"
        fi
    fi
    say "$line"
    if quiet ovsdb_answers; then
        say "bridges: $(vsctl list-br 2>>"$LOG" | tr '\n' ' ')"
    fi
    one "ovn NB db" "$OVN_RUNDIR/ovnnb_db.pid" ovsdb-server nb_answers_
    say "$line"
    one "ovn SB db" "$OVN_RUNDIR/ovnsb_db.pid" ovsdb-server sb_answers_
    say "$line"
    one ovn-northd "$OVN_RUNDIR/ovn-northd.pid" ovn-northd ovn_answers ovn-northd
    say "$line"
    one ovn-controller "$OVN_RUNDIR/ovn-controller.pid" ovn-controller ovn_answers ovn-controller
    say "$line"
    return "$rc"
}

# --- stop --------------------------------------------------------------------
do_stop() {
    local pid
    # stop_one LABEL PIDFILE COMM CMD...: stop it with CMD if it runs.
    stop_one() {
        local label=$1 pidf=$2 comm=$3
        shift 3
        if pid=$(pid_of "$pidf" "$comm"); then
            run timeout 120 "$@"
            if alive "$pid"; then
                die "$label (pid $pid) still runs after: $*"
            fi
            say "$label stopped (was pid $pid)"
        else
            say "$label not running"
        fi
    }
    [[ -x $OVN_CTL ]] && {
        stop_one ovn-controller "$OVN_RUNDIR/ovn-controller.pid" ovn-controller \
            "$OVN_CTL" stop_controller
        stop_one ovn-northd "$OVN_RUNDIR/ovn-northd.pid" ovn-northd \
            "$OVN_CTL" --ovn-manage-ovsdb=no stop_northd
        stop_one "ovn NB db" "$OVN_RUNDIR/ovnnb_db.pid" ovsdb-server "$OVN_CTL" stop_nb_ovsdb
        stop_one "ovn SB db" "$OVN_RUNDIR/ovnsb_db.pid" ovsdb-server "$OVN_CTL" stop_sb_ovsdb
    }
    if [[ -x $OVS_CTL ]]; then
        stop_one ovs-vswitchd "$VSWITCHD_PID" ovs-vswitchd "$OVS_CTL" stop --no-ovsdb-server
        stop_one ovsdb-server "$OVS_RUNDIR/ovsdb-server.pid" ovsdb-server \
            "$OVS_CTL" stop --no-ovs-vswitchd
    fi
    rm -f "$TSO_MARK"
}

main() {
    local cmd=${1:-ovs}
    (($# <= 1)) || die "usage: $0 [ovs|ovn|status|stop]"
    mkdir -p "$LOGDIR"
    echo "=== $(date -Is) ovs.sh $cmd" >>"$LOG"
    case $cmd in
        ovs) do_ovs ;;
        ovn) do_ovn ;;
        status) do_status || exit $? ;;
        stop) do_stop ;;
        -h | --help | help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//' ;;
        *) die "unknown command '$cmd'; usage: $0 [ovs|ovn|status|stop]" ;;
    esac
}

main "$@"
