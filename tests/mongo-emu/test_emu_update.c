/* test_emu_update.c -- update operators, replacements, _id immutability and upsert seeds. */
#include <stdlib.h>

#include "test.h"
#include "update.h"

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

/* Applies update to doc and compares with want (canonical extended JSON); want NULL expects an
 * error with the given code. */
static void expect(const char *doc, const char *update, bool insert, const char *want, int code)
{
    bson_t *d = J(doc), *u = J(update), out;
    char err[256];
    int got_code = 0;
    int rc = emu_update_apply(d, u, insert, &out, NULL, &got_code, err);
    if (want) {
        CHECK_INT_EQ(rc, 0);
        bson_t *w = J(want);
        if (!bson_equal(&out, w)) {
            char *g = bson_as_canonical_extended_json(&out, NULL);
            TEST_FAIL_AT("%s + %s gave %s, want %s", doc, update, g, want);
            bson_free(g);
        }
        bson_destroy(w);
    } else {
        CHECK_INT_EQ(rc, -1);
        CHECK_INT_EQ(got_code, code);
    }
    bson_destroy(&out);
    bson_destroy(d);
    bson_destroy(u);
}

static void test_set_unset(void)
{
    expect("{\"_id\": 1, \"a\": 1}", "{\"$set\": {\"a\": 2, \"b\": 3}}", false,
           "{\"_id\": 1, \"a\": 2, \"b\": 3}", 0);
    expect("{\"_id\": 1}", "{\"$set\": {\"x.y.z\": 1}}", false,
           "{\"_id\": 1, \"x\": {\"y\": {\"z\": 1}}}", 0);
    expect("{\"_id\": 1, \"x\": {\"k\": 1}}", "{\"$set\": {\"x.j\": 2}}", false,
           "{\"_id\": 1, \"x\": {\"k\": 1, \"j\": 2}}", 0);
    expect("{\"_id\": 1, \"a\": 1, \"b\": {\"c\": 1, \"d\": 2}}",
           "{\"$unset\": {\"a\": \"\", \"b.c\": 1, \"missing\": 1}}", false,
           "{\"_id\": 1, \"b\": {\"d\": 2}}", 0);
    /* A path through a scalar cannot be created. */
    expect("{\"_id\": 1, \"a\": 5}", "{\"$set\": {\"a.b\": 1}}", false, NULL, 28);
}

static void test_inc(void)
{
    expect("{\"_id\": 1, \"n\": 1}", "{\"$inc\": {\"n\": 2, \"m\": 5}}", false,
           "{\"_id\": 1, \"n\": 3, \"m\": 5}", 0);
    expect("{\"_id\": 1, \"n\": 2147483647}", "{\"$inc\": {\"n\": 1}}", false,
           "{\"_id\": 1, \"n\": {\"$numberLong\": \"2147483648\"}}", 0);
    expect("{\"_id\": 1, \"n\": 1}", "{\"$inc\": {\"n\": 0.5}}", false, "{\"_id\": 1, \"n\": 1.5}",
           0);
    expect("{\"_id\": 1, \"n\": \"x\"}", "{\"$inc\": {\"n\": 1}}", false, NULL, 14);
    expect("{\"_id\": 1}", "{\"$inc\": {\"n\": \"x\"}}", false, NULL, 9);
}

static void test_set_on_insert(void)
{
    expect("{\"_id\": 1}", "{\"$set\": {\"a\": 1}, \"$setOnInsert\": {\"c\": 1}}", false,
           "{\"_id\": 1, \"a\": 1}", 0);
    expect("{\"_id\": 1}", "{\"$set\": {\"a\": 1}, \"$setOnInsert\": {\"c\": 1}}", true,
           "{\"_id\": 1, \"a\": 1, \"c\": 1}", 0);
}

static void test_replacement_and_id(void)
{
    expect("{\"_id\": 1, \"a\": 1}", "{\"b\": 2}", false, "{\"_id\": 1, \"b\": 2}", 0);
    expect("{\"_id\": 1, \"a\": 1}", "{\"b\": 2, \"_id\": 1}", false, "{\"_id\": 1, \"b\": 2}", 0);
    expect("{\"_id\": 1}", "{\"_id\": 2}", false, NULL, 66);
    expect("{\"_id\": 1}", "{\"$set\": {\"_id\": 2}}", false, NULL, 66);
    expect("{\"_id\": 1}", "{\"$push\": {\"a\": 1}}", false, NULL, 9);
    expect("{\"_id\": 1}", "{\"$set\": {\"a\": 1}, \"b\": 2}", false, NULL, 9);
    expect("{\"_id\": 1}", "{\"$set\": 5}", false, NULL, 9);
}

static void test_update_description(void)
{
    bson_t *d = J("{\"_id\": 1, \"a\": 1, \"b\": 2}");
    bson_t *u = J("{\"$set\": {\"a\": 5}, \"$unset\": {\"b\": 1}, \"$inc\": {\"c\": 1}}");
    bson_t out;
    struct emu_update_desc desc;
    int code;
    char err[256];
    CHECK_INT_EQ(emu_update_apply(d, u, false, &out, &desc, &code, err), 0);
    bson_t *up = J("{\"a\": 5, \"c\": 1}"), *rm = J("{\"0\": \"b\"}");
    CHECK(bson_equal(&desc.updated, up));
    CHECK(bson_equal(&desc.removed, rm));
    emu_update_desc_cleanup(&desc);
    bson_destroy(&out);
    bson_destroy(up);
    bson_destroy(rm);
    bson_destroy(d);
    bson_destroy(u);
}

static void test_upsert_seed(void)
{
    bson_t *q = J("{\"_id\": \"notifications\", \"k\": {\"$eq\": 2}, \"r\": {\"$gt\": 1}, "
                  "\"$and\": [{\"x.y\": 3}], \"$or\": [{\"z\": 1}]}");
    bson_t seed;
    emu_update_upsert_seed(q, &seed);
    bson_t *want = J("{\"_id\": \"notifications\", \"k\": 2, \"x\": {\"y\": 3}}");
    CHECK(bson_equal(&seed, want));
    bson_destroy(&seed);
    bson_destroy(want);
    bson_destroy(q);
}

int main(void)
{
    RUN(test_set_unset);
    RUN(test_inc);
    RUN(test_set_on_insert);
    RUN(test_replacement_and_id);
    RUN(test_update_description);
    RUN(test_upsert_seed);
    return TEST_REPORT();
}
