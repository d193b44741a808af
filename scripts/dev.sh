#!/usr/bin/env bash
# The newcomer's command: backing services up, schema migrated, demo data seeded,
# then the server in the foreground with the GraphiQL URL printed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh

bind="${BIND_ADDR:-127.0.0.1:8080}"
if curl -fsS "http://$bind/health/live" >/dev/null 2>&1; then
  echo "[dev] a server already answers on $bind: GraphiQL at http://$bind/graphql"
  exit 0
fi

# Cargo's own progress (crates compiled, the bar) shows, so a first build on a fresh
# machine is visibly moving; when nothing changed this prints one "Finished" line.
echo "[dev] building (the first build takes several minutes; cargo shows its progress)"
cargo build --bin screema
./target/debug/screema migrate
./target/debug/screema seed
# The reference web app at /app/ (a newcomer without Node still gets the API).
bash scripts/web-app.sh || echo "[dev] the web app was not built; the API runs without /app/"
echo "[dev] demo users (password screema-demo-2026): admin@screema.local, operator@screema.local, customer@screema.local"
exec ./target/debug/screema serve
