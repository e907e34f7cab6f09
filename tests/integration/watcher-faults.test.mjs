// The change-stream watcher under the faults of research §4 (issue 5, "Show it"): the real
// notify-gateway watching a real mongo-emu, the stock socket.io-client receiving, the official
// Node driver inserting and injecting faults. In every case the gateway keeps running, and
// every socket connected throughout receives exactly its user's notifications, once each, in
// insert order.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";

import {
    WATCHER,
    adminCommand,
    assertExactDelivery,
    countLines,
    failPoint,
    health,
    healthRecorder,
    insertFor,
    openUsers,
    roundRobin,
    sleep,
    streamHealth,
    untilHealth,
} from "./lib/faults.mjs";
import { adminClient, startGateway, startMongo, waitWatching } from "./lib/stack.mjs";

// The watcher's default appName: fail points aimed at it leave the admin client alone.
const GW_APP = "notify-gateway";
const DELIVERY_MS = 8000;

describe("watcher faults with one gateway", () => {
    let mongo, gw, admin;
    const counter = { next: 1 };
    const groups = [];

    before(async () => {
        mongo = await startMongo();
        gw = await startGateway({ ENABLE_CHANGE_STREAMS: "true", MONGODB_URI: mongo.uri });
        await waitWatching(gw.url);
        admin = await adminClient(mongo.uri);
    });

    afterEach(() => gw.assertAlive());

    after(async () => {
        for (const g of groups) g.close();
        await admin?.client.close();
        await gw?.stop();
        await mongo?.stop();
    });

    async function users(prefix, n = 2) {
        const names = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
        const g = await openUsers(gw.url, names);
        groups.push(g);
        return g;
    }

    /** Inserts `count` notifications one every `gapMs`, spread over the group's users. */
    async function trickle(g, count, gapMs) {
        for (const u of roundRobin(g.users, count)) {
            await insertFor(admin, g, counter, [u]);
            await sleep(gapMs);
        }
    }

    test("a connection closed during getMore is resumed transparently", async () => {
        const g = await users("drop");
        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await assertExactDelivery(g, DELIVERY_MS, 0, "before the fault");
        const before = await streamHealth(gw.url);
        const rec = healthRecorder(gw.url);

        await failPoint(admin, "failCommand", { times: 1 }, {
            failCommands: ["getMore"],
            closeConnection: true,
            appName: GW_APP,
        });
        // The parked getMore predates the fail point; the inserts wake it, the next one fails.
        await trickle(g, 10, 100);
        await sleep(WATCHER.maxAwaitMs);
        const off = await failPoint(admin, "failCommand", "off");
        assert.equal(off.count, 1, "the getMore connection was closed once");

        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await assertExactDelivery(g, DELIVERY_MS, 300, "after the dropped connection");
        const samples = await rec.stop();
        const after = await streamHealth(gw.url);
        assert.equal(after.restarts, before.restarts, "the driver resumed: the watcher did not restart");
        assert.ok(
            samples.every((s) => s.status === 200 && s.cs.isWatching),
            "a transparent resume never shows as an outage",
        );
        assert.equal(after.lastError, null);
    });

    for (const errorCode of [10107, 11600]) {
        test(`a labelled resumable getMore error (${errorCode}) is resumed transparently`, async () => {
            const g = await users(`label${errorCode}`);
            await insertFor(admin, g, counter, roundRobin(g.users, 4));
            await assertExactDelivery(g, DELIVERY_MS, 0, "before the fault");
            const before = await streamHealth(gw.url);

            await failPoint(admin, "failGetMoreAfterCursorCheckout", { times: 1 }, { errorCode });
            await trickle(g, 10, 100);
            await sleep(WATCHER.maxAwaitMs);
            const off = await failPoint(admin, "failGetMoreAfterCursorCheckout", "off");
            assert.equal(off.count, 1, "the labelled error fired once");

            await insertFor(admin, g, counter, roundRobin(g.users, 4));
            await assertExactDelivery(g, DELIVERY_MS, 300, `after labelled ${errorCode}`);
            const after = await streamHealth(gw.url);
            assert.equal(after.restarts, before.restarts, "the driver resumed: the watcher did not restart");
            assert.equal(after.isWatching, true);
            assert.equal(after.lastError, null);
        });
    }

    test("an unlabelled getMore error kills the stream; the watcher restarts from its token", async () => {
        const g = await users("nolabel");
        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await assertExactDelivery(g, DELIVERY_MS, 0, "before the fault");
        const before = await streamHealth(gw.url);
        const rec = healthRecorder(gw.url);

        // failCommand on getMore carries no ResumableChangeStreamError label (as on mongod):
        // mongoc 1.23 does not resume, the stream is dead and the watcher must recreate it.
        await failPoint(admin, "failCommand", { times: 1 }, {
            failCommands: ["getMore"],
            errorCode: 10107,
            appName: GW_APP,
        });
        // Inserts keep coming while the watcher backs off: they must be replayed from its token.
        await trickle(g, 10, 100);
        const restarted = await untilHealth(
            gw.url,
            (h) => h.restarts > before.restarts && h.isWatching,
            WATCHER.backoffFirstMs * 1.25 + 5000,
            "a restart after the unlabelled error",
        );
        const off = await failPoint(admin, "failCommand", "off");
        assert.equal(off.count, 1, "the unlabelled error fired once");
        assert.equal(restarted.restarts, before.restarts + 1, "one restart for one error");

        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await assertExactDelivery(g, DELIVERY_MS, 300, "after the unlabelled error");
        const samples = (await rec.stop()).filter((s) => !s.error);
        const outage = samples.filter((s) => !s.cs.isWatching);
        assert.ok(outage.length > 0, "health showed the backoff as not watching");
        const healthOutage = samples.filter((s) => !s.watching);
        assert.ok(healthOutage.length > 0, "/api/health showed the backoff as not watching");
        assert.ok(
            healthOutage.every((s) => s.status === 503),
            "/api/health is 503 whenever its body says it is not watching",
        );
        assert.ok(
            outage.some((s) => /10107/.test(s.cs.lastError ?? "")),
            `lastError names the error: ${JSON.stringify(outage.map((s) => s.cs.lastError))}`,
        );
        const now = await streamHealth(gw.url);
        assert.equal(now.isWatching, true);
        assert.equal(now.lastError, null, "lastError clears once watching again");
    });

    test("a stepdown while inserts continue loses and duplicates nothing", async () => {
        const g = await users("stepdown");
        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await assertExactDelivery(g, DELIVERY_MS, 0, "before the stepdown");
        const before = await streamHealth(gw.url);

        await adminCommand(admin, { emuStepDown: 1, secs: 2 });
        // These inserts meet the secondary: the Node driver waits for the primary and retries.
        await trickle(g, 12, 250);
        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await assertExactDelivery(g, 15000, 300, "after the stepdown");
        // The watcher waits for the primary (serverSelectionTryOnce=false) instead of failing.
        const after = await streamHealth(gw.url);
        assert.equal(after.isWatching, true);
        assert.equal(after.restarts, before.restarts, `a transparent resume: ${JSON.stringify(after)}`);
        assert.equal(after.lastError, null);
    });

    test("history lost (oplog truncated): one log, token reset, restart from now, no loop", async () => {
        const g = await users("lost");
        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await assertExactDelivery(g, DELIVERY_MS, 0, "before the truncation");
        const before = await streamHealth(gw.url);
        const unusable = /resume token cannot be used/;
        const logged = countLines(gw.output(), unusable);

        // Every resume point up to now becomes 286; killing the cursors forces a resume.
        await adminCommand(admin, { emuTruncateOplog: 1 });
        await adminCommand(admin, { emuKillAllCursors: 1 });
        const restarted = await untilHealth(
            gw.url,
            (h) => h.restarts > before.restarts && h.isWatching,
            10000,
            "a restart from now after 286",
        );
        // A watcher looping on the dead token would restart again at once, or after its backoff.
        await sleep(WATCHER.backoffFirstMs * 1.25 + WATCHER.maxAwaitMs + 500);
        const settled = await streamHealth(gw.url);
        assert.equal(
            settled.restarts,
            before.restarts + 1,
            `exactly one restart: ${JSON.stringify(settled)}`,
        );
        assert.equal(restarted.restarts, settled.restarts);
        assert.equal(settled.isWatching, true);
        assert.equal(
            countLines(gw.output(), unusable),
            logged + 1,
            `the reset is logged once\n${gw.output()}`,
        );
        assert.match(gw.output(), /token unusable \(286\)/);

        await insertFor(admin, g, counter, roundRobin(g.users, 6));
        await assertExactDelivery(g, DELIVERY_MS, 300, "after the reset");
        assert.equal((await streamHealth(gw.url)).restarts, settled.restarts);
    });

    test("dropping the notifications collection (invalidate): watching goes on", async () => {
        const g = await users("drop-coll");
        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await assertExactDelivery(g, DELIVERY_MS, 0, "before the drop");
        const before = await streamHealth(gw.url);
        const logged = countLines(gw.output(), /dropped or renamed/);

        await admin.notifications.drop();
        // Inserted at once, before the watcher reopened: startAfter the invalidate replays them.
        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await untilHealth(gw.url, (h) => h.restarts > before.restarts && h.isWatching, 10000, "a reopen");
        await insertFor(admin, g, counter, roundRobin(g.users, 4));
        await assertExactDelivery(g, DELIVERY_MS, 300, "after the drop");

        await sleep(WATCHER.backoffFirstMs * 1.25 + WATCHER.maxAwaitMs);
        const settled = await streamHealth(gw.url);
        assert.equal(
            settled.restarts,
            before.restarts + 1,
            `one reopen, no loop: ${JSON.stringify(settled)}`,
        );
        assert.equal(settled.isWatching, true);
        assert.equal(settled.lastError, null);
        assert.equal(countLines(gw.output(), /dropped or renamed/), logged + 1);
        assert.doesNotMatch(gw.output(), /\b260\b/, "never resumeAfter an invalidate token");
    });

    test("documents without a usable user field are counted in eventsFailed and sent to no one", async () => {
        // User "42" exists: a numeric userId 42 must still not reach it.
        const g = await openUsers(gw.url, ["42", "nouser-ok"]);
        groups.push(g);
        const before = await streamHealth(gw.url);
        const logged = countLines(gw.output(), /skipping a notification/);

        const bad = [
            { type: "fault-test", title: "no user" },
            { userId: 42, type: "fault-test", title: "numeric user" },
            { type: "fault-test", title: "no user again" },
            { userId: 42.5, type: "fault-test", title: "numeric user again" },
        ];
        for (const doc of bad) {
            await admin.notifications.insertOne({ ...doc, seq: counter.next++ });
        }
        await insertFor(admin, g, counter, ["42", "nouser-ok", "42"]);
        await assertExactDelivery(g, DELIVERY_MS, 300, "around the bad documents");

        const after = await streamHealth(gw.url);
        assert.equal(after.eventsFailed - before.eventsFailed, bad.length);
        assert.equal(after.eventsReceived - before.eventsReceived, bad.length + 3);
        assert.equal(after.eventsDelivered - before.eventsDelivered, 3);
        assert.equal(
            countLines(gw.output(), /skipping a notification/),
            logged + 2,
            "logged once per reason (missing, not a string)",
        );
    });
});

describe("mongo-emu killed and restarted on the same port and --dbpath", () => {
    let dbpath, mongo, gw, admin;
    const counter = { next: 1 };
    let group;

    before(async () => {
        dbpath = mkdtempSync(path.join(os.tmpdir(), "gw-faults-db-"));
        mongo = await startMongo({ args: ["--dbpath", dbpath] });
        gw = await startGateway({ ENABLE_CHANGE_STREAMS: "true", MONGODB_URI: mongo.uri });
        await waitWatching(gw.url);
        admin = await adminClient(mongo.uri);
    });

    after(async () => {
        group?.close();
        await admin?.client.close(true).catch(() => {});
        await gw?.stop();
        await mongo?.stop();
        rmSync(dbpath, { recursive: true, force: true });
    });

    test("health is 503 during the outage, then the stream recovers, nothing lost or repeated", async () => {
        group = await openUsers(gw.url, ["kill-0", "kill-1"]);
        await insertFor(admin, group, counter, roundRobin(group.users, 6));
        await assertExactDelivery(group, DELIVERY_MS, 0, "before the kill");
        await sleep(200); // the emulator's journal is written at the end of each loop turn
        const before = await streamHealth(gw.url);

        const port = mongo.server.port;
        mongo.server.proc.kill("SIGKILL");
        await mongo.server.exited;
        await admin.client.close(true).catch(() => {});

        const down = await untilHealth(
            gw.url,
            (h) => !h.isWatching && h.lastError,
            15000,
            "the outage (isWatching false, lastError set)",
        );
        const h = await health(gw.url);
        assert.equal(h.status, 503, "/api/health is 503 while not watching");
        assert.equal(h.body.data.changeStreams.isWatching, false);
        assert.equal(typeof down.lastError, "string");
        gw.assertAlive();

        mongo = await startMongo({ args: ["--port", String(port), "--dbpath", dbpath] });
        assert.equal(mongo.server.port, port);
        admin = await adminClient(mongo.uri);
        // Most likely still backing off: these come back through the watcher's token.
        await insertFor(admin, group, counter, roundRobin(group.users, 4));
        const up = await untilHealth(gw.url, (x) => x.isWatching, 30000, "recovery after the restart");
        assert.ok(up.restarts > before.restarts, "the outage counted as a restart");
        assert.equal((await health(gw.url)).status, 200);

        await insertFor(admin, group, counter, roundRobin(group.users, 6));
        await assertExactDelivery(group, DELIVERY_MS, 500, "after the emulator restart");
        const after = await streamHealth(gw.url);
        assert.equal(after.lastError, null);
        assert.equal(after.eventsReceived - before.eventsReceived, 10, "nothing replayed twice");
        gw.assertAlive();
    });
});
