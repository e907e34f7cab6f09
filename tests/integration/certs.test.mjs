// certs/make-certs.sh (issue 6 item 3): the CA and localhost certificate it makes let the stock
// socket.io-client reach notify-gateway over https (polling) and wss (websocket) when it trusts
// that CA, and a notification inserted in MongoDB arrives over both.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { REPO_ROOT } from "./lib/server.mjs";
import { adminClient, collect, connectClient, startGateway, startMongo, until } from "./lib/stack.mjs";
import { hsToken } from "./lib/tokens.mjs";

const SCRIPT = path.join(REPO_ROOT, "certs/make-certs.sh");

function makeCerts(dir) {
    return execFileSync("bash", [SCRIPT, dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** GET over https trusting `ca`; resolves to { status, body }. */
function httpsGet(url, ca) {
    return new Promise((resolve, reject) => {
        const req = https.get(url, { ca, timeout: 2000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode, body }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
    });
}

describe("certs/make-certs.sh with TLS_CERT_FILE/TLS_KEY_FILE", () => {
    let dir, out, ca, mongo, gw, admin, httpsUrl;
    const sockets = [];

    before(async () => {
        dir = mkdtempSync(path.join(tmpdir(), "gw-certs-"));
        out = path.join(dir, "out");
        makeCerts(out);
        ca = readFileSync(path.join(out, "ca.crt"));
        mongo = await startMongo();
        gw = await startGateway({
            ENABLE_CHANGE_STREAMS: "true",
            MONGODB_URI: mongo.uri,
            TLS_CERT_FILE: path.join(out, "server.crt"),
            TLS_KEY_FILE: path.join(out, "server.key"),
        });
        httpsUrl = `https://localhost:${gw.port}`;
        const end = Date.now() + 10000;
        for (;;) {
            const res = await httpsGet(`${httpsUrl}/api/health`, ca);
            if (res.status === 200 && JSON.parse(res.body).data.changeStreams.isWatching) break;
            assert.ok(Date.now() < end, `change stream not watching: ${res.status} ${res.body}`);
            await new Promise((r) => setTimeout(r, 50));
        }
        admin = await adminClient(mongo.uri);
    });

    after(async () => {
        for (const s of sockets) s.close();
        await admin?.client.close();
        await gw?.stop();
        await mongo?.stop();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("makes a CA and a localhost certificate it signed; private keys are mode 600", () => {
        execFileSync("openssl", ["verify", "-CAfile", path.join(out, "ca.crt"), path.join(out, "server.crt")]);
        const text = execFileSync("openssl", ["x509", "-in", path.join(out, "server.crt"), "-noout", "-text"], {
            encoding: "utf8",
        });
        assert.match(text, /DNS:localhost/);
        assert.match(text, /IP Address:127\.0\.0\.1/);
        assert.match(text, /TLS Web Server Authentication/);
        for (const key of ["ca.key", "server.key"]) {
            assert.equal(statSync(path.join(out, key)).mode & 0o777, 0o600, key);
        }
    });

    test("a second run keeps the CA and issues a new server certificate under it", () => {
        const again = path.join(dir, "again");
        makeCerts(again);
        const firstCa = readFileSync(path.join(again, "ca.crt"));
        const firstCrt = readFileSync(path.join(again, "server.crt"));
        const log = makeCerts(again);
        assert.match(log, /keeping the existing CA/);
        assert.deepEqual(readFileSync(path.join(again, "ca.crt")), firstCa);
        assert.notDeepEqual(readFileSync(path.join(again, "server.crt")), firstCrt);
        execFileSync("openssl", ["verify", "-CAfile", path.join(again, "ca.crt"), path.join(again, "server.crt")]);
    });

    for (const [transport, host] of [
        ["polling", "localhost"],
        ["websocket", "localhost"],
        ["polling", "127.0.0.1"],
        ["websocket", "127.0.0.1"],
    ]) {
        test(`the stock client trusting the CA receives a notification over ${transport} (${host})`, async () => {
            assert.equal(gw.scheme, "https");
            const user = `tls-${transport}-${host}`;
            const s = await connectClient(`https://${host}:${gw.port}`, hsToken(user), {
                transports: [transport],
                ca,
            });
            sockets.push(s);
            assert.equal(s.io.engine.transport.name, transport);
            const got = collect(s);
            const { insertedId } = await admin.notifications.insertOne({
                userId: user,
                type: "tls",
                title: "over TLS",
                createdAt: new Date(),
            });
            await until(() => got.length >= 1, 5000, () => JSON.stringify(got));
            assert.equal(got[0]._id, insertedId.toHexString());
            assert.equal(got[0].title, "over TLS");
        });
    }

    test("a client that does not trust the CA is refused", async () => {
        for (const transport of ["polling", "websocket"]) {
            await assert.rejects(
                connectClient(httpsUrl, hsToken("untrusting"), { transports: [transport] }),
                undefined,
                transport,
            );
        }
    });
});
