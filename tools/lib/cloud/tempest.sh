# tools/cloud tempest: tempest for this cloud (sourced; needs env.sh and
# devstack/lib/nova-lxd).  Workspace: $CLOUD_DATA/tempest.

TEMPEST_DIR=$CLOUD_DATA/tempest
# What runs: the compute API tests and the scenario tests (those that need
# SSH into a guest skip themselves: validation is off).
TEMPEST_REGEX='^tempest\.(api\.compute|scenario)\.'

# tempest_configure: a workspace and its tempest.conf; dynamic credentials
# (tempest makes a project, user and network per test class).
tempest_configure() {
    local f=$TEMPEST_DIR/etc/tempest.conf v=$CLOUD_VENV/bin image flavor alt
    if [[ ! -d $TEMPEST_DIR/etc ]]; then
        (cd "$CLOUD_DATA" && run "$v/tempest" init --name nova-lxd-cloud "$TEMPEST_DIR")
    fi
    image=$(osc image show -f value -c id debian-12)
    flavor=$(osc flavor show -f value -c id lxd.tiny)
    alt=$(osc flavor show -f value -c id lxd.small)
    iniset "$f" auth admin_username admin
    iniset "$f" auth admin_password "$ADMIN_PASSWORD"
    iniset "$f" auth admin_project_name admin
    iniset "$f" auth admin_domain_name Default
    iniset "$f" auth use_dynamic_credentials True
    iniset "$f" identity uri_v3 "$KEYSTONE_URL"
    iniset "$f" identity auth_version v3
    iniset "$f" identity region "$REGION"
    iniset "$f" identity-feature-enabled api_v2 False
    iniset "$f" compute region "$REGION"
    iniset "$f" compute min_microversion 2.1
    iniset "$f" compute max_microversion latest
    iniset "$f" compute build_timeout 300
    iniset "$f" network project_network_cidr 10.100.0.0/16
    # Project routers get their gateway, floating IPs their addresses, on
    # the default external network of public_network.
    iniset "$f" network public_network_id "$(osc network show -f value -c id public)"
    iniset "$f" network floating_network_name public
    # Tempest assumes every API extension unless told which exist.
    iniset "$f" network-feature-enabled api_extensions \
        "$(osc extension list --network -f value -c Alias | paste -sd,)"
    iniset "$f" service_available cinder False
    iniset "$f" service_available swift False
    iniset "$f" service_available neutron True
    iniset "$f" service_available glance True
    iniset "$f" service_available nova True
    iniset "$f" service_available horizon False
    iniset "$f" oslo_concurrency lock_path "$TEMPEST_DIR/locks"
    nova_lxd_configure_tempest "$f" "$v/python" "$image" "$flavor" "$alt"
    say "tempest configured ($f)"
}

# tempest_run_line REGEX T0: one line saying when, with what and what ran.
tempest_run_line() {
    local pip=$CLOUD_VENV/bin/pip
    printf '%s: tempest %s, nova %s, LXD %s; --regex %s, 2 workers, %d min.' \
        "$(date -u +%Y-%m-%d)" \
        "$("$pip" show tempest 2>/dev/null | sed -n 's/^Version: //p')" \
        "$("$pip" show nova 2>/dev/null | sed -n 's/^Version: //p')" \
        "$(lxd --version 2>/dev/null)" "'$1'" $(((SECONDS - $2) / 60))
}

# tempest_run [REGEX]: run the tests; the subunit stream is kept and the
# summary printed.  Exit status: tempest's.
tempest_run() {
    local regex=${1:-$TEMPEST_REGEX} rc=0 t0=$SECONDS
    say "tempest run --regex '$regex' (about an hour) ..."
    (cd "$TEMPEST_DIR" && eval "$(openrc)" &&
        "$CLOUD_VENV/bin/tempest" run --regex "$regex" --concurrency 2 \
            >"$CLOUD_LOGS/tempest.out" 2>&1) || rc=$?
    (cd "$TEMPEST_DIR" && "$CLOUD_VENV/bin/stestr" last --subunit |
        "$CLOUD_VENV/bin/subunit2csv" >"$CLOUD_LOGS/tempest.csv") 2>>"$LOG" || true
    sed -n '/^Totals/,/^Sum of/p' "$CLOUD_LOGS/tempest.out"
    # The support matrix page (doc/source/support-matrix.rst) reads this.
    "$CLOUD_VENV/bin/python" -m nova_lxd.aio.support_matrix summarise \
        "$(tempest_run_line "$regex" "$t0")" "$CLOUD_LOGS/tempest.out" \
        >"$CLOUD_LOGS/tempest-summary.json" 2>>"$LOG" || rc=1
    say "tempest finished in $((SECONDS - t0))s (output $CLOUD_LOGS/tempest.out)"
    return $rc
}
