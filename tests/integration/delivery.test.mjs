// Change stream -> sockets: every inserted notification reaches every socket of its user,
// exactly once and in insert order, and no other user (issues 3 and 5).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
    collect,
    connectClient,
    startGateway,
    startStack,
    until,
} from "./lib/stack.mjs";
import { hsToken } from "./lib/tokens.mjs";

describe("delivery from the change stream", () => {
    let st, gw, admin, connect;

    before(async () => {
        st = await startStack();
        ({ gw, admin, connect } = st);
    });

    after(() => st?.stop());

    test("three tabs of one user all receive a delivery; another user receives nothing", async () => {
        const tabs = [
            await connect("alice", ["polling"]),
            await connect("alice", ["websocket"]),
            await connect("alice", ["polling", "websocket"]),
        ];
        const other = await connect("bob", ["websocket"]);
        const got = tabs.map((t) => collect(t));
        const gotOther = collect(other);

        const createdAt = new Date("2026-11-23T11:30:00.000Z");
        const { insertedId } = await admin.notifications.insertOne({
            userId: "alice",
            type: "order_shipped",
            title: "Your order shipped",
            message: "It is on its way",
            data: { orderId: 7, items: ["a", "b"] },
            read: false,
            createdAt,
        });
        await until(() => got.every((g) => g.length >= 1), 5000, () => JSON.stringify(got));
        for (const g of got) {
            assert.equal(g.length, 1);
            assert.equal(g[0]._id, insertedId.toHexString());
            assert.equal(g[0].createdAt, "2026-11-23T11:30:00.000Z");
            assert.deepEqual(g[0].data, { orderId: 7, items: ["a", "b"] });
            assert.equal(g[0].read, false);
        }
        // A later notification for bob proves bob's socket works and that nothing else came.
        await admin.notifications.insertOne({ userId: "bob", type: "ping", title: "t" });
        await until(() => gotOther.length >= 1, 5000);
        assert.equal(gotOther.length, 1);
        assert.equal(gotOther[0].userId, "bob");
        assert.ok(got.every((g) => g.length === 1), "alice received bob's notification");
    });

    test("50 users x 2 sockets, 2000 inserts: each socket gets its user's, once, in order", async () => {
        const users = Array.from({ length: 50 }, (_, i) => `user-${i}`);
        const received = new Map();
        for (const [i, u] of users.entries()) {
            // Mixed transports: polling only, websocket only, and the default upgrade.
            const kinds = [["polling"], ["websocket"], ["polling", "websocket"]];
            const a = await connect(u, kinds[i % 3]);
            const b = await connect(u, kinds[(i + 1) % 3]);
            received.set(u, [collect(a), collect(b)]);
        }
        const expected = new Map(users.map((u) => [u, []]));
        const docs = [];
        for (let seq = 0; seq < 2000; seq++) {
            const u = users[Math.floor(Math.random() * users.length)];
            docs.push({ userId: u, type: "bulk", seq, createdAt: new Date() });
            expected.get(u).push(seq);
        }
        // Documents without a type are not notifications and must not be emitted.
        docs.splice(500, 0, { userId: users[0], title: "no type" });
        for (let i = 0; i < docs.length; i += 100) {
            await admin.notifications.insertMany(docs.slice(i, i + 100), { ordered: true });
        }
        const total = () => [...received.values()].flat().reduce((n, g) => n + g.length, 0);
        await until(() => total() >= 4000, 20000, () => `received ${total()} of 4000`);
        await new Promise((r) => setTimeout(r, 200)); // anything extra would arrive by now
        for (const u of users) {
            for (const got of received.get(u)) {
                assert.deepEqual(
                    got.map((d) => d.seq),
                    expected.get(u),
                    `${u}: wrong, missing, duplicated or reordered notifications`,
                );
                assert.ok(got.every((d) => d.userId === u), `${u} received another user's`);
                assert.ok(got.every((d) => /^[0-9a-f]{24}$/.test(d._id)), "_id is a hex string");
                assert.ok(got.every((d) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(d.createdAt)));
            }
        }
        const health = await (await fetch(`${gw.url}/api/health/change-streams`)).json();
        assert.ok(health.data.eventsDelivered >= 2000, JSON.stringify(health));
    });
});

describe("ENABLE_CHANGE_STREAMS=false", () => {
    test("nothing is watched, health says enabled:false, sockets still connect", async (t) => {
        const gw = await startGateway({ ENABLE_CHANGE_STREAMS: "false" });
        t.after(() => gw.stop());
        const res = await fetch(`${gw.url}/api/health`);
        assert.equal(res.status, 200);
        const body = await res.json();
        assert.deepEqual(body.data.changeStreams, { enabled: false, isWatching: false });
        const s = await connectClient(gw.url, hsToken("carol"));
        t.after(() => s.close());
        assert.ok(s.connected);
        const cs = await (await fetch(`${gw.url}/api/health/change-streams`)).json();
        assert.equal(cs.data.enabled, false);
        assert.equal(cs.data.eventsReceived, 0);
    });
});
