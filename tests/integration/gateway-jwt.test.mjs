// notify-gateway JWT checks seen through the stock socket.io-client 4.8: every bad token
// is refused with a connect_error whose data.code names the reason (design §4.2), and the
// public-key algorithms connect when the key and the allowlist say so.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { io } from "socket.io-client";
import { buildBinary, spawnServer } from "./lib/server.mjs";
import {
    TEST_SECRET,
    b64url,
    claims,
    hsToken,
    makeKeys,
    nowSeconds,
    signToken,
    unsignedToken,
} from "./lib/tokens.mjs";

const EVENT_MS = 5000;
const ISSUER = "https://auth.example.test/";
const AUDIENCE = "notify-gateway";
// Nothing here waits for a heartbeat, and with ~100 clients at once a 200 ms pong deadline
// is missed by the busy test process itself (the session then ends as "xhr poll error");
// machine stalls near a second have been seen too.
const HEARTBEAT = { PING_INTERVAL_MS: "5000", PING_TIMEOUT_MS: "5000" };

const keys = makeKeys();
const other = makeKeys(); // a second key pair: valid signatures the gateway must not trust
const gateways = {};

function startGateway(env) {
    return spawnServer({ binary: buildBinary("notify-gateway"), env: { ...HEARTBEAT, ...env } });
}

before(async () => {
    const started = await Promise.all([
        // HMAC with issuer and audience required, default leeway (5 s).
        startGateway({ JWT_SECRET: TEST_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE }),
        // RSA public key, allowlist derived from it (RS* and PS*).
        startGateway({ JWT_PUBLIC_KEY_FILE: keys.rsa.publicFile }),
        // RSA public key, allowlist narrowed to RS384.
        startGateway({ JWT_PUBLIC_KEY_FILE: keys.rsa.publicFile, JWT_ALGORITHMS: "RS384" }),
        // EC P-256 public key (ES256).
        startGateway({ JWT_PUBLIC_KEY_FILE: keys.ec.publicFile }),
        // HMAC, user id in a custom claim.
        startGateway({ JWT_SECRET: TEST_SECRET, JWT_USER_CLAIM: "userId" }),
    ]);
    [gateways.hmac, gateways.rsa, gateways.rs384, gateways.ec, gateways.claim] = started;
});
afterEach(() => {
    for (const gw of Object.values(gateways)) {
        gw.assertAlive();
    }
});
after(async () => {
    await Promise.all(Object.values(gateways).map((gw) => gw.stop()));
    keys.cleanup();
    other.cleanup();
});

/**
 * Connect a stock client with `opts` and settle on the first outcome:
 * { connected: true } or { error } for a connect_error. Fails after EVENT_MS.
 */
function attempt(t, gw, opts) {
    const socket = io(gw.url, { forceNew: true, reconnection: false, timeout: EVENT_MS, ...opts });
    t.after(() => socket.disconnect());
    return new Promise((resolve, reject) => {
        const timer = setTimeout(
            () => reject(new Error(`neither connect nor connect_error within ${EVENT_MS} ms`)),
            EVENT_MS,
        );
        socket.once("connect", () => {
            clearTimeout(timer);
            resolve({ socket, connected: true });
        });
        socket.once("connect_error", (error) => {
            clearTimeout(timer);
            resolve({ socket, connected: false, error });
        });
    });
}

async function assertRefused(t, gw, token, code, transports = ["websocket"]) {
    const r = await attempt(t, gw, { transports, auth: token === undefined ? {} : { token } });
    assert.equal(r.connected, false, `connected, expected connect_error ${code}`);
    assert.equal(r.error.data?.code, code, `message: ${r.error.message}`);
    assert.equal(typeof r.error.message, "string");
    assert.ok(r.error.message.length > 0);
    // A CONNECT_ERROR leaves the stock client inactive: it does not retry by itself.
    assert.equal(r.socket.active, false);
    assert.equal(r.socket.connected, false);
}

async function assertAccepted(t, gw, token, transports = ["websocket"]) {
    const r = await attempt(t, gw, { transports, auth: { token } });
    assert.equal(
        r.connected,
        true,
        r.error && `connect_error ${r.error.data?.code}: ${r.error.message}`,
    );
}

/** Claims the HMAC gateway accepts: issuer and audience included. */
const good = (sub, extra = {}) => claims(sub, { iss: ISSUER, aud: AUDIENCE, ...extra });
const hs = (c, opts) => signToken(c, opts);

/** Replace the payload of a signed token, keeping its header and signature. */
function tamper(token, payload) {
    const [h, , s] = token.split(".");
    return `${h}.${b64url(JSON.stringify(payload))}.${s}`;
}

describe("HMAC gateway with issuer and audience", { concurrency: true }, () => {
    const now = nowSeconds();
    const refusals = [
        ["no token at all", undefined, "TOKEN_MISSING"],
        ["an empty token", "", "TOKEN_MISSING"],
        ['only "Bearer "', "Bearer ", "TOKEN_MISSING"],
        ["expired (beyond the 5 s leeway)", hs(good("u1", { exp: now - 60 })), "TOKEN_EXPIRED"],
        ["nbf in the future", hs(good("u1", { nbf: now + 120 })), "TOKEN_NOT_YET_VALID"],
        ["iat in the future", hs(good("u1", { iat: now + 120 })), "TOKEN_NOT_YET_VALID"],
        ["wrong iss", hs(good("u1", { iss: "https://evil.test/" })), "ISSUER_MISMATCH"],
        ["no iss", hs(claims("u1", { aud: AUDIENCE })), "ISSUER_MISMATCH"],
        ["wrong aud", hs(good("u1", { aud: "someone-else" })), "AUDIENCE_MISMATCH"],
        ["aud array without us", hs(good("u1", { aud: ["a", "b"] })), "AUDIENCE_MISMATCH"],
        ["no aud", hs(claims("u1", { iss: ISSUER })), "AUDIENCE_MISMATCH"],
        ["no sub", hs(good(undefined)), "USER_CLAIM_MISSING"],
        ["an empty sub", hs(good("")), "USER_CLAIM_MISSING"],
        ["an object sub", hs(good({ id: "u1" })), "USER_CLAIM_MISSING"],
        ["a wrong signature (other secret)", hs(good("u1"), { key: "x".repeat(48) }), "TOKEN_INVALID"],
        ["a tampered payload", tamper(hs(good("u1")), good("admin")), "TOKEN_INVALID"],
        ["a stripped signature", hs(good("u1")).replace(/\.[^.]+$/, "."), "TOKEN_INVALID"],
        ["malformed: one segment", "not-a-jwt", "TOKEN_INVALID"],
        ["malformed: bad base64", "@@@.@@@.@@@", "TOKEN_INVALID"],
        [
            "malformed: header not JSON",
            `${b64url("{alg:HS256")}.${b64url(JSON.stringify(good("u1")))}.c2ln`,
            "TOKEN_INVALID",
        ],
        ["malformed: payload not JSON", hs("{not json", {}), "TOKEN_INVALID"],
        ["a huge token", hs(good("u1", { pad: "p".repeat(20000) })), "TOKEN_INVALID"],
        ['alg "none"', unsignedToken(good("u1")), "ALGORITHM_NOT_ALLOWED"],
        ['alg "NONE"', unsignedToken(good("u1"), "NONE"), "ALGORITHM_NOT_ALLOWED"],
        [
            "RS256 (not allowed with a secret)",
            signToken(good("u1"), { alg: "RS256", key: keys.rsa.privateKey }),
            "ALGORITHM_NOT_ALLOWED",
        ],
    ];
    for (const transport of ["websocket", "polling"]) {
        for (const [what, token, code] of refusals) {
            test(`${what} -> ${code} (${transport})`, (t) =>
                assertRefused(t, gateways.hmac, token, code, [transport]));
        }
    }

    const accepted = [
        ["a good token", hs(good("u-good"))],
        ["a numeric sub", hs(good(987654321))],
        ["an aud array with us in it", hs(good("u-aud", { aud: ["other", AUDIENCE] }))],
        ["expired 2 s ago, within the 5 s leeway", hs(good("u-leeway", { exp: now - 2 }))],
        ["nbf 2 s ahead, within the 5 s leeway", hs(good("u-leeway", { nbf: now + 2 }))],
        ["HS512", hs(good("u-hs512"), { alg: "HS512" })],
        ["kid and jku headers are ignored", hs(good("u-kid"), { header: { kid: "k1", jku: "http://x/" } })],
    ];
    for (const [what, token] of accepted) {
        test(`${what} connects`, (t) => assertAccepted(t, gateways.hmac, token));
    }
});

describe("RSA public key gateway", { concurrency: true }, () => {
    const c = () => claims("u-rsa");
    for (const alg of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]) {
        test(`${alg} connects`, (t) =>
            assertAccepted(t, gateways.rsa, signToken(c(), { alg, key: keys.rsa.privateKey })));
    }

    test("PS256 on polling connects", (t) =>
        assertAccepted(t, gateways.rsa, signToken(c(), { alg: "PS256", key: keys.rsa.privateKey }), [
            "polling",
        ]));

    test("HS256 signed with the secret -> ALGORITHM_NOT_ALLOWED", (t) =>
        assertRefused(t, gateways.rsa, hsToken("u-rsa"), "ALGORITHM_NOT_ALLOWED"));

    test("HS256 keyed with the public key PEM -> ALGORITHM_NOT_ALLOWED", (t) =>
        assertRefused(
            t,
            gateways.rsa,
            signToken(c(), { alg: "HS256", key: keys.rsa.publicPem }),
            "ALGORITHM_NOT_ALLOWED",
        ));

    test("RS256 signed with another RSA key -> TOKEN_INVALID", (t) =>
        assertRefused(
            t,
            gateways.rsa,
            signToken(c(), { alg: "RS256", key: other.rsa.privateKey }),
            "TOKEN_INVALID",
        ));

    test("an RS256 signature under an RS512 header -> TOKEN_INVALID", (t) => {
        const rs256 = signToken(c(), { alg: "RS256", key: keys.rsa.privateKey });
        const header = b64url(JSON.stringify({ alg: "RS512", typ: "JWT" }));
        const [, payload, sig] = rs256.split(".");
        return assertRefused(t, gateways.rsa, `${header}.${payload}.${sig}`, "TOKEN_INVALID");
    });

    test("ES256 -> ALGORITHM_NOT_ALLOWED", (t) =>
        assertRefused(
            t,
            gateways.rsa,
            signToken(c(), { alg: "ES256", key: keys.ec.privateKey }),
            "ALGORITHM_NOT_ALLOWED",
        ));

    test("expired RS256 -> TOKEN_EXPIRED", (t) =>
        assertRefused(
            t,
            gateways.rsa,
            signToken(claims("u-rsa", { expIn: -60 }), { alg: "RS256", key: keys.rsa.privateKey }),
            "TOKEN_EXPIRED",
        ));
});

describe("RSA public key gateway with JWT_ALGORITHMS=RS384", { concurrency: true }, () => {
    const c = () => claims("u-rs384");
    test("RS384 connects", (t) =>
        assertAccepted(t, gateways.rs384, signToken(c(), { alg: "RS384", key: keys.rsa.privateKey })));

    for (const alg of ["RS256", "PS384"]) {
        test(`${alg} -> ALGORITHM_NOT_ALLOWED`, (t) =>
            assertRefused(
                t,
                gateways.rs384,
                signToken(c(), { alg, key: keys.rsa.privateKey }),
                "ALGORITHM_NOT_ALLOWED",
            ));
    }
});

describe("EC P-256 public key gateway", { concurrency: true }, () => {
    const c = () => claims("u-ec");
    test("ES256 connects", (t) =>
        assertAccepted(t, gateways.ec, signToken(c(), { alg: "ES256", key: keys.ec.privateKey })));

    test("ES256 signed with another EC key -> TOKEN_INVALID", (t) =>
        assertRefused(
            t,
            gateways.ec,
            signToken(c(), { alg: "ES256", key: other.ec.privateKey }),
            "TOKEN_INVALID",
        ));

    test("ES256 with a DER signature instead of r||s -> TOKEN_INVALID", (t) => {
        const good = signToken(c(), { alg: "ES256", key: keys.ec.privateKey });
        const [h, p] = good.split(".");
        const der = crypto.sign("sha256", Buffer.from(`${h}.${p}`), keys.ec.privateKey);
        return assertRefused(t, gateways.ec, `${h}.${p}.${b64url(der)}`, "TOKEN_INVALID");
    });

    test("HS256 keyed with the EC public key PEM -> ALGORITHM_NOT_ALLOWED", (t) =>
        assertRefused(
            t,
            gateways.ec,
            signToken(c(), { alg: "HS256", key: keys.ec.publicPem }),
            "ALGORITHM_NOT_ALLOWED",
        ));
});

describe("JWT_USER_CLAIM=userId", { concurrency: true }, () => {
    test("a token naming the user in userId connects", (t) =>
        assertAccepted(t, gateways.claim, signToken(claims(undefined, { userId: "u-custom" }))));

    test("a numeric userId connects", (t) =>
        assertAccepted(t, gateways.claim, signToken(claims(undefined, { userId: 77 }))));

    test("a token with only sub -> USER_CLAIM_MISSING", (t) =>
        assertRefused(t, gateways.claim, signToken(claims("u-sub-only")), "USER_CLAIM_MISSING"));
});
