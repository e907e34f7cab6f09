/* test_notice.c -- change event -> notification: the BSON -> JSON mapping of design §4.2 value by
 * value, the exact bytes of a typical notification, every refusal gw_notice_build() can return,
 * and cross-checks against independent readers (strtod for doubles, gmtime_r for dates,
 * jansson for JSON and UTF-8 validity).
 */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw/eio_codec.h"
#include "gw/notice.h"
#include "test.h"

#define OID_HEX "65f1c0ffee0123456789abcd"
#define OID_SECS 1710342399               /* 0x65f1c0ff, the ObjectId's timestamp */
#define CREATED_MS INT64_C(1795433400000) /* 2026-11-23T11:30:00.000Z */

/* Converts doc; returns a new string (free it) or NULL when the converter refused. */
static char *json_of(const bson_t *doc)
{
    struct gw_buf b = GW_BUF_INIT;
    char err[GW_ERR_LEN] = "";
    if (gw_notice_bson_to_json(doc, &b, err) < 0) {
        CHECK(err[0] != '\0');
        gw_buf_free(&b);
        return NULL;
    }
    CHECK(gw_utf8_valid(b.data, b.len));
    return gw_buf_steal(&b, NULL);
}

#define CHECK_JSON(doc, want)                                                                      \
    do {                                                                                           \
        char *got_ = json_of(doc);                                                                 \
        CHECK_STR_EQ(got_, want);                                                                  \
        free(got_);                                                                                \
    } while (0)

/* JSON of {"v": <double>} as text, for the number alone. */
static char *double_text(double d)
{
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_DOUBLE(&doc, "v", d);
    char *j = json_of(&doc);
    bson_destroy(&doc);
    GW_ASSERT(j && strncmp(j, "{\"v\":", 5) == 0);
    size_t n = strlen(j);
    memmove(j, j + 5, n - 5);
    j[n - 6] = '\0';
    return j;
}

static char *date_text(int64_t ms)
{
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_DATE_TIME(&doc, "v", ms);
    char *j = json_of(&doc);
    bson_destroy(&doc);
    GW_ASSERT(j && strncmp(j, "{\"v\":", 5) == 0);
    size_t n = strlen(j);
    memmove(j, j + 5, n - 5);
    j[n - 6] = '\0';
    return j;
}

/* JSON of a document holding one UTF-8 string of n raw bytes. */
static char *string_json(const char *s, size_t n)
{
    bson_t doc = BSON_INITIALIZER;
    bson_append_utf8(&doc, "s", 1, s, (int)n);
    char *j = json_of(&doc);
    bson_destroy(&doc);
    return j;
}

static void typical_notification(bson_t *doc)
{
    bson_oid_t oid;
    bson_t data, items;
    bson_oid_init_from_string(&oid, OID_HEX);
    bson_init(doc);
    BSON_APPEND_OID(doc, "_id", &oid);
    BSON_APPEND_UTF8(doc, "userId", "u42");
    BSON_APPEND_UTF8(doc, "type", "order_shipped");
    BSON_APPEND_UTF8(doc, "title", "Your order has shipped");
    BSON_APPEND_UTF8(doc, "message", "Order #7 is on its way");
    BSON_APPEND_DOCUMENT_BEGIN(doc, "data", &data);
    BSON_APPEND_INT32(&data, "orderId", 7);
    BSON_APPEND_ARRAY_BEGIN(&data, "items", &items);
    BSON_APPEND_UTF8(&items, "0", "book");
    BSON_APPEND_INT64(&items, "1", 2);
    BSON_APPEND_DOUBLE(&items, "2", 19.99);
    bson_append_array_end(&data, &items);
    bson_append_document_end(doc, &data);
    BSON_APPEND_BOOL(doc, "read", false);
    BSON_APPEND_DATE_TIME(doc, "createdAt", CREATED_MS);
}

#define TYPICAL_JSON                                                                               \
    "{\"_id\":\"" OID_HEX "\",\"userId\":\"u42\",\"type\":\"order_shipped\","                      \
    "\"title\":\"Your order has shipped\",\"message\":\"Order #7 is on its way\","                 \
    "\"data\":{\"orderId\":7,\"items\":[\"book\",2,19.99]},\"read\":false,"                        \
    "\"createdAt\":\"2026-11-23T11:30:00.000Z\"}"

/* A change event as a 6.0 server sends it for an insert of full (borrowed). */
static void change_event(bson_t *ev, const char *op, const bson_t *full)
{
    bson_t token, ns, key;
    bson_init(ev);
    BSON_APPEND_DOCUMENT_BEGIN(ev, "_id", &token);
    BSON_APPEND_UTF8(&token, "_data", "82656B3F2B000000012B022C0100296E5A1004");
    bson_append_document_end(ev, &token);
    if (op)
        BSON_APPEND_UTF8(ev, "operationType", op);
    BSON_APPEND_TIMESTAMP(ev, "clusterTime", 1795433400, 1);
    BSON_APPEND_DATE_TIME(ev, "wallTime", CREATED_MS);
    if (full)
        BSON_APPEND_DOCUMENT(ev, "fullDocument", full);
    BSON_APPEND_DOCUMENT_BEGIN(ev, "ns", &ns);
    BSON_APPEND_UTF8(&ns, "db", "app");
    BSON_APPEND_UTF8(&ns, "coll", "notifications");
    bson_append_document_end(ev, &ns);
    BSON_APPEND_DOCUMENT_BEGIN(ev, "documentKey", &key);
    bson_iter_t it;
    if (full && bson_iter_init_find(&it, full, "_id"))
        bson_append_iter(&key, "_id", 3, &it);
    bson_append_document_end(ev, &key);
}

static enum gw_notice_status build(const bson_t *full, const struct gw_notice_options *opt,
                                   struct gw_notice *n)
{
    bson_t ev;
    change_event(&ev, "insert", full);
    enum gw_notice_status st = gw_notice_build(&ev, opt, n);
    bson_destroy(&ev);
    return st;
}

/* Status of building an event for full; releases whatever was built. */
static enum gw_notice_status status_of(const bson_t *full, const struct gw_notice_options *opt)
{
    struct gw_notice n;
    enum gw_notice_status st = build(full, opt, &n);
    if (st != GW_NOTICE_OK) {
        CHECK(n.msg == NULL && n.id_len == 0 && n.id[0] == '\0');
        CHECK(strlen(gw_notice_strerror(st)) > 10);
    }
    gw_notice_clear(&n);
    return st;
}

/* A minimal routable notification with the user field given by the caller. */
static void base_doc(bson_t *doc)
{
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, OID_HEX);
    bson_init(doc);
    BSON_APPEND_OID(doc, "_id", &oid);
    BSON_APPEND_UTF8(doc, "type", "t");
}

/* ---- the mapping ----------------------------------------------------------------------- */

static void test_typical_json(void)
{
    bson_t doc;
    typical_notification(&doc);
    CHECK_JSON(&doc, TYPICAL_JSON);
    bson_destroy(&doc);
}

static void test_key_order_kept(void)
{
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_INT32(&doc, "zeta", 1);
    BSON_APPEND_INT32(&doc, "alpha", 2);
    BSON_APPEND_INT32(&doc, "mid", 3);
    BSON_APPEND_INT32(&doc, "10", 4);
    BSON_APPEND_INT32(&doc, "2", 5);
    CHECK_JSON(&doc, "{\"zeta\":1,\"alpha\":2,\"mid\":3,\"10\":4,\"2\":5}");
    bson_destroy(&doc);

    bson_t empty = BSON_INITIALIZER, outer = BSON_INITIALIZER, a, d;
    CHECK_JSON(&empty, "{}");
    BSON_APPEND_ARRAY_BEGIN(&outer, "a", &a);
    bson_append_array_end(&outer, &a);
    BSON_APPEND_DOCUMENT_BEGIN(&outer, "d", &d);
    bson_append_document_end(&outer, &d);
    CHECK_JSON(&outer, "{\"a\":[],\"d\":{}}");
    bson_destroy(&outer);
}

static void test_every_type(void)
{
    bson_t doc = BSON_INITIALIZER, arr;
    bson_oid_t oid;
    bson_decimal128_t dec;
    static const uint8_t uuid[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                     0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    bson_t scope = BSON_INITIALIZER;
    BSON_APPEND_INT32(&scope, "x", 1);
    bson_oid_init_from_string(&oid, "00000000000000000000000A");
    bson_decimal128_from_string("1.10", &dec);

    BSON_APPEND_DOUBLE(&doc, "double", 1.5);
    BSON_APPEND_UTF8(&doc, "string", "s");
    BSON_APPEND_ARRAY_BEGIN(&doc, "array", &arr);
    BSON_APPEND_INT32(&arr, "0", 1);
    BSON_APPEND_NULL(&arr, "1");
    bson_append_array_end(&doc, &arr);
    BSON_APPEND_BINARY(&doc, "binary", BSON_SUBTYPE_BINARY, (const uint8_t *)"foobar", 6);
    BSON_APPEND_BINARY(&doc, "uuid", BSON_SUBTYPE_UUID, uuid, 16);
    BSON_APPEND_BINARY(&doc, "uuid15", BSON_SUBTYPE_UUID, uuid, 15);
    BSON_APPEND_BINARY(&doc, "legacyUuid", BSON_SUBTYPE_UUID_DEPRECATED, uuid, 16);
    BSON_APPEND_UNDEFINED(&doc, "undefined");
    BSON_APPEND_OID(&doc, "oid", &oid);
    BSON_APPEND_BOOL(&doc, "true", true);
    BSON_APPEND_DATE_TIME(&doc, "date", 1);
    BSON_APPEND_NULL(&doc, "null");
    BSON_APPEND_REGEX(&doc, "regex", "^a\"b/", "im");
    BSON_APPEND_DBPOINTER(&doc, "dbpointer", "users", &oid);
    BSON_APPEND_CODE(&doc, "code", "function(){return 1}");
    BSON_APPEND_SYMBOL(&doc, "symbol", "sym");
    BSON_APPEND_CODE_WITH_SCOPE(&doc, "codews", "x+1", &scope);
    BSON_APPEND_INT32(&doc, "int32", -2147483647 - 1);
    BSON_APPEND_TIMESTAMP(&doc, "timestamp", 4294967295u, 7);
    BSON_APPEND_INT64(&doc, "int64", INT64_MIN);
    BSON_APPEND_DECIMAL128(&doc, "decimal", &dec);
    BSON_APPEND_MINKEY(&doc, "min");
    BSON_APPEND_MAXKEY(&doc, "max");
    CHECK_JSON(&doc, "{\"double\":1.5,\"string\":\"s\",\"array\":[1,null],"
                     "\"binary\":\"Zm9vYmFy\","
                     "\"uuid\":\"00112233-4455-6677-8899-aabbccddeeff\","
                     "\"uuid15\":\"ABEiM0RVZneImaq7zN3u\","
                     "\"legacyUuid\":\"ABEiM0RVZneImaq7zN3u/w==\","
                     "\"undefined\":null,\"oid\":\"00000000000000000000000a\",\"true\":true,"
                     "\"date\":\"1970-01-01T00:00:00.001Z\",\"null\":null,"
                     "\"regex\":\"/^a\\\"b//im\","
                     "\"dbpointer\":{\"$ref\":\"users\",\"$id\":\"00000000000000000000000a\"},"
                     "\"code\":\"function(){return 1}\",\"symbol\":\"sym\",\"codews\":\"x+1\","
                     "\"int32\":-2147483648,\"timestamp\":{\"t\":4294967295,\"i\":7},"
                     "\"int64\":-9223372036854775808,\"decimal\":\"1.10\","
                     "\"min\":{\"$minKey\":1},\"max\":{\"$maxKey\":1}}");
    bson_destroy(&doc);
    bson_destroy(&scope);
}

static void test_int_extremes(void)
{
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_INT64(&doc, "max", INT64_MAX);
    BSON_APPEND_INT64(&doc, "min", INT64_MIN);
    BSON_APPEND_INT64(&doc, "big", (INT64_C(1) << 53) + 1);
    BSON_APPEND_INT64(&doc, "zero", 0);
    BSON_APPEND_INT32(&doc, "i32max", 2147483647);
    BSON_APPEND_INT32(&doc, "neg", -7);
    CHECK_JSON(&doc, "{\"max\":9223372036854775807,\"min\":-9223372036854775808,"
                     "\"big\":9007199254740993,\"zero\":0,\"i32max\":2147483647,\"neg\":-7}");
    bson_destroy(&doc);
}

static void test_decimal128(void)
{
    static const char *cases[][2] = {
        {"1.10", "\"1.10\""},
        {"-0", "\"-0\""},
        {"NaN", "\"NaN\""},
        {"-Infinity", "\"-Infinity\""},
        {"0.000001234", "\"0.000001234\""},
        {"1E+6111", "\"1E+6111\""},
        {"1234567890123456789012345678901234E-40", "\"1.234567890123456789012345678901234E-7\""},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        bson_decimal128_t dec;
        bson_t doc = BSON_INITIALIZER;
        char want[128];
        char dstr[BSON_DECIMAL128_STRING];
        if (!bson_decimal128_from_string(cases[i][0], &dec))
            TEST_FAIL_AT("libbson refused %s", cases[i][0]);
        bson_decimal128_to_string(&dec, dstr);
        /* libbson's own text, pinned so a change in it shows up here */
        snprintf(want, sizeof(want), "{\"d\":\"%s\"}", dstr);
        BSON_APPEND_DECIMAL128(&doc, "d", &dec);
        CHECK_JSON(&doc, want);
        snprintf(want, sizeof(want), "{\"d\":%s}", cases[i][1]);
        CHECK_JSON(&doc, want);
        bson_destroy(&doc);
    }
}

static void test_binary_base64(void)
{
    /* RFC 4648 §10 test vectors */
    static const char *vec[][2] = {{"", ""},
                                   {"f", "Zg=="},
                                   {"fo", "Zm8="},
                                   {"foo", "Zm9v"},
                                   {"foob", "Zm9vYg=="},
                                   {"fooba", "Zm9vYmE="},
                                   {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < GW_ARRAY_SIZE(vec); i++) {
        bson_t doc = BSON_INITIALIZER;
        char want[64];
        BSON_APPEND_BINARY(&doc, "b", BSON_SUBTYPE_BINARY, (const uint8_t *)vec[i][0],
                           (uint32_t)strlen(vec[i][0]));
        snprintf(want, sizeof(want), "{\"b\":\"%s\"}", vec[i][1]);
        CHECK_JSON(&doc, want);
        bson_destroy(&doc);
    }
    /* every byte value, and the characters of the standard (not URL) alphabet */
    uint8_t all[3] = {0xfb, 0xff, 0xbf};
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_BINARY(&doc, "b", BSON_SUBTYPE_USER, all, 3);
    CHECK_JSON(&doc, "{\"b\":\"+/+/\"}");
    bson_destroy(&doc);
}

static void test_strings_escaped(void)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"plain", 5, "{\"s\":\"plain\"}"},
        {"a\"b\\c/d", 7, "{\"s\":\"a\\\"b\\\\c/d\"}"},
        {"\b\f\n\r\t", 5, "{\"s\":\"\\b\\f\\n\\r\\t\"}"},
        {"\x01\x1f\x7f", 3, "{\"s\":\"\\u0001\\u001f\x7f\"}"},
        {"a\0b", 3, "{\"s\":\"a\\u0000b\"}"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
         "{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}"},
        /* invalid UTF-8: one U+FFFD per maximal ill-formed subpart */
        {"a\x80z", 3, "{\"s\":\"a\xef\xbf\xbdz\"}"},
        {"\xc0\xaf", 2, "{\"s\":\"\xef\xbf\xbd\xef\xbf\xbd\"}"},                 /* overlong '/' */
        {"\xe0\x80\xaf", 3, "{\"s\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}"}, /* overlong */
        {"\xed\xa0\x80", 3, "{\"s\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}"}, /* surrogate */
        {"\xf4\x90\x80\x80", 4,
         "{\"s\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}"}, /* > U+10FFFF */
        {"\xe2\x82", 2, "{\"s\":\"\xef\xbf\xbd\"}"},                      /* truncated at end */
        {"\xe2\x82z", 3, "{\"s\":\"\xef\xbf\xbdz\"}"},                    /* truncated inside */
        {"\xf0\x9f\x98", 3, "{\"s\":\"\xef\xbf\xbd\"}"},
        {"\xfe\xff", 2, "{\"s\":\"\xef\xbf\xbd\xef\xbf\xbd\"}"},
        {"\xf4\x8f\xbf\xbf", 4, "{\"s\":\"\xf4\x8f\xbf\xbf\"}"}, /* U+10FFFF is valid */
        {"\xed\x9f\xbf", 3, "{\"s\":\"\xed\x9f\xbf\"}"},         /* U+D7FF is valid */
        {"\xe2\x80\xa8", 3, "{\"s\":\"\xe2\x80\xa8\"}"},         /* U+2028 kept, JSON allows it */
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        char *got = string_json(cases[i].in, cases[i].len);
        CHECK_STR_EQ(got, cases[i].want);
        /* an independent parser must accept it and read back the same text */
        json_error_t jerr;
        json_t *v = got ? json_loads(got, JSON_ALLOW_NUL, &jerr) : NULL;
        CHECK(v != NULL);
        if (v) {
            json_t *want = json_loads(cases[i].want, JSON_ALLOW_NUL, &jerr);
            CHECK(json_equal(v, want));
            json_decref(want);
        }
        json_decref(v);
        free(got);
    }
}

static void test_keys_escaped(void)
{
    bson_t doc = BSON_INITIALIZER;
    bson_append_int32(&doc, "q\"k\n", -1, 1);
    bson_append_int32(&doc, "bad\xff", -1, 2);
    bson_append_int32(&doc, "", -1, 3);
    CHECK_JSON(&doc, "{\"q\\\"k\\n\":1,\"bad\xef\xbf\xbd\":2,\"\":3}");
    bson_destroy(&doc);
}

static void test_doubles(void)
{
    static const struct {
        double d;
        const char *want; /* what JavaScript's String(d) prints */
    } cases[] = {
        {0.1, "0.1"},
        {3.0, "3"},
        {-1.5, "-1.5"},
        {19.99, "19.99"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e300, "1e+300"},
        {1e21, "1e+21"},
        {1e20, "100000000000000000000"},
        {123456789012345680000.0, "123456789012345680000"},
        {1.5e21, "1.5e+21"},
        {1e-6, "0.000001"},
        {1.2345e-5, "0.000012345"},
        {1e-7, "1e-7"},
        {-2.5e-8, "-2.5e-8"},
        {5e-324, "5e-324"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {9007199254740992.0, "9007199254740992"},
        {123.456, "123.456"},
        {0.5, "0.5"},
        {100, "100"},
        {-0.0, "-0"},
        {0.0, "0"},
        {NAN, "null"},
        {INFINITY, "null"},
        {-INFINITY, "null"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        char *got = double_text(cases[i].d);
        CHECK_STR_EQ(got, cases[i].want);
        free(got);
    }
}

/* xorshift64: the next state of *x, as the bits of a double. */
static double next_double(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    double d;
    memcpy(&d, x, sizeof(d));
    return d;
}

/* Every finite double reads back bit for bit, with no more than 17 significant digits. */
static void test_doubles_round_trip(void)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        double d = next_double(&x);
        if (!isfinite(d))
            continue;
        if (i % 2)
            d = (double)(int64_t)(x % 2000001) / 1000.0 - 1000.0; /* "human" values too */
        char *t = double_text(d);
        double back = strtod(t, NULL);
        if (memcmp(&back, &d, sizeof(d)) != 0 || strlen(t) > 25) {
            if (bad++ < 5)
                TEST_FAIL_AT("%.17g printed as %s", d, t);
        }
        free(t);
    }
    CHECK_INT_EQ(bad, 0);
}

/* The reference for "shortest": try every length from 1 to 17 and keep the first that reads
 * back (the codec tries only 15 to 17, and integers not at all). */
static size_t shortest_length(double d)
{
    char text[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(text, sizeof(text), "%.*e", prec - 1, fabs(d));
        if (strtod(text, NULL) == fabs(d))
            return (size_t)prec;
    }
    return 17;
}

/* Significant digits in a JSON number as the codec prints it. */
static size_t significant_digits(const char *t)
{
    size_t n = 0, zeros = 0;
    int started = 0;
    for (; *t && *t != 'e'; t++) {
        if (*t < '0' || *t > '9')
            continue;
        if (*t == '0' && !started)
            continue;
        started = 1;
        if (*t == '0') {
            zeros++;
        } else {
            n += zeros + 1;
            zeros = 0;
        }
    }
    return n ? n : 1;
}

/* No other length reads back in fewer digits, for random bit patterns, human decimals,
 * integers near 2^53 and microsecond timestamps. */
static void test_doubles_shortest(void)
{
    uint64_t x = 0x2545f4914f6cdd1du;
    int bad = 0;
    for (int i = 0; i < 40000; i++) {
        double d = next_double(&x);
        switch (i % 4) {
        case 1:
            d = (double)(int64_t)(x % 2000001) / 1000.0 - 1000.0;
            break;
        case 2:
            d = 9007199254740992.0 - (double)(x % 4096) + (i % 8 == 2 ? 0.5 : 0);
            break;
        case 3:
            d = i % 16 == 3 ? ldexp((double)(x % 4503599627370496u), -1074) /* subnormal */
                            : 1.7e15 + (double)(x % 100000000000u);
            break;
        }
        if (!isfinite(d) || d == 0)
            continue;
        char *t = double_text(d);
        size_t got = significant_digits(t), want = shortest_length(d);
        if (got != want && bad++ < 5)
            TEST_FAIL_AT("%.17g printed as %s: %zu digits, shortest is %zu", d, t, got, want);
        free(t);
    }
    CHECK_INT_EQ(bad, 0);
}

static void test_dates(void)
{
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "\"1970-01-01T00:00:00.000Z\""},
        {-1, "\"1969-12-31T23:59:59.999Z\""},
        {CREATED_MS, "\"2026-11-23T11:30:00.000Z\""},
        {CREATED_MS + 7, "\"2026-11-23T11:30:00.007Z\""},
        {INT64_C(951825600000), "\"2000-02-29T12:00:00.000Z\""},
        {INT64_C(-2203891200000), "\"1900-03-01T00:00:00.000Z\""},
        {INT64_C(-62167219200000), "\"0000-01-01T00:00:00.000Z\""},
        {INT64_C(253402300799999), "\"9999-12-31T23:59:59.999Z\""},
        {INT64_C(-62167219200001), "-62167219200001"},
        {INT64_C(253402300800000), "253402300800000"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        char *got = date_text(cases[i].ms);
        CHECK_STR_EQ(got, cases[i].want);
        free(got);
    }
}

/* Dates across the ISO range agree with the C library's own calendar. */
static void test_dates_match_gmtime(void)
{
    uint64_t x = 0x2545f4914f6cdd1du;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t span = INT64_C(253402300799999) - INT64_C(-62167219200000) + 1;
        int64_t ms = INT64_C(-62167219200000) + (int64_t)(x % (uint64_t)span);
        int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
        time_t t = (time_t)secs;
        struct tm tm;
        char want[64];
        GW_ASSERT(gmtime_r(&t, &tm));
        snprintf(want, sizeof(want), "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms - secs * 1000));
        char *got = date_text(ms);
        if (strcmp(got, want) != 0 && bad++ < 5)
            TEST_FAIL_AT("%" PRId64 ": %s != %s", ms, got, want);
        free(got);
    }
    CHECK_INT_EQ(bad, 0);
}

/* A document exactly `levels` deep (the top level counts as one), wrapping alternately as a
 * sub-document and as an array: every wrapper holds its inner value under "0". */
static void nested(bson_t *out, int levels)
{
    bson_t inner;
    bson_init(&inner);
    BSON_APPEND_INT32(&inner, "0", 1);
    for (int i = 1; i < levels; i++) {
        bson_init(out);
        if (i % 2)
            BSON_APPEND_ARRAY(out, "0", &inner);
        else
            BSON_APPEND_DOCUMENT(out, "0", &inner);
        bson_destroy(&inner);
        bson_steal(&inner, out);
    }
    bson_steal(out, &inner);
}

static int depth_ok(int levels)
{
    bson_t doc;
    nested(&doc, levels);
    char *j = json_of(&doc);
    bson_destroy(&doc);
    free(j);
    return j != NULL;
}

static void test_depth_guard(void)
{
    CHECK(depth_ok(1));
    CHECK(depth_ok(101));
    CHECK(depth_ok(GW_NOTICE_MAX_DEPTH));
    CHECK(!depth_ok(GW_NOTICE_MAX_DEPTH + 1));
    CHECK(!depth_ok(1000));

    /* the helper builds what it says: count the levels independently */
    bson_t doc;
    nested(&doc, GW_NOTICE_MAX_DEPTH + 1);
    bson_iter_t it;
    int levels = 1;
    bson_iter_init(&it, &doc);
    while (bson_iter_next(&it) && (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it))) {
        bson_iter_t child;
        bson_iter_recurse(&it, &child);
        it = child;
        levels++;
    }
    CHECK_INT_EQ(levels, GW_NOTICE_MAX_DEPTH + 1);
    bson_destroy(&doc);

    bson_t small;
    nested(&small, 4);
    CHECK_JSON(&small, "{\"0\":[{\"0\":[1]}]}");
    bson_destroy(&small);
}

static void test_corrupt_bson(void)
{
    /* {"a": "x"} whose string claims 100 bytes */
    static const uint8_t bad_string[] = {14, 0, 0, 0, 0x02, 'a', 0, 100, 0, 0, 0, 'x', 0, 0};
    /* {"d": {}} whose inner document claims 50 bytes */
    static const uint8_t bad_inner[] = {13, 0, 0, 0, 0x03, 'd', 0, 50, 0, 0, 0, 0, 0};
    /* {"a": <type 0x42>} */
    static const uint8_t bad_type[] = {12, 0, 0, 0, 0x42, 'a', 0, 1, 0, 0, 0, 0};
    const uint8_t *docs[] = {bad_string, bad_inner, bad_type};
    size_t lens[] = {sizeof(bad_string), sizeof(bad_inner), sizeof(bad_type)};
    for (size_t i = 0; i < GW_ARRAY_SIZE(docs); i++) {
        bson_t doc;
        CHECK(bson_init_static(&doc, docs[i], lens[i]));
        struct gw_buf b = GW_BUF_INIT;
        char err[GW_ERR_LEN] = "";
        gw_buf_append_str(&b, "keep");
        CHECK_INT_EQ(gw_notice_bson_to_json(&doc, &b, err), -1);
        CHECK(strstr(err, "corrupt") != NULL);
        CHECK_MEM_EQ(b.data, b.len, "keep", 4); /* the buffer is as it was */
        CHECK_INT_EQ(b.data[b.len], 0);
        gw_buf_free(&b);
    }
}

static void test_appends(void)
{
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_INT32(&doc, "n", 1);
    struct gw_buf b = GW_BUF_INIT;
    gw_buf_append_str(&b, "[");
    CHECK_INT_EQ(gw_notice_bson_to_json(&doc, &b, NULL), 0);
    gw_buf_append_str(&b, ",");
    CHECK_INT_EQ(gw_notice_bson_to_json(&doc, &b, NULL), 0);
    CHECK_STR_EQ(b.data, "[{\"n\":1},{\"n\":1}");
    gw_buf_free(&b);
    bson_destroy(&doc);
}

/* ---- gw_notice_build -------------------------------------------------------------------- */

static void test_build_typical(void)
{
    bson_t doc;
    struct gw_notice n;
    typical_notification(&doc);
    CHECK_INT_EQ(build(&doc, NULL, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.user_id, "u42");
    CHECK_INT_EQ(n.user_id_len, 3);
    const char *want = "42[\"notification\"," TYPICAL_JSON ",\"" OID_HEX "\"]";
    CHECK(n.msg != NULL && !n.msg->binary);
    if (n.msg)
        CHECK_MEM_EQ(gw_msg_payload(n.msg), n.msg->len, want, strlen(want));
    CHECK_STR_EQ(n.id, OID_HEX);
    CHECK_INT_EQ(n.id_len, 24);
    CHECK_INT_EQ(n.inserted_at_ms, CREATED_MS); /* createdAt is after the ObjectId second */
    gw_notice_clear(&n);
    CHECK(n.msg == NULL && n.id_len == 0 && n.id[0] == '\0' && n.user_id_len == 0);
    gw_notice_clear(&n); /* twice is harmless */

    /* the event name comes from the options and is JSON-escaped */
    struct gw_notice_options opt = {.event = "al\"ert"};
    CHECK_INT_EQ(build(&doc, &opt, &n), GW_NOTICE_OK);
    const char *want2 = "42[\"al\\\"ert\"," TYPICAL_JSON ",\"" OID_HEX "\"]";
    if (n.msg)
        CHECK_MEM_EQ(gw_msg_payload(n.msg), n.msg->len, want2, strlen(want2));
    gw_notice_clear(&n);
    bson_destroy(&doc);

    struct gw_notice zero;
    memset(&zero, 0, sizeof(zero));
    gw_notice_clear(&zero); /* a zeroed notice (as the watcher leaves a moved one) is fine */
}

static void test_build_survives_event(void)
{
    /* everything the notice holds is its own: destroy the event, then read the notice */
    bson_t doc, ev;
    struct gw_notice n;
    typical_notification(&doc);
    change_event(&ev, "insert", &doc);
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_OK);
    bson_destroy(&ev);
    bson_destroy(&doc);
    CHECK_STR_EQ(n.id, OID_HEX);
    CHECK(n.msg && n.msg->len == strlen("42[\"notification\"," TYPICAL_JSON ",\"" OID_HEX "\"]"));
    gw_notice_clear(&n);
}

static void test_update_and_delete(void)
{
    bson_t doc, ev, pre, key;
    struct gw_notice n;
    typical_notification(&doc);

    /* update and replace: the looked-up document, no offset, no type required */
    static const char *ops[] = {"update", "replace"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(ops); i++) {
        change_event(&ev, ops[i], &doc);
        CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_OK);
        CHECK_INT_EQ(n.kind, GW_NOTICE_UPDATE);
        CHECK_STR_EQ(n.user_id, "u42");
        CHECK_STR_EQ(n.id, OID_HEX);
        const char *want = "42[\"notification:update\"," TYPICAL_JSON "]";
        if (n.msg)
            CHECK_MEM_EQ(gw_msg_payload(n.msg), n.msg->len, want, strlen(want));
        CHECK_INT_EQ(n.inserted_at_ms, 0);
        gw_notice_clear(&n);
        bson_destroy(&ev);
    }
    /* an update whose document was deleted before the lookup */
    change_event(&ev, "update", NULL);
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_NO_FULL_DOCUMENT);
    CHECK(n.msg == NULL);
    bson_destroy(&ev);

    /* delete with a pre-image: routed by it, payload {"_id":...} */
    change_event(&ev, "delete", NULL);
    bson_init(&pre);
    bson_copy_to_excluding_noinit(&doc, &pre, "title", NULL);
    BSON_APPEND_DOCUMENT(&ev, "fullDocumentBeforeChange", &pre);
    bson_iter_t it;
    bson_iter_init_find(&it, &doc, "_id");
    bson_destroy(&ev);
    /* change_event builds documentKey from full; rebuild it by hand for a delete */
    bson_init(&ev);
    BSON_APPEND_UTF8(&ev, "operationType", "delete");
    bson_init(&key);
    bson_append_iter(&key, "_id", 3, &it);
    BSON_APPEND_DOCUMENT(&ev, "documentKey", &key);
    BSON_APPEND_DOCUMENT(&ev, "fullDocumentBeforeChange", &pre);
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_OK);
    CHECK_INT_EQ(n.kind, GW_NOTICE_DELETE);
    CHECK_STR_EQ(n.user_id, "u42");
    CHECK_STR_EQ(n.id, OID_HEX);
    const char *want = "42[\"notification:delete\",{\"_id\":\"" OID_HEX "\"}]";
    if (n.msg)
        CHECK_MEM_EQ(gw_msg_payload(n.msg), n.msg->len, want, strlen(want));
    gw_notice_clear(&n);
    bson_destroy(&ev);

    /* delete without a pre-image: routed by documentKey when it holds the user field */
    bson_init(&ev);
    BSON_APPEND_UTF8(&ev, "operationType", "delete");
    BSON_APPEND_UTF8(&key, "userId", "u7");
    BSON_APPEND_DOCUMENT(&ev, "documentKey", &key);
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.user_id, "u7");
    gw_notice_clear(&n);
    bson_destroy(&ev);
    bson_destroy(&key);

    /* neither: refused with the reason, so the operator learns to enable pre-images */
    bson_init(&ev);
    BSON_APPEND_UTF8(&ev, "operationType", "delete");
    bson_init(&key);
    bson_append_iter(&key, "_id", 3, &it);
    BSON_APPEND_DOCUMENT(&ev, "documentKey", &key);
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_DELETE_UNROUTABLE);
    CHECK(n.msg == NULL && n.id_len == 0 && n.id[0] == '\0');
    CHECK(strstr(gw_notice_strerror(GW_NOTICE_DELETE_UNROUTABLE), "changeStreamPreAndPostImages"));
    bson_destroy(&ev);
    bson_destroy(&key);
    /* a delete without documentKey._id */
    bson_init(&ev);
    BSON_APPEND_UTF8(&ev, "operationType", "delete");
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_NO_ID);
    bson_destroy(&ev);
    bson_destroy(&pre);
    bson_destroy(&doc);
}

static void test_user_forms(void)
{
    struct gw_notice n;
    bson_t doc, sub;
    bson_oid_t uoid;

    /* ObjectId user: its hex string, the JWT sub such a user connects with */
    base_doc(&doc);
    bson_oid_init_from_string(&uoid, "5F0000000000000000000ABC");
    BSON_APPEND_OID(&doc, "userId", &uoid);
    CHECK_INT_EQ(build(&doc, NULL, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.user_id, "5f0000000000000000000abc");
    CHECK_INT_EQ(n.user_id_len, 24);
    gw_notice_clear(&n);
    bson_destroy(&doc);

    /* dotted path, a configured top-level name, and an explicit array index */
    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", "wrong");
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "recipient", &sub);
    BSON_APPEND_UTF8(&sub, "name", "Ann");
    BSON_APPEND_UTF8(&sub, "id", "ann-1");
    bson_append_document_end(&doc, &sub);
    BSON_APPEND_UTF8(&doc, "owner", "o-9");
    bson_t arr, el;
    BSON_APPEND_ARRAY_BEGIN(&doc, "to", &arr);
    BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &el);
    BSON_APPEND_UTF8(&el, "id", "first");
    bson_append_document_end(&arr, &el);
    bson_append_array_end(&doc, &arr);

    struct gw_notice_options opt = {.user_field = "recipient.id"};
    CHECK_INT_EQ(build(&doc, &opt, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.user_id, "ann-1");
    gw_notice_clear(&n);
    opt.user_field = "owner";
    CHECK_INT_EQ(build(&doc, &opt, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.user_id, "o-9");
    gw_notice_clear(&n);
    opt.user_field = "to.0.id";
    CHECK_INT_EQ(build(&doc, &opt, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.user_id, "first");
    gw_notice_clear(&n);

    static const char *missing[] = {"recipient.email", "recipient.id.x", "nobody",
                                    "to.id",           "recipient.",     ".id",
                                    "Recipient.id",    "recipient..id",  "recipient.name.id"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(missing); i++) {
        opt.user_field = missing[i];
        enum gw_notice_status st = status_of(&doc, &opt);
        if (st != GW_NOTICE_NO_USER)
            TEST_FAIL_AT("user field %s: status %d", missing[i], (int)st);
    }
    opt.user_field = "recipient"; /* a document is not a user id */
    CHECK_INT_EQ(status_of(&doc, &opt), GW_NOTICE_BAD_USER);
    bson_destroy(&doc);

    /* exactly 256 bytes, multi-byte UTF-8 and punctuation are fine */
    char max[GW_NOTICE_MAX_USER_ID_LEN + 2];
    memset(max, 'u', sizeof(max));
    max[GW_NOTICE_MAX_USER_ID_LEN] = '\0';
    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", max);
    CHECK_INT_EQ(build(&doc, NULL, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.user_id, max);
    CHECK_INT_EQ(n.user_id_len, GW_NOTICE_MAX_USER_ID_LEN);
    gw_notice_clear(&n);
    bson_destroy(&doc);

    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", "j\xc3\xbcrgen@example.com|auth0");
    CHECK_INT_EQ(build(&doc, NULL, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.user_id, "j\xc3\xbcrgen@example.com|auth0");
    gw_notice_clear(&n);
    bson_destroy(&doc);
}

static void test_bad_users(void)
{
    bson_t doc;
    char long_id[GW_NOTICE_MAX_USER_ID_LEN + 2];
    memset(long_id, 'u', sizeof(long_id));
    long_id[GW_NOTICE_MAX_USER_ID_LEN + 1] = '\0';
    static const struct {
        const char *s;
        int len;
    } bad_strings[] = {
        {"", 0},         {"a\nb", 3},  {"a\tb", 3},     {"a\x7f", 2},        {"a\0b", 3},
        {"\x1b[31m", 5}, {"u\xff", 2}, {"\xc0\xaf", 2}, {"\xed\xa0\x80", 3},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad_strings); i++) {
        base_doc(&doc);
        bson_append_utf8(&doc, "userId", -1, bad_strings[i].s, bad_strings[i].len);
        enum gw_notice_status st = status_of(&doc, NULL);
        if (st != GW_NOTICE_BAD_USER)
            TEST_FAIL_AT("user case %zu: status %d", i, (int)st);
        bson_destroy(&doc);
    }

    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", long_id);
    CHECK_INT_EQ(status_of(&doc, NULL), GW_NOTICE_BAD_USER);
    bson_destroy(&doc);

    base_doc(&doc);
    BSON_APPEND_INT32(&doc, "userId", 42);
    CHECK_INT_EQ(status_of(&doc, NULL), GW_NOTICE_BAD_USER);
    bson_destroy(&doc);

    base_doc(&doc);
    BSON_APPEND_NULL(&doc, "userId");
    CHECK_INT_EQ(status_of(&doc, NULL), GW_NOTICE_BAD_USER);
    bson_destroy(&doc);

    /* the same user field twice: the JSON reader would see the last, routing the first */
    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", "alice");
    BSON_APPEND_UTF8(&doc, "userId", "mallory");
    CHECK_INT_EQ(status_of(&doc, NULL), GW_NOTICE_BAD_USER);
    bson_destroy(&doc);

    bson_t sub;
    base_doc(&doc);
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "r", &sub);
    BSON_APPEND_UTF8(&sub, "id", "alice");
    bson_append_document_end(&doc, &sub);
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "r", &sub);
    BSON_APPEND_UTF8(&sub, "id", "mallory");
    bson_append_document_end(&doc, &sub);
    struct gw_notice_options opt = {.user_field = "r.id"};
    CHECK_INT_EQ(status_of(&doc, &opt), GW_NOTICE_BAD_USER);
    bson_destroy(&doc);
}

static void test_refusals(void)
{
    bson_t doc, ev;
    struct gw_notice n;
    typical_notification(&doc);

    /* not an insert: other operations, no operationType, a non-string one */
    static const char *ops[] = {"drop", "rename", "invalidate", "INSERT", "inserted", NULL};
    for (size_t i = 0; i < GW_ARRAY_SIZE(ops); i++) {
        change_event(&ev, ops[i], &doc);
        CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_NOT_INSERT);
        CHECK(n.msg == NULL);
        gw_notice_clear(&n);
        bson_destroy(&ev);
    }
    bson_init(&ev);
    BSON_APPEND_INT32(&ev, "operationType", 1);
    BSON_APPEND_DOCUMENT(&ev, "fullDocument", &doc);
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_NOT_INSERT);
    bson_destroy(&ev);

    /* no fullDocument, or one that is not a document */
    change_event(&ev, "insert", NULL);
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_NO_FULL_DOCUMENT);
    bson_destroy(&ev);
    bson_init(&ev);
    BSON_APPEND_UTF8(&ev, "operationType", "insert");
    BSON_APPEND_NULL(&ev, "fullDocument");
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_NO_FULL_DOCUMENT);
    bson_destroy(&ev);
    bson_destroy(&doc);

    /* no _id */
    bson_init(&doc);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    BSON_APPEND_UTF8(&doc, "type", "t");
    CHECK_INT_EQ(status_of(&doc, NULL), GW_NOTICE_NO_ID);
    bson_destroy(&doc);

    /* no user field */
    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "user", "u42");
    CHECK_INT_EQ(status_of(&doc, NULL), GW_NOTICE_NO_USER);
    bson_destroy(&doc);

    /* no type; a null type exists, as for the pipeline's $exists */
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, OID_HEX);
    bson_init(&doc);
    BSON_APPEND_OID(&doc, "_id", &oid);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    CHECK_INT_EQ(status_of(&doc, NULL), GW_NOTICE_NO_TYPE);
    BSON_APPEND_NULL(&doc, "type");
    CHECK_INT_EQ(status_of(&doc, NULL), GW_NOTICE_OK);
    bson_destroy(&doc);

    /* a fullDocument nested too deeply */
    bson_t deep;
    nested(&deep, GW_NOTICE_MAX_DEPTH + 1);
    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    BSON_APPEND_DOCUMENT(&doc, "data", &deep);
    CHECK_INT_EQ(status_of(&doc, NULL), GW_NOTICE_BAD_DOCUMENT);
    bson_destroy(&doc);
    bson_destroy(&deep);
}

/* A fullDocument whose bytes are corrupt after the fields the checks read. */
static void test_corrupt_full_document(void)
{
    bson_t doc;
    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    BSON_APPEND_UTF8(&doc, "tail", "xyz");
    /* make the last string claim more bytes than there are */
    uint8_t *raw = gw_malloc(doc.len);
    memcpy(raw, bson_get_data(&doc), doc.len);
    size_t len_at = doc.len - 1 - 4 - 4; /* ...len(4) "xyz\0" then the final 0 */
    CHECK_INT_EQ(raw[len_at], 4);
    raw[len_at] = 40;
    bson_t bad;
    CHECK(bson_init_static(&bad, raw, doc.len));
    bson_t ev;
    change_event(&ev, "insert", &bad);
    struct gw_notice n;
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_BAD_DOCUMENT);
    CHECK(n.msg == NULL);
    gw_notice_clear(&n);
    bson_destroy(&ev);
    bson_destroy(&doc);
    free(raw);
}

static void test_ids_and_times(void)
{
    struct gw_notice n;
    bson_t doc;

    /* string _id: no id (only an ObjectId is an offset); the time comes from createdAt */
    bson_init(&doc);
    BSON_APPEND_UTF8(&doc, "_id", "n-\"1\"");
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    BSON_APPEND_UTF8(&doc, "type", "t");
    BSON_APPEND_DATE_TIME(&doc, "createdAt", CREATED_MS + 123);
    CHECK_INT_EQ(build(&doc, NULL, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.id, "");
    CHECK_INT_EQ(n.id_len, 0);
    CHECK_INT_EQ(n.inserted_at_ms, CREATED_MS + 123);
    gw_notice_clear(&n);
    bson_destroy(&doc);

    /* document _id, createdAt not a date: no time */
    bson_t sub;
    bson_init(&doc);
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "_id", &sub);
    BSON_APPEND_INT64(&sub, "k", 5);
    bson_append_document_end(&doc, &sub);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    BSON_APPEND_UTF8(&doc, "type", "t");
    BSON_APPEND_UTF8(&doc, "createdAt", "2026-11-23T11:30:00Z");
    CHECK_INT_EQ(build(&doc, NULL, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.id, "");
    CHECK_INT_EQ(n.id_len, 0);
    CHECK_INT_EQ(n.inserted_at_ms, 0);
    gw_notice_clear(&n);
    bson_destroy(&doc);

    /* int _id and no createdAt */
    bson_init(&doc);
    BSON_APPEND_INT32(&doc, "_id", 77);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    BSON_APPEND_UTF8(&doc, "type", "t");
    CHECK_INT_EQ(build(&doc, NULL, &n), GW_NOTICE_OK);
    CHECK_STR_EQ(n.id, "");
    CHECK_INT_EQ(n.id_len, 0);
    CHECK_INT_EQ(n.inserted_at_ms, 0);
    gw_notice_clear(&n);
    bson_destroy(&doc);

    /* createdAt at or after the ObjectId second gives the millisecond; a backdated createdAt
     * (before the ObjectId time) is not the insert time, and the ObjectId wins */
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, OID_HEX);
    int64_t oid_ms = (int64_t)OID_SECS * 1000;
    const int64_t created[] = {oid_ms + 999, oid_ms, oid_ms - 1};
    const int64_t want_time[] = {oid_ms + 999, oid_ms, oid_ms};
    for (size_t i = 0; i < 3; i++) {
        bson_init(&doc);
        BSON_APPEND_OID(&doc, "_id", &oid);
        BSON_APPEND_UTF8(&doc, "userId", "u42");
        BSON_APPEND_UTF8(&doc, "type", "t");
        BSON_APPEND_DATE_TIME(&doc, "createdAt", created[i]);
        CHECK_INT_EQ(build(&doc, NULL, &n), GW_NOTICE_OK);
        CHECK_INT_EQ(n.inserted_at_ms, want_time[i]);
        gw_notice_clear(&n);
        bson_destroy(&doc);
    }
    /* no createdAt: the ObjectId time */
    bson_init(&doc);
    BSON_APPEND_OID(&doc, "_id", &oid);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    BSON_APPEND_UTF8(&doc, "type", "t");
    CHECK_INT_EQ(build(&doc, NULL, &n), GW_NOTICE_OK);
    CHECK_INT_EQ(n.inserted_at_ms, oid_ms);
    gw_notice_clear(&n);
    bson_destroy(&doc);

    /* an event without a resume token (its _id) still builds: the watcher takes tokens from
     * the driver, never from the event */
    bson_t ev;
    typical_notification(&doc);
    bson_init(&ev);
    BSON_APPEND_UTF8(&ev, "operationType", "insert");
    BSON_APPEND_DOCUMENT(&ev, "fullDocument", &doc);
    CHECK_INT_EQ(gw_notice_build(&ev, NULL, &n), GW_NOTICE_OK);
    gw_notice_clear(&n);
    bson_destroy(&ev);
    bson_destroy(&doc);
}

/* Documents around the cap: the message may be exactly max_bytes long, not one byte more. */
static void test_size_cap(void)
{
    const size_t cap = 1000000;
    size_t fill = cap - 200;
    char *big = gw_malloc(fill + 1);
    memset(big, 'x', fill);
    big[fill] = '\0';
    bson_t doc;
    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    BSON_APPEND_UTF8(&doc, "message", big);

    struct gw_notice n;
    struct gw_notice_options opt = {.max_bytes = 0};
    CHECK_INT_EQ(build(&doc, &opt, &n), GW_NOTICE_OK);
    size_t exact = n.msg ? n.msg->len : 0;
    CHECK(exact > fill && exact < cap);
    gw_notice_clear(&n);

    opt.max_bytes = exact;
    CHECK_INT_EQ(build(&doc, &opt, &n), GW_NOTICE_OK);
    CHECK_INT_EQ(n.msg ? n.msg->len : 0, exact);
    gw_notice_clear(&n);
    opt.max_bytes = exact - 1;
    CHECK_INT_EQ(status_of(&doc, &opt), GW_NOTICE_TOO_LARGE);
    /* a longer event name alone pushes it over */
    opt.max_bytes = exact;
    opt.event = "notifications";
    CHECK_INT_EQ(status_of(&doc, &opt), GW_NOTICE_TOO_LARGE);
    bson_destroy(&doc);

    /* escapes count: 200k control characters become 1.2 MB of JSON */
    memset(big, '\x01', 200000);
    big[200000] = '\0';
    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    BSON_APPEND_UTF8(&doc, "message", big);
    opt.event = NULL;
    opt.max_bytes = cap;
    CHECK_INT_EQ(status_of(&doc, &opt), GW_NOTICE_TOO_LARGE);
    opt.max_bytes = 0;
    CHECK_INT_EQ(status_of(&doc, &opt), GW_NOTICE_OK);
    bson_destroy(&doc);

    /* many small values far beyond the cap stop early and still say TOO_LARGE */
    base_doc(&doc);
    BSON_APPEND_UTF8(&doc, "userId", "u42");
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(&doc, "items", &arr);
    for (int i = 0; i < 300000; i++) {
        char key[16];
        const char *k;
        bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
        BSON_APPEND_INT32(&arr, k, i);
    }
    bson_append_array_end(&doc, &arr);
    opt.max_bytes = 100000;
    CHECK_INT_EQ(status_of(&doc, &opt), GW_NOTICE_TOO_LARGE);
    bson_destroy(&doc);
    free(big);
}

static void test_strerror(void)
{
    for (int st = GW_NOTICE_OK; st <= GW_NOTICE_DELETE_UNROUTABLE; st++)
        CHECK(strcmp(gw_notice_strerror((enum gw_notice_status)st), "Unknown notice status.") != 0);
    CHECK_STR_EQ(gw_notice_strerror(GW_NOTICE_NO_USER), "The document has no user field.");
}

/* The event name is quoted so that any JSON parser reads it back unchanged, whatever it holds
 * (jansson, which quoted it before, writes control characters in upper-case hex; the text
 * differs there, the name does not). */
static void test_event_names_escaped(void)
{
    static const char *names[] = {"notification",
                                  "al\"ert",
                                  "back\\slash",
                                  "a/b",
                                  "tab\there",
                                  "nl\n\r\b\f",
                                  "\x01\x1f\x7f",
                                  "caf\xc3\xa9",
                                  "\xe2\x80\xa8 \xf0\x9f\x94\x94",
                                  ""};
    for (size_t i = 0; i < GW_ARRAY_SIZE(names); i++) {
        struct gw_buf b = GW_BUF_INIT;
        gw_notice_event_open(&b, names[i], ":update");
        gw_buf_append_str(&b, "{}");
        gw_notice_event_close(&b, "65f1c0ffee01020304050607");
        CHECK(strncmp(b.data, "42[", 3) == 0);
        json_error_t jerr;
        json_t *j = json_loads(b.data + 2, 0, &jerr);
        CHECK(j && json_is_array(j) && json_array_size(j) == 3);
        char *full = gw_strcat(names[i], ":update");
        if (j && json_array_size(j) == 3) {
            CHECK_STR_EQ(json_string_value(json_array_get(j, 0)), full);
            CHECK(json_is_object(json_array_get(j, 1)));
            CHECK_STR_EQ(json_string_value(json_array_get(j, 2)), "65f1c0ffee01020304050607");
        }
        json_decref(j);
        free(full);
        gw_buf_free(&b);
    }
    struct gw_buf b = GW_BUF_INIT;
    gw_notice_event_open(&b, "al\"e\x01rt", "");
    gw_buf_append_str(&b, "1");
    gw_notice_event_close(&b, NULL);
    CHECK_STR_EQ(b.data, "42[\"al\\\"e\\u0001rt\",1]"); /* JSON.stringify's own escapes */
    gw_buf_free(&b);
}

int main(void)
{
    RUN(test_typical_json);
    RUN(test_key_order_kept);
    RUN(test_every_type);
    RUN(test_int_extremes);
    RUN(test_decimal128);
    RUN(test_binary_base64);
    RUN(test_strings_escaped);
    RUN(test_keys_escaped);
    RUN(test_doubles);
    RUN(test_doubles_round_trip);
    RUN(test_doubles_shortest);
    RUN(test_dates);
    RUN(test_dates_match_gmtime);
    RUN(test_depth_guard);
    RUN(test_corrupt_bson);
    RUN(test_appends);
    RUN(test_event_names_escaped);
    RUN(test_build_typical);
    RUN(test_build_survives_event);
    RUN(test_update_and_delete);
    RUN(test_user_forms);
    RUN(test_bad_users);
    RUN(test_refusals);
    RUN(test_corrupt_full_document);
    RUN(test_ids_and_times);
    RUN(test_size_cap);
    RUN(test_strerror);
    return TEST_REPORT();
}
