// stream-floor.mjs -- the input path's share of scenario a's latency: insert (gw-insert) ->
// mongo-emu -> change stream event in a Node process, with no Socket.IO and no client socket.
// Both servers receive their notifications through this same path, so what a server adds is
// roughly its measured latency minus this floor.
//
// Usage: node bench/stream-floor.mjs --uri URI --expect N [--timeout SECONDS]
// Prints {"events", "latencyUs": {p50, p99, p999, max}} once N events arrived (or at the
// timeout, with the number that did).
import { MongoClient } from "mongodb";
import { parseArgs } from "node:util";
import { wallClockUs } from "./lib/measure.mjs";

const { values: opt } = parseArgs({
    options: {
        uri: { type: "string" },
        db: { type: "string", default: "test" },
        collection: { type: "string", default: "notifications" },
        expect: { type: "string" },
        timeout: { type: "string", default: "60" },
    },
});
const expect = Number(opt.expect);
if (!opt.uri || !Number.isInteger(expect) || expect < 1) {
    console.error("usage: stream-floor.mjs --uri URI --expect N [--timeout SECONDS]");
    process.exit(2);
}

const nowUs = wallClockUs();

const client = new MongoClient(opt.uri);
await client.connect();
const stream = client.db(opt.db).collection(opt.collection)
    .watch([{ $match: { operationType: "insert" } }]);
const lat = [];
let done;
const finished = new Promise((r) => (done = r));
stream.on("change", (ev) => {
    lat.push(nowUs() - Number(ev.fullDocument.sentAt));
    if (lat.length >= expect) done();
});
// The stream is open once its first resume token arrived; say so for the script to insert.
stream.once("resumeTokenChanged", () => console.error("stream-floor: watching"));
const timer = setTimeout(done, Number(opt.timeout) * 1000);
await finished;
clearTimeout(timer);
await stream.close();
await client.close();
lat.sort((a, b) => a - b);
const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null);
console.log(JSON.stringify({ events: lat.length, expected: expect,
                             latencyUs: { p50: q(0.5), p99: q(0.99), p999: q(0.999),
                                          max: lat.length ? lat[lat.length - 1] : null } }));
