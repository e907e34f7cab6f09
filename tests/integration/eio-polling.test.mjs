// Engine.IO v4 HTTP long-polling: what the stock engine.io-client does over polling only,
// and the exact payload framing and session rules with raw requests.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Socket } from "engine.io-client";
import { startProtocolFixture } from "./lib/server.mjs";
import {
    EIO_PATH,
    PING_INTERVAL,
    decodePayload,
    encodePayload,
    handshake,
    poll,
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

// Long enough for a request to reach the server, far shorter than a ping interval.
const SETTLE_MS = Math.floor(PING_INTERVAL / 6);

async function postOk(sid, body) {
    const res = await pollPost(srv.url, sid, body);
    assert.equal(res.status, 200, `POST ${JSON.stringify(body)}: ${res.status} ${res.body}`);
    assert.equal(res.body, "ok");
}

/** GET the next payload, skipping heartbeat pings (answered) so timing cannot break a test. */
async function getPayload(sid) {
    for (;;) {
        const res = await pollGet(srv.url, sid);
        assert.equal(res.status, 200, `GET: ${res.status} ${res.body}`);
        if (res.body === "2") {
            await postOk(sid, "3");
            continue;
        }
        return res;
    }
}

function openClient(t, opts = {}) {
    const socket = new Socket(srv.url, { path: "/engine.io/", transports: ["polling"], ...opts });
    const events = recordEvents(socket, ["open", "message", "close", "error", "upgrade"]);
    t.after(() => socket.close());
    return { socket, events };
}

describe("stock engine.io-client, polling only", () => {
    test("opens a polling session and echoes text", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        assert.equal(socket.transport.name, "polling");
        socket.send("hello");
        assert.deepEqual(await events.next("message"), ["hello"]);
        assert.equal(events.count("close"), 0);
        assert.equal(events.count("upgrade"), 0);
    });

    test("echoes many messages in order", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        const sent = Array.from({ length: 50 }, (_, i) => `m${i}-${"x".repeat(i * 10)}`);
        for (const msg of sent) {
            socket.send(msg);
        }
        const got = [];
        for (let i = 0; i < sent.length; i++) {
            got.push((await events.next("message"))[0]);
        }
        assert.deepEqual(got, sent);
    });

    test("echoes binary both ways as binary", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        const bytes = Buffer.from([0, 1, 2, 3, 0xfe, 0xff, 0x1e, 0x34]);
        socket.send(bytes);
        socket.send("after binary");
        const [data] = await events.next("message");
        assert.ok(Buffer.isBuffer(data), `expected a Buffer, got ${typeof data}`);
        assert.deepEqual(data, bytes);
        assert.deepEqual(await events.next("message"), ["after binary"]);
    });

    test("echoes non-ASCII text unchanged", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        const text = "héllo wörld € 你好 😀";
        socket.send(text);
        assert.deepEqual(await events.next("message"), [text]);
    });

    test("a client close ends the session on the server", async (t) => {
        const { socket, events } = openClient(t);
        await events.next("open");
        const sid = socket.id;
        socket.close();
        const [reason] = await events.next("close");
        assert.equal(reason, "forced close");
        // The client's close packet travels in a POST we cannot await. Retry well inside one
        // ping interval after the open, so a ping timeout cannot be what closed it.
        const deadline = Date.now() + PING_INTERVAL / 2;
        let res;
        do {
            res = await pollPost(srv.url, sid, "4still there?");
            if (res.status === 400) {
                break;
            }
            await sleep(10);
        } while (Date.now() < deadline);
        assert.equal(res.status, 400, "session still accepts messages after the client closed");
    });
});

describe("raw polling payloads", () => {
    test("POST answers ok and the next GET returns one echoed packet", async () => {
        const { sid } = await handshake(srv.url);
        await postOk(sid, "4hello");
        const res = await getPayload(sid);
        assert.equal(res.body, "4hello");
        assert.match(res.headers.get("content-type"), /^text\/plain; ?charset=utf-8$/i);
        assert.match(res.headers.get("cache-control") || "", /no-store/);
    });

    test("several packets come back joined by the record separator", async () => {
        const { sid } = await handshake(srv.url);
        await postOk(sid, "4test1\x1e4test2\x1e4test3");
        assert.equal((await getPayload(sid)).body, "4test1\x1e4test2\x1e4test3");
    });

    test("text and base64 binary packets are echoed as sent", async () => {
        const { sid } = await handshake(srv.url);
        await postOk(sid, "4hello\x1ebAQIDBA==");
        const res = await getPayload(sid);
        assert.equal(res.body, "4hello\x1ebAQIDBA==");
        assert.deepEqual(decodePayload(res.body), [
            { type: 4, data: "hello" },
            { type: 4, data: Buffer.from([1, 2, 3, 4]) },
        ]);
    });

    test("binary with every byte value survives base64 both ways", async () => {
        const { sid } = await handshake(srv.url);
        const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        await postOk(sid, encodePayload([{ data: bytes }, { data: Buffer.alloc(0) }]));
        const packets = decodePayload((await getPayload(sid)).body);
        assert.deepEqual(packets, [
            { type: 4, data: bytes },
            { type: 4, data: Buffer.alloc(0) },
        ]);
    });

    test("empty and multi-byte messages keep their content, Content-Length counts bytes", async () => {
        const { sid } = await handshake(srv.url);
        const body = "4\x1e4é€😀\x1e4end";
        await postOk(sid, body);
        const res = await getPayload(sid);
        assert.equal(res.body, body);
        const length = res.headers.get("content-length");
        if (length !== null) {
            assert.equal(Number(length), Buffer.byteLength(body));
        }
    });

    test("a large text message is echoed whole", async () => {
        const { sid } = await handshake(srv.url);
        const big = "4" + "abcdefghij".repeat(20000);
        await postOk(sid, big);
        assert.equal((await getPayload(sid)).body, big);
    });

    test("a pending GET is answered as soon as a message is echoed", async () => {
        const { sid } = await handshake(srv.url);
        const started = Date.now();
        const pending = pollGet(srv.url, sid);
        await sleep(SETTLE_MS);
        await postOk(sid, "4wake up");
        const res = await pending;
        assert.equal(res.status, 200);
        assert.equal(res.body, "4wake up");
        assert.ok(Date.now() - started < PING_INTERVAL, "the GET waited for the ping instead");
    });

    test("POST to an unknown sid is refused without touching other sessions", async () => {
        const { sid } = await handshake(srv.url);
        const res = await pollPost(srv.url, sid + "x", "4hello");
        assert.equal(res.status, 400);
        assert.deepEqual(JSON.parse(res.body), { code: 1, message: "Session ID unknown" });
        await postOk(sid, "4mine");
        assert.equal((await getPayload(sid)).body, "4mine");
    });
});

describe("raw polling session rules", () => {
    for (const [name, body] of [
        ["no packet type", "abc"],
        ["an unknown packet type", "9hello"],
        ["garbage after a good packet", "4ok\x1exyz"],
        ["an empty packet after a separator", "4ok\x1e"],
    ]) {
        test(`a POST with ${name} closes the session`, async () => {
            const { sid } = await handshake(srv.url);
            // The POST status is not part of the contract (the reference says 200 ok).
            await pollPost(srv.url, sid, body);
            const res = await pollGet(srv.url, sid);
            assert.equal(res.status, 400, `GET after ${JSON.stringify(body)}: ${res.status} ${res.body}`);
        });
    }

    test("a second concurrent GET is refused and closes the session", async () => {
        const { sid } = await handshake(srv.url);
        const first = pollGet(srv.url, sid);
        await sleep(SETTLE_MS);
        const second = await pollGet(srv.url, sid, { params: { t: "burst" } });
        assert.equal(second.status, 400);
        const res = await first;
        assert.equal(res.status, 200);
        assert.equal(res.body, "1");
        assert.equal((await pollGet(srv.url, sid)).status, 400);
    });

    test("a GET cancelled by the client closes the session", async () => {
        const { sid } = await handshake(srv.url);
        const controller = new AbortController();
        const pending = pollGet(srv.url, sid, { signal: controller.signal }).catch((err) => err);
        await sleep(SETTLE_MS);
        controller.abort();
        assert.equal((await pending).name, "AbortError");
        // The abort reaches the server as a closed socket; give it the same settle time.
        await sleep(SETTLE_MS);
        const res = await pollGet(srv.url, sid);
        assert.equal(res.status, 400);
    });

    test("a close packet answers the pending GET with noop and ends the session", async () => {
        const { sid } = await handshake(srv.url);
        const pending = pollGet(srv.url, sid);
        await sleep(SETTLE_MS);
        await pollPost(srv.url, sid, "1");
        const res = await withTimeout(pending, PING_INTERVAL, "pending GET after close");
        assert.equal(res.status, 200);
        assert.equal(res.body, "6");
        assert.equal((await pollGet(srv.url, sid)).status, 400);
    });

    test("a close packet with no GET pending ends the session", async () => {
        const { sid } = await handshake(srv.url);
        await postOk(sid, "1");
        assert.equal((await pollGet(srv.url, sid)).status, 400);
        assert.equal((await pollPost(srv.url, sid, "4late")).status, 400);
    });
});

describe("malformed polling requests", () => {
    // Whatever the answer (an error status or a closed session), the server must answer
    // and keep serving everybody else; afterEach also checks that it did not die.
    async function answersAndSurvives(send) {
        const res = await send().catch((err) => err);
        if (res instanceof Error) {
            assert.ok(!/timed out/.test(res.message), res.message);
        }
        const { sid } = await handshake(srv.url);
        await postOk(sid, "4still serving");
        assert.equal((await getPayload(sid)).body, "4still serving");
        return res;
    }

    test("bodies that are not valid packets or valid UTF-8", async () => {
        for (const body of [
            "b!!!not base64!!!",
            "b",
            "4\x00\x01\x02",
            "\x1e\x1e\x1e",
            Buffer.from([0x34, 0xff, 0xfe, 0xc3, 0x28]),
            Buffer.from([0x34, 0xed, 0xa0, 0x80]), // an encoded lone surrogate
        ]) {
            const { sid } = await handshake(srv.url);
            await answersAndSurvives(() => pollPost(srv.url, sid, body));
        }
    });

    test("odd query strings", async () => {
        for (const params of [
            { sid: "x".repeat(4000) },
            { sid: "%00%ff" },
            { sid: "../../etc/passwd" },
            { EIO: "4".repeat(100) },
            { transport: "polling\u0000" },
        ]) {
            const res = await answersAndSurvives(() => poll(srv.url, undefined, { params }));
            if (!(res instanceof Error)) {
                assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(params)}: ${res.status}`);
            }
        }
    });

    test("a POST cut off in the middle of its body", async () => {
        const { sid } = await handshake(srv.url);
        const url = new URL(srv.url);
        await answersAndSurvives(
            () =>
                new Promise((resolve) => {
                    const sock = net.connect(Number(url.port), url.hostname, () => {
                        sock.end(
                            `POST ${EIO_PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\n` +
                                `Host: ${url.host}\r\nContent-Type: text/plain\r\n` +
                                `Content-Length: 1000\r\n\r\n4only part of it`,
                        );
                    });
                    sock.on("error", () => {});
                    sock.on("close", resolve);
                    sock.resume();
                }),
        );
    });
});
