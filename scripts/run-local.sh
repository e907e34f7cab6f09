#!/usr/bin/env bash
# `make run`: the gateway with its change stream on, against MongoDB at MONGODB_URI, or against
# a local mongo-emu (a MongoDB wire-protocol emulator, for development only) when it is unset.
# A development JWT secret is generated unless JWT_SECRET or JWT_PUBLIC_KEY_FILE is set.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
STATE_DIR=${STATE_DIR:-.dev}
mkdir -p "$STATE_DIR"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${MONGODB_URI:-}" ]; then
    "$BUILD_DIR/tools/mongo-emu/mongo-emu" --port "${MONGO_EMU_PORT:-27017}" \
        --dbpath "$STATE_DIR/mongo-emu" >"$STATE_DIR/mongo-emu.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 50); do
        grep -q "listening on" "$STATE_DIR/mongo-emu.log" 2>/dev/null && break
        sleep 0.1
    done
    addr=$(sed -n 's/^mongo-emu listening on //p' "$STATE_DIR/mongo-emu.log" | head -1)
    [ -n "$addr" ] || { echo "mongo-emu did not start:"; cat "$STATE_DIR/mongo-emu.log"; exit 1; }
    export MONGODB_URI="mongodb://$addr/?replicaSet=rs0"
    echo "mongo-emu (development emulator) on $addr"
fi

if [ -z "${JWT_SECRET:-}" ] && [ -z "${JWT_PUBLIC_KEY_FILE:-}" ]; then
    [ -s "$STATE_DIR/jwt-secret" ] || openssl rand -hex 32 >"$STATE_DIR/jwt-secret"
    JWT_SECRET=$(cat "$STATE_DIR/jwt-secret")
    export JWT_SECRET
fi
export ENABLE_CHANGE_STREAMS=${ENABLE_CHANGE_STREAMS:-true}
export HOST=${HOST:-127.0.0.1}
export PORT=${PORT:-3000}

"$BUILD_DIR/notify-gateway" &
pids+=($!)
wait "${pids[-1]}"
