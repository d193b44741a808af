#!/usr/bin/env bash
# Builds the reference web app (clients/web) that the server serves at /app/: its
# locked packages (npm ci) and its build (types generated from schema.graphql, tsc,
# vite), each only when out of date. A schema change that breaks one of the app's
# queries fails here. Used by scripts/dev.sh and scripts/test-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/../clients/web"

say() { printf '[web-app] %s\n' "$*" >&2; }

if ! command -v npm >/dev/null; then
  say "npm not found: the web app needs Node.js 20"
  exit 1
fi
# npm's own node_modules/.package-lock.json never equals the lockfile, so the one
# installed last is kept beside it to compare.
if ! cmp -s package-lock.json node_modules/.screema-installed-lock.json; then
  say "installing the web app's packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json node_modules/.screema-installed-lock.json
fi
if [ ! -f dist/index.html ] ||
  [ -n "$(find src sw public index.html package-lock.json vite.config.ts codegen.ts \
    ../../schema.graphql -newer dist/index.html -not -path 'src/gql/*' -print -quit)" ]; then
  say "building the web app (codegen, tsc, vite)"
  npm run build --silent >&2
else
  say "the web app is built"
fi
