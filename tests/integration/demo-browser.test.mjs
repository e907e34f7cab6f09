// The demo page end to end in a real browser (issue 6, "Show it"): Debian's headless chromium,
// driven by playwright-core (which never downloads a browser here), loads client-demo for alice
// and for bob; a notification inserted by the admin script client-demo/send.mjs appears on
// alice's page within 1 s, newest first, and bob's page shows nothing of it. The page also
// shows a rejected token's reason code and "reconnecting" when the gateway goes away.
// A screenshot of alice's page is saved to $DEMO_SCREENSHOT_DIR, else a temp directory.
// The second suite covers the demo's terminal client (cli.mjs) and the admin script's arguments.

import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { chromium } from "playwright-core";

import { buildBinary, pickFreePort, REPO_ROOT, spawnServer } from "./lib/server.mjs";
import { startGateway, startMongo, waitWatching } from "./lib/stack.mjs";
import { claims, signToken, TEST_SECRET } from "./lib/tokens.mjs";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];
const DEMO_READY = /client-demo listening on (http):\/\/([^\s/:]+):(\d+)/;

/** A dev token from the product's own helper, as `make run` prints them. */
function devToken(user) {
    return execFileSync(buildBinary("notify-gateway"), ["token", "--sub", user, "--ttl", "600"], {
        env: { ...process.env, JWT_SECRET: TEST_SECRET },
        encoding: "utf8",
    }).trim();
}

/** Runs the admin script; resolves to the inserted _id as soon as it reports the insert. */
function send(mongoUri, args) {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "client-demo/send.mjs"), ...args], {
        env: { ...process.env, MONGODB_URI: mongoUri },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (c) => (out += c));
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`send.mjs did not insert within 10 s: ${out}`));
        }, 10000);
        child.stdout.on("data", (c) => {
            out += c;
            const m = out.match(/^inserted ([0-9a-f]{24}) for /m);
            if (m) {
                clearTimeout(timer);
                resolve({ id: m[1], insertedAt: Date.now() });
            }
        });
        child.on("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`send.mjs exited ${code} without inserting: ${out}`));
        });
    });
}

describe("client-demo in headless chromium", () => {
    let mongo, gw, gwPort, demo, ctx, userDataDir;
    const pageErrors = [];

    before(async () => {
        if (!existsSync(CHROMIUM)) {
            throw new Error(
                `Debian's chromium is missing at ${CHROMIUM}: install it with ` +
                    "`apt-get install chromium` (`make test` does). This test never downloads a browser.",
            );
        }
        mongo = await startMongo();
        // The page and the gateway each need the other's address: fix the gateway's port first.
        gwPort = await pickFreePort();
        demo = await spawnServer({
            binary: process.execPath,
            args: [path.join(REPO_ROOT, "client-demo/serve.mjs")],
            env: { DEMO_PORT: "0", DEMO_HOST: "127.0.0.1", GATEWAY_URL: `http://127.0.0.1:${gwPort}` },
            readyPattern: DEMO_READY,
            name: "client-demo",
        });
        gw = await startGateway({
            ENABLE_CHANGE_STREAMS: "true",
            MONGODB_URI: mongo.uri,
            PORT: String(gwPort),
            CORS_ORIGINS: demo.url,
        });
        await waitWatching(gw.url);
        userDataDir = mkdtempSync(path.join(tmpdir(), "gw-chromium-"));
        ctx = await chromium.launchPersistentContext(userDataDir, {
            executablePath: CHROMIUM,
            headless: true,
            args: CHROMIUM_FLAGS,
            timeout: 10000,
        });
    });

    after(async () => {
        await ctx?.close();
        await gw?.stop();
        await demo?.stop();
        await mongo?.stop();
        if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    });

    async function openPage(fragment) {
        const page = await ctx.newPage();
        page.on("pageerror", (err) => pageErrors.push(err.message));
        await page.goto(`${demo.url}/#${fragment}`);
        return page;
    }

    const waitState = (page, s, timeout = 5000) =>
        page.waitForSelector(`#state[data-state="${s}"]`, { timeout });
    const items = (page) =>
        page.$$eval("#notifications li", (lis) =>
            lis.map((li) => ({
                id: li.dataset.id,
                type: li.querySelector(".type").textContent,
                title: li.querySelector(".title").textContent,
                message: li.querySelector(".message").textContent,
                time: li.querySelector("time").dateTime,
            })),
        );

    let alice, bob;

    test("alice's page shows a notification from the admin script within 1 s; bob's shows nothing", async (t) => {
        alice = await openPage(`token=${devToken("alice")}`);
        bob = await openPage(`token=${devToken("bob")}`);
        await waitState(alice, "connected");
        await waitState(bob, "connected");
        assert.equal(await alice.textContent("#user"), "alice");
        assert.equal(await bob.textContent("#user"), "bob");

        const first = await send(mongo.uri, [
            "--user", "alice", "--type", "order_shipped", "--title", "Your order shipped",
            "--message", "It is on its way",
        ]);
        await alice.waitForSelector(`#notifications li[data-id="${first.id}"]`, { timeout: 1000 });
        const elapsed = Date.now() - first.insertedAt;
        assert.ok(elapsed <= 1000, `shown ${elapsed} ms after the insert`);
        t.diagnostic(`notification on the page ${elapsed} ms after send.mjs reported the insert`);

        const second = await send(mongo.uri, ["--user", "alice", "--type", "comment", "--title", "New comment"]);
        await alice.waitForSelector(`#notifications li[data-id="${second.id}"]`, { timeout: 1000 });
        const shown = await items(alice);
        assert.deepEqual(shown.map((i) => i.id), [second.id, first.id], "newest first");
        assert.equal(shown[1].type, "order_shipped");
        assert.equal(shown[1].title, "Your order shipped");
        assert.equal(shown[1].message, "It is on its way");
        assert.match(shown[1].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.equal(await alice.textContent("#count"), "2");
        assert.ok(await alice.locator("#empty").isHidden());

        // bob's socket is live (a notification of his own arrives) and saw none of alice's.
        assert.deepEqual(await items(bob), []);
        const bobs = await send(mongo.uri, ["--user", "bob", "--title", "For bob"]);
        await bob.waitForSelector(`#notifications li[data-id="${bobs.id}"]`, { timeout: 1000 });
        assert.deepEqual((await items(bob)).map((i) => i.id), [bobs.id]);
        assert.equal((await items(alice)).length, 2, "alice received bob's notification");

        const dir = process.env.DEMO_SCREENSHOT_DIR || mkdtempSync(path.join(tmpdir(), "gw-demo-shot-"));
        mkdirSync(dir, { recursive: true });
        const file = path.join(dir, "demo-alice.png");
        await alice.screenshot({ path: file, fullPage: true });
        assert.ok(existsSync(file));
        t.diagnostic(`screenshot: ${file}`);
    });

    test("an expired token shows rejected with its reason code", async () => {
        const expired = signToken(claims("carol", { expIn: -120, iat: Math.floor(Date.now() / 1000) - 600 }));
        const page = await openPage(`token=${expired}`);
        await waitState(page, "rejected");
        assert.equal(await page.textContent("#reason"), "TOKEN_EXPIRED");
        const garbage = await openPage("token=not-a-jwt");
        await waitState(garbage, "rejected");
        assert.equal(await garbage.textContent("#reason"), "TOKEN_INVALID");
    });

    test("a page from an origin not in CORS_ORIGINS cannot connect over polling or websocket", async () => {
        // localhost and 127.0.0.1 are different origins; only the latter is listed.
        const other = demo.url.replace("127.0.0.1", "localhost");
        const token = devToken("mallory");
        for (const [transport, error] of [
            ["", "xhr poll error"],
            ["polling", "xhr poll error"],
            ["websocket", "websocket error"],
        ]) {
            const page = await ctx.newPage();
            await page.goto(`${other}/#token=${token}&transport=${transport}`);
            await waitState(page, "reconnecting");
            assert.equal(await page.textContent("#reason"), error, transport);
            await page.close();
        }
        // The same page from the listed origin connects on each transport alone.
        for (const transport of ["polling", "websocket"]) {
            const page = await openPage(`token=${token}&transport=${transport}`);
            await waitState(page, "connected");
            assert.equal(await page.textContent("#reason"), `over ${transport}`);
            await page.close();
        }
    });

    test("the page says reconnecting while the gateway is down, connected once it is back", async () => {
        await waitState(alice, "connected");
        await gw.stop();
        await waitState(alice, "reconnecting", 3000);
        gw = await startGateway({
            ENABLE_CHANGE_STREAMS: "true",
            MONGODB_URI: mongo.uri,
            PORT: String(gwPort),
            CORS_ORIGINS: demo.url,
        });
        await waitState(alice, "connected", 6000);
        await waitState(bob, "connected", 6000);
        assert.deepEqual(pageErrors, [], "the page threw");
    });
});

describe("client-demo terminal client and admin script", () => {
    let mongo, gw;
    const children = [];

    before(async () => {
        mongo = await startMongo();
        gw = await startGateway({ ENABLE_CHANGE_STREAMS: "true", MONGODB_URI: mongo.uri });
        await waitWatching(gw.url);
    });

    after(async () => {
        for (const c of children) c.kill("SIGKILL");
        await gw?.stop();
        await mongo?.stop();
    });

    /** Starts cli.mjs; out() and err() give what it printed so far, exited its exit code. */
    function cli(args) {
        const child = spawn(process.execPath, [path.join(REPO_ROOT, "client-demo/cli.mjs"), ...args], {
            stdio: ["ignore", "pipe", "pipe"],
        });
        children.push(child);
        let out = "";
        let err = "";
        child.stdout.setEncoding("utf8").on("data", (c) => (out += c));
        child.stderr.setEncoding("utf8").on("data", (c) => (err += c));
        const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
        return { child, out: () => out, err: () => err, exited };
    }

    async function until(check, ms, what) {
        const end = Date.now() + ms;
        while (!check()) {
            assert.ok(Date.now() < end, `timed out waiting for ${what}`);
            await new Promise((r) => setTimeout(r, 20));
        }
    }

    for (const transport of ["polling", "websocket"]) {
        test(`cli.mjs prints the user's notifications as they arrive (${transport})`, async () => {
            const user = `dave-${transport}`;
            const c = cli(["--url", gw.url, "--token", devToken(user), "--transport", transport, "--json"]);
            await until(() => /connected to .* over /.test(c.err()), 5000, `connected: ${c.err()}`);
            assert.match(c.err(), new RegExp(`over ${transport}`));
            await send(mongo.uri, ["--user", "someone-else", "--title", "not for dave"]);
            const mine = await send(mongo.uri, [
                "--user", user, "--type", "invoice", "--title", "Invoice ready", "--data", '{"amount":42}',
            ]);
            await until(() => c.out().includes("\n"), 2000, `a notification: ${c.err()}`);
            const lines = c.out().trim().split("\n").map((l) => JSON.parse(l));
            assert.equal(lines.length, 1, c.out());
            assert.equal(lines[0]._id, mine.id);
            assert.equal(lines[0].userId, user);
            assert.equal(lines[0].type, "invoice");
            assert.equal(lines[0].title, "Invoice ready");
            assert.deepEqual(lines[0].data, { amount: 42 });
            assert.equal(lines[0].read, false);
            c.child.kill("SIGINT");
            assert.equal(await c.exited, 0);
        });
    }

    test("cli.mjs exits 1 with the reason code when the token is rejected", async () => {
        const expired = signToken(claims("erin", { expIn: -120, iat: Math.floor(Date.now() / 1000) - 600 }));
        const c = cli(["--url", gw.url, "--token", expired]);
        assert.equal(await c.exited, 1);
        assert.match(c.err(), /rejected: TOKEN_EXPIRED/);
    });

    test("send.mjs refuses bad arguments with exit 2", () => {
        const run = (args) =>
            spawnSync(process.execPath, [path.join(REPO_ROOT, "client-demo/send.mjs"), ...args], {
                env: { ...process.env, MONGODB_URI: mongo.uri },
                encoding: "utf8",
            });
        const noUser = run(["--title", "x"]);
        assert.equal(noUser.status, 2);
        assert.match(noUser.stderr, /usage: .*--user/);
        const badData = run(["--user", "x", "--data", "{nope"]);
        assert.equal(badData.status, 2);
        assert.match(badData.stderr, /--data is not JSON/);
    });
});
