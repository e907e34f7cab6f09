// mongo-emu with the official Node `mongodb` driver (the second, independent client next to
// mongo-c-driver): CRUD round trips, change streams with a $match pipeline, resume after a
// client restart, automatic resume across failCommand closeConnection, 286 after oplog
// truncation, 260 for a garbage token, stepdown, restart, and --standalone refusing
// $changeStream with 40573.
//
// Each run spawns its own mongo-emu on a free port (--port 0) and kills it at the end. The binary
// is $GW_BUILD_DIR/tools/mongo-emu/mongo-emu (default build dir: <repo>/build).

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { MongoClient } from "mongodb";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const buildDir = process.env.GW_BUILD_DIR || path.join(repo, "build");
const binary = path.join(buildDir, "tools/mongo-emu/mongo-emu");
const missing = existsSync(binary)
    ? false
    : `mongo-emu is not built at ${binary} (build it, or set GW_BUILD_DIR)`;

const children = new Set();
process.on("exit", () => {
    for (const child of children) child.kill("SIGKILL");
});

/** Starts mongo-emu with extra args; resolves to {child, hostPort, stop()}. */
function startEmu(args = []) {
    return new Promise((resolve, reject) => {
        const child = spawn(binary, ["--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
        children.add(child);
        let out = "";
        let err = "";
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`mongo-emu did not print its address within 10 s: ${out}${err}`));
        }, 10000);
        child.stderr.on("data", (d) => {
            err = (err + d).slice(-4000);
        });
        child.stdout.on("data", (d) => {
            out += d;
            const m = /^mongo-emu listening on (\S+):(\d+)$/m.exec(out);
            if (m) {
                clearTimeout(timer);
                const hostPort = `${m[1]}:${m[2]}`;
                resolve({
                    child,
                    hostPort,
                    stop: () =>
                        new Promise((done) => {
                            if (child.exitCode !== null) return done(child.exitCode);
                            child.once("exit", (code) => {
                                children.delete(child);
                                done(code);
                            });
                            child.kill("SIGTERM");
                        }),
                });
            }
        });
        child.once("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`mongo-emu exited with ${code} before it was ready: ${err}`));
        });
    });
}

const PIPELINE = [{ $match: { operationType: "insert", "fullDocument.type": { $exists: true } } }];

function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

/** The next change event within ms, or null. Errors propagate. */
async function nextWithin(stream, ms) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        const ev = await stream.tryNext();
        if (ev) return ev;
    }
    return null;
}

async function expectSeqs(stream, seqs, ms = 5000) {
    for (const seq of seqs) {
        const ev = await nextWithin(stream, ms);
        assert.ok(ev, `event ${seq} did not arrive`);
        assert.equal(ev.fullDocument.seq, seq);
    }
}

async function expectQuiet(stream, ms = 600) {
    assert.equal(await nextWithin(stream, ms), null, "no further event (no duplicate)");
}

describe("mongo-emu with the Node mongodb driver", { skip: missing }, () => {
    let emu;
    let uri;
    const clients = [];

    function client(opts = {}, query = "replicaSet=rs0") {
        const c = new MongoClient(`mongodb://${emu.hostPort}/?${query}`, {
            serverSelectionTimeoutMS: 5000,
            ...opts,
        });
        clients.push(c);
        return c;
    }

    async function admin(cmd) {
        const c = client({ appName: "control" });
        try {
            return await c.db("admin").command(cmd);
        } finally {
            await c.close();
        }
    }

    before(async () => {
        emu = await startEmu();
        uri = `mongodb://${emu.hostPort}/?replicaSet=rs0`;
    });

    after(async () => {
        for (const c of clients) await c.close(true).catch(() => {});
        if (emu) assert.equal(await emu.stop(), 0, "mongo-emu exits 0 on SIGTERM");
    });

    test("hello describes a single-node replica set advertising the dialled address", async () => {
        const c = client();
        const hello = await c.db("admin").command({ hello: 1 });
        assert.equal(hello.setName, "rs0");
        assert.deepEqual(hello.hosts, [emu.hostPort]);
        assert.equal(hello.isWritablePrimary, true);
        assert.equal(hello.logicalSessionTimeoutMinutes, 30);
        assert.ok(hello.topologyVersion);
        assert.ok(uri.includes(emu.hostPort));
    });

    for (const query of ["replicaSet=rs0", "directConnection=true"]) {
        test(`CRUD round trip (${query})`, async () => {
            const coll = client({}, query).db("app").collection(`crud_${query.split("=")[0]}`);
            const one = await coll.insertOne({ userId: "u1", n: 1, tags: ["a", "b"] });
            await coll.insertMany([
                { userId: "u2", n: 2 },
                { userId: "u1", n: 3, sub: { k: "v" } },
            ]);
            const u1 = await coll.find({ userId: "u1" }).sort({ n: -1 }).toArray();
            assert.deepEqual(
                u1.map((d) => d.n),
                [3, 1],
            );
            assert.equal((await coll.findOne({ _id: one.insertedId })).n, 1);
            assert.equal(await coll.countDocuments({ $or: [{ "sub.k": "v" }, { tags: "b" }] }), 2);
            assert.equal(await coll.countDocuments({ n: { $gte: 2, $lt: 3 } }), 1);
            assert.equal(await coll.countDocuments({ n: { $in: [1, 3] }, userId: { $ne: "u2" } }), 2);

            const upd = await coll.updateOne({ userId: "u2" }, { $set: { read: true }, $inc: { n: 10 } });
            assert.equal(upd.matchedCount, 1);
            assert.equal(upd.modifiedCount, 1);
            assert.equal((await coll.findOne({ userId: "u2" })).n, 12);

            const ups = await coll.updateOne(
                { _id: "token" },
                { $set: { token: { _data: "82AB" } }, $setOnInsert: { created: true } },
                { upsert: true },
            );
            assert.equal(ups.upsertedId, "token");
            const again = await coll.updateOne(
                { _id: "token" },
                { $set: { token: { _data: "82AC" } } },
                { upsert: true },
            );
            assert.equal(again.upsertedCount, 0);
            assert.equal(again.modifiedCount, 1);
            assert.deepEqual(await coll.findOne({ _id: "token" }), {
                _id: "token",
                token: { _data: "82AC" },
                created: true,
            });

            await coll.updateOne({ userId: "u2" }, { $unset: { read: "" } });
            assert.equal((await coll.findOne({ userId: "u2" })).read, undefined);

            assert.equal((await coll.deleteOne({ userId: "u2" })).deletedCount, 1);
            assert.equal(await coll.countDocuments({}), 3);
            await assert.rejects(coll.insertOne({ _id: "token" }), (e) => e.code === 11000);

            // More than one batch: the driver follows the cursor with getMore.
            await coll.insertMany(Array.from({ length: 300 }, (_, i) => ({ bulk: i })));
            const bulk = await coll.find({ bulk: { $exists: true } }).toArray();
            assert.equal(bulk.length, 300);
            assert.deepEqual(
                bulk.slice(0, 3).map((d) => d.bulk),
                [0, 1, 2],
            );
        });
    }

    test("watch() with a $match pipeline receives matching inserts in order", async () => {
        const gw = client({ appName: "gateway" }).db("app").collection("notifications");
        const ctl = client().db("app").collection("notifications");
        const stream = gw.watch(PIPELINE, { maxAwaitTimeMS: 200 });
        await stream.tryNext(); // the aggregate runs: the stream starts here
        await ctl.insertOne({ type: "email", seq: 1 });
        await ctl.insertOne({ noType: true, seq: 2 });
        await ctl.insertMany([
            { type: "sms", seq: 3 },
            { type: "push", seq: 4 },
        ]);
        await ctl.updateOne({ seq: 4 }, { $set: { type: "changed" } });
        await ctl.deleteOne({ seq: 1 });
        await ctl.insertOne({ type: "last", seq: 5 });
        const ev = await nextWithin(stream, 5000);
        assert.equal(ev.operationType, "insert");
        assert.deepEqual(ev.ns, { db: "app", coll: "notifications" });
        assert.equal(typeof ev._id._data, "string");
        assert.ok(ev.clusterTime);
        assert.ok(ev.wallTime instanceof Date);
        assert.deepEqual(ev.documentKey, { _id: ev.fullDocument._id });
        assert.equal(ev.fullDocument.seq, 1);
        await expectSeqs(stream, [3, 4, 5]);
        await expectQuiet(stream);
        await stream.close();
    });

    test("emuStreamStats counts each getMore's events, split by whether it waited for them", async () => {
        const delta = (a, b) => ({ events: b.events - a.events,
                                   replies: b.replies.map((n, i) => n - a.replies[i]),
                                   eventsByBucket: b.eventsByBucket.map((n, i) => n - a.eventsByBucket[i]) });
        const s0 = await admin({ emuStreamStats: 1 });
        const coll = client().db("app").collection("stats");
        const stream = coll.watch(PIPELINE, { maxAwaitTimeMS: 3000 });
        await stream.tryNext(); // the aggregate runs with an empty first batch
        const first = stream.next(); // a getMore that waits on the emulator
        await new Promise((r) => setTimeout(r, 300));
        await coll.insertMany([1, 2, 3].map((seq) => ({ type: "a", seq })));
        assert.equal((await first).fullDocument.seq, 1);
        assert.equal((await stream.next()).fullDocument.seq, 2); // from the same reply
        assert.equal((await stream.next()).fullDocument.seq, 3);
        await coll.insertMany([4, 5, 6, 7, 8].map((seq) => ({ type: "a", seq })));
        assert.equal((await stream.next()).fullDocument.seq, 4); // a getMore that finds them
        const s1 = await admin({ emuStreamStats: 1 });
        await stream.close();
        const zeros = Array(12).fill(0);
        // Bucket i holds replies of up to 2^i events: 3 events in bucket 2, 5 in bucket 3.
        assert.deepEqual(delta(s0.waited, s1.waited),
                         { events: 3, replies: zeros.with(2, 1), eventsByBucket: zeros.with(2, 3) });
        assert.deepEqual(delta(s0.ready, s1.ready),
                         { events: 5, replies: zeros.with(3, 1), eventsByBucket: zeros.with(3, 5) });
    });

    for (const how of ["resumeAfter", "startAfter"]) {
        test(`${how} after the client restarts delivers exactly the missed events`, async () => {
            const name = `resume_${how}`;
            const ctl = client().db("app").collection(name);
            let gwClient = client({ appName: "gateway" });
            let stream = gwClient.db("app").collection(name).watch(PIPELINE, { maxAwaitTimeMS: 200 });
            await stream.tryNext();
            await ctl.insertOne({ type: "a", seq: 1 });
            await expectSeqs(stream, [1]);
            const token = stream.resumeToken;
            assert.ok(token && token._data);
            await stream.close();
            await gwClient.close();

            await ctl.insertOne({ type: "b", seq: 2 });
            await ctl.insertOne({ skip: true, seq: 3 });
            await ctl.insertOne({ type: "c", seq: 4 });

            gwClient = client({ appName: "gateway" });
            stream = gwClient
                .db("app")
                .collection(name)
                .watch(PIPELINE, { [how]: token, maxAwaitTimeMS: 200 });
            await expectSeqs(stream, [2, 4]);
            await expectQuiet(stream);
            await stream.close();
        });
    }

    test("a garbage resume token is refused with 260 InvalidResumeToken", async () => {
        const coll = client().db("app").collection("notifications");
        const stream = coll.watch(PIPELINE, { resumeAfter: { _data: "DEADBEEF" } });
        await assert.rejects(stream.tryNext(), (e) => e.code === 260 && e.codeName === "InvalidResumeToken");
        await stream.close();
    });

    test("automatic resume across failCommand closeConnection on getMore loses and duplicates nothing", async () => {
        const gw = client({ appName: "gateway" }).db("app").collection("close");
        const ctl = client().db("app").collection("close");
        const stream = gw.watch(PIPELINE, { maxAwaitTimeMS: 200 });
        await stream.tryNext();
        await ctl.insertOne({ type: "t", seq: 1 });
        await expectSeqs(stream, [1]);
        await admin({
            configureFailPoint: "failCommand",
            mode: { times: 2 },
            data: { failCommands: ["getMore"], closeConnection: true, appName: "gateway" },
        });
        await ctl.insertMany([
            { type: "t", seq: 2 },
            { type: "t", seq: 3 },
        ]);
        await expectSeqs(stream, [2, 3]);
        await ctl.insertOne({ type: "t", seq: 4 });
        await expectSeqs(stream, [4]);
        await expectQuiet(stream);
        const off = await admin({ configureFailPoint: "failCommand", mode: "off" });
        assert.equal(off.count, 2, "the fail point fired twice");
        await stream.close();
    });

    test("labelled getMore errors (failGetMoreAfterCursorCheckout) resume transparently", async () => {
        const gw = client({ appName: "gateway" }).db("app").collection("label");
        const ctl = client().db("app").collection("label");
        const stream = gw.watch(PIPELINE, { maxAwaitTimeMS: 200 });
        await stream.tryNext();
        await admin({
            configureFailPoint: "failGetMoreAfterCursorCheckout",
            mode: { times: 1 },
            data: { errorCode: 11602 },
        });
        await ctl.insertOne({ type: "t", seq: 1 });
        await expectSeqs(stream, [1]);
        await expectQuiet(stream);
        const off = await admin({ configureFailPoint: "failGetMoreAfterCursorCheckout", mode: "off" });
        assert.equal(off.count, 1);
        await stream.close();
    });

    test("286 ChangeStreamHistoryLost after the oplog is truncated", async () => {
        const gw = client({ appName: "gateway" }).db("app").collection("lost");
        const ctl = client().db("app").collection("lost");
        const stream = gw.watch(PIPELINE, { maxAwaitTimeMS: 200 });
        await stream.tryNext();
        await ctl.insertOne({ type: "t", seq: 1 });
        await expectSeqs(stream, [1]);
        const token = stream.resumeToken;
        await admin({ emuTruncateOplog: 1 });
        await admin({
            configureFailPoint: "failCommand",
            mode: { times: 1 },
            data: { failCommands: ["getMore"], closeConnection: true, appName: "gateway" },
        });
        await assert.rejects(
            nextWithin(stream, 5000),
            (e) => e.code === 286 && e.hasErrorLabel("NonResumableChangeStreamError"),
        );
        await stream.close().catch(() => {});
        const again = gw.watch(PIPELINE, { resumeAfter: token });
        await assert.rejects(again.tryNext(), (e) => e.code === 286);
        await again.close();
    });

    test("stepdown: hello turns secondary, writes get 10107, and the stream carries on after re-election", async () => {
        const gwClient = client({ appName: "gateway", serverSelectionTimeoutMS: 15000 });
        const gw = gwClient.db("app").collection("stepdown");
        const ctl = client({ serverSelectionTimeoutMS: 15000 }).db("app").collection("stepdown");
        const stream = gw.watch(PIPELINE, { maxAwaitTimeMS: 200 });
        await stream.tryNext();
        await ctl.insertOne({ type: "t", seq: 1 });
        await expectSeqs(stream, [1]);

        await admin({ emuStepDown: 1, secs: 2 });
        const direct = client({ retryWrites: false }, "directConnection=true");
        const hello = await direct.db("admin").command({ hello: 1 });
        assert.equal(hello.isWritablePrimary, false);
        assert.equal(hello.secondary, true);
        await assert.rejects(
            direct.db("app").collection("stepdown").insertOne({ type: "t", seq: 99 }),
            (e) => e.code === 10107,
        );
        const pending = nextWithin(stream, 15000);
        await sleep(2500);
        await ctl.insertOne({ type: "t", seq: 2 });
        const ev = await pending;
        assert.ok(ev, "the stream resumed after the stepdown");
        assert.equal(ev.fullDocument.seq, 2);
        await expectQuiet(stream);
        await stream.close();
    });

    test("emuRestart drops every connection; the stream resumes with nothing lost", async () => {
        const gw = client({ appName: "gateway" }).db("app").collection("restart");
        const ctl = client().db("app").collection("restart");
        const stream = gw.watch(PIPELINE, { maxAwaitTimeMS: 200 });
        await stream.tryNext();
        await ctl.insertOne({ type: "t", seq: 1 });
        await expectSeqs(stream, [1]);
        await admin({ emuRestart: 1 }).catch(() => {}); // the reply may be lost with the connection
        // The writer may hit a connection the restart dropped, even on the driver's one retry
        // (seen in CI): like any backend it tries again; a fixed _id keeps that to one insert.
        const doc = { _id: "restart-seq-2", type: "t", seq: 2 };
        for (let attempt = 0; ; attempt++) {
            try {
                await ctl.insertOne({ ...doc });
                break;
            } catch (e) {
                if (e.code === 11000) break; // the lost reply's insert did land
                if (attempt === 20) throw e;
                await new Promise((r) => setTimeout(r, 100));
            }
        }
        await expectSeqs(stream, [2]);
        await expectQuiet(stream);
        await stream.close();
    });
});

describe("mongo-emu --standalone", { skip: missing }, () => {
    test("refuses $changeStream with 40573 and has no setName", async () => {
        const emu = await startEmu(["--standalone"]);
        const c = new MongoClient(`mongodb://${emu.hostPort}/?directConnection=true`, {
            serverSelectionTimeoutMS: 5000,
        });
        try {
            const hello = await c.db("admin").command({ hello: 1 });
            assert.equal(hello.setName, undefined);
            const stream = c.db("app").collection("n").watch();
            await assert.rejects(stream.tryNext(), (e) => e.code === 40573);
            await stream.close();
        } finally {
            await c.close();
            assert.equal(await emu.stop(), 0);
        }
    });
});
