// handshake-ceiling.mjs -- the handshake ceiling next to bench scenario d: handshake-ceiling (the
// thinnest Socket.IO-over-WebSocket server, see handshake_ceiling.c) on core 0, one gw-loadgen on
// core 1 with exactly the flags bench/run.mjs's scenario d gives it (--users N --sockets-per-user
// 1 --ramp 0 --concurrency 256 --hold 0 --timeout 30, four source addresses, HS256 by default).
// Prints one JSON line per run: handshakes/s as gw-loadgen reports it, the server's CPU per
// handshake (measured like run.mjs measures the gateway's, from /proc over the generator's life,
// and by the server itself), both cores' busy shares and the generator's CPU, so a reader can
// see which side was the bottleneck. With --runs > 1 a last line gives the medians.
//
// Usage: node bench/ceiling/handshake-ceiling.mjs [--build DIR] [--runs N] [--sockets N]
//                                                 [--alg HS256|RS256] [--split-open]
// Everything listens on or connects to 127.0.0.0/8; each process it starts is stopped by pid.
import { spawn } from "node:child_process";
import { randomBytes, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { cpuWindow, median, sleep } from "../lib/measure.mjs";

const repo = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const { values: opt } = parseArgs({
    options: {
        build: { type: "string", default: process.env.BUILD_DIR || join(repo, "build") },
        runs: { type: "string", default: "1" },
        sockets: { type: "string", default: "10000" },
        alg: { type: "string", default: "HS256" },
        "split-open": { type: "boolean", default: false },
    },
});
const SERVER_CPU = "0";
const LOAD_CPU = "1";
const runs = Number(opt.runs);
const sockets = Number(opt.sockets);
if (!(runs >= 1) || !(sockets >= 1 && sockets <= 19000) || !["HS256", "RS256"].includes(opt.alg)) {
    console.error("handshake-ceiling.mjs: --runs >= 1, --sockets 1..19000, --alg HS256|RS256");
    process.exit(2);
}
const bin = {
    server: join(opt.build, "bench/ceiling/handshake-ceiling"),
    loadgen: join(opt.build, "bench/loadgen/gw-loadgen"),
};
for (const [k, p] of Object.entries(bin))
    if (!existsSync(p)) {
        console.error(`handshake-ceiling.mjs: ${k} not found at ${p}: build it first`);
        process.exit(2);
    }

const round = (x, d = 1) => (typeof x === "number" ? Number(x.toFixed(d)) : null);

const live = new Set();
function start(name, cmd, args, cpu) {
    const child = spawn("taskset", ["-c", cpu, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    const proc = { name, child, pid: child.pid, out: "", err: "" };
    child.stdout.on("data", (d) => (proc.out += d));
    child.stderr.on("data", (d) => (proc.err += d));
    proc.exited = new Promise((resolve) =>
        child.on("exit", (code, sig) => {
            live.delete(child);
            resolve({ code, sig });
        }));
    return proc;
}
process.on("exit", () => {
    for (const c of live) c.kill("SIGKILL");
});
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => process.exit(130));

async function waitText(proc, re, ms) {
    const until = Date.now() + ms;
    while (Date.now() < until) {
        const m = re.exec(proc.err);
        if (m) return m;
        if (proc.child.exitCode !== null) break;
        await sleep(20);
    }
    throw new Error(`${proc.name}: no ${re} within ${ms} ms; stderr: ${proc.err.slice(-400)}`);
}

async function once(ctx, i) {
    const server = start("handshake-ceiling", bin.server,
                         ["--port", "0", "--cpu", SERVER_CPU, "--expect", String(sockets),
                          ...(opt["split-open"] ? ["--split-open"] : [])], SERVER_CPU);
    const port = (await waitText(server, /listening on 127\.0\.0\.1:(\d+)/, 5000))[1];
    // A new block of four source addresses per run, as run.mjs gives each generator.
    const b = i % 60;
    const report = join(ctx.tmp, `lg-${i}.json`);
    const args = ["--url", `http://127.0.0.1:${port}`, "--users", String(sockets),
                  "--sockets-per-user", "1", "--user-offset", "0",
                  "--sources", `127.0.0.${2 + b * 4}-127.0.0.${5 + b * 4}`, "--ramp", "0",
                  "--concurrency", "256", "--hold", "0", "--timeout", "30", "--report", report];
    if (opt.alg === "RS256") args.push("--alg", "RS256", "--key", ctx.rsaKey);
    else args.push("--secret", ctx.secret);
    // The same measurements as run.mjs: the server's CPU from /proc, both cores' busy shares.
    const w = cpuWindow(server.pid, SERVER_CPU, LOAD_CPU);
    const lg = start("gw-loadgen", bin.loadgen, args, LOAD_CPU);
    const r = await lg.exited;
    const { wall, serverCpu, serverCore, loadCore } = w();
    if (r.code !== 0) throw new Error(`gw-loadgen exited ${r.code}: ${lg.err.slice(-400)}`);
    const g = JSON.parse(readFileSync(report, "utf8"));
    await sleep(1000); // the generator's closes drain before the server reports
    server.child.kill("SIGTERM");
    await server.exited;
    const s = JSON.parse(server.out.trim().split("\n").pop());
    const est = g.connections.established;
    return {
        run: i + 1, alg: opt.alg, splitOpen: opt["split-open"], sockets,
        established: est, failed: g.connections.failed, valid: g.valid,
        handshakesPerSecond: round(g.handshakesPerSecond, 0),
        handshakeUs: { p50: g.handshakeUs.p50, p99: g.handshakeUs.p99, max: g.handshakeUs.max },
        // run.mjs's figure for the gateway: /proc CPU over the generator's life / established
        serverCpuUsPerHandshake: round((serverCpu * 1e6) / est, 1),
        // the server's own getrusage: to the last handshake, and with every close handled
        server: { usPerHandshakeToLast: s.usPerHandshakeAtExpect ?? null,
                  usPerHandshakeWithCloses: s.usPerHandshake,
                  systemShare: round(s.systemSeconds / Math.max(1e-9, s.cpuSeconds), 2),
                  handshakes: s.handshakes, errors: s.errors },
        cores: { server: round(serverCore, 2), load: round(loadCore, 2) },
        generator: { seconds: round(g.cpu.userSeconds + g.cpu.systemSeconds, 2),
                     shareOfLoadCore: round(g.cpu.busy, 2) },
        wallSeconds: round(wall, 2),
    };
}

async function main() {
    const tmp = mkdtempSync(join(tmpdir(), "hs-ceiling-"));
    const ctx = { tmp, secret: randomBytes(32).toString("hex"), rsaKey: join(tmp, "rs256.key") };
    if (opt.alg === "RS256") {
        const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
        writeFileSync(ctx.rsaKey, privateKey.export({ type: "pkcs8", format: "pem" }));
    }
    const all = [];
    for (let i = 0; i < runs; i++) {
        const r = await once(ctx, i);
        all.push(r);
        console.log(JSON.stringify(r));
        if (i + 1 < runs) await sleep(1500);
    }
    if (runs > 1)
        console.log(JSON.stringify({
            summary: "median", runs, alg: opt.alg,
            handshakesPerSecond: median(all.map((r) => r.handshakesPerSecond)),
            serverCpuUsPerHandshake: median(all.map((r) => r.serverCpuUsPerHandshake)),
            usPerHandshakeToLast: median(all.map((r) => r.server.usPerHandshakeToLast)),
            allValid: all.every((r) => r.valid),
        }));
    rmSync(tmp, { recursive: true, force: true });
}

main().catch((e) => {
    console.error(`handshake-ceiling.mjs: ${e.stack || e}`);
    process.exit(1);
});
