#!/usr/bin/env bash
# Benchmarks: a release build of the server on its own fresh database and Redis prefix,
# the load tool's scenarios against it, and this machine's ceilings measured in the same
# run (HTTP: GET /health/live; Redis: redis-benchmark EVALSHA; Postgres: pgbench), with
# the CPU each process used during each scenario. Results: target/load/.
#
#   scripts/load.sh                       # every scenario
#   scripts/load.sh catalog holds         # some of them
#   scripts/load.sh peer                  # the home screen against PostGraphile v5
#   LOAD_ARGS="--duration 5" scripts/load.sh checkout
#   LOAD_NODES=2 LOAD_REDIS=cluster scripts/load.sh flash-sale   # two nodes, a Redis Cluster
set -euo pipefail
cd "$(dirname "$0")/.."

all=(health catalog holds flash-sale best-available waitlist sale-queue subscribers fanout checkout peer)
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=("${all[@]}")

say() { printf '[load] %s\n' "$*" >&2; }

bash scripts/services.sh >/dev/null
# Websocket subscribers need a descriptor each, in the server and in the tool.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fds="$(ulimit -n)"

say "building release binaries (the first build takes several minutes)"
cargo build --release --quiet --workspace --bin screema --bin screema-load

port="${LOAD_PORT:-8090}"
url="http://127.0.0.1:$port"
out="target/load"
mkdir -p "$out"
rm -f "$out"/*.md "$out"/*.json
db="screema_load"
export PGPASSWORD="${SCREEMA_PG_PASSWORD:-screema}"
pg=(psql -qtA -h 127.0.0.1 -U "${SCREEMA_PG_USER:-screema}" -d postgres -v ON_ERROR_STOP=1)
"${pg[@]}" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
export DATABASE_URL="postgres://${SCREEMA_PG_USER:-screema}:$PGPASSWORD@127.0.0.1:5432/$db"
prefix="load$(date +%s)"
# LOAD_REDIS=cluster: every node on the three-master Redis Cluster that services.sh
# starts (SCREEMA_REDIS_CLUSTER_PORTS) instead of the single Redis.
redis_ports=("${SCREEMA_REDIS_PORT:-6379}")
case "${LOAD_REDIS:-single}" in
  single) export REDIS_URL="redis://127.0.0.1:${redis_ports[0]}" ;;
  cluster)
    read -r -a redis_ports <<<"${SCREEMA_REDIS_CLUSTER_PORTS:-7101 7102 7103}"
    nodes=""
    for p in "${redis_ports[@]:1}"; do nodes="$nodes${nodes:+&}node=127.0.0.1:$p"; done
    export REDIS_URL="redis-cluster://127.0.0.1:${redis_ports[0]}?$nodes"
    say "Redis: the cluster on ports ${redis_ports[*]}"
    ;;
  *) say "LOAD_REDIS is single or cluster, not ${LOAD_REDIS}"; exit 1 ;;
esac

if curl -fsS "$url/health/live" >/dev/null 2>&1; then
  say "something already answers on $url; set LOAD_PORT"; exit 1
fi
say "starting the server on $url (database $db, Redis prefix $prefix)"
BIND_ADDR="127.0.0.1:$port" REDIS_KEY_PREFIX="$prefix" \
  RATE_LIMIT_GENERAL=off RATE_LIMIT_BOOKING=off WS_MAX_CONNECTIONS_PER_CLIENT=off \
  SIMULATED_PAYMENT_DELAY_MS=100 TICKET_STORE_DIR="$out/tickets" \
  RUST_LOG="${RUST_LOG:-warn}" ./target/release/screema serve >"$out/server.log" 2>&1 &
server=$!
others=()
also=()
# LOAD_NODES=2: a second node over the same Postgres and Redis, nothing else shared;
# the flash sale spreads its buyers and subscribers over both.
for n in $(seq 2 "${LOAD_NODES:-1}"); do
  p=$((port + n - 1))
  say "starting node $n on http://127.0.0.1:$p"
  BIND_ADDR="127.0.0.1:$p" REDIS_KEY_PREFIX="$prefix" \
    RATE_LIMIT_GENERAL=off RATE_LIMIT_BOOKING=off WS_MAX_CONNECTIONS_PER_CLIENT=off \
    SIMULATED_PAYMENT_DELAY_MS=100 TICKET_STORE_DIR="$out/tickets" \
    RUST_LOG="${RUST_LOG:-warn}" ./target/release/screema serve >"$out/server-$n.log" 2>&1 &
  others+=($!)
  also+=(--also-url "http://127.0.0.1:$p")
done
cleanup() {
  kill "$server" "${others[@]}" 2>/dev/null || true
  wait "$server" "${others[@]}" 2>/dev/null || true
  for p in "${redis_ports[@]}"; do
    redis-cli -p "$p" --scan --pattern "$prefix:*" 2>/dev/null |
      xargs -r -n 1 redis-cli -c -p "$p" del >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "$url/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$url/health/ready" >/dev/null || { say "the server did not start; see $out/server.log"; exit 1; }
# An experiment's SQL on the migrated database before any scenario (an A/B run, e.g.
# LOAD_SQL='DROP TRIGGER booking_seats_showtime_on_sale ON booking_seats').
if [ -n "${LOAD_SQL:-}" ]; then
  say "applying LOAD_SQL"
  "${pg[@]}" -d "$db" -c "$LOAD_SQL"
fi
for n in $(seq 2 "${LOAD_NODES:-1}"); do
  u="http://127.0.0.1:$((port + n - 1))"
  for _ in $(seq 1 100); do curl -fsS "$u/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fsS "$u/health/ready" >/dev/null || { say "node $n did not start; see $out/server-$n.log"; exit 1; }
done

# `peer`: a SCREEMA node with its catalog cache off, and PostGraphile v5 (scripts/peer,
# from its lock file), both over the run's own database.
peer_args=()
for s in "${scenarios[@]}"; do
  [ "$s" = peer ] || continue
  if [ ! -d scripts/peer/node_modules ] || [ scripts/peer/package-lock.json -nt scripts/peer/node_modules ]; then
    say "installing PostGraphile (npm ci in scripts/peer)"
    npm ci --prefix scripts/peer --no-audit --no-fund --loglevel=error >/dev/null
  fi
  up=$((port + 20)); pp=$((port + 21))
  say "starting a node with the catalog cache off on http://127.0.0.1:$up"
  BIND_ADDR="127.0.0.1:$up" REDIS_KEY_PREFIX="$prefix" CATALOG_CACHE_TTL_MS=0 \
    RATE_LIMIT_GENERAL=off RATE_LIMIT_BOOKING=off WS_MAX_CONNECTIONS_PER_CLIENT=off \
    TICKET_STORE_DIR="$out/tickets" RUST_LOG="${RUST_LOG:-warn}" \
    ./target/release/screema serve >"$out/server-uncached.log" 2>&1 &
  others+=($!)
  say "starting PostGraphile on http://127.0.0.1:$pp"
  PORT="$pp" node scripts/peer/server.mjs >"$out/peer.log" 2>&1 &
  others+=($!)
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$up/health/ready" >/dev/null 2>&1 &&
      curl -fsS -X POST -H 'content-type: application/json' -d '{"query":"{__typename}"}' \
        "http://127.0.0.1:$pp/graphql" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS -X POST -H 'content-type: application/json' -d '{"query":"{__typename}"}' \
    "http://127.0.0.1:$pp/graphql" >/dev/null || { say "PostGraphile did not start; see $out/peer.log"; exit 1; }
  peer_args=(--uncached-url "http://127.0.0.1:$up" --peer-url "http://127.0.0.1:$pp")
done

# CPU seconds (user + system) of every process with this name, from /proc.
cpu_ticks() {
  local total=0 p
  for p in $(pgrep -x "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
hz="$(getconf CLK_TCK)"
cpu_line() { # scenario seconds before-values... after-values...
  local name="$1" secs="$2"; shift 2
  python3 - "$name" "$secs" "$hz" "$@" <<'PY'
import sys
name, secs, hz = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
vals = list(map(int, sys.argv[4:]))
labels = ["server", "postgres", "redis", "load tool"]
half = len(vals) // 2
parts = [f"{l} {(vals[half+i]-vals[i])/hz/secs:.2f}" for i, l in enumerate(labels)]
print(f"- CPU in cores (of 2) during {name}: " + ", ".join(parts))
PY
}

subscribers_args=()
if [ "$fds" -lt 20100 ]; then
  # One descriptor per subscriber in each process, plus the server's own (listener,
  # pools): the most this machine allows below its hard limit.
  subscribers_args=(--subscribers $((fds - 150)))
  say "open-file limit is $fds: subscribers capped at $((fds - 150))"
fi

for s in "${scenarios[@]}"; do
  extra=()
  # fanout's two legs (SCREEMA, then the raw broadcast server the tool starts) each
  # hold one descriptor a subscriber, one after the other: the same cap.
  case "$s" in subscribers | fanout) extra=("${subscribers_args[@]}") ;; esac
  [ "$s" = flash-sale ] && extra=("${also[@]}")
  [ "$s" = peer ] && extra=("${peer_args[@]}")
  say "scenario $s"
  before=("$(cpu_ticks screema)" "$(cpu_ticks postgres)" "$(cpu_ticks redis-server)")
  started=$(date +%s.%N)
  # shellcheck disable=SC2086
  ./target/release/screema-load "$s" --url "$url" --server-pid "$server" --out "$out" \
    "${extra[@]}" ${LOAD_ARGS:-} &
  tool=$!
  tool_ticks=0
  while kill -0 "$tool" 2>/dev/null; do
    t=$(awk '{print $14 + $15}' "/proc/$tool/stat" 2>/dev/null || echo "$tool_ticks")
    tool_ticks=$t
    sleep 0.5
  done
  status=0
  wait "$tool" || status=$?
  secs=$(python3 -c "import time; print(max(time.time() - $started, 0.001))")
  after=("$(cpu_ticks screema)" "$(cpu_ticks postgres)" "$(cpu_ticks redis-server)")
  cpu_line "$s (whole run, preparation included)" "$secs" \
    "${before[@]}" 0 "${after[@]}" "$tool_ticks" >>"$out/$s.md"
  [ "$status" -eq 0 ] || say "scenario $s reported failed checks or errors (exit $status)"
done

say "measuring ceilings"
{
  echo "### ceilings, same machine, same run"
  echo
  if [ -f "$out/health.md" ]; then
    grep -E '^\| GET' "$out/health.md" | awk -F'|' '{printf "- HTTP: GET /health/live, 8 connections: %s requests/s, p99 %s ms\n", $5, $8}'
  fi
  sha=$(redis-cli SCRIPT LOAD "return redis.call('INCR', KEYS[1])")
  redis-cli DEL "$prefix:bench" >/dev/null
  rps=$(redis-benchmark -q -n 200000 -c 50 EVALSHA "$sha" 1 "$prefix:bench" 2>/dev/null | tr '\r' '\n' | grep -Eo '[0-9.]+ requests per second' | tail -1)
  redis-cli DEL "$prefix:bench" >/dev/null
  echo "- Redis: redis-benchmark EVALSHA (one INCR), 50 clients: $rps"
  if [ "${LOAD_REDIS:-single}" = cluster ]; then
    echo "- Redis Cluster: ${#redis_ports[@]} masters on ports ${redis_ports[*]} (the EVALSHA ceiling above is one single Redis)"
  fi
  pgbench=/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin/pgbench
  pgargs=(-h 127.0.0.1 -U "${SCREEMA_PG_USER:-screema}" "$db")
  "$pgbench" -i -q -s 10 "${pgargs[@]}" >/dev/null 2>&1
  ro=$("$pgbench" -S -c 8 -j 2 -T 10 -M prepared "${pgargs[@]}" 2>/dev/null | grep -E '^tps' | awk '{print $3}')
  rw=$("$pgbench" -c 8 -j 2 -T 10 -M prepared "${pgargs[@]}" 2>/dev/null | grep -E '^tps' | awk '{print $3}')
  echo "- Postgres: pgbench scale 10, 8 clients, prepared: select-only $ro tps; TPC-B-like read-write $rw tps"
  if [ -f "$out/checkout.json" ] && [ -n "$rw" ]; then
    python3 - "$out/checkout.json" "$rw" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
rw = float(sys.argv[2])
whole = next(o for o in report["operations"] if o["name"].startswith("confirmed booking"))
print(f"- checkout against the commit ceiling: {whole['per_second']:.0f} confirmed bookings/s "
      f"÷ {rw:.0f} TPC-B tps = {100 * whole['per_second'] / rw:.1f} % (target ≥ 25 %)")
PY
  fi
  echo
  echo "### machine"
  echo
  echo "- server nodes: ${LOAD_NODES:-1}; Redis: ${LOAD_REDIS:-single}"
  echo "- $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "- $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) memory; $(uname -sr); open-file limit $fds"
  echo "- PostgreSQL $(basename "$(dirname "$(dirname "$pgbench")")"), $(redis-server --version | awk '{print $1" "$3}'), server and tool release builds"
} >"$out/ceilings.md"

{
  echo "# Load run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  for s in "${scenarios[@]}"; do [ -f "$out/$s.md" ] && cat "$out/$s.md" && echo; done
  cat "$out/ceilings.md"
} >"$out/REPORT.md"
say "done: $out/REPORT.md"
cat "$out/REPORT.md"
