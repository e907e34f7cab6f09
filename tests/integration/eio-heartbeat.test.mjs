// Engine.IO v4 heartbeat: the server pings every pingInterval, the client answers; a
// client that stops answering is dropped after pingTimeout. Timing bounds derive from
// the fixture's ping settings (300 ms / 200 ms) plus a slack for a periodic tick.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import { startProtocolFixture } from "./lib/server.mjs";
import {
    PING_INTERVAL,
    PING_TIMEOUT,
    handshake,
    openWs,
    pollGet,
    pollPost,
    recordEvents,
    sleep,
} from "./lib/eio-raw.mjs";

let srv;
before(async () => {
    srv = await startProtocolFixture();
});
afterEach(() => srv?.assertAlive());
after(async () => {
    await srv?.stop();
});

// A ping may come a little late (one heartbeat tick, scheduling) but never early. Lower
// bounds are cumulative from before the session existed: ping n cannot arrive before
// n intervals have passed, however late the test process noticed the earlier ones.
const EARLY_MS = 30;
const LATE_MS = 150;
// The stock client gives up when no ping arrives within this long after the previous one.
const CLIENT_DEADLINE = PING_INTERVAL + PING_TIMEOUT;

function openClient(t, opts = {}) {
    const socket = new Socket(srv.url, { path: "/engine.io/", ...opts });
    const events = recordEvents(socket, ["open", "ping", "message", "close", "upgrade"]);
    t.after(() => socket.close());
    return { socket, events };
}

/** Make a stock client stop answering pings, like a frozen tab or a dead network. */
function suppressPongs(socket) {
    const sendPacket = socket._sendPacket.bind(socket);
    socket._sendPacket = (type, ...rest) => (type === "pong" ? undefined : sendPacket(type, ...rest));
}

async function staysAlive(t, opts, pings) {
    const start = Date.now();
    let last = start;
    const { socket, events } = openClient(t, opts);
    // Fail on a close at once, with its reason, rather than on the next timeout.
    const closed = events.next("close", 60000).then(
        ([reason, detail]) => {
            throw new Error(`client closed: ${reason} ${detail?.message ?? detail ?? ""}`);
        },
        () => {},
    );
    const next = (name, ms) => Promise.race([events.next(name, ms), closed]);
    await next("open");
    last = Date.now(); // the client's own deadline runs from here
    for (let i = 0; i < pings; i++) {
        await next("ping", CLIENT_DEADLINE + LATE_MS);
        const now = Date.now();
        const due = (i + 1) * PING_INTERVAL - EARLY_MS;
        assert.ok(now - start >= due, `ping ${i} at ${now - start} ms, due at ${due}`);
        assert.ok(now - last <= CLIENT_DEADLINE + LATE_MS, `ping ${i} ${now - last} ms late`);
        last = now;
        socket.send(`after ping ${i}`);
        assert.deepEqual(await next("message"), [`after ping ${i}`]);
    }
    assert.equal(events.count("close"), 0, `closed: ${JSON.stringify(events.all("close"))}`);
    assert.equal(socket.readyState, "open");
    return socket;
}

// Side by side, so several sessions share the server's heartbeat tick at once.
describe("stock engine.io-client heartbeats", { concurrency: true }, () => {
    const INTERVALS = 5;

    test(`a polling client stays connected over ${INTERVALS} ping intervals`, async (t) => {
        const socket = await staysAlive(t, { transports: ["polling"] }, INTERVALS);
        assert.equal(socket.transport.name, "polling");
    });

    test(`a websocket client stays connected over ${INTERVALS} ping intervals`, async (t) => {
        const socket = await staysAlive(t, { transports: ["websocket"] }, INTERVALS);
        assert.equal(socket.transport.name, "websocket");
    });

    test(`an upgraded client stays connected over ${INTERVALS} ping intervals`, async (t) => {
        const socket = await staysAlive(t, {}, INTERVALS);
        assert.equal(socket.transport.name, "websocket");
    });

    test(`four more polling clients stay connected over ${INTERVALS} ping intervals`, async (t) => {
        await Promise.all(
            Array.from({ length: 4 }, () => staysAlive(t, { transports: ["polling"] }, INTERVALS)),
        );
    });

    test("a websocket client that stops answering pings is disconnected by the server", async (t) => {
        const { socket, events } = openClient(t, { transports: ["websocket"] });
        await events.next("open");
        suppressPongs(socket);
        const sid = socket.id;
        // The server closes at pingInterval + pingTimeout; left alone, the client would give up
        // by itself only at 2 x pingInterval + pingTimeout (its timer restarts at each ping), with
        // the reason "ping timeout". So the reason, not the clock, tells who closed, and the
        // wait may run up to just before the client's own deadline: scheduling on a loaded
        // 2-core machine has delayed the close past a tighter bound (CI, 2026-11-23).
        const [reason] = await events.next("close", CLIENT_DEADLINE + PING_INTERVAL - 20);
        assert.equal(reason, "transport close");
        const again = openWs(srv.url, { sid });
        t.after(() => again.close());
        assert.equal((await again.refused()).status, 400, "session still known after the timeout");
    });

    test("a polling client that stops answering pings loses its session", async (t) => {
        const { socket, events } = openClient(t, { transports: ["polling"] });
        await events.next("open");
        suppressPongs(socket);
        const sid = socket.id;
        const [reason] = await events.next("close", CLIENT_DEADLINE + LATE_MS);
        assert.ok(
            ["transport close", "transport error"].includes(reason),
            `closed by the client itself (${reason}), not by the server`,
        );
        assert.equal((await pollPost(srv.url, sid, "4anyone?")).status, 400);
    });
});

describe("raw WebSocket heartbeats", () => {
    test("pings arrive every pingInterval while the client answers", async (t) => {
        const start = Date.now();
        let last = start;
        const ws = openWs(srv.url);
        t.after(() => ws.close());
        await ws.handshake();
        for (let i = 0; i < 4; i++) {
            assert.equal(await ws.text(CLIENT_DEADLINE + LATE_MS), "2");
            const now = Date.now();
            const due = (i + 1) * PING_INTERVAL - EARLY_MS;
            assert.ok(now - start >= due, `ping ${i} at ${now - start} ms, due at ${due}`);
            assert.ok(now - last <= PING_INTERVAL + LATE_MS, `ping ${i} ${now - last} ms after the last`);
            last = now;
            ws.send("3");
        }
    });

    test("no pong within pingTimeout closes the connection", async (t) => {
        const ws = openWs(srv.url);
        t.after(() => ws.close());
        await ws.handshake();
        assert.equal(await ws.text(CLIENT_DEADLINE + LATE_MS), "2");
        const pinged = Date.now();
        await ws.closed(PING_TIMEOUT + LATE_MS + 100);
        const waited = Date.now() - pinged;
        assert.ok(waited >= PING_TIMEOUT - EARLY_MS, `closed ${waited} ms after the ping`);
    });

    test("messages do not count as pongs", async (t) => {
        const ws = openWs(srv.url);
        t.after(() => ws.close());
        await ws.handshake();
        const timer = setInterval(() => ws.send("4busy"), PING_TIMEOUT / 5);
        t.after(() => clearInterval(timer));
        // engine.io refreshes the pong timer once for traffic; allow one extra timeout.
        await ws.closed(PING_INTERVAL + 2 * PING_TIMEOUT + LATE_MS + 100);
        const echoes = ws.pending("message").filter((m) => m.data === "4busy");
        assert.ok(echoes.length > 0, "the session never echoed anything");
    });
});

describe("raw polling heartbeats", () => {
    test("a held GET returns a ping after pingInterval; pongs keep the session", async () => {
        const start = Date.now();
        const { sid } = await handshake(srv.url);
        for (let i = 0; i < 3; i++) {
            const res = await pollGet(srv.url, sid, { timeoutMs: CLIENT_DEADLINE + LATE_MS });
            const at = Date.now() - start;
            assert.equal(res.status, 200);
            assert.equal(res.body, "2");
            const due = (i + 1) * PING_INTERVAL - EARLY_MS;
            assert.ok(at >= due, `ping ${i} at ${at} ms, due at ${due}`);
            const pong = await pollPost(srv.url, sid, "3");
            assert.equal(pong.status, 200);
            assert.equal(pong.body, "ok");
        }
    });

    test("a ping goes ahead of a backlog, so a client behind on reading can still answer it", async () => {
        const { sid } = await handshake(srv.url);
        // 200 echoes wait in the outbox (no GET yet) when the ping falls due
        const backlog = Array.from({ length: 200 }, (_, i) => `4m${i}`);
        const posted = await pollPost(srv.url, sid, backlog.join("\x1e"));
        assert.equal(posted.status, 200);
        await sleep(PING_INTERVAL + 20);
        const res = await pollGet(srv.url, sid);
        assert.equal(res.status, 200);
        const packets = res.body.split("\x1e");
        assert.equal(packets[0], "2", "the ping first");
        assert.deepEqual(packets.slice(1), backlog, "then the backlog, in order");
        const pong = await pollPost(srv.url, sid, "3");
        assert.equal(pong.status, 200);
    });

    test("a session that never answers is gone after pingInterval + pingTimeout", async () => {
        const { sid } = await handshake(srv.url);
        const alive = await pollPost(srv.url, sid, "4still alive");
        assert.equal(alive.status, 200);
        // No GET is pending, so the ping cannot even be delivered: the timeout still runs.
        await sleep(PING_INTERVAL + PING_TIMEOUT + LATE_MS);
        const res = await pollGet(srv.url, sid);
        assert.equal(res.status, 400, `GET after the timeout: ${res.status} ${res.body}`);
    });
});
