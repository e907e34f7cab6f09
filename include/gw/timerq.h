/* timerq.h -- a min-heap of deadlines embedded in their owners.
 *
 * Every Engine.IO session needs a deadline (next ping, pong timeout, upgrade or connect timeout),
 * and lws 4.1 keeps its timers in a sorted list whose inserts are O(n). So sessions keep their
 * deadline in this heap (O(log n) add, move and remove) and the server arms ONE lws timer at the
 * heap's earliest deadline. Precision is that of the lws timer, i.e. about a millisecond, which
 * the heartbeat contract needs (a session must be gone exactly pingInterval + pingTimeout after
 * the last ping when no pong came).
 *
 * Thread safety: none; the loop thread owns the queue and every timer in it.
 */
#ifndef GW_TIMERQ_H
#define GW_TIMERQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_timer {
    uint64_t due_ms; /* monotonic, gw_now_ms() clock */
    size_t idx;      /* position in the heap, or GW_TIMER_IDLE */
};

#define GW_TIMER_IDLE ((size_t)-1)

struct gw_timerq {
    struct gw_timer **heap;
    size_t len, cap;
};

void gw_timerq_init(struct gw_timerq *q);
void gw_timerq_fini(struct gw_timerq *q);

/* Marks a timer as not queued; call once when its owner is created. */
static inline void gw_timer_init(struct gw_timer *t)
{
    t->idx = GW_TIMER_IDLE;
    t->due_ms = 0;
}

static inline bool gw_timer_queued(const struct gw_timer *t)
{
    return t->idx != GW_TIMER_IDLE;
}

/* Queues t at due_ms, or moves it there if it is already queued. Borrows t until removed. */
void gw_timerq_set(struct gw_timerq *q, struct gw_timer *t, uint64_t due_ms);
/* Removes t if it is queued; a no-op otherwise. */
void gw_timerq_remove(struct gw_timerq *q, struct gw_timer *t);
/* The earliest queued timer, or NULL. */
struct gw_timer *gw_timerq_peek(const struct gw_timerq *q);
/* Removes and returns the earliest timer whose due_ms <= now_ms, or NULL. */
struct gw_timer *gw_timerq_pop_due(struct gw_timerq *q, uint64_t now_ms);

#endif
