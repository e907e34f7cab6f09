// The soak (issue 8 item 6): many WebSocket Socket.IO sockets against one notify-gateway on a
// mongo-emu, for minutes, with connect/disconnect churn, steady inserts through the official
// `mongodb` driver and a mongo-emu fault at a fixed period. It checks what the delivery
// contract promises and what a long-running process must not do:
//
//   - every socket connected throughout (the "steady" set) gets every notification of its user
//     (at-least-once: losses must be 0; duplicates are counted separately);
//   - no socket ever gets another user's notification (cross-user must be 0), steady or churn;
//   - a socket's first copies arrive in insert order (reordered must be 0);
//   - the gateway's RSS, sampled every few seconds, is flat after warm-up: the last sample of
//     the insert phase is within --rss-tolerance of the first sample after warm-up.
//
// Sockets speak Engine.IO v4 / Socket.IO v5 over `ws` directly (no socket.io-client): 5k stock
// clients cost more CPU than the gateway on a 2-core box, and the raw framing lets churn
// sockets leave in the three ways real clients do (Socket.IO disconnect + close frame, a TCP
// close without any goodbye, and an Engine.IO session that never sends CONNECT).
//
// Inserts carry a client-made _id, so an insert whose reply a fault swallowed is retried one
// document at a time and a DuplicateKey answer proves it had landed: the set of inserted
// notifications is known exactly, whatever the faults did to the inserter's connections.
//
// Usage: node tests/soak/soak.mjs [--short] [--minutes N] [options] (see usage() or README.md).
// The gateway and mongo-emu come from GW_BUILD_DIR (default <repo>/build).

import { writeFileSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { MongoClient, ObjectId } from "mongodb";
import WebSocket from "ws";

import { buildBinary, spawnServer } from "../integration/lib/server.mjs";
import { claims, signToken, TEST_SECRET } from "../integration/lib/tokens.mjs";

const EMU_READY = /mongo-emu listening on ()([^\s:]+):(\d+)/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function usage() {
    return `usage: node tests/soak/soak.mjs [--short] [--minutes N] [options]
  --minutes N           insert phase length (10; --short: 1.25)
  --steady N            sockets connected throughout (4000; --short: 800)
  --churn N             churn slots, each connecting and leaving in a loop (1000; --short: 200)
  --churn-life A-B      seconds a churn socket stays connected (2-18)
  --rate N              inserts per second (200; --short: 100)
  --fault-every S       seconds between mongo-emu faults (60; --short: 25)
  --faults A,B,...      fault rotation (all five, from kill-cursors; --short: step-down-5s,restart)
  --warmup S            seconds of the insert phase before the RSS baseline (60; --short: 15)
  --rss-tolerance F     allowed RSS growth after warm-up, as a fraction (0.10)
  --rss-every S         RSS sampling period in seconds (5; --short: 2)
  --sources A-B         last octets of the 127.0.0.x source addresses (2-9)
  --gateway-env N=V     extra gateway environment, repeatable (e.g. MAX_SOCKETS_PER_USER=1
                        to see the soak fail when steady sockets are evicted)
  --report FILE         JSON report (soak-report.json)`;
}

function options() {
    const { values } = parseArgs({
        options: {
            short: { type: "boolean", default: false },
            minutes: { type: "string" },
            steady: { type: "string" },
            churn: { type: "string" },
            "churn-life": { type: "string", default: "2-18" },
            rate: { type: "string" },
            "fault-every": { type: "string" },
            warmup: { type: "string" },
            faults: { type: "string" },
            "rss-tolerance": { type: "string", default: "0.10" },
            "rss-every": { type: "string" },
            sources: { type: "string", default: "2-9" },
            report: { type: "string", default: "soak-report.json" },
            "gateway-env": { type: "string", multiple: true, default: [] },
            help: { type: "boolean", default: false },
        },
    });
    if (values.help) {
        console.log(usage());
        process.exit(0);
    }
    const s = values.short;
    const num = (name, full, short) => {
        const raw = values[name] ?? String(s ? short : full);
        const n = Number(raw);
        if (!Number.isFinite(n) || n < 0) {
            console.error(`soak: --${name} must be a non-negative number, got ${raw}\n${usage()}`);
            process.exit(2);
        }
        return n;
    };
    const range = (name) => {
        const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(values[name]);
        if (!m || Number(m[1]) > Number(m[2])) {
            console.error(`soak: --${name} must be A-B with A <= B, got ${values[name]}`);
            process.exit(2);
        }
        return [Number(m[1]), Number(m[2])];
    };
    const [srcLo, srcHi] = range("sources");
    if (srcLo < 1 || srcHi > 254) {
        console.error("soak: --sources must stay within 1-254");
        process.exit(2);
    }
    const faults = (values.faults ?? (s ? "step-down-5s,restart" : FAULTS.map((f) => f[0]).join(","))).split(",");
    for (const f of faults) {
        if (!FAULTS.some(([name]) => name === f)) {
            console.error(`soak: unknown fault ${f}; known: ${FAULTS.map((x) => x[0]).join(", ")}`);
            process.exit(2);
        }
    }
    const gatewayEnv = {};
    for (const kv of values["gateway-env"]) {
        const eq = kv.indexOf("=");
        if (eq < 1) {
            console.error(`soak: --gateway-env wants NAME=VALUE, got ${kv}`);
            process.exit(2);
        }
        gatewayEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    return {
        mode: s ? "short" : "full",
        faults,
        gatewayEnv,
        seconds: num("minutes", 10, 1.25) * 60,
        steady: Math.floor(num("steady", 4000, 800)),
        churn: Math.floor(num("churn", 1000, 200)),
        churnLife: range("churn-life"),
        rate: num("rate", 200, 100),
        faultEvery: num("fault-every", 60, 25),
        warmup: num("warmup", 60, 15),
        rssTolerance: num("rss-tolerance", 0.1, 0.1),
        rssEvery: num("rss-every", 5, 2),
        sources: Array.from({ length: srcHi - srcLo + 1 }, (_, i) => `127.0.0.${srcLo + i}`),
        report: values.report,
    };
}

// ---------------------------------------------------------------------------------------------
// Users and what was inserted for them

/**
 * Steady users hold 1, 1, 2 or 3 steady sockets in turn (some users have several tabs), churn
 * users only ever appear through churn, offline users never connect (their notifications must
 * reach nobody). Churn sockets pick a steady user half of the time, so a user's steady socket
 * keeps receiving while the same user's other sockets come and go.
 */
function planUsers(opt) {
    const steadyUsers = [];
    let placed = 0;
    for (let k = 0; placed < opt.steady; k++) {
        const n = Math.min([1, 1, 2, 3][k % 4], opt.steady - placed);
        steadyUsers.push({ id: `soak-s${k}`, sockets: n });
        placed += n;
    }
    const churnUsers = Array.from({ length: Math.max(1, Math.ceil(opt.churn / 2)) }, (_, k) => `soak-c${k}`);
    const offlineUsers = Array.from({ length: 50 }, (_, k) => `soak-o${k}`);
    return { steadyUsers, churnUsers, offlineUsers };
}

/** user -> [{ seq, sentAt, ackAt }] in insert order; filled by the inserter. */
const inserted = new Map();
const tokens = new Map();

function tokenFor(user) {
    let t = tokens.get(user);
    if (!t) {
        t = signToken(claims(user, { expIn: 24 * 3600 }), { key: TEST_SECRET });
        tokens.set(user, t);
    }
    return t;
}

// ---------------------------------------------------------------------------------------------
// One raw Engine.IO/Socket.IO WebSocket client

const totals = {
    received: 0,
    crossUser: 0,
    duplicates: 0,
    reordered: 0,
    malformed: 0,
    rejected: {},
    closeReasons: {},
};
const crossUserSamples = [];

function bump(map, key) {
    map[key] = (map[key] || 0) + 1;
}

/**
 * A socket of `user` on `url` from `source`. onReady/onClose are called once each. Received
 * notifications are checked on arrival: the userId must be the socket's user, the seq must be
 * new (else a duplicate) and above every seq seen before (else reordered).
 */
class SoakSocket {
    constructor({ url, user, source, skipConnect = false, onReady, onClose }) {
        this.user = user;
        this.seen = new Set();
        this.maxSeq = -1;
        this.readyAt = 0;
        this.closing = false;
        this.closed = false;
        this.onReady = onReady;
        this.onClose = onClose;
        this.skipConnect = skipConnect;
        this.ws = new WebSocket(`${url}/socket.io/?EIO=4&transport=websocket`, {
            localAddress: source,
            perMessageDeflate: false,
            handshakeTimeout: 15000,
        });
        this.ws.on("message", (data) => this.onMessage(data.toString()));
        this.ws.on("error", (err) => {
            this.error = err.code || err.message;
        });
        this.ws.on("close", (code) => this.finish(this.error || `ws_close_${code}`));
        // A handshake that never completes must not hold a churn slot forever.
        this.timer = setTimeout(() => {
            if (!this.readyAt && !this.closed) {
                this.error = "timeout_before_ready";
                this.ws.terminate();
            }
        }, 20000);
    }

    onMessage(text) {
        switch (text[0]) {
            case "0": // Engine.IO open
                if (this.skipConnect) {
                    this.leave("eio_only");
                } else {
                    this.ws.send(`40${JSON.stringify({ token: tokenFor(this.user) })}`);
                }
                return;
            case "2":
                this.ws.send("3");
                return;
            case "4":
                this.onSocketIo(text.slice(1));
                return;
            default:
                return;
        }
    }

    onSocketIo(p) {
        if (p.startsWith("0")) {
            clearTimeout(this.timer);
            this.readyAt = Date.now();
            this.onReady?.(this);
        } else if (p.startsWith("4")) {
            let code = "unparsable";
            try {
                code = JSON.parse(p.slice(1)).data?.code || "no_code";
            } catch {
                // keep "unparsable"
            }
            bump(totals.rejected, code);
            this.error = `rejected_${code}`;
            this.ws.close();
        } else if (p.startsWith("2")) {
            this.onEvent(p.slice(1));
        }
    }

    onEvent(json) {
        let ev;
        try {
            ev = JSON.parse(json);
        } catch {
            totals.malformed++;
            return;
        }
        const doc = ev[1];
        if (ev[0] !== "notification" || !doc || typeof doc.userId !== "string" || !Number.isInteger(doc.seq)) {
            totals.malformed++;
            return;
        }
        totals.received++;
        if (doc.userId !== this.user) {
            totals.crossUser++;
            if (crossUserSamples.length < 20) {
                crossUserSamples.push({ socketUser: this.user, docUser: doc.userId, seq: doc.seq });
            }
            return;
        }
        if (this.seen.has(doc.seq)) {
            totals.duplicates++;
            return;
        }
        if (doc.seq < this.maxSeq) {
            totals.reordered++;
        }
        this.seen.add(doc.seq);
        this.maxSeq = Math.max(this.maxSeq, doc.seq);
    }

    /** Leaves: "graceful" (Socket.IO disconnect, close frame), "abrupt" (TCP close) or "eio_only". */
    leave(how) {
        if (this.closing || this.closed) {
            return;
        }
        this.closing = true;
        this.closeStartedAt = Date.now();
        this.leftAs = how;
        if (how === "abrupt") {
            this.ws.terminate();
        } else {
            if (how === "graceful" && this.ws.readyState === WebSocket.OPEN) {
                this.ws.send("41");
            }
            this.ws.close(1000);
        }
    }

    finish(reason) {
        if (this.closed) {
            return;
        }
        this.closed = true;
        clearTimeout(this.timer);
        this.closeReason = this.closing ? `left_${this.leftAs}` : reason;
        bump(totals.closeReasons, this.closeReason);
        this.onClose?.(this);
    }
}

// ---------------------------------------------------------------------------------------------
// The stack

async function startStack(opt) {
    const emu = await spawnServer({
        binary: buildBinary("tools/mongo-emu/mongo-emu"),
        args: ["--port", "0"],
        readyPattern: EMU_READY,
        name: "mongo-emu",
    });
    const uri = `mongodb://${emu.host}:${emu.port}/?replicaSet=rs0`;
    const gw = await spawnServer({
        binary: buildBinary("notify-gateway"),
        name: "notify-gateway",
        timeoutMs: 20000,
        env: {
            JWT_SECRET: TEST_SECRET,
            ENABLE_CHANGE_STREAMS: "true",
            MONGODB_URI: uri,
            // Churn from a handful of loopback addresses is not an attack; the soak measures
            // delivery and memory, not the per-address limiter.
            HANDSHAKE_RATE_PER_IP: "0",
            // Replay on connect would hand churn sockets notifications from before they
            // connected; the soak checks live delivery (catch-up has its own tests).
            CATCHUP_MAX_COUNT: "0",
            ...opt.gatewayEnv,
        },
    });
    return { emu, gw, uri };
}

async function waitWatching(url, timeoutMs) {
    const end = Date.now() + timeoutMs;
    for (;;) {
        try {
            const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2000) });
            const body = await res.json();
            if (res.status === 200 && body.data.changeStreams.isWatching) {
                return;
            }
        } catch {
            // not yet
        }
        if (Date.now() > end) {
            throw new Error(`change stream not watching after ${timeoutMs} ms`);
        }
        await sleep(100);
    }
}

async function streamHealth(url) {
    try {
        const res = await fetch(`${url}/api/health/change-streams`, { signal: AbortSignal.timeout(3000) });
        return (await res.json()).data;
    } catch (err) {
        return { error: String(err) };
    }
}

function rssKb(pid) {
    try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? Number(m[1]) : null;
    } catch {
        return null;
    }
}

// ---------------------------------------------------------------------------------------------
// Inserter: open loop at `rate`, one ordered batch in flight, exact bookkeeping under faults

class Inserter {
    constructor(uri, users, rate) {
        this.client = new MongoClient(uri, {
            appName: "soak-inserter",
            serverSelectionTimeoutMS: 30000,
            maxPoolSize: 2,
        });
        this.coll = this.client.db("test").collection("notifications");
        this.users = users;
        this.rate = rate;
        this.seq = 0;
        this.retriedDocs = 0;
        this.provedByDuplicateKey = 0;
        this.batchErrors = {};
        this.running = false;
    }

    record(doc) {
        let list = inserted.get(doc.userId);
        if (!list) {
            list = [];
            inserted.set(doc.userId, list);
        }
        list.push({ seq: doc.seq, sentAt: doc.sentAt, ackAt: Date.now() });
    }

    /** Inserts one document until it is known to be in the collection. */
    async insertSure(doc) {
        for (let attempt = 0; ; attempt++) {
            try {
                await this.coll.insertOne(doc);
                return;
            } catch (err) {
                if (err.code === 11000) {
                    this.provedByDuplicateKey++;
                    return;
                }
                bump(this.batchErrors, `retry_${err.code ?? err.name}`);
                await sleep(Math.min(2000, 100 * 2 ** attempt));
            }
        }
    }

    async insertBatch(docs) {
        try {
            await this.coll.insertMany(docs, { ordered: true });
        } catch (err) {
            // Some prefix may have landed; redo the batch one document at a time, in order, so
            // the oplog order stays the seq order and nothing lands twice.
            bump(this.batchErrors, String(err.code ?? err.name));
            this.retriedDocs += docs.length;
            for (const d of docs) {
                await this.insertSure(d);
            }
        }
        for (const d of docs) {
            this.record(d);
        }
    }

    async run(seconds) {
        this.running = true;
        const start = Date.now();
        let issued = 0;
        while (this.running) {
            const elapsed = (Date.now() - start) / 1000;
            if (elapsed >= seconds) {
                break;
            }
            const due = Math.min(Math.floor(elapsed * this.rate) - issued, 1000);
            if (due > 0) {
                const docs = [];
                for (let i = 0; i < due; i++) {
                    const seq = this.seq++;
                    const userId = this.users[seq % this.users.length];
                    docs.push({ _id: new ObjectId(), userId, type: "soak", seq, sentAt: Date.now() });
                }
                issued += due;
                await this.insertBatch(docs);
            } else {
                await sleep(20);
            }
        }
        this.seconds = (Date.now() - start) / 1000;
    }
}

// ---------------------------------------------------------------------------------------------
// Faults, in rotation (tools/mongo-emu/README.md "Fault injection")

const FAULTS = [
    ["kill-cursors", { emuKillAllCursors: 1 }],
    ["step-down-5s", { emuStepDown: 1, secs: 5 }],
    ["restart", { emuRestart: 1 }],
    [
        "getmore-close-connection",
        {
            configureFailPoint: "failCommand",
            mode: { times: 1 },
            data: { failCommands: ["getMore"], closeConnection: true, appName: "notify-gateway" },
        },
    ],
    [
        "getmore-error-91",
        { configureFailPoint: "failGetMoreAfterCursorCheckout", mode: { times: 2 }, data: { errorCode: 91 } },
    ],
];

async function injectFault(admin, names, k, t0) {
    const name = names[k % names.length];
    const cmd = FAULTS.find((f) => f[0] === name)[1];
    const at = (Date.now() - t0) / 1000;
    let outcome = "ok";
    try {
        await admin.db("admin").command(cmd);
    } catch (err) {
        // emuRestart drops the connection that asked for it; any other error is recorded.
        outcome = name === "restart" ? "ok (connection dropped by the restart)" : `error: ${err.message}`;
    }
    return { name, atSeconds: Math.round(at * 10) / 10, outcome };
}

// ---------------------------------------------------------------------------------------------
// The run

function pick(list) {
    return list[Math.floor(Math.random() * list.length)];
}

function uniform([a, b]) {
    return a + Math.random() * (b - a);
}

async function connectSteady(opt, url, steadyUsers) {
    const sockets = [];
    let ready = 0;
    let failed = 0;
    let n = 0;
    await new Promise((resolve) => {
        const settle = () => ready + failed === opt.steady && resolve();
        // Ramp at 500/s: fast enough, and the gateway's own handshake budget stays small.
        const queue = [];
        for (const u of steadyUsers) {
            for (let i = 0; i < u.sockets; i++) {
                queue.push(u.id);
            }
        }
        const timer = setInterval(() => {
            for (let i = 0; i < 50 && queue.length; i++) {
                const user = queue.shift();
                const s = new SoakSocket({
                    url,
                    user,
                    source: opt.sources[n++ % opt.sources.length],
                    onReady: () => {
                        ready++;
                        settle();
                    },
                    onClose: (sock) => {
                        if (!sock.readyAt) {
                            failed++;
                            settle();
                        }
                    },
                });
                sockets.push(s);
            }
            if (!queue.length) {
                clearInterval(timer);
            }
        }, 100);
    });
    return { sockets, ready, failed };
}

/** Churn slots: connect as a random user, stay a while, leave one of three ways, repeat. */
function startChurn(opt, url, users, t0) {
    const stats = {
        sessions: 0,
        ready: 0,
        failedBeforeReady: {},
        left: { graceful: 0, abrupt: 0, eio_only: 0 },
        droppedByServer: {},
        windowChecked: 0,
        windowMisses: 0,
    };
    const perUser = new Map();
    let running = true;
    let n = 0;
    const open = new Set();
    // A churn socket of a steady user must never push that user past MAX_SOCKETS_PER_USER
    // (the gateway would then evict the oldest socket: the steady one).
    const candidate = () => {
        for (;;) {
            const u = pick(users);
            if ((perUser.get(u) || 0) < 8) {
                return u;
            }
        }
    };
    const graceMs = 3000;
    const slot = () => {
        if (!running) {
            return;
        }
        const user = candidate();
        perUser.set(user, (perUser.get(user) || 0) + 1);
        const r = Math.random();
        const how = r < 0.1 ? "eio_only" : r < 0.3 ? "abrupt" : "graceful";
        stats.sessions++;
        const s = new SoakSocket({
            url,
            user,
            source: opt.sources[n++ % opt.sources.length],
            skipConnect: how === "eio_only",
            onReady: (sock) => {
                stats.ready++;
                sock.lifeTimer = setTimeout(() => sock.leave(how), uniform(opt.churnLife) * 1000);
            },
            onClose: (sock) => {
                open.delete(sock);
                clearTimeout(sock.lifeTimer);
                perUser.set(user, perUser.get(user) - 1);
                if (sock.closing) {
                    stats.left[sock.leftAs]++;
                } else if (sock.readyAt) {
                    bump(stats.droppedByServer, sock.closeReason);
                } else {
                    bump(stats.failedBeforeReady, sock.closeReason);
                }
                checkWindow(sock);
                setTimeout(slot, Math.random() * 1000);
            },
        });
        open.add(s);
    };
    // Informational: notifications sent after a churn socket was ready and acknowledged more
    // than graceMs before it left, yet not received. Not a failure criterion: during a fault
    // the stream can be stalled for longer than any grace.
    const checkWindow = (sock) => {
        if (!sock.readyAt || !sock.closeStartedAt) {
            return;
        }
        for (const ins of inserted.get(sock.user) || []) {
            if (ins.sentAt > sock.readyAt && ins.ackAt < sock.closeStartedAt - graceMs) {
                stats.windowChecked++;
                if (!sock.seen.has(ins.seq)) {
                    stats.windowMisses++;
                }
            }
        }
    };
    // Start the slots spread over the first lifetime so connects do not come in waves.
    for (let i = 0; i < opt.churn; i++) {
        setTimeout(slot, Math.random() * opt.churnLife[1] * 1000);
    }
    return {
        stats,
        stop: async () => {
            running = false;
            for (const s of open) {
                s.leave("graceful");
            }
            const end = Date.now() + 10000;
            while (open.size && Date.now() < end) {
                await sleep(50);
            }
            stats.stillOpenAtStop = open.size;
            stats.elapsedSeconds = (Date.now() - t0) / 1000;
        },
    };
}

/** Per steady socket: every notification its user was sent must have arrived. */
function steadyMisses(sockets) {
    let expected = 0;
    let lost = 0;
    let lostSockets = 0;
    let distinct = 0;
    const samples = [];
    for (const s of sockets) {
        const want = inserted.get(s.user) || [];
        expected += want.length;
        let missing = 0;
        for (const ins of want) {
            if (!s.seen.has(ins.seq)) {
                missing++;
                if (samples.length < 20) {
                    samples.push({ user: s.user, seq: ins.seq });
                }
            }
        }
        distinct += want.length - missing;
        lost += missing;
        lostSockets += missing ? 1 : 0;
    }
    return { expected, distinct, lost, lostSockets, samples };
}

function summarizeRss(samples, warmupEndMs, tolerance) {
    const after = samples.filter((s) => s.t >= warmupEndMs && s.rssKb);
    if (after.length < 2) {
        return { ok: false, reason: "fewer than two RSS samples after warm-up" };
    }
    const start = after[0].rssKb;
    const end = after[after.length - 1].rssKb;
    const max = Math.max(...after.map((s) => s.rssKb));
    // Least-squares slope over the post-warm-up samples, in KB per minute: a steady leak shows
    // here even when the end sample happens to sit low.
    const n = after.length;
    const mt = after.reduce((k, s) => k + s.t, 0) / n;
    const mr = after.reduce((k, s) => k + s.rssKb, 0) / n;
    const cov = after.reduce((k, s) => k + (s.t - mt) * (s.rssKb - mr), 0);
    const varT = after.reduce((k, s) => k + (s.t - mt) ** 2, 0);
    const slopeKbPerMin = varT ? (cov / varT) * 60000 : 0;
    const growth = (end - start) / start;
    return {
        startKb: start,
        endKb: end,
        maxKb: max,
        growth: Math.round(growth * 10000) / 10000,
        slopeKbPerMin: Math.round(slopeKbPerMin),
        tolerance,
        ok: growth <= tolerance,
    };
}

async function main() {
    const opt = options();
    const { steadyUsers, churnUsers, offlineUsers } = planUsers(opt);
    const allUsers = [...steadyUsers.map((u) => u.id), ...churnUsers, ...offlineUsers];
    const churnPool = [...steadyUsers.map((u) => u.id), ...churnUsers];
    console.log(
        `soak (${opt.mode}): ${opt.steady} steady sockets over ${steadyUsers.length} users, ` +
            `${opt.churn} churn slots, ${opt.rate} inserts/s for ${opt.seconds} s, ` +
            `a fault every ${opt.faultEvery} s`,
    );

    const { emu, gw, uri } = await startStack(opt);
    const failures = [];
    const report = { config: opt, startedAt: new Date().toISOString() };
    let admin;
    let inserter;
    try {
        await waitWatching(gw.url, 20000);
        admin = new MongoClient(uri, { appName: "soak-admin", serverSelectionTimeoutMS: 30000 });
        await admin.connect();

        const rss = [];
        const t0 = Date.now();
        const sampler = setInterval(() => rss.push({ t: Date.now() - t0, rssKb: rssKb(gw.proc.pid) }), opt.rssEvery * 1000);
        rss.push({ t: 0, rssKb: rssKb(gw.proc.pid) });

        const steady = await connectSteady(opt, gw.url, steadyUsers);
        report.steadyConnect = { planned: opt.steady, ready: steady.ready, failed: steady.failed, seconds: (Date.now() - t0) / 1000 };
        console.log(`steady sockets ready: ${steady.ready}/${opt.steady} in ${report.steadyConnect.seconds} s`);
        if (steady.failed) {
            failures.push(`${steady.failed} steady sockets failed to connect`);
        }
        const healthBefore = await streamHealth(gw.url);

        const tInserts = Date.now();
        const churn = startChurn(opt, gw.url, churnPool, tInserts);
        inserter = new Inserter(uri, allUsers, opt.rate);
        const faults = [];
        let k = 0;
        const faultTimer = setInterval(async () => {
            // No fault in the last seconds: its recovery would be cut off by the drain.
            if (Date.now() - tInserts > (opt.seconds - 5) * 1000) {
                return;
            }
            const f = await injectFault(admin, opt.faults, k++, tInserts);
            faults.push(f);
            console.log(`fault ${f.name} at ${f.atSeconds} s: ${f.outcome}`);
        }, opt.faultEvery * 1000);
        const progress = setInterval(() => {
            const last = rss[rss.length - 1];
            console.log(
                `t=${Math.round((Date.now() - tInserts) / 1000)} s inserted=${inserter.seq} received=${totals.received} ` +
                    `churnSessions=${churn.stats.sessions} rss=${last?.rssKb} kB`,
            );
        }, 30000);

        await inserter.run(opt.seconds);
        clearInterval(faultTimer);
        clearInterval(progress);
        // The end of the insert phase, with churn still running: the same load as the baseline.
        rss.push({ t: Date.now() - t0, rssKb: rssKb(gw.proc.pid) });
        const rssSummary = summarizeRss(rss, tInserts - t0 + opt.warmup * 1000, opt.rssTolerance);
        clearInterval(sampler);
        await churn.stop();

        // Let the stream catch up: every steady socket must end up with all of its user's.
        const drainStart = Date.now();
        while (Date.now() - drainStart < 60000 && steadyMisses(steady.sockets).lost > 0) {
            await sleep(250);
        }
        const drainSeconds = (Date.now() - drainStart) / 1000;
        await sleep(1000); // late duplicates, if any, land in the counts
        const healthAfter = await streamHealth(gw.url);
        const misses = steadyMisses(steady.sockets);
        const steadyDropped = steady.sockets.filter((s) => s.closed).length;

        const offlineSeqs = offlineUsers.reduce((k2, u) => k2 + (inserted.get(u)?.length || 0), 0);
        report.inserts = {
            count: inserter.seq,
            seconds: inserter.seconds,
            achievedRate: Math.round((inserter.seq / inserter.seconds) * 10) / 10,
            forOfflineUsers: offlineSeqs,
            batchErrors: inserter.batchErrors,
            docsRetriedOneByOne: inserter.retriedDocs,
            provedByDuplicateKey: inserter.provedByDuplicateKey,
        };
        report.faults = faults;
        report.steady = {
            sockets: steady.sockets.length,
            droppedDuringRun: steadyDropped,
            expected: misses.expected,
            delivered: misses.distinct,
            lost: misses.lost,
            socketsWithLoss: misses.lostSockets,
            lostSamples: misses.samples,
            drainSeconds,
        };
        report.churn = churn.stats;
        report.notifications = { ...totals, crossUserSamples };
        report.rss = { ...rssSummary, samples: rss };
        report.gatewayHealth = { before: healthBefore, after: healthAfter };

        if (misses.lost) {
            failures.push(`${misses.lost} notifications lost on ${misses.lostSockets} steady sockets`);
        }
        if (steadyDropped) {
            failures.push(`${steadyDropped} steady sockets were closed during the run`);
        }
        if (totals.crossUser) {
            failures.push(`${totals.crossUser} cross-user deliveries`);
        }
        if (totals.reordered) {
            failures.push(`${totals.reordered} notifications arrived out of insert order`);
        }
        if (totals.malformed) {
            failures.push(`${totals.malformed} malformed notification packets`);
        }
        if (!rssSummary.ok) {
            failures.push(`RSS not flat: ${JSON.stringify(rssSummary)}`);
        }
        gw.assertAlive();
    } catch (err) {
        failures.push(`soak aborted: ${err.stack || err}`);
    } finally {
        if (inserter) {
            inserter.running = false;
            await inserter.client.close(true).catch(() => {});
        }
        await admin?.close(true).catch(() => {});
        const gwExit = await gw.stop(10000);
        report.gatewayExit = gwExit;
        if (gwExit.code !== 0) {
            failures.push(`gateway exited with ${JSON.stringify(gwExit)} on SIGTERM`);
            console.error(gw.output());
        }
        await emu.stop();
    }

    report.failures = failures;
    report.ok = failures.length === 0;
    writeFileSync(opt.report, JSON.stringify(report, null, 2) + "\n");
    printSummary(report);
    process.exit(report.ok ? 0 : 1);
}

function printSummary(r) {
    const mb = (kb) => (kb ? `${(kb / 1024).toFixed(1)} MB` : "?");
    const lines = [`--- soak summary (${r.config.mode}, report ${r.config.report}) ---`];
    if (r.inserts) {
        lines.push(
            `inserts:        ${r.inserts.count} in ${r.inserts.seconds.toFixed(0)} s (${r.inserts.achievedRate}/s), ` +
                `${r.inserts.forOfflineUsers} for offline users, ${r.inserts.docsRetriedOneByOne} retried after faults`,
            `faults:         ${r.faults.map((f) => `${f.name}@${f.atSeconds}s`).join(", ") || "none"}`,
            `steady:         ${r.steady.sockets} sockets, ${r.steady.delivered}/${r.steady.expected} delivered, ` +
                `lost ${r.steady.lost}, dropped ${r.steady.droppedDuringRun}`,
            `churn:          ${r.churn.sessions} sessions (${r.churn.ready} ready), left graceful/abrupt/eio-only ` +
                `${r.churn.left.graceful}/${r.churn.left.abrupt}/${r.churn.left.eio_only}, ` +
                `window misses ${r.churn.windowMisses}/${r.churn.windowChecked} (informational)`,
            `notifications:  ${r.notifications.received} received, duplicates ${r.notifications.duplicates}, ` +
                `cross-user ${r.notifications.crossUser}, reordered ${r.notifications.reordered}`,
            `gateway RSS:    ${mb(r.rss.startKb)} after warm-up -> ${mb(r.rss.endKb)} at end ` +
                `(growth ${((r.rss.growth ?? 0) * 100).toFixed(1)} %, tolerance ${r.rss.tolerance * 100} %, ` +
                `slope ${r.rss.slopeKbPerMin} kB/min, max ${mb(r.rss.maxKb)})`,
            `watcher:        restarts ${r.gatewayHealth.before.restarts} -> ${r.gatewayHealth.after.restarts}, ` +
                `eventsReceived ${r.gatewayHealth.after.eventsReceived}`,
        );
    }
    lines.push(r.ok ? "RESULT: PASS" : `RESULT: FAIL\n  ${r.failures.join("\n  ")}`);
    console.log(lines.join("\n"));
}

main();
