// notify-gateway with the stock socket.io-client 4.8: a valid token connects on every
// transport and from every token source of design §4.2, and only namespace "/" exists.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { buildBinary, spawnServer } from "./lib/server.mjs";
import { recordEvents } from "./lib/eio-raw.mjs";
import { TEST_SECRET, claims, hsToken, signToken } from "./lib/tokens.mjs";

const EVENT_MS = 5000;

let gw;
before(async () => {
    gw = await spawnServer({
        binary: buildBinary("notify-gateway"),
        // Short enough that the upgrade tests see heartbeats, long enough for a busy test
        // process running every test here at once to answer them in time.
        env: { JWT_SECRET: TEST_SECRET, PING_INTERVAL_MS: "1000", PING_TIMEOUT_MS: "1000" },
    });
});
afterEach(() => gw?.assertAlive());
after(async () => {
    await gw?.stop();
});

/** A stock client of its own (no shared Manager), closed when the test ends. */
function client(t, opts = {}, nsp = "/") {
    const socket = io(new URL(nsp, gw.url).toString(), {
        forceNew: true,
        reconnection: false,
        timeout: EVENT_MS,
        ...opts,
    });
    const events = recordEvents(socket, ["connect", "connect_error", "disconnect"]);
    t.after(() => socket.disconnect());
    return { socket, events };
}

/** Resolves once connected; fails at once, with the server's reason, on a connect_error. */
function connected({ socket }, ms = EVENT_MS) {
    return new Promise((resolve, reject) => {
        const onConnect = () => done();
        const onError = (err) =>
            done(new Error(`connect_error: ${err.message} ${JSON.stringify(err.data)}`));
        const timer = setTimeout(() => done(new Error(`not connected within ${ms} ms`)), ms);
        function done(err) {
            clearTimeout(timer);
            socket.off("connect", onConnect);
            socket.off("connect_error", onError);
            if (err) {
                reject(err);
                return;
            }
            assert.equal(socket.connected, true);
            assert.equal(typeof socket.id, "string");
            assert.ok(socket.id.length > 0);
            resolve();
        }
        if (socket.connected) {
            done();
            return;
        }
        socket.on("connect", onConnect);
        socket.on("connect_error", onError);
    });
}

describe("transports", { concurrency: true }, () => {
    test("polling only", async (t) => {
        const c = client(t, { transports: ["polling"], auth: { token: hsToken("u-poll") } });
        await connected(c);
        assert.equal(c.socket.io.engine.transport.name, "polling");
    });

    test("websocket only", async (t) => {
        const c = client(t, { transports: ["websocket"], auth: { token: hsToken("u-ws") } });
        await connected(c);
        assert.equal(c.socket.io.engine.transport.name, "websocket");
    });

    test("the default: polling, then upgraded to websocket", async (t) => {
        const c = client(t, { auth: { token: hsToken("u-upgrade") } });
        const engine = recordEvents(c.socket.io.engine, ["upgrade"]);
        await connected(c);
        const [transport] = await engine.next("upgrade", EVENT_MS);
        assert.equal(transport.name, "websocket");
        assert.equal(c.socket.io.engine.transport.name, "websocket");
        assert.equal(c.socket.connected, true);
    });
});

describe("token sources", { concurrency: true }, () => {
    for (const transport of ["polling", "websocket"]) {
        const transports = [transport];

        test(`auth.token (${transport})`, async (t) => {
            await connected(client(t, { transports, auth: { token: hsToken("u-auth") } }));
        });

        test(`auth.token with "Bearer " (${transport})`, async (t) => {
            const auth = { token: `Bearer ${hsToken("u-bearer")}` };
            await connected(client(t, { transports, auth }));
        });

        test(`Authorization: Bearer header (${transport})`, async (t) => {
            const extraHeaders = { Authorization: `Bearer ${hsToken("u-header")}` };
            await connected(client(t, { transports, extraHeaders }));
        });

        test(`token query parameter (${transport})`, async (t) => {
            await connected(client(t, { transports, query: { token: hsToken("u-query") } }));
        });

        test(`auth callback (${transport})`, async (t) => {
            let calls = 0;
            const auth = (cb) => {
                calls++;
                cb({ token: hsToken("u-callback") });
            };
            await connected(client(t, { transports, auth }));
            assert.equal(calls, 1);
        });
    }

    // The order of design §4.2 decides which token counts: a bad token in a source that
    // comes first must win over a good one later, and an empty one must not.
    test("auth.token comes before the Authorization header", async (t) => {
        const c = client(t, {
            auth: { token: hsToken("u-order", { expIn: -60 }) },
            extraHeaders: { Authorization: `Bearer ${hsToken("u-order")}` },
        });
        const [err] = await c.events.next("connect_error", EVENT_MS);
        assert.equal(err.data?.code, "TOKEN_EXPIRED");
    });

    test("the Authorization header comes before the query parameter", async (t) => {
        const c = client(t, {
            extraHeaders: { Authorization: `Bearer ${hsToken("u-order", { expIn: -60 })}` },
            query: { token: hsToken("u-order") },
        });
        const [err] = await c.events.next("connect_error", EVENT_MS);
        assert.equal(err.data?.code, "TOKEN_EXPIRED");
    });

    test("an empty auth.token falls through to the header", async (t) => {
        const c = client(t, {
            auth: { token: "" },
            extraHeaders: { Authorization: `Bearer ${hsToken("u-fallthrough")}` },
        });
        await connected(c);
    });

    test("an auth.token that is not a string does not count", async (t) => {
        const c = client(t, { auth: { token: 12345 }, query: { token: hsToken("u-nonstring") } });
        await connected(c);
    });
});

describe("user claim", { concurrency: true }, () => {
    test("a numeric sub connects", async (t) => {
        const token = signToken(claims(4217));
        await connected(client(t, { auth: { token } }));
    });

    test("a token without exp connects", async (t) => {
        const token = signToken(claims("u-noexp", { expIn: null }));
        await connected(client(t, { auth: { token } }));
    });

    for (const alg of ["HS384", "HS512"]) {
        test(`${alg} with the secret connects`, async (t) => {
            await connected(client(t, { auth: { token: hsToken("u-" + alg, { alg }) } }));
        });
    }
});

describe("namespaces", { concurrency: true }, () => {
    test('a namespace other than "/" gets "Invalid namespace"', async (t) => {
        const c = client(t, { auth: { token: hsToken("u-nsp") } }, "/admin");
        const [err] = await c.events.next("connect_error", EVENT_MS);
        assert.equal(err.message, "Invalid namespace");
        assert.equal(c.socket.connected, false);
        assert.equal(c.events.count("connect"), 0);
    });

    test('"/" next to a refused namespace on one connection still works', async (t) => {
        const token = hsToken("u-nsp-mux");
        const root = client(t, { auth: { token } });
        await connected(root);
        // Same Manager, so the refusal travels on the connection "/" is using.
        const other = root.socket.io.socket("/other", { auth: { token } });
        const otherEvents = recordEvents(other, ["connect", "connect_error"]);
        other.connect();
        t.after(() => other.disconnect());
        const [err] = await otherEvents.next("connect_error", EVENT_MS);
        assert.equal(err.message, "Invalid namespace");
        assert.equal(root.socket.connected, true);
        assert.equal(root.events.count("disconnect"), 0);
    });
});
