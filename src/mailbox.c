/* mailbox.c -- bounded handoff queue from a producer thread to the loop thread.
 *
 * DESIGN
 *
 * A mutex-protected singly-linked list with a tail pointer. push wakes the consumer only on the
 * empty -> non-empty edge (h2o's multithread queue does the same), because the consumer always
 * takes everything at once: one wake per burst, however long. drain swaps the list out under the
 * lock and walks it unlocked, so the producer is never held up by delivery work.
 *
 * When the list holds `capacity` items the producer waits on a condition variable that drain
 * signals; its timeout lets a stopping producer notice its stop flag. Closing wakes it too.
 *
 * Spent items can travel back the same way: the consumer gives a drained batch back under the
 * lock once, the producer takes the whole list when it runs out. It is a list, not a pool: it
 * holds what the consumer returned and the producer has not yet taken, and the producer frees
 * its spares when it goes idle.
 *
 * Threads: one producer (the watcher), one consumer (the loop). Shutdown: the producer stops,
 * the consumer drains what is left, the owner frees the mailbox.
 */
#include "gw/mailbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "gw/common.h"

struct gw_mailbox {
    pthread_mutex_t lock;
    pthread_cond_t not_full;
    struct gw_mail *head, *tail;
    struct gw_mail *given_back; /* spent items for the producer, linked through next */
    size_t len, capacity;
    bool closed;
    bool wake_owed; /* producer only: a deferred push found the mailbox empty */
    gw_mailbox_wake_fn *wake;
    void *ud;
};

struct gw_mailbox *gw_mailbox_new(size_t capacity, gw_mailbox_wake_fn *wake, void *ud)
{
    struct gw_mailbox *mb = gw_calloc(1, sizeof(*mb));
    pthread_condattr_t attr;
    pthread_mutex_init(&mb->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&mb->not_full, &attr);
    pthread_condattr_destroy(&attr);
    mb->capacity = capacity ? capacity : 1;
    mb->wake = wake;
    mb->ud = ud;
    return mb;
}

static void drop_all(struct gw_mail *m, gw_mailbox_item_fn *drop, void *ud)
{
    while (m) {
        struct gw_mail *next = m->next;
        if (drop)
            drop(m, ud);
        m = next;
    }
}

void gw_mailbox_free(struct gw_mailbox *mb, gw_mailbox_item_fn *drop, void *ud)
{
    if (!mb)
        return;
    drop_all(mb->head, drop, ud);
    drop_all(mb->given_back, drop, ud);
    pthread_cond_destroy(&mb->not_full);
    pthread_mutex_destroy(&mb->lock);
    free(mb);
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int push(struct gw_mailbox *mb, struct gw_mail *m, int timeout_ms, bool defer)
{
    struct timespec until;
    bool waited = false;
    pthread_mutex_lock(&mb->lock);
    if (mb->len >= mb->capacity && mb->wake_owed) { /* the consumer must hear of it to drain */
        pthread_mutex_unlock(&mb->lock);
        gw_mailbox_flush(mb);
        pthread_mutex_lock(&mb->lock);
    }
    while (mb->len >= mb->capacity && !mb->closed) {
        if (!waited) { /* a clock read only when it must wait, not on every push */
            deadline_in(&until, timeout_ms);
            waited = true;
        }
        if (pthread_cond_timedwait(&mb->not_full, &mb->lock, &until) == ETIMEDOUT)
            break;
    }
    if (mb->closed || mb->len >= mb->capacity) {
        pthread_mutex_unlock(&mb->lock);
        return -1;
    }
    m->next = NULL;
    bool was_empty = mb->head == NULL;
    if (was_empty)
        mb->head = m;
    else
        mb->tail->next = m;
    mb->tail = m;
    mb->len++;
    pthread_mutex_unlock(&mb->lock);
    if (was_empty && defer)
        mb->wake_owed = true;
    else if (was_empty)
        mb->wake(mb->ud);
    return 0;
}

int gw_mailbox_push(struct gw_mailbox *mb, struct gw_mail *m, int timeout_ms)
{
    return push(mb, m, timeout_ms, false);
}

int gw_mailbox_push_deferred(struct gw_mailbox *mb, struct gw_mail *m, int timeout_ms)
{
    return push(mb, m, timeout_ms, true);
}

void gw_mailbox_flush(struct gw_mailbox *mb)
{
    if (!mb->wake_owed)
        return;
    mb->wake_owed = false;
    mb->wake(mb->ud);
}

size_t gw_mailbox_drain(struct gw_mailbox *mb, gw_mailbox_item_fn *fn, void *ud)
{
    pthread_mutex_lock(&mb->lock);
    struct gw_mail *m = mb->head;
    size_t n = mb->len;
    mb->head = mb->tail = NULL;
    mb->len = 0;
    pthread_cond_signal(&mb->not_full);
    pthread_mutex_unlock(&mb->lock);
    while (m) {
        struct gw_mail *next = m->next;
        fn(m, ud);
        m = next;
    }
    return n;
}

void gw_mailbox_give_back(struct gw_mailbox *mb, struct gw_mail *head, struct gw_mail *tail)
{
    if (!head)
        return;
    pthread_mutex_lock(&mb->lock);
    tail->next = mb->given_back;
    mb->given_back = head;
    pthread_mutex_unlock(&mb->lock);
}

struct gw_mail *gw_mailbox_take_back(struct gw_mailbox *mb)
{
    pthread_mutex_lock(&mb->lock);
    struct gw_mail *m = mb->given_back;
    mb->given_back = NULL;
    pthread_mutex_unlock(&mb->lock);
    return m;
}

void gw_mailbox_close(struct gw_mailbox *mb)
{
    pthread_mutex_lock(&mb->lock);
    mb->closed = true;
    pthread_cond_broadcast(&mb->not_full);
    pthread_mutex_unlock(&mb->lock);
}

size_t gw_mailbox_length(struct gw_mailbox *mb)
{
    pthread_mutex_lock(&mb->lock);
    size_t n = mb->len;
    pthread_mutex_unlock(&mb->lock);
    return n;
}
