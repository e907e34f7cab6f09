// server.mjs -- the benchmark's peer: notify-gateway's job done the way a Node team would
// deploy it. socket.io 4.8 authenticates each socket with jsonwebtoken in a middleware
// (auth.token in the CONNECT packet), joins it to the room user:<id>, and one change stream from
// the official mongodb driver emits every inserted notification to its user's room.
//
// It is given socket.io's documented tuning (websocket and polling, no per-message deflate, the
// first HTTP request not retained), so the comparison is against the peer at its best.
//
// Environment (the gateway's names): PORT (3000), HOST (0.0.0.0), SOCKETIO_PATH (/socket.io/),
// MONGODB_URI, MONGODB_DB (database in the URI, else test), NOTIFICATIONS_COLLECTION
// (notifications), NOTIFICATION_EVENT (notification), NOTIFICATION_USER_FIELD (userId),
// JWT_SECRET and/or JWT_PUBLIC_KEY_FILE (HS256 / RS256; both may be set), JWT_USER_CLAIM (sub),
// JWT_LEEWAY_SECONDS (5), PING_INTERVAL_MS (25000), PING_TIMEOUT_MS (20000),
// MAX_PAYLOAD_BYTES (1000000).
//
// GET /api/health answers 200 once the change stream is open (503 before), so a script knows
// when an insert can no longer be missed.
import { createPublicKey, createSecretKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

import jwt from "jsonwebtoken";
import { MongoClient, ObjectId, Long, Decimal128, Binary, Timestamp } from "mongodb";
import { Server } from "socket.io";

const env = process.env;

function intEnv(name, dflt, min) {
    const raw = env[name] ?? String(dflt);
    const v = Number(raw);
    if (!Number.isInteger(v) || v < min) {
        console.error(`peer: ${name} must be an integer >= ${min}, not "${raw}"`);
        process.exit(2);
    }
    return v;
}

const port = intEnv("PORT", 3000, 0);
const host = env.HOST || "0.0.0.0";
const path = env.SOCKETIO_PATH || "/socket.io/";
const uri = env.MONGODB_URI || "mongodb://127.0.0.1:27017/?replicaSet=rs0";
const collName = env.NOTIFICATIONS_COLLECTION || "notifications";
const eventName = env.NOTIFICATION_EVENT || "notification";
const userField = env.NOTIFICATION_USER_FIELD || "userId";
const userClaim = env.JWT_USER_CLAIM || "sub";
const leeway = intEnv("JWT_LEEWAY_SECONDS", 5, 0);

// One key per algorithm family, as the gateway does: never hand an HMAC secret to an RSA verify.
// Keys are KeyObjects made once: given a string, jsonwebtoken 9 tries createPublicKey() on it at
// every verify (and, for a secret, fails and falls back), which cost a third of the peer's CPU.
const keys = [];
if (env.JWT_SECRET)
    keys.push({ key: createSecretKey(Buffer.from(env.JWT_SECRET)),
                algorithms: ["HS256", "HS384", "HS512"] });
if (env.JWT_PUBLIC_KEY_FILE)
    keys.push({ key: createPublicKey(readFileSync(env.JWT_PUBLIC_KEY_FILE)),
                algorithms: ["RS256", "RS384", "RS512"] });
if (keys.length === 0) {
    console.error("peer: no JWT key configured: set JWT_SECRET or JWT_PUBLIC_KEY_FILE");
    process.exit(2);
}

function authError(message, code) {
    const err = new Error(message);
    err.data = { code };
    return err;
}

// The token's header names its algorithm; pick the one key that may verify it.
function verify(token) {
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded) throw authError("malformed token", "TOKEN_INVALID");
    const k = keys.find((k) => k.algorithms.includes(decoded.header.alg));
    if (!k) throw authError("algorithm not allowed", "ALGORITHM_NOT_ALLOWED");
    try {
        return jwt.verify(token, k.key, { algorithms: k.algorithms, clockTolerance: leeway });
    } catch (e) {
        if (e.name === "TokenExpiredError") throw authError("token expired", "TOKEN_EXPIRED");
        if (e.name === "NotBeforeError") throw authError("token not yet valid", "TOKEN_NOT_YET_VALID");
        throw authError("invalid token", "TOKEN_INVALID");
    }
}

// The gateway's document -> JSON mapping: ObjectId -> hex, Date -> ISO-8601, Int64 -> number,
// Decimal128 -> string, Binary -> base64, nested documents and arrays kept.
function toWire(v) {
    if (v === null || typeof v !== "object") return v;
    if (v instanceof ObjectId) return v.toHexString();
    if (v instanceof Date) return v.toISOString();
    if (v instanceof Long) return v.toNumber();
    if (v instanceof Decimal128) return v.toString();
    if (v instanceof Binary) return Buffer.from(v.buffer).toString("base64");
    if (v instanceof Timestamp) return { t: v.high, i: v.low };
    if (Array.isArray(v)) return v.map(toWire);
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toWire(x);
    return out;
}

let watching = false;
const http = createServer((req, res) => {
    if (req.url === "/api/health") {
        res.writeHead(watching ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: watching ? "success" : "error",
                                 data: { sockets: io.engine.clientsCount, isWatching: watching } }));
        return;
    }
    res.writeHead(404).end();
});

const io = new Server(http, {
    path,
    transports: ["websocket", "polling"],
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
    maxHttpBufferSize: intEnv("MAX_PAYLOAD_BYTES", 1000000, 1),
    pingInterval: intEnv("PING_INTERVAL_MS", 25000, 1),
    pingTimeout: intEnv("PING_TIMEOUT_MS", 20000, 1),
});
// socket.io's memory tip: do not keep every connection's first HTTP request alive.
io.engine.on("connection", (raw) => {
    raw.request = null;
});

io.use((socket, next) => {
    let token = socket.handshake.auth?.token;
    if (typeof token !== "string" || token === "")
        return next(authError("no token", "TOKEN_MISSING"));
    if (token.startsWith("Bearer ")) token = token.slice(7);
    try {
        const claims = verify(token);
        const user = claims[userClaim];
        if (typeof user !== "string" || user === "")
            return next(authError("no user claim", "USER_CLAIM_MISSING"));
        socket.data.userId = user;
        next();
    } catch (e) {
        next(e);
    }
});

io.on("connection", (socket) => {
    socket.join(`user:${socket.data.userId}`);
});

const client = new MongoClient(uri);
await client.connect();
const db = client.db(env.MONGODB_DB || undefined);
const coll = db.collection(collName);

let resumeAfter;
function watch() {
    const opts = resumeAfter ? { resumeAfter } : {};
    const stream = coll.watch([{ $match: { operationType: "insert" } }], opts);
    // The first resume token arrives with the aggregate's answer: the stream is open from then.
    stream.on("resumeTokenChanged", () => {
        watching = true;
    });
    stream.on("change", (ev) => {
        resumeAfter = ev._id;
        const doc = ev.fullDocument;
        let user = doc?.[userField];
        if (user instanceof ObjectId) user = user.toHexString();
        if (typeof user !== "string") return;
        io.to(`user:${user}`).emit(eventName, toWire(doc));
    });
    stream.on("error", (e) => {
        // The driver resumes resumable errors itself; anything else: reopen from the last event.
        console.error(`peer: change stream: ${e.message}`);
        watching = false;
        stream.close().catch(() => {});
        setTimeout(watch, 1000);
    });
}
watch();

http.listen(port, host, () => {
    console.error(`peer: listening on ${host}:${http.address().port}`);
});

for (const sig of ["SIGINT", "SIGTERM"])
    process.on(sig, async () => {
        io.close();
        await client.close().catch(() => {});
        process.exit(0);
    });
