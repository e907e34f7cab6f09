/* msg.c -- refcounted encoded packets. */
#include "gw/msg.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"

/* A fresh message's header: one reference, untimed. */
static struct gw_msg *init_header(struct gw_msg *m, size_t len, bool binary)
{
    GW_ASSERT(len < UINT32_MAX);
    m->refs = 1;
    m->len = (uint32_t)len;
    m->received_us = 0;
    m->binary = binary;
    m->immortal = false;
    return m;
}

struct gw_msg *gw_msg_new(size_t len, bool binary)
{
    struct gw_msg *m = init_header(gw_malloc(sizeof(*m) + GW_MSG_HEADROOM + len + 1), len, binary);
    m->data[GW_MSG_HEADROOM + len] = '\0';
    return m;
}

struct gw_msg *gw_msg_new_text(char type, const char *data, size_t len)
{
    struct gw_msg *m = gw_msg_new(len + 1, false);
    char *p = gw_msg_payload(m);
    p[0] = type;
    if (len)
        memcpy(p + 1, data, len);
    return m;
}

/* The payload starts after the header and the headroom; gw_buf keeps the NUL after it. */
#define BUILD_PREFIX (offsetof(struct gw_msg, data) + GW_MSG_HEADROOM)

void gw_msg_build_start(struct gw_buf *b)
{
    GW_ASSERT(b->len == 0);
    gw_buf_reserve(b, BUILD_PREFIX + 240); /* a typical notification fits the first block */
    b->len = BUILD_PREFIX;
    b->data[b->len] = '\0';
}

struct gw_msg *gw_msg_build_finish(struct gw_buf *b)
{
    GW_ASSERT(b->len >= BUILD_PREFIX);
    /* b's memory is malloc'ed, so aligned for any type */
    struct gw_msg *m = init_header((struct gw_msg *)(void *)b->data, b->len - BUILD_PREFIX, false);
    *b = (struct gw_buf)GW_BUF_INIT;
    return m;
}

struct gw_msg *gw_msg_ref(struct gw_msg *m)
{
    if (!m->immortal)
        m->refs++;
    return m;
}

void gw_msg_unref(struct gw_msg *m)
{
    if (m->immortal)
        return;
    GW_ASSERT(m->refs > 0);
    if (--m->refs == 0)
        free(m);
}

/* Fine at the bottom, where the gateway's targets are (p50 150 us, p99 1 ms), and wide enough
 * for a backlog behind a slow consumer. */
static const uint64_t dispatch_bounds_us[] = {
    10,    25,    50,    100,    150,    250,     500,     1000,    2500,    5000,
    10000, 25000, 50000, 100000, 250000, 1000000, 2500000, 5000000, 10000000};
_Static_assert(GW_ARRAY_SIZE(dispatch_bounds_us) <= GW_HIST_MAX_BOUNDS, "too many bounds");
static struct gw_hist dispatch_latency = GW_HIST_INIT(dispatch_bounds_us); /* loop thread */

void gw_msg_dispatch_observe(uint64_t received_us, uint64_t now_us)
{
    /* The write comes after the receipt (the mailbox orders them) on one monotonic clock; the
     * guard only keeps a misbehaving clock from wrapping into an absurd latency. */
    gw_hist_observe(&dispatch_latency, now_us > received_us ? now_us - received_us : 0);
}

void gw_msg_written(const struct gw_msg *m)
{
    if (m->received_us)
        gw_msg_dispatch_observe(m->received_us, gw_now_us());
}

const struct gw_hist *gw_msg_dispatch_latency(void)
{
    return &dispatch_latency;
}

/* The shared one-byte packets are built on first use and never freed. First use happens on the
 * loop thread, the only thread that queues them. */
static struct gw_msg *immortal(struct gw_msg **slot, char type)
{
    if (!*slot) {
        *slot = gw_msg_new_text(type, NULL, 0);
        (*slot)->immortal = true;
    }
    return *slot;
}

struct gw_msg *gw_msg_ping(void)
{
    static struct gw_msg *m;
    return immortal(&m, '2');
}

struct gw_msg *gw_msg_noop(void)
{
    static struct gw_msg *m;
    return immortal(&m, '6');
}

struct gw_msg *gw_msg_close(void)
{
    static struct gw_msg *m;
    return immortal(&m, '1');
}
