/* test_timerq.c -- the deadline heap: ordering against a reference model under random sets,
 * moves, removals and pops; the edge cases of moving and removing; pop_due and now.
 */
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/timerq.h"
#include "test.h"

static uint64_t rng_state = 0xd1b54a32d192ed03ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* The heap shape is public; checking it after every step pins a failure to its operation. */
static bool heap_ok(const struct gw_timerq *q)
{
    for (size_t i = 0; i < q->len; i++) {
        if (q->heap[i]->idx != i)
            return false;
        if (i > 0 && q->heap[(i - 1) / 2]->due_ms > q->heap[i]->due_ms)
            return false;
    }
    return true;
}

static void test_empty(void)
{
    struct gw_timerq q;
    struct gw_timer t;
    gw_timerq_init(&q);
    gw_timer_init(&t);
    CHECK(!gw_timer_queued(&t));
    CHECK(gw_timerq_peek(&q) == NULL);
    CHECK(gw_timerq_pop_due(&q, UINT64_MAX) == NULL);
    gw_timerq_remove(&q, &t); /* not queued: a no-op */
    CHECK(!gw_timer_queued(&t));
    CHECK(gw_timerq_peek(&q) == NULL);
    gw_timerq_fini(&q);
}

static void test_pop_due_respects_now(void)
{
    struct gw_timerq q;
    struct gw_timer a, b, c;
    gw_timerq_init(&q);
    gw_timer_init(&a);
    gw_timer_init(&b);
    gw_timer_init(&c);
    gw_timerq_set(&q, &b, 200);
    gw_timerq_set(&q, &a, 100);
    gw_timerq_set(&q, &c, 300);
    CHECK(gw_timer_queued(&a) && gw_timer_queued(&b) && gw_timer_queued(&c));
    CHECK(gw_timerq_peek(&q) == &a);

    CHECK(gw_timerq_pop_due(&q, 0) == NULL);
    CHECK(gw_timerq_pop_due(&q, 99) == NULL);
    CHECK(gw_timerq_peek(&q) == &a);         /* nothing was taken */
    CHECK(gw_timerq_pop_due(&q, 100) == &a); /* due == now is due */
    CHECK(!gw_timer_queued(&a));
    CHECK(gw_timerq_pop_due(&q, 100) == NULL);
    CHECK(gw_timerq_pop_due(&q, 1000) == &b);
    CHECK(gw_timerq_pop_due(&q, 1000) == &c);
    CHECK(gw_timerq_pop_due(&q, 1000) == NULL);
    CHECK(!gw_timer_queued(&b) && !gw_timer_queued(&c));

    /* a popped timer can be queued again */
    gw_timerq_set(&q, &a, 5);
    CHECK(gw_timerq_pop_due(&q, UINT64_MAX) == &a);
    gw_timerq_fini(&q);
}

static void test_move_earlier_and_later(void)
{
    struct gw_timerq q;
    struct gw_timer t[10];
    gw_timerq_init(&q);
    for (int i = 0; i < 10; i++) {
        gw_timer_init(&t[i]);
        gw_timerq_set(&q, &t[i], 100 + 10 * (uint64_t)i);
    }
    CHECK(gw_timerq_peek(&q) == &t[0]);

    gw_timerq_set(&q, &t[7], 50); /* a leaf moves to the root */
    CHECK(heap_ok(&q));
    CHECK(gw_timerq_peek(&q) == &t[7]);
    CHECK_INT_EQ(t[7].due_ms, 50);

    gw_timerq_set(&q, &t[7], 1000); /* the root moves to the end */
    CHECK(heap_ok(&q));
    CHECK(gw_timerq_peek(&q) == &t[0]);

    gw_timerq_set(&q, &t[0], 155); /* into the middle */
    CHECK(heap_ok(&q));
    CHECK(gw_timerq_peek(&q) == &t[1]);

    gw_timerq_set(&q, &t[1], 110); /* same deadline: a no-op */
    CHECK(heap_ok(&q));
    CHECK_INT_EQ(q.len, 10);

    static const int order[] = {1, 2, 3, 4, 5, 0, 6, 8, 9, 7};
    for (int i = 0; i < 10; i++) {
        struct gw_timer *p = gw_timerq_pop_due(&q, UINT64_MAX);
        CHECK(p == &t[order[i]]);
    }
    CHECK(gw_timerq_peek(&q) == NULL);
    gw_timerq_fini(&q);
}

/* Builds 15 timers due 1..15 (a full heap of 4 levels) and removes timer `victim`. */
static void check_remove(int victim)
{
    struct gw_timerq q;
    struct gw_timer t[15];
    gw_timerq_init(&q);
    for (int i = 0; i < 15; i++) {
        gw_timer_init(&t[i]);
        gw_timerq_set(&q, &t[i], (uint64_t)i + 1);
    }
    gw_timerq_remove(&q, &t[victim]);
    CHECK(!gw_timer_queued(&t[victim]));
    CHECK(heap_ok(&q));
    CHECK_INT_EQ(q.len, 14);
    gw_timerq_remove(&q, &t[victim]); /* twice is a no-op */
    CHECK_INT_EQ(q.len, 14);
    for (int i = 0; i < 15; i++) {
        if (i == victim)
            continue;
        CHECK(gw_timerq_pop_due(&q, UINT64_MAX) == &t[i]);
    }
    CHECK(gw_timerq_peek(&q) == NULL);
    gw_timerq_fini(&q);
}

static void test_remove_positions(void)
{
    check_remove(0);  /* the root */
    check_remove(14); /* the last slot */
    check_remove(3);  /* the middle */
    check_remove(8);  /* a leaf that is not last */
}

/* Removing a node whose replacement (the last leaf) is smaller than its new parent must sift
 * it up: place large deadlines in one subtree and a small one as the last leaf of the other. */
static void test_remove_sifts_up(void)
{
    struct gw_timerq q;
    struct gw_timer t[7];
    static const uint64_t due[7] = {1, 100, 2, 101, 102, 3, 4};
    gw_timerq_init(&q);
    for (int i = 0; i < 7; i++) {
        gw_timer_init(&t[i]);
        gw_timerq_set(&q, &t[i], due[i]);
    }
    CHECK(heap_ok(&q));
    /* remove the deadline-101 timer (a child of 100); the last leaf (4) replaces it */
    gw_timerq_remove(&q, &t[3]);
    CHECK(heap_ok(&q));
    static const uint64_t order[] = {1, 2, 3, 4, 100, 102};
    for (size_t i = 0; i < GW_ARRAY_SIZE(order); i++) {
        struct gw_timer *p = gw_timerq_pop_due(&q, UINT64_MAX);
        CHECK(p != NULL && p->due_ms == order[i]);
    }
    gw_timerq_fini(&q);
}

/* Random operations against a model that knows which timers are queued and at what deadline. */
static void test_random_against_model(void)
{
    enum { N = 300, OPS = 10000 };
    struct gw_timer t[N];
    bool queued[N];
    uint64_t due[N];
    struct gw_timerq q;
    gw_timerq_init(&q);
    for (int i = 0; i < N; i++) {
        gw_timer_init(&t[i]);
        queued[i] = false;
    }
    int bad_heap = 0, bad_idle = 0, bad_pop = 0, bad_peek = 0, bad_len = 0;
    uint64_t now = 0;
    for (int op = 0; op < OPS; op++) {
        int i = (int)(rng() % N);
        switch (rng() % 5) {
        case 0:
        case 1: /* set or move, with many equal deadlines */
            due[i] = now + rng() % 500;
            gw_timerq_set(&q, &t[i], due[i]);
            queued[i] = true;
            bad_idle += !gw_timer_queued(&t[i]) || t[i].due_ms != due[i];
            break;
        case 2:
            gw_timerq_remove(&q, &t[i]);
            queued[i] = false;
            bad_idle += gw_timer_queued(&t[i]);
            break;
        case 3: { /* time advances; pop what is due */
            now += rng() % 50;
            struct gw_timer *p;
            uint64_t last = 0;
            while ((p = gw_timerq_pop_due(&q, now)) != NULL) {
                int k = (int)(p - t);
                bad_pop += k < 0 || k >= N || !queued[k] || due[k] > now || due[k] < last;
                if (k >= 0 && k < N) {
                    queued[k] = false;
                    last = due[k];
                }
                bad_idle += gw_timer_queued(p);
            }
            p = gw_timerq_peek(&q);
            bad_pop += p && p->due_ms <= now; /* all that was due came out */
            break;
        }
        default: {
            struct gw_timer *p = gw_timerq_peek(&q);
            uint64_t min = UINT64_MAX;
            bool any = false;
            for (int k = 0; k < N; k++) {
                if (queued[k] && due[k] <= min) {
                    min = due[k];
                    any = true;
                }
            }
            bad_peek += any ? !p || p->due_ms != min || !queued[p - t] : p != NULL;
            break;
        }
        }
        size_t count = 0;
        for (int k = 0; k < N; k++)
            count += queued[k];
        bad_len += count != q.len;
        bad_heap += !heap_ok(&q);
        if (bad_heap + bad_idle + bad_pop + bad_peek + bad_len) {
            TEST_FAIL_AT("model and heap disagree at operation %d", op);
            break;
        }
    }
    CHECK_INT_EQ(bad_heap, 0);
    CHECK_INT_EQ(bad_idle, 0);
    CHECK_INT_EQ(bad_pop, 0);
    CHECK_INT_EQ(bad_peek, 0);
    CHECK_INT_EQ(bad_len, 0);

    /* drain: ascending, exactly the queued ones */
    size_t left = q.len, drained = 0;
    uint64_t last = 0;
    struct gw_timer *p;
    while ((p = gw_timerq_pop_due(&q, UINT64_MAX)) != NULL) {
        CHECK(queued[p - t]);
        CHECK(p->due_ms >= last);
        CHECK(!gw_timer_queued(p));
        queued[p - t] = false;
        last = p->due_ms;
        drained++;
    }
    CHECK_INT_EQ(drained, left);
    for (int k = 0; k < N; k++)
        CHECK(!queued[k] && !gw_timer_queued(&t[k]));
    gw_timerq_fini(&q);
}

/* Growth past the first allocation, and fini marks every still-queued timer idle. */
static void test_grow_and_fini(void)
{
    enum { N = 5000 };
    struct gw_timer *t = gw_malloc(N * sizeof(*t));
    struct gw_timerq q;
    gw_timerq_init(&q);
    for (int i = 0; i < N; i++) {
        gw_timer_init(&t[i]);
        gw_timerq_set(&q, &t[i], (uint64_t)(N - i)); /* descending: every insert sifts to the top */
    }
    CHECK_INT_EQ(q.len, N);
    CHECK(heap_ok(&q));
    CHECK(gw_timerq_peek(&q) == &t[N - 1]);
    for (int i = 0; i < N / 2; i++)
        CHECK(gw_timerq_pop_due(&q, UINT64_MAX) == &t[N - 1 - i]);
    gw_timerq_fini(&q);
    int queued = 0;
    for (int i = 0; i < N; i++)
        queued += gw_timer_queued(&t[i]);
    CHECK_INT_EQ(queued, 0);
    CHECK(gw_timerq_peek(&q) == NULL);

    /* the queue is usable again after fini */
    gw_timerq_set(&q, &t[0], 7);
    CHECK(gw_timerq_pop_due(&q, 7) == &t[0]);
    gw_timerq_fini(&q);
    free(t);
}

int main(void)
{
    RUN(test_empty);
    RUN(test_pop_due_respects_now);
    RUN(test_move_earlier_and_later);
    RUN(test_remove_positions);
    RUN(test_remove_sifts_up);
    RUN(test_random_against_model);
    RUN(test_grow_and_fini);
    return TEST_REPORT();
}
