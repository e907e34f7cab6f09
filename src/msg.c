/* msg.c -- refcounted encoded packets. */
#include "gw/msg.h"

#include <stdlib.h>
#include <string.h>

#include "gw/common.h"

struct gw_msg *gw_msg_new(size_t len, bool binary)
{
    GW_ASSERT(len < UINT32_MAX);
    struct gw_msg *m = gw_malloc(sizeof(*m) + GW_MSG_HEADROOM + len + 1);
    m->refs = 1;
    m->len = (uint32_t)len;
    m->binary = binary;
    m->immortal = false;
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
