/* msg.h -- an immutable, refcounted, encoded Engine.IO packet.
 *
 * A message is encoded once and then queued on every session that must send it: each outbox
 * entry holds one reference. The payload is the exact WebSocket frame body (a text packet's type
 * digit followed by its data, or a binary packet's raw bytes) and sits after GW_MSG_HEADROOM
 * spare bytes, so lws_write() can put the frame header in front without a copy (LWS_PRE).
 *
 * A message that carries a change event (a notification, its update or delete) is timed: it
 * holds the instant the watcher thread received the event, and each write of it to a socket
 * adds (now - that instant) to the dispatch-latency histogram, the gateway's own share of a
 * delivery's latency. Everything else (pings, acks, catch-up replays) is untimed.
 *
 * Thread safety: a message may be built on any thread and handed over (ownership of the one
 * reference moves with it, e.g. through the mailbox). References are then taken and dropped on
 * the loop thread only: the count is not atomic. The dispatch histogram is loop-thread data.
 */
#ifndef GW_MSG_H
#define GW_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"
#include "gw/hist.h"

#define GW_MSG_HEADROOM 16 /* >= LWS_PRE; checked where lws is included */

struct gw_msg {
    uint32_t refs;
    uint32_t len;
    uint64_t received_us; /* gw_now_us() when the change event it carries reached the watcher
                             thread; 0 = untimed (gw_msg_new leaves it so) */
    bool binary;
    bool immortal; /* static messages ("2", "6", ...) are never freed */
    char data[];   /* GW_MSG_HEADROOM bytes, then len payload bytes, then a NUL */
};

/* Returns a new message (one reference) with an uninitialised payload of len bytes. */
struct gw_msg *gw_msg_new(size_t len, bool binary);
/* Returns a new text message: the Engine.IO type digit followed by data. */
struct gw_msg *gw_msg_new_text(char type, const char *data, size_t len);

static inline char *gw_msg_payload(struct gw_msg *m)
{
    return m->data + GW_MSG_HEADROOM;
}

/* Building a message in place, for encoders that do not know its length in advance: after
 * gw_msg_build_start(b) (b empty) append the payload to b with the gw_buf functions, then
 * gw_msg_build_finish(b) returns a new text message (one reference) that owns b's memory and
 * leaves b empty. b holds the header and headroom in front, so the payload is never copied.
 * b is borrowed (the caller's buffer); any thread, like every message constructor. */
void gw_msg_build_start(struct gw_buf *b);
struct gw_msg *gw_msg_build_finish(struct gw_buf *b);

/* Takes one more reference and returns m. */
struct gw_msg *gw_msg_ref(struct gw_msg *m);
/* Drops one reference; frees the message when it was the last. */
void gw_msg_unref(struct gw_msg *m);

/* Loop thread: m (borrowed) was just written to one socket. A timed message adds its dispatch
 * latency to the histogram (one clock read); an untimed one costs a test. */
void gw_msg_written(const struct gw_msg *m);
/* Loop thread: one delivery of a timed message (received_us non-zero) was written at now_us.
 * For a write that carries several messages (a polling response): read the clock once. */
void gw_msg_dispatch_observe(uint64_t received_us, uint64_t now_us);
/* Loop thread: the dispatch-latency histogram (borrowed), for /metrics. */
const struct gw_hist *gw_msg_dispatch_latency(void);

/* Shared single-packet messages. Borrowed: never unref more than you ref. */
struct gw_msg *gw_msg_ping(void);  /* "2" */
struct gw_msg *gw_msg_noop(void);  /* "6" */
struct gw_msg *gw_msg_close(void); /* "1" */

#endif
