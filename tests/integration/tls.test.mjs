// TLS: with TLS_CERT_FILE and TLS_KEY_FILE the same port serves HTTPS and WSS, and the stock
// client connects over both transports when it trusts the issuing CA.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { Socket } from "engine.io-client";

import { buildBinary, spawnServer } from "./lib/server.mjs";

function openssl(args, cwd) {
    execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

/** A throwaway CA and a localhost certificate it signed. */
function makeCerts(dir) {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", "1", "-subj", "/CN=notify-gateway test CA"], dir);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out",
             "server.csr", "-subj", "/CN=localhost"], dir);
    writeFileSync(path.join(dir, "ext.cnf"),
                  "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "ext.cnf"], dir);
}

function open(url, ca, transports) {
    const socket = new Socket(url, { path: "/engine.io/", transports, ca, upgrade: transports.length > 1 });
    return new Promise((resolve, reject) => {
        socket.once("open", () => resolve(socket));
        socket.once("error", reject);
    });
}

describe("TLS", () => {
    let dir, srv, ca;

    before(async () => {
        dir = mkdtempSync(path.join(tmpdir(), "gw-tls-"));
        makeCerts(dir);
        ca = readFileSync(path.join(dir, "ca.crt"));
        srv = await spawnServer({
            binary: buildBinary("protocol-fixture"),
            env: {
                TLS_CERT_FILE: path.join(dir, "server.crt"),
                TLS_KEY_FILE: path.join(dir, "server.key"),
            },
        });
    });

    after(async () => {
        await srv?.stop();
        rmSync(dir, { recursive: true, force: true });
    });

    test("announces https and serves the handshake over TLS", async () => {
        assert.equal(srv.scheme, "https");
        const url = `https://localhost:${srv.port}`;
        for (const transports of [["polling"], ["websocket"]]) {
            const socket = await open(url, ca, transports);
            const echoed = new Promise((resolve) => socket.once("message", resolve));
            socket.send("over tls");
            assert.equal(await echoed, "over tls");
            assert.equal(socket.transport.name, transports[0]);
            socket.close();
        }
    });

    test("a client that does not trust the CA is refused", async () => {
        await assert.rejects(open(`https://localhost:${srv.port}`, undefined, ["polling"]));
    });

    test("a plain-HTTP request on the TLS port gets no Engine.IO answer", async () => {
        await assert.rejects(fetch(`http://127.0.0.1:${srv.port}/engine.io/?EIO=4&transport=polling`));
    });
});
