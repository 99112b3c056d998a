#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the instructor service's tests, as root, on Debian.
#
#   bash scripts/classroom-db.sh install     apt-get install postgresql, when initdb is missing
#   bash scripts/classroom-db.sh start DIR   initdb + pg_ctl a cluster in DIR, owned by the
#                                            postgres user, listening on a unix socket in DIR
#                                            only (listen_addresses=''); prints its URL
#   bash scripts/classroom-db.sh stop DIR    stop that cluster (DIR stays; remove it yourself)
#
# The URL is what LAYERLAB_CLASSROOM_DB takes: postgresql://postgres@/layerlab?host=DIR
# No TCP port is opened, so nothing beyond this machine can reach it, nor anything on it but
# processes that can open DIR (root and postgres).
set -euo pipefail

command=${1:-}
dir=${2:-}

bin_dir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$found" ] && [ -x "$found/initdb" ] || return 1
    echo "$found"
}

as_postgres() { runuser -u postgres -- "$@"; }

case "$command" in
install)
    if bin_dir >/dev/null; then
        echo "PostgreSQL is installed: $(bin_dir)"
        exit 0
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
    # Debian's package starts a cluster of its own on port 5432 where a service manager runs;
    # the tests never use it. Without systemd (this CI) nothing was started.
    bin_dir
    ;;
start)
    [ -n "$dir" ] || { echo "usage: $0 start DIR" >&2; exit 2; }
    bin=$(bin_dir) || { echo "PostgreSQL is not installed (run: $0 install)" >&2; exit 1; }
    mkdir -p "$dir"
    chown postgres:postgres "$dir"
    chmod 0700 "$dir"
    if [ ! -s "$dir/data/PG_VERSION" ]; then
        as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions >"$dir/initdb.log"
    fi
    if ! as_postgres "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off" start >/dev/null
    fi
    as_postgres "$bin/psql" -h "$dir" -U postgres -d postgres -qtAc \
        "SELECT 1 FROM pg_database WHERE datname = 'layerlab'" | grep -q 1 \
        || as_postgres "$bin/createdb" -h "$dir" -U postgres layerlab
    echo "postgresql://postgres@/layerlab?host=$dir"
    ;;
stop)
    [ -n "$dir" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
    bin=$(bin_dir) || exit 0
    if [ -s "$dir/data/postmaster.pid" ]; then
        as_postgres "$bin/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null
    fi
    ;;
*)
    echo "usage: $0 install | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
