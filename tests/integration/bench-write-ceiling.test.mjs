// bench/ceiling/write-ceiling's paced mode (--rate), the floor that bench/run.mjs sets beside
// every high-rate latency window: the README's claims about the latency target rest on it
// writing exactly what was asked, never ahead of its schedule, and on refusing bad options
// instead of falling back to the unpaced mode. Timing itself is not asserted (no timed tests):
// only what a correct pacer cannot violate on any machine.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { buildBinary } from "./lib/server.mjs";

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
