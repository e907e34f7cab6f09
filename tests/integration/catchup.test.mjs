// Nothing missed (issue 9): catch-up on every (re)connect from the notifications collection,
// the sync event, socket.recovered for the stock client, across a kill -9 and across instances.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { io } from "socket.io-client";

import {
    collect,
    connectClient,
    startGateway,
    startStack,
    until,
    waitWatching,
} from "./lib/stack.mjs";
import { failPoint } from "./lib/faults.mjs";
import { hsToken } from "./lib/tokens.mjs";

function doc(user, i) {
    return { userId: user, type: "t", title: `n${i}`, seq: i, read: false, createdAt: new Date() };
}

async function insertMany(admin, user, from, n) {
    const ids = [];
    for (let i = from; i < from + n; i++) {
        const r = await admin.notifications.insertOne(doc(user, i));
        ids.push(r.insertedId.toHexString());
    }
    return ids;
}

/** Resolves with the first `name` event's arguments. */
function once(socket, name, ms = 5000) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${name} within ${ms} ms`)), ms);
        socket.once(name, (...args) => {
            clearTimeout(timer);
            resolve(args);
        });
    });
}

function assertExactly(got, from, n, what) {
    const seqs = got.map((d) => d.seq);
    const want = Array.from({ length: n }, (_, k) => from + k);
    assert.deepEqual(seqs, want, `${what}: in order, none missing, none twice`);
}

describe("catch-up", () => {
    let st, gw, admin, env, sockets;

    before(async () => {
        st = await startStack();
        ({ gw, admin, env, closeables: sockets } = st);
    });

    after(() => st?.stop());

    test("a first connect gets sync with the newest id, the unread count and an offset", async () => {
        const [id1] = await insertMany(admin, "first", 0, 1);
        await admin.notifications.insertOne({ ...doc("first", 1), read: true });
        const s = io(gw.url, { auth: { token: hsToken("first") }, forceNew: true, reconnection: false });
        sockets.push(s);
        const [sync, offset] = await once(s, "sync");
        const newest = (await admin.notifications.find({ userId: "first" }).sort({ _id: -1 }).limit(1).next())._id.toHexString();
        assert.equal(sync.offset, newest);
        assert.equal(offset, newest, "the offset is also the last argument");
        assert.equal(sync.unreadCount, 1);
        assert.equal(sync.resyncRequired, false);
        assert.notEqual(id1, newest);
        assert.equal(s.recovered, false);
    });

    test("a user without notifications gets the zero offset", async () => {
        const s = io(gw.url, { auth: { token: hsToken("nobody") }, forceNew: true, reconnection: false });
        sockets.push(s);
        const [sync] = await once(s, "sync");
        assert.equal(sync.offset, "000000000000000000000000");
        assert.equal(sync.unreadCount, 0);
    });

    test("100 missed while away arrive in order, none twice, then live ones (lastNotificationId)", async () => {
        const user = "away";
        const s1 = await st.connect(user, ["websocket"]);
        const got1 = collect(s1);
        const [seen] = await insertMany(admin, user, 0, 1);
        await until(() => got1.length === 1, 5000);
        s1.close();
        await insertMany(admin, user, 1, 100);

        const s2 = io(gw.url, {
            auth: { token: hsToken(user), lastNotificationId: seen },
            forceNew: true,
            reconnection: false,
            transports: ["websocket"],
        });
        sockets.push(s2);
        const got = collect(s2);
        const syncs = collect(s2, "sync");
        await until(() => got.length === 100, 10000, () => `got ${got.length}`);
        await until(() => syncs.length === 1, 5000);
        assertExactly(got, 1, 100, "catch-up");
        assert.equal(syncs[0].resyncRequired, false);
        assert.equal(syncs[0].offset, got[99]._id);
        await insertMany(admin, user, 101, 5);
        await until(() => got.length === 105, 5000, () => `got ${got.length}`);
        assertExactly(got, 1, 105, "catch-up then live");
    });

    test("the stock client recovers with its offset: socket.recovered, every missed one once", async () => {
        const user = "csr";
        const s = io(gw.url, {
            auth: { token: hsToken(user) },
            forceNew: true,
            transports: ["websocket"],
            reconnectionDelay: 1500,
            reconnectionDelayMax: 1500,
            randomizationFactor: 0,
        });
        sockets.push(s);
        const got = collect(s);
        await once(s, "sync");
        await insertMany(admin, user, 0, 3);
        await until(() => got.length === 3, 5000);
        assert.equal(s.recovered, false);

        const gone = once(s, "disconnect");
        s.io.engine.close(); // a network drop: the client reconnects by itself
        await gone;
        await insertMany(admin, user, 3, 100);
        await once(s, "connect", 10000);
        assert.equal(s.recovered, true, "socket.recovered after a complete replay");
        await until(() => got.length === 103, 10000, () => `got ${got.length}`);
        await insertMany(admin, user, 103, 2);
        await until(() => got.length === 105, 5000);
        assertExactly(got, 0, 105, "recovery");
    });

    test("a zero-event client recovers too", async () => {
        const user = "zero";
        const s = io(gw.url, {
            auth: { token: hsToken(user) },
            forceNew: true,
            transports: ["websocket"],
            reconnectionDelay: 1000,
            reconnectionDelayMax: 1000,
            randomizationFactor: 0,
        });
        sockets.push(s);
        const got = collect(s);
        const [sync] = await once(s, "sync");
        assert.equal(sync.offset, "000000000000000000000000");
        const gone = once(s, "disconnect");
        s.io.engine.close();
        await gone;
        await insertMany(admin, user, 0, 5);
        await once(s, "connect", 10000);
        assert.equal(s.recovered, true);
        await until(() => got.length === 5, 5000, () => `got ${got.length}`);
        assertExactly(got, 0, 5, "zero-event recovery");
    });

    test("live notifications during the catch-up read are neither lost nor doubled", async () => {
        const user = "seam";
        const [seen] = await insertMany(admin, user, 0, 1);
        await insertMany(admin, user, 1, 200);
        const s = io(gw.url, {
            auth: { token: hsToken(user), lastNotificationId: seen },
            forceNew: true,
            reconnection: false,
            transports: ["websocket"],
        });
        sockets.push(s);
        const got = collect(s);
        // inserts race the catch-up read: some are in its snapshot, some come live
        const racing = insertMany(admin, user, 201, 50);
        await racing;
        await until(() => got.length >= 250, 10000, () => `got ${got.length}`);
        await new Promise((r) => setTimeout(r, 300));
        assertExactly(got, 1, 250, "seam");
    });

    test("an unusable offset is ignored with resyncRequired, not a refused connection", async () => {
        const s = io(gw.url, {
            auth: { token: hsToken("badoffset"), lastNotificationId: "not-an-id" },
            forceNew: true,
            reconnection: false,
        });
        sockets.push(s);
        const [sync] = await once(s, "sync");
        assert.equal(sync.resyncRequired, true);
        assert.equal(s.connected, true);
    });

    test("a store that fails: connected anyway, recovered false, sync says resyncRequired", async () => {
        const user = "storefail";
        const s = io(gw.url, {
            auth: { token: hsToken(user) },
            forceNew: true,
            transports: ["websocket"],
            reconnectionDelay: 500,
            reconnectionDelayMax: 500,
            randomizationFactor: 0,
        });
        sockets.push(s);
        const syncs = collect(s, "sync");
        const got = collect(s);
        await until(() => syncs.length === 1, 5000);
        await insertMany(admin, user, 0, 1);
        await until(() => got.length === 1, 5000);
        const gone = once(s, "disconnect");
        s.io.engine.close();
        await gone;
        await failPoint(admin, "failCommand", { times: 1 }, { failCommands: ["find"], errorCode: 2 });
        try {
            await once(s, "connect", 10000);
            await until(() => syncs.length === 2, 5000);
            const sync = syncs[1];
            assert.equal(s.recovered, false, "a failed replay is not a recovery");
            assert.equal(sync.resyncRequired, true);
            assert.match(sync.error, /notification store is unavailable/);
            assert.doesNotMatch(sync.error, /127\.0\.0\.1|mongodb:/, "no host in what clients see");
            assert.equal(sync.offset, got[0]._id, "the client keeps its place");
        } finally {
            await failPoint(admin, "failCommand", "off");
        }
    });

    test("catch-up is capped by CATCHUP_MAX_COUNT, newest kept, and says resyncRequired", async () => {
        const capped = await startGateway({ ...env(), CATCHUP_MAX_COUNT: "10" });
        try {
            await waitWatching(capped.url);
            const user = "capped";
            const [seen] = await insertMany(admin, user, 0, 1);
            await insertMany(admin, user, 1, 30);
            const s = io(capped.url, {
                auth: { token: hsToken(user), lastNotificationId: seen },
                forceNew: true,
                reconnection: false,
            });
            const got = collect(s);
            const [sync] = await once(s, "sync");
            assert.equal(sync.resyncRequired, true);
            assertExactly(got, 21, 10, "the newest ten");
            s.close();
        } finally {
            await capped.stop();
        }
    });

    test("a replay bigger than the outbox closes that client, and only that client", async () => {
        const small = await startGateway({ ...env(), OUTBOX_MAX_BYTES: "2048" });
        try {
            await waitWatching(small.url);
            const user = "flooded";
            const [seen] = await insertMany(admin, user, 0, 1);
            await insertMany(admin, user, 1, 60);
            const s = io(small.url, {
                auth: { token: hsToken(user), lastNotificationId: seen },
                forceNew: true,
                reconnection: false,
                transports: ["polling"],
            });
            const reason = await once(s, "disconnect", 10000);
            assert.ok(reason.length);
            const health = await fetch(`${small.url}/api/health`);
            assert.equal(health.status, 200, "the gateway survives a close in mid-replay");
            small.assertAlive();
            const other = await connectClient(small.url, hsToken("bystander"));
            assert.equal(other.connected, true);
            other.close();
            s.close();
        } finally {
            await small.stop();
        }
    });

    test("nothing is lost across a kill -9 and restart of the gateway", async () => {
        const first = await startGateway(env());
        await waitWatching(first.url);
        const port = new URL(first.url).port;
        const user = "crash";
        const s = io(first.url, {
            auth: { token: hsToken(user) },
            forceNew: true,
            transports: ["websocket"],
            reconnectionDelay: 200,
            reconnectionDelayMax: 500,
        });
        sockets.push(s);
        const got = collect(s);
        await once(s, "sync");
        await insertMany(admin, user, 0, 3);
        await until(() => got.length === 3, 5000);
        const gone = once(s, "disconnect");
        first.proc.kill("SIGKILL");
        await gone;
        await insertMany(admin, user, 3, 100);
        const second = await startGateway({ ...env(), PORT: port });
        try {
            await waitWatching(second.url);
            await until(() => got.length >= 103, 15000, () => `got ${got.length}`);
            await insertMany(admin, user, 103, 2);
            await until(() => got.length >= 105, 5000);
            assertExactly(got, 0, 105, "after kill -9");
            assert.equal(s.recovered, true);
        } finally {
            s.close();
            await second.stop();
        }
    });

    test("moving to a second instance loses nothing", async () => {
        const other = await startGateway({ ...env(), RESUME_TOKEN_ID: "instance-b" });
        try {
            await waitWatching(other.url);
            const user = "mover";
            const a = await st.connect(user, ["websocket"]);
            const gotA = collect(a);
            await insertMany(admin, user, 0, 2);
            await until(() => gotA.length === 2, 5000);
            const last = gotA[1]._id;
            a.close();
            await insertMany(admin, user, 2, 100);
            const b = io(other.url, {
                auth: { token: hsToken(user), lastNotificationId: last },
                forceNew: true,
                reconnection: false,
            });
            const gotB = collect(b);
            await until(() => gotB.length === 100, 10000, () => `got ${gotB.length}`);
            assertExactly(gotB, 2, 100, "on the second instance");
            b.close();
        } finally {
            await other.stop();
        }
    });
});
