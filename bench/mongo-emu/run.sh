#!/bin/sh
# Builds and runs the mongo-emu insert benchmark; prints inserts/s with one change stream open.
# Usage: bench/mongo-emu/run.sh [N] [WRITERS] [BATCH]   (BUILD_DIR defaults to ./build)
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$repo/build}
cmake -S "$repo" -B "$build" >/dev/null
cmake --build "$build" --target mongo-emu bench_mongo_emu >/dev/null
"$build/tools/mongo-emu/bench_mongo_emu" "$build/tools/mongo-emu/mongo-emu" "${1:-100000}" "${2:-4}" "${3:-1}"
