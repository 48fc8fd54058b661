#!/usr/bin/env bash
# A throwaway PostgreSQL 15 + PostGIS cluster for the tests, in .pg/ on port ${GRIDPATROL_PG_PORT:-54329}.
# Usage: scripts/pg.sh start|stop|url
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/.pg"
bin=/usr/lib/postgresql/15/bin
port="${GRIDPATROL_PG_PORT:-54329}"
[ -f "$dir/port" ] && port=$(cat "$dir/port")
url() { echo "postgresql+psycopg://postgres@127.0.0.1:$port/gridpatrol_test"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    if [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      url; exit 0
    fi
    rm -rf "$dir"; mkdir -p "$dir"
    port="${GRIDPATROL_PG_PORT:-54329}"
    # Another checkout's cluster (or anything else) may hold the port: take the next free one.
    for _ in $(seq 1 50); do port_busy "$port" || break; port=$((port + 1)); done
    echo "$port" > "$dir/port"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
    psql() { as_pg /usr/bin/psql -qAt -h 127.0.0.1 -p "$port" -U postgres "$@"; }
    psql -d postgres -c "CREATE DATABASE gridpatrol_test"
    psql -d gridpatrol_test -c "CREATE EXTENSION postgis"
    url
    ;;
  stop)
    if [ -d "$dir/data" ]; then as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
