#!/usr/bin/env bash
# A streaming replica of the local PostgreSQL on loopback, for the tests of
# DATABASE_READ_URL (tests/it/read_replica.rs). Run after scripts/services.sh.
# Idempotent: a replica that answers is left as it is (its replay resumed if a test
# left it paused); one that is stopped is started; none is made with pg_basebackup.
set -euo pipefail

PG_PORT="${SCREEMA_PG_PORT:-5432}"
REPLICA_PORT="${SCREEMA_REPLICA_PORT:-5433}"
PG_USER="${SCREEMA_PG_USER:-screema}"

say() { printf '[replica] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root for: $*"; exit 1; fi
}
as_postgres() { as_root su postgres -c "$*"; }

PGV="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)"
[ -n "$PGV" ] || { say "PostgreSQL is not installed: run scripts/services.sh first"; exit 1; }
BIN="/usr/lib/postgresql/$PGV/bin"
DIR="/var/lib/postgresql/$PGV/screema-replica"
SOCKETS=/var/run/postgresql

psql_on() { as_postgres "psql -v ON_ERROR_STOP=1 -qtA -h $SOCKETS -p $1 $2"; }
answers() { as_postgres "$BIN/pg_isready -q -h 127.0.0.1 -p $REPLICA_PORT"; }

if answers; then
  say "replica already running on port $REPLICA_PORT"
else
  if ! as_root test -f "$DIR/standby.signal"; then
    say "copying the primary (port $PG_PORT) with pg_basebackup into $DIR"
    as_root rm -rf "$DIR"
    # -R writes standby.signal and primary_conninfo; -X stream brings the WAL the copy needs.
    as_postgres "$BIN/pg_basebackup -h $SOCKETS -p $PG_PORT -D $DIR -R -X stream -c fast"
    # Debian keeps a cluster's configuration in /etc, so the copy has none of its own.
    as_postgres "cat > $DIR/postgresql.conf" <<EOF
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKETS'
hot_standby = on
max_connections = 100
shared_buffers = 32MB
# Catalog reads are short; a vacuum on the primary must not cancel them.
hot_standby_feedback = on
logging_collector = off
EOF
    as_root cp "/etc/postgresql/$PGV/main/pg_hba.conf" "$DIR/pg_hba.conf"
    as_root cp "/etc/postgresql/$PGV/main/pg_ident.conf" "$DIR/pg_ident.conf"
    as_root chown postgres:postgres "$DIR/pg_hba.conf" "$DIR/pg_ident.conf"
  fi
  say "starting the replica on port $REPLICA_PORT"
  as_postgres "$BIN/pg_ctl -D $DIR -l $DIR/server.log -w -t 60 start" >/dev/null
fi

# A test pauses replay to show reads waiting for a change; one that failed midway
# must not leave the next run with a replica that never catches up.
if [ "$(psql_on "$REPLICA_PORT" "-c 'SELECT pg_is_wal_replay_paused()'")" = "t" ]; then
  say "resuming replay a test left paused"
  psql_on "$REPLICA_PORT" "-c 'SELECT pg_wal_replay_resume()'" >/dev/null
fi

# The tests' role may pause and resume replay. Grants on pg_catalog's functions live
# in each database, so they go where test databases are cloned from: template1 and
# the test templates already made.
for db in $(psql_on "$PG_PORT" "-c \"SELECT datname FROM pg_database WHERE datname = 'template1' OR datname LIKE 'screema\\_tpl\\_%'\""); do
  psql_on "$PG_PORT" "-d $db -c 'GRANT EXECUTE ON FUNCTION pg_wal_replay_pause(), pg_wal_replay_resume(), pg_is_wal_replay_paused() TO $PG_USER'" >/dev/null
done
say "ready: a streaming replica on 127.0.0.1:$REPLICA_PORT"
