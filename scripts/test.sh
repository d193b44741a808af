#!/usr/bin/env bash
# The whole test suite: starts what the tests need, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
bash scripts/replica.sh
SCREEMA_PYTHON="$(bash scripts/test-tools.sh --python)"
export SCREEMA_PYTHON
export LOCALSTRIPE_URL="${LOCALSTRIPE_URL:-http://127.0.0.1:${SCREEMA_LOCALSTRIPE_PORT:-8420}}"

# The load tool's tests run its binary (tests/it/load_tool.rs), which is another
# package's: cargo builds it for no test target of ours, so it is built here, fresh.
cargo build --quiet -p screema-load --bin screema-load

if cargo nextest --version >/dev/null 2>&1; then
  profile=default
  [ "${CI:-}" = "true" ] && profile=ci
  exec cargo nextest run --workspace --all-targets --profile "$profile" "$@"
else
  echo "[test] cargo-nextest not found; using cargo test"
  exec cargo test --workspace --all-targets "$@"
fi
