// Resume across a gateway crash, and several gateways on one database (issue 5, "Show it"):
// the real notify-gateway and mongo-emu, the stock socket.io-client, the Node driver inserting.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
    WATCHER,
    adminCommand,
    assertExactDelivery,
    countLines,
    failPoint,
    insertFor,
    openUsers,
    roundRobin,
    sleep,
    streamHealth,
    untilHealth,
} from "./lib/faults.mjs";
import { adminClient, startGateway, startMongo, waitWatching } from "./lib/stack.mjs";

const DELIVERY_MS = 8000;
const MIXED = [["polling"], ["websocket"], ["polling", "websocket"]];

describe("watcher resume and several instances", () => {
    let mongo, admin;
    const counter = { next: 1 };
    const cleanup = [];

    before(async () => {
        mongo = await startMongo();
        admin = await adminClient(mongo.uri);
    });

    after(async () => {
        for (const f of cleanup.reverse()) await f();
        await admin?.client.close();
        await mongo?.stop();
    });

    /** A watching gateway with its own resume token id and appName (for fail points). */
    async function gateway(tokenId, appName) {
        const gw = await startGateway({
            ENABLE_CHANGE_STREAMS: "true",
            MONGODB_URI: `${mongo.uri}&appName=${appName}`,
            RESUME_TOKEN_ID: tokenId,
        });
        cleanup.push(() => gw.stop());
        return gw;
    }

    async function users(url, names, transports) {
        const g = await openUsers(url, names, transports);
        cleanup.push(async () => g.close());
        return g;
    }

    test("kill -9 of the gateway: the restart replays what was missed from the stored token", async (t) => {
        const [on, off] = ["k9-online", "k9-offline"];
        const first = await gateway("k9", "gw-k9");
        await waitWatching(first.url);
        const before = await users(first.url, [on, off]);

        // Batch 1 is covered by a saved token: it must never come back.
        const batch1 = await insertFor(admin, before, counter, roundRobin([on, off], 6));
        await assertExactDelivery(before, DELIVERY_MS, 0, "batch 1");
        // The save that covers the batch may come as soon as its last event was delivered,
        // even in the same millisecond, and then no other for a long while: wait for one at or
        // after the last event, not for one after this line.
        await untilHealth(
            first.url,
            (h) => h.lastTokenSavedAt && Date.parse(h.lastTokenSavedAt) >= Date.parse(h.lastEventAt),
            WATCHER.saveEventsMs + WATCHER.maxAwaitMs + 10000,
            "a token save after batch 1",
        );
        // Batch 2 is delivered, then the gateway dies, most likely before its throttled save.
        const batch2Users = roundRobin([on, off], 4);
        const batch2 = await insertFor(admin, before, counter, batch2Users);
        await assertExactDelivery(before, DELIVERY_MS, 0, "batch 2");
        first.proc.kill("SIGKILL");
        await first.exited;

        const stored = await admin.db
            .collection("changeStreamResumeTokens")
            .findOne({ _id: "k9" });
        assert.ok(stored, "the token document exists under RESUME_TOKEN_ID");
        assert.equal(typeof stored.token?._data, "string", JSON.stringify(stored));
        assert.ok(stored.lastProcessedAt instanceof Date, JSON.stringify(stored));
        assert.ok(stored.updatedAt instanceof Date, JSON.stringify(stored));

        // Batch 3 is inserted while no gateway runs.
        const batch3Users = roundRobin([on, off], 6);
        const batch3 = await insertFor(admin, null, counter, batch3Users);

        // Hold the new watcher's aggregate back until the online user's sockets are connected.
        await failPoint(admin, "failCommand", "alwaysOn", {
            failCommands: ["aggregate"],
            errorCode: 11601,
            appName: "gw-k9",
        });
        const second = await gateway("k9", "gw-k9");
        const afterRestart = await users(second.url, [on], MIXED);
        assert.equal((await streamHealth(second.url)).eventsReceived, 0, "nothing read before the sockets");
        const off1 = await failPoint(admin, "failCommand", "off");
        assert.ok(off1.count >= 1, "the restarted watcher tried to open its stream while held back");

        await untilHealth(
            second.url,
            (h) => h.isWatching && h.eventsReceived >= batch3.length,
            WATCHER.backoffFirstMs * 2 * 1.25 + 8000,
            "the replay of batch 3",
        );
        await sleep(300);
        const h = await streamHealth(second.url);
        // At-least-once: the replay is batch 3 after a suffix of batch 2 (what the killed
        // gateway had not yet saved). Nothing of batch 1 comes back.
        const k = h.eventsReceived - batch3.length;
        assert.ok(k >= 0 && k <= batch2.length, `replayed ${h.eventsReceived}: ${JSON.stringify(h)}`);
        const replayed = [
            ...batch2.map((seq, i) => ({ seq, user: batch2Users[i] })).slice(batch2.length - k),
            ...batch3.map((seq, i) => ({ seq, user: batch3Users[i] })),
        ];
        afterRestart.expected.set(
            on,
            replayed.filter((r) => r.user === on).map((r) => r.seq),
        );
        await assertExactDelivery(afterRestart, DELIVERY_MS, 0, `replay after kill -9 (k=${k})`);
        for (const s of afterRestart.sockets) {
            assert.ok(!s.got.some((d) => batch1.includes(d.seq)), "batch 1 was replayed");
        }
        assert.equal(h.eventsDelivered, replayed.filter((r) => r.user === on).length);
        assert.equal(h.eventsSkippedOffline, replayed.filter((r) => r.user === off).length);
        assert.equal(h.eventsFailed, 0);
        assert.equal((await streamHealth(second.url)).eventsReceived, h.eventsReceived, "nothing more came");
        t.diagnostic(`kill -9 replay: ${k} of ${batch2.length} already-delivered notifications came again`);
    });

    test("two instances with their own RESUME_TOKEN_ID: each socket gets its user's once", async () => {
        const a = await gateway("multi-a", "gw-multi-a");
        const b = await gateway("multi-b", "gw-multi-b");
        await Promise.all([waitWatching(a.url), waitWatching(b.url)]);
        const names = Array.from({ length: 6 }, (_, i) => `multi-${i}`);
        // Three sockets per user alternating between the gateways: every user is on both.
        const spread = await users([a.url, b.url], names, MIXED);
        const onlyA = await users(a.url, ["multi-only-a"]);
        const hA = await streamHealth(a.url);
        const hB = await streamHealth(b.url);

        const all = [...names, "multi-only-a"];
        const targets = Array.from({ length: 140 }, () => all[Math.floor(Math.random() * all.length)]);
        for (const u of targets) {
            const g = u === "multi-only-a" ? onlyA : spread;
            await insertFor(admin, g, counter, [u]);
        }
        await assertExactDelivery(spread, DELIVERY_MS, 0, "users on both gateways");
        await assertExactDelivery(onlyA, DELIVERY_MS, 300, "a user on one gateway");
        for (const u of names) {
            const urls = new Set(spread.sockets.filter((s) => s.user === u).map((s) => s.url));
            assert.equal(urls.size, 2, `${u} has sockets on both gateways`);
        }

        const onlyCount = targets.filter((u) => u === "multi-only-a").length;
        const a2 = await streamHealth(a.url);
        const b2 = await streamHealth(b.url);
        assert.equal(a2.eventsReceived - hA.eventsReceived, targets.length, "A watches everything");
        assert.equal(b2.eventsReceived - hB.eventsReceived, targets.length, "B watches everything");
        assert.equal(a2.eventsDelivered - hA.eventsDelivered, targets.length);
        assert.equal(b2.eventsDelivered - hB.eventsDelivered, targets.length - onlyCount);
        assert.equal(
            b2.eventsSkippedOffline - hB.eventsSkippedOffline,
            onlyCount,
            "B has no socket of multi-only-a",
        );
        assert.equal(a2.restarts, 0);
        assert.equal(b2.restarts, 0);
        a.assertAlive();
        b.assertAlive();
    });

    test("a stored token older than the oplog (286 at start): reset once, then watch from now", async () => {
        // Its own emulator: truncating the shared oplog would disturb the gateways above.
        const m = await startMongo();
        cleanup.push(() => m.stop());
        const adm = await adminClient(m.uri);
        cleanup.push(() => adm.client.close());
        const env = { ENABLE_CHANGE_STREAMS: "true", MONGODB_URI: m.uri, RESUME_TOKEN_ID: "lost" };
        const first = await startGateway(env);
        // a failure before the kill below must not leave it running (the test process would
        // wait for it forever)
        cleanup.push(() => first.proc.kill("SIGKILL"));
        await waitWatching(first.url);
        const g1 = await users(first.url, ["lost-0"]);
        await insertFor(adm, g1, counter, ["lost-0", "lost-0"]);
        await assertExactDelivery(g1, DELIVERY_MS, 0, "before the crash");
        // The save that covers the batch may come as soon as its last event was delivered,
        // even in the same millisecond, and then no other for a long while: wait for one at or
        // after the last event, not for one after this line.
        await untilHealth(
            first.url,
            (h) => h.lastTokenSavedAt && Date.parse(h.lastTokenSavedAt) >= Date.parse(h.lastEventAt),
            WATCHER.saveEventsMs + WATCHER.maxAwaitMs + 10000,
            "a token save",
        );
        first.proc.kill("SIGKILL");
        await first.exited;
        // Inserted while down, then the oplog that held them is gone: a data gap the gateway
        // must report, not a reason to stop.
        await insertFor(adm, null, counter, ["lost-0", "lost-0"]);
        await adminCommand(adm, { emuTruncateOplog: 1 });

        const second = await startGateway(env);
        cleanup.push(() => second.stop());
        const g2 = await users(second.url, ["lost-0"]);
        await untilHealth(second.url, (h) => h.restarts >= 1 && h.isWatching, 10000, "a restart from now");
        await sleep(WATCHER.backoffFirstMs * 1.25 + WATCHER.maxAwaitMs + 500);
        const h = await streamHealth(second.url);
        assert.equal(h.restarts, 1, `one reset, no loop on the dead token: ${JSON.stringify(h)}`);
        assert.equal(h.isWatching, true);
        assert.equal(countLines(second.output(), /resume token cannot be used/), 1, second.output());
        assert.match(second.output(), /token unusable \(286\)/);

        await insertFor(adm, g2, counter, ["lost-0", "lost-0", "lost-0"]);
        await assertExactDelivery(g2, DELIVERY_MS, 300, "after the reset");
        assert.equal((await streamHealth(second.url)).restarts, 1);
        second.assertAlive();
    });
});
