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

# --- Redis Cluster: three masters on loopback, for the scale-out tests --------
CLUSTER_PORTS="${SCREEMA_REDIS_CLUSTER_PORTS:-7101 7102 7103}"
CLUSTER_DIR="${TMPDIR:-/tmp}/screema-redis-cluster"
first_port="${CLUSTER_PORTS%% *}"
cluster_ok() {
  redis-cli -h 127.0.0.1 -p "$first_port" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}
for port in $CLUSTER_PORTS; do
  if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
    continue
  fi
  say "starting redis cluster node on 127.0.0.1:$port"
  mkdir -p "$CLUSTER_DIR/$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$CLUSTER_DIR/$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --save '' --appendonly no \
    --logfile "$CLUSTER_DIR/$port/redis.log" --pidfile "$CLUSTER_DIR/$port/redis.pid"
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
done
if cluster_ok; then
  say "redis cluster already running on ports $CLUSTER_PORTS"
else
  say "creating the redis cluster on ports $CLUSTER_PORTS"
  # Nodes left from an earlier, broken cluster forget it first.
  for port in $CLUSTER_PORTS; do
    redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null 2>&1 || true
    redis-cli -h 127.0.0.1 -p "$port" cluster reset hard >/dev/null 2>&1 || true
  done
  nodes=""
  for port in $CLUSTER_PORTS; do nodes="$nodes 127.0.0.1:$port"; done
  # shellcheck disable=SC2086
  redis-cli --cluster create $nodes --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 1 100); do cluster_ok && break; sleep 0.1; done
  cluster_ok || { say "the redis cluster did not come up"; exit 1; }
fi

say "ready: postgres://$PG_USER:***@127.0.0.1:$PG_PORT/$PG_DB, redis://127.0.0.1:$REDIS_PORT, redis cluster on $CLUSTER_PORTS"
