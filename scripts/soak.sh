#!/usr/bin/env bash
# The soak (tests/soak/README.md): builds notify-gateway and mongo-emu, then runs
# tests/soak/soak.mjs. Exit status 0 only when nothing was lost or sent to the wrong user and
# the gateway's RSS stayed flat after warm-up.
#
#   scripts/soak.sh                  the full run: 10 minutes, 5k sockets, a fault a minute
#   scripts/soak.sh --short          the CI run: 75 s, 1k sockets, faults at 25 s and 50 s
#   scripts/soak.sh --minutes 3 ...  any option of tests/soak/soak.mjs passes through
#
# Environment: BUILD_DIR (default build; built as RelWithDebInfo if it has no gateway yet),
# SOAK_REPORT (default $BUILD_DIR/soak-report[-short].json).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}

short=""
for a in "$@"; do
    [ "$a" = "--short" ] && short="-short"
done
report=${SOAK_REPORT:-$BUILD_DIR/soak-report$short.json}

if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target notify-gateway mongo-emu >/dev/null
[ -d node_modules/ws ] || npm ci --no-audit --no-fund --loglevel=error

# 5k sockets on each side of loopback plus churn in TIME_WAIT: the default 1024 is not enough.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=65536
ulimit -n "$hard"
GW_BUILD_DIR=$(cd "$BUILD_DIR" && pwd) exec node tests/soak/soak.mjs --report "$report" "$@"
