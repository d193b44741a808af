#!/usr/bin/env bash
# Fuzzes the seat layout and ticket code parsers with cargo-fuzz (libFuzzer) for a
# fixed time each: `scripts/fuzz.sh [seconds-per-target] [target...]`.
#
#   scripts/fuzz.sh              # 60 s for each of seat_layout and ticket_code
#   scripts/fuzz.sh 300 seat_layout
#   scripts/fuzz.sh 20           # what CI (.ci/run) runs
#
# Works on the stable toolchain: `none` needs no unstable flag, and the `-Zsanitizer`
# flag of `address` is let through with RUSTC_BOOTSTRAP=1. The sanitizer is
# FUZZ_SANITIZER: `none` by default (about 7x the executions per second), or
# `address` (ASan; stable ships its runtime), each built in its own target directory.
# Builds are release with debug assertions and overflow checks. The targets depend
# only on crates/screema-formats (the two parsers), not on the server, so the first
# build takes about 40 s on 2 cores and installing cargo-fuzz about 30 s. The fuzz
# crate is its own workspace: the main build never compiles it.
# Each target reads fuzz/seeds/<target> (valid layouts from the demo data and API.md;
# ticket codes issued with the target's key) and adds to fuzz/corpus/<target> (kept
# between runs, not committed). A crash is saved under fuzz/artifacts/<target>/ and
# the script exits non-zero; replay it in fuzz/ with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none <target> <file>`.
# Measurements: fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(seat_layout ticket_code)
sanitizer="${FUZZ_SANITIZER:-none}"
case "$seconds" in '' | *[!0-9]*) echo "seconds must be a whole number, got '$seconds'" >&2; exit 2 ;; esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --version 0.13.2 --locked
fi

export RUSTC_BOOTSTRAP=1
# One target directory per sanitizer, so that switching does not rebuild everything.
build_dir=()
[ "$sanitizer" = none ] || build_dir=(--target-dir "target/$sanitizer")
echo "== building ${targets[*]} (sanitizer: $sanitizer)"
build_started=$(date +%s)
if [ "$#" -eq 0 ]; then
    cargo fuzz build --sanitizer "$sanitizer" "${build_dir[@]}"
else
    for target in "${targets[@]}"; do
        cargo fuzz build --sanitizer "$sanitizer" "${build_dir[@]}" "$target"
    done
fi
echo "== built in $(( $(date +%s) - build_started )) s"

status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    log="artifacts/$target/last-run.log"
    echo "== fuzzing $target for ${seconds}s"
    # The first directory is the corpus libFuzzer adds to; the seeds are only read.
    # -max_len: room for a real cinema's layout (the seeds are up to ~4 KB).
    set +e
    cargo fuzz run --sanitizer "$sanitizer" "${build_dir[@]}" "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 2>&1 | tee "$log" |
        grep --line-buffered -E '^#[0-9]+.*(INITED|pulse|DONE)|^stat::|^Done|panicked at|ERROR|SUMMARY'
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ] || grep -qE 'panicked at|ERROR: libFuzzer|Test unit written to' "$log"; then
        echo "!! $target failed (exit $rc); see fuzz/$log and fuzz/artifacts/$target/" >&2
        grep -E 'Test unit written to' "$log" >&2 || true
        status=1
    else
        echo "== $target: $(grep '^Done' "$log"), corpus $(find "corpus/$target" -type f | wc -l) inputs"
    fi
done
exit "$status"
