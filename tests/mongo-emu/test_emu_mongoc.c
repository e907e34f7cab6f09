/* test_emu_mongoc.c -- mongo-c-driver 1.23 against a spawned mongo-emu: replica-set discovery,
 * CRUD round trips, change streams with a $match pipeline, resume after a client restart,
 * unusable tokens, --standalone and --dbpath.
 *
 * Usage: test_emu_mongoc PATH/TO/mongo-emu
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_harness.h"
#include "test.h"

static const char *emu_binary;
static struct emu_proc emu;

#define RS_OPTS "replicaSet=rs0&serverSelectionTimeoutMS=5000"
#define TYPE_PIPELINE                                                                              \
    "{\"pipeline\": [{\"$match\": {\"operationType\": \"insert\", "                                \
    "\"fullDocument.type\": {\"$exists\": true}}}]}"

static bson_t *json(const char *s)
{
    bson_error_t err;
    bson_t *b = bson_new_from_json((const uint8_t *)s, -1, &err);
    if (!b) {
        fprintf(stderr, "bad test JSON %s: %s\n", s, err.message);
        abort();
    }
    return b;
}

static void insert_json(mongoc_collection_t *coll, const char *doc)
{
    bson_t *d = json(doc);
    bson_error_t err;
    bool ok = mongoc_collection_insert_one(coll, d, NULL, NULL, &err);
    if (!ok)
        fprintf(stderr, "insert failed: %s\n", err.message);
    CHECK(ok);
    bson_destroy(d);
}

static mongoc_change_stream_t *watch(mongoc_collection_t *coll, const char *opts_json)
{
    bson_t *pipeline = json(TYPE_PIPELINE);
    bson_t *opts = json(opts_json ? opts_json : "{\"maxAwaitTimeMS\": 200}");
    mongoc_change_stream_t *cs = mongoc_collection_watch(coll, pipeline, opts);
    bson_destroy(pipeline);
    bson_destroy(opts);
    return cs;
}

/* Waits up to timeout_ms for the next event; copies it into out (always initialised here, empty
 * on failure: the caller destroys it). Returns false on timeout or stream error (error filled
 * when err is not NULL). */
static bool next_event(mongoc_change_stream_t *cs, int timeout_ms, bson_t *out, bson_error_t *err)
{
    int64_t end = bson_get_monotonic_time() + (int64_t)timeout_ms * 1000;
    const bson_t *doc;
    bson_error_t e;
    while (bson_get_monotonic_time() < end) {
        if (mongoc_change_stream_next(cs, &doc)) {
            bson_copy_to(doc, out);
            return true;
        }
        if (mongoc_change_stream_error_document(cs, &e, NULL)) {
            if (err)
                *err = e;
            bson_init(out);
            return false;
        }
    }
    bson_init(out);
    if (err)
        memset(err, 0, sizeof *err);
    return false;
}

static void test_hello_replica_set(void)
{
    mongoc_client_t *c = emu_client(&emu, RS_OPTS, NULL);
    bson_t reply;
    bson_error_t err;
    CHECK(emu_admin(c, "{\"hello\": 1}", &reply, &err));
    CHECK_STR_EQ(emu_str_at(&reply, "setName"), "rs0");
    CHECK_STR_EQ(emu_str_at(&reply, "me"), emu.host_port);
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &reply, "isWritablePrimary") && bson_iter_as_bool(&it));
    CHECK(bson_iter_init_find(&it, &reply, "maxWireVersion") && BSON_ITER_HOLDS_INT32(&it));
    CHECK(bson_iter_init_find(&it, &reply, "topologyVersion") && BSON_ITER_HOLDS_DOCUMENT(&it));
    bson_destroy(&reply);
    mongoc_server_description_t *sd = mongoc_client_select_server(c, true, NULL, &err);
    CHECK(sd != NULL);
    if (sd) {
        CHECK_STR_EQ(mongoc_server_description_type(sd), "RSPrimary");
        mongoc_server_description_destroy(sd);
    }
    mongoc_client_destroy(c);
}

static void test_crud_round_trip(void)
{
    mongoc_client_t *c = emu_client(&emu, RS_OPTS, NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "app", "crud");
    bson_error_t err;
    insert_json(coll, "{\"_id\": 1, \"user\": \"u1\", \"n\": 5, \"tags\": [\"a\", \"b\"]}");
    insert_json(coll, "{\"_id\": 2, \"user\": \"u2\", \"n\": 7}");
    insert_json(coll, "{\"_id\": 3, \"user\": \"u1\", \"n\": 9, \"sub\": {\"k\": \"v\"}}");

    /* Duplicate _id: code 11000 as a write error. */
    bson_t *dup = json("{\"_id\": 2}");
    bson_t reply;
    CHECK(!mongoc_collection_insert_one(coll, dup, NULL, &reply, &err));
    CHECK_INT_EQ(err.code, 11000);
    bson_destroy(&reply);
    bson_destroy(dup);

    /* find with $gt, sort descending, limit. */
    bson_t *filter = json("{\"n\": {\"$gt\": 5}}");
    bson_t *opts = json("{\"sort\": {\"n\": -1}, \"limit\": 1}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    int n = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        CHECK_INT_EQ(emu_int_at(doc, "_id", -1), 3);
        n++;
    }
    CHECK(!mongoc_cursor_error(cur, &err));
    CHECK_INT_EQ(n, 1);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    bson_destroy(opts);

    /* Dotted path, array element equality, $or. */
    filter = json("{\"$or\": [{\"sub.k\": \"v\"}, {\"tags\": \"b\"}]}");
    CHECK_INT_EQ(mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err), 2);
    bson_destroy(filter);

    /* update: $set + $inc on a match, then an upsert with $setOnInsert. */
    bson_t *sel = json("{\"_id\": 2}");
    bson_t *upd = json("{\"$set\": {\"read\": true}, \"$inc\": {\"n\": 3}}");
    CHECK(mongoc_collection_update_one(coll, sel, upd, NULL, &reply, &err));
    CHECK_INT_EQ(emu_int_at(&reply, "modifiedCount", -1), 1);
    bson_destroy(&reply);
    bson_destroy(sel);
    bson_destroy(upd);
    sel = json("{\"_id\": \"tok\"}");
    upd =
        json("{\"$set\": {\"token\": {\"_data\": \"82AA\"}}, \"$setOnInsert\": {\"created\": 1}}");
    opts = json("{\"upsert\": true}");
    CHECK(mongoc_collection_update_one(coll, sel, upd, opts, &reply, &err));
    CHECK_INT_EQ(emu_int_at(&reply, "upsertedCount", -1), 1);
    bson_destroy(&reply);
    CHECK(mongoc_collection_update_one(coll, sel, upd, opts, &reply, &err));
    CHECK_INT_EQ(emu_int_at(&reply, "matchedCount", -1), 1);
    CHECK_INT_EQ(emu_int_at(&reply, "upsertedCount", -1), 0);
    bson_destroy(&reply);
    bson_destroy(opts);
    bson_destroy(upd);

    cur = mongoc_collection_find_with_opts(coll, sel, NULL, NULL);
    CHECK(mongoc_cursor_next(cur, &doc));
    CHECK_STR_EQ(emu_str_at(doc, "token._data"), "82AA");
    CHECK_INT_EQ(emu_int_at(doc, "created", -1), 1);
    mongoc_cursor_destroy(cur);
    bson_destroy(sel);

    filter = json("{\"_id\": 2}");
    cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    CHECK(mongoc_cursor_next(cur, &doc));
    CHECK_INT_EQ(emu_int_at(doc, "n", -1), 10);
    mongoc_cursor_destroy(cur);

    /* delete, then count. */
    CHECK(mongoc_collection_delete_one(coll, filter, NULL, &reply, &err));
    CHECK_INT_EQ(emu_int_at(&reply, "deletedCount", -1), 1);
    bson_destroy(&reply);
    bson_destroy(filter);
    filter = json("{}");
    CHECK_INT_EQ(mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err), 3);

    /* A batch larger than the default first batch goes through getMore. */
    for (int i = 0; i < 250; i++) {
        char d[64];
        snprintf(d, sizeof d, "{\"bulk\": %d}", i);
        insert_json(coll, d);
    }
    bson_t *bf = json("{\"bulk\": {\"$gte\": 0}}");
    cur = mongoc_collection_find_with_opts(coll, bf, NULL, NULL);
    n = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        CHECK_INT_EQ(emu_int_at(doc, "bulk", -1), n);
        n++;
    }
    CHECK(!mongoc_cursor_error(cur, &err));
    CHECK_INT_EQ(n, 250);
    mongoc_cursor_destroy(cur);
    bson_destroy(bf);
    bson_destroy(filter);

    /* An unsupported operator is a clear server error, not a silent mismatch. */
    filter = json("{\"n\": {\"$where\": 1}}");
    cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    CHECK(!mongoc_cursor_next(cur, &doc));
    CHECK(mongoc_cursor_error(cur, &err));
    CHECK_INT_EQ(err.code, 2);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);

    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

static void test_watch_match_in_order(void)
{
    mongoc_client_t *gw = emu_client(&emu, RS_OPTS, "gateway");
    mongoc_client_t *admin = emu_client(&emu, RS_OPTS, "admin");
    mongoc_collection_t *wc = mongoc_client_get_collection(gw, "app", "notifications");
    mongoc_collection_t *ac = mongoc_client_get_collection(admin, "app", "notifications");
    mongoc_change_stream_t *cs = watch(wc, NULL);
    bson_error_t err;
    CHECK(!mongoc_change_stream_error_document(cs, &err, NULL));
    insert_json(ac, "{\"type\": \"email\", \"seq\": 1}");
    insert_json(ac, "{\"noType\": true, \"seq\": 2}");
    insert_json(ac, "{\"type\": \"sms\", \"seq\": 3}");
    bson_t *sel = json("{\"seq\": 3}"), *upd = json("{\"$set\": {\"type\": \"x\"}}");
    CHECK(mongoc_collection_update_one(ac, sel, upd, NULL, NULL, &err));
    bson_destroy(sel);
    bson_destroy(upd);
    for (int i = 4; i <= 8; i++) {
        char d[64];
        snprintf(d, sizeof d, "{\"type\": \"t\", \"seq\": %d}", i);
        insert_json(ac, d);
    }
    int want[] = {1, 3, 4, 5, 6, 7, 8};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bson_t ev = BSON_INITIALIZER;
        bool got = next_event(cs, 3000, &ev, &err);
        CHECK(got);
        if (!got)
            break;
        CHECK_INT_EQ(emu_int_at(&ev, "fullDocument.seq", -1), want[i]);
        CHECK_STR_EQ(emu_str_at(&ev, "operationType"), "insert");
        CHECK_STR_EQ(emu_str_at(&ev, "ns.db"), "app");
        CHECK_STR_EQ(emu_str_at(&ev, "ns.coll"), "notifications");
        CHECK(strlen(emu_str_at(&ev, "_id._data")) > 0);
        bson_iter_t it;
        CHECK(bson_iter_init_find(&it, &ev, "clusterTime") && BSON_ITER_HOLDS_TIMESTAMP(&it));
        CHECK(bson_iter_init_find(&it, &ev, "wallTime") && BSON_ITER_HOLDS_DATE_TIME(&it));
        CHECK(bson_iter_init(&it, &ev) && bson_iter_find_descendant(&it, "documentKey._id", &it));
        bson_destroy(&ev);
    }
    /* Idle: next() returns false without error and the token keeps a value. */
    const bson_t *doc;
    CHECK(!mongoc_change_stream_next(cs, &doc));
    CHECK(!mongoc_change_stream_error_document(cs, &err, NULL));
    CHECK(mongoc_change_stream_get_resume_token(cs) != NULL);
    mongoc_change_stream_destroy(cs);
    mongoc_collection_destroy(wc);
    mongoc_collection_destroy(ac);
    mongoc_client_destroy(gw);
    mongoc_client_destroy(admin);
}

/* Reads one event, saves the token, restarts the client and resumes with option `how`. */
static void resume_after_client_restart(const char *how)
{
    mongoc_client_t *admin = emu_client(&emu, RS_OPTS, "admin");
    mongoc_collection_t *ac = mongoc_client_get_collection(admin, "app", "resume");
    mongoc_client_t *gw = emu_client(&emu, RS_OPTS, "gateway");
    mongoc_collection_t *wc = mongoc_client_get_collection(gw, "app", "resume");
    mongoc_change_stream_t *cs = watch(wc, NULL);
    insert_json(ac, "{\"type\": \"a\", \"seq\": 1}");
    bson_t ev = BSON_INITIALIZER;
    bson_error_t err;
    CHECK(next_event(cs, 3000, &ev, &err));
    CHECK_INT_EQ(emu_int_at(&ev, "fullDocument.seq", -1), 1);
    bson_destroy(&ev);
    bson_t *token = bson_copy(mongoc_change_stream_get_resume_token(cs));
    mongoc_change_stream_destroy(cs);
    mongoc_collection_destroy(wc);
    mongoc_client_destroy(gw);

    /* While the "gateway" is down. */
    insert_json(ac, "{\"type\": \"b\", \"seq\": 2}");
    insert_json(ac, "{\"skip\": true, \"seq\": 3}");
    insert_json(ac, "{\"type\": \"c\", \"seq\": 4}");

    gw = emu_client(&emu, RS_OPTS, "gateway");
    wc = mongoc_client_get_collection(gw, "app", "resume");
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&opts, how, token);
    BSON_APPEND_INT64(&opts, "maxAwaitTimeMS", 200);
    char *oj = bson_as_relaxed_extended_json(&opts, NULL);
    cs = watch(wc, oj);
    bson_free(oj);
    CHECK(!mongoc_change_stream_error_document(cs, &err, NULL));
    int want[] = {2, 4};
    for (size_t i = 0; i < 2; i++) {
        CHECK(next_event(cs, 3000, &ev, &err));
        CHECK_INT_EQ(emu_int_at(&ev, "fullDocument.seq", -1), want[i]);
        bson_destroy(&ev);
    }
    /* Nothing more: no duplicates. */
    CHECK(!next_event(cs, 500, &ev, &err));
    bson_destroy(&ev);
    bson_destroy(&opts);
    bson_destroy(token);
    mongoc_change_stream_destroy(cs);
    mongoc_collection_destroy(wc);
    mongoc_client_destroy(gw);
    mongoc_collection_destroy(ac);
    mongoc_client_destroy(admin);
}

static void test_resume_after(void)
{
    resume_after_client_restart("resumeAfter");
}

static void test_start_after(void)
{
    resume_after_client_restart("startAfter");
}

static void expect_watch_error(const char *opts_json, int code, const char *label)
{
    mongoc_client_t *gw = emu_client(&emu, RS_OPTS, "gateway");
    mongoc_collection_t *wc = mongoc_client_get_collection(gw, "app", "notifications");
    mongoc_change_stream_t *cs = watch(wc, opts_json);
    bson_error_t err;
    const bson_t *reply;
    CHECK(mongoc_change_stream_error_document(cs, &err, &reply));
    CHECK_INT_EQ(err.domain, MONGOC_ERROR_SERVER);
    CHECK_INT_EQ(err.code, code);
    if (label)
        CHECK(emu_array_has(reply, "errorLabels", label));
    mongoc_change_stream_destroy(cs);
    mongoc_collection_destroy(wc);
    mongoc_client_destroy(gw);
}

static void test_bad_tokens(void)
{
    /* Hex but not a token this server issued: 260 InvalidResumeToken. */
    expect_watch_error("{\"resumeAfter\": {\"_data\": \"DEADBEEF\"}}", 260, NULL);
    /* Not hex at all: 9 FailedToParse, as mongod says. */
    expect_watch_error("{\"resumeAfter\": {\"_data\": \"not hex!\"}}", 9, NULL);
    /* No _data. */
    expect_watch_error("{\"resumeAfter\": {\"x\": 1}}", 260, NULL);
    /* Two resume options. */
    expect_watch_error("{\"resumeAfter\": {\"_data\": \"00\"}, \"startAtOperationTime\": "
                       "{\"$timestamp\": {\"t\": 1, \"i\": 1}}}",
                       40674, NULL);
    /* A time before the oplog's start: history lost. */
    expect_watch_error("{\"startAtOperationTime\": {\"$timestamp\": {\"t\": 1, \"i\": 1}}}", 286,
                       "NonResumableChangeStreamError");
}

static void test_invalidate_on_drop(void)
{
    mongoc_client_t *gw = emu_client(&emu, RS_OPTS, "gateway");
    mongoc_collection_t *wc = mongoc_client_get_collection(gw, "app", "dropme");
    bson_t *pipeline = json("{\"pipeline\": []}");
    bson_t *opts = json("{\"maxAwaitTimeMS\": 200}");
    mongoc_change_stream_t *cs = mongoc_collection_watch(wc, pipeline, opts);
    insert_json(wc, "{\"x\": 1}");
    bson_error_t err;
    CHECK(mongoc_collection_drop(wc, &err));
    const char *want[] = {"insert", "drop", "invalidate"};
    bson_t ev = BSON_INITIALIZER, *inv_token = NULL;
    for (int i = 0; i < 3; i++) {
        CHECK(next_event(cs, 3000, &ev, &err));
        CHECK_STR_EQ(emu_str_at(&ev, "operationType"), want[i]);
        if (i == 2) {
            bson_iter_t it;
            uint32_t len;
            const uint8_t *data;
            if (bson_iter_init_find(&it, &ev, "_id") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
                bson_iter_document(&it, &len, &data);
                inv_token = bson_new_from_data(data, len);
            }
        }
        bson_destroy(&ev);
    }
    mongoc_change_stream_destroy(cs);
    CHECK(inv_token != NULL);
    if (inv_token) {
        bson_t o = BSON_INITIALIZER;
        BSON_APPEND_DOCUMENT(&o, "resumeAfter", inv_token);
        cs = mongoc_collection_watch(wc, pipeline, &o);
        CHECK(mongoc_change_stream_error_document(cs, &err, NULL));
        CHECK_INT_EQ(err.code, 260);
        mongoc_change_stream_destroy(cs);
        bson_destroy(&o);
        bson_init(&o);
        BSON_APPEND_DOCUMENT(&o, "startAfter", inv_token);
        cs = mongoc_collection_watch(wc, pipeline, &o);
        CHECK(!mongoc_change_stream_error_document(cs, &err, NULL));
        insert_json(wc, "{\"x\": 2}");
        CHECK(next_event(cs, 3000, &ev, &err));
        CHECK_INT_EQ(emu_int_at(&ev, "fullDocument.x", -1), 2);
        bson_destroy(&ev);
        mongoc_change_stream_destroy(cs);
        bson_destroy(&o);
        bson_destroy(inv_token);
    }
    bson_destroy(pipeline);
    bson_destroy(opts);
    mongoc_collection_destroy(wc);
    mongoc_client_destroy(gw);
}

static void test_pooled_client(void)
{
    char uri_s[512];
    snprintf(uri_s, sizeof uri_s, "mongodb://%s/?" RS_OPTS, emu.host_port);
    mongoc_uri_t *uri = mongoc_uri_new(uri_s);
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_t *c = mongoc_client_pool_pop(pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "app", "pooled");
    mongoc_change_stream_t *cs = watch(coll, NULL);
    bson_error_t err;
    CHECK(!mongoc_change_stream_error_document(cs, &err, NULL));
    insert_json(coll, "{\"type\": \"p\"}");
    bson_t ev = BSON_INITIALIZER;
    CHECK(next_event(cs, 3000, &ev, &err));
    CHECK_STR_EQ(emu_str_at(&ev, "fullDocument.type"), "p");
    bson_destroy(&ev);
    mongoc_change_stream_destroy(cs);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(pool, c);
    mongoc_client_pool_destroy(pool);
    mongoc_uri_destroy(uri);
}

static void test_direct_connection(void)
{
    mongoc_client_t *c = emu_client(&emu, "directConnection=true", NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "app", "direct");
    insert_json(coll, "{\"k\": 1}");
    bson_error_t err;
    bson_t *f = json("{\"k\": 1}");
    CHECK_INT_EQ(mongoc_collection_count_documents(coll, f, NULL, NULL, NULL, &err), 1);
    bson_destroy(f);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

static void test_standalone_refuses_change_streams(void)
{
    struct emu_proc sa;
    const char *args[] = {"--standalone", NULL};
    if (emu_proc_start(&sa, emu_binary, args) < 0) {
        CHECK(0);
        return;
    }
    mongoc_client_t *c = emu_client(&sa, "directConnection=true", NULL);
    bson_t reply;
    bson_error_t err;
    CHECK(emu_admin(c, "{\"hello\": 1}", &reply, &err));
    bson_iter_t it;
    CHECK(!bson_iter_init_find(&it, &reply, "setName"));
    bson_destroy(&reply);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "app", "n");
    mongoc_change_stream_t *cs = watch(coll, NULL);
    CHECK(mongoc_change_stream_error_document(cs, &err, NULL));
    CHECK_INT_EQ(err.code, 40573);
    mongoc_change_stream_destroy(cs);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    CHECK_INT_EQ(emu_proc_stop(&sa), 0);
}

static void test_dbpath_survives_restart(void)
{
    char dir[] = "/tmp/mongo-emu-test-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    const char *args[] = {"--dbpath", dir, NULL};
    struct emu_proc p;
    if (emu_proc_start(&p, emu_binary, args) < 0) {
        CHECK(0);
        return;
    }
    mongoc_client_t *c = emu_client(&p, RS_OPTS, NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "app", "kept");
    mongoc_change_stream_t *cs = watch(coll, NULL);
    insert_json(coll, "{\"type\": \"before\", \"seq\": 1}");
    bson_t ev = BSON_INITIALIZER;
    bson_error_t err;
    CHECK(next_event(cs, 3000, &ev, &err));
    bson_destroy(&ev);
    bson_t *token = bson_copy(mongoc_change_stream_get_resume_token(cs));
    insert_json(coll, "{\"type\": \"after\", \"seq\": 2}");
    mongoc_change_stream_destroy(cs);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    CHECK_INT_EQ(emu_proc_stop(&p), 0);

    if (emu_proc_start(&p, emu_binary, args) < 0) {
        CHECK(0);
        bson_destroy(token);
        return;
    }
    c = emu_client(&p, RS_OPTS, NULL);
    coll = mongoc_client_get_collection(c, "app", "kept");
    bson_t *f = json("{}");
    CHECK_INT_EQ(mongoc_collection_count_documents(coll, f, NULL, NULL, NULL, &err), 2);
    bson_destroy(f);
    bson_t o = BSON_INITIALIZER;
    BSON_APPEND_DOCUMENT(&o, "resumeAfter", token);
    char *oj = bson_as_relaxed_extended_json(&o, NULL);
    cs = watch(coll, oj);
    bson_free(oj);
    CHECK(!mongoc_change_stream_error_document(cs, &err, NULL));
    CHECK(next_event(cs, 3000, &ev, &err));
    CHECK_INT_EQ(emu_int_at(&ev, "fullDocument.seq", -1), 2);
    bson_destroy(&ev);
    mongoc_change_stream_destroy(cs);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    bson_destroy(&o);
    bson_destroy(token);
    CHECK_INT_EQ(emu_proc_stop(&p), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT_EQ(system(cmd), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/mongo-emu\n", argv[0]);
        return 2;
    }
    emu_binary = argv[1];
    mongoc_init();
    mongoc_log_set_handler(NULL, NULL);
    if (emu_proc_start(&emu, emu_binary, NULL) < 0)
        return 1;
    RUN(test_hello_replica_set);
    RUN(test_crud_round_trip);
    RUN(test_watch_match_in_order);
    RUN(test_resume_after);
    RUN(test_start_after);
    RUN(test_bad_tokens);
    RUN(test_invalidate_on_drop);
    RUN(test_pooled_client);
    RUN(test_direct_connection);
    CHECK_INT_EQ(emu_proc_stop(&emu), 0);
    RUN(test_standalone_refuses_change_streams);
    RUN(test_dbpath_survives_restart);
    mongoc_cleanup();
    return TEST_REPORT();
}
