// Engine.IO v4 over WebSocket only: the stock engine.io-client with transports
// ["websocket"], and raw frames for framing, fragmentation and bad input.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import { startProtocolFixture } from "./lib/server.mjs";
import { openWs, recordEvents } from "./lib/eio-raw.mjs";

let srv;
before(async () => {
    srv = await startProtocolFixture();
});
afterEach(() => srv?.assertAlive());
after(async () => {
    await srv?.stop();
});

function openClient(t, opts = {}) {
    const socket = new Socket(srv.url, { path: "/engine.io/", transports: ["websocket"], ...opts });
    const events = recordEvents(socket, ["open", "message", "close", "error", "upgrade"]);
    t.after(() => socket.close());
    return { socket, events };
}

/** A raw WebSocket-only session, past its open packet. */
async function openSession(t) {
    const ws = openWs(srv.url);
    t.after(() => ws.close());
    const open = await ws.handshake();
    return { ws, sid: open.sid };
}

/** Next frame that is not a heartbeat ping (pings are answered). */
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

describe("stock engine.io-client, websocket only", () => {
    test("opens directly on websocket and echoes text", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        assert.equal(socket.transport.name, "websocket");
        socket.send("hello");
        assert.deepEqual(await events.next("message"), ["hello"]);
        assert.equal(events.count("upgrade"), 0);
    });

    test("echoes binary both ways as binary", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        const bytes = Buffer.from([1, 2, 3, 4, 0, 0xff]);
        socket.send(bytes);
        socket.send(new Uint8Array([9, 8, 7]));
        const [first] = await events.next("message");
        const [second] = await events.next("message");
        assert.ok(Buffer.isBuffer(first), `expected a Buffer, got ${typeof first}`);
        assert.deepEqual(first, bytes);
        assert.deepEqual(second, Buffer.from([9, 8, 7]));
    });

    test("echoes a burst of mixed messages in order", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        const sent = [];
        for (let i = 0; i < 300; i++) {
            sent.push(i % 3 === 0 ? Buffer.from([i & 0xff, i >> 8]) : `message ${i} ✓`);
        }
        for (const msg of sent) {
            socket.send(msg);
        }
        for (let i = 0; i < sent.length; i++) {
            const [got] = await events.next("message");
            assert.deepEqual(got, sent[i], `message ${i}`);
        }
    });

    test("a client close closes the WebSocket from the server side too", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        const sid = socket.id;
        const ws = socket.transport.ws;
        const wsClosed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
        socket.close();
        assert.deepEqual(await events.next("close"), ["forced close", undefined]);
        const code = await wsClosed;
        assert.ok([1000, 1005].includes(code), `close code ${code}`);
        // The session is gone: the same sid cannot be used for an upgrade any more.
        const again = openWs(srv.url, { sid });
        t.after(() => again.close());
        assert.equal((await again.refused()).status, 400);
    });
});

describe("raw WebSocket frames", () => {
    test("a text message packet is echoed as a text frame", async (t) => {
        const { ws } = await openSession(t);
        ws.send("4hello");
        assert.deepEqual(await nextMessage(ws), { data: "4hello", binary: false });
    });

    test("a binary frame is echoed as the same binary frame", async (t) => {
        const { ws } = await openSession(t);
        ws.send(Buffer.from([1, 2, 3, 4]));
        assert.deepEqual(await nextMessage(ws), { data: Buffer.from([1, 2, 3, 4]), binary: true });
    });

    test("an empty message, a record separator and non-ASCII text survive", async (t) => {
        const { ws } = await openSession(t);
        const texts = ["4", "4a\x1eb", "4é€😀"];
        for (const text of texts) {
            ws.send(text);
        }
        ws.send(Buffer.alloc(0));
        for (const text of texts) {
            assert.deepEqual(await nextMessage(ws), { data: text, binary: false });
        }
        assert.deepEqual(await nextMessage(ws), { data: Buffer.alloc(0), binary: true });
    });

    test("a fragmented text message is reassembled before it is echoed", async (t) => {
        const { ws } = await openSession(t);
        ws.send("4frag", { fin: false });
        ws.send("mented ", { fin: false });
        ws.send("mess€ge", { fin: true });
        assert.deepEqual(await nextMessage(ws), { data: "4fragmented mess€ge", binary: false });
    });

    test("a fragmented binary message is reassembled before it is echoed", async (t) => {
        const { ws } = await openSession(t);
        ws.send(Buffer.from([1, 2]), { binary: true, fin: false });
        ws.send(Buffer.from([3]), { binary: true, fin: false });
        ws.send(Buffer.from([4, 5]), { binary: true, fin: true });
        assert.deepEqual(await nextMessage(ws), {
            data: Buffer.from([1, 2, 3, 4, 5]),
            binary: true,
        });
    });

    test("sessions are independent: each socket gets only its own echoes", async (t) => {
        const a = await openSession(t);
        const b = await openSession(t);
        assert.notEqual(a.sid, b.sid);
        a.ws.send("4from a");
        b.ws.send("4from b");
        assert.equal((await nextMessage(a.ws)).data, "4from a");
        assert.equal((await nextMessage(b.ws)).data, "4from b");
        a.ws.send("4again a");
        assert.equal((await nextMessage(a.ws)).data, "4again a");
    });
});

describe("raw WebSocket bad input and close", () => {
    for (const [name, frame] of [
        ["no packet type", "abc"],
        ["an unknown packet type", "9hello"],
        ["an empty text frame", ""],
    ]) {
        test(`a text frame with ${name} closes the connection`, async (t) => {
            const { ws } = await openSession(t);
            ws.send(frame);
            await ws.closed();
        });
    }

    test("invalid UTF-8 in a text frame closes with 1007", async (t) => {
        const { ws } = await openSession(t);
        ws.send(Buffer.from([0x34, 0xc3, 0x28, 0xff]), { binary: false });
        const { code } = await ws.closed();
        assert.equal(code, 1007);
    });

    // The reference ignores "1" on a WebSocket and only closes at the ping timeout (this test
    // never answers pings), so the bound here is the heartbeat, not an immediate close.
    test("a close packet closes the connection and the session", async (t) => {
        const { ws, sid } = await openSession(t);
        ws.send("1");
        await ws.closed();
        const again = openWs(srv.url, { sid });
        t.after(() => again.close());
        assert.equal((await again.refused()).status, 400);
    });

    test("a client that drops the TCP connection does not disturb others", async (t) => {
        const dropped = await openSession(t);
        const other = await openSession(t);
        dropped.ws.terminate();
        await dropped.ws.closed();
        other.ws.send("4still here");
        assert.equal((await nextMessage(other.ws)).data, "4still here");
    });
});
