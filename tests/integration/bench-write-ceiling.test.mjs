// bench/ceiling/write-ceiling's paced mode (--rate) and its intake floor (--stream), the floors
// that bench/run.mjs sets beside every high-rate latency window: the README's claims about the
// latency target rest on them writing exactly what was asked, never ahead of the schedule or the
// events, and on refusing bad options instead of falling back to the unpaced mode. Timing itself is not asserted (no timed tests):
// only what a correct pacer cannot violate on any machine.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { withTimeout } from "./lib/eio-raw.mjs";
import { buildBinary, pickFreePort } from "./lib/server.mjs";
import { adminClient, startMongo, until } from "./lib/stack.mjs";

const BINARY = buildBinary("bench/ceiling/write-ceiling");

function run(args) {
    const r = spawnSync(BINARY, args, { encoding: "utf8", timeout: 30000 });
    assert.equal(r.error, undefined, `write-ceiling did not run: ${r.error}`);
    return r;
}

function paced(extra) {
    const r = run(["--sockets", "200", "--rate", "4000", "--targets", "100", "--seconds", "0.5",
                   ...extra]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
}

describe("write-ceiling --rate", () => {
    for (const [name, extra, mode] of [["at once", [], "direct"],
                                       ["after the writable round trip", ["--via-poll"], "via-poll"]]) {
        test(`${name}: every due write, none ahead of its schedule`, () => {
            const out = paced(extra);
            assert.equal(out.mode, mode);
            assert.equal(out.writes, 2000, "rate x seconds writes");
            assert.equal(out.wouldBlock, 0);
            assert.equal(out.paced.rate, 4000);
            assert.equal(out.paced.targets, 100);
            assert.equal(out.paced.tickUs, 1000);
            // The last batch is due 499 ms in: a pacer that wrote early would finish sooner.
            assert.ok(out.seconds >= 0.499, `finished at ${out.seconds} s, before the last batch was due`);
            const l = out.paced.lateUs;
            assert.ok(l.p50 <= l.p99 && l.p99 <= l.p999, JSON.stringify(l));
            assert.ok(l.p999 <= Math.max(10, Math.ceil(l.max / 10) * 10 + 10), JSON.stringify(l));
            for (const k of ["over1msPercent", "over5msPercent"])
                assert.ok(out.paced[k] >= 0 && out.paced[k] <= 100, `${k} ${out.paced[k]}`);
            assert.ok(out.paced.over5msPercent <= out.paced.over1msPercent);
        });
    }

    test("without --rate there is no paced section", () => {
        const r = run(["--sockets", "100", "--seconds", "0.2"]);
        assert.equal(r.status, 0, r.stderr);
        const out = JSON.parse(r.stdout);
        assert.equal(out.paced, undefined);
        assert.ok(out.writes > 0);
    });

    for (const [args, why] of [
        [["--rate", "abc"], /--rate wants a positive number, got "abc"/],
        [["--rate", "1000x"], /--rate wants a positive number/],
        [["--rate", "-5"], /--rate wants a positive number/],
        [["--rate", "1000", "--targets", "0.5e"], /--targets wants a positive number/],
        [["--rate", "1000", "--poll-armed"], /--rate wants no --poll-armed/],
        [["--sockets", "100", "--rate", "1000", "--targets", "10"], /--targets 64\.\.sockets/],
        [["--sockets", "100", "--rate", "1000", "--targets", "101"], /--targets 64\.\.sockets/],
        [["--rate", "1000", "--tick-us", "50"], /--tick-us 100\.\.100000/],
    ]) {
        test(`refuses ${args.join(" ")}`, () => {
            const r = run(args);
            assert.equal(r.status, 2, `exit ${r.status}, stdout ${r.stdout}`);
            assert.match(r.stderr, why);
            assert.equal(r.stdout, "");
        });
    }
});

// --stream, the intake floor: the writes come from the gateway's change stream, read with mongoc
// on a second thread. Checked: every event is read and gets --per writes; an event for no user
// of the targets, a stream that stays short of --events, or one that cannot be opened ends in
// exit 1 with no result printed.
describe("write-ceiling --stream", () => {
    let mongo, admin;
    before(async () => {
        mongo = await startMongo();
        admin = await adminClient(mongo.uri);
    });
    after(async () => {
        await admin?.client.close();
        await mongo?.stop();
    });

    // Starts write-ceiling on the stream, runs insert() once it watches, resolves to its exit.
    async function streamed(args, insert) {
        const child = spawn(BINARY, ["--sockets", "200", "--targets", "100", "--stream", mongo.uri,
                                     ...args], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "", err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        const exited = new Promise((resolve) => child.on("exit", (status) => resolve(status)));
        await until(() => /watching/.test(err) || child.exitCode !== null, 15000,
                    () => `write-ceiling never watched: ${err}`);
        await insert();
        const status = await withTimeout(exited, 30000, "write-ceiling --stream to exit");
        return { status, out, err };
    }

    const docs = (ids) => ids.map((u, i) => ({ userId: u, type: "t", seq: i }));

    test("every event read, and --per writes for each", async () => {
        const ids = Array.from({ length: 60 }, (_, i) => `user-${1000 + (i % 50)}`);
        const r = await streamed(["--events", "60", "--per", "2", "--user-offset", "1000",
                                  "--seconds", "20"],
                                 async () => {
                                     await admin.notifications.insertMany(docs(ids.slice(0, 25)));
                                     await admin.notifications.insertMany(docs(ids.slice(25)));
                                 });
        assert.equal(r.status, 0, r.err);
        const out = JSON.parse(r.out);
        assert.equal(out.mode, "stream");
        assert.equal(out.writes, 120, "2 writes x 60 events");
        assert.equal(out.wouldBlock, 0);
        assert.equal(out.stream.events, 60);
        assert.equal(out.stream.per, 2);
        assert.ok(out.stream.intakeCpuSeconds > 0, JSON.stringify(out.stream));
        assert.equal(out.paced.targets, 100);
        const l = out.paced.lateUs;
        assert.ok(l.p50 <= l.p99 && l.p99 <= l.p999, JSON.stringify(l));
        assert.ok(out.paced.over5msPercent <= out.paced.over1msPercent);
    });

    test("an event for no user of the targets ends in exit 1", async () => {
        // user-50 is past the 50 users of 100 targets x 2; "someone" is no user-<k> at all
        const r = await streamed(["--events", "3", "--seconds", "20"], () =>
            admin.notifications.insertMany(docs(["user-0", "user-50", "someone"])));
        assert.equal(r.status, 1, r.out);
        assert.match(r.err, /2 events for no user of the --targets/);
        assert.equal(r.out, "");
    });

    test("fewer events than --events within --seconds ends in exit 1", async () => {
        const r = await streamed(["--events", "10", "--seconds", "2"], () =>
            admin.notifications.insertMany(docs(["user-1", "user-2", "user-3"])));
        assert.equal(r.status, 1, r.out);
        assert.match(r.err, /3 of 10 events within 2 s/);
        assert.equal(r.out, "");
    });

    test("a stream that cannot be opened ends in exit 1", async () => {
        const port = await pickFreePort();
        const r = run(["--sockets", "100", "--stream",
                       `mongodb://127.0.0.1:${port}/?replicaSet=rs0&serverSelectionTimeoutMS=300`,
                       "--events", "5", "--seconds", "5"]);
        assert.equal(r.status, 1, r.stdout);
        assert.match(r.stderr, /cannot watch: /);
        assert.equal(r.stdout, "");
    });

    for (const [args, why] of [
        [["--rate", "1000"], /--stream wants no --rate/],
        [["--via-poll", "--events", "5"], /--stream wants no --rate, --via-poll/],
        [[], /--events >= 1/],
        [["--events", "5", "--targets", "101"], /a multiple of --per/],
        [["--events", "5", "--per", "0"], /--per wants a positive number/],
        [["--events", "5", "--user-offset", "x"], /--user-offset wants a positive number/],
    ]) {
        test(`refuses ${args.join(" ") || "no --events"}`, () => {
            const r = run(["--sockets", "200", "--stream", "mongodb://127.0.0.1:1/", ...args]);
            assert.equal(r.status, 2, `exit ${r.status}, stdout ${r.stdout}`);
            assert.match(r.stderr, why);
            assert.equal(r.stdout, "");
        });
    }
});
