// The product stack for integration tests: a mongo-emu, a notify-gateway watching it, and the
// official Node `mongodb` driver as the admin backend that inserts notifications.
//
// Every process is spawned on a free port through spawnServer (killed when the test process
// exits). MONGODB_URI, when set in the environment, replaces the emulator with a real replica
// set.

import { MongoClient } from "mongodb";
import { io } from "socket.io-client";

import { buildBinary, spawnServer } from "./server.mjs";
import { TEST_SECRET, hsToken } from "./tokens.mjs";

const EMU_READY = /mongo-emu listening on ()([^\s:]+):(\d+)/;

/** Starts a mongo-emu (or uses $MONGODB_URI). Resolves to { uri, stop(), server? }. */
export async function startMongo({ args = [] } = {}) {
    if (process.env.MONGODB_URI) {
        return { uri: process.env.MONGODB_URI, stop: async () => {} };
    }
    const server = await spawnServer({
        binary: buildBinary("tools/mongo-emu/mongo-emu"),
        args: ["--port", "0", ...args],
        readyPattern: EMU_READY,
        name: "mongo-emu",
    });
    return {
        uri: `mongodb://${server.host}:${server.port}/?replicaSet=rs0`,
        server,
        stop: () => server.stop(),
    };
}

/** Starts notify-gateway with the test secret and the given extra environment. */
export function startGateway(env = {}) {
    return spawnServer({
        binary: buildBinary("notify-gateway"),
        env: { JWT_SECRET: TEST_SECRET, ...env },
        name: "notify-gateway",
    });
}

/** Polls /api/health until the change stream is watching (or times out). */
export async function waitWatching(url, timeoutMs = 10000) {
    const until = Date.now() + timeoutMs;
    let last;
    while (Date.now() < until) {
        const res = await fetch(`${url}/api/health`);
        last = await res.json();
        if (res.status === 200 && last.data.changeStreams.isWatching) {
            return last;
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`change stream not watching after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

/** A stock socket.io-client with the suite's options, returned at once (listeners added before
 *  the connect see every event). */
export function openClient(url, token, { transports, ...opts } = {}) {
    return io(url, {
        auth: { token },
        transports: transports || ["polling", "websocket"],
        reconnection: false,
        forceNew: true,
        ...opts,
    });
}

/** Connects a stock socket.io-client and resolves once connected. */
export function connectClient(url, token, opts = {}) {
    const socket = openClient(url, token, opts);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("connect timeout")), 5000);
        socket.once("connect", () => {
            clearTimeout(timer);
            resolve(socket);
        });
        socket.once("connect_error", (err) => {
            clearTimeout(timer);
            socket.close();
            reject(err);
        });
    });
}

/** Records every event `name` a socket receives. */
export function collect(socket, name = "notification") {
    const got = [];
    socket.on(name, (doc) => got.push(doc));
    return got;
}

/** Resolves once check() is true, polling every 20 ms; rejects with describe() on timeout. */
export async function until(check, timeoutMs, describe = () => "") {
    const end = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > end) {
            throw new Error(`timed out after ${timeoutMs} ms ${describe()}`);
        }
        await new Promise((r) => setTimeout(r, 20));
    }
}

/**
 * The usual fixture: a mongo-emu, a gateway watching it (`extra` environment on top) and the
 * admin client. `env(more)` is the gateway environment, for starting more instances on the same
 * emulator; what a test opens goes into `closeables` (anything with close()), and stop() closes
 * those first, then the rest. `connect(user, transports)` is a connected stock client of that
 * user on the gateway, closed with the stack.
 */
export async function startStack(extra = {}) {
    const mongo = await startMongo();
    const env = (more = {}) => ({ ENABLE_CHANGE_STREAMS: "true", MONGODB_URI: mongo.uri, ...more });
    const gw = await startGateway(env(extra));
    await waitWatching(gw.url);
    const admin = await adminClient(mongo.uri);
    const closeables = [];
    return {
        mongo,
        gw,
        admin,
        env,
        closeables,
        async connect(user, transports) {
            const s = await connectClient(gw.url, hsToken(user), { transports });
            closeables.push(s);
            return s;
        },
        async stop() {
            for (const c of closeables) c.close();
            await admin.client.close();
            await gw.stop();
            await mongo.stop();
        },
    };
}

/**
 * Inserts docs into `collection` while the gateway is stopped (SIGSTOP): it cannot ask between
 * the inserts, so the whole batch is waiting for it as one backlog when it continues.
 */
export async function insertWhileStopped(gw, collection, docs) {
    process.kill(gw.proc.pid, "SIGSTOP");
    try {
        await collection.insertMany(docs);
    } finally {
        process.kill(gw.proc.pid, "SIGCONT");
    }
}

/** The admin backend: the official driver on the notifications collection. */
export async function adminClient(uri, db = "test") {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
    await client.connect();
    return { client, notifications: client.db(db).collection("notifications"), db: client.db(db) };
}

/** Opens GET /api/notifications/stream and parses its events as they come: { res, events (each
 * {event, id, data} with data parsed), comments (heartbeats), close() }. */
export async function openSseStream(url, headers) {
    const ctrl = new AbortController();
    const res = await fetch(`${url}/api/notifications/stream`, { headers, signal: ctrl.signal });
    const out = { res, events: [], comments: 0, close: () => ctrl.abort() };
    if (res.status !== 200) return out;
    (async () => {
        const decoder = new TextDecoder();
        let buf = "";
        try {
            for await (const chunk of res.body) {
                buf += decoder.decode(chunk, { stream: true });
                let end;
                while ((end = buf.indexOf("\n\n")) >= 0) {
                    const block = buf.slice(0, end);
                    buf = buf.slice(end + 2);
                    if (block.startsWith(":")) {
                        out.comments++;
                        continue;
                    }
                    const ev = {};
                    for (const line of block.split("\n")) {
                        const i = line.indexOf(": ");
                        ev[line.slice(0, i)] = line.slice(i + 2);
                    }
                    ev.data = JSON.parse(ev.data);
                    out.events.push(ev);
                }
            }
        } catch {
            // aborted
        }
    })();
    return out;
}
