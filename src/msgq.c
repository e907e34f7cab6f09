/* msgq.c -- see msgq.h. */
#include "gw/msgq.h"

#include <stdlib.h>

#include "gw/common.h"

static void grow(struct gw_msgq *q)
{
    if (q->len < q->cap)
        return;
    uint32_t cap = q->cap ? q->cap * 2 : 4;
    struct gw_msg **ring = gw_malloc(cap * sizeof(*ring));
    for (uint32_t i = 0; i < q->len; i++)
        ring[i] = q->q[(q->head + i) & (q->cap - 1)];
    free(q->q);
    q->q = ring;
    q->cap = cap;
    q->head = 0;
}

void gw_msgq_push(struct gw_msgq *q, struct gw_msg *m)
{
    grow(q);
    q->q[(q->head + q->len) & (q->cap - 1)] = gw_msg_ref(m);
    q->len++;
    q->bytes += m->len;
}

void gw_msgq_push_front(struct gw_msgq *q, struct gw_msg *m)
{
    grow(q);
    q->head = (q->head - 1) & (q->cap - 1);
    q->q[q->head] = gw_msg_ref(m);
    q->len++;
    q->bytes += m->len;
}

struct gw_msg *gw_msgq_peek(const struct gw_msgq *q)
{
    return q->len ? q->q[q->head] : NULL;
}

struct gw_msg *gw_msgq_pop(struct gw_msgq *q)
{
    if (!q->len)
        return NULL;
    struct gw_msg *m = q->q[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
    q->bytes -= m->len;
    if (!q->len && q->cap > 16) {
        /* A burst grew the ring: give the memory back once it has drained. */
        free(q->q);
        q->q = NULL;
        q->cap = q->head = 0;
    }
    return m;
}

void gw_msgq_clear(struct gw_msgq *q)
{
    struct gw_msg *m;
    while ((m = gw_msgq_pop(q)) != NULL)
        gw_msg_unref(m);
    free(q->q);
    q->q = NULL;
    q->cap = q->head = 0;
}
