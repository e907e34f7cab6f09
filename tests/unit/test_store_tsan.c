/* test_store_tsan.c -- the store's worker thread against a live mongo-emu: what catch-up and
 * read marks return, and the two-mailbox hand-off under concurrent writes, written to run under
 * ThreadSanitizer (make test-tsan) and useful everywhere else.
 *
 * Threads as in the product: the store's worker (its own mongoc client), this test's main
 * thread standing in for the loop thread (submits, is woken, drains), and an inserter thread
 * writing notifications while catch-ups run.
 */
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "emu_proc.h"
#include "gw/common.h"
#include "gw/config.h"
#include "gw/log.h"
#include "gw/store.h"
#include "test.h"

#define WAIT_MS 20000
#define BURST 400

static atomic_int wakes;

static void wake(void *ud)
{
    atomic_fetch_add(&wakes, 1);
}

static const char *cfg_get(const char *name, void *ud)
{
    const struct emu *e = ud;
    if (!strcmp(name, "MONGODB_URI"))
        return e->uri;
    if (!strcmp(name, "CATCHUP_MAX_COUNT"))
        return "50";
    return NULL;
}

/* ---- the loop side --------------------------------------------------------------------- */

struct collected {
    struct gw_store_req *reqs[BURST + 16];
    size_t n;
};

static void keep(struct gw_store_req *r, void *ud)
{
    struct collected *c = ud;
    if (c->n < GW_ARRAY_SIZE(c->reqs))
        c->reqs[c->n++] = r;
    else
        gw_store_req_free(r);
}

/* Drains until `want` requests came back or the time is up. */
static void wait_for(struct gw_store *st, struct collected *c, size_t want)
{
    uint64_t until = gw_now_ms() + WAIT_MS;
    while (c->n < want && gw_now_ms() < until) {
        gw_store_drain(st, keep, c);
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void release(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        gw_store_req_free(c->reqs[i]);
    c->n = 0;
}

static struct gw_store_req *submit(struct gw_store *st, enum gw_store_op op, const char *user)
{
    struct gw_store_req *r = gw_store_req_new(op, user, strlen(user));
    CHECK_INT_EQ(gw_store_submit(st, r), 0);
    return r;
}

/* ---- data ------------------------------------------------------------------------------ */

struct inserter {
    const char *uri;
    const char *user;
    int count;
    char ids[64][25];
    atomic_int done;
};

static void *insert_run(void *arg)
{
    struct inserter *in = arg;
    mongoc_client_t *c = mongoc_client_new(in->uri);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "test", "notifications");
    for (int i = 0; i < in->count; i++) {
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        bson_oid_to_string(&oid, in->ids[i % 64]);
        bson_t *doc = BCON_NEW("_id", BCON_OID(&oid), "userId", BCON_UTF8(in->user), "type",
                               BCON_UTF8("t"), "seq", BCON_INT32(i), "read", BCON_BOOL(false));
        bson_error_t e;
        if (mongoc_collection_insert_one(coll, doc, NULL, NULL, &e))
            atomic_fetch_add(&in->done, 1);
        bson_destroy(doc);
    }
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    return NULL;
}

static void insert_sync(struct inserter *in)
{
    insert_run(in);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_catchup_and_marks(struct gw_store *st, const struct emu *e)
{
    struct collected c = {0};
    struct inserter mine = {.uri = e->uri, .user = "alice", .count = 60};
    struct inserter theirs = {.uri = e->uri, .user = "bob", .count = 3};
    insert_sync(&mine);
    insert_sync(&theirs);
    CHECK_INT_EQ(atomic_load(&mine.done), 60);

    /* a first connect: only the newest id and the unread count */
    submit(st, GW_STORE_CATCHUP, "alice");
    wait_for(st, &c, 1);
    CHECK_INT_EQ(c.n, 1);
    if (c.n == 1) {
        CHECK_INT_EQ(c.reqs[0]->status, 0);
        CHECK_INT_EQ(c.reqs[0]->n_items, 0);
        CHECK_STR_EQ(c.reqs[0]->newest, mine.ids[59]);
        CHECK_INT_EQ(c.reqs[0]->unread, 60);
    }
    release(&c);

    /* a replay after the 5th: capped at the newest 50 of 55, oldest first, truncated */
    struct gw_store_req *r = gw_store_req_new(GW_STORE_CATCHUP, "alice", 5);
    memcpy(r->after, mine.ids[4], 25);
    CHECK_INT_EQ(gw_store_submit(st, r), 0);
    wait_for(st, &c, 1);
    if (c.n == 1) {
        r = c.reqs[0];
        CHECK_INT_EQ(r->n_items, 50);
        CHECK(r->truncated);
        if (r->n_items == 50) {
            CHECK_STR_EQ(r->items[0].id, mine.ids[10]);
            CHECK_STR_EQ(r->items[49].id, mine.ids[59]);
            CHECK(strstr(r->items[0].json, "\"seq\":10") != NULL);
        }
    }
    release(&c);

    /* after the 50th: 10, complete */
    r = gw_store_req_new(GW_STORE_CATCHUP, "alice", 5);
    memcpy(r->after, mine.ids[49], 25);
    CHECK_INT_EQ(gw_store_submit(st, r), 0);
    wait_for(st, &c, 1);
    if (c.n == 1) {
        CHECK_INT_EQ(c.reqs[0]->n_items, 10);
        CHECK(!c.reqs[0]->truncated);
    }
    release(&c);

    /* marks: own id matches, bob's id does not (and stays unread), then all the rest */
    r = gw_store_req_new(GW_STORE_MARK_READ, "alice", 5);
    memcpy(r->id, mine.ids[0], 25);
    CHECK_INT_EQ(gw_store_submit(st, r), 0);
    r = gw_store_req_new(GW_STORE_MARK_READ, "alice", 5);
    memcpy(r->id, theirs.ids[0], 25);
    CHECK_INT_EQ(gw_store_submit(st, r), 0);
    submit(st, GW_STORE_MARK_ALL_READ, "alice");
    submit(st, GW_STORE_CATCHUP, "alice");
    submit(st, GW_STORE_CATCHUP, "bob");
    wait_for(st, &c, 5);
    CHECK_INT_EQ(c.n, 5);
    if (c.n == 5) { /* one worker: completion order is submission order */
        CHECK(c.reqs[0]->matched);
        CHECK(!c.reqs[1]->matched);
        CHECK_INT_EQ(c.reqs[2]->modified, 59);
        CHECK_INT_EQ(c.reqs[3]->unread, 0);
        CHECK_INT_EQ(c.reqs[4]->unread, 3);
    }
    release(&c);
}

/* Many catch-ups while another thread inserts: each comes back exactly once, and each sees a
 * prefix of the inserts in order. */
static void test_concurrent(struct gw_store *st, const struct emu *e)
{
    struct collected c = {0};
    struct inserter in = {.uri = e->uri, .user = "carol", .count = 300};
    pthread_t t;
    CHECK_INT_EQ(pthread_create(&t, NULL, insert_run, &in), 0);
    for (int i = 0; i < BURST; i++) {
        struct gw_store_req *r = gw_store_req_new(GW_STORE_CATCHUP, "carol", 5);
        memcpy(r->after, "000000000000000000000000", 25);
        r->ack_id = i;
        CHECK_INT_EQ(gw_store_submit(st, r), 0);
        gw_store_drain(st, keep, &c);
    }
    wait_for(st, &c, BURST);
    pthread_join(t, NULL);
    CHECK_INT_EQ(c.n, BURST);
    for (size_t i = 0; i < c.n; i++) {
        struct gw_store_req *r = c.reqs[i];
        CHECK_INT_EQ(r->ack_id, (int64_t)i);
        CHECK_INT_EQ(r->status, 0);
        for (size_t k = 1; k < r->n_items; k++)
            CHECK(strcmp(r->items[k - 1].id, r->items[k].id) < 0);
    }
    CHECK(atomic_load(&wakes) > 0);
    release(&c);
}

/* Stopping with requests queued: they are failed or freed, never lost in a leak (LeakSanitizer
 * and valgrind watch this one), and a stopped store refuses new ones. */
static void test_stop_with_requests(struct gw_store *st)
{
    for (int i = 0; i < 50; i++)
        submit(st, GW_STORE_CATCHUP, "dave");
    gw_store_stop(st);
    struct gw_store_req *r = gw_store_req_new(GW_STORE_CATCHUP, "dave", 4);
    CHECK_INT_EQ(gw_store_submit(st, r), -1);
    gw_store_req_free(r);
}

int main(void)
{
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
    mongoc_init();
    struct emu e = {0};
    struct gw_config cfg;
    char err[GW_ERR_LEN], cfg_err[1024];
    CHECK_INT_EQ(emu_start(&e), 0);
    if (e.uri[0] && gw_config_load_from(&cfg, cfg_get, &e, cfg_err, sizeof(cfg_err)) == 0) {
        struct gw_store *st = gw_store_start(&cfg, wake, NULL, err);
        CHECK(st != NULL);
        if (st) {
            test_catchup_and_marks(st, &e);
            test_concurrent(st, &e);
            test_stop_with_requests(st);
            gw_store_free(st);
        }
        gw_config_free(&cfg);
    } else {
        CHECK(!"mongo-emu or the configuration did not start");
    }
    emu_stop(&e);
    mongoc_cleanup();
    return TEST_REPORT();
}
