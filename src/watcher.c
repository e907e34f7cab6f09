/* watcher.c -- the change-stream watcher: MongoDB in, notices to the loop thread out.
 *
 * DESIGN
 *
 * One thread owns a mongoc client (mongoc clients are not thread-safe), the change stream on
 * the notifications collection and the resume token; nothing else talks to MongoDB. It runs one
 * restart path: check that the server is a replica set, load the stored token, open the stream
 * (resumeAfter, or startAfter after an invalidate), read events until an error, then back off
 * (about 1 s doubling to 30 s, with jitter, reset after a healthy minute) and start again. It
 * never gives up while the process runs.
 *
 * Each insert becomes a notice: the user id and the 42["notification",{...}] message, encoded
 * once here and stamped with the instant the event arrived (gw_msg.received_us), from which
 * each write to a socket measures the gateway's own share of the latency. Notices go through a
 * bounded mailbox to the loop thread; a full mailbox makes the watcher wait (back-pressure on
 * the stream, nothing dropped). Under load the loop is woken once per run of notices: when the
 * watcher is about to send a command (mongoc's APM command-started and heartbeat-started hooks; by
 * then the reply's events are all handed over) or every FLUSH_EVERY notices. The loop gives the
 * spent mails back through the mailbox and the watcher reuses them: allocated on one thread and
 * freed on the other, they missed both threads' malloc caches. The watcher frees its spares
 * whenever the stream goes quiet. Every notice carries a sequence number; the loop publishes the
 * last one it handed to the sockets (delivered_seq), and the watcher saves a token only once
 * everything before it was delivered. Saves are throttled (every SAVE_EVERY_EVENTS events or
 * SAVE_EVENTS_MS, and only every SAVE_QUIET_MS for the postBatchResumeToken of quiet periods, since
 * each save is itself an oplog write). A failed save keeps the token in memory and is retried at
 * the next chance.
 *
 * Unusable tokens (286 history lost, 260, 280, 9 and the malformed-token codes) are logged once,
 * dropped, and the stream restarts from now. Status for health lives in atomics; the latency
 * and batch histograms are the loop thread's, which both dispatches and serves /metrics.
 *
 * The thread runs at the loop thread's priority. Five nice steps below it once bought the
 * 1,000/s hand-over latency, but no longer does (the own-share p50 is <= 50 us either way), and
 * under a backlog the quarter of the core it left the watcher kept each wake-up's batch small,
 * so each socket's frames went out one write at a time: equal priority delivers 1.25-1.4x as
 * many per second at 10k x 1 (bench/README.md has the runs).
 *
 * Shutdown: gw_watcher_request_stop sets a flag; the thread leaves the stream within
 * maxAwaitTimeMS, waits until the loop has dispatched everything it pushed, saves the token and
 * sets `finished`. The server waits for that before closing sockets.
 */
#include "gw/watcher.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/hist.h"
#include "gw/log.h"
#include "gw/mongo.h"
#include "gw/mailbox.h"
#include "gw/notice.h"

#define MAX_AWAIT_MS 1000
/* Events per change-stream reply. Unset, a server answers a backlog in 16 MB replies (about
 * 55,000 notifications): the watcher waits for each whole reply while the loop runs dry, and
 * holds 16 MB of it. A thousand keeps both threads busy and a reply of notifications under 1 MB
 * (bench/README.md has the runs). */
#define STREAM_BATCH_SIZE 1000
#define MAILBOX_CAPACITY 65536
#define PUSH_WAIT_MS 200
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_CAP_MS 30000
#define HEALTHY_RESET_MS 60000
#define SAVE_EVERY_EVENTS 100
#define SAVE_EVENTS_MS 1000
#define SAVE_QUIET_MS 15000
#define STOP_DRAIN_MS 5000

/* Notifications per dispatch: powers of two, then up to the mailbox capacity. */
static const uint64_t batch_bounds[] = {1,   2,   4,   8,    16,   32,    64,
                                        128, 256, 512, 1024, 4096, 16384, MAILBOX_CAPACITY};

static const uint64_t latency_bounds_us[GW_WATCHER_LATENCY_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

struct notice_mail {
    struct gw_mail mail;
    uint64_t seq;
    struct gw_notice notice;
};

struct gw_watcher {
    const struct gw_config *cfg;
    pthread_t thread;
    struct gw_mailbox *mailbox;
    void (*wake)(void *ud);
    void *wake_ud;

    /* watcher thread only */
    mongoc_client_t *client;
    bson_t *token;         /* last token read from the stream (or loaded), NULL = from now */
    bool token_invalidate; /* token is an invalidate event's: reopen with startAfter */
    bson_t *saved_token;   /* what was last written, to skip identical saves */
    struct gw_mail *spare; /* mails the loop gave back, for the next notices */
    uint64_t pushed_seq;   /* last notice pushed */
    unsigned unflushed;    /* deferred notices pushed since the loop was last woken */
    unsigned run;          /* notices pushed since the last getMore */
    unsigned last_run;     /* notices the last reply brought */
    uint64_t token_seq;    /* notices pushed before `token` was read */
    uint64_t events_since_save;
    uint64_t last_save_ms;
    bool events_since_last_save;
    unsigned logged_reasons; /* bit per gw_notice_status already logged */

    /* shared */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool stop;
    atomic_bool finished;
    atomic_uint_fast64_t delivered_seq;
    atomic_bool watching;
    atomic_uint_fast64_t received, delivered, skipped, failed, restarts;
    atomic_uint_fast64_t last_event_at_ms, last_token_saved_at_ms;
    char last_error[GW_ERR_LEN]; /* under lock */

    /* loop thread only (dispatch observes, /metrics renders) */
    struct gw_hist latency;
    struct gw_hist batches; /* notifications per dispatch */
};

/* ---- status ---------------------------------------------------------------------------- */

static void set_error(struct gw_watcher *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(struct gw_watcher *w, const char *fmt, ...)
{
    char msg[GW_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&w->lock);
    bool same = strcmp(w->last_error, msg) == 0;
    memcpy(w->last_error, msg, sizeof(msg));
    pthread_mutex_unlock(&w->lock);
    if (!same)
        gw_log_error("watcher", "%s", msg);
}

/* Sleeps up to ms, returning early (true) when asked to stop. */
static bool sleep_or_stop(struct gw_watcher *w, uint64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (!atomic_load(&w->stop)) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &until) != 0)
            break;
    }
    pthread_mutex_unlock(&w->lock);
    return atomic_load(&w->stop);
}

/* ---- resume token storage -------------------------------------------------------------- */

static mongoc_collection_t *token_collection(struct gw_watcher *w)
{
    return mongoc_client_get_collection(w->client, w->cfg->mongodb_db,
                                        w->cfg->resume_token_collection);
}

static void load_token(struct gw_watcher *w)
{
    mongoc_collection_t *coll = token_collection(w);
    bson_t filter = BSON_INITIALIZER;
    const bson_t *doc;
    bson_error_t err;
    BSON_APPEND_UTF8(&filter, "_id", w->cfg->resume_token_id);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
    if (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "token") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&it, &len, &data);
            bson_destroy(w->token);
            w->token = bson_new_from_data(data, len);
            w->token_invalidate = bson_iter_init_find(&it, doc, "tokenKind") &&
                                  BSON_ITER_HOLDS_UTF8(&it) &&
                                  strcmp(bson_iter_utf8(&it, NULL), "invalidate") == 0;
            gw_log_info("watcher", "resuming from the stored token (%s)", w->cfg->resume_token_id);
        }
    } else if (mongoc_cursor_error(cur, &err)) {
        gw_log_warn("watcher", "cannot read the stored resume token: %s", err.message);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    mongoc_collection_destroy(coll);
}

/* Writes {token, tokenKind, lastProcessedAt, updatedAt} (token NULL: unsets it). */
static int store_token(struct gw_watcher *w, const bson_t *token, bool processed)
{
    mongoc_collection_t *coll = token_collection(w);
    bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, set, unset,
           opts = BSON_INITIALIZER;
    bson_error_t err;
    int64_t now = (int64_t)gw_wall_ms();
    BSON_APPEND_UTF8(&filter, "_id", w->cfg->resume_token_id);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    if (token) {
        BSON_APPEND_DOCUMENT(&set, "token", token);
        BSON_APPEND_UTF8(&set, "tokenKind", w->token_invalidate ? "invalidate" : "event");
    }
    if (processed)
        BSON_APPEND_DATE_TIME(&set, "lastProcessedAt", now);
    BSON_APPEND_DATE_TIME(&set, "updatedAt", now);
    bson_append_document_end(&update, &set);
    if (!token) {
        BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
        BSON_APPEND_UTF8(&unset, "token", "");
        BSON_APPEND_UTF8(&unset, "tokenKind", "");
        bson_append_document_end(&update, &unset);
    }
    BSON_APPEND_BOOL(&opts, "upsert", true);
    bool ok = mongoc_collection_update_one(coll, &filter, &update, &opts, NULL, &err);
    if (!ok)
        gw_log_warn("watcher", "cannot save the resume token (kept in memory): %s", err.message);
    else
        atomic_store(&w->last_token_saved_at_ms, (uint64_t)now);
    bson_destroy(&filter);
    bson_destroy(&update);
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    return ok ? 0 : -1;
}

/* Saves the current token if everything pushed before it reached the sockets and the throttle
 * allows; force skips the throttle (shutdown). */
static void maybe_save(struct gw_watcher *w, bool force)
{
    if (!w->token || (w->saved_token && bson_equal(w->saved_token, w->token)))
        return;
    if (atomic_load(&w->delivered_seq) < w->token_seq)
        return; /* some event before this token is still on its way to the sockets */
    uint64_t now = gw_now_ms();
    uint64_t min_gap = w->events_since_last_save ? SAVE_EVENTS_MS : SAVE_QUIET_MS;
    if (!force && w->events_since_save < SAVE_EVERY_EVENTS && now - w->last_save_ms < min_gap)
        return;
    if (store_token(w, w->token, w->events_since_last_save) < 0) {
        w->last_save_ms = now; /* retry after the throttle interval, not on every event */
        return;
    }
    bson_destroy(w->saved_token);
    w->saved_token = bson_copy(w->token);
    w->events_since_save = 0;
    w->events_since_last_save = false;
    w->last_save_ms = now;
}

static void remember_token(struct gw_watcher *w, mongoc_change_stream_t *cs)
{
    const bson_t *t = mongoc_change_stream_get_resume_token(cs);
    if (!t) /* the driver may have none yet: never forget the one we have */
        return;
    if (w->token && bson_equal(w->token, t))
        return;
    if (w->token) { /* every event brings a token: keep the buffer rather than reallocate */
        bson_reinit(w->token);
        bson_concat(w->token, t);
    } else {
        w->token = bson_copy(t);
    }
    w->token_invalidate = false;
    w->token_seq = w->pushed_seq;
}

static void reset_token(struct gw_watcher *w, const char *why)
{
    gw_log_error("watcher",
                 "%s: the stored resume token cannot be used; restarting the change stream from "
                 "now (notifications inserted meanwhile are not replayed)",
                 why);
    bson_destroy(w->token);
    w->token = NULL;
    w->token_invalidate = false;
    bson_destroy(w->saved_token);
    w->saved_token = NULL;
    store_token(w, NULL, false);
}

/* ---- events ---------------------------------------------------------------------------- */

/* A mail for the next notice: a spent one if the loop gave any back, else a new one. */
static struct notice_mail *new_mail(struct gw_watcher *w)
{
    if (!w->spare)
        w->spare = gw_mailbox_take_back(w->mailbox);
    if (!w->spare)
        return gw_malloc(sizeof(struct notice_mail));
    struct gw_mail *m = w->spare;
    w->spare = m->next;
    return (struct notice_mail *)m;
}

/* Quiet stream: spares would only hold memory until the next burst. */
static void free_spares(struct gw_watcher *w)
{
    struct gw_mail *lists[] = {w->spare, gw_mailbox_take_back(w->mailbox)};
    w->spare = NULL;
    for (size_t i = 0; i < GW_ARRAY_SIZE(lists); i++) {
        for (struct gw_mail *m = lists[i], *next; m; m = next) {
            next = m->next;
            free(m);
        }
    }
}

/* When replies bring runs of notices, the loop is woken once per run: when the watcher is about
 * to send a command (the getMore for the next reply, a token save), so it is about to wait for
 * the network and every event of the reply is handed over, or after FLUSH_EVERY notices within a
 * long reply. Woken at each run's first notice instead, the loop (on the same core) took it over
 * from the watcher and found one or two notices at each wake-up: scenario e paid 3.8 us an
 * event for it against 2.3-2.6 (bench/README.md). When the last reply brought fewer than
 * DEFER_MIN_RUN events, each notice wakes the loop at once: a lone event would otherwise wait
 * for the next getMore to be built, which moved the 1,000/s own share's p99 from <= 250 to <= 500
 * us. */
#define FLUSH_EVERY 256
#define DEFER_MIN_RUN 8

static void flush_notices(struct gw_watcher *w)
{
    w->unflushed = 0;
    gw_mailbox_flush(w->mailbox);
}

static void command_started(const mongoc_apm_command_started_t *e)
{
    struct gw_watcher *w = mongoc_apm_command_started_get_context(e);
    if (strcmp(mongoc_apm_command_started_get_command_name(e), "getMore") == 0) {
        w->last_run = w->run;
        w->run = 0;
    }
    flush_notices(w);
}

/* A single-threaded client checks its server on the calling thread before a command when the
 * check is due, and that can wait up to connectTimeoutMS. */
static void heartbeat_started(const mongoc_apm_server_heartbeat_started_t *e)
{
    flush_notices(mongoc_apm_server_heartbeat_started_get_context(e));
}

/* Watcher thread, at its start: the hooks run on the thread that sends the command. */
static void hook_commands(struct gw_watcher *w)
{
    mongoc_apm_callbacks_t *apm = mongoc_apm_callbacks_new();
    mongoc_apm_set_command_started_cb(apm, command_started);
    mongoc_apm_set_server_heartbeat_started_cb(apm, heartbeat_started);
    mongoc_client_set_apm_callbacks(w->client, apm, w);
    mongoc_apm_callbacks_destroy(apm);
}

static void push_notice(struct gw_watcher *w, struct gw_notice *n)
{
    struct notice_mail *m = new_mail(w);
    uint64_t seq = w->pushed_seq + 1; /* m belongs to the loop thread once pushed */
    m->seq = seq;
    m->notice = *n;
    memset(n, 0, sizeof(*n));
    bool defer = w->last_run >= DEFER_MIN_RUN;
    while ((defer ? gw_mailbox_push_deferred(w->mailbox, &m->mail, PUSH_WAIT_MS)
                  : gw_mailbox_push(w->mailbox, &m->mail, PUSH_WAIT_MS)) < 0) {
        if (atomic_load(&w->stop)) {
            /* Not delivered: the token stays before it, so a restart replays it. */
            gw_notice_clear(&m->notice);
            free(m);
            return;
        }
    }
    w->pushed_seq = seq;
    w->run++;
    if (defer && ++w->unflushed >= FLUSH_EVERY)
        flush_notices(w);
}

/* received_us: when mongoc_change_stream_next() returned doc. */
static void on_event(struct gw_watcher *w, const bson_t *doc, uint64_t received_us)
{
    struct gw_notice n;
    struct gw_notice_options opt = {
        .user_field = w->cfg->notification_user_field,
        .event = w->cfg->notification_event,
        .max_bytes = w->cfg->max_payload,
    };
    atomic_fetch_add(&w->received, 1);
    atomic_store(&w->last_event_at_ms, gw_wall_ms());
    enum gw_notice_status st = gw_notice_build(doc, &opt, &n);
    if (st == GW_NOTICE_OK) {
        n.msg->received_us = received_us;
        push_notice(w, &n);
        return;
    }
    atomic_fetch_add(&w->failed, 1);
    if (!(w->logged_reasons & (1u << st))) {
        w->logged_reasons |= 1u << st;
        gw_log_warn("watcher",
                    "skipping a notification: %s (logged once per reason; counted "
                    "in eventsFailed)",
                    gw_notice_strerror(st));
    }
    gw_notice_clear(&n);
}

static bool is_invalidate(const bson_t *doc)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, "operationType") && BSON_ITER_HOLDS_UTF8(&it) &&
           strcmp(bson_iter_utf8(&it, NULL), "invalidate") == 0;
}

/* ---- the stream ------------------------------------------------------------------------ */

enum outcome { OUT_STOPPED, OUT_BACKOFF, OUT_RESTART_NOW };

static bool is_token_error(const bson_error_t *e)
{
    if (e->domain != MONGOC_ERROR_SERVER && e->domain != MONGOC_ERROR_QUERY)
        return false;
    switch (e->code) {
    case 9:     /* FailedToParse: not a valid token string */
    case 260:   /* InvalidResumeToken */
    case 280:   /* ChangeStreamFatalError: token not found */
    case 286:   /* ChangeStreamHistoryLost */
    case 40647: /* malformed tokens */
    case 40649:
    case 50811:
        return true;
    default:
        return false;
    }
}

static enum outcome stream_failed(struct gw_watcher *w, const bson_error_t *e)
{
    atomic_store(&w->watching, false);
    if (is_token_error(e)) {
        reset_token(w, e->message);
        set_error(w, "change stream token unusable (%u): %s", e->code, e->message);
        return OUT_RESTART_NOW;
    }
    if (e->code == 40573)
        set_error(w, "MongoDB is not a replica set: change streams need one (%s)", e->message);
    else
        set_error(w, "change stream error (%u.%u): %s", e->domain, e->code, e->message);
    return OUT_BACKOFF;
}

static int check_replica_set(struct gw_watcher *w)
{
    bson_t cmd = BSON_INITIALIZER, reply;
    bson_error_t err;
    bson_iter_t it;
    int rc = -1;
    BSON_APPEND_INT32(&cmd, "hello", 1);
    if (!mongoc_client_command_simple(w->client, "admin", &cmd, NULL, &reply, &err)) {
        /* Never the URI: it may hold a password, and lastError is served by the health route. */
        set_error(w, "cannot reach MongoDB: %s", err.message);
    } else if (!bson_iter_init_find(&it, &reply, "setName") || !BSON_ITER_HOLDS_UTF8(&it)) {
        set_error(w, "MongoDB at the configured URI is not a replica set: change streams need "
                     "one (start mongod with --replSet and run rs.initiate())");
    } else {
        rc = 0;
    }
    bson_destroy(&reply);
    bson_destroy(&cmd);
    return rc;
}

bson_t *gw_watcher_stream_new(bson_t *opts)
{
    BSON_APPEND_INT64(opts, "maxAwaitTimeMS", MAX_AWAIT_MS);
    BSON_APPEND_INT32(opts, "batchSize", STREAM_BATCH_SIZE);
    BSON_APPEND_UTF8(opts, "fullDocument", "updateLookup");
    /* MongoDB 6.0+: deletes name their user only through the pre-image, present when the
     * collection has changeStreamPreAndPostImages enabled. */
    BSON_APPEND_UTF8(opts, "fullDocumentBeforeChange", "whenAvailable");
    /* Inserts of notifications (they have a type), and every update, replace and delete, so
     * read state and removals reach all of a user's tabs. */
    return BCON_NEW("pipeline", "[", "{", "$match", "{", "$or", "[", "{", "operationType",
                    BCON_UTF8("insert"), "fullDocument.type", "{", "$exists", BCON_BOOL(true), "}",
                    "}", "{", "operationType", "{", "$in", "[", BCON_UTF8("update"),
                    BCON_UTF8("replace"), BCON_UTF8("delete"), "]", "}", "}", "]", "}", "}", "]");
}

static mongoc_change_stream_t *open_stream(struct gw_watcher *w)
{
    mongoc_collection_t *coll = mongoc_client_get_collection(w->client, w->cfg->mongodb_db,
                                                             w->cfg->notifications_collection);
    bson_t opts = BSON_INITIALIZER;
    bson_t *pipeline = gw_watcher_stream_new(&opts);
    if (w->token)
        BSON_APPEND_DOCUMENT(&opts, w->token_invalidate ? "startAfter" : "resumeAfter", w->token);
    mongoc_change_stream_t *cs = mongoc_collection_watch(coll, pipeline, &opts);
    bson_destroy(&opts);
    bson_destroy(pipeline);
    mongoc_collection_destroy(coll);
    return cs;
}

/* Reads the stream until it fails or the watcher is asked to stop. */
static enum outcome watch(struct gw_watcher *w, uint64_t *healthy_since)
{
    bson_error_t err;
    const bson_t *doc, *reply;
    mongoc_change_stream_t *cs = open_stream(w);
    enum outcome out = OUT_STOPPED;

    if (mongoc_change_stream_error_document(cs, &err, &reply)) {
        out = stream_failed(w, &err);
        goto done;
    }
    atomic_store(&w->watching, true);
    pthread_mutex_lock(&w->lock);
    w->last_error[0] = '\0';
    pthread_mutex_unlock(&w->lock);
    *healthy_since = gw_now_ms();
    gw_log_info("watcher", "watching %s.%s", w->cfg->mongodb_db, w->cfg->notifications_collection);

    while (!atomic_load(&w->stop)) {
        if (mongoc_change_stream_next(cs, &doc)) {
            uint64_t received_us = gw_now_us();
            if (is_invalidate(doc)) {
                remember_token(w, cs);
                w->token_invalidate = true;
                gw_log_warn("watcher", "the notifications collection was dropped or renamed; "
                                       "reopening the stream after it");
                maybe_save(w, true);
                out = OUT_RESTART_NOW;
                goto done;
            }
            on_event(w, doc, received_us);
            w->events_since_save++;
            w->events_since_last_save = true;
        } else if (mongoc_change_stream_error_document(cs, &err, &reply)) {
            out = stream_failed(w, &err);
            goto done;
        } else {
            free_spares(w); /* a getMore waited maxAwaitTimeMS for nothing */
        }
        remember_token(w, cs);
        maybe_save(w, false);
    }
done:
    atomic_store(&w->watching, false);
    mongoc_change_stream_destroy(cs);
    return out;
}

static uint64_t jittered(uint64_t ms)
{
    uint32_t r;
    gw_random_bytes(&r, sizeof(r));
    /* +-25 %, so instances that failed together do not retry together */
    return ms * 3 / 4 + (uint64_t)r % (ms / 2 + 1);
}

/* Waits for the loop to dispatch what was pushed, then saves the final token. */
static void finish(struct gw_watcher *w)
{
    uint64_t until = gw_now_ms() + STOP_DRAIN_MS;
    while (atomic_load(&w->delivered_seq) < w->pushed_seq && gw_now_ms() < until) {
        w->wake(w->wake_ud);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (w->client)
        maybe_save(w, true);
    atomic_store(&w->finished, true);
    w->wake(w->wake_ud);
}

static void *run(void *arg)
{
    struct gw_watcher *w = arg;
    hook_commands(w);
    uint64_t backoff = BACKOFF_FIRST_MS, healthy_since = 0;
    bool loaded = false;

    pthread_setname_np(pthread_self(), "gw-watcher"); /* for top -H, perf and /proc */

    while (!atomic_load(&w->stop)) {
        enum outcome out = OUT_BACKOFF;
        if (check_replica_set(w) == 0) {
            if (!loaded) {
                load_token(w);
                loaded = true;
            }
            out = watch(w, &healthy_since);
        }
        if (out == OUT_STOPPED)
            break;
        atomic_fetch_add(&w->restarts, 1);
        if (out == OUT_RESTART_NOW)
            continue;
        if (healthy_since && gw_now_ms() - healthy_since >= HEALTHY_RESET_MS)
            backoff = BACKOFF_FIRST_MS;
        healthy_since = 0;
        uint64_t wait = jittered(backoff);
        gw_log_info("watcher", "retrying in %llu ms", (unsigned long long)wait);
        if (sleep_or_stop(w, wait))
            break;
        backoff = GW_MIN(backoff * 2, (uint64_t)BACKOFF_CAP_MS);
    }
    finish(w);
    /* The client outlives the thread, and destroying it sends a command (endSessions) on
     * whichever thread frees the watcher: the hooks are this thread's only. */
    mongoc_client_set_apm_callbacks(w->client, NULL, NULL);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void free_mail(struct gw_mail *mail, void *ud)
{
    struct notice_mail *m = (struct notice_mail *)mail;
    gw_notice_clear(&m->notice);
    free(m);
}

struct gw_watcher *gw_watcher_start(const struct gw_config *cfg, void (*wake)(void *ud), void *ud,
                                    char *err)
{
    struct gw_watcher *w = gw_calloc(1, sizeof(*w));
    w->cfg = cfg;
    w->wake = wake;
    w->wake_ud = ud;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);

    /* Resumes must be transparent: wait for a primary instead of failing at once during a
     * stepdown, and never time out an awaitData getMore (research §1.5). */
    w->client = gw_mongo_client_new(cfg->mongodb_uri, "notify-gateway", MAX_AWAIT_MS * 5,
                                    MAX_AWAIT_MS * 10, err);
    if (!w->client)
        goto fail;
    w->mailbox = gw_mailbox_new(MAILBOX_CAPACITY, wake, ud);
    gw_hist_init(&w->latency, latency_bounds_us, GW_WATCHER_LATENCY_BUCKETS);
    gw_hist_init(&w->batches, batch_bounds, GW_ARRAY_SIZE(batch_bounds));
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        gw_set_error(err, "cannot start the watcher thread");
        goto fail;
    }
    return w;
fail:
    gw_mailbox_free(w->mailbox, free_mail, NULL);
    mongoc_client_destroy(w->client);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return NULL;
}

void gw_watcher_request_stop(struct gw_watcher *w)
{
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->stop, true);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    /* A push waiting on a full mailbox gives up now (its notice is not delivered, so the
     * saved token stays before it and a restart replays it). */
    gw_mailbox_close(w->mailbox);
}

bool gw_watcher_finished(struct gw_watcher *w)
{
    return atomic_load(&w->finished);
}

void gw_watcher_free(struct gw_watcher *w)
{
    if (!w)
        return;
    gw_watcher_request_stop(w);
    pthread_join(w->thread, NULL);
    free_spares(w);
    gw_mailbox_free(w->mailbox, free_mail, NULL);
    bson_destroy(w->token);
    bson_destroy(w->saved_token);
    mongoc_client_destroy(w->client);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* ---- loop side ------------------------------------------------------------------------- */

struct dispatch_ctx {
    struct gw_watcher *w;
    struct gw_gateway *gw;
    uint64_t last_seq;
    struct gw_mail *spent, *spent_tail; /* emptied mails, given back after the batch */
};

static void record_latency(struct gw_watcher *w, uint64_t inserted_at_ms)
{
    if (!inserted_at_ms)
        return;
    uint64_t now_ms = gw_wall_ms();
    gw_hist_observe(&w->latency, now_ms > inserted_at_ms ? (now_ms - inserted_at_ms) * 1000 : 0);
}

static void dispatch_one(struct gw_mail *mail, void *ud)
{
    struct dispatch_ctx *d = ud;
    struct notice_mail *m = (struct notice_mail *)mail;
    struct gw_notice *n = &m->notice;
    const char *id = n->kind == GW_NOTICE_INSERT && n->id_len == 24 ? n->id : NULL;
    if (gw_gateway_deliver(d->gw, n->user_id, n->user_id_len, id, n->msg) > 0) {
        atomic_fetch_add(&d->w->delivered, 1);
        record_latency(d->w, n->inserted_at_ms > 0 ? (uint64_t)n->inserted_at_ms : 0);
    } else {
        atomic_fetch_add(&d->w->skipped, 1);
    }
    d->last_seq = m->seq;
    gw_notice_clear(n);
    mail->next = d->spent;
    d->spent = mail;
    if (!d->spent_tail)
        d->spent_tail = mail;
}

void gw_watcher_dispatch(struct gw_watcher *w, struct gw_gateway *gw)
{
    struct dispatch_ctx d = {w, gw, 0, NULL, NULL};
    size_t n = gw_mailbox_drain(w->mailbox, dispatch_one, &d);
    gw_mailbox_give_back(w->mailbox, d.spent, d.spent_tail);
    if (n) {
        atomic_store(&w->delivered_seq, d.last_seq);
        gw_hist_observe(&w->batches, n);
    }
}

void gw_watcher_fill(struct gw_watcher *w, struct gw_health_snapshot *s)
{
    static char error_copy[GW_ERR_LEN]; /* loop thread only */
    s->cs_watching = atomic_load(&w->watching);
    s->last_event_at_ms = atomic_load(&w->last_event_at_ms);
    s->last_token_saved_at_ms = atomic_load(&w->last_token_saved_at_ms);
    s->events_received = atomic_load(&w->received);
    s->events_delivered = atomic_load(&w->delivered);
    s->events_skipped_offline = atomic_load(&w->skipped);
    s->events_failed = atomic_load(&w->failed);
    s->restarts = atomic_load(&w->restarts);
    pthread_mutex_lock(&w->lock);
    memcpy(error_copy, w->last_error, sizeof(error_copy));
    pthread_mutex_unlock(&w->lock);
    s->last_error = error_copy[0] ? error_copy : NULL;
}

void gw_watcher_metrics(struct gw_watcher *w, struct gw_buf *b)
{
    gw_hist_render(&w->latency, "notify_gateway_delivery_latency_seconds",
                   "Time from a notification's insert (createdAt, else its ObjectId) to its "
                   "hand-off to the sockets.",
                   b);
    /* Observed by the transports, but only change events are timed, so it lives beside the
     * watcher's own figures. */
    gw_hist_render(gw_msg_dispatch_latency(), "notify_gateway_dispatch_latency_seconds",
                   "Time from a change event's arrival at the gateway (the watcher received it "
                   "from the change stream) to its write to one socket, per delivery; from the "
                   "insert to the hand-off to the sockets is "
                   "notify_gateway_delivery_latency_seconds.",
                   b);
    gw_hist_render_counts(&w->batches, "notify_gateway_dispatch_batch_notifications",
                          "Notifications the loop thread took from the watcher at one wake-up. "
                          "Each is queued on its sockets before the first frame of the batch is "
                          "written, so a large batch shows up in the dispatch latency.",
                          b);
}
