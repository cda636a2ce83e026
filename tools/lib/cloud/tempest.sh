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
    say "tempest finished in $((SECONDS - t0))s (output $CLOUD_LOGS/tempest.out)"
    return $rc
}
