// Raw Engine.IO v4 helpers for black-box tests that need exact control of the wire:
// polling requests with fetch, the `\x1e` payload codec, and a WebSocket wrapper that
// buffers every event from the moment it is created, so frames that arrive together
// (one TCP read) are never lost between two awaits.

import { WebSocket } from "ws";

export const EIO_PATH = "/engine.io/";
export const SEPARATOR = "\x1e";

// The protocol fixture's defaults (and the Node reference server's fixed settings).
export const PING_INTERVAL = 300;
export const PING_TIMEOUT = 200;
export const MAX_PAYLOAD = 1000000;

/** Fail with `what` if `promise` has not settled within `ms`. */
export async function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    });
    try {
        return await Promise.race([promise, timeout]);
    } finally {
        clearTimeout(timer);
    }
}

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** URL of the Engine.IO endpoint; `params` values that are undefined are left out. */
export function eioUrl(base, params = {}, path = EIO_PATH) {
    const url = new URL(path, base);
    for (const [key, value] of Object.entries({ EIO: "4", transport: "polling", ...params })) {
        if (value !== undefined) {
            url.searchParams.set(key, value);
        }
    }
    return url.toString();
}

export function wsUrl(base, params = {}, path = EIO_PATH) {
    return eioUrl(base, { transport: "websocket", ...params }, path).replace(/^http/, "ws");
}

async function request(url, init, timeoutMs) {
    const res = await withTimeout(fetch(url, init), timeoutMs, `${init.method || "GET"} ${url}`);
    const body = await withTimeout(res.text(), timeoutMs, `body of ${url}`);
    return { status: res.status, headers: res.headers, body };
}

/**
 * One HTTP request to the polling endpoint. Resolves to { status, headers, body }.
 * `opts`: method, body, headers, signal, params (extra query), timeoutMs, duplex.
 */
export function poll(base, sid, opts = {}) {
    const { params = {}, timeoutMs = 3000, ...init } = opts;
    return request(eioUrl(base, { sid, ...params }), init, timeoutMs);
}

export function pollGet(base, sid, opts = {}) {
    return poll(base, sid, { ...opts, method: "GET" });
}

export function pollPost(base, sid, body, opts = {}) {
    return poll(base, sid, { ...opts, method: "POST", body });
}

/** Open a polling session; resolves to the parsed handshake plus the raw response. */
export async function handshake(base, opts = {}) {
    const res = await pollGet(base, undefined, opts);
    if (res.status !== 200 || !res.body.startsWith("0")) {
        throw new Error(`handshake failed: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    }
    return { ...JSON.parse(res.body.slice(1)), response: res };
}

/**
 * Encode packets for a polling body: [{ type: 4, data: "hi" | Buffer }] -> "4hi".
 * Binary message data becomes "b" + base64, as EIO4 polling requires.
 */
export function encodePayload(packets) {
    return packets
        .map(({ type = 4, data = "" }) =>
            Buffer.isBuffer(data) ? `b${data.toString("base64")}` : `${type}${data}`,
        )
        .join(SEPARATOR);
}

/** Decode a polling body into [{ type, data }]; "b..." packets decode to a Buffer (type 4). */
export function decodePayload(body) {
    if (body === "") {
        return [];
    }
    return body.split(SEPARATOR).map((packet) => {
        if (packet.startsWith("b")) {
            return { type: 4, data: Buffer.from(packet.slice(1), "base64") };
        }
        return { type: Number(packet[0]), data: packet.slice(1) };
    });
}

/**
 * A `ws` client whose open, message, close, error and unexpected-response events are
 * queued until awaited. Messages are { data, binary } with data a string for text
 * frames and a Buffer for binary frames.
 */
export class BufferedWs {
    constructor(url, options = {}) {
        this.url = url;
        this.ws = new WebSocket(url, options);
        this.queues = { open: [], message: [], close: [], refused: [] };
        this.waiters = { open: [], message: [], close: [], refused: [] };
        this.errors = [];
        this.ws.on("open", () => this.push("open", true));
        this.ws.on("message", (data, binary) =>
            this.push("message", { data: binary ? Buffer.from(data) : data.toString("utf8"), binary }),
        );
        this.ws.on("close", (code, reason) => this.push("close", { code, reason: reason.toString() }));
        this.ws.on("error", (err) => this.errors.push(err));
        // A refused upgrade: report the HTTP status instead of a bare socket error.
        this.ws.on("unexpected-response", (req, res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => {
                this.push("refused", { status: res.statusCode, headers: res.headers, body });
                this.push("close", { code: 1006, reason: "", refused: true });
            });
            res.on("error", () => {});
            req.on("error", () => {});
            req.destroy();
        });
    }

    push(kind, value) {
        const waiter = this.waiters[kind].shift();
        if (waiter) {
            waiter(value);
        } else {
            this.queues[kind].push(value);
        }
    }

    next(kind, timeoutMs, what) {
        if (this.queues[kind].length) {
            return Promise.resolve(this.queues[kind].shift());
        }
        let waiter;
        const promise = new Promise((resolve) => {
            waiter = resolve;
            this.waiters[kind].push(resolve);
        });
        return withTimeout(promise, timeoutMs, `${what || kind} on ${this.url}`).catch((err) => {
            // Do not let a late event go to a waiter nobody listens to any more.
            const i = this.waiters[kind].indexOf(waiter);
            if (i !== -1) {
                this.waiters[kind].splice(i, 1);
            }
            if (this.errors.length) {
                err.message += ` (socket errors: ${this.errors.map((e) => e.message).join("; ")})`;
            }
            throw err;
        });
    }

    /** What is queued (not yet awaited) for `kind`, without consuming it. */
    pending(kind) {
        return this.queues[kind].slice();
    }

    opened(timeoutMs = 3000) {
        return this.next("open", timeoutMs, "open");
    }

    /** Next frame: { data, binary }. */
    message(timeoutMs = 3000) {
        return this.next("message", timeoutMs, "message");
    }

    /** Next frame, which must be a text frame; resolves to its string. */
    async text(timeoutMs = 3000) {
        const { data, binary } = await this.message(timeoutMs);
        if (binary) {
            throw new Error(`expected a text frame, got binary ${data.toString("hex")}`);
        }
        return data;
    }

    /** Resolves to { code, reason } once the connection is closed. */
    closed(timeoutMs = 3000) {
        return this.next("close", timeoutMs, "close");
    }

    /** Resolves to { status, headers, body } when the server refused the upgrade. */
    refused(timeoutMs = 3000) {
        return this.next("refused", timeoutMs, "refused upgrade");
    }

    /** The Engine.IO open packet of a WebSocket-only session, parsed. */
    async handshake(timeoutMs = 3000) {
        const first = await this.text(timeoutMs);
        if (!first.startsWith("0")) {
            throw new Error(`expected an open packet, got ${JSON.stringify(first)}`);
        }
        return JSON.parse(first.slice(1));
    }

    send(data, options) {
        this.ws.send(data, options);
    }

    get readyState() {
        return this.ws.readyState;
    }

    /** Close (or kill, if still connecting) without waiting. */
    close() {
        if (this.ws.readyState === WebSocket.CONNECTING) {
            this.ws.terminate();
        } else if (this.ws.readyState === WebSocket.OPEN) {
            this.ws.close();
        }
    }

    terminate() {
        this.ws.terminate();
    }
}

/** Open a BufferedWs to the Engine.IO endpoint with the given query parameters. */
export function openWs(base, params = {}, options = {}) {
    return new BufferedWs(wsUrl(base, params), options);
}

/**
 * Queue the given events of an emitter (e.g. an engine.io-client Socket) from now on,
 * so a test can await them in order without missing one that fired in between.
 * Each entry is the listener's argument list. `all(name)` lists what is queued.
 */
export function recordEvents(emitter, names) {
    const queues = Object.fromEntries(names.map((n) => [n, []]));
    const waiters = Object.fromEntries(names.map((n) => [n, []]));
    const seen = Object.fromEntries(names.map((n) => [n, 0]));
    for (const name of names) {
        emitter.on(name, (...args) => {
            seen[name]++;
            const waiter = waiters[name].shift();
            if (waiter) {
                waiter(args);
            } else {
                queues[name].push(args);
            }
        });
    }
    return {
        count: (name) => seen[name],
        all: (name) => queues[name].slice(),
        next(name, timeoutMs = 3000) {
            if (queues[name].length) {
                return Promise.resolve(queues[name].shift());
            }
            let waiter;
            const promise = new Promise((resolve) => {
                waiter = resolve;
                waiters[name].push(resolve);
            });
            return withTimeout(promise, timeoutMs, `event "${name}"`).catch((err) => {
                const i = waiters[name].indexOf(waiter);
                if (i !== -1) {
                    waiters[name].splice(i, 1);
                }
                throw err;
            });
        },
    };
}
