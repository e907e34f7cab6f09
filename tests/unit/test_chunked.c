/* test_chunked.c -- the chunked transfer coding decoder (RFC 9112 §7.1): bodies split at every
 * byte boundary, extensions, trailers, the bounds on sizes and lines, and the sticky end states.
 *
 * Every feed reads from an exact-size heap copy, so a read past `len` trips AddressSanitizer.
 */
#include <stdlib.h>
#include <string.h>

#include "gw/chunked.h"
#include "gw/common.h"
#include "test.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* Feeds in[0..len) as one call from an exact-size copy; adds the decoded count to *total. */
static enum gw_chunked_status feed(struct gw_chunked *d, const char *in, size_t len,
                                   struct gw_buf *out, size_t *total)
{
    char *c = gw_malloc(len ? len : 1);
    memcpy(c, in, len);
    size_t n = 0;
    enum gw_chunked_status st = gw_chunked_feed(d, c, len, out, &n);
    *total += n;
    free(c);
    return st;
}

/* Decodes a whole body in one call. */
static enum gw_chunked_status decode(const char *in, size_t len, struct gw_buf *out, size_t *total)
{
    struct gw_chunked d;
    gw_chunked_init(&d);
    *total = 0;
    return feed(&d, in, len, out, total);
}

#define WIKI "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"
#define WIKI_BODY "Wikipedia in\r\n\r\nchunks."

static void check_body(const char *in, const char *want)
{
    struct gw_buf out = GW_BUF_INIT;
    size_t total;
    enum gw_chunked_status st = decode(in, strlen(in), &out, &total);
    CHECK_INT_EQ(st, GW_CHUNKED_DONE);
    CHECK_MEM_EQ(out.data ? out.data : "", out.len, want, strlen(want));
    CHECK_INT_EQ(total, strlen(want));
    if (st != GW_CHUNKED_DONE)
        test_dump("  input: ", in, strlen(in));
    gw_buf_free(&out);
}

static void check_error(const char *in, size_t len)
{
    struct gw_buf out = GW_BUF_INIT;
    size_t total;
    enum gw_chunked_status st = decode(in, len, &out, &total);
    CHECK_INT_EQ(st, GW_CHUNKED_ERROR);
    if (st != GW_CHUNKED_ERROR)
        test_dump("  input: ", in, len);
    gw_buf_free(&out);
}

static void test_whole_bodies(void)
{
    check_body(WIKI, WIKI_BODY);
    check_body("0\r\n\r\n", "");
    check_body("5\r\nhello\r\n0\r\n\r\n", "hello");
    check_body("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n", "abc");
    /* a chunk holding CRLF and the terminator's bytes is data, not framing */
    check_body("7\r\n0\r\n\r\nxy\r\n0\r\n\r\n", "0\r\n\r\nxy");
}

static void test_hex_sizes(void)
{
    check_body("A\r\n0123456789\r\n0\r\n\r\n", "0123456789");
    check_body("a\r\n0123456789\r\n0\r\n\r\n", "0123456789");
    check_body("0010\r\n0123456789abcdef\r\n0\r\n\r\n", "0123456789abcdef");

    char body[400], in[512];
    for (size_t i = 0; i < 0xaB; i++)
        body[i] = (char)('a' + i % 26);
    body[0xaB] = '\0';
    snprintf(in, sizeof(in), "aB\r\n%s\r\n00\r\n\r\n", body);
    check_body(in, body);
    snprintf(in, sizeof(in), "1F\r\n%.31s\r\n0\r\n\r\n", body);
    body[31] = '\0';
    check_body(in, body);
}

static void test_extensions(void)
{
    check_body("5;name=value\r\nhello\r\n0\r\n\r\n", "hello");
    check_body("5;a=b;c=\"d;e\\\"f\"\r\nhello\r\n0;last\r\n\r\n", "hello");
    check_body("5 ;x=y\r\nhello\r\n0\r\n\r\n", "hello");
    check_body("5\t;x\r\nhello\r\n0\r\n\r\n", "hello");
    check_body("5;\r\nhello\r\n0\r\n\r\n", "hello");
}

static void test_trailers(void)
{
    check_body("5\r\nhello\r\n0\r\nX-Foo: bar\r\n\r\n", "hello");
    check_body("5\r\nhello\r\n0\r\nX-Foo: bar\r\nX-Baz: 1\r\nExpires: never\r\n\r\n", "hello");
    check_body("0\r\nX: y\r\n\r\n", "");
}

/* One byte per call: MORE until the last byte, which gives DONE; same body. */
static void test_byte_at_a_time(void)
{
    const char *in = WIKI;
    size_t len = strlen(in), total = 0;
    struct gw_chunked d;
    struct gw_buf out = GW_BUF_INIT;
    gw_chunked_init(&d);
    int early = 0;
    for (size_t i = 0; i < len; i++) {
        enum gw_chunked_status st = feed(&d, in + i, 1, &out, &total);
        if (i + 1 < len)
            early += st != GW_CHUNKED_MORE;
        else
            CHECK_INT_EQ(st, GW_CHUNKED_DONE);
    }
    CHECK_INT_EQ(early, 0);
    CHECK_MEM_EQ(out.data, out.len, WIKI_BODY, strlen(WIKI_BODY));
    CHECK_INT_EQ(total, strlen(WIKI_BODY));
    gw_buf_free(&out);
}

/* Feeds in as the pieces cut at cuts[0..ncuts) (ascending) and checks the result. */
static void check_split(const char *in, size_t len, const size_t *cuts, size_t ncuts,
                        const char *want)
{
    struct gw_chunked d;
    struct gw_buf out = GW_BUF_INIT;
    size_t total = 0, from = 0;
    enum gw_chunked_status st = GW_CHUNKED_MORE;
    gw_chunked_init(&d);
    for (size_t k = 0; k <= ncuts; k++) {
        size_t to = k < ncuts ? cuts[k] : len;
        st = feed(&d, in + from, to - from, &out, &total);
        if (to < len && st != GW_CHUNKED_MORE) {
            TEST_FAIL_AT("status %d before the end (piece ending at %zu)", (int)st, to);
            break;
        }
        from = to;
    }
    CHECK_INT_EQ(st, GW_CHUNKED_DONE);
    CHECK_MEM_EQ(out.data ? out.data : "", out.len, want, strlen(want));
    CHECK_INT_EQ(total, strlen(want));
    gw_buf_free(&out);
}

static void test_every_split_point(void)
{
    const char *bodies[][2] = {
        {WIKI, WIKI_BODY},
        {"5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Foo: bar\r\n\r\n", "hello0123456789"},
    };
    for (size_t b = 0; b < GW_ARRAY_SIZE(bodies); b++) {
        size_t len = strlen(bodies[b][0]);
        for (size_t i = 0; i <= len; i++)
            check_split(bodies[b][0], len, &i, 1, bodies[b][1]);
        for (size_t i = 0; i <= len; i++) {
            for (size_t j = i; j <= len; j++) {
                size_t cuts[2] = {i, j};
                check_split(bodies[b][0], len, cuts, 2, bodies[b][1]);
            }
        }
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* A bigger random body (random chunk sizes, extensions and trailers) cut at random points. */
static void test_random_splits(void)
{
    for (int round = 0; round < 50; round++) {
        struct gw_buf in = GW_BUF_INIT, want = GW_BUF_INIT;
        int nchunks = 1 + (int)(rng() % 10);
        for (int k = 0; k < nchunks; k++) {
            size_t n = 1 + rng() % 300;
            gw_buf_printf(&in, rng() & 1 ? "%zx" : "%zX", n);
            if (rng() % 3 == 0)
                gw_buf_append_str(&in, ";ext=\"v\"");
            gw_buf_append_str(&in, "\r\n");
            for (size_t i = 0; i < n; i++) {
                char c = (char)rng();
                gw_buf_append_char(&in, c);
                gw_buf_append_char(&want, c);
            }
            gw_buf_append_str(&in, "\r\n");
        }
        gw_buf_append_str(&in, "0\r\n");
        if (rng() & 1)
            gw_buf_append_str(&in, "Trailer-Field: value\r\n");
        gw_buf_append_str(&in, "\r\n");

        size_t cuts[16];
        size_t ncuts = rng() % GW_ARRAY_SIZE(cuts);
        for (size_t k = 0; k < ncuts; k++)
            cuts[k] = rng() % (in.len + 1);
        qsort(cuts, ncuts, sizeof(cuts[0]), cmp_size);

        struct gw_chunked d;
        struct gw_buf out = GW_BUF_INIT;
        size_t total = 0, from = 0;
        enum gw_chunked_status st = GW_CHUNKED_MORE;
        int early = 0;
        gw_chunked_init(&d);
        for (size_t k = 0; k <= ncuts; k++) {
            size_t to = k < ncuts ? cuts[k] : in.len;
            st = feed(&d, in.data + from, to - from, &out, &total);
            early += to < in.len && st != GW_CHUNKED_MORE;
            from = to;
        }
        CHECK_INT_EQ(early, 0);
        CHECK_INT_EQ(st, GW_CHUNKED_DONE);
        CHECK_MEM_EQ(out.data, out.len, want.data, want.len);
        CHECK_INT_EQ(total, want.len);
        gw_buf_free(&in);
        gw_buf_free(&want);
        gw_buf_free(&out);
    }
}

#define ERR(lit) check_error(lit, sizeof(lit) - 1)

static void test_framing_errors(void)
{
    /* missing or wrong CRLF after the data */
    ERR("5\r\nhelloX\r\n0\r\n\r\n");
    ERR("5\r\nhello\rX");
    ERR("5\r\nhello\n0\r\n\r\n");
    ERR("5\r\nhello0\r\n\r\n");
    /* bad size line */
    ERR("g\r\n");
    ERR("5g\r\nhello\r\n");
    ERR("-1\r\n");
    ERR("+5\r\n");
    ERR("0x5\r\nhello\r\n");
    ERR(" 5\r\nhello\r\n");
    ERR("\r\n");
    ERR(";ext\r\n");
    ERR("5\nhello\r\n");
    ERR("5\rhello\r\n");
    /* CR without LF after the last chunk or a trailer line */
    ERR("0\r\n\rX");
    ERR("0\r\nX: y\rZ");
    /* the second chunk's size line is empty */
    ERR("5\r\nhello\r\n\r\n");
}

static void test_size_bounds(void)
{
    ERR("1000000000000000\r\n"); /* 16 hex digits */
    ERR("0000000000000000\r\n"); /* even as zeros */
    ERR("ffffffffffffffffffffffff\r\n");

    /* 15 digits are allowed; out == NULL only counts, so a huge chunk costs nothing */
    struct gw_chunked d;
    size_t total = 0;
    gw_chunked_init(&d);
    CHECK_INT_EQ(feed(&d, "fffffffffffffff\r\n", 17, NULL, &total), GW_CHUNKED_MORE);
    char data[4096];
    memset(data, 'x', sizeof(data));
    for (int i = 0; i < 64; i++)
        CHECK_INT_EQ(feed(&d, data, sizeof(data), NULL, &total), GW_CHUNKED_MORE);
    CHECK_INT_EQ(total, 64 * sizeof(data));
}

static void test_line_bounds(void)
{
    struct gw_buf in = GW_BUF_INIT;

    /* an extension of ~4000 bytes passes */
    gw_buf_append_str(&in, "5;");
    for (int i = 0; i < 4000; i++)
        gw_buf_append_char(&in, 'a');
    gw_buf_append_str(&in, "\r\nhello\r\n0\r\n\r\n");
    check_body(in.data, "hello");

    /* one of 5000 fails before any CR arrives */
    gw_buf_reset(&in);
    gw_buf_append_str(&in, "5;");
    for (int i = 0; i < 5000; i++)
        gw_buf_append_char(&in, 'a');
    check_error(in.data, in.len);

    /* a trailer of ~4000 bytes passes, one of 5000 fails */
    gw_buf_reset(&in);
    gw_buf_append_str(&in, "0\r\nX-Long: ");
    for (int i = 0; i < 4000; i++)
        gw_buf_append_char(&in, 'v');
    gw_buf_append_str(&in, "\r\n\r\n");
    check_body(in.data, "");

    gw_buf_reset(&in);
    gw_buf_append_str(&in, "0\r\nX-Long: ");
    for (int i = 0; i < 5000; i++)
        gw_buf_append_char(&in, 'v');
    check_error(in.data, in.len);

    /* the bound is per line: many short trailers are fine */
    gw_buf_reset(&in);
    gw_buf_append_str(&in, "0\r\n");
    for (int i = 0; i < 500; i++)
        gw_buf_append_str(&in, "X-Short: 0123456789\r\n");
    gw_buf_append_str(&in, "\r\n");
    check_body(in.data, "");

    /* an extension line fed one byte at a time is bounded too */
    struct gw_chunked d;
    size_t total = 0;
    enum gw_chunked_status st = GW_CHUNKED_MORE;
    gw_chunked_init(&d);
    feed(&d, "5;", 2, NULL, &total);
    int fed = 0;
    while (st == GW_CHUNKED_MORE && fed < 100000) {
        st = feed(&d, "a", 1, NULL, &total);
        fed++;
    }
    CHECK_INT_EQ(st, GW_CHUNKED_ERROR);
    CHECK(fed <= 4097);
    gw_buf_free(&in);
}

static void test_sticky_end_states(void)
{
    struct gw_chunked d;
    struct gw_buf out = GW_BUF_INIT;
    size_t total = 0;

    /* bytes after the end in the same call are ignored */
    gw_chunked_init(&d);
    CHECK_INT_EQ(feed(&d, "5\r\nhello\r\n0\r\n\r\n5\r\nworld\r\n", 25, &out, &total),
                 GW_CHUNKED_DONE);
    CHECK_STR_EQ(out.data, "hello");
    CHECK_INT_EQ(total, 5);
    /* and in later calls, valid or not */
    CHECK_INT_EQ(feed(&d, "5\r\nworld\r\n0\r\n\r\n", 15, &out, &total), GW_CHUNKED_DONE);
    CHECK_INT_EQ(feed(&d, "garbage", 7, &out, &total), GW_CHUNKED_DONE);
    CHECK_INT_EQ(feed(&d, "", 0, &out, &total), GW_CHUNKED_DONE);
    CHECK_STR_EQ(out.data, "hello");
    CHECK_INT_EQ(total, 5);

    /* after an error every call is an error, even a valid continuation */
    gw_buf_reset(&out);
    total = 0;
    gw_chunked_init(&d);
    CHECK_INT_EQ(feed(&d, "5\r\nhel", 6, &out, &total), GW_CHUNKED_MORE);
    CHECK_INT_EQ(feed(&d, "loX", 3, &out, &total), GW_CHUNKED_ERROR);
    CHECK_INT_EQ(feed(&d, "\r\n0\r\n\r\n", 7, &out, &total), GW_CHUNKED_ERROR);
    CHECK_INT_EQ(feed(&d, "5\r\nworld\r\n0\r\n\r\n", 15, &out, &total), GW_CHUNKED_ERROR);
    CHECK_INT_EQ(feed(&d, "", 0, &out, &total), GW_CHUNKED_ERROR);
    CHECK_STR_EQ(out.data, "hello");
    CHECK_INT_EQ(total, 5);

    /* an empty feed on a fresh decoder asks for more */
    gw_chunked_init(&d);
    CHECK_INT_EQ(feed(&d, "", 0, &out, &total), GW_CHUNKED_MORE);
    gw_buf_free(&out);
}

static void test_counting_without_output(void)
{
    size_t total;
    CHECK_INT_EQ(decode(WIKI, strlen(WIKI), NULL, &total), GW_CHUNKED_DONE);
    CHECK_INT_EQ(total, strlen(WIKI_BODY));

    /* output appends to what the buffer already holds */
    struct gw_buf out = GW_BUF_INIT;
    gw_buf_append_str(&out, "prefix:");
    CHECK_INT_EQ(decode(WIKI, strlen(WIKI), &out, &total), GW_CHUNKED_DONE);
    CHECK_STR_EQ(out.data, "prefix:" WIKI_BODY);
    CHECK_INT_EQ(total, strlen(WIKI_BODY));
    gw_buf_free(&out);
}

int main(void)
{
    RUN(test_whole_bodies);
    RUN(test_hex_sizes);
    RUN(test_extensions);
    RUN(test_trailers);
    RUN(test_byte_at_a_time);
    RUN(test_every_split_point);
    RUN(test_random_splits);
    RUN(test_framing_errors);
    RUN(test_size_bounds);
    RUN(test_line_bounds);
    RUN(test_sticky_end_states);
    RUN(test_counting_without_output);
    return TEST_REPORT();
}
