/* test_watcher_tsan.c -- the watcher's three-thread hand-off against a real mongo-emu, written
 * to run under ThreadSanitizer (make test-tsan) and useful everywhere else.
 *
 * Threads as in the product: the watcher thread (mongoc client, change stream, token saves,
 * mailbox pushes, status atomics), this test's main thread standing in for the loop thread
 * (woken through the wake callback, gw_watcher_dispatch, gw_watcher_fill), and an inserter
 * thread with its own mongoc client writing notifications and injecting faults (a killed
 * cursor, an emulator restart) while the other two run. Nobody is online, so every event must
 * come out as "skipped offline": the counters say exactly how many crossed the mailbox.
 *
 * mongo-emu is spawned from the build tree (<dir of this binary>/tools/mongo-emu/mongo-emu, or
 * $GW_MONGO_EMU); the test fails, not skips, when it is missing.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

#include "gw/common.h"
#include "gw/config.h"
#include "gw/gateway.h"
#include "gw/health.h"
#include "gw/log.h"
#include "gw/watcher.h"
#include "emu_proc.h"
#include "test.h"

#define BATCH 300
#define WAIT_MS 20000

/* ---- the inserter thread --------------------------------------------------------------- */

struct inserter {
    const char *uri;
    int rounds; /* rounds of BATCH inserts; a fault between rounds */
    atomic_int inserted;
    atomic_int failed;
};

static bool admin(mongoc_client_t *c, const char *json)
{
    bson_error_t e;
    bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &e);
    bool ok = cmd && mongoc_client_command_simple(c, "admin", cmd, NULL, NULL, &e);
    bson_destroy(cmd);
    return ok;
}

/* One insert, retried until it lands: a fault may drop the connection under it. */
static void insert_one(struct inserter *in, mongoc_collection_t *coll, int seq)
{
    bson_t *doc = BCON_NEW("userId", BCON_UTF8("nobody-online"), "type", BCON_UTF8("tsan"), "seq",
                           BCON_INT32(seq));
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    BSON_APPEND_OID(doc, "_id", &oid);
    for (int attempt = 0; attempt < 50; attempt++) {
        bson_error_t e;
        if (mongoc_collection_insert_one(coll, doc, NULL, NULL, &e) || e.code == 11000) {
            atomic_fetch_add(&in->inserted, 1);
            bson_destroy(doc);
            return;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&in->failed, 1);
    bson_destroy(doc);
}

static void *inserter_run(void *arg)
{
    struct inserter *in = arg;
    mongoc_client_t *c = mongoc_client_new(in->uri);
    mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(c, "tsan-inserter");
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "test", "notifications");
    /* Resumed inside mongoc (a lost cursor, a restart), then one it must not resume: a getMore
     * error without the ResumableChangeStreamError label, which restarts the watcher. */
    static const char *faults[] = {
        "{\"emuKillAllCursors\": 1}", "{\"emuRestart\": 1}",
        "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 1}, \"data\": "
        "{\"failCommands\": [\"getMore\"], \"errorCode\": 2, \"appName\": \"notify-gateway\"}}"};
    int seq = 0;
    for (int r = 0; r < in->rounds; r++) {
        for (int i = 0; i < BATCH; i++)
            insert_one(in, coll, seq++);
        if (r + 1 < in->rounds)
            admin(c, faults[r % GW_ARRAY_SIZE(faults)]); /* a restart drops the reply: fine */
    }
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    return NULL;
}

/* ---- the loop thread's side ------------------------------------------------------------ */

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static bool woken;
static atomic_int wakes;

/* Called on the watcher thread, like the server's lws_cancel_service(). */
static void wake(void *ud)
{
    pthread_mutex_lock(&wake_lock);
    woken = true;
    pthread_cond_signal(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
    atomic_fetch_add(&wakes, 1);
}

/* One loop turn: wait for a wake (or 50 ms), dispatch, read the status. */
static void loop_turn(struct gw_watcher *w, struct gw_gateway *gw, struct gw_health_snapshot *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wake_lock);
    while (!woken && pthread_cond_timedwait(&wake_cond, &wake_lock, &ts) != ETIMEDOUT)
        ;
    woken = false;
    pthread_mutex_unlock(&wake_lock);
    gw_watcher_dispatch(w, gw);
    memset(s, 0, sizeof(*s));
    gw_watcher_fill(w, s);
}

static const char *cfg_get(const char *name, void *ud)
{
    const struct emu *e = ud;
    if (!strcmp(name, "MONGODB_URI"))
        return e->uri;
    if (!strcmp(name, "ENABLE_CHANGE_STREAMS"))
        return "true";
    if (!strcmp(name, "JWT_SECRET"))
        return "tsan-test-secret-0123456789abcdefghijklmnop";
    return NULL;
}

/* The stored resume token document exists once the watcher has finished. */
static bool token_saved(const char *uri)
{
    mongoc_client_t *c = mongoc_client_new(uri);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "test", "changeStreamResumeTokens");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8("notifications"));
    bson_error_t e;
    int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &e);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    return n == 1;
}

static void test_watcher_threads(void)
{
    struct emu e = {0};
    struct gw_config cfg;
    char err[GW_ERR_LEN], cfg_err[1024];
    struct gw_health_snapshot s;
    CHECK_INT_EQ(emu_start(&e), 0);
    if (!e.uri[0]) {
        emu_stop(&e);
        return;
    }
    CHECK_INT_EQ(gw_config_load_from(&cfg, cfg_get, &e, cfg_err, sizeof(cfg_err)), 0);
    struct gw_eio_settings eio = {.ping_interval_ms = 25000,
                                  .ping_timeout_ms = 20000,
                                  .max_payload = cfg.max_payload,
                                  .outbox_max_bytes = cfg.outbox_max_bytes,
                                  .upgrade_timeout_ms = 10000};
    struct gw_gateway *gw = gw_gateway_new(&cfg, &eio, err);
    CHECK(gw != NULL);
    struct gw_watcher *w = gw_watcher_start(&cfg, wake, NULL, err);
    CHECK(w != NULL);
    if (!gw || !w)
        goto out;

    uint64_t until = gw_now_ms() + WAIT_MS;
    do
        loop_turn(w, gw, &s);
    while (!s.cs_watching && gw_now_ms() < until);
    CHECK(s.cs_watching);

    struct inserter in = {.uri = e.uri, .rounds = 4};
    pthread_t t;
    CHECK_INT_EQ(pthread_create(&t, NULL, inserter_run, &in), 0);
    const uint64_t want = (uint64_t)in.rounds * BATCH;
    until = gw_now_ms() + 3 * WAIT_MS;
    do
        loop_turn(w, gw, &s);
    while ((s.events_skipped_offline < want || !s.cs_watching) && gw_now_ms() < until);
    pthread_join(t, NULL);
    for (int i = 0; i < 20; i++) /* a second for stray duplicates to show up */
        loop_turn(w, gw, &s);

    CHECK_INT_EQ(atomic_load(&in.failed), 0);
    CHECK_INT_EQ(atomic_load(&in.inserted), want);
    /* Every insert crossed the mailbox exactly once: the resumes after the faults neither lost
     * nor replayed any. */
    CHECK_INT_EQ(s.events_received, want);
    CHECK_INT_EQ(s.events_skipped_offline, want);
    CHECK_INT_EQ(s.events_delivered, 0);
    CHECK_INT_EQ(s.events_failed, 0);
    CHECK_INT_EQ(s.restarts, 1); /* only the unlabelled getMore error reached the watcher */
    CHECK(atomic_load(&wakes) > 0);

    /* Shutdown as the server does it: keep dispatching until the watcher says it finished. */
    gw_watcher_request_stop(w);
    until = gw_now_ms() + WAIT_MS;
    while (!gw_watcher_finished(w) && gw_now_ms() < until)
        loop_turn(w, gw, &s);
    CHECK(gw_watcher_finished(w));
    gw_watcher_free(w);
    w = NULL;
    CHECK(token_saved(e.uri));
out:
    gw_watcher_free(w);
    gw_gateway_free(gw);
    gw_config_free(&cfg);
    emu_stop(&e);
}

int main(void)
{
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
    mongoc_init();
    RUN(test_watcher_threads);
    mongoc_cleanup();
    return TEST_REPORT();
}
