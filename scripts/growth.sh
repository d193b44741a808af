#!/usr/bin/env bash
# How cost grows with the data (issue 22), each case on a fresh database of its own
# against a release server, one after another on a quiet machine:
#
# - the home screen (20 films, the next 10 showtimes of each) over 20, 2,000 and
#   20,000 films of 10 showtimes each, and over 20 films of 1,000 showtimes each (100x),
#   with the catalog cache off (with it on, every case is the same answer from memory);
# - a flash sale's seat map of 100, 500 and 1,500 seats (hold answers and map reads);
# - holds spread over 10, 1,000 and 10,000 showtimes.
#
# Prints one Markdown table for BENCHMARKS.md; each case's own report is in
# target/growth/<case>/.
#
#   scripts/growth.sh                 # every case
#   scripts/growth.sh home holds      # some: home, maps, holds
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[growth] %s\n' "$*" >&2; }
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(home maps holds)
wanted() { [[ " ${parts[*]} " == *" $1 "* ]]; }

bash scripts/services.sh >/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
say "building release binaries"
cargo build --release --quiet --workspace --bin screema --bin screema-load

port="${GROWTH_PORT:-8190}"
url="http://127.0.0.1:$port"
out="target/growth"
mkdir -p "$out"
export PGPASSWORD="${SCREEMA_PG_PASSWORD:-screema}"
user="${SCREEMA_PG_USER:-screema}"
pg=(psql -qtA -h 127.0.0.1 -U "$user" -v ON_ERROR_STOP=1)

if curl -fsS "$url/health/live" >/dev/null 2>&1; then
  say "something already answers on $url; set GROWTH_PORT"; exit 1
fi

server=""
stop_server() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}
trap 'stop_server; drop_databases' EXIT

# A fresh database of the case's own (dropping the last case's can wait on an
# autovacuum of its big tables) and a server on it, which migrates it.
dbs=()
drop_databases() {
  for d in "${dbs[@]}"; do
    "${pg[@]}" -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
start_server() { # case-name [extra env...]
  local name="$1"; shift
  stop_server
  db="screema_growth_${name//-/_}"
  dbs+=("$db")
  export DATABASE_URL="postgres://$user:$PGPASSWORD@127.0.0.1:5432/$db"
  "${pg[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  rm -rf "${out:?}/$name"
  mkdir -p "$out/$name"
  env BIND_ADDR="127.0.0.1:$port" REDIS_KEY_PREFIX="growth$(date +%s%N)" \
    RATE_LIMIT_GENERAL=off RATE_LIMIT_BOOKING=off WS_MAX_CONNECTIONS_PER_CLIENT=off \
    SIMULATED_PAYMENT_DELAY_MS=100 TICKET_STORE_DIR="$out/tickets" RUST_LOG=warn "$@" \
    ./target/release/screema serve >"$out/$name/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 150); do
    curl -fsS "$url/health/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  say "the server did not start; see $out/$name/server.log"; exit 1
}

# `films` films of `each` showtimes, written straight into the database: one theater,
# one screen per film so that no two showtimes of a screen overlap.
films() { # films each
  "${pg[@]}" -d "$db" <<SQL
INSERT INTO theaters (id, name, location, timezone)
  VALUES ('00000000-0000-4000-8000-000000000001', 'Growth', 'Loopback 1', 'UTC');
INSERT INTO movies (id, title, duration, genres, cast_members, status, release_date)
  SELECT md5('film' || i)::uuid, 'Film ' || i, 100, '{Drama}', '{}', 'now_showing',
         DATE '2000-01-01' + (i % 3650)
  FROM generate_series(1, $1) AS i;
INSERT INTO screens (id, theater_id, screen_number, total_seats, seat_layout)
  SELECT md5('screen' || i)::uuid, '00000000-0000-4000-8000-000000000001', i, 2,
         '{"rows": [{"label": "A", "seats": [{"number": 1, "kind": "STANDARD"}, {"number": 2, "kind": "STANDARD"}]}]}'
  FROM generate_series(1, $1) AS i;
INSERT INTO showtimes (id, movie_id, screen_id, start_time, end_time, base_price)
  SELECT gen_random_uuid(), md5('film' || i)::uuid, md5('screen' || i)::uuid,
         date_trunc('hour', now()) + interval '1 day' + k * interval '3 hours',
         date_trunc('hour', now()) + interval '1 day' + k * interval '3 hours' + interval '115 minutes',
         11.50
  FROM generate_series(1, $1) AS i, generate_series(1, $2) AS k;
ANALYZE theaters, movies, screens, showtimes;
SQL
}

# The p50 and p99 (ms) and rate of an operation in a scenario's JSON report.
figures() { # report-json operation-name
  python3 - "$1" "$2" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
op = next(o for o in report["operations"] if o["name"] == sys.argv[2])
print(f'{op["p50_ms"]:.2f} | {op["p99_ms"]:.2f} | {op["per_second"]:,.0f}')
PY
}

rows=()

wanted home && for shape in "20 10" "2000 10" "20000 10" "20 1000"; do
  set -- $shape
  name="home-$1x$2"
  say "home screen: $1 films of $2 showtimes"
  start_server "$name" CATALOG_CACHE_TTL_MS=0
  films "$1" "$2"
  ./target/release/screema-load catalog --url "$url" --server-pid "$server" \
    --out "$out/$name" --duration 8 >"$out/$name/tool.log" 2>&1
  rows+=("| home screen, uncached | $1 films × $2 showtimes | $(figures "$out/$name/catalog.json" "movies(limit: 20) query") |")
done

wanted maps && for seats in 100 500 1500; do
  name="map-$seats"
  say "flash sale: a map of $seats seats"
  start_server "$name"
  ./target/release/screema-load flash-sale --url "$url" --server-pid "$server" \
    --out "$out/$name" --seats "$seats" --buyers 3000 >"$out/$name/tool.log" 2>&1
  rows+=("| flash sale, hold answered | $seats seats | $(figures "$out/$name/flash-sale.json" "lockSeats answered (held or refused)") |")
  rows+=("| flash sale, map read after a refusal | $seats seats | $(figures "$out/$name/flash-sale.json" "seat map read after a refusal") |")
done

wanted holds && for showtimes in 10 1000 10000; do
  name="holds-$showtimes"
  say "holds over $showtimes showtimes"
  start_server "$name"
  ./target/release/screema-load holds --url "$url" --server-pid "$server" \
    --out "$out/$name" --showtimes "$showtimes" --duration 8 >"$out/$name/tool.log" 2>&1
  rows+=("| holds, lockSeats | $showtimes showtimes | $(figures "$out/$name/holds.json" lockSeats) |")
done
stop_server

echo "| operation | data | p50 ms | p99 ms | per second |"
echo "|---|---|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
