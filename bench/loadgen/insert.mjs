// insert.mjs -- inserts benchmark notifications for gw-loadgen at a fixed rate.
//
// Document i goes to user-(offset + i % users) with seq = floor(i / users), so every user's
// seq runs 0, 1, 2, ... in insert order, which is what gw-loadgen checks. sentAt is the wall
// clock in microseconds just before the insert is sent: Date.now() gives milliseconds, so the
// sub-millisecond part comes from the monotonic clock, anchored at a Date.now() tick edge.
// Documents due at the same moment go out in one ordered insertMany (one round trip, oplog
// order = seq order); one batch is in flight at a time, so a slow server shows up as latency
// and as an achieved rate below the asked one (both reported), never as reordering.
//
// With --sent-at scheduled, sentAt is instead the instant the schedule meant the document to
// go out (start + i / rate), so time spent waiting behind a slow insert counts as latency too
// (no coordinated omission); the default, actual, measures from the real send.
//
// Usage: node bench/loadgen/insert.mjs --uri mongodb://127.0.0.1:PORT/?replicaSet=rs0
//          [--db test] [--collection notifications] [--users 1000] [--user-offset 0]
//          [--rate 1000] [--duration 10] [--sent-at actual|scheduled]
// The total is rounded to a whole number per user (printed as perUser, for
// gw-loadgen --expect-per-user). Prints one JSON summary line on stdout.
import { MongoClient } from "mongodb";
import { parseArgs } from "node:util";
import { wallClockUs } from "../lib/measure.mjs";

const { values: opt } = parseArgs({
    options: {
        uri: { type: "string", default: "mongodb://127.0.0.1:27017/?replicaSet=rs0" },
        db: { type: "string", default: "test" },
        collection: { type: "string", default: "notifications" },
        users: { type: "string", default: "1000" },
        "user-offset": { type: "string", default: "0" },
        rate: { type: "string", default: "1000" },
        duration: { type: "string", default: "10" },
        "sent-at": { type: "string", default: "actual" },
    },
});

function positive(name, min) {
    const v = Number(opt[name]);
    if (!Number.isFinite(v) || v < min) {
        console.error(`insert.mjs: --${name} must be a number >= ${min}, not "${opt[name]}"`);
        process.exit(2);
    }
    return v;
}
const users = Math.floor(positive("users", 1));
const offset = Math.floor(positive("user-offset", 0));
const rate = positive("rate", 0.001);
const perUser = Math.max(1, Math.round((rate * positive("duration", 0.001)) / users));
const total = perUser * users;
if (opt["sent-at"] !== "actual" && opt["sent-at"] !== "scheduled") {
    console.error(`insert.mjs: --sent-at must be actual or scheduled, not "${opt["sent-at"]}"`);
    process.exit(2);
}
const scheduled = opt["sent-at"] === "scheduled";

const nowUs = wallClockUs();

const client = new MongoClient(opt.uri, { serverSelectionTimeoutMS: 5000 });
await client.connect();
const coll = client.db(opt.db).collection(opt.collection);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = nowUs();
let sent = 0;
let batches = 0;
while (sent < total) {
    const due = Math.min(total, Math.floor(((nowUs() - t0) * rate) / 1e6) + 1);
    if (due <= sent) {
        await sleep(Math.max(0, Math.min(1, ((sent - due + 1) * 1000) / rate)));
        continue;
    }
    const docs = [];
    const now = nowUs();
    for (; sent < due; sent++)
        docs.push({ userId: `user-${offset + (sent % users)}`, type: "bench",
                    seq: Math.floor(sent / users),
                    sentAt: scheduled ? t0 + Math.floor((sent * 1e6) / rate) : now });
    await coll.insertMany(docs, { ordered: true });
    batches++;
}
const seconds = (nowUs() - t0) / 1e6;
await client.close();
console.log(JSON.stringify({ inserted: total, users, userOffset: offset, perUser, batches,
                             sentAt: opt["sent-at"],
                             seconds: Number(seconds.toFixed(3)),
                             achievedRate: Math.round(total / seconds) }));
