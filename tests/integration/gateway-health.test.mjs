// Health and metrics endpoints of design §4.3, with change streams off (healthy) and on
// without a watcher able to watch (503).

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { io } from "socket.io-client";
import { buildBinary, pickFreePort, spawnServer } from "./lib/server.mjs";
import { recordEvents } from "./lib/eio-raw.mjs";
import { TEST_SECRET, hsToken, unsignedToken, claims } from "./lib/tokens.mjs";

const EVENT_MS = 5000;
const CODES = [
    "TOKEN_MISSING",
    "TOKEN_INVALID",
    "TOKEN_EXPIRED",
    "TOKEN_NOT_YET_VALID",
    "ISSUER_MISMATCH",
    "AUDIENCE_MISMATCH",
    "ALGORITHM_NOT_ALLOWED",
    "USER_CLAIM_MISSING",
];
const ISSUER = "https://auth.example.test/";
const AUDIENCE = "notify-gateway";

let off; // ENABLE_CHANGE_STREAMS unset
let on; // ENABLE_CHANGE_STREAMS=true, MongoDB unreachable
before(async () => {
    const binary = buildBinary("notify-gateway");
    // Nothing here waits for a heartbeat; a tight one would end sessions on a machine stall.
    const heartbeat = { PING_INTERVAL_MS: "5000", PING_TIMEOUT_MS: "5000" };
    // A port nothing listens on: the watcher, once there is one, can never be watching.
    const deadPort = await pickFreePort();
    [off, on] = await Promise.all([
        spawnServer({
            binary,
            env: { JWT_SECRET: TEST_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, ...heartbeat },
        }),
        spawnServer({
            binary,
            env: {
                JWT_SECRET: TEST_SECRET,
                ENABLE_CHANGE_STREAMS: "true",
                MONGODB_URI: `mongodb://127.0.0.1:${deadPort}/?replicaSet=rs0&serverSelectionTimeoutMS=200`,
                ...heartbeat,
            },
        }),
    ]);
});
afterEach(() => {
    off?.assertAlive();
    on?.assertAlive();
});
after(async () => {
    await Promise.all([off?.stop(), on?.stop()]);
});

async function get(gw, path) {
    const res = await fetch(new URL(path, gw.url));
    const text = await res.text();
    return { status: res.status, type: res.headers.get("content-type") || "", text };
}

async function getJson(gw, path) {
    const r = await get(gw, path);
    assert.match(r.type, /^application\/json/);
    return { ...r, body: JSON.parse(r.text) };
}

/** Prometheus text as { "name" or "name{labels}": number }, checking every line's syntax. */
function parseMetrics(text) {
    const out = {};
    assert.ok(text.endsWith("\n"), "exposition ends with a newline");
    for (const line of text.slice(0, -1).split("\n")) {
        if (line.startsWith("#")) {
            assert.match(line, /^# (HELP|TYPE) [a-z_]+ .+$/, `comment line ${JSON.stringify(line)}`);
            continue;
        }
        const m = line.match(/^([a-z_]+(?:\{[a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*\})?) (-?[0-9.e+]+|NaN|\+Inf)$/);
        assert.ok(m, `sample line ${JSON.stringify(line)}`);
        assert.ok(!(m[1] in out), `duplicate sample ${m[1]}`);
        out[m[1]] = Number(m[2]);
    }
    return out;
}

async function metrics(gw) {
    const r = await get(gw, "/metrics");
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain/);
    return parseMetrics(r.text);
}

/** One stock-client handshake with `token`: resolves to "ok" or the connect_error code. */
async function handshake(t, gw, token) {
    const socket = io(gw.url, {
        forceNew: true,
        reconnection: false,
        transports: ["websocket"],
        auth: token === undefined ? {} : { token },
    });
    t.after(() => socket.disconnect());
    const events = recordEvents(socket, ["connect", "connect_error"]);
    const result = await Promise.race([
        events.next("connect", EVENT_MS).then(() => "ok"),
        events.next("connect_error", EVENT_MS).then(([err]) => err.data?.code),
    ]);
    return { socket, result };
}

// /api/health's data once pred holds for it, or as it is after ms: the server learns of a
// client's close asynchronously, so its counts trail the client's disconnect() a little.
async function healthWhen(gw, pred, ms = 3000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const data = (await getJson(gw, "/api/health")).body.data;
        if (pred(data) || Date.now() > deadline) {
            return data;
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
    }
}

describe("ENABLE_CHANGE_STREAMS off", () => {
    test("GET /api/health is 200 with the documented body", async () => {
        const { status, body } = await getJson(off, "/api/health");
        assert.equal(status, 200);
        assert.equal(body.status, "success");
        assert.equal(typeof body.message, "string");
        const { data } = body;
        assert.deepEqual(Object.keys(data).sort(), [
            "changeStreams",
            "sockets",
            "uptimeSeconds",
            "users",
            "version",
        ]);
        assert.ok(Number.isInteger(data.uptimeSeconds) && data.uptimeSeconds >= 0);
        assert.ok(Number.isInteger(data.sockets) && data.sockets >= 0);
        assert.ok(Number.isInteger(data.users) && data.users >= 0);
        assert.deepEqual(data.changeStreams, { enabled: false, isWatching: false });

        const { stdout } = await promisify(execFile)(buildBinary("notify-gateway"), ["--version"], {
            timeout: 5000,
        });
        assert.equal(stdout.trim(), `notify-gateway ${data.version}`);
    });

    test("GET /api/health/change-streams reports the watcher off", async () => {
        const { status, body } = await getJson(off, "/api/health/change-streams");
        assert.equal(status, 200);
        assert.equal(body.status, "success");
        assert.equal(body.message, "Change Streams status retrieved");
        assert.equal(body.data.enabled, false);
        assert.equal(body.data.isWatching, false);
        for (const key of [
            "lastEventAt",
            "lastTokenSavedAt",
            "eventsReceived",
            "eventsDelivered",
            "eventsSkippedOffline",
            "eventsFailed",
            "restarts",
            "lastError",
        ]) {
            assert.ok(key in body.data, `data.${key} missing`);
        }
    });

    test("GET /metrics lists sockets, users and handshakes by result", async () => {
        const m = await metrics(off);
        for (const name of ["notify_gateway_sockets", "notify_gateway_users"]) {
            assert.ok(Number.isInteger(m[name]), `${name} missing`);
        }
        for (const result of ["ok", ...CODES]) {
            const key = `notify_gateway_handshakes_total{result="${result}"}`;
            assert.ok(Number.isInteger(m[key]), `${key} missing`);
        }
    });

    test("handshake counters count each result once", async (t) => {
        const now = Math.floor(Date.now() / 1000);
        const good = (extra) => claims("hc-user", { iss: ISSUER, aud: AUDIENCE, ...extra });
        const attempts = [
            ["ok", hsToken("hc-user", { iss: ISSUER, aud: AUDIENCE })],
            ["ok", hsToken("hc-user2", { iss: ISSUER, aud: AUDIENCE })],
            ["TOKEN_MISSING", undefined],
            ["TOKEN_INVALID", "garbage"],
            ["TOKEN_INVALID", hsToken("hc-user", { iss: ISSUER, aud: AUDIENCE, key: "k".repeat(40) })],
            ["TOKEN_EXPIRED", hsToken("hc-user", { iss: ISSUER, aud: AUDIENCE, exp: now - 60 })],
            ["TOKEN_NOT_YET_VALID", hsToken("hc-user", { iss: ISSUER, aud: AUDIENCE, nbf: now + 600 })],
            ["ISSUER_MISMATCH", hsToken("hc-user", { iss: "x", aud: AUDIENCE })],
            ["AUDIENCE_MISMATCH", hsToken("hc-user", { iss: ISSUER, aud: "x" })],
            ["ALGORITHM_NOT_ALLOWED", unsignedToken(good())],
            ["USER_CLAIM_MISSING", hsToken("", { iss: ISSUER, aud: AUDIENCE })],
        ];
        const key = (r) => `notify_gateway_handshakes_total{result="${r}"}`;
        const before = await metrics(off);
        for (const [expected, token] of attempts) {
            const { result } = await handshake(t, off, token);
            assert.equal(result, expected);
        }
        const afterwards = await metrics(off);
        for (const result of ["ok", ...CODES]) {
            const n = attempts.filter(([r]) => r === result).length;
            assert.equal(afterwards[key(result)] - before[key(result)], n, `${result} counted ${n} times`);
        }
    });

    test("sockets and users in health and metrics follow a connect and a disconnect", async (t) => {
        // The earlier tests' sockets were disconnected as each test ended; the count may still
        // hold them for a moment.
        const start = await healthWhen(off, (d) => d.sockets === 0);
        const { socket } = await handshake(t, off, hsToken("hc-count", { iss: ISSUER, aud: AUDIENCE }));
        const during = (await getJson(off, "/api/health")).body.data;
        assert.equal(during.sockets, start.sockets + 1);
        assert.equal(during.users, start.users + 1);
        const m = await metrics(off);
        assert.equal(m.notify_gateway_sockets, during.sockets);
        assert.equal(m.notify_gateway_users, during.users);

        const closed = recordEvents(socket, ["disconnect"]);
        socket.disconnect();
        await closed.next("disconnect", EVENT_MS);
        const now = await healthWhen(off, (d) => d.sockets === start.sockets);
        assert.equal(now.sockets, start.sockets);
        assert.equal(now.users, start.users);
    });

    test("unknown paths are 404 and the health routes refuse POST", async () => {
        assert.equal((await get(off, "/api/nothing")).status, 404);
        const res = await fetch(new URL("/api/health", off.url), { method: "POST", body: "x" });
        await res.text();
        assert.equal(res.status, 405);
    });
});

describe("ENABLE_CHANGE_STREAMS=true without a watching stream", () => {
    test("GET /api/health is 503 with status error", async () => {
        const { status, body } = await getJson(on, "/api/health");
        assert.equal(status, 503);
        assert.equal(body.status, "error");
        assert.equal(typeof body.message, "string");
        assert.deepEqual(body.data.changeStreams, { enabled: true, isWatching: false });
    });

    test("GET /api/health/change-streams says enabled and not watching", async () => {
        const { status, body } = await getJson(on, "/api/health/change-streams");
        assert.equal(status, 200);
        assert.equal(body.status, "success");
        assert.equal(body.message, "Change Streams status retrieved");
        assert.equal(body.data.enabled, true);
        assert.equal(body.data.isWatching, false);
    });

    test("clients still connect while the stream is down", async (t) => {
        const { result } = await handshake(t, on, hsToken("cs-user"));
        assert.equal(result, "ok");
        assert.equal((await metrics(on)).notify_gateway_change_stream_watching, 0);
    });
});
