// Test harness: start a server binary as a child process and wait until it is ready.
//
// Generic on purpose (protocol-fixture, notify-gateway and mongo-emu tests share it):
// a server is ready when its stdout prints a line matching `readyPattern`, whose first
// three groups are the scheme, host and port ("... listening on http://127.0.0.1:4123").
// The port is picked by the server itself (PORT=0) unless the caller sets PORT.
//
// Every child is tracked and SIGKILLed when the test process exits, so a failed or
// interrupted test file never leaves a server behind. stderr and stdout are kept
// (bounded) so a server that dies or never gets ready fails with its own words.
//
// Environment read here:
//   GW_BUILD_DIR            where the C binaries live (default: <repo>/build)
//   GW_TEST_TARGET          "fixture" (default) or "reference": startProtocolFixture()
//                           then runs the Node reference server instead of the C
//                           protocol-fixture, to validate the tests themselves
//   GW_REFERENCE_SERVER     reference server script
//                           (default: <repo>/../shared/protocol-suite/reference-server.js)
//   GW_REFERENCE_NODE_PATH  node_modules holding engine.io 6.6 + socket.io 4.8 for it
//                           (default: $NODE_PATH, else /tmp/ref/node_modules)

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

const DEFAULT_READY = /listening on (https?):\/\/([^\s/:]+):(\d+)/;
const OUTPUT_KEEP = 64 * 1024;
const live = new Set();

process.on("exit", () => {
    for (const proc of live) {
        try {
            proc.kill("SIGKILL");
        } catch {
            // already gone
        }
    }
});

/** Path of a C binary in the build directory. */
export function buildBinary(name) {
    return path.join(process.env.GW_BUILD_DIR || path.join(REPO_ROOT, "build"), name);
}

/** True when the tests run against the Node reference server rather than our binary. */
export function targetIsReference() {
    return (process.env.GW_TEST_TARGET || "fixture") === "reference";
}

/** Ask the kernel for a free loopback port (for servers that cannot take PORT=0). */
export function pickFreePort(host = "127.0.0.1") {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", reject);
        srv.listen(0, host, () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function appendBounded(prev, chunk) {
    const next = prev + chunk;
    return next.length > OUTPUT_KEEP ? next.slice(next.length - OUTPUT_KEEP) : next;
}

/**
 * Spawn `binary args...` with `env` added to the current environment (PORT defaults to
 * "0", HOST to 127.0.0.1) and resolve once stdout matches `readyPattern`.
 *
 * Resolves to { url, scheme, host, port, proc, output(), assertAlive(), exited, stop() }:
 *   output()       the captured stdout and stderr so far, for failure messages
 *   assertAlive()  throws, with the server's output, if it exited without stop()
 *   exited         a promise of { code, signal } that resolves when the process ends
 *   stop(ms)       SIGTERM, then SIGKILL after ms; resolves to { code, signal }
 * `probe(url)`, if given, runs once the line is seen and must resolve: a server that
 * prints its line but does not answer then fails at once instead of in every test.
 * Rejects (and kills the child) if the binary is missing, exits early, is not ready
 * within `timeoutMs`, or fails the probe.
 */
export async function spawnServer({
    binary,
    args = [],
    env = {},
    readyPattern = DEFAULT_READY,
    timeoutMs = 10000,
    name = path.basename(binary),
    probe,
}) {
    if (!binary || !existsSync(binary)) {
        throw new Error(`${name}: binary not found at ${binary} (build it first)`);
    }
    const childEnv = { ...process.env, PORT: "0", HOST: "127.0.0.1", ...env };
    const proc = spawn(binary, args, { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    live.add(proc);

    let stdout = "";
    let stderr = "";
    proc.stdout.setEncoding("utf8");
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (chunk) => {
        stderr = appendBounded(stderr, chunk);
    });
    const output = () => `--- ${name} stdout ---\n${stdout}\n--- ${name} stderr ---\n${stderr}`;

    let stopping = false;
    let died = null;
    const exited = new Promise((resolve) => {
        proc.on("exit", (code, signal) => {
            live.delete(proc);
            if (!stopping) {
                died = { code, signal };
            }
            resolve({ code, signal });
        });
    });

    // A crash mid-file otherwise shows up only as a row of ECONNREFUSED in later tests.
    const assertAlive = () => {
        if (died) {
            throw new Error(
                `${name} died during the tests (code ${died.code}, signal ${died.signal})\n${output()}`,
            );
        }
    };

    const stop = async (stopTimeoutMs = 3000) => {
        stopping = true;
        if (proc.exitCode !== null || proc.signalCode !== null) {
            return exited;
        }
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), stopTimeoutMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
    };

    const ready = new Promise((resolve, reject) => {
        let seen = "";
        proc.stdout.on("data", (chunk) => {
            stdout = appendBounded(stdout, chunk);
            if (seen === null) {
                return;
            }
            seen += chunk;
            const m = seen.match(readyPattern);
            if (m) {
                seen = null;
                resolve({ scheme: m[1], host: m[2], port: Number(m[3]) });
            }
        });
        proc.on("error", (err) => reject(new Error(`${name}: cannot start: ${err.message}`)));
        exited.then(({ code, signal }) =>
            reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})\n${output()}`)),
        );
    });

    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(
            () => reject(new Error(`${name} printed no ready line within ${timeoutMs} ms\n${output()}`)),
            timeoutMs,
        );
    });

    let where;
    try {
        where = await Promise.race([ready, timeout]);
    } catch (err) {
        await stop(500);
        throw err;
    } finally {
        clearTimeout(timer);
    }
    if (!(where.port > 0)) {
        await stop(500);
        throw new Error(`${name} reported an unusable port ${where.port}\n${output()}`);
    }
    const url = `${where.scheme}://${where.host}:${where.port}`;
    if (probe) {
        try {
            await probe(url);
        } catch (err) {
            await stop(500);
            throw new Error(`${name} is listening but failed its probe: ${err.message}\n${output()}`);
        }
    }
    return {
        url,
        ...where,
        proc,
        output,
        assertAlive,
        exited,
        stop,
    };
}

/** An Engine.IO handshake must come back within a second or two on loopback. */
async function probeEngineIo(url) {
    const res = await fetch(`${url}/engine.io/?EIO=4&transport=polling`, {
        signal: AbortSignal.timeout(2000),
    });
    const body = await res.text();
    if (res.status !== 200 || !body.startsWith("0{")) {
        throw new Error(`handshake answered HTTP ${res.status} ${JSON.stringify(body.slice(0, 200))}`);
    }
}

/**
 * Start the Engine.IO/Socket.IO protocol fixture: the C `protocol-fixture` by default,
 * the Node reference server when GW_TEST_TARGET=reference (which ignores `env`: it has
 * the fixture's defaults built in, so tests relying on other settings must skip there).
 * Same result as spawnServer() plus `reference` (boolean).
 */
export async function startProtocolFixture({ env = {}, timeoutMs = 10000 } = {}) {
    if (!targetIsReference()) {
        const srv = await spawnServer({
            binary: buildBinary("protocol-fixture"),
            env,
            timeoutMs,
            probe: probeEngineIo,
        });
        return { ...srv, reference: false };
    }
    const script =
        process.env.GW_REFERENCE_SERVER ||
        path.resolve(REPO_ROOT, "../shared/protocol-suite/reference-server.js");
    const nodePath =
        process.env.GW_REFERENCE_NODE_PATH || process.env.NODE_PATH || "/tmp/ref/node_modules";
    // The reference prints the PORT it was given, so it cannot report a kernel-picked port.
    const port = await pickFreePort();
    const srv = await spawnServer({
        binary: process.execPath,
        args: [script],
        env: { PORT: String(port), NODE_PATH: nodePath },
        name: "reference-server",
        timeoutMs,
        probe: probeEngineIo,
    });
    return { ...srv, reference: true };
}
