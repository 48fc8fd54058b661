#!/usr/bin/env bash
# A throwaway PostgreSQL 15 + PostGIS cluster for the tests, in .pg/ on port ${GRIDPATROL_PG_PORT:-54329}, and on
# demand its streaming standby (a read replica: pg_basebackup -R over a replication slot, hot standby) in .pg/standby
# on the next free port.
# Usage: scripts/pg.sh start|start-replica|stop|url|replica-url
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/.pg"
bin=/usr/lib/postgresql/15/bin
port="${GRIDPATROL_PG_PORT:-54329}"
[ -f "$dir/port" ] && port=$(cat "$dir/port")
url() { echo "postgresql+psycopg://postgres@127.0.0.1:$port/gridpatrol_test"; }
replica_url() { echo "postgresql+psycopg://postgres@127.0.0.1:$(cat "$dir/replica_port")/gridpatrol_test"; }
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
  start-replica)
    # The primary (wal_level=replica, max_wal_senders=10: PostgreSQL 15's defaults; initdb --auth=trust lets
    # 127.0.0.1 replicate) streams to a standby made by pg_basebackup -R; a slot keeps the WAL the standby needs.
    if ! { [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }; then
      echo "$0: the primary is not running: $0 start first" >&2; exit 1
    fi
    if [ -f "$dir/standby/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/standby" status >/dev/null 2>&1; then
      replica_url; exit 0
    fi
    rm -rf "$dir/standby"
    rport=$((port + 1))
    for _ in $(seq 1 50); do port_busy "$rport" || break; rport=$((rport + 1)); done
    psql() { as_pg /usr/bin/psql -qAt -h 127.0.0.1 -p "$port" -U postgres "$@"; }
    psql -d postgres -c "SELECT pg_drop_replication_slot('gridpatrol_standby') FROM pg_replication_slots
                         WHERE slot_name = 'gridpatrol_standby'" >/dev/null
    as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$dir/standby" -R -C -S gridpatrol_standby \
      -X stream -c fast >"$dir/basebackup.log" 2>&1
    echo "$rport" > "$dir/replica_port"
    as_pg "$bin/pg_ctl" -D "$dir/standby" -l "$dir/standby.log" -w start \
      -o "-p $rport -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c hot_standby=on" >/dev/null
    replica_url
    ;;
  replica-url) replica_url ;;
  stop)
    if [ -d "$dir/standby" ]; then as_pg "$bin/pg_ctl" -D "$dir/standby" -m fast stop >/dev/null 2>&1 || true; fi
    if [ -d "$dir/data" ]; then as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  url) url ;;
  *) echo "usage: $0 start|start-replica|stop|url|replica-url" >&2; exit 2 ;;
esac
