#!/usr/bin/env node
// A terminal client: the stock socket.io-client connected with a user's token, printing each
// notification as it arrives until Ctrl-C.
//
//   node client-demo/cli.mjs --token JWT [--url http://127.0.0.1:3000] [--ca certs/out/ca.crt]
//                            [--transport polling|websocket] [--event notification] [--json]
//
// TOKEN and GATEWAY_URL are read from the environment when the options are absent. Connection
// changes go to stderr, notifications to stdout (one JSON document per line with --json).
// Exits 1 when the gateway rejects the token (the reason code is printed), 2 on bad arguments.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { io } from "socket.io-client";

const USAGE =
    "usage: node client-demo/cli.mjs --token JWT [--url URL] [--ca CA_FILE] " +
    "[--transport polling|websocket] [--event NAME] [--json]";

function fail(message) {
    console.error(message);
    process.exit(2);
}

let args;
try {
    ({ values: args } = parseArgs({
        options: {
            token: { type: "string", default: process.env.TOKEN },
            url: { type: "string", default: process.env.GATEWAY_URL || "http://127.0.0.1:3000" },
            ca: { type: "string" },
            transport: { type: "string" },
            event: { type: "string", default: "notification" },
            json: { type: "boolean", default: false },
            help: { type: "boolean", short: "h" },
        },
    }));
} catch (err) {
    fail(`${err.message}\n${USAGE}`);
}
if (args.help) {
    console.log(USAGE);
    process.exit(0);
}
if (!args.token) fail(`a token is needed (--token or TOKEN)\n${USAGE}`);
if (args.transport && !["polling", "websocket"].includes(args.transport)) {
    fail(`--transport is polling or websocket, not ${args.transport}`);
}
let ca;
if (args.ca) {
    try {
        ca = readFileSync(args.ca);
    } catch (err) {
        fail(`--ca: ${err.message}`);
    }
}

const status = (line) => console.error(`[${new Date().toLocaleTimeString()}] ${line}`);
const token = args.token;
const socket = io(args.url, {
    auth: (cb) => cb({ token }), // called again on every reconnection
    ...(args.transport ? { transports: [args.transport] } : {}),
    ...(ca ? { ca } : {}),
});
const seen = new Set(); // delivery is at-least-once: de-duplicate on _id

socket.on("connect", () => status(`connected to ${args.url} over ${socket.io.engine.transport.name}`));
socket.on("connect_error", (err) => {
    if (socket.active) {
        status(`reconnecting: ${err.message}`);
        return;
    }
    status(`rejected: ${err.data?.code || "no code"}: ${err.message}`);
    process.exit(1);
});
socket.on("disconnect", (reason) => status(`${socket.active ? "reconnecting" : "disconnected"}: ${reason}`));
socket.on(args.event, (doc) => {
    if (doc?._id != null) {
        if (seen.has(doc._id)) return;
        seen.add(doc._id);
    }
    if (args.json) {
        console.log(JSON.stringify(doc));
        return;
    }
    const when = doc?.createdAt ? new Date(doc.createdAt) : new Date();
    const time = isNaN(when) ? String(doc.createdAt) : when.toLocaleTimeString();
    const message = doc?.message ? ` - ${doc.message}` : "";
    console.log(`${time}  [${doc?.type}] ${doc?.title ?? ""}${message}  (${doc?._id})`);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
        socket.close();
        process.exit(0);
    });
}
