// How the gateway's WebSocket writes reach the wire (issue 7): each write goes to the kernel in
// one send(). lws caps a send at the protocol's tx_packet_size, else at its rx buffer (512
// bytes here, plus 20), and keeps the rest for another POLLOUT round; before server.c set
// tx_packet_size, a 1.5 KB frame took three sends and a joined write of 16 KB thirty-one.
// Counted on the server's side of the connection with ss(8): TCP segments and bytes sent.
//
// Each live write skips the EPOLLOUT round trip: the loop is told the socket is writable and
// finds out from send() when it is not. The second suite fills a socket that way and checks
// that what the kernel refused is still delivered, in order, once the client reads again.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";

import { rawSioWs } from "./lib/hostile.mjs";
import { collect, insertWhileStopped, openClient, startStack, until } from "./lib/stack.mjs";
import { hsToken } from "./lib/tokens.mjs";

/** ss(8)'s line for one side of a loopback connection, with `flags` (-t, -n, -H always). */
function ssLine(flags, localPort, peerPort) {
    const out = execFileSync("ss", [`-tnH${flags}`, "state", "established",
                                    `( sport = :${localPort} and dport = :${peerPort} )`],
                             { encoding: "utf8" });
    assert.ok(out.trim(), `ss shows the connection :${localPort} -> :${peerPort}`);
    return out;
}

/** Bytes waiting in the kernel on one side of a loopback connection: Recv-Q + Send-Q. */
function queued(localPort, peerPort) {
    const [recvQ, sendQ] = ssLine("", localPort, peerPort).trim().split(/\s+/);
    return Number(recvQ) + Number(sendQ);
}

/** The gateway's side of one client connection, as ss reports it: segments and bytes sent. */
function serverSide(gwPort, clientPort) {
    const out = ssLine("i", gwPort, clientPort);
    const segs = /\bdata_segs_out:(\d+)/.exec(out);
    const bytes = /\bbytes_sent:(\d+)/.exec(out);
    assert.ok(segs && bytes, `ss shows the connection's counters:\n${out}`);
    return { segs: Number(segs[1]), bytes: Number(bytes[1]) };
}

describe("WebSocket writes", () => {
    let st;

    before(async () => {
        st = await startStack();
    });

    after(() => st?.stop());

    test("a backlog for one socket goes out one whole write per send", async () => {
        const N = 12;
        const BODY = "x".repeat(1400);
        const socket = openClient(st.gw.url, hsToken("writes-backlog"), { transports: ["websocket"] });
        st.closeables.push(socket);
        const got = collect(socket);
        const syncs = collect(socket, "sync");
        // The sync event follows the connect once catch-up has read the store: counting starts
        // after it, so that only the backlog's frames are counted.
        await until(() => syncs.length === 1, 10000, () => "the sync event");
        const clientPort = socket.io.engine.transport.ws._socket.localPort;
        assert.ok(clientPort > 0, "the client's local port");
        const s0 = serverSide(st.gw.port, clientPort);
        // One backlog: the gateway takes it at once, so its frames queue together.
        await insertWhileStopped(st.gw, st.admin.notifications, Array.from(
            { length: N }, (_, i) => ({ userId: "writes-backlog", type: "t", seq: i, body: BODY })));
        await until(() => got.length === N, 10000, () => `${got.length} of ${N} notifications`);
        assert.deepEqual(got.map((n) => n.seq), [...Array(N).keys()], "all of them, in order");
        const s1 = serverSide(st.gw.port, clientPort);
        const segs = s1.segs - s0.segs;
        const bytes = s1.bytes - s0.bytes;
        // A frame is more than BODY; if any were split, some segment would carry less than one.
        assert.ok(bytes >= N * BODY.length, `${bytes} bytes for ${N} frames`);
        assert.ok(segs <= N, `${segs} segments for ${N} frames: none split`);
        assert.ok(bytes / segs >= BODY.length,
                  `${Math.round(bytes / segs)} bytes a segment: at least one whole frame each`);
    });
});

describe("WebSocket writes to a full socket", () => {
    let st;

    before(async () => {
        // An outbox far above what the kernel buffers hold, so the gateway keeps the rest.
        st = await startStack({ OUTBOX_MAX_BYTES: String(64 * 1024 * 1024) });
    });

    after(() => st?.stop());

    test("a client that stops reading gets every notification, in order, once it reads again", async (t) => {
        const N = 400;
        const BODY = "f".repeat(40000); // 16 MB in all
        const c = await rawSioWs(st.gw.url, hsToken("writes-full"));
        st.closeables.push(c);
        const isNote = (f) => f.startsWith('42["notification"');
        await until(() => c.frames.some((f) => f.startsWith('42["sync"')), 10000, () => "the sync event");
        const clientPort = c.ws._socket.localPort;
        c.ws._socket.pause();
        for (let i = 0; i < N; i += 50) {
            await st.admin.notifications.insertMany(Array.from(
                { length: 50 }, (_, j) => ({ userId: "writes-full", type: "t", seq: i + j, body: BODY })));
        }
        let delivered = 0;
        await until(async () => {
            const health = await (await fetch(`${st.gw.url}/api/health/change-streams`)).json();
            delivered = health.data.eventsDelivered;
            return delivered >= N;
        }, 20000, () => `: the gateway took ${delivered} of ${N} notifications`);
        // Once the kernel's queues stop growing, what they hold is less than was written: the
        // gateway holds the rest, so some send() was refused or took only part of a write.
        let inKernel = -1;
        await until(() => {
            const now = queued(st.gw.port, clientPort) + queued(clientPort, st.gw.port);
            const still = now === inKernel;
            inKernel = now;
            return still;
        }, 10000, () => "the kernel's queues settle");
        const received = c.frames.filter(isNote).length;
        assert.ok(inKernel + received * BODY.length < N * BODY.length,
                  `the kernel holds ${inKernel} bytes, the client read ${received} frames: ` +
                  "everything fitted, so no write was ever refused");
        t.diagnostic(`paused: ${received} frames read, ${inKernel} bytes in the kernel, ` +
                     `${N * BODY.length} written`);
        c.ws._socket.resume();
        await until(() => c.frames.filter(isNote).length === N, 20000,
                    () => `${c.frames.filter(isNote).length} of ${N} notifications`);
        const seqs = c.frames.filter(isNote).map((f) => JSON.parse(f.slice(2))[1].seq);
        assert.deepEqual(seqs, [...Array(N).keys()], "all of them, once each, in order");
    });
});
