// run.mjs -- runs every benchmark scenario of issue 7 against notify-gateway and against the Node
// peer (bench/peer) in the same invocation and writes bench/results/<date>-<sha>.{md,json} and
// bench/results/latest.md. See bench/README.md for what each figure means.
//
// DESIGN. Each round starts, for each server in turn (A B, then B A, ...: alternating so a
// drift of the shared machine hits both), a fresh mongo-emu and a fresh server, runs the
// scenarios c (idle connections and memory), d (handshake rates), a (latency), b (maximum
// deliveries/s) and e (a change event's cost with nobody connected), then a once more at half
// the deliveries/s that server reached at b's first shape (the latency target "at half the
// maximum rate"), and stops both. The server is pinned to core 0; everything else
// (mongo-emu, every gw-loadgen process, gw-insert) to core 1, the same for both servers:
// mongo-emu is the input path, not the system under test, so it must not take the server's
// core, and it gets the same core whichever server runs. Each scenario records the server's CPU
// time (/proc/<pid>/stat) and both cores' busy share (/proc/stat), so a reader can see whether
// the server or the load side was the bottleneck. The reported figure is the median over the
// rounds, with the range. A scenario in which any notification was lost or duplicated, any
// connection failed or dropped, or the generator saw a protocol error is marked INVALID.
//
// Usage: node bench/run.mjs [--quick] [--rounds N] [--build DIR] [--only a,b,c,d,e]
//                           [--servers gateway,peer] [--out DIR] [--gateway-bin FILE]
//                           [--perf DIR] [--shapes 10000x1,1x5000] [--instructions]
//                           [--rates 1000,7900]
// --gateway-bin runs another gateway build (e.g. an older commit, for a before/after figure);
// --perf DIR records each server with `perf record -g` into DIR/<server>-<round>.data, and each
// b shape's delivery window alone (DWARF call graphs) into DIR/<server>-<round>-b-<shape>.data;
// --shapes runs only those b shapes; --instructions counts the server's instructions (user and
// kernel, `perf stat`) over each b window: per delivery, a figure the machine's noise hardly
// moves, for before/after comparisons of the same work. --rates replaces a's notification
// rates (per second, each to 2 sockets), e.g. to study one rate alone with --only a.
// Every process it starts listens on or connects to 127.0.0.0/8 only, and each phase has a
// time bound; the script stops what it started (by pid) on exit.
import { spawn, execFileSync } from "node:child_process";
import { randomBytes, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";

import { cpuSeconds, cpuWindow, median, sleep } from "./lib/measure.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = dirname(here);

const { values: opt } = parseArgs({
    options: {
        quick: { type: "boolean", default: false },
        rounds: { type: "string" },
        build: { type: "string", default: process.env.BUILD_DIR || join(repo, "build") },
        only: { type: "string", default: "c,d,a,b,e" },
        servers: { type: "string", default: "gateway,peer" },
        out: { type: "string", default: join(here, "results") },
        "gateway-bin": { type: "string" },
        perf: { type: "string" },
        shapes: { type: "string" },
        instructions: { type: "boolean", default: false },
        rates: { type: "string" },
        "tick-us": { type: "string", default: "1000" },
    },
});

const quick = opt.quick;
const rounds = Number(opt.rounds ?? (quick ? 1 : 3));
const only = new Set(opt.only.split(","));
const serverNames = opt.servers.split(",");
const SERVER_CPU = "0";
const LOAD_CPU = "1";

// Sizes: the full matrix, or --quick (one round, smaller counts, under 3 minutes).
const P = quick
    ? { idleConns: 6000, hsConns: 3000, bgIdle: 2000, latUsers: 500, latSeconds: 4,
        latRates: [100, 1000, 5000],
        max: [{ users: 2000, per: 1, rate: 20000, seconds: 2 },
              { users: 200, per: 16, rate: 5000, seconds: 2 },
              { users: 1, per: 2000, rate: 50, seconds: 2 }],
        ceiling: [2000, 3200] }
    : { idleConns: 19500, hsConns: 10000, bgIdle: 10000, latUsers: 1000, latSeconds: 10,
        latRates: [100, 1000, 5000],
        // A backlog of rate x seconds notifications (180k-450k deliveries), inserted while the
        // server is stopped: small enough that the slower server drains it well within
        // pingInterval + pingTimeout (45 s; see README).
        max: [{ users: 10000, per: 1, rate: 60000, seconds: 3 },
              { users: 1000, per: 16, rate: 6250, seconds: 3 },
              { users: 1, per: 5000, rate: 30, seconds: 3 }],
        ceiling: [10000, 16000, 5000] };

if (opt.rates) {
    P.latRates = opt.rates.split(",").map(Number);
    if (!P.latRates.every((r) => Number.isInteger(r) && r > 0)) {
        console.error(`run.mjs: --rates wants positive integers separated by commas, got "${opt.rates}"`);
        process.exit(2);
    }
}

if (!(Number(opt["tick-us"]) >= 0)) {
    console.error(`run.mjs: --tick-us wants a number of microseconds >= 0, got "${opt["tick-us"]}"`);
    process.exit(2);
}

const bin = {
    gateway: opt["gateway-bin"] || join(opt.build, "notify-gateway"),
    emu: join(opt.build, "tools/mongo-emu/mongo-emu"),
    loadgen: join(opt.build, "bench/loadgen/gw-loadgen"),
    ceiling: join(opt.build, "bench/ceiling/write-ceiling"),
    streamCeiling: join(opt.build, "bench/ceiling/stream-ceiling"),
    stallProbe: join(opt.build, "bench/ceiling/stall-probe"),
    insert: join(opt.build, "bench/loadgen/gw-insert"),
};
for (const [k, p] of Object.entries(bin))
    if (!existsSync(p)) {
        console.error(`run.mjs: ${k} not found at ${p}: build first (cmake --build ${opt.build})`);
        process.exit(2);
    }

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
// ---- processes -----------------------------------------------------------------------------

const live = new Set();
// The input path (mongo-emu and gw-insert) runs at SCHED_FIFO priority 10 on the load core when
// the runner may set it. Both use a small share of that core, but at normal priority the
// generators beside them held them off it for 10-33 ms at a time (mongo-emu's own CPU in such a
// stretch: 0.2-0.6 ms), and the events of that stretch then reached the server in one burst.
// A deployment has its store on another machine; this keeps the shared core's clients from
// shaping the input. The same for both servers; printed in the header and the JSON.
const INPUT_RT = (() => {
    try {
        execFileSync("chrt", ["-f", "10", "true"], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
})();

function start(name, cmd, args, { cpu, env = {}, quiet = true, rt = false } = {}) {
    const argv = [...(rt && INPUT_RT ? ["chrt", "-f", "10"] : []), "taskset", "-c", cpu, cmd, ...args];
    const child = spawn(argv[0], argv.slice(1), {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    const proc = { name, child, pid: child.pid, out: "", err: "", exited: null };
    child.stdout.on("data", (d) => (proc.out += d));
    child.stderr.on("data", (d) => {
        proc.err += d;
        if (!quiet) process.stderr.write(d);
    });
    proc.exited = new Promise((resolve) =>
        child.on("exit", (code, sig) => {
            live.delete(child);
            resolve({ code, sig });
        }));
    return proc;
}

async function waitText(proc, re, ms) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
        if (re.test(proc.err) || re.test(proc.out)) return true;
        if (proc.child.exitCode !== null) break;
        await sleep(20);
    }
    throw new Error(`${proc.name}: no ${re} within ${ms} ms; stderr: ${proc.err.slice(-400)}`);
}

async function stop(proc, ms = 5000) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
    proc.child.kill("SIGTERM");
    const t = setTimeout(() => proc.child.kill("SIGKILL"), ms);
    const r = await proc.exited;
    clearTimeout(t);
    return r;
}

function cleanup() {
    for (const c of live) c.kill("SIGKILL");
}
process.on("exit", cleanup);
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => process.exit(130));

// ---- measurements --------------------------------------------------------------------------

function memKb(pid) {
    const st = readFileSync(`/proc/${pid}/status`, "utf8");
    const rss = Number(/VmRSS:\s+(\d+)/.exec(st)[1]);
    let pd = null;
    try {
        const r = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
        pd = Number(/Private_Dirty:\s+(\d+)/.exec(r)[1]);
    } catch {}
    const fds = Number(execFileSync("ls", [`/proc/${pid}/fd`]).toString().split("\n").length - 1);
    return { rss, privateDirty: pd, fds };
}

function kernelMem() {
    const mi = readFileSync("/proc/meminfo", "utf8");
    const slab = Number(/Slab:\s+(\d+)/.exec(mi)[1]);
    const ss = readFileSync("/proc/net/sockstat", "utf8");
    const tcp = /TCP: inuse (\d+) orphan \d+ tw (\d+) alloc (\d+) mem (\d+)/.exec(ss);
    return { slabKb: slab, tcpInuse: Number(tcp[1]), tcpTw: Number(tcp[2]),
             tcpMemPages: Number(tcp[4]) };
}

// A window over which the server's CPU and both cores' busy shares are measured.
const window = (server) => cpuWindow(server.pid, SERVER_CPU, LOAD_CPU);

function health(port) {
    return new Promise((resolve) => {
        const req = get({ host: "127.0.0.1", port, path: "/api/health", timeout: 1000 }, (res) => {
            res.resume();
            resolve(res.statusCode);
        });
        req.on("error", () => resolve(0));
        req.on("timeout", () => req.destroy());
    });
}

// ---- the load side -------------------------------------------------------------------------

let srcBlock = 0;
// Four source addresses per generator process, a new block each time, so processes never share
// ephemeral ports and TIME_WAIT left by one phase does not crowd the next.
function sources() {
    const b = srcBlock++ % 60;
    return `127.0.0.${2 + b * 4}-127.0.0.${5 + b * 4}`;
}

let reportSeq = 0;
function loadgen(ctx, { users, per, offset = 0, hold, concurrency = 256, alg = "HS256",
                        expect, untilComplete = false }) {
    const report = join(ctx.tmp, `lg-${reportSeq++}.json`);
    const args = ["--url", `http://127.0.0.1:${ctx.port}`, "--users", String(users),
                  "--sockets-per-user", String(per), "--user-offset", String(offset),
                  "--sources", sources(), "--ramp", "0", "--concurrency", String(concurrency),
                  "--hold", String(hold), "--timeout", "30", "--report", report];
    if (alg === "RS256") args.push("--alg", "RS256", "--key", ctx.rsaKey);
    else args.push("--secret", ctx.secret);
    if (expect !== undefined) args.push("--expect-per-user", String(expect));
    if (untilComplete) args.push("--until-complete");
    const p = start(`gw-loadgen#${reportSeq}`, bin.loadgen, args, { cpu: LOAD_CPU });
    p.settled = () => waitText(p, /gw-loadgen: settled/, 120000);
    // Every expected notification arrived (--until-complete), or the generator ended without.
    p.completed = () => waitText(p, /gw-loadgen: complete:/, 200000).catch(() => {});
    p.report = async () => {
        const r = await p.exited;
        if (r.code !== 0) throw new Error(`gw-loadgen exited ${r.code}: ${p.err.slice(-400)}`);
        return JSON.parse(readFileSync(report, "utf8"));
    };
    return p;
}

// Splits sockets over processes: by users when there are enough, else by sockets per user.
function split(users, per, procs) {
    if (users >= procs)
        return Array.from({ length: procs }, (_, i) => ({
            users: Math.floor(users / procs) + (i < users % procs ? 1 : 0),
            offset: i * Math.floor(users / procs) + Math.min(i, users % procs), per }));
    return Array.from({ length: procs }, (_, i) => ({
        users, offset: 0, per: Math.floor(per / procs) + (i < per % procs ? 1 : 0) }));
}

// sentAt "actual" (the instant the insert goes out) for latency: the inserter's timer wakes up to
// a millisecond late, which "scheduled" would count as server latency at low rates, and the
// inserter waits only on mongo-emu, never on the server under test, so a server stall cannot
// hold inserts back and hide itself (no coordinated omission on the server's side).
async function insert(ctx, { users, offset = 0, rate, seconds, sentAt = "actual" }) {
    const p = start("gw-insert", bin.insert,
                    ["--uri", ctx.mongoUri, "--users", String(users), "--user-offset", String(offset),
                     "--rate", String(rate), "--duration", String(seconds), "--sent-at", sentAt,
                     "--tick-us", opt["tick-us"]],
                    { cpu: LOAD_CPU, rt: true });
    const r = await p.exited;
    if (r.code !== 0) throw new Error(`gw-insert exited ${r.code}: ${p.err.slice(-400)}`);
    return JSON.parse(p.out.trim().split("\n").pop());
}

// What went wrong in a set of generator reports, or null when every check held.
function problems(reports) {
    const sum = (f) => reports.reduce((a, r) => a + f(r), 0);
    const n = reports.map((r) => r.notifications);
    const bad = {
        failed: sum((r) => r.connections.failed),
        dropped: sum((r) => Object.values(r.connections.droppedAfterReady).reduce((a, b) => a + b, 0)),
        protocolErrors: sum((r) => Object.values(r.connections.protocolErrors).reduce((a, b) => a + b, 0)),
        lost: n.reduce((a, x) => a + x.lost, 0),
        duplicates: n.reduce((a, x) => a + x.duplicates, 0),
        reordered: n.reduce((a, x) => a + x.reordered, 0),
        crossUser: n.reduce((a, x) => a + x.crossUser, 0),
        malformed: n.reduce((a, x) => a + x.malformed, 0),
    };
    const left = Object.fromEntries(Object.entries(bad).filter(([, v]) => v > 0));
    return Object.keys(left).length ? left : null;
}

function genCpu(reports, wall) {
    const s = reports.reduce((a, r) => a + r.cpu.userSeconds + r.cpu.systemSeconds, 0);
    return { seconds: round(s, 2), shareOfLoadCore: round(s / wall, 2) };
}

const round = (x, d = 1) => (x === null || x === undefined ? null : Number(x.toFixed(d)));

// ---- servers -------------------------------------------------------------------------------

// A fresh mongo-emu on the load core at port; resolves once it listens.
async function startEmu(port, args = []) {
    const emu = start("mongo-emu", bin.emu, ["--port", String(port), ...args], { cpu: LOAD_CPU, rt: true });
    try {
        await waitText(emu, /listening/, 5000);
    } catch (e) {
        await stop(emu);
        throw e;
    }
    return { emu, uri: `mongodb://127.0.0.1:${port}/?replicaSet=rs0` };
}

// b's backlog: the inserts go in while the reader (a server, or stream-ceiling) is stopped, and
// it is continued once mongo-emu holds them all, so it drains them at its own pace whatever
// the input path on the load core sustains.
async function insertWhileStopped(ctx, pid, params) {
    process.kill(pid, "SIGSTOP");
    try {
        return await insert(ctx, params);
    } finally {
        process.kill(pid, "SIGCONT");
    }
}

let portSeq = 0;
async function startServer(name, ctx) {
    const k = portSeq++;
    // Below the ephemeral range, and a fresh pair of ports for every server started.
    ctx.port = 20000 + (process.pid % 100) * 100 + (k % 50) * 2;
    const { emu, uri } = await startEmu(ctx.port + 1, ["--oplog-size", "5000000"]);
    ctx.mongoUri = uri;
    const env = {
        PORT: String(ctx.port), HOST: "127.0.0.1", MONGODB_URI: ctx.mongoUri,
        JWT_SECRET: ctx.secret, JWT_PUBLIC_KEY_FILE: ctx.rsaPub,
        NOTIFICATIONS_COLLECTION: "notifications", NOTIFICATION_EVENT: "notification",
    };
    let server;
    if (name === "gateway")
        server = start("notify-gateway", bin.gateway, [], {
            cpu: SERVER_CPU,
            // The peer's job, no more: no catch-up read per connect (the peer has none, and on
            // mongo-emu, which has no index, those reads saturate the input path; see README),
            // no per-address handshake limit (every generator connects from a few addresses).
            env: { ...env, ENABLE_CHANGE_STREAMS: "true", MAX_SOCKETS_PER_USER: "10000",
                   HANDSHAKE_RATE_PER_IP: "0", CLIENT_EVENTS_PER_SECOND: "0",
                   CATCHUP_MAX_COUNT: process.env.GW_BENCH_CATCHUP_MAX_COUNT ?? "0",
                   LOG_FORMAT: "text" },
        });
    else
        server = start("peer", process.execPath, [join(here, "peer/server.mjs")],
                       { cpu: SERVER_CPU, env });
    const until = Date.now() + 15000;
    while ((await health(ctx.port)) !== 200) {
        if (Date.now() > until || server.child.exitCode !== null)
            throw new Error(`${name} did not become healthy: ${server.err.slice(-600)}`);
        await sleep(100);
    }
    return { server, emu };
}

// ---- scenarios -----------------------------------------------------------------------------

// c: ramp to P.idleConns idle authenticated sockets (two generator processes), then memory.
async function scenarioIdle(ctx, server) {
    const n = P.idleConns;
    const m0 = memKb(server.pid), k0 = kernelMem();
    const w = window(server);
    const parts = split(n, 1, 2);
    const gens = parts.map((p) => loadgen(ctx, { users: p.users, per: 1, offset: p.offset,
                                                 hold: 8, concurrency: 256 }));
    await Promise.all(gens.map((g) => g.settled()));
    const ramp = w();
    await sleep(3000); // let the server's heap and the kernel settle before sampling
    const m1 = memKb(server.pid), k1 = kernelMem();
    const reports = await Promise.all(gens.map((g) => g.report()));
    const held = reports.reduce((a, r) => a + r.connections.established, 0);
    const settle = Math.max(...reports.map((r) => r.settleSeconds));
    return {
        planned: n, held, failed: reports.reduce((a, r) => a + r.connections.failed, 0),
        problems: problems(reports),
        rampSeconds: round(settle, 2), rampHandshakesPerSecond: round(held / settle, 0),
        serverCpuUsPerHandshake: round((ramp.serverCpu * 1e6) / held, 1),
        serverFds: m1.fds,
        userKbPerConn: round((m1.rss - m0.rss) / held, 2),
        privateDirtyKbPerConn: m1.privateDirty === null ? null
            : round((m1.privateDirty - m0.privateDirty) / held, 2),
        kernelSlabKbPerConn: round((k1.slabKb - k0.slabKb) / held, 2),
        tcpMemPagesDelta: k1.tcpMemPages - k0.tcpMemPages,
        rssKbBefore: m0.rss, rssKbHeld: m1.rss,
        cores: { server: round(ramp.serverCore, 2), load: round(ramp.loadCore, 2) },
        generator: genCpu(reports, ramp.wall),
    };
}

// d: closed-loop handshakes (concurrency 256) into a server that keeps every socket open.
async function scenarioHandshake(ctx, server, alg) {
    const w = window(server);
    const g = loadgen(ctx, { users: P.hsConns, per: 1, offset: 0, hold: 0, concurrency: 256, alg });
    const r = await g.report();
    const win = w();
    await sleep(1500); // the closes drain before the next phase
    return {
        alg, connections: r.connections.established, failed: r.connections.failed,
        problems: problems([r]),
        handshakesPerSecond: round(r.handshakesPerSecond, 0),
        handshakeUs: { p50: r.handshakeUs.p50, p99: r.handshakeUs.p99, max: r.handshakeUs.max },
        serverCpuUsPerHandshake: round((win.serverCpu * 1e6) / r.connections.established, 1),
        cores: { server: round(win.serverCore, 2), load: round(win.loadCore, 2) },
        generator: { seconds: round(r.cpu.userSeconds + r.cpu.systemSeconds, 2),
                     shareOfLoadCore: round(r.cpu.busy, 2) },
    };
}

// The gateway's /metrics text.
function scrape(port) {
    return new Promise((resolve, reject) => {
        const req = get({ host: "127.0.0.1", port, path: "/metrics", timeout: 5000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve(body));
        });
        req.on("error", reject);
        req.on("timeout", () => req.destroy(new Error("/metrics timed out")));
    });
}

// A histogram from the gateway's /metrics, its bounds and sum multiplied by scale (1e6: seconds
// to microseconds), or null when the gateway does not export it (--gateway-bin of an older
// commit): cumulative counts by bucket upper edge (Infinity for +Inf), and the sum.
async function histogram(port, name, scale) {
    const buckets = [];
    let sum = null;
    for (const line of (await scrape(port)).split("\n")) {
        const b = /^(\S+)_bucket\{le="([^"]+)"\} (\d+)$/.exec(line);
        if (b && b[1] === name)
            buckets.push([b[2] === "+Inf" ? Infinity : Math.round(Number(b[2]) * scale), Number(b[3])]);
        else if (line.startsWith(`${name}_sum `))
            sum = Number(line.slice(name.length + 5)) * scale;
    }
    return buckets.length ? { buckets, sum } : null;
}

// One sample's value from the gateway's /metrics (`series` with its labels), or null.
async function metricValue(port, series) {
    const line = (await scrape(port)).split("\n").find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : null;
}

const dispatchHistogram = (port) => histogram(port, "notify_gateway_dispatch_latency_seconds", 1e6);
const batchHistogram = (port) => histogram(port, "notify_gateway_dispatch_batch_notifications", 1);

// What a histogram saw between two scrapes: the observations, their mean, and each quantile as
// the upper edge of the bucket it falls in (null past the last finite bound).
function histDelta(before, after) {
    const buckets = after.buckets.map(([le, n], i) => [le, n - before.buckets[i][1]]);
    const n = buckets.at(-1)[1];
    const edge = (q) => {
        if (!n) return null;
        const le = buckets.find(([, c]) => c >= Math.ceil(q * n))[0];
        return le === Infinity ? null : le;
    };
    return { n, edge, mean: n ? round((after.sum - before.sum) / n, 1) : null,
             buckets: buckets.map(([le, c]) => [le === Infinity ? "+Inf" : le, c]) };
}

// The dispatch histogram's delta: the gateway's own share of each delivery.
function gatewayShare(before, after) {
    const d = histDelta(before, after);
    const within5ms = d.buckets.find(([edge]) => edge === 5000)?.[1];
    return { deliveries: d.n, p50Us: d.edge(0.5), p99Us: d.edge(0.99), p999Us: d.edge(0.999),
             meanUs: d.mean, bucketsUs: d.buckets,
             over5msPercent: within5ms === undefined ? undefined
                 : round(((d.n - within5ms) * 100) / Math.max(1, d.n), 2) };
}

// The batch histogram's delta: notifications the loop took per wake-up.
function batchShare(before, after) {
    const d = histDelta(before, after);
    return { batches: d.n, mean: d.mean, p50: d.edge(0.5), p99: d.edge(0.99), buckets: d.buckets };
}

// mongo-emu's counters of change-stream getMore replies ({emuStreamStats: 1}).
async function emuStreamStats(ctx) {
    const c = new MongoClient(ctx.mongoUri, { serverSelectionTimeoutMS: 5000 });
    try {
        return await c.db("admin").command({ emuStreamStats: 1 });
    } finally {
        await c.close();
    }
}

// How the server's change stream received the events between two reads of those counters:
// getMore replies by events per reply (bucket i: up to 2^i), for getMores that were waiting
// when the events arrived ("waited": they came together) and for those that found them there
// ("ready": the server asked late).
function inputBatches(a, b) {
    const out = {};
    for (const k of ["waited", "ready"]) {
        const byBucket = b[k].replies.map((n, i) => n - a[k].replies[i]);
        const replies = byBucket.reduce((x, y) => x + y, 0);
        const events = b[k].events - a[k].events;
        const largest = byBucket.findLastIndex((n) => n > 0);
        out[k] = { replies, events, meanEvents: replies ? round(events / replies, 1) : null,
                   over64: byBucket.slice(7).reduce((x, y) => x + y, 0),
                   largestUpTo: largest < 0 ? null : 2 ** largest,
                   byBucket, eventsByBucket: b[k].eventsByBucket.map((n, i) => n - a[k].eventsByBucket[i]) };
    }
    return out;
}

// A floor under any server's latency from the way the events arrived: in a reply of n events,
// each to `per` sockets, the k-th delivery cannot be written before k - 1 writes at the raw
// ceiling's cost, so it comes at least (k - 1) x usPerWrite after the reply: max(0, n x per -
// onTime) deliveries of it are late. That is convex in n, so counting a bucket's replies all
// at the bucket's mean size undercounts: the result is the least share of deliveries later
// than limitUs. Above 1 %, no server writing from this core meets a p99 of limitUs with this
// input. Only the replies to getMores that were waiting count: events that found the getMore
// late had waited for the server, which is the server's share.
function burstFloor(input, per, deliveries, usPerWrite, limitUs) {
    const onTime = Math.floor(limitUs / usPerWrite) + 1;
    const w = input.waited;
    let late = 0;
    w.byBucket.forEach((n, i) => {
        if (n) late += n * Math.max(0, (w.eventsByBucket[i] / n) * per - onTime);
    });
    late = Math.floor(late);
    return { limitUs, usPerWrite, lateDeliveries: late,
             sharePercent: round((late * 100) / Math.max(1, deliveries), 2) };
}

// a: insert -> client latency at each rate, with P.bgIdle idle sockets held beside the measured
// set (P.latUsers users x 2 sockets, a fresh generator per rate so seq restarts at 0). For the
// gateway also its own share of each delivery (change event in -> socket write), from its
// dispatch histogram scraped around each rate's window; the peer has no such figure.
async function scenarioLatency(ctx, server, rates = P.latRates) {
    const own = server.name === "notify-gateway";
    const bg = split(P.bgIdle / 2, 2, 2).map((p) =>
        loadgen(ctx, { users: p.users, per: 2, offset: 1000000 + p.offset, hold: 3600 }));
    await Promise.all(bg.map((g) => g.settled()));
    const out = {};
    for (const rate of rates) {
        // Only where the machine's noise can matter: at a's low rates a write is never late.
        const floor = rate * 2 > 10000 ? { ...pacedFloors(rate * 2), stream: await streamFloor(ctx, rate) }
            : undefined;
        for (const [k, f] of Object.entries(floor ?? {}))
            log(`paced write floor (${k}) at ${rate * 2} writes/s: p50 ${f.lateUs.p50} p99 ` +
                `${f.lateUs.p99} us, ${f.over5msPercent} % later than 5 ms, core ${f.busy} busy` +
                (f.input ? `, ${f.usPerDelivery} us a delivery (intake ${f.intakeUsPerEvent} us an event); ` +
                 `its getMores that waited: mean ${f.input.waited.meanEvents} events, ` +
                 `${f.input.waited.over64} with > 64, largest <= ${f.input.waited.largestUpTo}` : ""));
        const expect = Math.max(1, Math.round((rate * P.latSeconds) / P.latUsers));
        const g = loadgen(ctx, { users: P.latUsers, per: 2, offset: 0, hold: P.latSeconds + 30,
                                 expect, untilComplete: true });
        await g.settled();
        const h0 = own ? await dispatchHistogram(ctx.port) : null;
        const q0 = own ? await batchHistogram(ctx.port) : null;
        const e0 = await emuStreamStats(ctx);
        const w = window(server);
        const ins = await insert(ctx, { users: P.latUsers, rate, seconds: P.latSeconds });
        const r = await g.report();
        const win = w();
        const input = inputBatches(e0, await emuStreamStats(ctx));
        log(`gw-insert at ${rate}/s: ${ins.batches} inserts, largest ${ins.largestBatch} documents, ` +
            `slowest round trip ${ins.slowestInsertUs} us, ${ins.cpuSeconds} s CPU`);
        log(`${server.name}'s change stream at ${rate}/s: ` + ["waited", "ready"].map((k) =>
            `${input[k].replies} getMores that ${k === "waited" ? "waited" : "found events ready"} ` +
            `(mean ${input[k].meanEvents} events, ${input[k].over64} with > 64, largest <= ` +
            `${input[k].largestUpTo})`).join(", "));
        const usPerWrite = ctx.ceiling?.[0]?.usPerWrite;
        const floors = usPerWrite ? [1000, 5000].map((l) =>
            burstFloor(input, 2, r.notifications.received, usPerWrite, l)) : null;
        if (floors)
            log(`at the raw write ceiling (${usPerWrite} us a write) these bursts alone make ` +
                floors.map((f) => `${f.sharePercent.toFixed(2)} % of deliveries later than ` +
                           `${f.limitUs / 1000} ms`).join(", "));
        const h1 = h0 ? await dispatchHistogram(ctx.port) : null;
        const share = h1 ? gatewayShare(h0, h1) : undefined;
        const q1 = q0 ? await batchHistogram(ctx.port) : null;
        const batches = q1 ? batchShare(q0, q1) : undefined;
        if (batches)
            log(`gateway's dispatch batches at ${rate}/s: mean ${batches.mean}, p50 <= ${batches.p50}, ` +
                `p99 <= ${batches.p99} notifications over ${batches.batches} wake-ups`);
        if (share)
            log(`gateway's own share at ${rate}/s: p50 <= ${share.p50Us} p99 <= ${share.p99Us} ` +
                `p99.9 <= ${share.p999Us} us over ${share.deliveries} deliveries, ` +
                `${share.over5msPercent} % later than 5 ms`);
        out[rate] = {
            rate, achievedRate: ins.achievedRate, deliveries: r.notifications.received,
            problems: problems([r]),
            latencyUs: { p50: r.latencyUs.p50, p99: r.latencyUs.p99, p999: r.latencyUs.p999,
                         max: r.latencyUs.max },
            serverCpuUsPerDelivery: round((win.serverCpu * 1e6) / Math.max(1, r.notifications.received), 1),
            cores: { server: round(win.serverCore, 2), load: round(win.loadCore, 2) },
            gatewayShare: share,
            dispatchBatches: batches,
            inputBatches: input,
            burstFloor: floors && Object.fromEntries(floors.map((f) => [f.limitUs, f])),
            pacedFloors: floor,
        };
    }
    for (const g of bg) g.child.kill("SIGTERM");
    const bgReports = await Promise.all(bg.map((g) => g.report()));
    const bgProblems = problems(bgReports);
    if (bgProblems) for (const k of Object.keys(out)) out[k].problems = { ...out[k].problems, idle: bgProblems };
    await sleep(1500);
    return out;
}

// b: the maximum deliveries/s for one shape: a backlog of notifications inserted while the
// server is stopped, then drained; the rate is what the clients received over their receive
// window.
async function scenarioMax(ctx, server, shape, perfFile) {
    const { users, per, rate, seconds } = shape;
    const procs = users * per >= 4000 ? 2 : 1;
    const expect = Math.max(1, Math.round((rate * seconds) / users));
    const gens = split(users, per, procs).map((p) =>
        loadgen(ctx, { users: p.users, per: p.per, offset: p.offset, hold: 180, expect,
                       untilComplete: true }));
    await Promise.all(gens.map((g) => g.settled()));
    const m0 = memKb(server.pid);
    let peakRss = m0.rss;
    const sampler = setInterval(() => {
        try {
            peakRss = Math.max(peakRss, memKb(server.pid).rss);
        } catch {}
    }, 250);
    const perf = perfFile && start("perf", "perf", ["record", "-F", "999", "--call-graph", "dwarf,16384",
                                                    "-p", String(server.pid), "-o", perfFile],
                                   { cpu: LOAD_CPU });
    const stat = opt.instructions &&
        start("perf-stat", "perf", ["stat", "-x", ",", "-e", "instructions:u,instructions:k",
                                    "-p", String(server.pid)], { cpu: LOAD_CPU });
    if (perf || stat) await sleep(500);
    const q0 = server.name === "notify-gateway" ? await batchHistogram(ctx.port) : null;
    // Offered live instead, the figure would be capped by what the input path sustains (60k
    // inserts/s was the server's limit on one machine and the input's on a faster one).
    const ins = await insertWhileStopped(ctx, server.pid, { users, rate, seconds });
    const w = window(server);
    // The window ends when the last generator has everything, before the generators close
    // their sockets: the server's work on those closes is not a delivery's.
    await Promise.all(gens.map((g) => g.completed()));
    const win = w();
    const batches = q0 ? batchShare(q0, await batchHistogram(ctx.port)) : undefined;
    clearInterval(sampler);
    if (perf) {
        perf.child.kill("SIGINT");
        await perf.exited;
    }
    let instructions;
    if (stat) {
        stat.child.kill("SIGINT");
        await stat.exited;
        // CSV lines: count,unit,event,...; the count is "<not counted>" when the virtual PMU did
        // not schedule the counter (seen now and then on this VM): then no figure, not a zero.
        const count = (ev) => {
            const n = Number(stat.err.split("\n").find((l) => l.split(",")[2] === ev)?.split(",")[0]);
            return Number.isFinite(n) ? n : null;
        };
        instructions = { user: count("instructions:u"), kernel: count("instructions:k") };
    }
    const reports = await Promise.all(gens.map((g) => g.report()));
    const first = Math.min(...reports.map((r) => r.noticeWindowUs[0]).filter((x) => x > 0));
    const last = Math.max(...reports.map((r) => r.noticeWindowUs[1]));
    const deliveries = reports.reduce((a, r) => a + r.notifications.received, 0);
    const recvSeconds = (last - first) / 1e6;
    await sleep(1500);
    return {
        shape: `${users} x ${per}`, sockets: users * per, offered: ins.inserted * per,
        insertRate: ins.achievedRate, deliveries, problems: problems(reports),
        deliveriesPerSecond: round(deliveries / recvSeconds, 0),
        serverCpuUsPerDelivery: round((win.serverCpu * 1e6) / Math.max(1, deliveries), 2),
        serverBusyInWindow: round(win.serverCpu / recvSeconds, 2),
        dispatchBatches: batches,
        latencyUs: { p50: Math.max(...reports.map((r) => r.latencyUs.p50)),
                     p99: Math.max(...reports.map((r) => r.latencyUs.p99)) },
        peakRssKb: peakRss, rssGrowthKb: peakRss - m0.rss,
        cores: { server: round(win.serverCore, 2), load: round(win.loadCore, 2) },
        generator: genCpu(reports, win.wall),
        instructionsPerDelivery: instructions && Object.fromEntries(
            Object.entries(instructions).map(([k, n]) => [k, n === null ? null : Math.round(n / Math.max(1, deliveries))])),
    };
}

// e: what a change event costs the server when there is nobody to deliver it to: b's first
// shape's inserts (10k users x 1), but with no socket connected, so the server reads, decodes
// and drops each event, at the rate the input path manages, with a loop thread that has nothing
// else to do (so, for the gateway, small dispatch batches: their mean is reported too). The
// window ends once the gateway's skipped_offline counter has counted every insert (INVALID if
// it never does), or for the peer once its CPU stops moving.
async function scenarioEvents(ctx, server) {
    const { users, rate, seconds } = P.max[0];
    const own = server.name === "notify-gateway";
    const skipped = 'notify_gateway_events_total{outcome="skipped_offline"}';
    const k0 = own ? await metricValue(ctx.port, skipped) : null;
    const q0 = own ? await batchHistogram(ctx.port) : null;
    const w = window(server);
    // Users of their own: nobody connected in b may still be on its way out.
    const ins = await insert(ctx, { users, offset: 2000000, rate, seconds });
    // Drained: the gateway has counted every event; the peer, which has no such counter, once
    // its CPU stops moving. A stall of the machine can look like idleness, so the gateway's
    // count is not only the validity check but also what the wait waits for.
    const seen = async () => (await metricValue(ctx.port, skipped)) - k0;
    let cpu = cpuSeconds(server.pid);
    const drained = async () => {
        if (own) return (await seen()) >= ins.inserted;
        const was = cpu;
        cpu = cpuSeconds(server.pid);
        return cpu - was < 0.003;
    };
    const deadline = Date.now() + 120000;
    do await sleep(300);
    while (Date.now() < deadline && !(await drained()));
    const win = w();
    const counted = own ? await seen() : null;
    return {
        events: ins.inserted, insertRate: ins.achievedRate,
        problems: own && counted !== ins.inserted ? { eventsSeen: counted, inserted: ins.inserted } : null,
        serverCpuUsPerEvent: round((win.serverCpu * 1e6) / Math.max(1, ins.inserted), 2),
        dispatchBatches: q0 ? batchShare(q0, await batchHistogram(ctx.port)) : undefined,
        cores: { server: round(win.serverCore, 2), load: round(win.loadCore, 2) },
    };
}

// The input path alone: insert -> mongo-emu -> a Node change stream on the server's core, at
// the latency scenario's lower rates, or at every rate --rates names. What a server adds is its
// latency minus this floor.
async function inputFloor(ctx) {
    const out = {};
    for (const rate of opt.rates ? P.latRates : P.latRates.filter((r) => r <= 1000)) {
        const { emu, uri } = await startEmu(20000 + (process.pid % 100) * 100 + 98);
        try {
            ctx.mongoUri = uri;
            const expect = Math.max(1, Math.round((rate * P.latSeconds) / P.latUsers)) * P.latUsers;
            const floor = start("stream-floor", process.execPath,
                                [join(here, "stream-floor.mjs"), "--uri", ctx.mongoUri,
                                 "--expect", String(expect), "--timeout", String(P.latSeconds + 30)],
                                { cpu: SERVER_CPU });
            await waitText(floor, /watching/, 10000);
            await insert(ctx, { users: P.latUsers, rate, seconds: P.latSeconds });
            await floor.exited;
            out[rate] = JSON.parse(floor.out.trim().split("\n").pop());
            log(`input floor at ${rate}/s: p50 ${out[rate].latencyUs.p50} p99 ${out[rate].latencyUs.p99} us`);
        } finally {
            await stop(emu);
        }
    }
    return out;
}

// The stream ceiling: stream-ceiling (mongoc reading the change events and finding each one's
// user, nothing else) on the server's core, draining b's first shape's backlog from a fresh
// mongo-emu the way the servers do in b (stopped while the inserts go in).
async function streamCeiling(ctx) {
    const { users, rate, seconds } = P.max[0];
    const { emu, uri } = await startEmu(20000 + (process.pid % 100) * 100 + 97);
    try {
        const expect = rate * seconds;
        const sc = start("stream-ceiling", bin.streamCeiling,
                         ["--uri", uri, "--expect", String(expect), "--timeout", "120"],
                         { cpu: SERVER_CPU });
        await waitText(sc, /watching/, 10000);
        const ins = await insertWhileStopped({ ...ctx, mongoUri: uri }, sc.pid, { users, rate, seconds });
        const r = await sc.exited;
        if (r.code !== 0 || ins.inserted !== expect)
            throw new Error(`stream-ceiling: exit ${r.code}, ${ins.inserted} of ${expect} inserted: ` +
                            sc.err.slice(-400));
        const out = JSON.parse(sc.out.trim().split("\n").pop());
        if (out.withoutUser) throw new Error(`stream-ceiling: ${out.withoutUser} events without a userId`);
        log(`stream ceiling: ${out.usPerEvent} us CPU per change event, ${out.eventsPerSecond} events/s`);
        return out;
    } finally {
        await stop(emu);
    }
}

async function runServer(name, ctx, roundNo) {
    log(`${name}: starting`);
    const { server, emu } = await startServer(name, ctx);
    const res = { server: name };
    let perf = null;
    if (opt.perf) {
        mkdirSync(opt.perf, { recursive: true });
        perf = start("perf", "perf", ["record", "-F", "499", "-g", "-p", String(server.pid), "-o",
                                      join(opt.perf, `${name}-${roundNo}.data`)], { cpu: LOAD_CPU });
        await sleep(500);
    }
    try {
        if (only.has("c")) {
            res.idle = await scenarioIdle(ctx, server);
            log(`${name}: c held ${res.idle.held}, ${res.idle.userKbPerConn} KB/conn user`);
            await sleep(2000);
        }
        if (only.has("d")) {
            res.handshake = {};
            for (const alg of ["HS256", "RS256"]) {
                res.handshake[alg] = await scenarioHandshake(ctx, server, alg);
                log(`${name}: d ${alg} ${res.handshake[alg].handshakesPerSecond}/s`);
            }
            res.handshake.rs256OverHs256 = round(res.handshake.RS256.handshakesPerSecond /
                                                 res.handshake.HS256.handshakesPerSecond, 2);
        }
        if (only.has("a")) {
            res.latency = await scenarioLatency(ctx, server);
            log(`${name}: a ` + Object.values(res.latency)
                .map((x) => `${x.rate}/s p50 ${x.latencyUs.p50} p99 ${x.latencyUs.p99} us`).join(", "));
        }
        if (only.has("b")) {
            res.max = {};
            const wanted = opt.shapes && new Set(opt.shapes.split(","));
            for (const shape of P.max.filter((x) => !wanted || wanted.has(`${x.users}x${x.per}`))) {
                const r = await scenarioMax(ctx, server, shape, opt.perf &&
                    join(opt.perf, `${name}-${roundNo}-b-${shape.users}x${shape.per}.data`));
                res.max[r.shape] = r;
                log(`${name}: b ${r.shape} ${r.deliveriesPerSecond}/s, ` +
                    `${r.serverCpuUsPerDelivery} us CPU each` +
                    (r.dispatchBatches ? `, ${r.dispatchBatches.mean} notifications per dispatch wake-up` : "") +
                    `${r.problems ? " INVALID" : ""}`);
            }
        }
        if (only.has("e")) {
            res.events = await scenarioEvents(ctx, server);
            log(`${name}: e ${res.events.events} events to nobody, ${res.events.serverCpuUsPerEvent} ` +
                `us CPU each` + (res.events.dispatchBatches ? `, ${res.events.dispatchBatches.mean} ` +
                `per dispatch wake-up` : "") + `${res.events.problems ? ` INVALID ${JSON.stringify(res.events.problems)}` : ""}`);
        }
        // The latency target "at half the maximum rate": a's setup (10k idle, 1,000 users x 2
        // measured sockets) offered half the deliveries/s this server just reached at 10k x 1.
        const top = res.max?.[`${P.max[0].users} x ${P.max[0].per}`];
        if (only.has("a") && top?.deliveriesPerSecond) {
            const rate = Math.max(1, Math.round(top.deliveriesPerSecond / 2 / 2));
            const r = (await scenarioLatency(ctx, server, [rate]))[rate];
            res.latencyHalf = { ...r, ofMaxDeliveriesPerSecond: top.deliveriesPerSecond,
                                deliveriesPerSecond: rate * 2 };
            log(`${name}: a at half the maximum (${rate}/s x 2 sockets): p50 ${r.latencyUs.p50} ` +
                `p99 ${r.latencyUs.p99} us`);
        }
        res.serverRssKbAtEnd = memKb(server.pid).rss;
    } finally {
        if (perf) {
            perf.child.kill("SIGINT");
            await perf.exited;
        }
        await stop(server);
        await stop(emu);
    }
    return res;
}

// The handshake ceiling: handshake-ceiling (the thinnest server for scenario d's exchange, no
// JWT check) on the server's core against one gw-loadgen with scenario d's flags.
function handshakeCeiling() {
    const out = execFileSync(process.execPath, [join(here, "ceiling/handshake-ceiling.mjs"),
                                                "--build", opt.build, "--sockets", String(P.hsConns)]);
    const r = JSON.parse(out.toString().trim().split("\n").pop());
    log(`handshake ceiling: ${r.handshakesPerSecond}/s, ${r.serverCpuUsPerHandshake} us server CPU each`);
    return r;
}

// The raw write() ceiling at each socket count, writer on the server's core. mode "via-poll":
// the same writes, each after the epoll round trip of an event loop's writable callback;
// "poll-armed": each to a socket epoll reports writable, the request left on (a backlog).
// modes: null, one flag name, or several ("via-poll", "poll-armed", "shuffle"); extra: more
// arguments, a later --seconds overriding the default.
function ceiling(sockets, modes = null, extra = []) {
    const out = execFileSync(bin.ceiling, ["--sockets", String(sockets), "--size", "120",
                                           "--seconds", quick ? "1" : "2",
                                           "--writer-cpu", SERVER_CPU, "--reader-cpu", LOAD_CPU,
                                           ...[].concat(modes ?? []).map((m) => `--${m}`), ...extra]);
    return JSON.parse(out.toString());
}

// The paced write floors at a deliveries/s: write-ceiling --rate on the server's core with a's
// socket counts (P.bgIdle idle beside the measured sockets, written in a fixed random order),
// the writes due in 1 ms batches as the change stream brings them. "viaPoll": each write after
// the writable-callback round trip through epoll (lws's plain pattern, the gateway's until
// 9de81fd); "direct": each write at once, with no epoll call (the gateway's since, its WRITEABLE
// callbacks served in the pass that queued them). Their lateness is what the machine alone makes
// of a delivery's time when nothing but the writes is done: no server of that write pattern
// does better here.
function pacedFloors(deliveriesPerSecond) {
    const measured = P.latUsers * 2;
    const run = (modes) => {
        const r = ceiling(P.bgIdle + measured, modes,
                          ["--rate", String(deliveriesPerSecond), "--targets", String(measured),
                           "--seconds", String(P.latSeconds)]);
        return { ...r.paced, usPerWrite: r.usPerWrite };
    };
    return { viaPoll: run(["via-poll", "shuffle"]), direct: run("shuffle") };
}

// The intake floor at a's rate (notifications/s, each to 2 sockets): write-ceiling --stream on
// the server's core reads the gateway's change stream from a fresh mongo-emu while gw-insert
// feeds it at the rate, and writes each event's two frames at once, lateness counted from the
// event's arrival (the gateway's own-share definition). The same sockets as the paced floors.
// Unlike them it has the input path's bursts and mongoc's cost: the least any server on the
// project's stack does here. Its clients only drain, so the load core has less to do than in
// the servers' windows, where the generators parse and check every frame.
async function streamFloor(ctx, rate) {
    const measured = P.latUsers * 2;
    const { emu, uri } = await startEmu(20000 + (process.pid % 100) * 100 + 96);
    try {
        const fctx = { ...ctx, mongoUri: uri };
        const expect = Math.max(1, Math.round((rate * P.latSeconds) / P.latUsers)) * P.latUsers;
        const wc = start("write-ceiling", bin.ceiling,
                         ["--sockets", String(P.bgIdle + measured), "--size", "120",
                          "--writer-cpu", SERVER_CPU, "--reader-cpu", LOAD_CPU, "--shuffle",
                          "--stream", uri, "--events", String(expect), "--targets", String(measured),
                          "--per", "2", "--seconds", String(P.latSeconds + 30)], { cpu: SERVER_CPU });
        await waitText(wc, /watching/, 30000);
        const e0 = await emuStreamStats(fctx);
        const ins = await insert(fctx, { users: P.latUsers, rate, seconds: P.latSeconds });
        const r = await wc.exited;
        if (r.code !== 0 || ins.inserted !== expect)
            throw new Error(`write-ceiling --stream: exit ${r.code}, ${ins.inserted} of ${expect} ` +
                            `inserted: ${wc.err.slice(-400)}`);
        const input = inputBatches(e0, await emuStreamStats(fctx));
        const out = JSON.parse(wc.out.trim().split("\n").pop());
        // the replies' summary, without inputBatches' per-bucket arrays
        const summary = ({ replies, meanEvents, over64, largestUpTo }) => ({ replies, meanEvents, over64, largestUpTo });
        return { ...out.paced, usPerDelivery: out.usPerWrite, intakeUsPerEvent: out.stream.intakeUsPerEvent,
                 input: { waited: summary(input.waited), ready: summary(input.ready) } };
    } finally {
        await stop(emu);
    }
}

// One RSA-2048 verify on the server's core (`openssl speed`, the OpenSSL the gateway verifies
// RS256 with): the least an RS256 handshake costs on top of an HS256 one.
function rsaVerify() {
    const out = execFileSync("taskset", ["-c", SERVER_CPU, "openssl", "speed", "-seconds", "1", "-mr",
                                         "rsa2048"], { stdio: ["ignore", "pipe", "ignore"] }).toString();
    // -mr: "+F2:<index>:<bits>:<signs/s>:<verifies/s>"
    const f = out.split("\n").find((l) => l.startsWith("+F2:"))?.split(":");
    if (!f || !(Number(f[4]) > 0)) return null;
    return { bits: Number(f[2]), verifiesPerSecond: Math.round(Number(f[4])),
             usPerVerify: round(1e6 / Number(f[4]), 2) };
}

// What the machine takes from the server's core: stall-probe spinning alone on it. A server
// loses the same stretches at any moment of a run, and every delivery due in one is late by it.
function stallProbe() {
    const out = execFileSync("taskset", ["-c", SERVER_CPU, bin.stallProbe, "--seconds",
                                         quick ? "3" : "10"]).toString();
    return JSON.parse(out);
}

// ---- summary -------------------------------------------------------------------------------

function pick(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

// One figure over the rounds: median, range, and whether any round was invalid.
function figure(runs, path, probPath) {
    const vals = runs.map((r) => pick(r, path));
    const probs = runs.map((r) => pick(r, probPath)).filter(Boolean);
    return { median: median(vals), min: Math.min(...vals.filter((x) => typeof x === "number")),
             max: Math.max(...vals.filter((x) => typeof x === "number")),
             invalid: probs.length ? probs : null };
}

function rows() {
    const r = [];
    if (only.has("a"))
        for (const rate of P.latRates)
            for (const q of ["p50", "p99", "p999", "max"])
                r.push({ id: `a.${rate}.${q}`, label: `a. latency at ${rate}/s, ${P.bgIdle} idle: ${q} (us)`,
                         path: `latency.${rate}.latencyUs.${q}`, prob: `latency.${rate}.problems`,
                         better: "lower" });
    if (only.has("a"))
        for (const rate of P.latRates) {
            for (const [q, name] of [["p50", "p50"], ["p99", "p99"], ["p999", "p99.9"]])
                r.push({ id: `a.${rate}.own.${q}`,
                         label: `a. gateway's own share (event in -> socket write) ${name} <= (us, ` +
                                `bucket upper edge) at ${rate}/s`,
                         path: `latency.${rate}.gatewayShare.${q}Us`, prob: `latency.${rate}.problems`,
                         better: "lower" });
            r.push({ id: `a.${rate}.own.n`, label: `a. deliveries in the gateway's own-share histogram at ${rate}/s`,
                     path: `latency.${rate}.gatewayShare.deliveries`, prob: `latency.${rate}.problems`,
                     better: "info" });
        }
    if (only.has("a"))
        for (const rate of P.latRates)
            r.push({ id: `a.${rate}.cpu`, label: `a. server CPU per delivery at ${rate}/s (us)`,
                     path: `latency.${rate}.serverCpuUsPerDelivery`, prob: `latency.${rate}.problems`,
                     better: "lower" });
    if (only.has("a") && only.has("b")) {
        const k = `${P.max[0].users} x ${P.max[0].per}`;
        r.push({ id: "a.half.rate", label: `a. half the maximum: deliveries/s offered (half of b. ${k}, ` +
                 `this server's own)`, path: "latencyHalf.deliveriesPerSecond",
                 prob: "latencyHalf.problems", better: "info" });
        for (const q of ["p50", "p99", "p999", "max"])
            r.push({ id: `a.half.${q}`, label: `a. latency at half the maximum, ${P.bgIdle} idle: ${q} (us)`,
                     path: `latencyHalf.latencyUs.${q}`, prob: "latencyHalf.problems", better: "lower" });
        r.push({ id: "a.half.batch.mean", label: "a. notifications per dispatch wake-up at half the maximum: mean",
                 path: "latencyHalf.dispatchBatches.mean", prob: "latencyHalf.problems", better: "info" });
        r.push({ id: "a.half.batch.p99", label: "a. notifications per dispatch wake-up at half the maximum: p99 <= (bucket upper edge)",
                 path: "latencyHalf.dispatchBatches.p99", prob: "latencyHalf.problems", better: "info" });
        for (const [k, what] of [["waited", "waited for their events"], ["ready", "found their events ready"]]) {
            r.push({ id: `a.half.input.${k}.mean`, label: `a. change-stream getMores at half the maximum that ${what}: mean events each`,
                     path: `latencyHalf.inputBatches.${k}.meanEvents`, prob: "latencyHalf.problems", better: "info" });
            r.push({ id: `a.half.input.${k}.over64`, label: `a. … of those, replies with more than 64 events`,
                     path: `latencyHalf.inputBatches.${k}.over64`, prob: "latencyHalf.problems", better: "info" });
        }
        r.push({ id: "a.half.burstFloor", label: "a. at half the maximum: share of deliveries the input's bursts alone " +
                 "make later than 5 ms, even writing at the raw ceiling (least, %)",
                 path: "latencyHalf.burstFloor.5000.sharePercent", prob: "latencyHalf.problems", better: "info" });
        r.push({ id: "a.half.own.over5ms", label: "a. gateway's own share later than 5 ms at half the maximum (%)",
                 path: "latencyHalf.gatewayShare.over5msPercent", prob: "latencyHalf.problems", better: "lower" });
        for (const [k, what] of [["viaPoll", "paced write floor at this half maximum, each write after an " +
                                  "epoll round trip (lws's plain rule), no server"],
                                 ["direct", "paced write floor at this half maximum, each write at once (the " +
                                  "gateway's pattern), no server"],
                                 ["stream", "intake floor at this half maximum: the events read with mongoc " +
                                  "from the change stream, each one's writes at once, no server"]]) {
            r.push({ id: `a.half.floor.${k}.p99`, label: `a. ${what}: p99 lateness (us)`,
                     path: `latencyHalf.pacedFloors.${k}.lateUs.p99`,
                     prob: "latencyHalf.problems", better: "info" });
            r.push({ id: `a.half.floor.${k}.over5ms`, label: "a. … of those writes, later than 5 ms (%)",
                     path: `latencyHalf.pacedFloors.${k}.over5msPercent`, prob: "latencyHalf.problems",
                     better: "info" });
        }
        for (const [q, name] of [["p50", "p50"], ["p99", "p99"], ["p999", "p99.9"]])
            r.push({ id: `a.half.own.${q}`,
                     label: `a. gateway's own share ${name} <= (us, bucket upper edge) at half the maximum`,
                     path: `latencyHalf.gatewayShare.${q}Us`, prob: "latencyHalf.problems",
                     better: "lower" });
    }
    if (only.has("b"))
        for (const s of P.max) {
            const k = `${s.users} x ${s.per}`;
            r.push({ id: `b.${k}`, label: `b. max deliveries/s, ${k}`, path: `max.${k}.deliveriesPerSecond`,
                     prob: `max.${k}.problems`, better: "higher" });
            r.push({ id: `b.${k}.cpu`, label: `b. server CPU per delivery, ${k} (us)`,
                     path: `max.${k}.serverCpuUsPerDelivery`, prob: `max.${k}.problems`, better: "lower" });
            if (opt.instructions)
                for (const m of ["user", "kernel"])
                    r.push({ id: `b.${k}.ins.${m}`, label: `b. server instructions per delivery, ${m}, ${k}`,
                             path: `max.${k}.instructionsPerDelivery.${m}`, prob: `max.${k}.problems`,
                             better: "lower" });
            r.push({ id: `b.${k}.batch`, label: `b. notifications per dispatch wake-up, ${k}: mean`,
                     path: `max.${k}.dispatchBatches.mean`, prob: `max.${k}.problems`, better: "info" });
            r.push({ id: `b.${k}.busy`, label: `b. server core busy in the window, ${k}`,
                     path: `max.${k}.serverBusyInWindow`, prob: `max.${k}.problems`, better: "info" });
            r.push({ id: `b.${k}.gen`, label: `b. generators' share of the load core, ${k}`,
                     path: `max.${k}.generator.shareOfLoadCore`, prob: `max.${k}.problems`, better: "info" });
            r.push({ id: `b.${k}.rss`, label: `b. server RSS growth under the burst, ${k} (KB)`,
                     path: `max.${k}.rssGrowthKb`, prob: `max.${k}.problems`, better: "lower" });
        }
    if (only.has("e")) {
        r.push({ id: "e.cpu", label: `e. server CPU per change event with nobody connected, ` +
                 `${P.max[0].users} users (us)`, path: "events.serverCpuUsPerEvent",
                 prob: "events.problems", better: "lower" });
        r.push({ id: "e.batch", label: "e. notifications per dispatch wake-up with nobody connected: mean",
                 path: "events.dispatchBatches.mean", prob: "events.problems", better: "info" });
    }
    if (only.has("c")) {
        r.push({ id: "c.held", label: `c. idle authenticated connections held (of ${P.idleConns})`,
                 path: "idle.held", prob: "idle.problems", better: "higher" });
        r.push({ id: "c.user", label: "c. user space per connection (VmRSS delta, KB)",
                 path: "idle.userKbPerConn", prob: "idle.problems", better: "lower" });
        r.push({ id: "c.pd", label: "c. Private_Dirty per connection (KB)",
                 path: "idle.privateDirtyKbPerConn", prob: "idle.problems", better: "lower" });
        r.push({ id: "c.kernel", label: "c. kernel Slab per connection, both loopback ends (KB)",
                 path: "idle.kernelSlabKbPerConn", prob: "idle.problems", better: "info" });
        r.push({ id: "c.ramp", label: "c. handshakes/s during the ramp (HS256)",
                 path: "idle.rampHandshakesPerSecond", prob: "idle.problems", better: "higher" });
        r.push({ id: "c.fds", label: "c. server open descriptors when holding",
                 path: "idle.serverFds", prob: "idle.problems", better: "info" });
    }
    if (only.has("d"))
        for (const alg of ["HS256", "RS256"]) {
            r.push({ id: `d.${alg}`, label: `d. handshakes/s, ${alg} (${P.hsConns} kept open)`,
                     path: `handshake.${alg}.handshakesPerSecond`, prob: `handshake.${alg}.problems`,
                     better: "higher" });
            r.push({ id: `d.${alg}.cpu`, label: `d. server CPU per handshake, ${alg} (us)`,
                     path: `handshake.${alg}.serverCpuUsPerHandshake`, prob: `handshake.${alg}.problems`,
                     better: "lower" });
            r.push({ id: `d.${alg}.gen`, label: `d. generator's share of the load core, ${alg}`,
                     path: `handshake.${alg}.generator.shareOfLoadCore`, prob: `handshake.${alg}.problems`,
                     better: "info" });
        }
    if (only.has("d"))
        r.push({ id: "d.ratio", label: "d. RS256 handshakes/s over HS256 (same server, same round)",
                 path: "handshake.rs256OverHs256", prob: "handshake.RS256.problems", better: "info" });
    return r;
}

// A number as the summary prints it: rounded, with thousands separators.
const int = (x) => Math.round(x).toLocaleString("en-US");

function fmt(f) {
    if (f.median === null) return "n/a";
    const v = (x) => (Math.abs(x) >= 100 ? int(x) : String(x));
    let s = v(f.median);
    if (rounds > 1 && f.min !== f.max) s += ` (${v(f.min)}–${v(f.max)})`;
    if (f.invalid) s = `**INVALID** ${s} (${f.invalid.map((p) => JSON.stringify(p)).join("; ")})`;
    return s;
}

// One write-ceiling measurement as the summary prints it.
const writesText = (c) => `${int(c.writesPerSecond)} writes/s (${c.usPerWrite} us CPU each)`;
const shuffledText = (c) => (c ? ` In a random socket order: ${writesText(c)}.` : "");

function summarize(meta, results) {
    const by = Object.fromEntries(serverNames.map((s) => [s, results.map((r) => r[s]).filter(Boolean)]));
    const floors = results.map((r) => r.floor).filter(Boolean);
    const hsc = results.map((r) => r.hsCeiling).filter(Boolean);
    const sc = results.map((r) => r.streamCeiling).filter(Boolean);
    const scUs = sc.length ? median(sc.map((x) => x.usPerEvent)) : null;
    // Deliveries/s of a server that reads each event with mongoc and writes it with ceiling c.
    const boundOf = (c) => (scUs && c ? 1e6 / (scUs + c.usPerWrite) : null);
    const bound = boundOf(meta.ceilingArmed);
    const boundPoll = boundOf(meta.ceilingViaPoll);
    // A rate as a share of the raw write() ceiling at the first socket count.
    const vsRaw = (x) => round(x / meta.ceiling[0].writesPerSecond, 2);
    const boundShuffled = meta.ceilingArmedShuffled && meta.ceilingViaPollShuffled
        ? [meta.ceilingArmedShuffled, meta.ceilingViaPollShuffled].map(boundOf)
        : null;
    const hsText = hsc.length
        ? `${median(hsc.map((x) => x.handshakesPerSecond)).toLocaleString("en-US")} handshakes/s, ` +
          `${median(hsc.map((x) => x.serverCpuUsPerHandshake))} us server CPU each (` +
          `${median(hsc.map((x) => x.server.usPerHandshakeToLast))} us up to the last CONNECT answer), ` +
          `the load core ${median(hsc.map((x) => x.cores?.load))} busy` +
          (hsc.every((x) => x.valid) ? "" : "; INVALID in a round (a failed handshake)")
        : null;
    const table = rows().map((row) => {
        const f = Object.fromEntries(serverNames.map((s) => [s, figure(by[s], row.path, row.prob)]));
        let ratio = null;
        if (f.gateway && f.peer && f.gateway.median && f.peer.median && row.better !== "info")
            ratio = row.better === "higher" ? f.gateway.median / f.peer.median
                                            : f.peer.median / f.gateway.median;
        return { ...row, figures: f, gatewayAdvantage: ratio === null ? null : round(ratio, 2) };
    });
    const ceil = meta.ceiling.map((c) => `${int(c.sockets)} sockets: ${writesText(c)}`);
    const floorText = floors.length
        ? Object.keys(floors[0]).map((rate) => {
              const f = (q) => median(floors.map((x) => x[rate]?.latencyUs[q]));
              return `${rate}/s: p50 ${f("p50")} us, p99 ${f("p99")} us, p99.9 ${f("p999")} us`;
          }).join("; ")
        : null;
    const lines = [
        `# Benchmark results ${meta.date} (${meta.sha}${meta.dirty ? ", uncommitted changes" : ""})`,
        "",
        `Mode: ${quick ? "--quick (1 round, smaller counts)" : `full, ${rounds} rounds, median (range)`}; ` +
        `server on core ${SERVER_CPU}, mongo-emu + generators + inserter on core ${LOAD_CPU} ` +
        `(the input path, mongo-emu and gw-insert every ${meta.input.tickUs} us, ` +
        `${meta.input.realtime ? "at SCHED_FIFO 10" : "at normal priority (chrt not permitted)"}). ` +
        `Machine: ${meta.machine.cpu}, ${meta.machine.cores} cores, kernel ${meta.machine.kernel}, ` +
        `open-file hard limit ${meta.machine.nofileHard}, load average at start ${meta.machine.loadavg}.` +
        (opt["gateway-bin"] ? ` Gateway binary: ${opt["gateway-bin"]}.` : ""),
        "",
        `Raw write() ceiling (120-byte frames, one core): ${ceil.join("; ")}.`,
        "",
        ...(meta.ceilingShuffled ? [`The same writes to the ${int(meta.ceilingShuffled.sockets)} ` +
            `sockets in a fixed random order instead of their accept order (the order the kernel ` +
            `allocated them in, the kindest to caches and TLB; a server writes in whatever order its ` +
            `users' notifications come): ` +
            `${writesText(meta.ceilingShuffled)}, ${vsRaw(meta.ceilingShuffled.writesPerSecond)}x the raw rate.`,
            ""] : []),
        ...(meta.ceilingViaPoll ? [`The same writes each after an epoll round trip (EPOLLOUT asked ` +
            `for, epoll_wait, write, EPOLLOUT dropped: the least a writable-callback loop such as ` +
            `lws's pays when each write goes to another socket), ` +
            `${int(meta.ceilingViaPoll.sockets)} sockets: ` +
            `${writesText(meta.ceilingViaPoll)}, ${vsRaw(meta.ceilingViaPoll.writesPerSecond)}x the raw ` +
            `rate: what any such server reaches at most when each write goes to a socket with nothing ` +
            `else queued, before the change event and everything else.` +
            shuffledText(meta.ceilingViaPollShuffled), ""] : []),
        ...(meta.ceilingArmed ? [`The same writes with EPOLLOUT left on (level-triggered epoll_wait, ` +
            `64 at a time, one write to each socket reported): what such a loop pays at least per ` +
            `write when each socket has more queued, ` +
            `${writesText(meta.ceilingArmed)}, ${vsRaw(meta.ceilingArmed.writesPerSecond)}x the raw rate.` +
            shuffledText(meta.ceilingArmedShuffled), ""] : []),
        ...(meta.stalls ? [`The server's core taken from a process spinning alone on it (stall-probe, ` +
            `${meta.stalls.seconds} s): ${meta.stalls.gapsOverMs["1"]} times for more than 1 ms, ` +
            `${meta.stalls.gapsOverMs["2"]} for more than 2 ms, ${meta.stalls.gapsOverMs["5"]} for more ` +
            `than 5 ms, ${meta.stalls.gapsOverMs["10"]} for more than 10 ms; the longest ` +
            `${meta.stalls.longestMs} ms. A server on that core loses the same stretches; at ` +
            `the half maximum every delivery due in one is late by it, and the backlog takes longer ` +
            `still to clear.`, ""] : []),
        ...(meta.rsaVerify ? [`RSA-${meta.rsaVerify.bits} verify on the server's core (openssl speed): ` +
            `${meta.rsaVerify.verifiesPerSecond.toLocaleString("en-US")}/s, ${meta.rsaVerify.usPerVerify} us ` +
            `each: the least an RS256 handshake costs on top of an HS256 one.`, ""] : []),
        ...(hsText ? [`Handshake ceiling (handshake-ceiling: the same exchange by the thinnest server, no ` +
                      `JWT check, one core, against d's generator; median of rounds): ${hsText}.`, ""] : []),
        ...(scUs ? [`Stream ceiling (stream-ceiling on the server's core: mongoc reading b's ` +
            `${P.max[0].users} x 1 backlog, ${int(P.max[0].rate * P.max[0].seconds)} ` +
            `change events, each one's userId found, nothing else; median of rounds): ${scUs} us CPU per ` +
            `event (${sc.map((x) => x.usPerEvent).join(", ")}).` +
            (bound ? ` A server that reads its events with mongoc and makes one write per delivery ` +
             `under lws's rule delivers at most ${int(bound)}/s at ` +
             `${P.max[0].users} x 1 (${vsRaw(bound)}x the raw ` +
             `ceiling) with EPOLLOUT left on` +
             (boundPoll ? `, ${int(boundPoll)}/s (${vsRaw(boundPoll)}x) when each socket has one frame ` +
              `at a time (write via poll)` : "") +
             (boundShuffled ? `; writing in a random socket order, ${boundShuffled.map((b) => `${int(b)}/s`).join(" and ")} ` +
              `(${boundShuffled.map((b) => `${vsRaw(b)}x`).join(", ")})` : "") +
             `, before it builds a frame or finds a socket; only joining the frames queued for one ` +
             `socket into one write goes past that.` : ""), ""] : []),
        ...(floorText ? [`Input path floor (insert -> mongo-emu -> a Node change stream, no sockets; ` +
                         `part of every latency in a.): ${floorText}.`, ""] : []),
        `| scenario | ${serverNames.join(" | ")} | gateway advantage |`,
        `|---|${serverNames.map(() => "---").join("|")}|---|`,
        ...table.map((t) => `| ${t.label} | ${serverNames.map((s) => fmt(t.figures[s])).join(" | ")} | ` +
                            `${t.gatewayAdvantage === null ? "" : `${t.gatewayAdvantage}x`} |`),
        "",
        "Gateway advantage: peer/gateway for lower-is-better rows, gateway/peer for higher-is-better.",
        "A cell marked INVALID: a notification was lost or duplicated, or a connection failed or dropped, in at least one round (none here unless a cell says so).",
        "",
    ];
    return { md: lines.join("\n"), table };
}

// ---- main ----------------------------------------------------------------------------------

async function main() {
    const peerModules = join(here, "peer/node_modules/.package-lock.json");
    if (serverNames.includes("peer") && !existsSync(peerModules)) {
        log("installing the peer's dependencies (npm ci --prefix bench/peer)");
        execFileSync("npm", ["ci", "--prefix", join(here, "peer"), "--no-audit", "--no-fund"],
                     { stdio: "inherit" });
    }
    const tmp = mkdtempSync(join(tmpdir(), "gw-bench-"));
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    writeFileSync(join(tmp, "rs256.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
    writeFileSync(join(tmp, "rs256.pub"), publicKey.export({ type: "spki", format: "pem" }));
    const ctx = { tmp, secret: randomBytes(32).toString("hex"), rsaKey: join(tmp, "rs256.key"),
                  rsaPub: join(tmp, "rs256.pub") };

    const git = (...a) => execFileSync("git", ["-C", repo, ...a]).toString().trim();
    const meta = {
        date: new Date().toISOString(), sha: git("rev-parse", "--short", "HEAD"),
        dirty: git("status", "--porcelain", "--untracked-files=no").length > 0,
        mode: quick ? "quick" : "full", rounds, sizes: P,
        input: { inserter: "gw-insert", tickUs: Number(opt["tick-us"]), realtime: INPUT_RT },
        machine: { cpu: cpus()[0].model, cores: cpus().length,
                   kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
                   nofileHard: execFileSync("sh", ["-c", "ulimit -Hn"]).toString().trim(),
                   loadavg: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ") },
    };
    const hard = Number(meta.machine.nofileHard);
    if (Number.isFinite(hard) && P.idleConns + 200 > hard) {
        P.idleConns = hard - 500;
        log(`open-file hard limit ${hard}: holding ${P.idleConns} in scenario c`);
    }
    log(`mode ${meta.mode}, ${rounds} round(s), servers ${serverNames.join(", ")}`);
    meta.ceiling = P.ceiling.map((n) => {
        const c = ceiling(n);
        log(`write() ceiling at ${n} sockets: ${Math.round(c.writesPerSecond)}/s`);
        return c;
    });
    ctx.ceiling = meta.ceiling;
    meta.ceilingShuffled = ceiling(P.ceiling[0], "shuffle");
    meta.ceilingViaPoll = ceiling(P.ceiling[0], "via-poll");
    meta.ceilingArmed = ceiling(P.ceiling[0], "poll-armed");
    meta.ceilingViaPollShuffled = ceiling(P.ceiling[0], ["via-poll", "shuffle"]);
    meta.ceilingArmedShuffled = ceiling(P.ceiling[0], ["poll-armed", "shuffle"]);
    log(`write() ceiling in a random socket order at ${P.ceiling[0]} sockets: ` +
        `${Math.round(meta.ceilingShuffled.writesPerSecond)}/s`);
    log(`write() ceiling via poll at ${P.ceiling[0]} sockets: ` +
        `${Math.round(meta.ceilingViaPoll.writesPerSecond)}/s, with EPOLLOUT left on ` +
        `${Math.round(meta.ceilingArmed.writesPerSecond)}/s`);
    if (only.has("a")) {
        meta.stalls = stallProbe();
        log(`the server's core taken from a spinning process: ${meta.stalls.gapsOverMs["2"]} times ` +
            `for more than 2 ms, ${meta.stalls.gapsOverMs["5"]} for more than 5 ms in ` +
            `${meta.stalls.seconds} s, the longest ${meta.stalls.longestMs} ms`);
    }
    if (only.has("d")) {
        meta.rsaVerify = rsaVerify();
        log(`RSA-2048 verify on the server's core: ${meta.rsaVerify?.usPerVerify} us`);
    }

    const results = [];
    const t0 = Date.now();
    for (let i = 0; i < rounds; i++) {
        const order = i % 2 ? [...serverNames].reverse() : serverNames;
        const res = {};
        if (only.has("a")) res.floor = await inputFloor(ctx);
        if (only.has("d")) res.hsCeiling = handshakeCeiling();
        if (only.has("b")) res.streamCeiling = await streamCeiling(ctx);
        for (const s of order) res[s] = await runServer(s, ctx, i + 1);
        results.push(res);
        log(`round ${i + 1} done after ${Math.round((Date.now() - t0) / 1000)} s`);
    }
    meta.seconds = Math.round((Date.now() - t0) / 1000);

    const { md, table } = summarize(meta, results);
    mkdirSync(opt.out, { recursive: true });
    const stem = `${meta.date.slice(0, 10)}-${meta.sha}${quick ? "-quick" : ""}`;
    writeFileSync(join(opt.out, `${stem}.json`), JSON.stringify({ meta, table, rounds: results }, null, 2));
    writeFileSync(join(opt.out, `${stem}.md`), md);
    writeFileSync(join(opt.out, "latest.md"), md);
    rmSync(tmp, { recursive: true, force: true });
    process.stdout.write(md);
    log(`wrote ${join(opt.out, stem)}.{md,json} and latest.md in ${meta.seconds} s`);
}

main().catch((e) => {
    console.error(`run.mjs: ${e.stack || e}`);
    process.exit(1);
});
