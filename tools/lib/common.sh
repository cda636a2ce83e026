# Output helpers of the tools/lib scripts (sourced).  The sourcing script
# sets NAME (the prefix of every line it prints) and LOG (its log file).

# say MSG: one line of progress on stdout.
say() { echo "$NAME: $*"; }
# warn MSG: on stderr and in the log.
warn() {
    echo "$NAME: WARNING: $*" >&2
    echo "WARNING: $*" >>"$LOG"
}
# die MSG: on stderr and in the log, then exit 1.
die() {
    echo "$NAME: ERROR: $*" >&2
    echo "$NAME: details in $LOG" >&2
    echo "ERROR: $*" >>"$LOG"
    exit 1
}
# run CMD...: append its output to the log, fail with a log tail.
run() {
    echo "+ $*" >>"$LOG"
    if ! "$@" >>"$LOG" 2>&1 </dev/null; then
        tail -n 15 "$LOG" | sed 's/^/  | /' >&2
        die "failed: $*"
    fi
}
# quiet CMD...: true when CMD succeeds; its output goes to the log only.
quiet() { "$@" >>"$LOG" 2>&1 </dev/null; }
