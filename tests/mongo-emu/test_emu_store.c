/* test_emu_store.c -- collections, the oplog ring and change-stream cursors over it: event
 * shapes, $match stages, positions from tokens, and the 260/280/286 rules. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "stream.h"
#include "test.h"

static bson_t *J(const char *s)
{
    bson_error_t e;
    bson_t *b = bson_new_from_json((const uint8_t *)s, -1, &e);
    if (!b) {
        fprintf(stderr, "bad JSON %s: %s\n", s, e.message);
        abort();
    }
    return b;
}

static void insert(struct emu_store *s, const char *coll, const char *json)
{
    struct emu_coll *c = emu_store_coll(s, "app", coll, true);
    CHECK_INT_EQ(emu_store_insert(s, c, J(json)), 0);
}

/* Fills one batch; returns the number of events; *arr holds them. */
static uint32_t fill(struct emu_stream *st, struct emu_store *s, bson_t *arr, uint32_t max)
{
    struct emu_stream_error err;
    uint32_t n = 0;
    bson_init(arr);
    CHECK_INT_EQ(emu_stream_fill(st, s, arr, &n, max, 1 << 24, &err), 0);
    return n;
}

static struct emu_stream *open_stream(struct emu_store *s, const char *spec_json,
                                      const char *stages_json, int *code)
{
    bson_t *spec = J(spec_json), *stages = stages_json ? J(stages_json) : NULL;
    struct emu_stream_error err = {0};
    struct emu_stream *st = emu_stream_open(s, "app", "n", spec, stages, &err);
    *code = st ? 0 : err.code;
    bson_destroy(spec);
    if (stages)
        bson_destroy(stages);
    return st;
}

static const char *str_at(const bson_t *arr, const char *path)
{
    bson_iter_t it, f;
    if (!bson_iter_init(&it, arr) || !bson_iter_find_descendant(&it, path, &f) ||
        !BSON_ITER_HOLDS_UTF8(&f))
        return "";
    return bson_iter_utf8(&f, NULL);
}

static void test_documents_and_ids(void)
{
    struct emu_store *s = emu_store_new(100);
    insert(s, "c", "{\"_id\": 1, \"a\": 1}");
    struct emu_coll *c = emu_store_coll(s, "app", "c", false);
    CHECK_INT_EQ(emu_store_insert(s, c, J("{\"_id\": 1.0}")), -1); /* 1 == 1.0 */
    insert(s, "c", "{\"_id\": \"x\"}");
    bson_value_t id = {.value_type = BSON_TYPE_INT64, .value.v_int64 = 1};
    CHECK_INT_EQ(emu_store_find_id(c, &id), 0);
    for (int i = 0; i < 200; i++) {
        char d[32];
        snprintf(d, sizeof d, "{\"_id\": %d}", 100 + i);
        insert(s, "c", d);
    }
    for (size_t i = 0; i < c->nslots; i++)
        if (c->docs[i])
            emu_store_delete(s, c, i);
    emu_store_compact(c);
    CHECK_INT_EQ(c->live, 0);
    CHECK_INT_EQ(c->nslots, 0);
    CHECK_INT_EQ(emu_store_find_id(c, &id), -1);
    insert(s, "c", "{\"_id\": 1}");
    CHECK_INT_EQ(emu_store_find_id(c, &id), 0);
    emu_store_free(s);
}

/* Every _id in [0, n) is found unless deleted[id], and a second insert of it is refused. */
static void check_ids(struct emu_store *s, struct emu_coll *c, int n, const bool *deleted)
{
    for (int i = 0; i < n; i++) {
        bson_value_t id = {.value_type = BSON_TYPE_INT32, .value.v_int32 = i};
        long slot = emu_store_find_id(c, &id);
        if (deleted[i]) {
            CHECK_INT_EQ(slot, -1);
            continue;
        }
        CHECK(slot >= 0);
        char d[32];
        snprintf(d, sizeof d, "{\"_id\": %d}", i);
        CHECK_INT_EQ(emu_store_insert(s, c, J(d)), -1);
    }
}

/* The _id index grows a few buckets per insert (moving every entry at once stalled the server
 * for 51 ms at a million documents): while part of it is still in the outgrown table, every
 * document is found, duplicates are refused and deletes hold. */
static void test_index_grows_a_little_per_insert(void)
{
    enum { N = 5000 };
    static bool deleted[N];
    struct emu_store *s = emu_store_new(100);
    struct emu_coll *c = emu_store_coll(s, "app", "g", true);
    int growing = 0, deleted_while_growing = 0;
    for (int i = 0; i < N; i++) {
        char d[32];
        snprintf(d, sizeof d, "{\"_id\": %d}", i);
        insert(s, "g", d);
        if (!c->old)
            continue;
        CHECK(c->moved_upto < c->nold);
        growing++;
        if (i % 7 == 0) {
            bson_value_t id = {.value_type = BSON_TYPE_INT32, .value.v_int32 = i - 3};
            long slot = emu_store_find_id(c, &id);
            if (slot >= 0) {
                emu_store_delete(s, c, (size_t)slot);
                deleted[i - 3] = true;
                deleted_while_growing++;
            }
        }
        if (i % 61 == 0)
            check_ids(s, c, i + 1, deleted);
    }
    CHECK(growing > N / 4);
    CHECK(deleted_while_growing > 100);
    check_ids(s, c, N, deleted);
    emu_store_free(s);
}

static void test_oplog_ring_and_clock(void)
{
    struct emu_store *s = emu_store_new(3);
    uint64_t start = s->lost_before;
    insert(s, "n", "{\"_id\": 1}"); /* create + insert */
    insert(s, "n", "{\"_id\": 2}");
    CHECK_INT_EQ(s->ring_len, 3);
    CHECK(s->lost_before == start);
    uint64_t first_ts = emu_store_entry(s, emu_store_first_seq(s))->ts;
    insert(s, "n", "{\"_id\": 3}");
    CHECK_INT_EQ(s->ring_len, 3);
    CHECK(s->lost_before == first_ts + 1);
    for (uint64_t q = emu_store_first_seq(s) + 1; q < s->next_seq; q++)
        CHECK(emu_store_entry(s, q)->ts > emu_store_entry(s, q - 1)->ts);
    uint64_t mid = emu_store_entry(s, emu_store_first_seq(s) + 1)->ts;
    CHECK(emu_store_seq_after(s, mid) == emu_store_first_seq(s) + 2);
    CHECK(emu_store_seq_after(s, s->last_ts) == s->next_seq);
    uint64_t before = s->last_ts;
    emu_store_truncate_oplog(s);
    CHECK_INT_EQ(s->ring_len, 0);
    CHECK(s->lost_before > before);
    emu_store_free(s);
}

static void test_events_and_match(void)
{
    struct emu_store *s = emu_store_new(100);
    int code;
    struct emu_stream *st =
        open_stream(s, "{}",
                    "[{\"$match\": {\"operationType\": \"insert\", \"fullDocument.type\": "
                    "{\"$exists\": true}}}]",
                    &code);
    CHECK(st != NULL);
    insert(s, "n", "{\"_id\": 1, \"type\": \"email\"}");
    insert(s, "n", "{\"_id\": 2}");
    insert(s, "other", "{\"_id\": 3, \"type\": \"x\"}");
    insert(s, "n", "{\"_id\": 4, \"type\": \"sms\"}");
    bson_t arr;
    CHECK_INT_EQ(fill(st, s, &arr, 100), 2);
    CHECK_STR_EQ(str_at(&arr, "0.fullDocument.type"), "email");
    CHECK_STR_EQ(str_at(&arr, "0.operationType"), "insert");
    CHECK_STR_EQ(str_at(&arr, "0.ns.coll"), "n");
    CHECK_STR_EQ(str_at(&arr, "1.fullDocument.type"), "sms");
    /* The PBRT moved past everything scanned, matching or not. */
    CHECK(st->pbrt.ts == s->last_ts);
    bson_destroy(&arr);
    /* Batch size cuts the batch; the rest comes next time. */
    insert(s, "n", "{\"_id\": 5, \"type\": \"a\"}");
    insert(s, "n", "{\"_id\": 6, \"type\": \"b\"}");
    CHECK_INT_EQ(fill(st, s, &arr, 1), 1);
    CHECK_STR_EQ(str_at(&arr, "0.fullDocument.type"), "a");
    bson_destroy(&arr);
    CHECK_INT_EQ(fill(st, s, &arr, 1), 1);
    CHECK_STR_EQ(str_at(&arr, "0.fullDocument.type"), "b");
    bson_destroy(&arr);
    CHECK(!emu_stream_has_more(st, s));
    emu_stream_free(st);
    emu_store_free(s);
}

static struct emu_token token_of(const bson_t *arr, const char *path)
{
    struct emu_token t = {0};
    emu_token_parse_hex(str_at(arr, path), strlen(str_at(arr, path)), &t);
    return t;
}

static void test_resume_positions(void)
{
    struct emu_store *s = emu_store_new(100);
    int code;
    struct emu_stream *st = open_stream(s, "{}", NULL, &code);
    insert(s, "n", "{\"_id\": 1}");
    insert(s, "n", "{\"_id\": 2}");
    bson_t arr;
    CHECK_INT_EQ(fill(st, s, &arr, 100), 2);
    struct emu_token t1 = token_of(&arr, "0._id._data");
    CHECK_INT_EQ(t1.kind, EMU_TOKEN_EVENT);
    bson_destroy(&arr);
    emu_stream_free(st);

    char spec[128], hex[EMU_TOKEN_HEX_LEN + 1];
    emu_token_format(&t1, hex);
    snprintf(spec, sizeof spec, "{\"resumeAfter\": {\"_data\": \"%s\"}}", hex);
    st = open_stream(s, spec, NULL, &code);
    CHECK(st != NULL);
    CHECK_INT_EQ(fill(st, s, &arr, 100), 1);
    bson_iter_t it, f;
    bson_iter_init(&it, &arr);
    CHECK(bson_iter_find_descendant(&it, "0.documentKey._id", &f) && bson_iter_as_int64(&f) == 2);
    bson_destroy(&arr);
    emu_stream_free(st);

    /* An event token whose time holds no event: 280. A future one: 280. */
    struct emu_token bogus = {.ts = t1.ts - 1, .kind = EMU_TOKEN_EVENT};
    emu_token_format(&bogus, hex);
    snprintf(spec, sizeof spec, "{\"resumeAfter\": {\"_data\": \"%s\"}}", hex);
    CHECK(open_stream(s, spec, NULL, &code) == NULL);
    CHECK_INT_EQ(code, 280);
    struct emu_token future = {.ts = s->last_ts + 10, .kind = EMU_TOKEN_HWM};
    emu_token_format(&future, hex);
    snprintf(spec, sizeof spec, "{\"resumeAfter\": {\"_data\": \"%s\"}}", hex);
    CHECK(open_stream(s, spec, NULL, &code) == NULL);
    CHECK_INT_EQ(code, 280);

    /* After truncation the old token is lost: 286. */
    emu_token_format(&t1, hex);
    snprintf(spec, sizeof spec, "{\"resumeAfter\": {\"_data\": \"%s\"}}", hex);
    emu_store_truncate_oplog(s);
    CHECK(open_stream(s, spec, NULL, &code) == NULL);
    CHECK_INT_EQ(code, 286);
    /* Two resume options: 40674; an unknown option: 40415. */
    CHECK(open_stream(s, "{\"resumeAfter\": {}, \"startAfter\": {}}", NULL, &code) == NULL);
    CHECK_INT_EQ(code, 40674);
    CHECK(open_stream(s, "{\"bogus\": 1}", NULL, &code) == NULL);
    CHECK_INT_EQ(code, 40415);
    CHECK(open_stream(s, "{}", "[{\"$group\": {}}]", &code) == NULL);
    CHECK_INT_EQ(code, 40324);
    emu_store_free(s);
}

static void test_drop_invalidates(void)
{
    struct emu_store *s = emu_store_new(100);
    int code;
    struct emu_stream *st = open_stream(s, "{}", NULL, &code);
    insert(s, "n", "{\"_id\": 1}");
    CHECK(emu_store_drop(s, "app", "n"));
    bson_t arr;
    CHECK_INT_EQ(fill(st, s, &arr, 100), 3);
    CHECK_STR_EQ(str_at(&arr, "1.operationType"), "drop");
    CHECK_STR_EQ(str_at(&arr, "2.operationType"), "invalidate");
    struct emu_token inv = token_of(&arr, "2._id._data");
    CHECK_INT_EQ(inv.kind, EMU_TOKEN_INVALIDATE);
    CHECK(st->closed);
    CHECK_INT_EQ(st->pbrt.kind, EMU_TOKEN_INVALIDATE);
    bson_destroy(&arr);
    emu_stream_free(st);
    char spec[128], hex[EMU_TOKEN_HEX_LEN + 1];
    emu_token_format(&inv, hex);
    snprintf(spec, sizeof spec, "{\"resumeAfter\": {\"_data\": \"%s\"}}", hex);
    CHECK(open_stream(s, spec, NULL, &code) == NULL);
    CHECK_INT_EQ(code, 260);
    snprintf(spec, sizeof spec, "{\"startAfter\": {\"_data\": \"%s\"}}", hex);
    st = open_stream(s, spec, NULL, &code);
    CHECK(st != NULL);
    insert(s, "n", "{\"_id\": 9}");
    CHECK_INT_EQ(fill(st, s, &arr, 100), 1);
    CHECK_STR_EQ(str_at(&arr, "0.operationType"), "insert");
    bson_destroy(&arr);
    emu_stream_free(st);
    emu_store_free(s);
}

static void test_stream_falls_off_the_oplog(void)
{
    struct emu_store *s = emu_store_new(4);
    int code;
    insert(s, "n", "{\"_id\": 0}");
    struct emu_stream *st = open_stream(s, "{}", NULL, &code);
    for (int i = 1; i <= 6; i++) {
        char d[32];
        snprintf(d, sizeof d, "{\"_id\": %d}", i);
        insert(s, "n", d);
    }
    bson_t arr = BSON_INITIALIZER;
    uint32_t n = 0;
    struct emu_stream_error err;
    CHECK_INT_EQ(emu_stream_fill(st, s, &arr, &n, 100, 1 << 24, &err), -1);
    CHECK_INT_EQ(err.code, 286);
    bson_destroy(&arr);
    emu_stream_free(st);
    emu_store_free(s);
}

int main(void)
{
    RUN(test_documents_and_ids);
    RUN(test_index_grows_a_little_per_insert);
    RUN(test_oplog_ring_and_clock);
    RUN(test_events_and_match);
    RUN(test_resume_positions);
    RUN(test_drop_invalidates);
    RUN(test_stream_falls_off_the_oplog);
    return TEST_REPORT();
}
