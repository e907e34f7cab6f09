// The short end-to-end run scripts/valgrind.sh drives (issue 8 item 2): mongo-emu and
// notify-gateway each under valgrind memcheck, the stock socket.io-client and the official
// mongodb driver outside it. The run walks the paths a production day takes through the
// gateway's memory: polling, websocket and an upgrade from polling to websocket, a user with
// several sockets, notifications for online and offline users, token rejections, the health
// and metrics endpoints, a watcher restart after a mongo-emu fault, client disconnects (clean
// and abrupt), and a SIGTERM shutdown with sockets still open.
//
// It fails (exit 1) when any step does not do what the contract says; valgrind's own verdict
// is each process's exit status (--error-exitcode), checked by scripts/valgrind.sh from the
// "exit:" lines printed at the end.
//
// Environment: GW_BUILD_DIR (binaries), VALGRIND_LOG_DIR (one log per process),
// VALGRIND_SUPP (suppressions file), VALGRIND_ERROR_EXIT (the exit status meaning "errors").

import assert from "node:assert/strict";
import path from "node:path";

import { MongoClient, ObjectId } from "mongodb";
import { io } from "socket.io-client";

import { buildBinary, spawnServer } from "../integration/lib/server.mjs";
import { claims, signToken, TEST_SECRET } from "../integration/lib/tokens.mjs";

const LOG_DIR = process.env.VALGRIND_LOG_DIR || "/tmp";
const ERROR_EXIT = process.env.VALGRIND_ERROR_EXIT || "99";
// Everything is 20-50 times slower under memcheck: generous waits, no heartbeat deadlines.
const WAIT_MS = 20000;

function valgrindArgs(name) {
    const args = [
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
        "--show-leak-kinds=definite,indirect",
        `--error-exitcode=${ERROR_EXIT}`,
        "--track-origins=yes",
        "--num-callers=30",
        `--log-file=${path.join(LOG_DIR, `${name}.valgrind.log`)}`,
    ];
    if (process.env.VALGRIND_SUPP) {
        args.push(`--suppressions=${process.env.VALGRIND_SUPP}`);
    }
    return args;
}

function underValgrind(name, binary, args, env, readyPattern) {
    return spawnServer({
        binary: "/usr/bin/valgrind",
        args: [...valgrindArgs(name), binary, ...args],
        env,
        readyPattern,
        timeoutMs: 60000,
        name,
    });
}

const token = (user, opts) => signToken(claims(user, opts), { key: TEST_SECRET });

function connect(url, auth, transports) {
    const socket = io(url, {
        auth,
        transports,
        reconnection: false,
        forceNew: true,
        timeout: WAIT_MS,
    });
    return new Promise((resolve, reject) => {
        socket.once("connect", () => resolve(socket));
        socket.once("connect_error", (err) => {
            socket.close();
            reject(err);
        });
    });
}

async function until(check, what) {
    const end = Date.now() + WAIT_MS;
    while (!check()) {
        if (Date.now() > end) {
            throw new Error(`timed out waiting for ${what}`);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
}

async function getJson(url) {
    const res = await fetch(url, { signal: AbortSignal.timeout(WAIT_MS) });
    return { status: res.status, body: await res.json() };
}

/** Inserts doc until it is known to be in: a fault may close the connection under the insert,
 * and with a client-made _id a DuplicateKey answer means the first attempt landed. */
async function insertSure(coll, doc) {
    doc._id ??= new ObjectId();
    for (let attempt = 0; ; attempt++) {
        try {
            await coll.insertOne(doc);
            return;
        } catch (err) {
            if (err.code === 11000) {
                return;
            }
            if (attempt >= 20) {
                throw err;
            }
            await new Promise((r) => setTimeout(r, 250));
        }
    }
}

async function step(name, fn) {
    const t = Date.now();
    await fn();
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
}

async function main() {
    const emu = await underValgrind(
        "mongo-emu",
        buildBinary("tools/mongo-emu/mongo-emu"),
        ["--port", "0"],
        {},
        /mongo-emu listening on ()([^\s:]+):(\d+)/,
    );
    const uri = `mongodb://${emu.host}:${emu.port}/?replicaSet=rs0`;
    const gw = await underValgrind("notify-gateway", buildBinary("notify-gateway"), [], {
        JWT_SECRET: TEST_SECRET,
        ENABLE_CHANGE_STREAMS: "true",
        MONGODB_URI: uri,
        PING_INTERVAL_MS: "60000",
        PING_TIMEOUT_MS: "60000",
    });
    const mongo = new MongoClient(uri, { serverSelectionTimeoutMS: WAIT_MS, appName: "valgrind-e2e" });
    let failed = false;
    const sockets = [];
    try {
        await mongo.connect();
        const notifications = mongo.db("test").collection("notifications");

        await step("change stream watching", async () => {
            const end = Date.now() + WAIT_MS * 3;
            for (;;) {
                const h = await getJson(`${gw.url}/api/health`);
                if (h.status === 200 && h.body.data.changeStreams.isWatching) {
                    return;
                }
                assert.ok(Date.now() < end, "the watcher never reported watching");
                await new Promise((r) => setTimeout(r, 200));
            }
        });

        const got = new Map();
        const track = (name, s) => {
            got.set(name, []);
            s.on("notification", (doc) => got.get(name).push(doc));
            sockets.push(s);
            return s;
        };
        await step("connect: polling only, websocket only, polling upgraded to websocket", async () => {
            track("alice-polling", await connect(gw.url, { token: token("alice") }, ["polling"]));
            track("alice-ws", await connect(gw.url, { token: `Bearer ${token("alice")}` }, ["websocket"]));
            const up = track("bob-upgrade", await connect(gw.url, { token: token("bob") }, ["polling", "websocket"]));
            await until(() => up.io.engine.transport.name === "websocket", "the upgrade to websocket");
        });

        await step("notifications reach every socket of their user and no one else", async () => {
            const docs = [
                { userId: "alice", type: "t", seq: 0, data: { nested: [1, "two", { three: 3 }] } },
                { userId: "bob", type: "t", seq: 1, at: new Date() },
                { userId: "nobody-online", type: "t", seq: 2 },
                { userId: "alice", type: "t", seq: 3, title: "é ✓ 𝄞" },
            ];
            for (const d of docs) {
                await insertSure(notifications, d);
            }
            await until(
                () => got.get("alice-polling").length >= 2 && got.get("alice-ws").length >= 2 && got.get("bob-upgrade").length >= 1,
                "the notifications",
            );
            await new Promise((r) => setTimeout(r, 500));
            assert.deepEqual(got.get("alice-polling").map((d) => d.seq), [0, 3]);
            assert.deepEqual(got.get("alice-ws").map((d) => d.seq), [0, 3]);
            assert.deepEqual(got.get("bob-upgrade").map((d) => d.seq), [1]);
        });

        await step("token rejections: invalid, expired, missing", async () => {
            const codeOf = (p) =>
                p.then(
                    (s) => {
                        s.close();
                        return "connected";
                    },
                    (err) => err.data?.code,
                );
            assert.equal(await codeOf(connect(gw.url, { token: `${token("eve")}x` }, ["websocket"])), "TOKEN_INVALID");
            assert.equal(await codeOf(connect(gw.url, { token: token("eve", { expIn: -3600 }) }, ["polling"])), "TOKEN_EXPIRED");
            assert.equal(await codeOf(connect(gw.url, {}, ["websocket"])), "TOKEN_MISSING");
        });

        await step("health and metrics", async () => {
            const h = await getJson(`${gw.url}/api/health/change-streams`);
            assert.equal(h.status, 200);
            assert.ok(h.body.data.eventsReceived >= 4);
            const m = await fetch(`${gw.url}/metrics`, { signal: AbortSignal.timeout(WAIT_MS) });
            assert.equal(m.status, 200);
            assert.match(await m.text(), /# TYPE/);
        });

        await step("faults: a mongo-emu restart (resumed inside mongoc), then a getMore error the watcher must restart for", async () => {
            const before = (await getJson(`${gw.url}/api/health/change-streams`)).body.data.restarts;
            await mongo.db("admin").command({ emuRestart: 1 }).catch(() => {});
            await insertSure(notifications, { userId: "bob", type: "t", seq: 4 });
            await until(() => got.get("bob-upgrade").length >= 2, "the notification after the restart");
            // Without the ResumableChangeStreamError label mongoc gives up on the stream, so the
            // watcher tears it down and reopens it from its token.
            await mongo.db("admin").command({
                configureFailPoint: "failCommand",
                mode: { times: 1 },
                data: { failCommands: ["getMore"], errorCode: 2, appName: "notify-gateway" },
            });
            const deadline = Date.now() + WAIT_MS * 2;
            for (;;) {
                const cs = (await getJson(`${gw.url}/api/health/change-streams`)).body.data;
                if (cs.restarts > before && cs.isWatching) {
                    break;
                }
                assert.ok(Date.now() < deadline, "the watcher did not restart and resume after the getMore error");
                await new Promise((r) => setTimeout(r, 200));
            }
            await insertSure(notifications, { userId: "bob", type: "t", seq: 5 });
            await until(() => got.get("bob-upgrade").length >= 3, "the notification after the watcher restart");
            assert.deepEqual(got.get("bob-upgrade").map((d) => d.seq), [1, 4, 5]);
        });

        await step("disconnects: clean and abrupt", async () => {
            sockets.shift().close(); // alice-polling: Socket.IO disconnect
            sockets.shift().io.engine.transport.ws.terminate(); // alice-ws: TCP gone, no close frame
            const deadline = Date.now() + WAIT_MS;
            for (;;) {
                const h = await getJson(`${gw.url}/api/health`);
                if (h.body.data.sockets === 1) {
                    break;
                }
                assert.ok(Date.now() < deadline, `sockets still registered: ${h.body.data.sockets}`);
                await new Promise((r) => setTimeout(r, 200));
            }
        });
    } catch (err) {
        failed = true;
        console.error(`FAIL ${err.stack || err}`);
    } finally {
        await mongo.close(true).catch(() => {});
        // SIGTERM with bob's upgraded socket still open: the graceful path frees it too.
        const gwExit = await gw.stop(60000);
        for (const s of sockets) {
            s.close();
        }
        const emuExit = await emu.stop(60000);
        console.log(`exit: notify-gateway ${gwExit.code ?? gwExit.signal}`);
        console.log(`exit: mongo-emu ${emuExit.code ?? emuExit.signal}`);
        if (gwExit.code !== 0 || emuExit.code !== 0) {
            failed = true;
        }
    }
    process.exit(failed ? 1 : 0);
}

main();
