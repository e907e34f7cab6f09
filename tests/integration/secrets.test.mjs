// Secrets never leave the process: a MongoDB password or the JWT secret must not appear in the
// health bodies (served without authentication) nor in the logs.

import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";

import { startGateway } from "./lib/stack.mjs";
import { TEST_SECRET } from "./lib/tokens.mjs";

/** A port on which nothing listens. */
async function deadPort() {
    const srv = net.createServer();
    await new Promise((r) => srv.listen(0, "127.0.0.1", r));
    const { port } = srv.address();
    await new Promise((r) => srv.close(r));
    return port;
}

test("the MongoDB password and the JWT secret appear in no health body and no log line", async (t) => {
    const password = "s3cret-Pa55word";
    const port = await deadPort();
    const gw = await startGateway({
        ENABLE_CHANGE_STREAMS: "true",
        MONGODB_URI: `mongodb://admin:${password}@127.0.0.1:${port}/app?replicaSet=rs0&serverSelectionTimeoutMS=300`,
        DEBUG: "true",
    });
    t.after(() => gw.stop());
    // Poll in the test's own flow: no background timer may outlive the gateway.
    let body = "";
    const end = Date.now() + 15000;
    while (!body.includes('"lastError":"')) {
        assert.ok(Date.now() < end, `no lastError after 15 s: ${body}`);
        await new Promise((r) => setTimeout(r, 100));
        body = await (await fetch(`${gw.url}/api/health/change-streams`)).text();
    }
    const health = await (await fetch(`${gw.url}/api/health`)).text();
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    for (const [what, text] of [["change-streams", body], ["health", health], ["metrics", metrics],
                                ["logs", gw.output()]]) {
        assert.ok(!text.includes(password), `${what} shows the MongoDB password`);
        assert.ok(!text.includes(TEST_SECRET), `${what} shows the JWT secret`);
    }
    assert.match(JSON.parse(body).data.lastError, /cannot reach MongoDB/);
});
