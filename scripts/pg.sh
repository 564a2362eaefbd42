#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback, for tests and benchmarks.
#
#   scripts/pg.sh start   installs Debian's postgresql if missing, starts a fresh cluster in a
#                         temporary data dir, and prints the URL of its `postgres` database
#   scripts/pg.sh stop    stops it and removes the data dir
#   scripts/pg.sh halt    stops the server but keeps its data (a database outage, for fault tests)
#   scripts/pg.sh resume  starts a halted server again on the same port and data
#
# Port and data dir: OFFGEN_PG_PORT (default 54329), OFFGEN_PG_DIR (default /tmp/offgen-pg).
set -euo pipefail
cd "$(dirname "$0")/.."

port="${OFFGEN_PG_PORT:-54329}"
data="${OFFGEN_PG_DIR:-/tmp/offgen-pg}"

bin_dir() {
    # Debian keeps the server binaries out of PATH, one folder per major version.
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    echo "$dir"
}

as_owner() {
    # initdb and postgres refuse to run as root: run them as the `postgres` user then.
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    if [ -z "$(bin_dir)" ]; then
        # shellcheck source=lib/packages.sh
        . scripts/lib/packages.sh
        need_path /usr/lib/postgresql postgresql
        # Progress to stderr: stdout carries only the URL.
        install_needed_packages >&2
    fi
    local bin
    bin="$(bin_dir)"
    stop >/dev/null 2>&1 || true
    mkdir -p "$data"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$data"
    fi
    # Run from a folder the postgres user can enter (root's cwd may not be).
    (cd /tmp && as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null)
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
max_connections = 200
# A test database: durability is not the point, speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    (cd /tmp && as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 start >/dev/null)
    echo "postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
    local bin
    bin="$(bin_dir)"
    if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then
        (cd /tmp && as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null) || true
    fi
    rm -rf "$data"
}

halt() {
    # A fast shutdown, as an operator's restart does: sessions are ended with 57P01.
    (cd /tmp && as_owner "$(bin_dir)/pg_ctl" -D "$data" -m fast -w stop >/dev/null)
}

resume() {
    (cd /tmp && as_owner "$(bin_dir)/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 start >/dev/null)
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    halt) halt ;;
    resume) resume ;;
    *) echo "usage: scripts/pg.sh start|stop|halt|resume" >&2; exit 2 ;;
esac
