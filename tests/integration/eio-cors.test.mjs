// CORS on the polling transport: "*" without credentials by default; with CORS_ORIGINS as a
// list, the exact allowed origin is echoed with credentials and Vary: Origin, and others get
// no Access-Control-Allow-Origin at all. Preflight OPTIONS answers 204. Browsers enforce
// CORS, not Node, so these are raw header checks.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startProtocolFixture } from "./lib/server.mjs";
import { eioUrl, handshake, poll, pollGet, pollPost, withTimeout } from "./lib/eio-raw.mjs";

const ALLOWED = ["http://a.example", "http://b.example"];

let srv;
before(async () => {
    srv = await startProtocolFixture();
});
afterEach(() => srv?.assertAlive());
after(async () => {
    await srv?.stop();
});

async function preflight(base, origin, { method = "POST", headers = "content-type, x-token" } = {}) {
    const res = await withTimeout(
        fetch(eioUrl(base), {
            method: "OPTIONS",
            headers: {
                Origin: origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": headers,
            },
        }),
        3000,
        "preflight",
    );
    await res.arrayBuffer();
    return res;
}

function headerList(value) {
    return (value || "")
        .split(",")
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean);
}

function assertNoCredentials(headers) {
    const creds = headers.get("access-control-allow-credentials");
    assert.ok(creds === null || creds === "false", `credentials allowed with "*": ${creds}`);
}

function assertPreflightBody(res, requested) {
    assert.equal(res.status, 204);
    const methods = headerList(res.headers.get("access-control-allow-methods"));
    assert.ok(methods.includes("get") && methods.includes("post"), `methods: ${methods}`);
    assert.deepEqual(
        headerList(res.headers.get("access-control-allow-headers")).sort(),
        headerList(requested).sort(),
    );
}

describe('CORS_ORIGINS="*" (default)', () => {
    const origin = "http://app.example";

    test("the handshake allows any origin without credentials", async () => {
        const { response } = await handshake(srv.url, { headers: { Origin: origin } });
        assert.equal(response.headers.get("access-control-allow-origin"), "*");
        assertNoCredentials(response.headers);
    });

    test("GET and POST on a session carry the header", async () => {
        const { sid } = await handshake(srv.url, { headers: { Origin: origin } });
        const post = await pollPost(srv.url, sid, "4hi", { headers: { Origin: origin } });
        assert.equal(post.status, 200);
        assert.equal(post.headers.get("access-control-allow-origin"), "*");
        const get = await pollGet(srv.url, sid, { headers: { Origin: origin } });
        assert.equal(get.status, 200);
        assert.equal(get.headers.get("access-control-allow-origin"), "*");
    });

    test("400 error responses carry the header", async () => {
        const res = await pollGet(srv.url, "no-such-session", { headers: { Origin: origin } });
        assert.equal(res.status, 400);
        assert.equal(res.headers.get("access-control-allow-origin"), "*");
    });

    test("a preflight gets 204 with methods and the requested headers", async () => {
        const requested = "content-type, x-token";
        const res = await preflight(srv.url, origin, { headers: requested });
        assertPreflightBody(res, requested);
        assert.equal(res.headers.get("access-control-allow-origin"), "*");
        assertNoCredentials(res.headers);
    });
});

describe("CORS_ORIGINS as a list", () => {
    let listed;
    before(async () => {
        if (!srv.reference) {
            listed = await startProtocolFixture({ env: { CORS_ORIGINS: ALLOWED.join(",") } });
        }
    });
    after(async () => {
        await listed?.stop();
    });

    function skipOnReference(t) {
        if (srv.reference) {
            t.skip("the reference server is configured with origin \"*\" only");
            return true;
        }
        return false;
    }

    function assertEchoed(headers, origin) {
        assert.equal(headers.get("access-control-allow-origin"), origin);
        assert.equal(headers.get("access-control-allow-credentials"), "true");
        assert.ok(headerList(headers.get("vary")).includes("origin"), `Vary: ${headers.get("vary")}`);
    }

    test("each allowed origin is echoed exactly, with credentials and Vary: Origin", async (t) => {
        if (skipOnReference(t)) {
            return;
        }
        for (const origin of ALLOWED) {
            const { response, sid } = await handshake(listed.url, { headers: { Origin: origin } });
            assertEchoed(response.headers, origin);
            const post = await pollPost(listed.url, sid, "4hi", { headers: { Origin: origin } });
            assert.equal(post.status, 200);
            assertEchoed(post.headers, origin);
        }
    });

    test("an origin not in the list gets no Access-Control-Allow-Origin", async (t) => {
        if (skipOnReference(t)) {
            return;
        }
        for (const origin of [
            "http://evil.example",
            "http://a.example.evil.example",
            "http://a.exampl",
            "https://a.example",
            "http://a.example:8080",
            "null",
        ]) {
            const res = await poll(listed.url, undefined, { headers: { Origin: origin } });
            // Allow-Credentials alone is harmless: without Allow-Origin the browser blocks.
            assert.equal(res.headers.get("access-control-allow-origin"), null, origin);
        }
    });

    test("400 error responses echo an allowed origin too", async (t) => {
        if (skipOnReference(t)) {
            return;
        }
        const res = await pollGet(listed.url, "no-such-session", {
            headers: { Origin: ALLOWED[1] },
        });
        assert.equal(res.status, 400);
        assertEchoed(res.headers, ALLOWED[1]);
    });

    test("a preflight from an allowed origin gets 204 with the origin echoed", async (t) => {
        if (skipOnReference(t)) {
            return;
        }
        const requested = "x-token";
        const res = await preflight(listed.url, ALLOWED[0], { headers: requested });
        assertPreflightBody(res, requested);
        assertEchoed(res.headers, ALLOWED[0]);
    });

    test("a preflight from another origin is not allowed", async (t) => {
        if (skipOnReference(t)) {
            return;
        }
        const res = await preflight(listed.url, "http://evil.example");
        assert.equal(res.headers.get("access-control-allow-origin"), null);
    });
});
