#!/usr/bin/env bash
# The test suite's helpers from PyPI, in a virtualenv of their own: localstripe (a fake
# Stripe server, started here on loopback), aiosmtpd (an SMTP server), moto (an
# S3-compatible server) and schemathesis (the GraphQL fuzzer of tests/it/schema_fuzz.rs),
# and clairvoyance in a virtualenv of its own;
# each email or S3 test starts its own on a port of its own. Idempotent: installs once, starts
# localstripe when it is not answering. Prints nothing else on stdout but, with
# --python, the virtualenv's python.
set -euo pipefail

PORT="${SCREEMA_LOCALSTRIPE_PORT:-8420}"
LOCALSTRIPE="localstripe==1.15.10"
AIOSMTPD="aiosmtpd==1.4.6"
MOTO="moto[server]==5.1.18"
SCHEMATHESIS_VERSION="4.32.5"
VENV="${SCREEMA_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/screema}/test-tools-v2"
URL="http://127.0.0.1:$PORT"

say() { printf '[test-tools] %s\n' "$*" >&2; }

# python3 rather than curl: it is on every machine this runs on.
answers() {
  python3 - "$URL" <<'PY' >/dev/null 2>&1
import base64, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/v1/customers?limit=1")
req.add_header("Authorization", "Basic " + base64.b64encode(b"sk_test_screema:").decode())
urllib.request.urlopen(req, timeout=2).read()
PY
}

if [ ! -x "$VENV/bin/localstripe" ] || [ ! -x "$VENV/bin/aiosmtpd" ] || [ ! -x "$VENV/bin/moto_server" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    say "installing python3-venv"
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  say "installing $LOCALSTRIPE, $AIOSMTPD, $MOTO and schemathesis==$SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "$LOCALSTRIPE" "$AIOSMTPD" "$MOTO" \
    "schemathesis==$SCHEMATHESIS_VERSION" >&2
fi
# Added to the virtualenv later than the rest, so an existing one gets it (or another
# pinned version) without being built anew.
if ! "$VENV/bin/python" -c 'import sys
from importlib.metadata import version
sys.exit(version("schemathesis") != sys.argv[1])' "$SCHEMATHESIS_VERSION" >/dev/null 2>&1; then
  say "installing schemathesis==$SCHEMATHESIS_VERSION into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
fi
# clairvoyance (tests/it/leaks.rs tries to recover the schema of a production server
# from its error messages), in a virtualenv of its own beside the first: it pins
# rich<14, which schemathesis's rich 15 would break. The tests find it there.
CLAIRVOYANCE_VERSION="2.5.5"
CLAIRVOYANCE_VENV="$(dirname "$VENV")/clairvoyance-$CLAIRVOYANCE_VERSION"
if [ ! -x "$CLAIRVOYANCE_VENV/bin/clairvoyance" ]; then
  say "installing clairvoyance==$CLAIRVOYANCE_VERSION into $CLAIRVOYANCE_VENV"
  rm -rf "$CLAIRVOYANCE_VENV"
  python3 -m venv "$CLAIRVOYANCE_VENV"
  "$CLAIRVOYANCE_VENV/bin/pip" install -q --disable-pip-version-check \
    "clairvoyance==$CLAIRVOYANCE_VERSION" >&2
fi
# Debian's Chromium, for the browser tests (playwright-core drives it).
if [ ! -x /usr/bin/chromium ]; then
  say "installing chromium"
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi

# The JavaScript clients (Apollo Client, graphql-ws, subscriptions-transport-ws), exactly
# as locked, with the machine's Node.
# npm's own node_modules/.package-lock.json never equals the lockfile (it leaves out
# the root package), so the lockfile installed last is kept beside it to compare.
clients="$(dirname "$0")/../clients"
if ! cmp -s "$clients/package-lock.json" "$clients/node_modules/.screema-installed-lock.json"; then
  if ! command -v npm >/dev/null; then
    say "npm not found: the client tests need Node.js 20"
    exit 1
  fi
  say "installing the client packages (npm ci)"
  (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error >&2)
  cp "$clients/package-lock.json" "$clients/node_modules/.screema-installed-lock.json"
fi
# The reference web app (clients/web), built as the server serves it at /app/.
bash "$(dirname "$0")/web-app.sh" >&2
[ "${1:-}" = "--python" ] && echo "$VENV/bin/python"

if answers; then
  say "localstripe already running at $URL"
  exit 0
fi

say "starting localstripe on $URL"
log="/tmp/screema-localstripe-$PORT.log"
# localstripe pickles its whole store to the fixed path /tmp/localstripe.pickle on every
# write and loads it at start: a run killed mid-write left a truncated file that stopped
# the next start (CI, 2026-12-05), and each write costs more as the store grows. The
# tests need no state from an earlier run, so it starts from scratch and never writes it.
rm -f /tmp/localstripe.pickle
nohup setsid "$VENV/bin/python" -c '
import sys
from localstripe import resources
resources.Store.dump_to_disk = lambda self: None
from localstripe.server import start
sys.exit(start())
' --from-scratch --port "$PORT" >"$log" 2>&1 </dev/null &
for _ in $(seq 1 100); do
  answers && { say "localstripe ready at $URL"; exit 0; }
  sleep 0.1
done
say "localstripe did not start; see $log"
tail -n 20 "$log" >&2
exit 1
