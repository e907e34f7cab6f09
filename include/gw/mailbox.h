/* mailbox.h -- the one queue between the watcher thread and the loop thread.
 *
 * Items are intrusive (struct gw_mail embedded in the producer's record) and handed over with
 * their ownership. The consumer is woken only when the queue goes from empty to non-empty (for a
 * deferred push, when the producer flushes), and drains the whole list in one swap outside the
 * lock, so a burst costs one wake and one lock.
 * The queue is bounded: a producer that finds it full waits (up to a timeout) for the consumer,
 * which is back-pressure on the change stream rather than a dropped notification.
 *
 * Thread safety: gw_mailbox_push, gw_mailbox_push_deferred and gw_mailbox_flush from any one
 * producer thread; gw_mailbox_drain from the consumer thread; gw_mailbox_close from either.
 */
#ifndef GW_MAILBOX_H
#define GW_MAILBOX_H

#include <stdbool.h>
#include <stddef.h>

struct gw_mail {
    struct gw_mail *next;
};

struct gw_mailbox;

typedef void gw_mailbox_wake_fn(void *ud);
typedef void gw_mailbox_item_fn(struct gw_mail *m, void *ud);

/* Returns a new mailbox holding at most capacity items; wake(ud) is called (from the producer
 * thread, outside the lock) on every empty -> non-empty transition. */
struct gw_mailbox *gw_mailbox_new(size_t capacity, gw_mailbox_wake_fn *wake, void *ud);
/* Frees the mailbox; items still queued are passed to drop (may be NULL). */
void gw_mailbox_free(struct gw_mailbox *mb, gw_mailbox_item_fn *drop, void *ud);

/* Appends m, taking ownership. Waits while the mailbox is full, at most timeout_ms. Returns 0,
 * or -1 (ownership stays with the caller) when it is still full after the timeout or closed. */
int gw_mailbox_push(struct gw_mailbox *mb, struct gw_mail *m, int timeout_ms);
/* The same, but the wake it owes is kept for gw_mailbox_flush(), so a producer that pushes a
 * run of items wakes the consumer once, at the end of the run, rather than at its first item
 * (which, on a shared core, hands the consumer one item at a time). A push that finds the
 * mailbox full flushes before it waits. */
int gw_mailbox_push_deferred(struct gw_mailbox *mb, struct gw_mail *m, int timeout_ms);
/* Producer: wakes the consumer if a deferred push owes it a wake; otherwise does nothing. */
void gw_mailbox_flush(struct gw_mailbox *mb);
/* Takes every queued item, in push order, and calls fn on each outside the lock (fn owns the
 * item). Returns how many. */
size_t gw_mailbox_drain(struct gw_mailbox *mb, gw_mailbox_item_fn *fn, void *ud);
/* Consumer: hands spent items back for the producer to reuse, so the producer's next records
 * need no allocation and the consumer no free: memory allocated on one thread and freed on
 * another misses both threads' malloc caches. head..tail is a list linked through next (its
 * items' contents are the caller's to have released); one lock for the whole list. */
void gw_mailbox_give_back(struct gw_mailbox *mb, struct gw_mail *head, struct gw_mail *tail);
/* Producer: takes every item handed back, as a NULL-terminated list (ownership moves), or NULL.
 * Items still handed back when the mailbox is freed go to its drop function. */
struct gw_mail *gw_mailbox_take_back(struct gw_mailbox *mb);
/* Refuses further pushes and wakes a waiting producer. */
void gw_mailbox_close(struct gw_mailbox *mb);
size_t gw_mailbox_length(struct gw_mailbox *mb);

#endif
