// JWT signing for the gateway's integration tests, with node:crypto only.
//
// Tokens are built by hand (not with a JWT library) so a test can make exactly the token
// it needs, including the broken ones a real library refuses to produce: "alg":"none",
// a signature that does not match, a header that is not JSON, an HMAC keyed with a PEM.

import crypto from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** A secret long enough that the gateway does not warn about it (32+ bytes). */
export const TEST_SECRET = "integration-test-secret-0123456789abcdefghijklmnop";

const HASH = { 256: "sha256", 384: "sha384", 512: "sha512" };

export function b64url(data) {
    return Buffer.from(data).toString("base64url");
}

/** Current Unix time in whole seconds, as JWT claims count it. */
export function nowSeconds() {
    return Math.floor(Date.now() / 1000);
}

/** The signature bytes of `input` (header.payload) for `alg` with `key`. */
function signature(alg, input, key) {
    const family = alg.slice(0, 2);
    const hash = HASH[alg.slice(2)];
    if (!hash) {
        throw new Error(`tokens: unknown algorithm ${alg}`);
    }
    switch (family) {
        case "HS":
            return crypto.createHmac(hash, key).update(input).digest();
        case "RS":
            return crypto.sign(hash, Buffer.from(input), key);
        case "PS":
            // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
            return crypto.sign(hash, Buffer.from(input), {
                key,
                padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
                saltLength: Number(alg.slice(2)) / 8,
            });
        case "ES":
            // JWS wants the raw r||s pair, not the DER sequence OpenSSL produces by default.
            return crypto.sign(hash, Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
        default:
            throw new Error(`tokens: unknown algorithm ${alg}`);
    }
}

/**
 * A compact JWS of `claims` (an object, or a raw string used as the payload bytes).
 * opts: alg (default HS256), key (secret for HS*, private KeyObject or PEM otherwise;
 * default TEST_SECRET), header (extra or overriding header members).
 */
export function signToken(claims, { alg = "HS256", key = TEST_SECRET, header = {} } = {}) {
    const head = b64url(JSON.stringify({ alg, typ: "JWT", ...header }));
    const body = b64url(typeof claims === "string" ? claims : JSON.stringify(claims));
    const input = `${head}.${body}`;
    return `${input}.${b64url(signature(alg, input, key))}`;
}

/** An unsigned token ("alg":"none", empty signature), as in the classic attack. */
export function unsignedToken(claims, alg = "none") {
    return `${b64url(JSON.stringify({ alg, typ: "JWT" }))}.${b64url(JSON.stringify(claims))}.`;
}

/**
 * Claims for user `sub` valid from now on: exp `expIn` seconds ahead (null leaves exp out),
 * plus `extra` members (which may override sub, exp, iat...).
 */
export function claims(sub, { expIn = 600, ...extra } = {}) {
    const now = nowSeconds();
    const c = { sub, iat: now };
    if (expIn !== null) {
        c.exp = now + expIn;
    }
    return { ...c, ...extra };
}

/** Shorthand: an HS256 token for `sub` signed with TEST_SECRET. */
export function hsToken(sub, opts = {}) {
    const { alg = "HS256", key = TEST_SECRET, ...claimOpts } = opts;
    return signToken(claims(sub, claimOpts), { alg, key });
}

/**
 * Fresh key pairs written to a new temp directory:
 *   rsa: { privateKey, publicPem, publicFile }   2048-bit RSA
 *   ec:  { privateKey, publicPem, publicFile }   P-256
 * `cleanup()` removes the directory.
 */
export function makeKeys() {
    const dir = mkdtempSync(path.join(os.tmpdir(), "gw-jwt-keys-"));
    const pair = (type, options, file) => {
        const { privateKey, publicKey } = crypto.generateKeyPairSync(type, options);
        const publicPem = publicKey.export({ type: "spki", format: "pem" });
        const publicFile = path.join(dir, file);
        writeFileSync(publicFile, publicPem);
        return { privateKey, publicPem, publicFile };
    };
    return {
        dir,
        rsa: pair("rsa", { modulusLength: 2048 }, "rsa.pub.pem"),
        ec: pair("ec", { namedCurve: "P-256" }, "ec.pub.pem"),
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
}
