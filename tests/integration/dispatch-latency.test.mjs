// The gateway's own share of a notification's latency (issue 7): every write of a change event
// to a socket, whatever the transport (WebSocket, long-polling, SSE), is one observation of
// notify_gateway_dispatch_latency_seconds; pings, acks, the sync event and catch-up replays are
// not.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { io } from "socket.io-client";

import { collect, insertWhileStopped, openSseStream, startStack, until } from "./lib/stack.mjs";
import { hsToken } from "./lib/tokens.mjs";

const METRIC = "notify_gateway_dispatch_latency_seconds";
const BOUNDS = ["1e-05", "2.5e-05", "5e-05", "0.0001", "0.00015", "0.00025", "0.0005", "0.001",
                "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1", "2.5", "5", "10",
                "+Inf"];
const BATCH = "notify_gateway_dispatch_batch_notifications";
const BATCH_BOUNDS = ["1", "2", "4", "8", "16", "32", "64", "128", "256", "512", "1024", "4096",
                      "16384", "65536", "+Inf"];
const PING_MS = 100;
const ZERO_OID = "000000000000000000000000";

/** A histogram from /metrics, checked for its buckets: { buckets: [[le, cumulative]], sum, count }. */
async function scrape(url, name = METRIC, bounds = BOUNDS) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const h = { buckets: [], sum: null, count: null };
    for (const line of text.split("\n")) {
        let m = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`).exec(line);
        if (m) h.buckets.push([m[1], Number(m[2])]);
        else if ((m = new RegExp(`^${name}_sum (\\S+)$`).exec(line))) h.sum = Number(m[1]);
        else if ((m = new RegExp(`^${name}_count (\\d+)$`).exec(line))) h.count = Number(m[1]);
    }
    assert.ok(text.includes(`# TYPE ${name} histogram\n`), `${name} is on /metrics`);
    assert.deepEqual(h.buckets.map(([le]) => le), bounds, "its buckets, in order");
    for (let i = 1; i < h.buckets.length; i++)
        assert.ok(h.buckets[i][1] >= h.buckets[i - 1][1], "cumulative buckets never decrease");
    assert.equal(h.buckets.at(-1)[1], h.count, "+Inf is the count");
    return h;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("dispatch latency metric", () => {
    let st, gw, admin, closeables;

    before(async () => {
        // Frequent pings: plenty of untimed traffic on every socket while the test runs.
        st = await startStack({ PING_INTERVAL_MS: String(PING_MS), PING_TIMEOUT_MS: "5000" });
        ({ gw, admin, closeables } = st);
    });

    after(() => st?.stop());

    async function insert(user, n) {
        for (let i = 0; i < n; i++)
            await admin.notifications.insertOne({ userId: user, type: "t", seq: i, read: false });
    }

    /** A stock client whose sync and notification events are recorded from the start. */
    function open(user, transports, auth = {}) {
        const socket = io(gw.url, {
            auth: { token: hsToken(user), ...auth },
            transports,
            reconnection: false,
            forceNew: true,
        });
        closeables.push(socket);
        return { socket, syncs: collect(socket, "sync"), notifications: collect(socket) };
    }

    async function changeStreamStatus() {
        return (await (await fetch(`${gw.url}/api/health/change-streams`)).json()).data;
    }

    /** Notifications the loop has taken from the watcher so far, delivered or not. */
    async function taken() {
        const d = await changeStreamStatus();
        return d.eventsDelivered + d.eventsSkippedOffline;
    }

    /** Waits (at most 10 s) until the loop has taken n notifications in all. */
    async function untilTaken(n) {
        const end = Date.now() + 10000;
        while ((await taken()) < n && Date.now() < end)
            await sleep(20);
    }

    test("one observation per notification per socket, none for other traffic", async () => {
        const user = "timed";
        const K = 5;
        // Three stock WebSocket clients (one upgraded from polling), one long-polling client
        // and one SSE stream, all of one user.
        const clients = [["websocket"], ["websocket"], ["polling", "websocket"], ["polling"]].map(
            (transports) => open(user, transports));
        const sockets = clients.map((c) => c.socket);
        const got = clients.map((c) => c.notifications);
        const stream = await openSseStream(gw.url, { authorization: `Bearer ${hsToken(user)}` });
        assert.equal(stream.res.status, 200);
        const sseCount = (name) => stream.events.filter((e) => e.event === name).length;
        closeables.push(stream);
        await until(() => sockets[2].io.engine?.transport.name === "websocket", 5000,
                    () => "no upgrade");
        await until(() => clients.every((c) => c.syncs.length === 1) && sseCount("sync") === 1, 5000,
                    () => "sync events");

        // Untimed traffic: sync (above), pings over several intervals, acks of client events,
        // and a notification for a user with no socket.
        const m0 = await scrape(gw.url);
        const received0 = (await changeStreamStatus()).eventsReceived;
        for (const s of [sockets[0], sockets[3]]) {
            const ack = await s.timeout(5000).emitWithAck("notification:read", { id: "nope" });
            assert.equal(ack.error.code, "INVALID_ID");
        }
        await insert("nobody-online", 1);
        const end = Date.now() + 5000;
        let status;
        while ((status = await changeStreamStatus()).eventsSkippedOffline < 1 && Date.now() < end)
            await sleep(20);
        assert.equal(status.eventsReceived, received0 + 1, "the watcher saw that event");
        assert.equal(status.eventsSkippedOffline, 1);
        await sleep(PING_MS * 4);
        const m1 = await scrape(gw.url);
        assert.equal(m1.count, m0.count, "sync, pings, acks and an undeliverable event: untimed");
        assert.equal(m1.sum, m0.sum);

        // K notifications to 5 receivers: exactly 5 K deliveries.
        await insert(user, K);
        await until(() => got.every((g) => g.length === K) && sseCount("notification") === K, 10000,
                    () => JSON.stringify({ sockets: got.map((g) => g.length), sse: sseCount("notification") }));
        const m2 = await scrape(gw.url);
        const deliveries = K * (sockets.length + 1);
        assert.equal(m2.count - m1.count, deliveries, "one observation per delivery");
        const sum = m2.sum - m1.sum;
        assert.ok(sum > 0, `the sum grew (${sum} s)`);
        assert.ok(sum / deliveries < 0.5, `mean below half a second (${sum / deliveries} s)`);
        // Every delivery fell in a finite bucket: none near 10 s on loopback.
        assert.equal(m2.buckets.at(-2)[1] - m1.buckets.at(-2)[1], deliveries);

        // A client that catches up from the zero offset is replayed all K (untimed), then one
        // more live notification reaches all six receivers (timed).
        const late = open(user, ["websocket"], { lastNotificationId: ZERO_OID });
        const lateGot = late.notifications;
        const lateSync = late.syncs;
        await until(() => lateSync.length === 1, 5000, () => "late client's sync");
        assert.equal(lateGot.length, K, "the late client was replayed every notification");
        await sleep(PING_MS * 2);
        const m3 = await scrape(gw.url);
        assert.equal(m3.count, m2.count, "catch-up replays are untimed");

        await insert(user, 1);
        await until(() => got.every((g) => g.length === K + 1) && sseCount("notification") === K + 1 &&
                          lateGot.length === K + 1, 10000, () => "the last notification");
        const m4 = await scrape(gw.url);
        assert.equal(m4.count - m3.count, sockets.length + 2);
    });

    test("the batch histogram counts every notification the loop took, once", async () => {
        const b0 = await scrape(gw.url, BATCH, BATCH_BOUNDS);
        const dispatched0 = await taken();
        assert.equal(b0.sum, dispatched0, "so far: every dispatched notification, in some batch");
        const N = 50;
        await admin.notifications.insertMany(
            Array.from({ length: N }, (_, i) => ({ userId: "batch-nobody", type: "t", seq: i })));
        await untilTaken(dispatched0 + N);
        assert.equal(await taken(), dispatched0 + N, "the loop took all of them");
        const b1 = await scrape(gw.url, BATCH, BATCH_BOUNDS);
        assert.equal(b1.sum - b0.sum, N, "the batch sizes add up to the notifications");
        const batches = b1.count - b0.count;
        assert.ok(batches >= 1 && batches <= N, `${batches} batches for ${N} notifications`);
    });

    // A backlog answered in one 16 MB reply leaves the loop idle while the watcher waits for it
    // (watcher.c): the watcher asks for at most 1,000 events a reply.
    test("a backlog reaches the watcher in change-stream replies of at most 1,000 events", async () => {
        const N = 2500;
        const stats = () => admin.client.db("admin").command({ emuStreamStats: 1 });
        const replies = (s) => s.waited.replies.map((n, i) => n + s.ready.replies[i]);
        const s0 = await stats();
        const taken0 = await taken();
        await insertWhileStopped(gw, admin.notifications,
            Array.from({ length: N }, (_, i) => ({ userId: "backlog-nobody", type: "t", seq: i })));
        await untilTaken(taken0 + N);
        assert.equal(await taken(), taken0 + N, "every event of the backlog, once");
        const s1 = await stats();
        const grew = replies(s1).map((n, i) => n - replies(s0)[i]);
        // Bucket i counts replies of up to 2^i events; the last one, more than 1,024.
        assert.equal(grew.at(-1), 0, `no reply above 1,024 events (${grew})`);
        assert.ok(grew[10] >= 2, `the backlog came in full replies of 513-1,024 (${grew})`);
    });

    // The watcher wakes the loop when it is about to wait for the network or every 256
    // notices, not at the first notice of each run: woken at the first, the loop took one or
    // two notices per wake-up (watcher.c, bench/README.md, scenario e).
    test("a backlog is handed to the loop in runs, not one notice per wake-up", async () => {
        const N = 2500;
        const b0 = await scrape(gw.url, BATCH, BATCH_BOUNDS);
        const taken0 = await taken();
        await insertWhileStopped(gw, admin.notifications,
            Array.from({ length: N }, (_, i) => ({ userId: "runs-nobody", type: "t", seq: i })));
        await untilTaken(taken0 + N);
        const b1 = await scrape(gw.url, BATCH, BATCH_BOUNDS);
        assert.equal(b1.sum - b0.sum, N, "every notification in some batch");
        const batches = b1.count - b0.count;
        // 3 replies (at most 1,000 events each), each cut at 256: about 12 wake-ups
        assert.ok(batches >= 1 && batches <= 40, `${batches} wake-ups for ${N} notifications`);
    });

    // Below the loop's priority the watcher falls behind under a backlog, each wake-up brings
    // fewer notices, and each socket write carries fewer frames (watcher.c, bench/README.md).
    test("the watcher thread runs at the loop thread's priority", () => {
        const pid = gw.proc.pid;
        const nice = (tid) => {
            const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
            return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]); // field 19
        };
        const watchers = readdirSync(`/proc/${pid}/task`).filter(
            (tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim() === "gw-watcher");
        assert.equal(watchers.length, 1, "one thread named gw-watcher");
        assert.equal(nice(watchers[0]), nice(pid));
    });
});
