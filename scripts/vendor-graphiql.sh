#!/usr/bin/env bash
# Vendors the GraphiQL playground (and the React it runs on) into
# assets/graphiql/ so the server can serve it with no CDN and no network.
#
# Fetches pinned tarballs from the npm registry with `npm pack` in a temporary
# directory, checks each tarball against a pinned sha512 integrity, and copies:
#   react.production.min.js      <- react@REACT_VERSION     umd/react.production.min.js
#   react-dom.production.min.js  <- react-dom@REACT_VERSION umd/react-dom.production.min.js
#   graphiql.min.js              <- graphiql@GRAPHIQL_VERSION graphiql.min.js (UMD, global `GraphiQL`)
#   graphiql.min.css             <- graphiql@GRAPHIQL_VERSION graphiql.min.css (fonts inlined as data: URIs)
#   licenses/<pkg>.LICENSE       <- each package's LICENSE
#   VERSIONS.txt                 <- what was vendored, from where, with integrity
#
# assets/graphiql/index.html is hand-written and is left untouched.
#
# graphiql 3.9.0 is the last 3.x and still ships the UMD build: its
# package.json copies dist/index.umd.js to graphiql.min.js and dist/style.css to
# graphiql.min.css at the package root (not under dist/). graphiql 4+ dropped the
# UMD build. The UMD bundle externalises only React and ReactDOM (globals
# `React`, `ReactDOM`); graphql-js and the graphql-ws client are bundled.
#
# Usage: scripts/vendor-graphiql.sh   (needs node/npm and the npm registry)
set -euo pipefail

REACT_VERSION="18.3.1"
REACT_DOM_VERSION="18.3.1"
GRAPHIQL_VERSION="3.9.0"

# sha512 integrity of each tarball, as published in the registry (dist.integrity).
REACT_INTEGRITY="sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ=="
REACT_DOM_INTEGRITY="sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw=="
GRAPHIQL_INTEGRITY="sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA=="

say() { printf '[vendor-graphiql] %s\n' "$*"; }
die() { printf '[vendor-graphiql] error: %s\n' "$*" >&2; exit 1; }

command -v npm >/dev/null || die "npm is required"
command -v openssl >/dev/null || die "openssl is required (to check tarball integrity)"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo_root/assets/graphiql"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch NAME VERSION INTEGRITY -> extracts into $work/NAME/package
fetch() {
  local name="$1" version="$2" integrity="$3" tgz actual
  say "fetching $name@$version"
  mkdir -p "$work/$name"
  if ! tgz="$(cd "$work/$name" && npm pack --silent "$name@$version" 2>"$work/$name.npm.log" | tail -n1)"; then
    cat "$work/$name.npm.log" >&2
    die "npm pack $name@$version failed"
  fi
  if [ -z "$tgz" ] || [ ! -f "$work/$name/$tgz" ]; then
    cat "$work/$name.npm.log" >&2
    die "npm pack $name@$version produced no tarball"
  fi
  actual="sha512-$(openssl dgst -sha512 -binary "$work/$name/$tgz" | base64 | tr -d '\n')"
  [ "$actual" = "$integrity" ] || die "$name@$version integrity mismatch: got $actual, want $integrity"
  tar -xzf "$work/$name/$tgz" -C "$work/$name"
  [ -d "$work/$name/package" ] || die "$name@$version: unexpected tarball layout"
}

# copy SRC DST: SRC must exist and be non-empty
copy() {
  [ -s "$1" ] || die "missing in package: ${1#"$work"/}"
  cp "$1" "$2"
}

fetch react "$REACT_VERSION" "$REACT_INTEGRITY"
fetch react-dom "$REACT_DOM_VERSION" "$REACT_DOM_INTEGRITY"
fetch graphiql "$GRAPHIQL_VERSION" "$GRAPHIQL_INTEGRITY"

# Build the new set in a staging dir, then swap it in, so a failure leaves the
# previous assets alone.
stage="$work/stage"
mkdir -p "$stage/licenses"
copy "$work/react/package/umd/react.production.min.js"         "$stage/react.production.min.js"
copy "$work/react-dom/package/umd/react-dom.production.min.js" "$stage/react-dom.production.min.js"
copy "$work/graphiql/package/graphiql.min.js"                  "$stage/graphiql.min.js"
copy "$work/graphiql/package/graphiql.min.css"                 "$stage/graphiql.min.css"
copy "$work/react/package/LICENSE"     "$stage/licenses/react.LICENSE"
copy "$work/react-dom/package/LICENSE" "$stage/licenses/react-dom.LICENSE"
copy "$work/graphiql/package/LICENSE"  "$stage/licenses/graphiql.LICENSE"

# The UMD bundle must be the one that reads the React/ReactDOM globals.
grep -q '\.GraphiQL=t(e\.React,e\.ReactDOM)' "$stage/graphiql.min.js" \
  || die "graphiql.min.js does not look like the UMD build (global GraphiQL from React, ReactDOM)"

# Files are copied byte for byte (no source maps are vendored: graphiql.min.js
# keeps its trailing sourceMappingURL comment, which only open devtools follow).

{
  echo "# Vendored by scripts/vendor-graphiql.sh from the npm registry. Do not edit by hand."
  echo "react@$REACT_VERSION $REACT_INTEGRITY"
  echo "  react.production.min.js <- umd/react.production.min.js"
  echo "react-dom@$REACT_DOM_VERSION $REACT_DOM_INTEGRITY"
  echo "  react-dom.production.min.js <- umd/react-dom.production.min.js"
  echo "graphiql@$GRAPHIQL_VERSION $GRAPHIQL_INTEGRITY"
  echo "  graphiql.min.js <- graphiql.min.js (== dist/index.umd.js; bundles graphql-js and graphql-ws)"
  echo "  graphiql.min.css <- graphiql.min.css (== dist/style.css; fonts inlined as data: URIs)"
} > "$stage/VERSIONS.txt"

mkdir -p "$dest/licenses"
for f in react.production.min.js react-dom.production.min.js graphiql.min.js graphiql.min.css VERSIONS.txt; do
  mv -f "$stage/$f" "$dest/$f"
done
for f in "$stage"/licenses/*; do
  mv -f "$f" "$dest/licenses/"
done

say "vendored into ${dest#"$repo_root"/}:"
(cd "$dest" && ls -l react.production.min.js react-dom.production.min.js graphiql.min.js graphiql.min.css VERSIONS.txt licenses/*)
say "total: $(du -sh "$dest" | cut -f1)"
