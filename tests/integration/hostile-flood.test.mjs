// Hostile clients, part 4 (issue 8): event floods and clients that never read. Notifications
// flow one way: a client flooding events must not delay anybody's deliveries (its events over
// CLIENT_EVENTS_PER_SECOND are dropped, acks answered RATE_LIMITED, and a client that keeps
// flooding is disconnected), and a client that stops reading is closed as a slow consumer once
// OUTBOX_MAX_BYTES is queued for it, so the gateway's memory stays bounded.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";

import { until } from "./lib/stack.mjs";
import {
    RSS_SCALE,
    Stack,
    percentile,
    pollReq,
    rawSioPolling,
    rawSioWs,
    rssKb,
    sleep,
} from "./lib/hostile.mjs";
import { hsToken } from "./lib/tokens.mjs";

const EVENTS_PER_S = 50;
const OUTBOX = 1048576;
// The bystander's p99 with nobody flooding is ~10-30 ms here; a flood that took the loop from
// the deliveries would push it to seconds.
const P99_BOUND_MS = 250;

describe("hostile: event floods and clients that never read", () => {
    let st;

    before(async () => {
        st = await Stack.start({
            CLIENT_EVENTS_PER_SECOND: String(EVENTS_PER_S),
            OUTBOX_MAX_BYTES: String(OUTBOX),
        });
    });
    afterEach(() => st.gw.assertAlive());
    after(async () => {
        await st?.stop();
    });

    test("events over the rate are dropped and their acks say RATE_LIMITED", async () => {
        const ws = await rawSioWs(st.url, hsToken("chatty"));
        const n = EVENTS_PER_S + 20;
        for (let id = 0; id < n; id++) {
            ws.send(`42${id}["hello",${id}]`);
        }
        await sleep(300);
        const limited = ws.frames.filter((f) => /^43\d+\[\{"error":"RATE_LIMITED"\}\]$/.test(f));
        assert.ok(limited.length >= 1 && limited.length <= n - EVENTS_PER_S, `${limited.length} RATE_LIMITED acks`);
        // Only the events past the bucket are refused.
        const ids = limited.map((f) => Number(f.match(/^43(\d+)/)[1]));
        assert.ok(Math.min(...ids) >= EVENTS_PER_S - 5, `event ${Math.min(...ids)} refused too early`);
        assert.equal(ws.closeInfo, null, "a short burst must not disconnect");
        ws.close();
        await st.assertHealthy();
    });

    test("a flood of events does not delay deliveries; the flooders are disconnected", async (t) => {
        const flooders = await Promise.all([1, 2, 3].map((i) => rawSioWs(st.url, hsToken(`flooder-${i}`))));
        let sent = 0;
        let flooding = true;
        const pump = async () => {
            while (flooding) {
                for (const f of flooders) {
                    for (let i = 0; i < 50; i++) f.send(`42["spam",${sent++},"${"x".repeat(100)}"]`);
                }
                await sleep(5);
            }
        };
        // A polling flooder too: 2000 events in one POST.
        const pollSid = await rawSioPolling(st.url, hsToken("flooder-poll"));
        const body = Array.from({ length: 2000 }, (_, i) => `42["spam",${i}]`).join("\x1e");
        const pumping = pump();
        const feeding = st.feedBystander(100, 20);
        const post = await pollReq(st.url, pollSid, { method: "POST", body });
        const afterPost = await pollReq(st.url, pollSid);
        await feeding;
        const closed = await Promise.all(flooders.map((f) => f.closed(3000)));
        flooding = false;
        await pumping;
        for (const f of flooders) f.close();

        assert.ok(closed.every(Boolean), "a flooding WebSocket was never disconnected");
        assert.ok(post.status === 200 || post.status === 400, `flood POST answered ${post.status}`);
        assert.ok(
            afterPost.status === 400 || /(^|\x1e)1$/.test(afterPost.body) || afterPost.body.includes("41"),
            `the polling flooder is still served: ${afterPost.status} ${afterPost.body.slice(0, 80)}`,
        );
        await st.assertBystander();
        const lat = st.bystanderLatencies();
        const p99 = percentile(lat, 99);
        t.diagnostic(`flood: ${sent} events sent, bystander p50 ${percentile(lat, 50).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`);
        assert.ok(p99 < P99_BOUND_MS, `bystander p99 ${p99.toFixed(0)} ms during the flood (${sent} events sent)`);
        await st.assertHealthy();
    });

    test("a WebSocket client that never reads is closed as a slow consumer; RSS stays bounded", async (t) => {
        const rssBefore = rssKb(st.gw.proc.pid);
        const sloth = await rawSioWs(st.url, hsToken("sloth-ws"));
        sloth.ws._socket.pause(); // stops reading: the kernel buffers fill, then the outbox
        const big = "n".repeat(40000);
        const feeding = st.feedBystander(20, 50);
        // 12 MB for the sloth: more than the socket buffers and the outbox together.
        for (let i = 0; i < 6; i++) {
            await st.admin.notifications.insertMany(
                Array.from({ length: 50 }, (_, j) => ({ userId: "sloth-ws", type: "bulk", seq: i * 50 + j, big })),
            );
        }
        await until(() => /closing a slow consumer/.test(st.gw.output()), 10000, () => "no slow consumer was closed");
        const rssPeak = rssKb(st.gw.proc.pid);
        await feeding;
        sloth.ws._socket.resume();
        const closed = await sloth.closed(5000);
        assert.ok(closed, "the slow consumer's socket was not closed");
        const got = sloth.frames.filter((f) => f.startsWith('42["notification"')).length;
        assert.ok(got < 300, `the sloth got all ${got} notifications: nothing was ever capped`);
        t.diagnostic(`slow consumer: RSS ${rssBefore} -> ${rssPeak} KiB, it got ${got} of 300`);
        // Outbox (1 MiB) plus what lws and the watcher hold; far from the 12 MB pushed at it.
        assert.ok(rssPeak - rssBefore < 24 * 1024 * RSS_SCALE, `RSS ${rssBefore} -> ${rssPeak} KiB`);
        sloth.close();
        await st.assertBystander();
        await st.assertHealthy();
    });

    test("a polling client that never polls is closed as a slow consumer", async () => {
        const sid = await rawSioPolling(st.url, hsToken("sloth-poll"));
        const big = "p".repeat(40000);
        const before = (st.gw.output().match(/closing a slow consumer/g) || []).length;
        const feeding = st.feedBystander(10, 30);
        await st.admin.notifications.insertMany(
            Array.from({ length: 40 }, (_, j) => ({ userId: "sloth-poll", type: "bulk", seq: j, big })),
        );
        await until(
            () => (st.gw.output().match(/closing a slow consumer/g) || []).length > before,
            10000,
            () => "no slow consumer was closed",
        );
        const res = await pollReq(st.url, sid);
        assert.equal(res.status, 400, `the capped session still answers: ${res.body.slice(0, 80)}`);
        await feeding;
        await st.assertBystander();
        await st.assertHealthy();
    });
});
