#!/usr/bin/env bash
# `make run`: everything a newcomer needs to see a notification arrive, on loopback.
#
#   1. MongoDB: $MONGODB_URI when set, else a local mongo-emu (a MongoDB wire-protocol emulator
#      for development, tools/mongo-emu) on MONGO_EMU_PORT (27017), data in .dev/mongo-emu.
#   2. notify-gateway with ENABLE_CHANGE_STREAMS=true on HOST:PORT (127.0.0.1:3000), a
#      development JWT secret generated once into .dev/jwt-secret (unless JWT_SECRET or
#      JWT_PUBLIC_KEY_FILE is set), and CORS_ORIGINS allowing the demo page.
#   3. The demo page (client-demo/serve.mjs) on DEMO_PORT (8080).
#   4. A banner: the demo URLs with ready tokens for alice and bob, the command that inserts a
#      notification, and the terminal client. Then the gateway's log follows.
#
# Ctrl-C (or SIGTERM) stops everything: the gateway first (it saves its resume token), then the
# demo server and the emulator. Other gateway variables (see `notify-gateway --help`) pass
# through. Needs a build (BUILD_DIR, default build) and node_modules: `make run` does both.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BUILD_DIR=${BUILD_DIR:-build}
STATE_DIR=${STATE_DIR:-.dev}
DEMO_PORT=${DEMO_PORT:-8080}
TOKEN_TTL=${TOKEN_TTL:-86400}
GATEWAY=$BUILD_DIR/notify-gateway
EMU=$BUILD_DIR/tools/mongo-emu/mongo-emu

die() {
    echo "make run: $*" >&2
    exit 1
}

[ -x "$GATEWAY" ] || die "$GATEWAY is missing: build first (make build)"
[ -d node_modules/socket.io-client ] || die "node_modules is missing: run npm ci (make npm)"
mkdir -p "$STATE_DIR"
# The directory ignores itself, so no run ever leaves untracked files in the repository.
[ -f "$STATE_DIR/.gitignore" ] || echo '*' >"$STATE_DIR/.gitignore"

# Children run in their own sessions: a Ctrl-C reaches this script only, which then stops them
# in order (the gateway must still reach MongoDB to save its resume token).
declare -A pid_of=()
# start NAME LOG CMD...: LOG is a file, or - for this script's stderr.
start() {
    local name=$1 log=$2
    shift 2
    if [ "$log" = - ]; then
        setsid "$@" >&2 </dev/null &
    else
        setsid "$@" >"$log" 2>&1 </dev/null &
    fi
    pid_of[$name]=$!
}

stop() {
    local name=$1 pid=${pid_of[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do # 10 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "make run: $name did not stop within 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "pid_of[$name]"
}

cleanup() {
    trap - INT TERM
    [ ${#pid_of[@]} -gt 0 ] || return 0
    echo
    echo "make run: stopping"
    for name in follow gateway demo mongo-emu; do stop "$name"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to 10 s for a line matching $2 in log $3 of child $1; prints the first match.
wait_line() {
    local name=$1 pattern=$2 log=$3
    for _ in $(seq 1 100); do
        if grep -m1 -E "$pattern" "$log" 2>/dev/null; then
            return 0
        fi
        kill -0 "${pid_of[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    echo "make run: $name did not start; its output ($log):" >&2
    cat "$log" >&2
    return 1
}

# ---- MongoDB ---------------------------------------------------------------------------------
if [ -z "${MONGODB_URI:-}" ]; then
    [ -x "$EMU" ] || die "$EMU is missing: build first (make build)"
    start mongo-emu "$STATE_DIR/mongo-emu.log" \
        "$EMU" --port "${MONGO_EMU_PORT:-27017}" --dbpath "$STATE_DIR/mongo-emu"
    line=$(wait_line mongo-emu '^mongo-emu listening on ' "$STATE_DIR/mongo-emu.log") || exit 1
    export MONGODB_URI="mongodb://${line#mongo-emu listening on }/?replicaSet=rs0"
    mongo_note="mongo-emu, the development emulator; log: $STATE_DIR/mongo-emu.log"
else
    mongo_note="from MONGODB_URI"
fi

# ---- notify-gateway --------------------------------------------------------------------------
if [ -z "${JWT_SECRET:-}" ] && [ -z "${JWT_PUBLIC_KEY_FILE:-}" ]; then
    [ -s "$STATE_DIR/jwt-secret" ] || (umask 077 && openssl rand -hex 32 >"$STATE_DIR/jwt-secret")
    JWT_SECRET=$(cat "$STATE_DIR/jwt-secret")
    export JWT_SECRET
    secret_note="JWT_SECRET=\$(cat $(realpath "$STATE_DIR/jwt-secret")) "
else
    secret_note=""
fi
export ENABLE_CHANGE_STREAMS=${ENABLE_CHANGE_STREAMS:-true}
export HOST=${HOST:-127.0.0.1}
export PORT=${PORT:-3000}
export CORS_ORIGINS=${CORS_ORIGINS:-http://127.0.0.1:$DEMO_PORT,http://localhost:$DEMO_PORT}

start gateway "$STATE_DIR/gateway.log" "$GATEWAY"
line=$(wait_line gateway '^notify-gateway listening on ' "$STATE_DIR/gateway.log") || exit 1
GATEWAY_URL=${line#notify-gateway listening on }

# ---- the demo page ---------------------------------------------------------------------------
start demo "$STATE_DIR/demo.log" env DEMO_HOST="$HOST" DEMO_PORT="$DEMO_PORT" \
    GATEWAY_URL="$GATEWAY_URL" node client-demo/serve.mjs
line=$(wait_line demo '^client-demo listening on ' "$STATE_DIR/demo.log") || exit 1
DEMO_URL=${line#client-demo listening on }

# The change stream: up to 10 s for "watching", else say why not and keep running (the
# gateway retries on its own and the health endpoint tells when it succeeds).
case $ENABLE_CHANGE_STREAMS in
true | 1)
    if line=$(wait_line gateway 'watcher: watching ' "$STATE_DIR/gateway.log" 2>/dev/null); then
        watch_note=$(grep -m1 -oE 'watching [^ ]+' <<<"$line")
    else
        watch_note="NOT watching yet (the gateway keeps retrying): $(grep -E 'ERROR|WARN' "$STATE_DIR/gateway.log" | tail -1)"
    fi
    ;;
*) watch_note="off (ENABLE_CHANGE_STREAMS=$ENABLE_CHANGE_STREAMS): nothing will be delivered" ;;
esac

# ---- the banner ------------------------------------------------------------------------------
# Single-quoted for a POSIX shell, so the printed commands can be pasted as they are.
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
# A password in the URI is not printed: the commands then name it as a placeholder.
shown_uri=$(sed -E 's#(//[^:/@]*):[^@/]*@#\1:***@#' <<<"$MONGODB_URI")
if [ "$shown_uri" = "$MONGODB_URI" ]; then
    mongo_env="MONGODB_URI=$(q "$MONGODB_URI")"
else
    mongo_env="MONGODB_URI='<your MONGODB_URI>'"
fi
[ -z "${MONGODB_DB:-}" ] || mongo_env="$mongo_env MONGODB_DB=$(q "$MONGODB_DB")"
[ -z "${NOTIFICATIONS_COLLECTION:-}" ] || mongo_env="$mongo_env NOTIFICATIONS_COLLECTION=$(q "$NOTIFICATIONS_COLLECTION")"
[ -z "${NOTIFICATION_USER_FIELD:-}" ] || mongo_env="$mongo_env NOTIFICATION_USER_FIELD=$(q "$NOTIFICATION_USER_FIELD")"

cat <<EOF

==========================================================================================
 notify-gateway is running. Ctrl-C stops everything.

 gateway   $GATEWAY_URL   (health: $GATEWAY_URL/api/health, metrics: $GATEWAY_URL/metrics)
 stream    $watch_note
 MongoDB   $shown_uri   ($mongo_note)
 logs      $STATE_DIR/gateway.log (followed below)
EOF
if [ -n "${JWT_SECRET:-}" ]; then
    alice=$("$GATEWAY" token --sub alice --ttl "$TOKEN_TTL")
    bob=$("$GATEWAY" token --sub bob --ttl "$TOKEN_TTL")
    cat <<EOF

 1. Open the demo page, one tab per user:
      alice  $DEMO_URL/#token=$alice
      bob    $DEMO_URL/#token=$bob

 2. Send alice a notification (from any terminal):
      $mongo_env node $REPO/client-demo/send.mjs --user alice --type order_shipped --title 'Your order shipped'

 3. Or watch bob's notifications in a terminal:
      node $REPO/client-demo/cli.mjs --url $GATEWAY_URL --token $bob

 Dev tokens (valid $TOKEN_TTL s; make another with
   ${secret_note}$(realpath "$GATEWAY") token --sub carol --ttl 3600):
      alice  $alice
      bob    $bob
EOF
else
    cat <<EOF

 JWT_PUBLIC_KEY_FILE is set: sign tokens for the demo with your private key, then open
      $DEMO_URL/#token=YOUR_TOKEN
 Send a notification:
      $mongo_env node $REPO/client-demo/send.mjs --user USER_ID --title 'Hello'
EOF
fi
echo "=========================================================================================="
echo

start follow - tail -n 0 -F "$STATE_DIR/gateway.log"
# Returns when the gateway exits on its own (or at once on Ctrl-C, through the trap).
status=0
wait "${pid_of[gateway]}" || status=$?
echo "make run: notify-gateway exited (status $status); see $STATE_DIR/gateway.log" >&2
exit "$status"
