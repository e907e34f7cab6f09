// Engine.IO v4 over WebSocket only: the stock engine.io-client with transports
// ["websocket"], and raw frames for framing, fragmentation and bad input.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { Socket } from "engine.io-client";
import { startProtocolFixture } from "./lib/server.mjs";
import { openWs, recordEvents, withTimeout } from "./lib/eio-raw.mjs";

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

describe("raw WebSocket frame headers", () => {
    /**
     * A bare TCP WebSocket client: upgrade by hand, then write arbitrary bytes. Resolves to
     * { socket, frames(), closing() }: frames() parses what the server sent so far
     * (unmasked server frames: { opcode, payload }); closing() resolves once the server
     * sent a close frame or dropped the connection.
     */
    async function rawUpgrade() {
        const url = new URL(srv.url);
        const socket = net.connect(Number(url.port), url.hostname);
        socket.on("error", () => {});
        let buf = Buffer.alloc(0);
        let waiting = null;
        socket.on("data", (chunk) => {
            buf = Buffer.concat([buf, chunk]);
            waiting?.();
        });
        const ended = new Promise((resolve) => socket.on("close", resolve));
        await new Promise((resolve) => socket.on("connect", resolve));
        socket.write(
            `GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${url.host}\r\n` +
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
                `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\n\r\n`,
        );
        const until = async (check, what) => {
            for (;;) {
                const result = check();
                if (result) {
                    return result;
                }
                await withTimeout(
                    Promise.race([new Promise((resolve) => (waiting = resolve)), ended]),
                    3000,
                    what,
                );
                if (socket.destroyed && !check()) {
                    throw new Error(`connection closed while waiting for ${what}`);
                }
            }
        };
        await until(() => buf.indexOf("\r\n\r\n") !== -1, "101 response");
        const head = buf.subarray(0, buf.indexOf("\r\n\r\n") + 4).toString();
        assert.match(head, /^HTTP\/1\.1 101/);
        buf = buf.subarray(head.length);
        const frames = () => {
            const out = [];
            let off = 0;
            while (off + 2 <= buf.length) {
                let len = buf[off + 1] & 0x7f;
                let hdr = 2;
                if (len === 126) {
                    len = buf.readUInt16BE(off + 2);
                    hdr = 4;
                } else if (len === 127) {
                    len = Number(buf.readBigUInt64BE(off + 2));
                    hdr = 10;
                }
                if (off + hdr + len > buf.length) {
                    break;
                }
                out.push({
                    opcode: buf[off] & 0x0f,
                    payload: buf.subarray(off + hdr, off + hdr + len),
                    head: buf.subarray(off, off + hdr),
                });
                off += hdr + len;
            }
            return out;
        };
        await until(() => frames().length > 0, "open packet");
        assert.match(frames()[0].payload.toString(), /^0\{/);
        // The server is closing once it sent a close frame or dropped the connection.
        const closing = () =>
            until(() => socket.destroyed || frames().some((f) => f.opcode === 0x8), "a close");
        return { socket, frames, closing };
    }

    /** A masked client frame header (+ masked payload), text unless opcode says otherwise. */
    function maskedFrame(payload, announcedLength = BigInt(payload.length), opcode = 0x1) {
        const header = Buffer.alloc(14);
        header[0] = 0x80 | opcode; // FIN
        header[1] = 0x80 | 127; // masked, 64-bit length
        header.writeBigUInt64BE(announcedLength, 2);
        const mask = randomBytes(4);
        mask.copy(header, 10);
        const body = Buffer.from(payload).map((b, i) => b ^ mask[i % 4]);
        return Buffer.concat([header, body]);
    }

    // Both cases must be answered by the server itself, not by the heartbeat: this client
    // never pongs, so a close that comes after a ping may just be the ping timeout.
    function assertNotByHeartbeat(frames) {
        const ping = frames().some((f) => f.opcode === 0x1 && f.payload.toString() === "2");
        assert.ok(!ping, "the connection was only closed by the ping timeout");
    }

    test("a frame announcing an enormous length closes with 1009 without waiting for it", async (t) => {
        const { socket, frames, closing } = await rawUpgrade();
        t.after(() => socket.destroy());
        socket.write(maskedFrame("4abc", 1n << 62n));
        await closing();
        assertNotByHeartbeat(frames);
        const close = frames().find((f) => f.opcode === 0x8);
        if (close) {
            assert.equal(close.payload.readUInt16BE(0), 1009);
        }
    });

    // Messages that arrive in one TCP write are echoed while the first echoes are still
    // queued, so the server joins them into one write: each must still come back as its own
    // frame, with the right opcode and the shortest length form, in order. Sizes straddle the
    // 7-bit/16-bit boundary (125/126) and the join's 16 KB budget; 70000 needs 64 bits.
    test("echoes written back-to-back are separate, well-formed frames, in order", async (t) => {
        const { socket, frames } = await rawUpgrade();
        t.after(() => socket.destroy());
        const sent = [];
        for (const n of [0, 1, 124, 125, 126, 200, 5000, 16000, 17000, 65534, 70000, 3, 2]) {
            sent.push({ opcode: 0x1, payload: Buffer.from("4" + "x".repeat(n)) });
            if (n === 125 || n === 17000) {
                sent.push({ opcode: 0x2, payload: randomBytes(n) });
            }
        }
        for (let i = 0; i < 40; i++) {
            sent.push({ opcode: 0x1, payload: Buffer.from(`4seq ${i} ${"é".repeat(i)}`) });
        }
        socket.write(Buffer.concat(sent.map((f) => maskedFrame(f.payload, undefined, f.opcode))));
        const echoes = () =>
            frames()
                .slice(1)
                .filter((f) => !(f.opcode === 0x1 && f.payload.toString() === "2"));
        await withTimeout(
            (async () => {
                while (echoes().length < sent.length && !socket.destroyed) {
                    await new Promise((resolve) => setTimeout(resolve, 5));
                }
            })(),
            3000,
            "all echoes",
        );
        const got = echoes();
        assert.equal(got.length, sent.length);
        for (const [i, f] of got.entries()) {
            assert.equal(f.opcode, sent[i].opcode, `frame ${i}: opcode`);
            assert.ok(f.payload.equals(sent[i].payload), `frame ${i}: payload`);
            const len = f.payload.length;
            assert.equal(f.head.length, len < 126 ? 2 : len < 65536 ? 4 : 10, `frame ${i}: length form`);
            assert.equal(f.head[0] & 0xf0, 0x80, `frame ${i}: FIN set, RSV clear`);
            assert.equal(f.head[1] & 0x80, 0, `frame ${i}: a server frame is unmasked`);
        }
    });

    // RFC 6455 §5.1: a server MUST close on an unmasked client frame. libwebsockets 4.1.6 (the
    // Debian 12 package we are fixed to) reads the mask bit but never enforces it, and offers
    // no way to see frame headers. Kept as a visible TODO rather than removed: it passes once
    // the libwebsockets underneath enforces masking.
    test("an unmasked client frame closes the connection", {
        todo: "libwebsockets 4.1.6 accepts unmasked client frames",
    }, async (t) => {
        const { socket, frames, closing } = await rawUpgrade();
        t.after(() => socket.destroy());
        socket.write(Buffer.concat([Buffer.from([0x81, 6]), Buffer.from("4hello")]));
        await closing();
        const echoed = frames().filter((f) => f.opcode === 0x1 && f.payload.toString() === "4hello");
        assert.deepEqual(echoed, [], "the unmasked frame was accepted and echoed");
        assertNotByHeartbeat(frames);
    });
});
