// Engine.IO v4 handshake and the protocol's error responses, on the raw /engine.io/ echo
// of protocol-fixture. Wire-level checks, so raw fetch and ws only.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startProtocolFixture } from "./lib/server.mjs";
import {
    MAX_PAYLOAD,
    PING_INTERVAL,
    PING_TIMEOUT,
    handshake,
    openWs,
    poll,
    pollGet,
    pollPost,
    sleep,
} from "./lib/eio-raw.mjs";

const HANDSHAKE_KEYS = ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"];

let srv;
before(async () => {
    srv = await startProtocolFixture();
});
afterEach(() => srv?.assertAlive());
after(async () => {
    await srv?.stop();
});

function assertOpenPacket(value, upgrades, settings = {}) {
    assert.deepEqual(Object.keys(value).sort(), HANDSHAKE_KEYS);
    assert.equal(typeof value.sid, "string");
    assert.deepEqual(value.upgrades, upgrades);
    assert.equal(value.pingInterval, settings.pingInterval ?? PING_INTERVAL);
    assert.equal(value.pingTimeout, settings.pingTimeout ?? PING_TIMEOUT);
    assert.equal(value.maxPayload, settings.maxPayload ?? MAX_PAYLOAD);
}

async function assertEioError(res, code, message) {
    assert.equal(res.status, 400, `expected HTTP 400, got ${res.status} ${res.body}`);
    assert.match(res.headers.get("content-type") || "", /^application\/json/);
    assert.deepEqual(JSON.parse(res.body), { code, message });
}

async function get(params) {
    const { status, headers, body } = await poll(srv.url, undefined, { params });
    return { status, headers, body };
}

describe("polling handshake", () => {
    test("opens a session with exactly the five handshake keys", async () => {
        const res = await pollGet(srv.url);
        assert.equal(res.status, 200);
        assert.ok(res.body.startsWith("0"), `body ${JSON.stringify(res.body)}`);
        assertOpenPacket(JSON.parse(res.body.slice(1)), ["websocket"]);
    });

    test("answers with text/plain UTF-8 and Cache-Control: no-store", async () => {
        const { response } = await handshake(srv.url);
        assert.match(response.headers.get("content-type"), /^text\/plain; ?charset=utf-8$/i);
        assert.match(response.headers.get("cache-control") || "", /no-store/);
    });

    test("gives every session a distinct sid that is long and URL-safe", async () => {
        const sids = await Promise.all(Array.from({ length: 20 }, () => handshake(srv.url)));
        const unique = new Set(sids.map((h) => h.sid));
        assert.equal(unique.size, 20);
        for (const sid of unique) {
            assert.ok(sid.length >= 16, `sid ${sid} is too short to be unguessable`);
            assert.equal(encodeURIComponent(sid), sid, `sid ${sid} needs URL escaping`);
        }
    });

    test("ignores unknown query parameters (cache buster, b64, user query)", async () => {
        const res = await get({ t: "PzLx3a1", b64: "1", token: "x y" });
        assert.equal(res.status, 200);
        assertOpenPacket(JSON.parse(res.body.slice(1)), ["websocket"]);
    });
});

describe("error responses", () => {
    test("a missing or unsupported EIO version is code 5", async () => {
        for (const EIO of [undefined, "abc", "3", "5", ""]) {
            const res = await get({ EIO });
            await assertEioError(res, 5, "Unsupported protocol version");
        }
    });

    test("a missing or unknown transport is code 0", async () => {
        for (const transport of [undefined, "abc", "webtransport", ""]) {
            const res = await get({ transport });
            await assertEioError(res, 0, "Transport unknown");
        }
    });

    test("a handshake with another method than GET is code 2", async () => {
        for (const method of ["POST", "PUT"]) {
            const res = await poll(srv.url, undefined, { method, body: "4hello" });
            await assertEioError(res, 2, "Bad handshake method");
        }
    });

    test("an unknown sid is code 1, for GET and POST", async () => {
        await assertEioError(await pollGet(srv.url, "no-such-session"), 1, "Session ID unknown");
        await assertEioError(
            await pollPost(srv.url, "no-such-session", "4hello"),
            1,
            "Session ID unknown",
        );
    });

    test("a sid that belonged to a closed session is code 1", async () => {
        const { sid } = await handshake(srv.url);
        assert.equal((await pollPost(srv.url, sid, "1")).status, 200);
        await assertEioError(await pollGet(srv.url, sid), 1, "Session ID unknown");
    });

    test("error responses carry the CORS header too", async () => {
        const res = await poll(srv.url, undefined, {
            params: { transport: "abc" },
            headers: { Origin: "http://app.example" },
        });
        assert.equal(res.status, 400);
        assert.equal(res.headers.get("access-control-allow-origin"), "*");
    });
});

describe("WebSocket handshake", () => {
    test("opens a session whose first frame is the open packet without upgrades", async (t) => {
        const ws = openWs(srv.url);
        t.after(() => ws.close());
        assertOpenPacket(await ws.handshake(), []);
    });

    // The reference server accepts the upgrade and then breaks the stream (engine.io
    // checks EIO after the 101), so either outcome counts as long as no session opens
    // and the server was reachable.
    test("refuses the upgrade or closes the socket on a missing or bad EIO", async (t) => {
        for (const EIO of [undefined, "abc", "3"]) {
            const ws = openWs(srv.url, { EIO });
            t.after(() => ws.close());
            await ws.closed();
            const refused = ws.pending("refused");
            const upgraded = ws.pending("open").length > 0;
            assert.ok(refused.length > 0 || upgraded, `EIO=${EIO}: server unreachable`);
            if (refused.length > 0) {
                assert.equal(refused[0].status, 400, `EIO=${EIO}`);
            }
            const packets = ws.pending("message").filter((m) => !m.binary && m.data.startsWith("0"));
            assert.deepEqual(packets, [], `EIO=${EIO}: a session was opened`);
        }
    });

    test("refuses the upgrade with HTTP 400 on a missing or unknown transport", async (t) => {
        for (const transport of [undefined, "abc"]) {
            const ws = openWs(srv.url, { transport });
            t.after(() => ws.close());
            const refused = await ws.refused();
            assert.equal(refused.status, 400, ws.url);
        }
    });

    test("refuses the upgrade with HTTP 400 for an unknown sid", async (t) => {
        const ws = openWs(srv.url, { sid: "no-such-session" });
        t.after(() => ws.close());
        assert.equal((await ws.refused()).status, 400);
    });
});

describe("settings from the environment", () => {
    test("the handshake reports PING_INTERVAL_MS, PING_TIMEOUT_MS and MAX_PAYLOAD_BYTES", async (t) => {
        if (srv.reference) {
            t.skip("the reference server has its settings built in");
            return;
        }
        const custom = await startProtocolFixture({
            env: { PING_INTERVAL_MS: "1234", PING_TIMEOUT_MS: "567", MAX_PAYLOAD_BYTES: "4321" },
        });
        t.after(() => custom.stop());
        const settings = { pingInterval: 1234, pingTimeout: 567, maxPayload: 4321 };
        const { response, ...polling } = await handshake(custom.url);
        assert.equal(response.status, 200);
        assertOpenPacket(polling, ["websocket"], settings);
        const ws = openWs(custom.url);
        t.after(() => ws.close());
        assertOpenPacket(await ws.handshake(), [], settings);
    });
});

describe("process", () => {
    test("exits 0 on SIGTERM", async () => {
        const other = await startProtocolFixture();
        const { sid } = await handshake(other.url);
        assert.equal(typeof sid, "string");
        const { code, signal } = await other.stop(3000);
        assert.equal(signal, null, "killed instead of exiting on its own");
        assert.equal(code, 0);
    });

    // Graceful shutdown (issue 2): sessions are closed with the protocol's own close, so a
    // deploy looks like "transport close" to clients, never like a dropped connection.
    test("SIGTERM closes sessions cleanly: close packet to a held GET, close frame on WebSocket", async (t) => {
        const other = await startProtocolFixture();
        const { sid } = await handshake(other.url);
        const held = pollGet(other.url, sid);
        const ws = openWs(other.url);
        t.after(() => ws.close());
        await ws.handshake();
        await sleep(PING_INTERVAL / 6); // let the GET reach the server
        const stopped = other.stop(3000);
        const res = await held;
        assert.equal(res.status, 200);
        assert.equal(res.body, "1");
        const { code } = await ws.closed();
        assert.notEqual(code, 1006, "the WebSocket was dropped without a close frame");
        assert.deepEqual(await stopped, { code: 0, signal: null });
    });
});

describe("HTTP/1.1 only", () => {
    // fetch() refuses to send Upgrade headers itself, hence node:http.
    test("an h2c upgrade is refused with a 400 that says what is supported", async (t) => {
        const srv = await startProtocolFixture();
        t.after(() => srv.stop());
        const { status, body } = await new Promise((resolve, reject) => {
            const req = http.get(`${srv.url}/engine.io/?EIO=4&transport=polling`, {
                headers: {
                    Connection: "Upgrade, HTTP2-Settings",
                    Upgrade: "h2c",
                    "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA",
                },
            });
            req.on("response", (res) => {
                let data = "";
                res.on("data", (d) => (data += d));
                res.on("end", () => resolve({ status: res.statusCode, body: data }));
            });
            req.on("upgrade", () => reject(new Error("the server switched protocols")));
            req.on("error", reject);
        });
        assert.equal(status, 400);
        assert.match(body, /Only HTTP\/1\.1 and WebSocket/);
    });
});
