/* test_msgq.c -- the outbox queue: order, push_front, byte count, references, shrinking. */
#include <string.h>

#include "gw/msgq.h"
#include "test.h"

static struct gw_msg *text(const char *s)
{
    return gw_msg_new_text('4', s, strlen(s));
}

static void test_order_and_bytes(void)
{
    struct gw_msgq q = GW_MSGQ_INIT;
    struct gw_msg *m[40];
    size_t bytes = 0;
    for (int i = 0; i < 40; i++) {
        char s[8];
        snprintf(s, sizeof(s), "m%d", i);
        m[i] = text(s);
        gw_msgq_push(&q, m[i]);
        bytes += m[i]->len;
        CHECK_INT_EQ(q.bytes, bytes);
    }
    CHECK_INT_EQ(q.len, 40);
    CHECK(gw_msgq_peek(&q) == m[0]);
    struct gw_msg *ping = gw_msg_ping();
    gw_msgq_push_front(&q, ping);
    CHECK(gw_msgq_peek(&q) == ping);
    CHECK_INT_EQ(q.bytes, bytes + ping->len);
    struct gw_msg *got = gw_msgq_pop(&q);
    CHECK(got == ping);
    gw_msg_unref(got);
    for (int i = 0; i < 40; i++) {
        got = gw_msgq_pop(&q);
        CHECK(got == m[i]);
        gw_msg_unref(got);
        gw_msg_unref(m[i]); /* the queue had its own reference */
    }
    CHECK(gw_msgq_pop(&q) == NULL);
    CHECK_INT_EQ(q.bytes, 0);
    CHECK(q.q == NULL); /* the burst's ring was given back */
    gw_msgq_clear(&q);
}

/* push_front on an empty queue and around the wrap point keeps FIFO order for the rest. */
static void test_front_wraps(void)
{
    struct gw_msgq q = GW_MSGQ_INIT;
    struct gw_msg *a = text("a"), *b = text("b"), *c = text("c");
    gw_msgq_push_front(&q, a);
    gw_msgq_push(&q, b);
    gw_msgq_push_front(&q, c);
    const struct gw_msg *want[] = {c, a, b};
    for (size_t i = 0; i < 3; i++) {
        struct gw_msg *got = gw_msgq_pop(&q);
        CHECK(got == want[i]);
        gw_msg_unref(got);
    }
    gw_msgq_push(&q, a);
    gw_msgq_push(&q, b);
    gw_msgq_clear(&q); /* drops its references: a and b stay alive through ours */
    CHECK_INT_EQ(q.len, 0);
    CHECK_INT_EQ(q.bytes, 0);
    CHECK(q.q == NULL);
    gw_msg_unref(a);
    gw_msg_unref(b);
    gw_msg_unref(c);
}

int main(void)
{
    RUN(test_order_and_bytes);
    RUN(test_front_wraps);
    return TEST_REPORT();
}
