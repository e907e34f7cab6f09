// Read state synced across tabs (issue 9): notification:read marks the user's own document,
// updates and deletes reach every tab, and a forged id of another user's notification is
// refused.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { io } from "socket.io-client";

import { collect, startStack, until } from "./lib/stack.mjs";
import { hsToken } from "./lib/tokens.mjs";

describe("read state", () => {
    let st, gw, admin, sockets, connect;

    before(async () => {
        st = await startStack();
        ({ gw, admin, connect, closeables: sockets } = st);
    });

    after(() => st?.stop());

    async function insert(user, title) {
        const r = await admin.notifications.insertOne({ userId: user, type: "t", title, read: false });
        return r.insertedId;
    }

    test("read in one tab: acknowledged, stored, and notification:update in the other", async () => {
        const tabA = await connect("reader", ["websocket"]);
        const tabB = await connect("reader", ["polling"]);
        const updatesB = collect(tabB, "notification:update");
        const updatesA = collect(tabA, "notification:update");
        const id = await insert("reader", "hello");
        const ack = await tabA.timeout(5000).emitWithAck("notification:read", { id: id.toHexString() });
        assert.deepEqual(ack, { ok: true, id: id.toHexString() });
        const stored = await admin.notifications.findOne({ _id: id });
        assert.equal(stored.read, true);
        assert.ok(stored.readAt instanceof Date);
        await until(() => updatesB.length === 1 && updatesA.length === 1, 5000);
        assert.equal(updatesB[0]._id, id.toHexString());
        assert.equal(updatesB[0].read, true);
        assert.equal(updatesB[0].title, "hello");
    });

    test("a forged id of another user's notification is refused and left untouched", async () => {
        const mallory = await connect("mallory", ["websocket"]);
        const victim = await connect("victim", ["websocket"]);
        const victimUpdates = collect(victim, "notification:update");
        const id = await insert("victim", "private");
        const ack = await mallory.timeout(5000).emitWithAck("notification:read", { id: id.toHexString() });
        assert.equal(ack.error.code, "NOT_FOUND");
        const stored = await admin.notifications.findOne({ _id: id });
        assert.equal(stored.read, false);
        assert.equal(stored.readAt, undefined);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(victimUpdates.length, 0);
    });

    test("malformed read requests get a clear error", async () => {
        const s = await connect("sloppy", ["websocket"]);
        for (const bad of [{}, { id: 42 }, { id: "xyz" }, "0123", null]) {
            const ack = await s.timeout(5000).emitWithAck("notification:read", bad);
            assert.equal(ack.error.code, "INVALID_ID", JSON.stringify(bad));
        }
        const other = await s.timeout(5000).emitWithAck("something:else", {});
        assert.equal(other.error.code, "UNKNOWN_EVENT");
        assert.equal(s.connected, true);
    });

    test("admin updates and deletes reach every tab of the user, and no one else", async () => {
        const tab1 = await connect("owner", ["websocket"]);
        const tab2 = await connect("owner", ["polling", "websocket"]);
        const stranger = await connect("stranger", ["websocket"]);
        const up = [collect(tab1, "notification:update"), collect(tab2, "notification:update")];
        const del = [collect(tab1, "notification:delete"), collect(tab2, "notification:delete")];
        const strangerAll = [collect(stranger, "notification:update"), collect(stranger, "notification:delete")];
        const id = await insert("owner", "edit me");
        await admin.notifications.updateOne({ _id: id }, { $set: { title: "edited" } });
        await until(() => up.every((u) => u.length === 1), 5000);
        for (const u of up) assert.equal(u[0].title, "edited");
        await admin.notifications.deleteOne({ _id: id });
        await until(() => del.every((d) => d.length === 1), 5000);
        for (const d of del) assert.deepEqual(d[0], { _id: id.toHexString() });
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(strangerAll[0].length + strangerAll[1].length, 0);
    });

    test("read_all marks only the user's unread ones and every tab hears of each", async () => {
        const tab = await connect("bulk", ["websocket"]);
        const other = await connect("bulk", ["polling"]);
        const updates = collect(other, "notification:update");
        for (let i = 0; i < 5; i++) await insert("bulk", `b${i}`);
        const alreadyRead = await insert("bulk", "old");
        await admin.notifications.updateOne({ _id: alreadyRead }, { $set: { read: true } });
        const foreign = await insert("someone-else", "not yours");
        await until(() => updates.length === 1, 5000); // the admin update above
        const ack = await tab.timeout(5000).emitWithAck("notification:read_all");
        assert.deepEqual(ack, { ok: true, count: 5 });
        await until(() => updates.length === 6, 5000, () => `${updates.length}`);
        assert.ok(updates.slice(1).every((u) => u.read === true && u.userId === "bulk"));
        assert.equal((await admin.notifications.findOne({ _id: foreign })).read, false);
        assert.equal(await admin.notifications.countDocuments({ userId: "bulk", read: { $ne: true } }), 0);
    });

    test("sync carries the unread count", async () => {
        const user = "counter";
        for (let i = 0; i < 4; i++) await insert(user, `n${i}`);
        await admin.notifications.updateOne({ userId: user }, { $set: { read: true } });
        // listening before the connection opens: sync may follow the CONNECT reply at once
        const s = io(gw.url, { auth: { token: hsToken(user) }, forceNew: true, reconnection: false });
        sockets.push(s);
        const syncs = collect(s, "sync");
        await until(() => syncs.length === 1, 5000);
        assert.equal(syncs[0].unreadCount, 3);
    });
});
