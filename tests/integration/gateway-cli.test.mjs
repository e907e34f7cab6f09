// notify-gateway as a process: --help, --version, exit code 2 with one line per bad
// variable, and a graceful exit 0 on SIGTERM/SIGINT that stock clients see as a transport
// close (so they come back to another instance).

import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { io } from "socket.io-client";
import { buildBinary, spawnServer } from "./lib/server.mjs";
import { recordEvents } from "./lib/eio-raw.mjs";
import { TEST_SECRET, hsToken, makeKeys } from "./lib/tokens.mjs";

const BINARY = buildBinary("notify-gateway");
const RUN_MS = 5000;
// "Exits within a couple of seconds" of SIGTERM.
const SHUTDOWN_MS = 2500;
const EVENT_MS = 5000;

// Every variable of design §4.1: --help must name them all.
const VARIABLES = [
    "PORT",
    "HOST",
    "SOCKETIO_PATH",
    "ENABLE_CHANGE_STREAMS",
    "MONGODB_URI",
    "MONGODB_DB",
    "NOTIFICATIONS_COLLECTION",
    "RESUME_TOKEN_COLLECTION",
    "RESUME_TOKEN_ID",
    "NOTIFICATION_EVENT",
    "NOTIFICATION_USER_FIELD",
    "JWT_SECRET",
    "JWT_PUBLIC_KEY_FILE",
    "JWT_ALGORITHMS",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_USER_CLAIM",
    "JWT_LEEWAY_SECONDS",
    "CORS_ORIGINS",
    "PING_INTERVAL_MS",
    "PING_TIMEOUT_MS",
    "MAX_PAYLOAD_BYTES",
    "CONNECT_TIMEOUT_MS",
    "MAX_SOCKETS_PER_USER",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "DEBUG",
    "LOG_FORMAT",
];

/** The environment without any variable the gateway reads, plus `env`. */
function cleanEnv(env) {
    const base = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!VARIABLES.includes(k)) {
            base[k] = v;
        }
    }
    return { ...base, HOST: "127.0.0.1", PORT: "0", ...env };
}

/** Run the binary to completion: { code, signal, stdout, stderr }. Killed after RUN_MS. */
function run(args, env = {}) {
    return new Promise((resolve, reject) => {
        const proc = spawn(BINARY, args, { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        proc.stdout.setEncoding("utf8").on("data", (c) => (stdout += c));
        proc.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
        const timer = setTimeout(() => proc.kill("SIGKILL"), RUN_MS);
        proc.on("error", reject);
        proc.on("close", (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr });
        });
    });
}

const lines = (text) => text.split("\n").filter((l) => l !== "");

describe("command line", { concurrency: true }, () => {
    test("--help lists every variable and exits 0", async () => {
        const r = await run(["--help"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^usage: notify-gateway/);
        for (const name of VARIABLES) {
            assert.match(r.stdout, new RegExp(`^\\s+${name}\\s`, "m"), `${name} not in --help`);
        }
        assert.ok(!/listening on/.test(r.stdout));
    });

    test("--version prints the version and exits 0", async () => {
        const r = await run(["--version"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^notify-gateway \d+\.\d+\.\d+\S*\n$/);
    });

    test("an unknown argument exits 2 naming it", async () => {
        const r = await run(["--frobnicate"], { JWT_SECRET: TEST_SECRET });
        assert.equal(r.code, 2);
        assert.match(r.stderr, /--frobnicate/);
        assert.equal(r.stdout, "");
    });

    test("no key configured: exit 2 with one line naming JWT_SECRET and JWT_PUBLIC_KEY_FILE", async () => {
        const r = await run([]);
        assert.equal(r.code, 2);
        assert.equal(lines(r.stderr).length, 1, r.stderr);
        assert.match(r.stderr, /JWT_SECRET/);
        assert.match(r.stderr, /JWT_PUBLIC_KEY_FILE/);
        assert.equal(r.stdout, "");
    });

    test("each bad variable gets one line naming it; exit 2", async () => {
        const bad = {
            PORT: "http",
            PING_INTERVAL_MS: "0",
            PING_TIMEOUT_MS: "soon",
            JWT_ALGORITHMS: "none",
            JWT_LEEWAY_SECONDS: "-1",
            MAX_SOCKETS_PER_USER: "0",
            LOG_FORMAT: "xml",
        };
        const r = await run([], { JWT_SECRET: TEST_SECRET, ...bad });
        assert.equal(r.code, 2);
        assert.equal(r.stdout, "", "nothing may listen");
        const out = lines(r.stderr);
        for (const name of Object.keys(bad)) {
            const mine = out.filter((l) => l.startsWith(`${name}:`));
            assert.equal(mine.length, 1, `one line for ${name} in:\n${r.stderr}`);
        }
        assert.equal(out.length, Object.keys(bad).length, `only those lines:\n${r.stderr}`);
    });

    test("a good variable next to a bad one is not reported", async () => {
        const r = await run([], { JWT_SECRET: TEST_SECRET, PORT: "70000", MAX_SOCKETS_PER_USER: "5" });
        assert.equal(r.code, 2);
        assert.deepEqual(
            lines(r.stderr).map((l) => l.split(":")[0]),
            ["PORT"],
        );
    });

    test("an unreadable JWT_PUBLIC_KEY_FILE exits 2 naming it", async () => {
        const r = await run([], { JWT_PUBLIC_KEY_FILE: "/nonexistent/key.pem" });
        assert.equal(r.code, 2);
        assert.match(r.stderr, /JWT_PUBLIC_KEY_FILE/);
        assert.equal(r.stdout, "");
    });

    test("JWT_ALGORITHMS naming HS256 with only an RSA key exits 2", async () => {
        const keys = makeKeys();
        try {
            const r = await run([], { JWT_PUBLIC_KEY_FILE: keys.rsa.publicFile, JWT_ALGORITHMS: "HS256" });
            assert.equal(r.code, 2);
            assert.match(r.stderr, /HS256/);
            assert.equal(r.stdout, "");
        } finally {
            keys.cleanup();
        }
    });
});

describe("signals", () => {
    let gw;
    afterEach(async () => {
        // Only reached with a gateway still running when a test failed.
        await gw?.stop(500);
        gw = undefined;
    });

    async function start(env = {}) {
        gw = await spawnServer({
            binary: BINARY,
            env: { JWT_SECRET: TEST_SECRET, PING_INTERVAL_MS: "300", PING_TIMEOUT_MS: "200", ...env },
        });
        return gw;
    }

    /** Send `signal` and resolve to the exit { code, signal, ms }, failing after SHUTDOWN_MS. */
    async function signalAndWait(signal) {
        const t0 = Date.now();
        gw.proc.kill(signal);
        let timer;
        const late = new Promise((resolve) => {
            timer = setTimeout(() => resolve(null), SHUTDOWN_MS);
        });
        const exit = await Promise.race([gw.exited, late]);
        clearTimeout(timer);
        assert.ok(exit, `still running ${SHUTDOWN_MS} ms after ${signal}\n${gw.output()}`);
        return { ...exit, ms: Date.now() - t0 };
    }

    test("SIGTERM with nobody connected: exit 0", async () => {
        await start();
        const exit = await signalAndWait("SIGTERM");
        assert.deepEqual([exit.code, exit.signal], [0, null]);
    });

    test("SIGINT with nobody connected: exit 0", async () => {
        await start();
        const exit = await signalAndWait("SIGINT");
        assert.deepEqual([exit.code, exit.signal], [0, null]);
    });

    /** A connected stock client on `transport` that would reconnect (but not during the test). */
    async function connectedClient(t, transport) {
        const socket = io(gw.url, {
            forceNew: true,
            transports: [transport],
            auth: { token: hsToken(`sigterm-${transport}`) },
            // Far enough out that no attempt runs against the dead port during the test.
            reconnectionDelay: 60000,
            reconnectionDelayMax: 60000,
        });
        t.after(() => socket.disconnect());
        const events = recordEvents(socket, ["connect", "disconnect"]);
        await events.next("connect", EVENT_MS);
        return { socket, events };
    }

    for (const transport of ["websocket", "polling"]) {
        test(`SIGTERM: a ${transport} client sees a transport close and would reconnect; exit 0`, async (t) => {
            // Heartbeats far apart: a polling client then always has its GET waiting.
            await start({ PING_INTERVAL_MS: "20000", PING_TIMEOUT_MS: "20000" });
            const c = await connectedClient(t, transport);
            // A round trip on another connection, so the client's next GET has reached
            // the gateway before the signal does.
            await (await fetch(new URL("/api/health", gw.url))).text();
            const exited = signalAndWait("SIGTERM");
            const [reason] = await c.events.next("disconnect", SHUTDOWN_MS);
            assert.equal(reason, "transport close");
            assert.equal(c.socket.active, true, "the client would reconnect");
            const exit = await exited;
            assert.deepEqual([exit.code, exit.signal], [0, null]);
        });
    }

    // engine.io answers the next GET of a session closed between two polls with the close
    // packet; anything else shows up in the stock client as "transport error".
    test("SIGTERM: a polling session between two GETs gets the close packet on its next GET", async () => {
        // No heartbeat may slip into the replies read below.
        await start({ PING_INTERVAL_MS: "20000", PING_TIMEOUT_MS: "20000" });
        const url = (sid) => new URL(`/socket.io/?EIO=4&transport=polling${sid ? `&sid=${sid}` : ""}`, gw.url);
        const open = await (await fetch(url())).text();
        assert.match(open, /^0\{/);
        const { sid } = JSON.parse(open.slice(1));
        const post = await fetch(url(sid), { method: "POST", body: `40{"token":"${hsToken("between")}"}` });
        assert.equal(await post.text(), "ok");
        const reply = await (await fetch(url(sid))).text();
        assert.match(reply, /^40\{"sid":/);
        // No GET in flight now.
        const exited = signalAndWait("SIGTERM");
        const next = await fetch(url(sid));
        const body = await next.text();
        assert.deepEqual({ status: next.status, body }, { status: 200, body: "1" });
        const exit = await exited;
        assert.deepEqual([exit.code, exit.signal], [0, null]);
    });
});
