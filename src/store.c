/* store.c -- catch-up reads and read marks on a worker thread.
 *
 * DESIGN
 *
 * Two mailboxes, one per direction: the loop thread pushes requests (never waiting: a full
 * queue fails the submit, and the caller answers its client at once), the worker pushes them
 * back completed and the mailbox wakes the loop on empty -> non-empty. The worker sleeps on a
 * condition variable that the request mailbox's wake signals, runs each request to completion
 * with its own mongoc client, and never touches a socket: results are plain data (ids and JSON
 * text) that the loop thread encodes for each transport.
 *
 * Failures are per request: a MongoDB error becomes status -1 with a sentence that names no
 * host or credential, and the caller decides what its client sees. The client's
 * serverSelectionTimeoutMS (5 s unless the URI says otherwise) bounds how long one request can
 * wait for an unreachable server.
 *
 * Shutdown: gw_store_stop() closes the request mailbox and wakes the worker, which fails what
 * is still queued with "the gateway is shutting down", hands it back and exits;
 * gw_store_free() joins it and frees whatever was never drained.
 */
#include "gw/store.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/log.h"
#include "gw/mongo.h"

#define QUEUE_CAPACITY 65536

struct gw_store {
    const struct gw_config *cfg;
    mongoc_client_t *client;   /* worker thread only */
    mongoc_collection_t *coll; /* worker thread only */
    struct gw_mailbox *requests;
    struct gw_mailbox *done;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool pending; /* under lock: requests arrived since the worker last looked */
    atomic_bool stop;

    atomic_uint_fast64_t catchups, replayed, truncated, marks, failures, refused;
};

/* ---- helpers --------------------------------------------------------------------------- */

bool gw_store_oid_valid(const char *s, size_t len)
{
    if (len != GW_STORE_OID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* {<user field>: user}, or {<user field>: {$in: [user, ObjectId(user)]}} when the user id is
 * also a valid ObjectId: the watcher accepts both forms of the field, so the reads must too. */
static void append_user(bson_t *filter, const char *field, const struct gw_store_req *r)
{
    if (!gw_store_oid_valid(r->user, r->user_len)) {
        bson_append_utf8(filter, field, -1, r->user, (int)r->user_len);
        return;
    }
    bson_oid_t oid;
    bson_t in, arr;
    bson_oid_init_from_string(&oid, r->user);
    bson_append_document_begin(filter, field, -1, &in);
    bson_append_array_begin(&in, "$in", 3, &arr);
    bson_append_utf8(&arr, "0", 1, r->user, (int)r->user_len);
    bson_append_oid(&arr, "1", 1, &oid);
    bson_append_array_end(&in, &arr);
    bson_append_document_end(filter, &in);
}

/* An ObjectId that sorts before every id made at or after `secs` (its other bytes zero). */
static void oid_from_time(bson_oid_t *oid, int64_t secs)
{
    memset(oid, 0, sizeof(*oid));
    uint32_t t = secs > 0 ? (uint32_t)secs : 0;
    oid->bytes[0] = (uint8_t)(t >> 24);
    oid->bytes[1] = (uint8_t)(t >> 16);
    oid->bytes[2] = (uint8_t)(t >> 8);
    oid->bytes[3] = (uint8_t)t;
}

static void fail_req(struct gw_store_req *r, const char *what, const bson_error_t *e)
{
    r->status = -1;
    /* mongoc messages can name hosts; the client only learns which step failed */
    gw_set_error(r->err, "the notification store is unavailable (%s)", what);
    gw_log_warn("store", "%s for user %.*s failed: %s", what, (int)r->user_len, r->user,
                e ? e->message : "unknown error");
}

static void add_item(struct gw_store_req *r, const bson_t *doc, size_t *cap)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it))
        return;
    struct gw_buf json = GW_BUF_INIT;
    char err[GW_ERR_LEN];
    if (gw_notice_bson_to_json(doc, &json, err) < 0) {
        gw_log_warn("store", "skipping a notification of user %.*s in catch-up: %s",
                    (int)r->user_len, r->user, err);
        gw_buf_free(&json);
        return;
    }
    if (r->n_items == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        r->items = gw_realloc(r->items, *cap * sizeof(*r->items));
    }
    struct gw_store_item *item = &r->items[r->n_items++];
    bson_oid_to_string(bson_iter_oid(&it), item->id);
    item->json = gw_buf_steal(&json, &item->json_len);
}

/* The user's notifications with an ObjectId _id above `after` (exclusive, NULL: any) and at or
 * above `floor`, newest first, at most `limit`, only their _id when ids_only. Newest first so a
 * cap keeps the most recent; the index {<user field>: 1, _id: -1} serves it. */
static mongoc_cursor_t *newest_first(struct gw_store *st, const struct gw_store_req *r,
                                     const bson_oid_t *after, const bson_oid_t *floor,
                                     int64_t limit, bool ids_only)
{
    bson_t filter = BSON_INITIALIZER, range, opts = BSON_INITIALIZER, sort, proj;
    append_user(&filter, st->cfg->notification_user_field, r);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &range);
    if (after)
        BSON_APPEND_OID(&range, "$gt", after);
    BSON_APPEND_OID(&range, "$gte", floor);
    bson_append_document_end(&filter, &range);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, "_id", -1);
    bson_append_document_end(&opts, &sort);
    if (ids_only) {
        BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
        BSON_APPEND_INT32(&proj, "_id", 1);
        bson_append_document_end(&opts, &proj);
    }
    BSON_APPEND_INT64(&opts, "limit", limit);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(st->coll, &filter, &opts, NULL);
    bson_destroy(&opts);
    bson_destroy(&filter);
    return cur;
}

/* Destroys cur; -1 (and r failed) when it ended on an error. */
static int finish_cursor(mongoc_cursor_t *cur, struct gw_store_req *r, const char *what)
{
    bson_error_t e;
    int rc = 0;
    if (mongoc_cursor_error(cur, &e)) {
        fail_req(r, what, &e);
        rc = -1;
    }
    mongoc_cursor_destroy(cur);
    return rc;
}

static int replay(struct gw_store *st, struct gw_store_req *r)
{
    int64_t max = st->cfg->catchup_max_count;
    int64_t floor_s = (int64_t)(gw_wall_ms() / 1000) - st->cfg->catchup_max_age_s;
    bson_oid_t after, floor_oid;
    const bson_t *doc;
    size_t cap = 0, seen = 0;

    bson_oid_init_from_string(&after, r->after);
    oid_from_time(&floor_oid, floor_s);
    /* The zero id is the offset of a user who had nothing yet: everything is new to it. */
    if (strcmp(r->after, "000000000000000000000000") != 0 &&
        (int64_t)bson_oid_get_time_t(&after) < floor_s)
        r->truncated = true; /* the client was away longer than the window */
    mongoc_cursor_t *cur = newest_first(st, r, &after, &floor_oid, max + 1, false);
    while (mongoc_cursor_next(cur, &doc)) {
        if ((int64_t)++seen > max) {
            r->truncated = true;
            break;
        }
        add_item(r, doc, &cap);
    }
    int rc = finish_cursor(cur, r, "catch-up read");
    for (size_t i = 0; i < r->n_items / 2; i++) { /* oldest first */
        struct gw_store_item t = r->items[i];
        r->items[i] = r->items[r->n_items - 1 - i];
        r->items[r->n_items - 1 - i] = t;
    }
    return rc;
}

static int find_newest(struct gw_store *st, struct gw_store_req *r)
{
    bson_oid_t zero;
    bson_iter_t it;
    const bson_t *doc;
    memset(&zero, 0, sizeof(zero)); /* ObjectIds only: what catch-up can resume from */
    mongoc_cursor_t *cur = newest_first(st, r, NULL, &zero, 1, true);
    if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "_id") &&
        BSON_ITER_HOLDS_OID(&it))
        bson_oid_to_string(bson_iter_oid(&it), r->newest);
    return finish_cursor(cur, r, "newest id read");
}

static int count_unread(struct gw_store *st, struct gw_store_req *r)
{
    bson_t filter = BSON_INITIALIZER, ne;
    bson_error_t e;
    append_user(&filter, st->cfg->notification_user_field, r);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "read", &ne);
    BSON_APPEND_BOOL(&ne, "$ne", true);
    bson_append_document_end(&filter, &ne);
    int64_t n = mongoc_collection_count_documents(st->coll, &filter, NULL, NULL, NULL, &e);
    bson_destroy(&filter);
    if (n < 0) {
        fail_req(r, "unread count", &e);
        return -1;
    }
    r->unread = n;
    return 0;
}

static void run_catchup(struct gw_store *st, struct gw_store_req *r)
{
    atomic_fetch_add(&st->catchups, 1);
    int rc = r->after[0] ? replay(st, r) : find_newest(st, r);
    if (rc == 0)
        count_unread(st, r);
    atomic_fetch_add(&st->replayed, r->n_items);
    if (r->truncated)
        atomic_fetch_add(&st->truncated, 1);
}

/* One notification by id, or all the user's unread ones. The user is always part of the match:
 * a forged id of someone else's notification matches nothing, whatever the client claims. */
static void run_mark_read(struct gw_store *st, struct gw_store_req *r)
{
    bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set, ne, reply;
    bson_oid_t oid;
    bson_error_t e;
    bson_iter_t it;
    bool all = r->op == GW_STORE_MARK_ALL_READ;
    atomic_fetch_add(&st->marks, 1);
    if (!all) {
        bson_oid_init_from_string(&oid, r->id);
        BSON_APPEND_OID(&filter, "_id", &oid);
    }
    append_user(&filter, st->cfg->notification_user_field, r);
    if (all) {
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "read", &ne);
        BSON_APPEND_BOOL(&ne, "$ne", true);
        bson_append_document_end(&filter, &ne);
    }
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_BOOL(&set, "read", true);
    BSON_APPEND_DATE_TIME(&set, "readAt", (int64_t)gw_wall_ms());
    bson_append_document_end(&update, &set);
    bool ok = all ? mongoc_collection_update_many(st->coll, &filter, &update, NULL, &reply, &e)
                  : mongoc_collection_update_one(st->coll, &filter, &update, NULL, &reply, &e);
    if (!ok) {
        fail_req(r, "read mark", &e);
    } else {
        r->matched =
            bson_iter_init_find(&it, &reply, "matchedCount") && bson_iter_as_int64(&it) > 0;
        r->modified =
            bson_iter_init_find(&it, &reply, "modifiedCount") ? bson_iter_as_int64(&it) : 0;
    }
    bson_destroy(&reply);
    bson_destroy(&update);
    bson_destroy(&filter);
}

/* ---- worker ---------------------------------------------------------------------------- */

static void hand_back(struct gw_store *st, struct gw_store_req *r)
{
    if (r->status < 0)
        atomic_fetch_add(&st->failures, 1);
    /* The loop drains without blocking, so this waits only while it is busy; at shutdown the
     * mailbox is closed and the request is freed with the store. */
    while (gw_mailbox_push(st->done, &r->mail, 100) < 0) {
        if (atomic_load(&st->stop)) {
            gw_store_req_free(r);
            return;
        }
    }
}

static void run_one(struct gw_mail *m, void *ud)
{
    struct gw_store *st = ud;
    struct gw_store_req *r = (struct gw_store_req *)m;
    if (atomic_load(&st->stop)) {
        r->status = -1;
        gw_set_error(r->err, "the gateway is shutting down");
    } else if (r->op == GW_STORE_CATCHUP) {
        run_catchup(st, r);
    } else {
        run_mark_read(st, r);
    }
    hand_back(st, r);
}

static void request_arrived(void *ud)
{
    struct gw_store *st = ud;
    pthread_mutex_lock(&st->lock);
    st->pending = true;
    pthread_cond_signal(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

static void *run(void *arg)
{
    struct gw_store *st = arg;
    st->coll = mongoc_client_get_collection(st->client, st->cfg->mongodb_db,
                                            st->cfg->notifications_collection);
    for (;;) {
        pthread_mutex_lock(&st->lock);
        while (!st->pending && !atomic_load(&st->stop))
            pthread_cond_wait(&st->cond, &st->lock);
        st->pending = false;
        pthread_mutex_unlock(&st->lock);
        gw_mailbox_drain(st->requests, run_one, st);
        if (atomic_load(&st->stop)) {
            gw_mailbox_drain(st->requests, run_one, st); /* fails the stragglers */
            break;
        }
    }
    mongoc_collection_destroy(st->coll);
    st->coll = NULL;
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void free_mail(struct gw_mail *m, void *ud)
{
    gw_store_req_free((struct gw_store_req *)m);
}

struct gw_store *gw_store_start(const struct gw_config *cfg, void (*wake)(void *ud), void *ud,
                                char *err)
{
    struct gw_store *st = gw_calloc(1, sizeof(*st));
    st->cfg = cfg;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    st->requests = gw_mailbox_new(QUEUE_CAPACITY, request_arrived, st);
    st->done = gw_mailbox_new(QUEUE_CAPACITY, wake, ud);
    st->client = gw_mongo_client_new(cfg->mongodb_uri, "notify-gateway-store", 0, 0, err);
    if (!st->client)
        goto fail;
    if (pthread_create(&st->thread, NULL, run, st) != 0) {
        gw_set_error(err, "cannot start the store thread");
        goto fail;
    }
    st->started = true;
    return st;
fail:
    gw_store_free(st);
    return NULL;
}

void gw_store_stop(struct gw_store *st)
{
    if (!st || atomic_exchange(&st->stop, true))
        return;
    gw_mailbox_close(st->requests);
    gw_mailbox_close(st->done);
    request_arrived(st);
}

void gw_store_free(struct gw_store *st)
{
    if (!st)
        return;
    gw_store_stop(st);
    if (st->started)
        pthread_join(st->thread, NULL);
    gw_mailbox_free(st->requests, free_mail, NULL);
    gw_mailbox_free(st->done, free_mail, NULL);
    mongoc_client_destroy(st->client);
    pthread_cond_destroy(&st->cond);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* ---- loop side ------------------------------------------------------------------------- */

struct gw_store_req *gw_store_req_new(enum gw_store_op op, const char *user, size_t len)
{
    GW_ASSERT(len <= GW_NOTICE_MAX_USER_ID_LEN);
    struct gw_store_req *r = gw_calloc(1, sizeof(*r));
    r->op = op;
    memcpy(r->user, user, len);
    r->user_len = len;
    return r;
}

void gw_store_req_free(struct gw_store_req *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_items; i++)
        free(r->items[i].json);
    free(r->items);
    free(r);
}

int gw_store_submit(struct gw_store *st, struct gw_store_req *r)
{
    if (gw_mailbox_push(st->requests, &r->mail, 0) < 0) {
        atomic_fetch_add(&st->refused, 1);
        return -1;
    }
    return 0;
}

struct drain_ctx {
    void (*fn)(struct gw_store_req *r, void *ud);
    void *ud;
};

static void drain_one(struct gw_mail *m, void *ud)
{
    struct drain_ctx *d = ud;
    d->fn((struct gw_store_req *)m, d->ud);
}

size_t gw_store_drain(struct gw_store *st, void (*fn)(struct gw_store_req *r, void *ud), void *ud)
{
    struct drain_ctx d = {fn, ud};
    return gw_mailbox_drain(st->done, drain_one, &d);
}

void gw_store_metrics(struct gw_store *st, struct gw_buf *b)
{
    gw_buf_printf(b,
                  "# HELP notify_gateway_catchups_total Catch-up reads run for connecting "
                  "clients.\n"
                  "# TYPE notify_gateway_catchups_total counter\n"
                  "notify_gateway_catchups_total %llu\n"
                  "# HELP notify_gateway_catchup_notifications_total Notifications replayed by "
                  "catch-up.\n"
                  "# TYPE notify_gateway_catchup_notifications_total counter\n"
                  "notify_gateway_catchup_notifications_total %llu\n"
                  "# HELP notify_gateway_catchup_truncated_total Catch-ups that could not "
                  "replay everything (count or age limit): the client was told to resync.\n"
                  "# TYPE notify_gateway_catchup_truncated_total counter\n"
                  "notify_gateway_catchup_truncated_total %llu\n"
                  "# HELP notify_gateway_read_marks_total notification:read requests run.\n"
                  "# TYPE notify_gateway_read_marks_total counter\n"
                  "notify_gateway_read_marks_total %llu\n"
                  "# HELP notify_gateway_store_failures_total Store requests that failed "
                  "(MongoDB unreachable or erroring), or were refused because the queue was "
                  "full.\n"
                  "# TYPE notify_gateway_store_failures_total counter\n"
                  "notify_gateway_store_failures_total{reason=\"error\"} %llu\n"
                  "notify_gateway_store_failures_total{reason=\"queue_full\"} %llu\n",
                  (unsigned long long)atomic_load(&st->catchups),
                  (unsigned long long)atomic_load(&st->replayed),
                  (unsigned long long)atomic_load(&st->truncated),
                  (unsigned long long)atomic_load(&st->marks),
                  (unsigned long long)atomic_load(&st->failures),
                  (unsigned long long)atomic_load(&st->refused));
}
