#!/usr/bin/env bash
# Makes PostgreSQL and Redis run on loopback for development and tests.
# Idempotent: installs Debian's packages when missing, starts what is stopped,
# creates the role and database when absent, and says what it did.
set -euo pipefail

PG_USER="${SCREEMA_PG_USER:-screema}"
PG_PASSWORD="${SCREEMA_PG_PASSWORD:-screema}"
PG_DB="${SCREEMA_PG_DB:-screema}"
PG_PORT="${SCREEMA_PG_PORT:-5432}"
REDIS_PORT="${SCREEMA_REDIS_PORT:-6379}"

say() { printf '[services] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root for: $*"; exit 1; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    say "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  say "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_version() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1; }

# --- PostgreSQL -------------------------------------------------------------
if [ -z "$(pg_version)" ] || ! command -v pg_ctlcluster >/dev/null; then
  apt_install postgresql postgresql-contrib
else
  say "postgresql $(pg_version) already installed"
fi
PGV="$(pg_version)"
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$PGV main$"; then
  say "creating cluster $PGV/main"
  as_root pg_createcluster "$PGV" main --port "$PG_PORT" >/dev/null
fi
if pg_lsclusters -h | awk -v v="$PGV" '$1==v && $2=="main" {print $4}' | grep -q online; then
  say "postgresql $PGV/main already running"
else
  say "starting postgresql $PGV/main"
  as_root pg_ctlcluster --skip-systemctl-redirect "$PGV" main start
fi
for _ in $(seq 1 50); do
  as_root su postgres -c "pg_isready -q -h 127.0.0.1 -p $PG_PORT" && break
  sleep 0.2
done

psql_admin() { as_root su postgres -c "psql -v ON_ERROR_STOP=1 -qtA -p $PG_PORT $*"; }
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'\"")" != "1" ]; then
  say "creating role $PG_USER"
  psql_admin "-c \"CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'\""
else
  # Keep the password and CREATEDB (tests create a database each) in step with this script.
  psql_admin "-c \"ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'\""
  say "role $PG_USER present"
fi
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$PG_DB'\"")" != "1" ]; then
  say "creating database $PG_DB"
  psql_admin "-c \"CREATE DATABASE $PG_DB OWNER $PG_USER\""
else
  say "database $PG_DB present"
fi

# --- Redis ------------------------------------------------------------------
if ! command -v redis-server >/dev/null; then
  apt_install redis-server
else
  say "redis-server already installed"
fi
if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
  say "redis already running on $REDIS_PORT"
else
  say "starting redis on 127.0.0.1:$REDIS_PORT (no persistence)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --logfile /tmp/screema-redis-"$REDIS_PORT".log --pidfile /tmp/screema-redis-"$REDIS_PORT".pid
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
fi

say "ready: postgres://$PG_USER:***@127.0.0.1:$PG_PORT/$PG_DB and redis://127.0.0.1:$REDIS_PORT"
