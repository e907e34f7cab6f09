/* Unit tests for the watcher -> loop mailbox: order and completeness across threads, wakes
 * only on empty -> non-empty (at the producer's flush for deferred pushes), the bound (a full
 * mailbox makes the producer wait, never drops), close releasing a waiting producer, free handing
 * leftovers to the drop callback, and spent items given back to the producer and reused. Run under
 * ThreadSanitizer in CI (make test-tsan). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "gw/common.h"
#include "gw/mailbox.h"
#include "test.h"

struct item {
    struct gw_mail mail;
    long seq;
};

struct world {
    struct gw_mailbox *mb;
    atomic_int wakes;
    long next_expected;
    long received;
    int out_of_order;
    long producer_failures;
};

static void wake(void *ud)
{
    struct world *w = ud;
    atomic_fetch_add(&w->wakes, 1);
}

static void take(struct gw_mail *m, void *ud)
{
    struct world *w = ud;
    struct item *it = (struct item *)m;
    if (it->seq != w->next_expected)
        w->out_of_order++;
    w->next_expected = it->seq + 1;
    w->received++;
    free(it);
}

#define N_ITEMS 200000

static void *produce(void *arg)
{
    struct world *w = arg;
    for (long i = 0; i < N_ITEMS; i++) {
        struct item *it = gw_malloc(sizeof(*it));
        it->seq = i;
        /* a full mailbox makes us wait; with a consumer draining it never times out */
        while (gw_mailbox_push(w->mb, &it->mail, 1000) < 0)
            w->producer_failures++;
    }
    return NULL;
}

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static void test_order_across_threads(void)
{
    struct world w = {0};
    w.mb = gw_mailbox_new(1024, wake, &w);
    pthread_t t;
    pthread_create(&t, NULL, produce, &w);
    while (w.received < N_ITEMS) {
        if (gw_mailbox_drain(w.mb, take, &w) == 0)
            sleep_us(50);
    }
    pthread_join(t, NULL);
    CHECK_INT_EQ(w.received, N_ITEMS);
    CHECK_INT_EQ(w.out_of_order, 0);
    CHECK_INT_EQ(w.producer_failures, 0);
    /* one wake per burst, never one per item */
    CHECK(atomic_load(&w.wakes) >= 1);
    CHECK(atomic_load(&w.wakes) < N_ITEMS);
    gw_mailbox_free(w.mb, NULL, NULL);
}

static void test_wakes_only_on_empty_to_nonempty(void)
{
    struct world w = {0};
    w.mb = gw_mailbox_new(16, wake, &w);
    for (int i = 0; i < 5; i++) {
        struct item *it = gw_malloc(sizeof(*it));
        it->seq = i;
        CHECK_INT_EQ(gw_mailbox_push(w.mb, &it->mail, 0), 0);
    }
    CHECK_INT_EQ(atomic_load(&w.wakes), 1);
    CHECK_INT_EQ(gw_mailbox_length(w.mb), 5);
    CHECK_INT_EQ(gw_mailbox_drain(w.mb, take, &w), 5);
    struct item *it = gw_malloc(sizeof(*it));
    it->seq = 5;
    gw_mailbox_push(w.mb, &it->mail, 0);
    CHECK_INT_EQ(atomic_load(&w.wakes), 2);
    CHECK_INT_EQ(gw_mailbox_drain(w.mb, take, &w), 1);
    CHECK_INT_EQ(w.out_of_order, 0);
    gw_mailbox_free(w.mb, NULL, NULL);
}

/* A deferred push owes its wake until the producer flushes: one wake per run of pushes, none
 * for a flush that owes nothing. */
static void test_deferred_wake_waits_for_flush(void)
{
    struct world w = {0};
    w.mb = gw_mailbox_new(16, wake, &w);
    gw_mailbox_flush(w.mb);
    CHECK_INT_EQ(atomic_load(&w.wakes), 0);
    for (int i = 0; i < 5; i++) {
        struct item *it = gw_malloc(sizeof(*it));
        it->seq = i;
        CHECK_INT_EQ(gw_mailbox_push_deferred(w.mb, &it->mail, 0), 0);
    }
    CHECK_INT_EQ(atomic_load(&w.wakes), 0);
    gw_mailbox_flush(w.mb);
    CHECK_INT_EQ(atomic_load(&w.wakes), 1);
    gw_mailbox_flush(w.mb);
    CHECK_INT_EQ(atomic_load(&w.wakes), 1);
    CHECK_INT_EQ(gw_mailbox_drain(w.mb, take, &w), 5);
    struct item *it = gw_malloc(sizeof(*it));
    it->seq = 5;
    CHECK_INT_EQ(gw_mailbox_push_deferred(w.mb, &it->mail, 0), 0);
    CHECK_INT_EQ(atomic_load(&w.wakes), 1);
    gw_mailbox_flush(w.mb);
    CHECK_INT_EQ(atomic_load(&w.wakes), 2);
    CHECK_INT_EQ(gw_mailbox_drain(w.mb, take, &w), 1);
    CHECK_INT_EQ(w.out_of_order, 0);
    gw_mailbox_free(w.mb, NULL, NULL);
}

/* The consumer drains only when woken. A deferred push that finds the mailbox full must wake
 * it before waiting, or it waits out its timeout for a drain that never comes. */
struct woken_consumer {
    struct gw_mailbox *mb;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int pending, stop;
    long received;
};

static void wake_consumer(void *ud)
{
    struct woken_consumer *c = ud;
    pthread_mutex_lock(&c->lock);
    c->pending++;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void count_and_free(struct gw_mail *m, void *ud)
{
    ((struct woken_consumer *)ud)->received++;
    free(m);
}

static void *consume_when_woken(void *arg)
{
    struct woken_consumer *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        if (!c->pending) {
            pthread_cond_wait(&c->cond, &c->lock);
            continue;
        }
        c->pending = 0;
        pthread_mutex_unlock(&c->lock);
        gw_mailbox_drain(c->mb, count_and_free, c);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void test_deferred_push_into_full_wakes_first(void)
{
    struct woken_consumer c = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    c.mb = gw_mailbox_new(4, wake_consumer, &c);
    pthread_t t;
    pthread_create(&t, NULL, consume_when_woken, &c);
    int failures = 0;
    uint64_t t0 = gw_now_ms();
    for (int i = 0; i < 1000; i++) {
        struct item *it = gw_malloc(sizeof(*it));
        it->seq = i;
        if (gw_mailbox_push_deferred(c.mb, &it->mail, 2000) < 0) {
            failures++; /* each further one would wait out its timeout too */
            free(it);
            break;
        }
    }
    uint64_t took = gw_now_ms() - t0;
    gw_mailbox_flush(c.mb);
    while (gw_mailbox_length(c.mb))
        sleep_us(1000);
    pthread_mutex_lock(&c.lock);
    c.stop = 1;
    pthread_cond_signal(&c.cond);
    pthread_mutex_unlock(&c.lock);
    pthread_join(t, NULL);
    CHECK_INT_EQ(failures, 0);
    CHECK(took < 2000); /* no push sat out its timeout */
    CHECK_INT_EQ(c.received, 1000);
    gw_mailbox_free(c.mb, NULL, NULL);
}

static void test_bound_keeps_ownership_with_the_producer(void)
{
    struct world w = {0};
    w.mb = gw_mailbox_new(4, wake, &w);
    struct item items[5];
    for (int i = 0; i < 4; i++)
        CHECK_INT_EQ(gw_mailbox_push(w.mb, &items[i].mail, 0), 0);
    uint64_t t0 = gw_now_ms();
    CHECK_INT_EQ(gw_mailbox_push(w.mb, &items[4].mail, 50), -1); /* full: waited, refused */
    CHECK(gw_now_ms() - t0 >= 45);
    CHECK_INT_EQ(gw_mailbox_length(w.mb), 4);
    gw_mailbox_free(w.mb, NULL, NULL); /* stack items: nothing to drop */
}

struct blocked {
    struct gw_mailbox *mb;
    struct item item;
    int rc;
    uint64_t waited_ms;
};

static void *push_into_full(void *arg)
{
    struct blocked *b = arg;
    uint64_t t0 = gw_now_ms();
    b->rc = gw_mailbox_push(b->mb, &b->item.mail, 10000);
    b->waited_ms = gw_now_ms() - t0;
    return NULL;
}

static void test_close_releases_a_waiting_producer(void)
{
    struct world w = {0};
    struct item first;
    struct blocked b = {.rc = 99};
    w.mb = gw_mailbox_new(1, wake, &w);
    b.mb = w.mb;
    CHECK_INT_EQ(gw_mailbox_push(w.mb, &first.mail, 0), 0);
    pthread_t t;
    pthread_create(&t, NULL, push_into_full, &b);
    sleep_us(50000);
    gw_mailbox_close(w.mb);
    pthread_join(t, NULL);
    CHECK_INT_EQ(b.rc, -1);
    CHECK(b.waited_ms < 5000); /* released by close, not by its 10 s timeout */
    gw_mailbox_free(w.mb, NULL, NULL);
}

static int dropped;

static void drop(struct gw_mail *m, void *ud)
{
    dropped++;
    free(m);
}

static void test_free_drops_leftovers(void)
{
    struct world w = {0};
    w.mb = gw_mailbox_new(8, wake, &w);
    for (int i = 0; i < 3; i++) {
        struct item *it = gw_malloc(sizeof(*it));
        gw_mailbox_push(w.mb, &it->mail, 0);
    }
    gw_mailbox_free(w.mb, drop, NULL);
    CHECK_INT_EQ(dropped, 3);
}

/* The watcher's pattern: the consumer gives each drained batch back, the producer reuses it. */
struct recycling {
    struct world w;
    struct gw_mail *spent, *spent_tail;
    long allocated; /* producer thread */
};

static void take_and_keep(struct gw_mail *m, void *ud)
{
    struct recycling *r = ud;
    struct item *it = (struct item *)m;
    if (it->seq != r->w.next_expected)
        r->w.out_of_order++;
    r->w.next_expected = it->seq + 1;
    r->w.received++;
    m->next = r->spent;
    r->spent = m;
    if (!r->spent_tail)
        r->spent_tail = m;
}

static void *produce_reusing(void *arg)
{
    struct recycling *r = arg;
    struct gw_mail *spare = NULL;
    for (long i = 0; i < N_ITEMS; i++) {
        if (!spare)
            spare = gw_mailbox_take_back(r->w.mb);
        struct item *it = (struct item *)spare;
        if (spare) {
            spare = spare->next;
        } else {
            it = gw_malloc(sizeof(*it));
            r->allocated++;
        }
        it->seq = i;
        while (gw_mailbox_push(r->w.mb, &it->mail, 1000) < 0)
            r->w.producer_failures++;
    }
    while (spare) {
        struct gw_mail *next = spare->next;
        free(spare);
        spare = next;
    }
    return NULL;
}

static void test_given_back_items_are_reused(void)
{
    enum { CAPACITY = 256 };
    struct recycling r = {0};
    r.w.mb = gw_mailbox_new(CAPACITY, wake, &r.w);
    CHECK(gw_mailbox_take_back(r.w.mb) == NULL);
    pthread_t t;
    pthread_create(&t, NULL, produce_reusing, &r);
    while (r.w.received < N_ITEMS) {
        size_t n = gw_mailbox_drain(r.w.mb, take_and_keep, &r);
        gw_mailbox_give_back(r.w.mb, r.spent, r.spent_tail);
        r.spent = r.spent_tail = NULL;
        if (n == 0)
            sleep_us(50);
    }
    pthread_join(t, NULL);
    CHECK_INT_EQ(r.w.received, N_ITEMS);
    CHECK_INT_EQ(r.w.out_of_order, 0);
    CHECK_INT_EQ(r.w.producer_failures, 0);
    /* in circulation at once: the mailbox, the batch being drained, the list given back and
     * the producer's spares, each at most the capacity */
    CHECK(r.allocated >= 1 && r.allocated <= 4 * CAPACITY);
    gw_mailbox_give_back(r.w.mb, NULL, NULL); /* an empty batch is nothing */
    dropped = 0;
    gw_mailbox_free(r.w.mb, drop, NULL); /* the last batch given back is dropped */
    CHECK(dropped >= 1 && dropped <= r.allocated);
}

static void test_take_back_takes_everything_once(void)
{
    struct gw_mailbox *mb = gw_mailbox_new(8, wake, &(struct world){0});
    struct item a, b, c;
    a.mail.next = &b.mail;
    b.mail.next = NULL;
    gw_mailbox_give_back(mb, &a.mail, &b.mail);
    c.mail.next = NULL;
    gw_mailbox_give_back(mb, &c.mail, &c.mail);
    int n = 0;
    bool seen_a = false, seen_b = false, seen_c = false;
    for (struct gw_mail *m = gw_mailbox_take_back(mb); m; m = m->next, n++) {
        seen_a |= m == &a.mail;
        seen_b |= m == &b.mail;
        seen_c |= m == &c.mail;
    }
    CHECK_INT_EQ(n, 3);
    CHECK(seen_a && seen_b && seen_c);
    CHECK(gw_mailbox_take_back(mb) == NULL);
    gw_mailbox_free(mb, NULL, NULL);
}

int main(void)
{
    RUN(test_order_across_threads);
    RUN(test_wakes_only_on_empty_to_nonempty);
    RUN(test_deferred_wake_waits_for_flush);
    RUN(test_deferred_push_into_full_wakes_first);
    RUN(test_bound_keeps_ownership_with_the_producer);
    RUN(test_close_releases_a_waiting_producer);
    RUN(test_free_drops_leftovers);
    RUN(test_given_back_items_are_reused);
    RUN(test_take_back_takes_everything_once);
    return TEST_REPORT();
}
