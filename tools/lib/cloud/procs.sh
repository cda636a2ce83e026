# tools/cloud: the processes it starts, each with a pid file in $CLOUD_RUN
# and a log in $CLOUD_LOGS (sourced; needs env.sh and common.sh).

# proc_pid NAME: the pid from NAME's pid file when that process still runs
# (and is not a recycled pid: its command line mentions NAME's program).
proc_pid() {
    local pidf=$CLOUD_RUN/$1.pid pid
    [[ -s $pidf ]] || return 1
    pid=$(<"$pidf")
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$(proc_program "$1")" ||
        return 1
    echo "$pid"
}

# proc_program NAME: a word of the command line that identifies NAME.
proc_program() {
    case $1 in
        mariadb) echo mariadbd ;;
        rabbitmq) echo rabbitmq-server ;;
        keystone | glance | placement | neutron | nova) echo "$CLOUD_ETC/$1/uwsgi.ini" ;;
        *) echo "$1" ;;
    esac
}

# start_proc NAME USER CMD...: start CMD as USER in its own session, output
# to $CLOUD_LOGS/NAME.log, pid to $CLOUD_RUN/NAME.pid; nothing when it
# already runs.  setpriv (not su/runuser) so that the pid is CMD's own.
start_proc() {
    local name=$1 user=$2 pid
    shift 2
    if pid=$(proc_pid "$name"); then
        say "$name running (pid $pid)"
        return 0
    fi
    install -d -m 0755 "$CLOUD_RUN" "$CLOUD_LOGS"
    echo "=== $(date -Is) start: $*" >>"$CLOUD_LOGS/$name.log"
    if [[ $user == root ]]; then
        setsid "$@" >>"$CLOUD_LOGS/$name.log" 2>&1 </dev/null &
    else
        chown "$user" "$CLOUD_LOGS/$name.log"
        HOME=$(getent passwd "$user" | cut -d: -f6) setsid setpriv \
            --reuid="$user" --regid="$user" --init-groups -- "$@" \
            >>"$CLOUD_LOGS/$name.log" 2>&1 </dev/null &
    fi
    echo $! >"$CLOUD_RUN/$name.pid"
    say "$name started (pid $!, log $CLOUD_LOGS/$name.log)"
}

# stop_procs NAME...: SIGTERM to all of them at once, up to 30 s for them to
# exit cleanly, then SIGKILL for those left.
stop_procs() {
    local name pid t0=$SECONDS
    declare -A pids=()
    for name in "$@"; do
        if pid=$(proc_pid "$name"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids[$name]=$pid
        fi
        rm -f "$CLOUD_RUN/$name.pid"
    done
    for name in "${!pids[@]}"; do
        pid=${pids[$name]}
        if ! wait_for $((30 - (SECONDS - t0))) proc_gone "$pid"; then
            warn "$name (pid $pid) did not stop in 30 s: killed"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    ((${#pids[@]} == 0)) || say "stopped ${!pids[*]} ($((SECONDS - t0))s)"
}

# proc_gone PID: the process has exited (a zombie counts as exited).
proc_gone() {
    [[ ! -e /proc/$1 ]] || [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]
}

# wait_for SECONDS CMD...: true as soon as CMD succeeds.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

# http_answers URL: the URL answers HTTP with a status below 500 (an API
# root answers 300 or 401; a WSGI app that did not load answers 500).
http_answers() {
    local code
    code=$(curl -s --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code}' "$1")
    ((code > 0 && code < 500))
}

# wait_api NAME: wait (up to 90 s) until API service NAME answers.
wait_api() {
    local url=http://$HOST_IP:${API_PORT[$1]}/
    wait_for 90 http_answers "$url" ||
        die "$1 does not answer on $url; see $CLOUD_LOGS/$1.log"
}

# proc_status: one line per process; exit 3 when one is down.
proc_status() {
    local name pid rc=0
    for name in "${CLOUD_PROCS[@]}"; do
        if pid=$(proc_pid "$name"); then
            printf '%-24s running (pid %s)\n' "$name" "$pid"
        else
            printf '%-24s down\n' "$name"
            rc=3
        fi
    done
    return $rc
}
