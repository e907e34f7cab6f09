// Hostile clients, part 1 (issue 8): malformed and truncated packets on both transports,
// oversized payloads, invalid UTF-8. Every bad input closes the offending session with a clear
// answer (polling: 400 and the sid is gone; WebSocket: the socket is closed), the gateway stays
// up, a bystander connected throughout receives everything, and afterwards a well-behaved
// client connects within 1 s and receives its notifications.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { Stack, pollReq, rawExchange, rawSioPolling, rawSioWs } from "./lib/hostile.mjs";
import { hsToken } from "./lib/tokens.mjs";

const MAX_PAYLOAD = 100000;
const SESSION_UNKNOWN = '{"code":1,"message":"Session ID unknown"}';

// Engine.IO and Socket.IO packets a broken or hostile client may send, each on a session that
// completed its CONNECT. Text only here; binary and UTF-8 cases follow.
const MALFORMED = {
    "empty packet": "",
    "unknown Engine.IO type": "9",
    "client ping (v4: only servers ping)": "2",
    "empty Socket.IO packet": "4",
    "unknown Socket.IO type": "47",
    "truncated EVENT JSON": '42["notification",{"a":',
    "EVENT that is not an array": '42{"a":1}',
    "truncated ack id": "421",
    "JSON nested 5000 deep": `42["x",${"[".repeat(5000)}${"]".repeat(5000)}]`,
    "attachment count that never comes, then text": '451-["x",{"_placeholder":true,"num":0}]\x1e42["y"]',
    "placeholder beyond the attachments": '451-["x",{"_placeholder":true,"num":7}]',
    "namespace without a comma": "42/abc",
    "CONNECT_ERROR from a client": '44{"message":"x"}',
    "binary payload with broken base64": "b!!!!",
};

describe("hostile: malformed, truncated, oversized and invalid UTF-8 packets", () => {
    let st;

    before(async () => {
        st = await Stack.start({
            MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
            PING_INTERVAL_MS: "1000",
            PING_TIMEOUT_MS: "2000",
            HANDSHAKE_RATE_PER_IP: "0", // this file opens ~80 sessions in a few seconds
        });
    });
    afterEach(() => st.gw.assertAlive());
    after(async () => {
        await st?.stop();
    });

    /** POSTs `body` on a fresh authenticated polling session; the session must be gone after. */
    async function postMustKill(body, what) {
        const sid = await rawSioPolling(st.url, hsToken("attacker"));
        const res = await pollReq(st.url, sid, { method: "POST", body });
        assert.equal(res.status, 400, `${what}: POST answered ${res.status} ${res.body}`);
        const next = await pollReq(st.url, sid);
        assert.equal(next.status, 400, `${what}: session still answers ${next.body}`);
        assert.equal(next.body, SESSION_UNKNOWN, what);
    }

    /** Sends `frame` on a fresh authenticated WebSocket session; it must be closed. */
    async function frameMustClose(frame, what, options) {
        const ws = await rawSioWs(st.url, hsToken("attacker"));
        ws.send(frame, options);
        const closed = await ws.closed(3000);
        ws.close();
        assert.ok(closed, `${what}: the WebSocket stayed open`);
        return closed;
    }

    test("malformed and truncated packets over polling: 400, session closed", async () => {
        const feeding = st.feedBystander(10, 30);
        for (const [what, body] of Object.entries(MALFORMED)) {
            await postMustKill(body, what);
        }
        // Engine.IO payload framing: a trailing separator, a lone separator.
        await postMustKill('42["x"]\x1e', "payload with a trailing separator");
        await postMustKill("\x1e", "payload of one separator");
        await feeding;
        await st.assertBystander();
        await st.assertHealthy();
    });

    test("malformed and truncated packets over WebSocket: the socket is closed", async () => {
        const feeding = st.feedBystander(10, 30);
        for (const [what, frame] of Object.entries(MALFORMED)) {
            if (frame.includes("\x1e") || frame.startsWith("b")) continue; // polling framing only
            await frameMustClose(frame, what);
        }
        // A binary frame nobody announced (a stray attachment).
        await frameMustClose(Buffer.from([1, 2, 3]), "stray binary frame", { binary: true });
        await feeding;
        await st.assertBystander();
        await st.assertHealthy();
    });

    test("invalid UTF-8 in polling bodies and in WebSocket text frames", async () => {
        const feeding = st.feedBystander(5, 30);
        const bad = [
            Buffer.concat([Buffer.from('42["x","'), Buffer.from([0xff, 0xfe]), Buffer.from('"]')]),
            Buffer.concat([Buffer.from('42["x","'), Buffer.from([0xc3]), Buffer.from('"]')]), // truncated sequence
            Buffer.concat([Buffer.from('42["x","'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"]')]), // surrogate
            Buffer.concat([Buffer.from('42["x","'), Buffer.from([0xc0, 0xaf]), Buffer.from('"]')]), // overlong
        ];
        for (const [i, body] of bad.entries()) {
            await postMustKill(body, `polling body ${i}`);
            const closed = await frameMustClose(body, `text frame ${i}`, { binary: false });
            // RFC 6455 §8.1: invalid UTF-8 in a text frame fails the connection with 1007.
            assert.equal(closed.code, 1007, `text frame ${i}: close code`);
        }
        await feeding;
        await st.assertBystander();
        await st.assertHealthy();
    });

    test("oversized payloads: polling POST 413, WebSocket message closed with 1009", async () => {
        const feeding = st.feedBystander(5, 30);
        const big = `42["x","${"a".repeat(MAX_PAYLOAD)}"]`;
        const sid = await rawSioPolling(st.url, hsToken("attacker"));
        const res = await pollReq(st.url, sid, { method: "POST", body: big });
        assert.equal(res.status, 413);
        const closed = await frameMustClose(big, "oversized WebSocket message");
        assert.equal(closed.code, 1009);
        // Split into fragments, the message is still one message too many bytes long.
        const ws = await rawSioWs(st.url, hsToken("attacker"));
        const half = Math.ceil(big.length / 2);
        ws.ws.send(big.slice(0, half), { fin: false });
        ws.ws.send(big.slice(half), { fin: true });
        const fragClosed = await ws.closed(3000);
        ws.close();
        assert.equal(fragClosed?.code, 1009, "fragmented oversized message");
        await feeding;
        await st.assertBystander();
        await st.assertHealthy();
    });

    test("truncated HTTP requests and bodies are closed, garbage request lines answered 400", async () => {
        const feeding = st.feedBystander(5, 30);
        // Headers cut off, then the client half-closes: nothing more will come.
        const cut = await rawExchange(st.port, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n", {
            endAfterWrite: true,
        });
        assert.ok(cut.closed, "truncated headers: connection kept");
        // A body shorter than its Content-Length, then FIN.
        const sid = await rawSioPolling(st.url, hsToken("attacker"));
        const short = await rawExchange(
            st.port,
            `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n42["x"`,
            { endAfterWrite: true },
        );
        assert.ok(short.closed, "truncated body: connection kept");
        // Bytes that are not HTTP at all.
        const junk = await rawExchange(st.port, Buffer.from("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", "latin1"));
        assert.ok(junk.closed, "garbage: connection kept");
        assert.ok(junk.data === "" || /^HTTP\/1\.[01] 4\d\d/.test(junk.data), `garbage answered ${JSON.stringify(junk.data.slice(0, 80))}`);
        // A WebSocket handshake with a broken key / version.
        const badWs = await rawExchange(
            st.port,
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\n\r\n",
        );
        assert.ok(!/^HTTP\/1\.1 101/.test(badWs.data), "broken WebSocket handshake was upgraded");
        await feeding;
        await st.assertBystander();
        await st.assertHealthy();
    });
});
