// The userId -> sockets registry seen from outside: health and metrics counts follow every
// connect and every close path, and a user over MAX_SOCKETS_PER_USER loses the oldest
// socket to a Socket.IO DISCONNECT while everybody else is left alone.
//
// Tests here run one after another: they all read the gateway-wide counts.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import util from "node:util";
import { Socket as EngineSocket } from "engine.io-client";
import { io } from "socket.io-client";
import { buildBinary, spawnServer } from "./lib/server.mjs";
import { recordEvents } from "./lib/eio-raw.mjs";
import { TEST_SECRET, hsToken } from "./lib/tokens.mjs";

const CAP = 3;
// Short enough for the silent-client case below to time out quickly, long enough that a
// stall of the machine (CI has seen ones near a second) does not time out live clients.
const PING_INTERVAL = 1500;
const PING_TIMEOUT = 1500;
const EVENT_MS = 5000;

let gw;
before(async () => {
    gw = await spawnServer({
        binary: buildBinary("notify-gateway"),
        env: {
            JWT_SECRET: TEST_SECRET,
            MAX_SOCKETS_PER_USER: String(CAP),
            PING_INTERVAL_MS: String(PING_INTERVAL),
            PING_TIMEOUT_MS: String(PING_TIMEOUT),
        },
    });
});
// Clients of the running test. Closed here rather than in t.after(), which node:test runs
// only after afterEach: the registry must be empty before the next test starts.
const clients = new Set();
afterEach(async () => {
    for (const socket of clients) {
        socket.disconnect();
    }
    clients.clear();
    gw?.assertAlive();
    await waitForCounts(0, 0, "the registry is empty after the test");
});
after(async () => {
    await gw?.stop();
});

/** Metrics as { "name" or "name{labels}": number }. */
async function metrics() {
    const text = await (await fetch(new URL("/metrics", gw.url))).text();
    const out = {};
    for (const line of text.split("\n")) {
        const m = line.match(/^([a-z_]+(?:\{[^}]*\})?) (\S+)$/);
        if (m) {
            out[m[1]] = Number(m[2]);
        }
    }
    return out;
}

/**
 * { sockets, users } from /api/health and, separately, from /metrics. Two requests, so a
 * change in between can make them differ: callers compare both with what they expect.
 */
async function counts() {
    const health = await (await fetch(new URL("/api/health", gw.url))).json();
    const m = await metrics();
    return {
        health: { sockets: health.data.sockets, users: health.data.users },
        metrics: { sockets: m.notify_gateway_sockets, users: m.notify_gateway_users },
    };
}

/** Both health and metrics say { sockets, users } now. */
async function assertCounts(sockets, users, what) {
    const want = { sockets, users };
    assert.deepEqual(await counts(), { health: want, metrics: want }, what);
}

/** Poll the counts (every 25 ms) until both say { sockets, users }; fail after `ms`. */
async function waitForCounts(sockets, users, what, ms = 3000) {
    const want = { sockets, users };
    const deadline = Date.now() + ms;
    for (;;) {
        const last = await counts();
        if (util.isDeepStrictEqual(last, { health: want, metrics: want })) {
            return;
        }
        if (Date.now() > deadline) {
            assert.deepEqual(last, { health: want, metrics: want }, `${what} (after ${ms} ms)`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
    }
}

/** A connected stock client for `user`; closed when the test ends. */
async function connect(user, opts = {}) {
    const socket = io(gw.url, {
        forceNew: true,
        reconnection: false,
        timeout: EVENT_MS,
        auth: { token: hsToken(user) },
        ...opts,
    });
    const events = recordEvents(socket, ["connect", "connect_error", "disconnect"]);
    clients.add(socket);
    const outcome = await Promise.race([
        events.next("connect", EVENT_MS).then(() => null),
        events.next("connect_error", EVENT_MS).then(([err]) => err),
    ]).catch((err) => err);
    if (outcome) {
        throw new Error(`${user} did not connect: ${outcome.message} ${JSON.stringify(outcome.data)}`);
    }
    return { socket, events, user };
}

describe("counts", () => {
    test("health and metrics follow connects and client disconnects", async (t) => {
        await waitForCounts(0, 0, "nobody connected yet");
        const a1 = await connect("alice", { transports: ["websocket"] });
        await assertCounts(1, 1);
        const a2 = await connect("alice", { transports: ["polling"] });
        await assertCounts(2, 1);
        const b1 = await connect("bob");
        await assertCounts(3, 2);

        a1.socket.disconnect();
        await waitForCounts(2, 2, "alice's websocket tab closed");
        b1.socket.disconnect();
        await waitForCounts(1, 1, "bob's only tab closed");
        a2.socket.disconnect();
        await waitForCounts(0, 0, "alice's polling tab closed");
    });

    test("a rejected handshake and an unauthenticated engine are not counted", async (t) => {
        const bad = io(gw.url, {
            forceNew: true,
            reconnection: false,
            auth: { token: hsToken("mallory", { expIn: -60 }) },
        });
        clients.add(bad);
        const [err] = await recordEvents(bad, ["connect_error"]).next("connect_error", EVENT_MS);
        assert.equal(err.data?.code, "TOKEN_EXPIRED");
        await assertCounts(0, 0);

        // An Engine.IO session that never sends a Socket.IO CONNECT.
        const engine = new EngineSocket(gw.url, { path: "/socket.io/", transports: ["websocket"] });
        t.after(() => engine.close());
        await recordEvents(engine, ["open"]).next("open", EVENT_MS);
        assert.ok((await metrics()).notify_gateway_engine_sessions >= 1);
        await assertCounts(0, 0);
        engine.close();
    });

    test("a numeric sub and its string form are one user", async (t) => {
        await connect(42, { transports: ["websocket"] });
        await connect("42", { transports: ["websocket"] });
        await assertCounts(2, 1);
    });

    test("a websocket dropped without a close frame leaves the registry", async (t) => {
        const c = await connect("carol", { transports: ["websocket"] });
        await connect("dave", { transports: ["websocket"] });
        await assertCounts(2, 2);
        // The raw `ws` socket under engine.io-client: cut the TCP connection.
        c.socket.io.engine.transport.ws.terminate();
        await waitForCounts(1, 1, "carol's dropped connection is gone");
    });

    test("a client that stops answering pings leaves the registry", async (t) => {
        const c = await connect("erin", { transports: ["polling"] });
        await assertCounts(1, 1);
        // Like a frozen tab: the engine keeps polling but never sends a pong.
        const engine = c.socket.io.engine;
        const sendPacket = engine._sendPacket.bind(engine);
        engine._sendPacket = (type, ...rest) => (type === "pong" ? undefined : sendPacket(type, ...rest));
        await waitForCounts(0, 0, "erin's silent session timed out", PING_INTERVAL + PING_TIMEOUT + 2000);
    });
});

describe(`per-user cap (MAX_SOCKETS_PER_USER=${CAP})`, () => {
    /**
     * `user` opens CAP tabs with `transports` (oldest first), another user opens two; then
     * `user` opens two more, one at a time. Each time exactly the user's oldest tab must get
     * a Socket.IO DISCONNECT, and nobody else anything.
     */
    async function evictionRound(user, transports) {
        const before = (await metrics()).notify_gateway_sockets_evicted_total;
        const tabs = [];
        for (let i = 0; i < CAP; i++) {
            tabs.push(await connect(user, { transports }));
        }
        const others = [await connect(`${user}-neighbour`), await connect(`${user}-neighbour`)];
        await assertCounts(CAP + 2, 2);

        for (let round = 0; round < 2; round++) {
            tabs.push(await connect(user, { transports: ["websocket"] }));
            const [reason] = await tabs[round].events.next("disconnect", EVENT_MS);
            assert.equal(reason, "io server disconnect", `${user}'s tab ${round}: disconnect reason`);
            assert.equal(tabs[round].socket.active, false, "an evicted tab must not reconnect");
            await waitForCounts(CAP + 2, 2, `${user} is back at the cap`);
            assert.equal((await metrics()).notify_gateway_sockets_evicted_total, before + round + 1);
        }

        for (const [i, tab] of tabs.entries()) {
            const evicted = i < 2;
            assert.equal(tab.socket.connected, !evicted, `${user}'s tab ${i}`);
            assert.equal(tab.events.count("disconnect"), evicted ? 1 : 0, `${user}'s tab ${i}`);
            assert.equal(tab.events.count("connect"), 1, `${user}'s tab ${i} connected once`);
        }
        for (const [i, other] of others.entries()) {
            assert.equal(other.socket.connected, true, `neighbour's tab ${i}`);
            assert.equal(other.events.count("disconnect"), 0, `neighbour's tab ${i}`);
        }
    }

    test("websocket tabs: one over the cap disconnects the oldest, and only that one", () =>
        evictionRound("frank", ["websocket"]));

    test("polling tabs: one over the cap disconnects the oldest, and only that one", () =>
        evictionRound("grace", ["polling"]));

    for (const transports of [["websocket"], ["polling"]]) {
        test(`an evicted ${transports[0]} tab stays down even with reconnection on`, async () => {
            const user = `heidi-${transports[0]}`;
            const first = await connect(user, {
                transports,
                reconnection: true,
                reconnectionDelay: 50,
                reconnectionDelayMax: 100,
            });
            const manager = recordEvents(first.socket.io, ["close", "reconnect_attempt", "open"]);
            for (let i = 0; i < CAP; i++) {
                await connect(user, { transports: ["websocket"] });
            }
            // The reason itself is checked above; here only that the DISCONNECT arrives, even
            // if after another disconnect event, and that it keeps the tab down.
            const reasons = [];
            while (!reasons.includes("io server disconnect")) {
                reasons.push((await first.events.next("disconnect", EVENT_MS))[0]);
                assert.ok(reasons.length <= 2, `disconnect reasons: ${reasons.join(", ")}`);
            }
            // The Manager of the evicted socket closes its connection ...
            await manager.next("close", EVENT_MS);
            // ... and does not try again: waiting several reconnection delays for an attempt
            // that must not come is the only way to see an absence.
            await assert.rejects(manager.next("reconnect_attempt", 10 * 100), /timed out/);
            assert.equal(manager.count("open"), 0);
            assert.equal(first.events.count("connect"), 1);
            assert.equal(first.socket.active, false);
            await assertCounts(CAP, 1);
        });
    }
});
