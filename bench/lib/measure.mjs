// measure.mjs -- what bench/run.mjs and bench/ceiling/handshake-ceiling.mjs measure the same
// way: a process's CPU from /proc, each core's busy share, a window over both, the median; and
// the wall clock in microseconds that stream-floor.mjs reads (gw-insert stamps CLOCK_REALTIME).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const TICK = Number(execFileSync("getconf", ["CLK_TCK"]).toString()) || 100;

// User + system CPU seconds of a live process so far.
export function cpuSeconds(pid) {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
}

// Wall-clock microseconds (the clock gw-loadgen reads with CLOCK_REALTIME), as a function:
// Date.now() has only milliseconds, so the monotonic clock is anchored at the instant Date.now()
// ticks. An anchor taken after a preemption between the tick and the read is late, which makes
// every later reading early by as much (on the busy load core, a p50 came out negative), and
// can never be early: of several anchors the latest-reading one, the largest offset, is kept.
export function wallClockUs(anchors = 8) {
    let offset = -Infinity;
    for (let i = 0; i < anchors; i++) {
        const start = Date.now();
        let ms;
        while ((ms = Date.now()) === start);
        offset = Math.max(offset, ms * 1000 - Number(process.hrtime.bigint() / 1000n));
    }
    return () => offset + Number(process.hrtime.bigint() / 1000n);
}

// Busy and total jiffies of every core, by core number.
export function coreTicks() {
    const out = {};
    for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
        const m = /^cpu(\d+) (.*)/.exec(line);
        if (!m) continue;
        const v = m[2].trim().split(/\s+/).map(Number);
        out[m[1]] = { busy: v[0] + v[1] + v[2] + v[5] + v[6] + v[7], total: v.reduce((a, b) => a + b) };
    }
    return out;
}

// Opens a window; the function it returns closes it: wall seconds, the process's CPU seconds
// and the busy share of the server's and the load's core over the window.
export function cpuWindow(pid, serverCore, loadCore) {
    const t0 = process.hrtime.bigint(), c0 = cpuSeconds(pid), k0 = coreTicks();
    return () => {
        const wall = Number(process.hrtime.bigint() - t0) / 1e9;
        const serverCpu = cpuSeconds(pid) - c0, k1 = coreTicks();
        const busy = (c) => (k1[c].busy - k0[c].busy) / Math.max(1, k1[c].total - k0[c].total);
        return { wall, serverCpu, serverCore: busy(serverCore), loadCore: busy(loadCore) };
    };
}

export function median(xs) {
    const v = xs.filter((x) => typeof x === "number").sort((a, b) => a - b);
    if (!v.length) return null;
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}
