// Hostile clients, part 3 (issue 8): the JWT attacks, aimed at a real victim. Every forged,
// expired or broken token names the bystander (who is connected and receiving notifications
// meanwhile) as its subject: each is refused with its connect_error code and receives nothing,
// on both transports, many at once. The exact code of each refusal is gateway-jwt's business;
// here what matters is that no attack gets a single notification and nothing is disturbed.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { io } from "socket.io-client";

import { Stack, sleep } from "./lib/hostile.mjs";
import { claims, hsToken, makeKeys, signToken, unsignedToken } from "./lib/tokens.mjs";

const REPEAT = 5; // each attack this many times per transport, all at once

/** Tries `token`; resolves to { code, notifications } once refused (or connected, which fails). */
function attack(url, token, transports) {
    return new Promise((resolve) => {
        const notifications = [];
        const socket = io(url, { auth: { token }, transports, reconnection: false, forceNew: true });
        socket.on("notification", (doc) => notifications.push(doc));
        const done = (result) => {
            clearTimeout(timer);
            // Linger a moment: a notification must not slip through right after the refusal.
            sleep(100).then(() => {
                socket.close();
                resolve({ ...result, notifications });
            });
        };
        const timer = setTimeout(() => done({ code: "TIMEOUT" }), 5000);
        socket.on("connect", () => done({ code: "CONNECTED" }));
        socket.on("connect_error", (err) => done({ code: err.data?.code || err.message }));
    });
}

function tamper(token, payload) {
    const [head, , sig] = token.split(".");
    return `${head}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${sig}`;
}

async function runAttacks(st, attacks) {
    const feeding = st.feedBystander(10, 30);
    const runs = [];
    for (const [what, token, code] of attacks) {
        for (const transports of [["polling"], ["websocket"]]) {
            for (let i = 0; i < REPEAT; i++) {
                runs.push(attack(st.url, token, transports).then((r) => ({ ...r, what, want: code, transports })));
            }
        }
    }
    const results = await Promise.all(runs);
    await feeding;
    for (const r of results) {
        assert.equal(r.code, r.want, `${r.what} (${r.transports}): ${r.code}`);
        assert.deepEqual(r.notifications, [], `${r.what}: the attacker received notifications`);
    }
}

describe("hostile: JWT attacks against an HMAC gateway", () => {
    let st;
    before(async () => {
        st = await Stack.start();
    });
    afterEach(() => st.gw.assertAlive());
    after(async () => {
        await st?.stop();
    });

    test("forged, expired, tampered and incomplete tokens naming the victim get nothing", async () => {
        const victim = st.bystanderUser;
        const now = Math.floor(Date.now() / 1000);
        await runAttacks(st, [
            ['alg "none"', unsignedToken(claims(victim)), "ALGORITHM_NOT_ALLOWED"],
            ['alg "nOnE"', unsignedToken(claims(victim), "nOnE"), "ALGORITHM_NOT_ALLOWED"],
            ["wrong signature", hsToken(victim, { key: "not-the-secret-".repeat(4) }), "TOKEN_INVALID"],
            ["tampered payload", tamper(hsToken("attacker"), claims(victim)), "TOKEN_INVALID"],
            ["stripped signature", hsToken(victim).replace(/\.[^.]+$/, "."), "TOKEN_INVALID"],
            ["expired", signToken(claims(victim, { exp: now - 3600, iat: now - 7200 })), "TOKEN_EXPIRED"],
            ["missing sub", signToken({ iat: now, exp: now + 600, user: victim }), "USER_CLAIM_MISSING"],
            ["missing token", undefined, "TOKEN_MISSING"],
        ]);
        await st.assertBystander();
        await st.assertHealthy();
    });
});

describe("hostile: JWT attacks against an RSA gateway", () => {
    const keys = makeKeys();
    const other = makeKeys();
    let st;
    before(async () => {
        st = await Stack.start(
            { JWT_SECRET: undefined, JWT_PUBLIC_KEY_FILE: keys.rsa.publicFile },
            { tokenFor: (user) => signToken(claims(user), { alg: "RS256", key: keys.rsa.privateKey }) },
        );
    });
    afterEach(() => st.gw.assertAlive());
    after(async () => {
        await st?.stop();
        keys.cleanup();
        other.cleanup();
    });

    test("HS256 keyed with the RSA public key, and other keys, get nothing", async () => {
        const victim = st.bystanderUser;
        await runAttacks(st, [
            ["HS256 with the public key PEM as secret", signToken(claims(victim), { alg: "HS256", key: keys.rsa.publicPem }), "ALGORITHM_NOT_ALLOWED"],
            ["RS256 signed by another key", signToken(claims(victim), { alg: "RS256", key: other.rsa.privateKey }), "TOKEN_INVALID"],
            ['alg "none"', unsignedToken(claims(victim)), "ALGORITHM_NOT_ALLOWED"],
            ["tampered payload", tamper(st.tokenFor("attacker"), claims(victim)), "TOKEN_INVALID"],
        ]);
        await st.assertBystander();
        await st.assertHealthy();
    });
});
