/* msg.h -- an immutable, refcounted, encoded Engine.IO packet.
 *
 * A message is encoded once and then queued on every session that must send it: each outbox
 * entry holds one reference. The payload is the exact WebSocket frame body (a text packet's type
 * digit followed by its data, or a binary packet's raw bytes) and sits after GW_MSG_HEADROOM
 * spare bytes, so lws_write() can put the frame header in front without a copy (LWS_PRE).
 *
 * Thread safety: a message may be built on any thread and handed over (ownership of the one
 * reference moves with it, e.g. through the mailbox). References are then taken and dropped on
 * the loop thread only: the count is not atomic.
 */
#ifndef GW_MSG_H
#define GW_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_MSG_HEADROOM 16 /* >= LWS_PRE; checked where lws is included */

struct gw_msg {
    uint32_t refs;
    uint32_t len;
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

/* Takes one more reference and returns m. */
struct gw_msg *gw_msg_ref(struct gw_msg *m);
/* Drops one reference; frees the message when it was the last. */
void gw_msg_unref(struct gw_msg *m);

/* Shared single-packet messages. Borrowed: never unref more than you ref. */
struct gw_msg *gw_msg_ping(void);  /* "2" */
struct gw_msg *gw_msg_noop(void);  /* "6" */
struct gw_msg *gw_msg_close(void); /* "1" */

#endif
