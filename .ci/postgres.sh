#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the store tests and print its URL.
#
# Idempotent: installs Debian's `postgresql` package only when no server binaries are found,
# creates the cluster only once, and starts it only when it is not running. Stdout is exactly the
# URL (for `export NEARMISS_TEST_PG_URL="$(bash .ci/postgres.sh)"`); progress goes to stderr.
# `bash .ci/postgres.sh stop` stops the server. The cluster is for tests only: fsync is off.
set -euo pipefail

PORT="${NEARMISS_PG_PORT:-55432}"
ROOT_DIR="${NEARMISS_PG_DIR:-/tmp/nearmiss-pg}"
DATA="$ROOT_DIR/data"
SOCKETS="$ROOT_DIR/run"
LOG="$ROOT_DIR/server.log"
ROLE=nearmiss
PASSWORD=nearmiss
DATABASE=nearmiss_test

say() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -z "$dir" ]] && command -v pg_ctl >/dev/null 2>&1; then
        dir="$(dirname "$(command -v pg_ctl)")"
    fi
    echo "$dir"
}

# Run a server command as the postgres user when we are root (the server refuses to run as root).
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

BIN="$(find_bindir)"
if [[ "${1:-}" == stop ]]; then
    if [[ -n "$BIN" && -s "$DATA/PG_VERSION" ]]; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2 || true
    fi
    exit 0
fi

if [[ -z "$BIN" || ! -x "$BIN/initdb" ]]; then
    if [[ "$(id -u)" != 0 ]]; then
        say "no PostgreSQL server found; install Debian's 'postgresql' package (as root) and re-run"
        exit 1
    fi
    say "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN="$(find_bindir)"
fi
say "using $("$BIN/postgres" --version)"

mkdir -p "$ROOT_DIR" "$SOCKETS"
if [[ "$(id -u)" == 0 ]]; then
    chown postgres:postgres "$ROOT_DIR" "$SOCKETS"
fi

if [[ ! -s "$DATA/PG_VERSION" ]]; then
    say "creating a cluster in $DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >&2
fi

if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    say "starting the server on 127.0.0.1:$PORT"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p $PORT -k $SOCKETS -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off" >&2
fi

psql_admin() {
    as_owner "$BIN/psql" -h "$SOCKETS" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}
if [[ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]]; then
    psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]]; then
    psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
fi

echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
