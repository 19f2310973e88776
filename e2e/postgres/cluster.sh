#!/usr/bin/env bash
# A private PostgreSQL cluster for one test run, from Debian's postgresql package:
# initdb into DIR, its own free port on 127.0.0.1, stopped by the postmaster's PID.
#   cluster.sh start DIR   prints the server's URL (postgres://overcast@127.0.0.1:PORT)
#   cluster.sh stop DIR    stops it and removes DIR
set -euo pipefail
command=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
# initdb and the server refuse to run as root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $command in
start)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$dir"
    [ "$(id -u)" != 0 ] || chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U overcast --no-sync >"$dir/initdb.log"
    # A test cluster: durability traded for speed, enough connections for every
    # console the suite runs at once.
    as_owner "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" start -o \
        "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
    echo "postgres://overcast@127.0.0.1:$port"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        pid=$(head -n 1 "$dir/data/postmaster.pid")
        kill -INT "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
