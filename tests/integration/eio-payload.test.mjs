// maxPayload: advertised in the handshake, enforced on polling POST bodies (413, the
// session survives) and on WebSocket messages (close 1009), including bodies without a
// Content-Length and messages split into fragments.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import { startProtocolFixture } from "./lib/server.mjs";
import {
    MAX_PAYLOAD,
    handshake,
    openWs,
    pollGet,
    pollPost,
    recordEvents,
} from "./lib/eio-raw.mjs";

let srv;
before(async () => {
    srv = await startProtocolFixture();
});
afterEach(() => srv?.assertAlive());
after(async () => {
    await srv?.stop();
});

/** A message packet whose encoded size is exactly `bytes`. */
function textPacket(bytes, fill = "x") {
    return "4" + fill.repeat(bytes - 1);
}

/** A request body streamed in chunks, so it goes out without a Content-Length. */
function chunkedBody(text, chunkSize = 64 * 1024) {
    const bytes = Buffer.from(text);
    let offset = 0;
    return new ReadableStream({
        pull(controller) {
            if (offset >= bytes.length) {
                controller.close();
                return;
            }
            controller.enqueue(bytes.subarray(offset, offset + chunkSize));
            offset += chunkSize;
        },
    });
}

async function getNonPing(base, sid) {
    for (;;) {
        const res = await pollGet(base, sid);
        assert.equal(res.status, 200, `GET: ${res.status} ${res.body.slice(0, 200)}`);
        if (res.body !== "2") {
            return res;
        }
        assert.equal((await pollPost(base, sid, "3")).status, 200);
    }
}

async function assertSessionUsable(base, sid) {
    const res = await pollPost(base, sid, "4still usable");
    assert.equal(res.status, 200, `POST after the refused body: ${res.status} ${res.body}`);
    assert.equal((await getNonPing(base, sid)).body, "4still usable");
}

async function nextNonPing(ws) {
    for (;;) {
        const msg = await ws.message();
        if (!msg.binary && msg.data === "2") {
            ws.send("3");
            continue;
        }
        return msg;
    }
}

describe("polling POST bodies", () => {
    test("the handshake advertises maxPayload", async () => {
        assert.equal((await handshake(srv.url)).maxPayload, MAX_PAYLOAD);
    });

    test("a body of exactly maxPayload bytes is accepted and echoed", async () => {
        const { sid } = await handshake(srv.url);
        const body = textPacket(MAX_PAYLOAD);
        const res = await pollPost(srv.url, sid, body);
        assert.equal(res.status, 200);
        assert.equal(res.body, "ok");
        const echoed = await getNonPing(srv.url, sid);
        assert.equal(echoed.body.length, body.length);
        assert.equal(echoed.body, body);
    });

    test("a body one byte over maxPayload gets 413 and the session stays usable", async () => {
        const { sid } = await handshake(srv.url);
        const res = await pollPost(srv.url, sid, textPacket(MAX_PAYLOAD + 1));
        assert.equal(res.status, 413);
        await assertSessionUsable(srv.url, sid);
    });

    test("the limit counts bytes, not characters", async () => {
        const { sid } = await handshake(srv.url);
        // 1 + 2 * 500000 bytes of "é": over the limit in bytes, under it in characters.
        const res = await pollPost(srv.url, sid, "4" + "é".repeat(MAX_PAYLOAD / 2));
        assert.equal(res.status, 413);
        await assertSessionUsable(srv.url, sid);
    });

    test("an oversized body without Content-Length (chunked) gets 413", async () => {
        const { sid } = await handshake(srv.url);
        const res = await pollPost(srv.url, sid, chunkedBody(textPacket(2 * MAX_PAYLOAD)), {
            duplex: "half",
        });
        assert.equal(res.status, 413);
        await assertSessionUsable(srv.url, sid);
    });
});

describe("WebSocket messages", () => {
    test("a text message of exactly maxPayload bytes is echoed", async (t) => {
        const ws = openWs(srv.url);
        t.after(() => ws.close());
        await ws.handshake();
        const packet = textPacket(MAX_PAYLOAD);
        ws.send(packet);
        const echoed = await nextNonPing(ws);
        assert.equal(echoed.binary, false);
        assert.equal(echoed.data.length, packet.length);
        assert.equal(echoed.data, packet);
    });

    test("a text message over maxPayload closes with 1009", async (t) => {
        const ws = openWs(srv.url);
        t.after(() => ws.close());
        await ws.handshake();
        ws.send(textPacket(MAX_PAYLOAD + 1));
        assert.equal((await ws.closed()).code, 1009);
    });

    test("a binary message over maxPayload closes with 1009", async (t) => {
        const ws = openWs(srv.url);
        t.after(() => ws.close());
        await ws.handshake();
        ws.send(Buffer.alloc(MAX_PAYLOAD + 1, 7));
        assert.equal((await ws.closed()).code, 1009);
    });

    test("fragments adding up to more than maxPayload close with 1009", async (t) => {
        const ws = openWs(srv.url);
        t.after(() => ws.close());
        await ws.handshake();
        const piece = "y".repeat(MAX_PAYLOAD / 4);
        ws.send("4" + piece, { fin: false });
        for (let i = 0; i < 4; i++) {
            ws.send(piece, { fin: false });
        }
        ws.send("end", { fin: true });
        assert.equal((await ws.closed()).code, 1009);
    });
});

describe("stock engine.io-client", () => {
    test("a polling client splits large batches under maxPayload and gets everything back", async (t) => {
        const socket = new Socket(srv.url, { path: "/engine.io/", transports: ["polling"] });
        const events = recordEvents(socket, ["open", "message", "close", "drain"]);
        t.after(() => socket.close());
        await events.next("open");
        const sent = Array.from({ length: 5 }, (_, i) => String(i).repeat(300000));
        for (const msg of sent) {
            socket.send(msg);
        }
        for (let i = 0; i < sent.length; i++) {
            const [got] = await events.next("message", 5000);
            assert.equal(got.length, sent[i].length, `message ${i}`);
            assert.equal(got, sent[i], `message ${i}`);
        }
        assert.equal(events.count("close"), 0);
    });
});

describe("configured limit", () => {
    test("MAX_PAYLOAD_BYTES sets the advertised and enforced limit", async (t) => {
        if (srv.reference) {
            t.skip("the reference server has its limit built in");
            return;
        }
        const small = await startProtocolFixture({ env: { MAX_PAYLOAD_BYTES: "2048" } });
        t.after(() => small.stop());
        const { sid, maxPayload } = await handshake(small.url);
        assert.equal(maxPayload, 2048);
        assert.equal((await pollPost(small.url, sid, textPacket(2048))).status, 200);
        assert.equal((await pollPost(small.url, sid, textPacket(2049))).status, 413);
        assert.equal((await getNonPing(small.url, sid)).body, textPacket(2048));

        const ws = openWs(small.url);
        t.after(() => ws.close());
        await ws.handshake();
        ws.send(textPacket(2048));
        assert.equal((await nextNonPing(ws)).data, textPacket(2048));
        ws.send(textPacket(2049));
        assert.equal((await ws.closed()).code, 1009);
    });
});
