/* store.h -- the notifications collection as a durable per-user log: catch-up and read marks.
 *
 * The loop thread never waits on MongoDB. It fills a request (a catch-up for a connecting
 * client, a read mark), submits it, and gets it back completed through gw_store_drain() after
 * the store called wake(ud). One worker thread with its own mongoc client runs the requests in
 * submission order.
 *
 * Catch-up reads the user's notifications with an ObjectId _id greater than `after`, newest
 * first, at most CATCHUP_MAX_COUNT and none older than CATCHUP_MAX_AGE_SECONDS (by the _id's
 * time), and hands them back oldest first, each rendered as JSON as the live stream renders
 * it. It also counts the user's unread notifications (read is not true) and, for a first
 * connect (no `after`), finds the user's newest id. The index that makes both cheap is
 * {<user field>: 1, _id: -1}.
 *
 * Ownership: a request belongs to the caller until gw_store_submit() succeeds, to the store
 * until gw_store_drain() hands it back, then to the drain callback, which frees it with
 * gw_store_req_free(). While the store holds it, the loop thread may set only `cancelled`.
 *
 * Thread safety: gw_store_start, gw_store_free on the main thread; gw_store_submit,
 * gw_store_drain, gw_store_stop and gw_store_metrics on the loop thread.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"
#include "gw/config.h"
#include "gw/mailbox.h"
#include "gw/notice.h"

#define GW_STORE_OID_LEN 24

enum gw_store_op { GW_STORE_CATCHUP, GW_STORE_MARK_READ, GW_STORE_MARK_ALL_READ };

/* One notification read back. */
struct gw_store_item {
    char id[GW_STORE_OID_LEN + 1]; /* _id as 24 lowercase hex digits */
    char *json;                    /* owned: the document as JSON */
    size_t json_len;
};

struct gw_store_req {
    struct gw_mail mail; /* the store's */
    enum gw_store_op op;
    void *owner;                     /* the caller's; the store never reads it */
    bool cancelled;                  /* loop thread only: the owner is gone, drop the result */
    struct gw_store_req *owner_next; /* the caller's list of its requests in flight */
    char user[GW_NOTICE_MAX_USER_ID_LEN + 1];
    size_t user_len;
    char after[GW_STORE_OID_LEN + 1]; /* catch-up: last id the client saw, "" = none (first
                                         connect: no replay, only newest and unread) */
    char id[GW_STORE_OID_LEN + 1];    /* mark read: the notification */
    int64_t ack_id;                   /* the caller's, e.g. the Socket.IO ack to answer */

    /* results, written by the worker */
    int status;                  /* 0, or -1 with err */
    char err[GW_ERR_LEN];        /* one sentence, safe to show a client (no URI, no host) */
    struct gw_store_item *items; /* owned, oldest first */
    size_t n_items;
    bool truncated; /* more notifications than the cap, or `after` older than the age limit */
    char newest[GW_STORE_OID_LEN + 1]; /* first connect: the user's newest id, "" none */
    int64_t unread;                    /* catch-up: the user's unread notifications */
    bool matched;                      /* mark read: the document exists and is the user's */
    int64_t modified;                  /* mark all read: documents newly marked */
};

struct gw_store;

/* Starts the worker. cfg is borrowed for the store's lifetime; wake(ud) is called from the
 * worker thread when completed requests are waiting. NULL with one sentence in err. */
struct gw_store *gw_store_start(const struct gw_config *cfg, void (*wake)(void *ud), void *ud,
                                char *err);
/* Refuses new requests; the worker fails what is still queued ("shutting down") and exits. */
void gw_store_stop(struct gw_store *st);
/* Stops (if not yet), joins the worker and frees the store and every request it still holds. */
void gw_store_free(struct gw_store *st);

/* A new zeroed request for user[0..len) (len <= GW_NOTICE_MAX_USER_ID_LEN). */
struct gw_store_req *gw_store_req_new(enum gw_store_op op, const char *user, size_t len);
void gw_store_req_free(struct gw_store_req *r);
/* Takes ownership of r and returns 0, or returns -1 (r stays the caller's) when the queue is
 * full or the store is stopping. */
int gw_store_submit(struct gw_store *st, struct gw_store_req *r);
/* Hands every completed request to fn (which owns it from then on), in completion order. */
size_t gw_store_drain(struct gw_store *st, void (*fn)(struct gw_store_req *r, void *ud), void *ud);
/* Appends the store's counters in Prometheus text format. */
void gw_store_metrics(struct gw_store *st, struct gw_buf *b);

/* True when s is 24 hex digits (either case). Any thread. */
bool gw_store_oid_valid(const char *s, size_t len);

#endif
