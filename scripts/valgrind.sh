#!/usr/bin/env bash
# A short end-to-end run with mongo-emu and notify-gateway under valgrind memcheck
# (tests/valgrind/e2e.mjs says what it drives). Fails on any memcheck error, on any definite or
# indirect leak, and on any step of the run not doing what the contract says.
#
# The build is a plain Debug build (no sanitizer: valgrind and ASan do not mix) in
# $BUILD_DIR (default build-valgrind). Logs: $BUILD_DIR/valgrind/<process>.valgrind.log.
# Suppressions: tests/valgrind/*.supp, each entry justified where it is written.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-valgrind}
ERROR_EXIT=99

command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (make apt-test)" >&2; exit 2; }
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug ${CMAKE_FLAGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target notify-gateway mongo-emu >/dev/null
[ -d node_modules/socket.io-client ] || npm ci --no-audit --no-fund --loglevel=error

logs="$(cd "$BUILD_DIR" && pwd)/valgrind"
rm -rf "$logs" && mkdir -p "$logs"
# None are needed today (both processes free every block at exit); a future entry must name
# the one-time third-party allocation it covers and why it cannot be freed.
supp=""
if compgen -G "tests/valgrind/*.supp" >/dev/null; then
    supp=$(mktemp)
    trap 'rm -f "$supp"' EXIT
    cat tests/valgrind/*.supp >"$supp"
fi

status=0
GW_BUILD_DIR=$(cd "$BUILD_DIR" && pwd) VALGRIND_LOG_DIR="$logs" VALGRIND_SUPP="$supp" \
    VALGRIND_ERROR_EXIT=$ERROR_EXIT timeout 600 node tests/valgrind/e2e.mjs | tee "$logs/e2e.out" ||
    status=$?

for log in "$logs"/*.valgrind.log; do
    name=$(basename "$log" .valgrind.log)
    echo "--- $name: $(grep -h 'ERROR SUMMARY' "$log" | tail -1 | sed 's/^==[0-9]*== //')"
    grep -hE 'in use at exit:|All heap blocks|definitely lost:|indirectly lost:|possibly lost:|still reachable:' "$log" |
        sed 's/^==[0-9]*== /    /' || true
    if grep -q "^exit: $name $ERROR_EXIT\$" "$logs/e2e.out"; then
        echo "valgrind.sh: $name: memcheck errors or leaks, see $log" >&2
        sed -n '/HEAP SUMMARY/q;p' "$log" | grep -v '^==[0-9]*== *$' | head -80 >&2
        grep -A30 -E 'definitely lost in|indirectly lost in' "$log" | head -120 >&2 || true
        status=1
    fi
done
if [ "$status" -ne 0 ]; then
    echo "valgrind.sh: FAIL" >&2
    exit 1
fi
echo "valgrind.sh: clean (no memcheck errors, no definite or indirect leaks)"
