// How the gateway's WebSocket writes reach the wire (issue 7): each write goes to the kernel in
// one send(). lws caps a send at the protocol's tx_packet_size, else at its rx buffer (512
// bytes here, plus 20), and keeps the rest for another POLLOUT round; before server.c set
// tx_packet_size, a 1.5 KB frame took three sends and a joined write of 16 KB thirty-one.
// Counted on the server's side of the connection with ss(8): TCP segments and bytes sent.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";

import { collect, insertWhileStopped, openClient, startStack, until } from "./lib/stack.mjs";
import { hsToken } from "./lib/tokens.mjs";

/** The gateway's side of one client connection, as ss reports it: segments and bytes sent. */
function serverSide(gwPort, clientPort) {
    const out = execFileSync("ss", ["-tinH", "state", "established",
                                    `( sport = :${gwPort} and dport = :${clientPort} )`],
                             { encoding: "utf8" });
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
