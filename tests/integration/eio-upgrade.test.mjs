// Engine.IO v4 upgrade from polling to WebSocket: the stock client's default path, and the
// probe / noop / upgrade exchange with raw requests.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import { startProtocolFixture } from "./lib/server.mjs";
import {
    PING_INTERVAL,
    handshake,
    openWs,
    pollGet,
    pollPost,
    recordEvents,
    sleep,
    withTimeout,
} from "./lib/eio-raw.mjs";

let srv;
before(async () => {
    srv = await startProtocolFixture();
});
afterEach(() => srv?.assertAlive());
after(async () => {
    await srv?.stop();
});

const SETTLE_MS = Math.floor(PING_INTERVAL / 6);

function openClient(t, opts = {}) {
    const socket = new Socket(srv.url, { path: "/engine.io/", ...opts });
    const events = recordEvents(socket, ["open", "message", "close", "upgrade", "upgradeError"]);
    t.after(() => socket.close());
    return { socket, events };
}

/** Next WebSocket frame that is not a heartbeat ping (pings are answered). */
async function nextMessage(ws) {
    for (;;) {
        const msg = await ws.message();
        if (!msg.binary && msg.data === "2") {
            ws.send("3");
            continue;
        }
        return msg;
    }
}

/** Polling session plus a WebSocket that has completed the probe (3probe received). */
async function probed(t) {
    const { sid } = await handshake(srv.url);
    const ws = openWs(srv.url, { sid });
    t.after(() => ws.close());
    await ws.opened();
    ws.send("2probe");
    assert.equal(await ws.text(), "3probe");
    return { sid, ws };
}

describe("stock engine.io-client, default transports", () => {
    test("starts on polling and upgrades to websocket without stalling", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        assert.equal(socket.transport.name, "polling");
        const opened = Date.now();
        const [transport] = await events.next("upgrade");
        // A server that does not answer the held GET with a noop makes the client wait for
        // the next ping before it can finish the upgrade.
        const took = Date.now() - opened;
        assert.equal(transport.name, "websocket");
        assert.equal(socket.transport.name, "websocket");
        assert.ok(took < PING_INTERVAL, `upgrade took ${took} ms`);
        assert.equal(events.count("upgradeError"), 0);
        socket.send("after upgrade");
        socket.send(Buffer.from([7, 7, 7]));
        assert.deepEqual(await events.next("message"), ["after upgrade"]);
        assert.deepEqual(await events.next("message"), [Buffer.from([7, 7, 7])]);
    });

    test("messages sent before, during and after the upgrade all come back once, in order", async (t) => {
        const { socket, events } = openClient(t);
        const sent = [];
        let n = 0;
        const sendSome = (count) => {
            for (let i = 0; i < count; i++) {
                const msg = n % 4 === 3 ? Buffer.from(`bin ${n}`) : `text ${n}`;
                n++;
                sent.push(msg);
                socket.send(msg);
            }
        };
        sendSome(5); // buffered by the client until open
        await events.next("open");
        sendSome(5);
        socket.once("upgrading", () => sendSome(5));
        await events.next("upgrade");
        sendSome(5);
        for (let i = 0; i < sent.length; i++) {
            const [got] = await events.next("message");
            assert.deepEqual(got, sent[i], `message ${i}`);
        }
        assert.equal(events.count("close"), 0);
    });
});

describe("raw upgrade", () => {
    test("probe, noop to the pending GET, upgrade, then echo on the WebSocket", async (t) => {
        const { sid } = await handshake(srv.url);
        const pending = pollGet(srv.url, sid);
        await sleep(SETTLE_MS);
        const ws = openWs(srv.url, { sid });
        t.after(() => ws.close());
        await ws.opened();
        ws.send("2probe");
        assert.equal(await ws.text(), "3probe");
        const res = await withTimeout(pending, PING_INTERVAL, "pending GET during upgrade");
        assert.equal(res.status, 200);
        assert.equal(res.body, "6");
        ws.send("5");
        ws.send("4hello");
        assert.deepEqual(await nextMessage(ws), { data: "4hello", binary: false });
    });

    test("a GET made after the probe is answered with noop at once", async (t) => {
        const { sid, ws } = await probed(t);
        const started = Date.now();
        const res = await pollGet(srv.url, sid);
        assert.equal(res.status, 200);
        assert.equal(res.body, "6");
        assert.ok(Date.now() - started < PING_INTERVAL, "the GET was held instead of noop'ed");
        ws.send("5");
        ws.send("4done");
        assert.equal((await nextMessage(ws)).data, "4done");
    });

    test("a message queued on polling before the upgrade arrives on the WebSocket", async (t) => {
        const { sid } = await handshake(srv.url);
        assert.equal((await pollPost(srv.url, sid, "4queued")).body, "ok");
        const ws = openWs(srv.url, { sid });
        t.after(() => ws.close());
        await ws.opened();
        ws.send("2probe");
        assert.equal(await ws.text(), "3probe");
        ws.send("5");
        assert.deepEqual(await nextMessage(ws), { data: "4queued", binary: false });
    });

    test("polling requests with the sid are refused after the upgrade", async (t) => {
        const { sid, ws } = await probed(t);
        ws.send("5");
        ws.send("4sync");
        assert.equal((await nextMessage(ws)).data, "4sync"); // the upgrade is done
        const get = await pollGet(srv.url, sid);
        assert.equal(get.status, 400);
        assert.deepEqual(JSON.parse(get.body), { code: 3, message: "Bad request" });
        const post = await pollPost(srv.url, sid, "4sneaky");
        assert.equal(post.status, 400);
        ws.send("4hello");
        assert.equal((await nextMessage(ws)).data, "4hello");
    });

    test("a second WebSocket with the same sid is closed; the first keeps working", async (t) => {
        const { sid, ws } = await probed(t);
        ws.send("5");
        ws.send("4sync");
        assert.equal((await nextMessage(ws)).data, "4sync");
        const second = openWs(srv.url, { sid });
        t.after(() => second.close());
        await second.closed();
        assert.deepEqual(
            second.pending("message").filter((m) => m.data === "4hello"),
            [],
            "the intruder received the session's traffic",
        );
        ws.send("4hello");
        assert.deepEqual(await nextMessage(ws), { data: "4hello", binary: false });
    });

    // The spec says the server MUST close a second WebSocket of a session. The reference
    // accepts it and the first socket stops echoing until the ping timeout kills both.
    test("a second WebSocket for a WebSocket-only session is closed", async (t) => {
        if (srv.reference) {
            t.skip("the reference server stalls the session instead (spec: MUST close)");
            return;
        }
        const first = openWs(srv.url);
        t.after(() => first.close());
        const { sid } = await first.handshake();
        const second = openWs(srv.url, { sid });
        t.after(() => second.close());
        await second.closed();
        first.send("4still mine");
        assert.equal((await nextMessage(first)).data, "4still mine");
    });
});
