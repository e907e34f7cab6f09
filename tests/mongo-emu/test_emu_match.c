/* test_emu_match.c -- the query matcher and projection against MongoDB's documented rules. */
#include <stdlib.h>

#include "doc.h"
#include "match.h"
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

static bool m(const char *filter, const char *doc)
{
    bson_t *f = J(filter), *d = J(doc);
    char err[256];
    if (emu_match_validate(f, err) < 0) {
        fprintf(stderr, "filter %s refused: %s\n", filter, err);
        bson_destroy(f);
        bson_destroy(d);
        return false;
    }
    bool r = emu_match(f, d);
    bson_destroy(f);
    bson_destroy(d);
    return r;
}

static void test_equality(void)
{
    CHECK(m("{}", "{\"a\": 1}"));
    CHECK(m("{\"a\": 1}", "{\"a\": 1}"));
    CHECK(m("{\"a\": 1}", "{\"a\": 1.0}")); /* numbers compare by value */
    CHECK(m("{\"a\": 1}", "{\"a\": {\"$numberLong\": \"1\"}}"));
    CHECK(!m("{\"a\": 1}", "{\"a\": \"1\"}"));
    CHECK(!m("{\"a\": 1, \"b\": 2}", "{\"a\": 1}"));
    CHECK(m("{\"a\": {\"x\": 1}}", "{\"a\": {\"x\": 1}}"));
    CHECK(!m("{\"a\": {\"x\": 1}}", "{\"a\": {\"x\": 1, \"y\": 2}}"));
}

static void test_arrays_and_paths(void)
{
    CHECK(m("{\"tags\": \"b\"}", "{\"tags\": [\"a\", \"b\"]}"));
    CHECK(m("{\"tags\": [\"a\", \"b\"]}", "{\"tags\": [\"a\", \"b\"]}"));
    CHECK(!m("{\"tags\": \"c\"}", "{\"tags\": [\"a\", \"b\"]}"));
    CHECK(m("{\"fullDocument.type\": \"x\"}", "{\"fullDocument\": {\"type\": \"x\"}}"));
    CHECK(m("{\"a.b\": 2}", "{\"a\": [{\"b\": 1}, {\"b\": 2}]}"));
    CHECK(m("{\"a.1.b\": 2}", "{\"a\": [{\"b\": 1}, {\"b\": 2}]}"));
    CHECK(!m("{\"a.0.b\": 2}", "{\"a\": [{\"b\": 1}, {\"b\": 2}]}"));
}

static void test_null_and_exists(void)
{
    CHECK(m("{\"a\": null}", "{\"b\": 1}"));
    CHECK(m("{\"a\": null}", "{\"a\": null}"));
    CHECK(!m("{\"a\": null}", "{\"a\": 0}"));
    CHECK(m("{\"fullDocument.type\": {\"$exists\": true}}", "{\"fullDocument\": {\"type\": 1}}"));
    CHECK(!m("{\"fullDocument.type\": {\"$exists\": true}}", "{\"fullDocument\": {\"no\": 1}}"));
    CHECK(m("{\"fullDocument.type\": {\"$exists\": false}}", "{\"fullDocument\": {}}"));
    CHECK(m("{\"a\": {\"$exists\": true}}", "{\"a\": null}"));
}

static void test_comparisons(void)
{
    CHECK(m("{\"n\": {\"$gt\": 5}}", "{\"n\": 6}"));
    CHECK(!m("{\"n\": {\"$gt\": 5}}", "{\"n\": 5}"));
    CHECK(m("{\"n\": {\"$gte\": 5, \"$lt\": 6}}", "{\"n\": 5.5}"));
    CHECK(m("{\"n\": {\"$lte\": 5}}", "{\"n\": {\"$numberLong\": \"5\"}}"));
    /* Type bracketing: a string is not greater than a number. */
    CHECK(!m("{\"n\": {\"$gt\": 5}}", "{\"n\": \"zzz\"}"));
    CHECK(!m("{\"n\": {\"$lt\": 5}}", "{}"));
    CHECK(m("{\"s\": {\"$gt\": \"a\"}}", "{\"s\": \"b\"}"));
    CHECK(m("{\"n\": {\"$gt\": 5}}", "{\"n\": [1, 9]}"));
    CHECK(m("{\"a\": {\"$ne\": 1}}", "{}"));
    CHECK(!m("{\"a\": {\"$ne\": 1}}", "{\"a\": 1}"));
    CHECK(!m("{\"a\": {\"$ne\": 1}}", "{\"a\": [2, 1]}"));
    CHECK(m("{\"a\": {\"$eq\": 2}}", "{\"a\": 2}"));
    CHECK(m("{\"a\": {\"$not\": {\"$gt\": 5}}}", "{\"a\": 3}"));
    CHECK(!m("{\"a\": {\"$not\": {\"$gt\": 5}}}", "{\"a\": 7}"));
}

static void test_in_nin(void)
{
    CHECK(m("{\"a\": {\"$in\": [1, 2]}}", "{\"a\": 2}"));
    CHECK(!m("{\"a\": {\"$in\": [1, 2]}}", "{\"a\": 3}"));
    CHECK(m("{\"a\": {\"$in\": [null]}}", "{}"));
    CHECK(m("{\"a\": {\"$in\": [\"x\"]}}", "{\"a\": [\"y\", \"x\"]}"));
    CHECK(m("{\"a\": {\"$nin\": [1, 2]}}", "{\"a\": 3}"));
    CHECK(!m("{\"a\": {\"$nin\": [1, 2]}}", "{\"a\": 1}"));
}

static void test_logical(void)
{
    const char *f = "{\"$and\": [{\"operationType\": \"insert\", \"fullDocument.type\": "
                    "{\"$exists\": true}}]}";
    /* Every field of each $and element counts (mongoc_matcher only checked the first one). */
    CHECK(!m(f, "{\"operationType\": \"insert\", \"fullDocument\": {\"x\": 1}}"));
    CHECK(m(f, "{\"operationType\": \"insert\", \"fullDocument\": {\"type\": 1}}"));
    CHECK(m("{\"$or\": [{\"a\": 1}, {\"b\": 2}]}", "{\"b\": 2}"));
    CHECK(!m("{\"$or\": [{\"a\": 1}, {\"b\": 2}]}", "{\"b\": 3}"));
    CHECK(m("{\"$nor\": [{\"a\": 1}, {\"b\": 2}]}", "{\"b\": 3}"));
    CHECK(!m("{\"$nor\": [{\"a\": 1}, {\"b\": 2}]}", "{\"a\": 1}"));
}

static void test_validation(void)
{
    char err[256];
    const char *bad[] = {
        "{\"a\": {\"$regex\": \"x\"}}",
        "{\"$where\": \"1\"}",
        "{\"a\": {\"$in\": 1}}",
        "{\"$and\": []}",
        "{\"$or\": [1]}",
        "{\"$and\": {\"a\": 1}}",
        "{\"a\": {\"$not\": 1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bson_t *f = J(bad[i]);
        if (emu_match_validate(f, err) != -1)
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK_INT_EQ(emu_match_validate(f, err), -1);
        bson_destroy(f);
    }
}

static void test_projection(void)
{
    bson_t *d = J("{\"_id\": 1, \"a\": 1, \"b\": {\"c\": 2, \"d\": 3}, \"e\": 4}");
    bson_t out;
    char err[256];
    bson_t *spec = J("{\"a\": 1, \"b.c\": 1}");
    CHECK_INT_EQ(emu_doc_project(d, spec, &out, err), 0);
    bson_t *want = J("{\"_id\": 1, \"a\": 1, \"b\": {\"c\": 2}}");
    CHECK(bson_equal(&out, want));
    bson_destroy(&out);
    bson_destroy(want);
    bson_destroy(spec);
    spec = J("{\"b.d\": 0, \"_id\": 0}");
    CHECK_INT_EQ(emu_doc_project(d, spec, &out, err), 0);
    want = J("{\"a\": 1, \"b\": {\"c\": 2}, \"e\": 4}");
    CHECK(bson_equal(&out, want));
    bson_destroy(&out);
    bson_destroy(want);
    bson_destroy(spec);
    spec = J("{\"a\": 1, \"e\": 0}");
    CHECK_INT_EQ(emu_doc_project(d, spec, &out, err), -1);
    bson_destroy(&out);
    bson_destroy(spec);
    bson_destroy(d);
}

static void test_id_keys(void)
{
    bson_value_t a = {.value_type = BSON_TYPE_INT32, .value.v_int32 = 7};
    bson_value_t b = {.value_type = BSON_TYPE_DOUBLE, .value.v_double = 7.0};
    bson_value_t c = {.value_type = BSON_TYPE_DOUBLE, .value.v_double = 7.5};
    struct gw_buf ka = GW_BUF_INIT, kb = GW_BUF_INIT, kc = GW_BUF_INIT;
    emu_doc_id_key(&a, &ka);
    emu_doc_id_key(&b, &kb);
    emu_doc_id_key(&c, &kc);
    CHECK_MEM_EQ(ka.data, ka.len, kb.data, kb.len);
    CHECK(ka.len != kc.len || memcmp(ka.data, kc.data, ka.len) != 0);
    gw_buf_free(&ka);
    gw_buf_free(&kb);
    gw_buf_free(&kc);
}

int main(void)
{
    RUN(test_equality);
    RUN(test_arrays_and_paths);
    RUN(test_null_and_exists);
    RUN(test_comparisons);
    RUN(test_in_nin);
    RUN(test_logical);
    RUN(test_validation);
    RUN(test_projection);
    RUN(test_id_keys);
    return TEST_REPORT();
}
