#!/usr/bin/env bash
# fuzz.sh -- build the libFuzzer targets with clang and run each for a bounded time.
#
# Usage: scripts/fuzz.sh [seconds-per-target] [target...]
#   seconds defaults to 60; targets default to every tests/fuzz/fuzz_*.c ("jwt" or "fuzz_jwt").
# Environment: BUILD_DIR (default build-fuzz), FUZZ_ARGS (extra libFuzzer flags).
#
# The committed seeds in tests/fuzz/corpus/<target>/ are copied into a working corpus under the
# build directory, so a run never rewrites the repository. A crash, leak, timeout or OOM stops
# that target; its reproducer (kept until the next run) lands in $BUILD_DIR/fuzz-findings/<target>/ (replay it with
# `$BUILD_DIR/fuzz_<target> <file>`). Prints one line per target with executions and findings;
# exits 1 when any target found something.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_TARGET=${1:-60}
shift || true
BUILD_DIR=${BUILD_DIR:-$ROOT/build-fuzz}

case $SECONDS_PER_TARGET in
'' | *[!0-9]*)
    echo "fuzz.sh: seconds must be a whole number, got '$SECONDS_PER_TARGET'" >&2
    exit 2
    ;;
esac

targets=()
if [ $# -gt 0 ]; then
    for t in "$@"; do targets+=("fuzz_${t#fuzz_}"); done
else
    for f in "$ROOT"/tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi

CC=clang cmake -S "$ROOT" -B "$BUILD_DIR" -DGW_FUZZ=ON -DGW_WERROR=ON >/dev/null
cmake --build "$BUILD_DIR" -j2 --target "${targets[@]}" >/dev/null

status=0
summary=()
for t in "${targets[@]}"; do
    corpus="$BUILD_DIR/fuzz-corpus/$t"
    findings="$BUILD_DIR/fuzz-findings/$t"
    log="$BUILD_DIR/fuzz-logs/$t.log"
    rm -rf "$findings" # reproducers of an earlier run would be counted again
    mkdir -p "$corpus" "$findings" "$(dirname "$log")"
    if [ -d "$ROOT/tests/fuzz/corpus/$t" ]; then
        cp -n "$ROOT/tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
    fi
    echo "fuzz.sh: $t for ${SECONDS_PER_TARGET}s (log $log)"
    rc=0
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    "$BUILD_DIR/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$findings/" ${FUZZ_ARGS:-} "$corpus" \
        >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ -z "$execs" ]; then
        # A crash skips the final stats: take the last progress line's count.
        execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    fi
    found=$(find "$findings" -type f | wc -l)
    line=$(printf '%-16s executions %10s  findings %s' "${t#fuzz_}" "${execs:-?}" "$found")
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        status=1
        line="$line  (exit $rc; see $findings)"
        grep -m 3 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*assertion)' "$log" || true
    fi
    summary+=("$line")
done

echo
printf '%s\n' "${summary[@]}"
exit $status
