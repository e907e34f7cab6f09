// SSE for clients without socket.io (issue 9): GET /api/notifications/stream with a Bearer
// token, live events with id: <_id>, catch-up from Last-Event-ID, heartbeat comments, and a
// clear 401 for a bad token.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { openSseStream, startStack, until } from "./lib/stack.mjs";
import { hsToken } from "./lib/tokens.mjs";

describe("SSE stream", () => {
    let st, gw, admin, streams;

    before(async () => {
        st = await startStack({ SSE_HEARTBEAT_MS: "1000" });
        ({ gw, admin, closeables: streams } = st);
    });

    after(() => st?.stop());

    async function insert(user, i) {
        const r = await admin.notifications.insertOne({ userId: user, type: "t", seq: i });
        return r.insertedId.toHexString();
    }

    test("live events carry id: <_id>, after a sync event; only the user's own", async () => {
        const s = await openSseStream(gw.url, { authorization: `Bearer ${hsToken("sse-a")}` });
        streams.push(s);
        assert.equal(s.res.status, 200);
        assert.match(s.res.headers.get("content-type"), /^text\/event-stream/);
        await until(() => s.events.length === 1, 5000);
        assert.equal(s.events[0].event, "sync");
        const other = await openSseStream(gw.url, { authorization: `Bearer ${hsToken("sse-b")}` });
        streams.push(other);
        const id = await insert("sse-a", 1);
        await until(() => s.events.length === 2, 5000);
        assert.equal(s.events[1].event, "notification");
        assert.equal(s.events[1].id, id);
        assert.equal(s.events[1].data._id, id);
        assert.equal(s.events[1].data.seq, 1);
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(other.events.filter((e) => e.event === "notification").length, 0);
    });

    test("catch-up from Last-Event-ID, in order, then live", async () => {
        const user = "sse-catch";
        const last = await insert(user, 0);
        for (let i = 1; i <= 20; i++) await insert(user, i);
        const s = await openSseStream(gw.url, {
            authorization: `Bearer ${hsToken(user)}`,
            "last-event-id": last,
        });
        streams.push(s);
        await until(() => s.events.length === 21, 5000, () => `${s.events.length}`);
        const notes = s.events.filter((e) => e.event === "notification");
        assert.deepEqual(notes.map((e) => e.data.seq), Array.from({ length: 20 }, (_, k) => k + 1));
        assert.equal(s.events[20].event, "sync");
        assert.equal(s.events[20].data.resyncRequired, false);
        await insert(user, 21);
        await until(() => s.events.length === 22, 5000);
        assert.equal(s.events[21].data.seq, 21);
    });

    test("the token may come as ?token= (EventSource cannot set headers); heartbeats flow", async () => {
        const s = await openSseStream(`${gw.url}`, {});
        assert.equal(s.res.status, 401);
        const body = await s.res.json();
        assert.equal(body.data.code, "TOKEN_MISSING");
        const ctrl = new AbortController();
        const res = await fetch(`${gw.url}/api/notifications/stream?token=${hsToken("sse-q")}`, {
            signal: ctrl.signal,
        });
        assert.equal(res.status, 200);
        ctrl.abort();
        const hb = await openSseStream(gw.url, { authorization: `Bearer ${hsToken("sse-hb")}` });
        streams.push(hb);
        await until(() => hb.comments >= 1, 4000);
    });

    test("a bad token is refused with 401 and its code", async () => {
        const s = await openSseStream(gw.url, { authorization: "Bearer not.a.token" });
        assert.equal(s.res.status, 401);
        const body = await s.res.json();
        assert.equal(body.data.code, "TOKEN_INVALID");
    });
});
