/* timerq.c -- binary min-heap of embedded deadlines. */
#include "gw/timerq.h"

#include <stdlib.h>

#include "gw/common.h"

void gw_timerq_init(struct gw_timerq *q)
{
    q->heap = NULL;
    q->len = q->cap = 0;
}

void gw_timerq_fini(struct gw_timerq *q)
{
    for (size_t i = 0; i < q->len; i++)
        q->heap[i]->idx = GW_TIMER_IDLE;
    free(q->heap);
    gw_timerq_init(q);
}

static void place(struct gw_timerq *q, size_t i, struct gw_timer *t)
{
    q->heap[i] = t;
    t->idx = i;
}

static void sift_up(struct gw_timerq *q, size_t i)
{
    struct gw_timer *t = q->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (q->heap[parent]->due_ms <= t->due_ms)
            break;
        place(q, i, q->heap[parent]);
        i = parent;
    }
    place(q, i, t);
}

static void sift_down(struct gw_timerq *q, size_t i)
{
    struct gw_timer *t = q->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->len)
            break;
        if (child + 1 < q->len && q->heap[child + 1]->due_ms < q->heap[child]->due_ms)
            child++;
        if (t->due_ms <= q->heap[child]->due_ms)
            break;
        place(q, i, q->heap[child]);
        i = child;
    }
    place(q, i, t);
}

void gw_timerq_set(struct gw_timerq *q, struct gw_timer *t, uint64_t due_ms)
{
    if (gw_timer_queued(t)) {
        uint64_t old = t->due_ms;
        t->due_ms = due_ms;
        if (due_ms < old)
            sift_up(q, t->idx);
        else
            sift_down(q, t->idx);
        return;
    }
    if (q->len == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->heap = gw_realloc(q->heap, q->cap * sizeof(*q->heap));
    }
    t->due_ms = due_ms;
    place(q, q->len++, t);
    sift_up(q, t->idx);
}

void gw_timerq_remove(struct gw_timerq *q, struct gw_timer *t)
{
    if (!gw_timer_queued(t))
        return;
    size_t i = t->idx;
    GW_ASSERT(i < q->len && q->heap[i] == t);
    t->idx = GW_TIMER_IDLE;
    struct gw_timer *last = q->heap[--q->len];
    if (i == q->len)
        return;
    place(q, i, last);
    if (i > 0 && q->heap[(i - 1) / 2]->due_ms > last->due_ms)
        sift_up(q, i);
    else
        sift_down(q, i);
}

struct gw_timer *gw_timerq_peek(const struct gw_timerq *q)
{
    return q->len ? q->heap[0] : NULL;
}

struct gw_timer *gw_timerq_pop_due(struct gw_timerq *q, uint64_t now_ms)
{
    struct gw_timer *t = gw_timerq_peek(q);
    if (!t || t->due_ms > now_ms)
        return NULL;
    gw_timerq_remove(q, t);
    return t;
}
