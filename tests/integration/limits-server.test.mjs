// The server's limits (issue 8 item 3), each with a small value set through the environment:
// MAX_CONNECTIONS, HANDSHAKE_RATE_PER_IP, HTTP_HEADER_TIMEOUT_MS and HTTP_BODY_TIMEOUT_MS.
// Each case ends like the hostile suite's: the bystander connected throughout got everything,
// and a well-behaved client connects within 1 s and receives its notifications.

import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, afterEach, before, describe, test } from "node:test";
import { io } from "socket.io-client";

import { collect, until } from "./lib/stack.mjs";
import {
    RawWs,
    Stack,
    closesWithin,
    openTcp,
    pollReq,
    pollUrl,
    rawSioPolling,
    sleep,
    trickle,
} from "./lib/hostile.mjs";
import { hsToken } from "./lib/tokens.mjs";

const FULL_BODY = '{"code":3,"message":"Server at its connection limit"}';
const RATE_BODY = '{"code":3,"message":"Too many handshakes from this address"}';

describe("MAX_CONNECTIONS", () => {
    const MAX = 100; // new sessions refused above 90 (a tenth kept for health and existing sessions)
    let st;
    before(async () => {
        st = await Stack.start({ MAX_CONNECTIONS: String(MAX), HTTP_HEADER_TIMEOUT_MS: "30000" });
    });
    afterEach(() => st.gw.assertAlive());
    after(async () => {
        await st?.stop();
    });

    test("at the cap new connections are closed at once; near it health and existing sessions are served, new sessions get 503", async () => {
        const existing = await rawSioPolling(st.url, hsToken("existing"));
        // Fill up with silent connections until the gateway closes them on arrival.
        const all = await Promise.all(Array.from({ length: MAX + 10 }, () => openTcp(st.port)));
        const closed = await Promise.all(all.map((s) => closesWithin(s, 300)));
        const held = all.filter((s, i) => !closed[i]);
        const others = MAX - held.length; // the bystander's, the fetch pool's, the session's
        assert.ok(others >= 1 && others <= 8, `${held.length} held of ${MAX}`);
        // Full: the bystander's WebSocket keeps receiving.
        await st.feedBystander(5, 20);
        await st.assertBystander();

        // Five slots free: within the reserve, above the session limit, with room for the few
        // connections the requests below open.
        for (const s of held.splice(0, 5)) s.destroy();
        await sleep(100);
        const health = await fetch(`${st.url}/api/health`);
        assert.equal(health.status, 200);
        await health.text();
        const hs = await pollReq(st.url);
        assert.equal(hs.status, 503);
        assert.equal(hs.body, FULL_BODY);
        assert.ok(Number(hs.headers.get("retry-after")) >= 1);
        const ws = new RawWs(pollUrl(st.url, undefined, { transport: "websocket" }).replace(/^http/, "ws"));
        const refusal = await ws.refused(2000);
        assert.equal(refusal?.status, 503, "a WebSocket open near the cap was not refused");
        const noop = await pollReq(st.url, existing, { method: "POST", body: "6" });
        assert.equal(noop.status, 200, "an existing polling session was refused near the cap");

        for (const s of held) s.destroy();
        await sleep(200);
        await st.assertHealthy();
    });
});

describe("HANDSHAKE_RATE_PER_IP", () => {
    const RATE = 1; // burst 2; a token a second, so no refill can slip into a step by accident
    let st;
    before(async () => {
        st = await Stack.start({ HANDSHAKE_RATE_PER_IP: String(RATE) });
        await sleep((2 * 1000) / RATE); // the bystander's handshake refilled
    });
    afterEach(() => st.gw.assertAlive());
    after(async () => {
        await st?.stop();
    });

    test("a burst of twice the rate passes, then 429 with Retry-After; existing sessions are not counted", async () => {
        const sids = [];
        for (let i = 0; i < 2 * RATE; i++) {
            const r = await pollReq(st.url);
            assert.equal(r.status, 200, `handshake ${i} of the burst: ${r.status}`);
            sids.push(JSON.parse(r.body.slice(1)).sid);
        }
        const over = await pollReq(st.url);
        assert.equal(over.status, 429);
        assert.equal(over.body, RATE_BODY);
        assert.equal(over.headers.get("content-type"), "application/json");
        const retry = Number(over.headers.get("retry-after"));
        assert.ok(retry >= 1 && retry <= 2, `Retry-After ${retry}`);
        const ws = new RawWs(pollUrl(st.url, undefined, { transport: "websocket" }).replace(/^http/, "ws"));
        assert.equal((await ws.refused(2000))?.status, 429, "a WebSocket open was not limited");
        // Requests of existing sessions, upgrades included, do not take tokens.
        for (let i = 0; i < 30; i++) {
            const r = await pollReq(st.url, sids[i % sids.length], { method: "POST", body: "6" });
            assert.equal(r.status, 200);
        }
        const probe = new RawWs(pollUrl(st.url, sids[0], { transport: "websocket" }).replace(/^http/, "ws"));
        await probe.opened();
        probe.close();
        // The stock client backs off and gets in once a token is back. Empty the bucket first.
        let drained = 0;
        while ((await pollReq(st.url)).status !== 429) {
            assert.ok(++drained <= 2 * RATE, "the bucket never emptied");
        }
        const user = "patient";
        const t0 = performance.now();
        const client = io(st.url, { auth: { token: hsToken(user) }, forceNew: true, reconnectionDelay: 300, reconnectionDelayMax: 600 });
        let errors = 0;
        client.io.on("reconnect_attempt", () => errors++);
        try {
            await until(() => client.connected, 5000, () => "the stock client never got in");
            assert.ok(errors >= 1, "the first attempt should have met the limit");
            assert.ok(performance.now() - t0 < 3000);
            const got = collect(client);
            const id = await st.insertFor(user);
            await until(() => got.length === 1, 3000);
            assert.equal(got[0]._id, id);
        } finally {
            client.close(); // it would otherwise retry forever and keep this process alive
        }
        await sleep(1100 / RATE); // a token again: the well-behaved client's turn
        await st.assertHealthy();
        await st.assertBystander();
    });
});

describe("HTTP_HEADER_TIMEOUT_MS and HTTP_BODY_TIMEOUT_MS", () => {
    let st;
    before(async () => {
        st = await Stack.start({
            HTTP_HEADER_TIMEOUT_MS: "1500", // lws counts seconds: 2 s
            HTTP_BODY_TIMEOUT_MS: "1200", // ours: to the millisecond
            PING_INTERVAL_MS: "3000",
            PING_TIMEOUT_MS: "3000",
        });
    });
    afterEach(() => st.gw.assertAlive());
    after(async () => {
        await st?.stop();
    });

    test("headers: cut 2 s (1500 ms rounded up) after the first byte, idle connections too", async () => {
        const header = `GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ${"a".repeat(100)}\r\n\r\n`;
        const [slow, idle] = await Promise.all([
            trickle(st.port, header, { gapMs: 50 }),
            openTcp(st.port).then(async (s) => {
                const t0 = performance.now();
                await closesWithin(s, 5000);
                return performance.now() - t0;
            }),
        ]);
        assert.ok(slow.ms >= 1900 && slow.ms < 2600, `trickled headers cut after ${slow.ms.toFixed(0)} ms`);
        assert.ok(idle >= 1900 && idle < 2600, `idle connection cut after ${idle.toFixed(0)} ms`);
        await st.assertHealthy();
    });

    test("bodies: cut 1200 ms after the headers; a slow body that makes it is accepted", async () => {
        const sid = await rawSioPolling(st.url, hsToken("poster"));
        const head = (n) => `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Length: ${n}\r\n\r\n`;
        const body = '42["x","' + "a".repeat(200) + '"]';
        const slow = await trickle(st.port, body, { gapMs: 20, prefix: head(body.length) });
        assert.ok(slow.ms >= 1150 && slow.ms < 1700, `trickled body cut after ${slow.ms.toFixed(0)} ms`);
        assert.ok(!slow.data.includes("200 OK"), "an overdue body was accepted");
        const fine = '42["y"]';
        const ok = await trickle(st.port, fine, { gapMs: 100, prefix: head(fine.length) + "" });
        assert.ok(/^HTTP\/1\.1 200/.test(ok.data), `a body done in ~700 ms was refused: ${ok.data.slice(0, 40)}`);
        await st.assertHealthy();
    });

    test("a parked long-poll GET and an idle WebSocket outlive both timeouts", async () => {
        const sid = await rawSioPolling(st.url, hsToken("parked"));
        const t0 = performance.now();
        const parked = await pollReq(st.url, sid, { timeoutMs: 6000 });
        const ms = performance.now() - t0;
        assert.equal(parked.status, 200);
        assert.equal(parked.body, "2", "the parked GET should end with the ping");
        assert.ok(ms > 2500, `the parked GET ended after ${ms.toFixed(0)} ms`);
        // The bystander has been idle for seconds on its WebSocket: still there, still served.
        await st.feedBystander(3, 0);
        await st.assertBystander();
        await st.assertHealthy();
    });
});
