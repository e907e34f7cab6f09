// Helpers for the watcher's fault and resume tests (issue 5): fail points and emulator
// commands, a background health recorder, and per-socket bookkeeping that checks exact
// sequences (nothing lost, duplicated or reordered).
//
// Every inserted notification carries `seq`, a number unique in the test file, so a
// socket's received list can be compared with what its user was sent, in insert order.

import assert from "node:assert/strict";

import { collect, connectClient, until } from "./stack.mjs";
import { hsToken } from "./tokens.mjs";

/** Constants of src/watcher.c the tests derive their waits from. */
export const WATCHER = {
    maxAwaitMs: 1000, // an idle getMore returns after this
    backoffFirstMs: 1000, // first retry after a stream error, +-25 %
    saveEventsMs: 1000, // token save after events, at most this often
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs an admin command through the test's admin client (see adminClient in stack.mjs). */
export function adminCommand(admin, cmd) {
    return admin.client.db("admin").command(cmd);
}

/** Sets a fail point; resolves to the reply (its `count` is how often the previous one fired). */
export function failPoint(admin, name, mode, data) {
    const cmd = { configureFailPoint: name, mode };
    if (data) {
        cmd.data = data;
    }
    return adminCommand(admin, cmd);
}

/** The data object of /api/health/change-streams. */
export async function streamHealth(url) {
    const res = await fetch(`${url}/api/health/change-streams`, { signal: AbortSignal.timeout(2000) });
    assert.equal(res.status, 200, "/api/health/change-streams always answers 200");
    return (await res.json()).data;
}

/** { status, body } of /api/health. */
export async function health(url) {
    const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.json() };
}

/**
 * Polls /api/health and /api/health/change-streams every `everyMs` in the background and
 * keeps every sample { at, status, watching, cs } (status and watching from /api/health, cs
 * from /api/health/change-streams). stop() ends it and resolves to the samples.
 */
export function healthRecorder(url, everyMs = 25) {
    const samples = [];
    let running = true;
    const done = (async () => {
        while (running) {
            try {
                const [h, cs] = await Promise.all([health(url), streamHealth(url)]);
                // The two requests see two instants; `watching` is what /api/health itself
                // reported, so its status can be checked against its own body.
                const watching = h.body.data.changeStreams.isWatching;
                samples.push({ at: Date.now(), status: h.status, watching, cs });
            } catch (err) {
                samples.push({ at: Date.now(), error: String(err) });
            }
            await sleep(everyMs);
        }
    })();
    return {
        samples,
        stop: async () => {
            running = false;
            await done;
            return samples;
        },
    };
}

/** Resolves once the change-streams health satisfies check(data); returns that data. */
export async function untilHealth(url, check, timeoutMs, what = "") {
    const end = Date.now() + timeoutMs;
    let last;
    for (;;) {
        last = await streamHealth(url);
        if (check(last)) {
            return last;
        }
        if (Date.now() > end) {
            throw new Error(`health never showed ${what} within ${timeoutMs} ms: ${JSON.stringify(last)}`);
        }
        await sleep(25);
    }
}

/** Counts the lines of a server's captured output that match `re`. */
export function countLines(output, re) {
    return output.split("\n").filter((l) => re.test(l)).length;
}

/**
 * A group of users, each with sockets on the given gateway URLs (one socket per entry of
 * `transports`, cycling over the URLs), all recording notifications from now on.
 * Returns { users, sockets: [{ user, url, socket, got }], expect(user, seq), close(),
 * expected, total() }.
 */
export async function openUsers(urls, users, transports = [["polling"], ["websocket"]]) {
    const list = Array.isArray(urls) ? urls : [urls];
    const sockets = [];
    const expected = new Map(users.map((u) => [u, []]));
    let n = 0;
    for (const user of users) {
        for (const t of transports) {
            const url = list[n++ % list.length];
            const socket = await connectClient(url, hsToken(user), { transports: t });
            sockets.push({ user, url, socket, got: collect(socket) });
        }
    }
    return {
        users,
        sockets,
        expected,
        close: () => sockets.forEach((s) => s.socket.close()),
        /** Number of deliveries all sockets should have once everything arrived. */
        wanted: () => sockets.reduce((k, s) => k + expected.get(s.user).length, 0),
        total: () => sockets.reduce((k, s) => k + s.got.length, 0),
    };
}

/**
 * Inserts one notification per entry of `userIds` (in that order, one insert at a time so
 * the oplog order is the array order) and records it as expected for users of `group`.
 * Returns the seqs used. `counter` is an object { next } shared by the file.
 */
export async function insertFor(admin, group, counter, userIds, extra = {}) {
    const seqs = [];
    for (const userId of userIds) {
        const seq = counter.next++;
        await admin.notifications.insertOne({ userId, type: "fault-test", seq, ...extra });
        group?.expected.get(userId)?.push(seq);
        seqs.push(seq);
    }
    return seqs;
}

/** Round-robin list of `count` user ids taken from `users`. */
export function roundRobin(users, count) {
    return Array.from({ length: count }, (_, i) => users[i % users.length]);
}

/**
 * Waits until every socket of `group` has at least what its user was sent, lets anything
 * extra arrive for `settleMs`, then checks each socket's sequence exactly: every
 * notification of its user, once, in insert order, and nothing of anyone else.
 */
export async function assertExactDelivery(group, timeoutMs, settleMs = 300, label = "") {
    const line = (s) =>
        `${s.user}@${s.url}: got [${s.got.map((d) => d.seq)}] want [${group.expected.get(s.user)}]`;
    const describe = () => group.sockets.map(line).join("\n");
    await until(
        () => group.sockets.every((s) => s.got.length >= group.expected.get(s.user).length),
        timeoutMs,
        () => `${label}\n${describe()}`,
    );
    await sleep(settleMs);
    for (const s of group.sockets) {
        assert.deepEqual(
            s.got.map((d) => d.seq),
            group.expected.get(s.user),
            `${label}: ${s.user} on ${s.url} lost, duplicated or reordered notifications`,
        );
        assert.ok(s.got.every((d) => d.userId === s.user), `${label}: ${s.user} received another user's`);
    }
}
