# tools/cloud: MariaDB, RabbitMQ and memcached from Debian, started without
# systemd on 127.0.0.1, and their databases and users (sourced).

CLOUD_PACKAGES=(mariadb-server rabbitmq-server memcached crudini sudo
    python3-venv python3-dev gcc)

install_packages() {
    local missing=() p t0=$SECONDS
    for p in "${CLOUD_PACKAGES[@]}"; do
        [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] ||
            missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        say "packages ok"
        return
    fi
    say "installing ${missing[*]} ..."
    # Debian's maintainer scripts would start the daemons under systemd's
    # policy; tools/cloud starts them itself.
    DEBIAN_FRONTEND=noninteractive run apt-get install -y \
        -o Dpkg::Options::=--force-confold "${missing[@]}"
    say "packages installed ($((SECONDS - t0))s)"
}

mariadb_answers() { mariadb-admin --socket=/run/mysqld/mysqld.sock ping; }
rabbit_answers() { rabbitmqctl -q status; }
memcached_answers() { (exec 3<>/dev/tcp/$HOST_IP/11211) 2>/dev/null; }

# start_backing: each daemon is reused when it answers, else started.
start_backing() {
    if mariadb_answers >/dev/null 2>&1; then
        proc_pid mariadb >/dev/null || say "mariadb running (not started by tools/cloud)"
    else
        install -d -o mysql -g mysql /run/mysqld
        start_proc mariadb root mariadbd --user=mysql --datadir=/var/lib/mysql \
            --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid \
            --bind-address=$HOST_IP
        wait_for 60 mariadb_answers || die "mariadb does not answer; see $CLOUD_LOGS/mariadb.log"
    fi
    if rabbit_answers >/dev/null 2>&1; then
        proc_pid rabbitmq >/dev/null || say "rabbitmq running (not started by tools/cloud)"
    else
        # The Debian wrapper in /usr/sbin would `su` (another pid); run the
        # server as its user directly.  It listens on all addresses unless
        # told otherwise.
        RABBITMQ_NODE_IP_ADDRESS=$HOST_IP \
            start_proc rabbitmq rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
        wait_for 90 rabbit_answers || die "rabbitmq does not answer; see $CLOUD_LOGS/rabbitmq.log"
    fi
    if memcached_answers; then
        proc_pid memcached >/dev/null || say "memcached running (not started by tools/cloud)"
    else
        start_proc memcached root memcached -u memcache -l $HOST_IP -p 11211
        wait_for 10 memcached_answers || die "memcached does not answer"
    fi
}

# create_databases: the databases and the `openstack` user (idempotent).
create_databases() {
    local db sql=""
    for db in "${CLOUD_DBS[@]}"; do
        sql+="CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8mb4;"
        sql+="GRANT ALL PRIVILEGES ON $db.* TO 'openstack'@'$HOST_IP';"
        sql+="GRANT ALL PRIVILEGES ON $db.* TO 'openstack'@'localhost';"
    done
    echo "+ mariadb: databases ${CLOUD_DBS[*]}" >>"$LOG"
    mariadb --socket=/run/mysqld/mysqld.sock -e "
        CREATE USER IF NOT EXISTS 'openstack'@'$HOST_IP' IDENTIFIED BY '$DB_PASSWORD';
        CREATE USER IF NOT EXISTS 'openstack'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
        $sql FLUSH PRIVILEGES;" >>"$LOG" 2>&1 || die "could not create the databases"
    say "databases ok (${CLOUD_DBS[*]})"
}

# create_rabbit_user: the `openstack` RabbitMQ user (idempotent).
create_rabbit_user() {
    local users
    # Whole, not piped to grep -q (pipefail; see sync_databases).
    users=$(rabbitmqctl -q list_users 2>>"$LOG") || die "rabbitmqctl list_users failed; see $LOG"
    if ! grep -q '^openstack\b' <<<"$users"; then
        run rabbitmqctl add_user openstack "$RABBIT_PASSWORD"
    fi
    run rabbitmqctl set_permissions openstack '.*' '.*' '.*'
    say "rabbitmq user ok"
}
