/* msgq.h -- a FIFO of message references with a byte count: a session's or a stream's outbox.
 *
 * A power-of-two ring that grows by doubling and gives its memory back once a burst has
 * drained, so an idle receiver holds no array at all. The caps (what counts as too much) are
 * the owner's business: it reads `bytes` before pushing.
 *
 * Thread safety: none; one owner thread (the loop thread in the gateway).
 */
#ifndef GW_MSGQ_H
#define GW_MSGQ_H

#include <stddef.h>
#include <stdint.h>

#include "gw/msg.h"

struct gw_msgq {
    struct gw_msg **q;
    uint32_t head, len, cap;
    size_t bytes; /* sum of the queued messages' lengths */
};

#define GW_MSGQ_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

/* Appends m, taking a new reference (the caller keeps its own). */
void gw_msgq_push(struct gw_msgq *q, struct gw_msg *m);
/* Puts m first, taking a new reference: for what must overtake the queue (a ping). */
void gw_msgq_push_front(struct gw_msgq *q, struct gw_msg *m);
/* The oldest message (borrowed), or NULL when empty. */
struct gw_msg *gw_msgq_peek(const struct gw_msgq *q);
/* Removes the oldest message and returns its reference (the caller's now), or NULL. */
struct gw_msg *gw_msgq_pop(struct gw_msgq *q);
/* Drops every reference and frees the ring. */
void gw_msgq_clear(struct gw_msgq *q);

#endif
