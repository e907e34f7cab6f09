/* test_eio_codec.c -- Engine.IO v4 codec: golden handshake and error bodies of the reference
 * server, polling payloads, strict base64, the UTF-8 validator, query checks and session ids.
 *
 * Inputs are decoded from heap copies without a trailing NUL, so that any read past `len`
 * trips AddressSanitizer.
 */
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/base64.h"
#include "gw/eio_codec.h"
#include "test.h"

static char *exact_copy(const void *s, size_t n)
{
    char *c = gw_malloc(n ? n : 1);
    memcpy(c, s, n);
    return c;
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* ---- handshake and error bodies ---- */

static void test_open_golden(void)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_eio_encode_open(&b, "57ciUJG2vM2s5KZwAAAA", true, 300, 200, 1000000);
    CHECK_STR_EQ(b.data, "0{\"sid\":\"57ciUJG2vM2s5KZwAAAA\",\"upgrades\":[\"websocket\"],"
                         "\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000000}");
    CHECK_INT_EQ(b.len, strlen(b.data));

    gw_buf_reset(&b);
    gw_eio_encode_open(&b, "57ciUJG2vM2s5KZwAAAA", false, 300, 200, 1000000);
    CHECK_STR_EQ(b.data, "0{\"sid\":\"57ciUJG2vM2s5KZwAAAA\",\"upgrades\":[],"
                         "\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000000}");

    /* the product defaults, and the encoder appends rather than overwrites */
    gw_buf_reset(&b);
    gw_buf_append_str(&b, "x");
    gw_eio_encode_open(&b, "AAAAAAAAAAAAAAAAAAAA", true, 25000, 20000, 100000000);
    CHECK_STR_EQ(b.data, "x0{\"sid\":\"AAAAAAAAAAAAAAAAAAAA\",\"upgrades\":[\"websocket\"],"
                         "\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":100000000}");
    gw_buf_free(&b);
}

static void test_error_bodies(void)
{
    static const char *const want[] = {
        "{\"code\":0,\"message\":\"Transport unknown\"}",
        "{\"code\":1,\"message\":\"Session ID unknown\"}",
        "{\"code\":2,\"message\":\"Bad handshake method\"}",
        "{\"code\":3,\"message\":\"Bad request\"}",
        "{\"code\":4,\"message\":\"Forbidden\"}",
        "{\"code\":5,\"message\":\"Unsupported protocol version\"}",
    };
    static const char *const messages[] = {
        "Transport unknown", "Session ID unknown", "Bad handshake method",
        "Bad request",       "Forbidden",          "Unsupported protocol version",
    };
    for (int e = GW_EIO_ERR_TRANSPORT_UNKNOWN; e <= GW_EIO_ERR_UNSUPPORTED_VERSION; e++) {
        struct gw_buf b = GW_BUF_INIT;
        gw_eio_encode_error(&b, (enum gw_eio_error)e);
        CHECK_STR_EQ(b.data, want[e]);
        CHECK_STR_EQ(gw_eio_error_message((enum gw_eio_error)e), messages[e]);
        gw_buf_free(&b);
    }
}

/* ---- single text packets ---- */

static void test_decode_text(void)
{
    struct {
        const char *in;
        size_t len;
        enum gw_eio_type type;
        const char *data;
    } ok[] = {
        {"0", 1, GW_EIO_OPEN, ""},
        {"1", 1, GW_EIO_CLOSE, ""},
        {"2", 1, GW_EIO_PING, ""},
        {"3probe", 6, GW_EIO_PONG, "probe"},
        {"4hello", 6, GW_EIO_MESSAGE, "hello"},
        {"5", 1, GW_EIO_UPGRADE, ""},
        {"6", 1, GW_EIO_NOOP, ""},
        {"4a\0b", 4, GW_EIO_MESSAGE, "a\0b"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(ok); i++) {
        char *c = exact_copy(ok[i].in, ok[i].len);
        struct gw_eio_packet p;
        CHECK_INT_EQ(gw_eio_decode_text(c, ok[i].len, &p), 0);
        CHECK_INT_EQ(p.type, ok[i].type);
        CHECK(!p.binary);
        CHECK(p.data == c + 1);
        CHECK_MEM_EQ(p.data, p.len, ok[i].data, ok[i].len - 1);
        free(c);
    }

    const char *bad[] = {"", "7", "9x", "/", ":", "abc", "bAQIDBA==", " 4", "\x1e"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        size_t n = strlen(bad[i]);
        char *c = exact_copy(bad[i], n);
        struct gw_eio_packet p;
        int rc = gw_eio_decode_text(c, n, &p);
        CHECK_INT_EQ(rc, -1);
        if (rc != -1)
            fprintf(stderr, "  input: \"%s\"\n", bad[i]);
        free(c);
    }
}

/* ---- polling payloads ---- */

struct want_packet {
    enum gw_eio_type type;
    bool binary;
    const char *data;
    size_t len;
};

/* Decodes payload (len bytes) and expects exactly the packets in want, then the end. */
static void check_payload(const char *payload, size_t len, const struct want_packet *want,
                          size_t nwant)
{
    char *c = exact_copy(payload, len);
    struct gw_eio_payload_iter it;
    struct gw_eio_packet p;
    gw_eio_payload_iter_init(&it, c, len);
    for (size_t i = 0; i < nwant; i++) {
        int rc = gw_eio_payload_next(&it, &p);
        CHECK_INT_EQ(rc, 1);
        if (rc != 1) {
            test_dump("  payload: ", payload, len);
            break;
        }
        CHECK_INT_EQ(p.type, want[i].type);
        CHECK_INT_EQ(p.binary, want[i].binary);
        CHECK_MEM_EQ(p.data, p.len, want[i].data, want[i].len);
        CHECK(p.data >= c && p.data + p.len <= c + len);
    }
    CHECK_INT_EQ(gw_eio_payload_next(&it, &p), 0);
    CHECK_INT_EQ(gw_eio_payload_next(&it, &p), 0); /* the end is sticky */
    free(c);
}

/* Lengths come from the literals, which may hold NUL bytes. */
#define PAYLOAD(lit, want) check_payload(lit, sizeof(lit) - 1, want, GW_ARRAY_SIZE(want))

static void test_payload_golden(void)
{
    const struct want_packet two_text[] = {
        {GW_EIO_MESSAGE, false, "hello", 5},
        {GW_EIO_MESSAGE, false, "test2", 5},
    };
    PAYLOAD("4hello\x1e"
            "4test2",
            two_text);

    const struct want_packet text_binary[] = {
        {GW_EIO_MESSAGE, false, "hello", 5},
        {GW_EIO_MESSAGE, true, "\x01\x02\x03\x04", 4},
    };
    PAYLOAD("4hello\x1e"
            "bAQIDBA==",
            text_binary);

    const struct want_packet three[] = {
        {GW_EIO_MESSAGE, false, "test1", 5},
        {GW_EIO_MESSAGE, false, "test2", 5},
        {GW_EIO_MESSAGE, false, "test3", 5},
    };
    PAYLOAD("4test1\x1e"
            "4test2\x1e"
            "4test3",
            three);

    const struct want_packet one[] = {{GW_EIO_PONG, false, "", 0}};
    PAYLOAD("3", one);

    const struct want_packet close_after_ping[] = {
        {GW_EIO_PONG, false, "", 0},
        {GW_EIO_CLOSE, false, "", 0},
    };
    PAYLOAD("3\x1e"
            "1",
            close_after_ping);

    /* an empty binary message is a 'b' with no base64 */
    const struct want_packet empty_bin[] = {{GW_EIO_MESSAGE, true, "", 0}};
    PAYLOAD("b", empty_bin);

    /* text may hold any byte but the separator, NUL included */
    const struct want_packet nul[] = {{GW_EIO_MESSAGE, false, "a\0b", 3}};
    PAYLOAD("4a\0b", nul);
}

/* Decodes payload and expects `good` packets, then -1. */
static void check_payload_error(const char *payload, size_t len, int good)
{
    char *c = exact_copy(payload, len);
    struct gw_eio_payload_iter it;
    struct gw_eio_packet p;
    gw_eio_payload_iter_init(&it, c, len);
    for (int i = 0; i < good; i++)
        CHECK_INT_EQ(gw_eio_payload_next(&it, &p), 1);
    int rc = gw_eio_payload_next(&it, &p);
    CHECK_INT_EQ(rc, -1);
    if (rc != -1)
        test_dump("  payload: ", payload, len);
    free(c);
}

#define PAYLOAD_ERR(lit, good) check_payload_error(lit, sizeof(lit) - 1, good)

static void test_payload_errors(void)
{
    PAYLOAD_ERR("", 0);
    PAYLOAD_ERR("4a\x1e\x1e"
                "4b",
                1);
    PAYLOAD_ERR("\x1e"
                "4a",
                0);
    PAYLOAD_ERR("4a\x1e", 1);
    PAYLOAD_ERR("7", 0);
    PAYLOAD_ERR("abc", 0);
    PAYLOAD_ERR("4a\x1e"
                "abc",
                1);
    PAYLOAD_ERR("B", 0);
    /* invalid base64 after 'b' */
    PAYLOAD_ERR("b!!!!", 0);
    PAYLOAD_ERR("bAQIDBA=", 0);  /* length not a multiple of 4 */
    PAYLOAD_ERR("bAQIDBA", 0);   /* padding left out */
    PAYLOAD_ERR("bAQ==AQ==", 0); /* padding in the middle */
    PAYLOAD_ERR("bAR==", 0);     /* non-zero trailing bits */
    PAYLOAD_ERR("bAQJ=", 0);     /* non-zero trailing bits */
    PAYLOAD_ERR("bAQ-_", 0);     /* url-safe alphabet is not base64 */
    PAYLOAD_ERR("b AQI", 0);
    PAYLOAD_ERR("4hello\x1e"
                "bAQIDBA",
                1);
}

static void test_payload_append_golden(void)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_eio_payload_append(&b, "4hello", 6, false);
    CHECK_STR_EQ(b.data, "4hello");
    gw_eio_payload_append(&b, "\x01\x02\x03\x04", 4, true);
    CHECK_STR_EQ(b.data, "4hello\x1e"
                         "bAQIDBA==");
    gw_eio_payload_append(&b, "2", 1, false);
    CHECK_STR_EQ(b.data, "4hello\x1e"
                         "bAQIDBA==\x1e"
                         "2");

    gw_buf_reset(&b);
    gw_eio_payload_append(&b, "\x01\x02\x03\x04", 4, true);
    CHECK_STR_EQ(b.data, "bAQIDBA==");
    gw_eio_payload_append(&b, "4test2", 6, false);
    CHECK_STR_EQ(b.data, "bAQIDBA==\x1e"
                         "4test2");
    gw_buf_free(&b);
}

/* RFC 6455 §5.2 boundaries: 125 is the last one-byte length, 126 and 65535 take the 16-bit
 * form, 65536 the 64-bit one; the first byte is FIN plus the opcode. */
static void test_ws_header_golden(void)
{
    static const struct {
        size_t len;
        bool binary;
        size_t n;
        unsigned char bytes[GW_EIO_WS_HEADER_MAX];
    } cases[] = {
        {0, false, 2, {0x81, 0x00}},
        {5, false, 2, {0x81, 0x05}},
        {125, true, 2, {0x82, 0x7d}},
        {126, false, 4, {0x81, 0x7e, 0x00, 0x7e}},
        {300, true, 4, {0x82, 0x7e, 0x01, 0x2c}},
        {65535, false, 4, {0x81, 0x7e, 0xff, 0xff}},
        {65536, false, 10, {0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
        {0x12345678, true, 10, {0x82, 0x7f, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char out[GW_EIO_WS_HEADER_MAX + 1];
        memset(out, 0xaa, sizeof(out));
        size_t n = gw_eio_ws_header(out, cases[i].len, cases[i].binary);
        CHECK_INT_EQ(n, cases[i].n);
        CHECK(memcmp(out, cases[i].bytes, cases[i].n) == 0);
        CHECK_INT_EQ(out[n], 0xaa); /* nothing written past the header */
    }
}

/* Random payloads: encode with payload_append, decode with the iterator, compare. Binary frames
 * hold every byte value, the separator included. */
static void test_payload_round_trip(void)
{
    for (int round = 0; round < 300; round++) {
        struct gw_buf b = GW_BUF_INIT;
        size_t nframes = 1 + rng() % 8;
        unsigned char frames[8][80];
        size_t lens[8];
        bool binary[8];
        for (size_t f = 0; f < nframes; f++) {
            binary[f] = rng() & 1;
            lens[f] = binary[f] ? rng() % 80 : 1 + rng() % 79;
            for (size_t i = 0; i < lens[f]; i++)
                frames[f][i] = binary[f] ? (unsigned char)rng() : (unsigned char)(' ' + rng() % 95);
            if (!binary[f])
                frames[f][0] = (unsigned char)('0' + rng() % 7);
            gw_eio_payload_append(&b, (const char *)frames[f], lens[f], binary[f]);
        }
        char *c = exact_copy(b.data, b.len);
        struct gw_eio_payload_iter it;
        struct gw_eio_packet p;
        gw_eio_payload_iter_init(&it, c, b.len);
        for (size_t f = 0; f < nframes; f++) {
            int rc = gw_eio_payload_next(&it, &p);
            CHECK_INT_EQ(rc, 1);
            if (rc != 1)
                break;
            CHECK_INT_EQ(p.binary, binary[f]);
            if (binary[f]) {
                CHECK_INT_EQ(p.type, GW_EIO_MESSAGE);
                CHECK_MEM_EQ(p.data, p.len, frames[f], lens[f]);
            } else {
                CHECK_INT_EQ(p.type, frames[f][0] - '0');
                CHECK_MEM_EQ(p.data, p.len, frames[f] + 1, lens[f] - 1);
            }
        }
        CHECK_INT_EQ(gw_eio_payload_next(&it, &p), 0);
        free(c);
        gw_buf_free(&b);
    }
}

/* ---- base64 ---- */

static void check_b64(const char *raw, const char *enc)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_base64_encode(&b, raw, strlen(raw));
    CHECK_STR_EQ(b.data, enc);
    CHECK_INT_EQ(b.len, strlen(enc));
    gw_buf_free(&b);

    size_t n = strlen(enc);
    char *c = exact_copy(enc, n);
    char out[16];
    long got = gw_base64_decode(c, n, out);
    CHECK_INT_EQ(got, strlen(raw));
    if (got >= 0)
        CHECK_MEM_EQ(out, (size_t)got, raw, strlen(raw));
    free(c);
}

static void test_base64_rfc4648_vectors(void)
{
    check_b64("", "");
    check_b64("f", "Zg==");
    check_b64("fo", "Zm8=");
    check_b64("foo", "Zm9v");
    check_b64("foob", "Zm9vYg==");
    check_b64("fooba", "Zm9vYmE=");
    check_b64("foobar", "Zm9vYmFy");
}

static void test_base64_round_trips(void)
{
    for (size_t len = 0; len <= 64; len++) {
        for (int round = 0; round < 8; round++) {
            unsigned char raw[64];
            for (size_t i = 0; i < len; i++)
                raw[i] = (unsigned char)rng();
            struct gw_buf b = GW_BUF_INIT;
            gw_buf_append_str(&b, "pre");
            gw_base64_encode(&b, raw, len);
            CHECK_INT_EQ(b.len, 3 + (len + 2) / 3 * 4);
            CHECK_INT_EQ(b.data[b.len], '\0');
            CHECK(memcmp(b.data, "pre", 3) == 0);

            /* out of place, from an exact-size copy */
            char *c = exact_copy(b.data + 3, b.len - 3);
            unsigned char out[64];
            long n = gw_base64_decode(c, b.len - 3, out);
            CHECK_INT_EQ(n, len);
            if (n >= 0)
                CHECK_MEM_EQ(out, (size_t)n, raw, len);

            /* in place: out == in */
            n = gw_base64_decode(c, b.len - 3, c);
            CHECK_INT_EQ(n, len);
            if (n >= 0)
                CHECK_MEM_EQ(c, (size_t)n, raw, len);
            free(c);
            gw_buf_free(&b);
        }
    }
}

static long decode_str(const char *s)
{
    size_t n = strlen(s);
    char *c = exact_copy(s, n);
    char out[64];
    long r = gw_base64_decode(c, n, out);
    free(c);
    return r;
}

static void test_base64_rejects(void)
{
    const char *bad[] = {
        "Z",        "Zg",       "Zg=",  "Zm9vY",  "Zm9vYg=", /* bad lengths */
        "Zg==Zg==", "Zm8=Zm9v", "Z===", "====",   "Zg=A",    /* padding misplaced */
        "Zh==",     "Zm9=",     "AB==", "AAB=",              /* non-zero trailing bits */
        "Zm9-",     "Zm9_",     "Zm 9", "Zm9v\n", "Zm.v",    /* not the alphabet */
        "Zm\x80v",  "Zm\xffv",
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(bad); i++) {
        long r = decode_str(bad[i]);
        CHECK_INT_EQ(r, -1);
        if (r != -1)
            fprintf(stderr, "  input: \"%s\"\n", bad[i]);
    }
    char withnul[4] = {'Z', 'm', '\0', 'v'};
    char out[4];
    CHECK_INT_EQ(gw_base64_decode(withnul, 4, out), -1);
}

/* Every possible character at every position of a final group: accepted exactly when it is in
 * the alphabet (or is allowed padding) and leaves no stray bits. */
static void test_base64_every_char(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int c = 0; c < 256; c++) {
        const char *pos = c ? memchr(alphabet, c, 64) : NULL;
        int v = pos ? (int)(pos - alphabet) : -1;
        char in[4];
        unsigned char out[3];

        memcpy(in, "AAA", 3);
        in[3] = (char)c;
        long r = gw_base64_decode(in, 4, out);
        CHECK_INT_EQ(r, c == '=' ? 2 : v >= 0 ? 3 : -1);

        memcpy(in, "AA", 2);
        in[2] = (char)c;
        in[3] = '=';
        r = gw_base64_decode(in, 4, out);
        CHECK_INT_EQ(r, (v >= 0 && (v & 3) == 0) ? 2 : c == '=' ? 1 : -1);

        in[0] = 'A';
        in[1] = (char)c;
        in[2] = in[3] = '=';
        r = gw_base64_decode(in, 4, out);
        CHECK_INT_EQ(r, (v >= 0 && (v & 15) == 0) ? 1 : -1);

        in[0] = (char)c;
        memcpy(in + 1, "AAA", 3);
        r = gw_base64_decode(in, 4, out);
        CHECK_INT_EQ(r, v >= 0 ? 3 : -1);
    }
}

/* ---- UTF-8 ---- */

static bool utf8(const char *s, size_t n)
{
    char *c = exact_copy(s, n);
    bool r = gw_utf8_valid(c, n);
    free(c);
    return r;
}

#define UTF8_OK(lit) CHECK(utf8(lit, sizeof(lit) - 1))
#define UTF8_BAD(lit) CHECK(!utf8(lit, sizeof(lit) - 1))

static void test_utf8_cases(void)
{
    UTF8_OK("");
    UTF8_OK("plain ascii");
    UTF8_OK("nul \0 inside");
    UTF8_OK("\xc2\x80");          /* U+0080 */
    UTF8_OK("\xc3\xa9t\xc3\xa9"); /* été */
    UTF8_OK("\xdf\xbf");          /* U+07FF */
    UTF8_OK("\xe0\xa0\x80");      /* U+0800 */
    UTF8_OK("\xe2\x82\xac");      /* € */
    UTF8_OK("\xed\x9f\xbf");      /* U+D7FF, just below the surrogates */
    UTF8_OK("\xee\x80\x80");      /* U+E000, just above them */
    UTF8_OK("\xef\xbf\xbf");      /* U+FFFF */
    UTF8_OK("\xf0\x90\x80\x80");  /* U+10000 */
    UTF8_OK("\xf0\x9d\x84\x9e");  /* musical G clef */
    UTF8_OK("\xf4\x8f\xbf\xbf");  /* U+10FFFF */
    UTF8_OK("a\xf0\x9f\x98\x80z\xe2\x82\xac");

    UTF8_BAD("\xc0\x80"); /* overlong NUL */
    UTF8_BAD("\xc1\xbf");
    UTF8_BAD("\xe0\x80\x80");
    UTF8_BAD("\xe0\x9f\xbf");
    UTF8_BAD("\xf0\x80\x80\x80");
    UTF8_BAD("\xf0\x8f\xbf\xbf");
    UTF8_BAD("\xed\xa0\x80");             /* U+D800 */
    UTF8_BAD("\xed\xbf\xbf");             /* U+DFFF */
    UTF8_BAD("\xed\xa0\xbd\xed\xb8\x80"); /* a CESU-8 surrogate pair */
    UTF8_BAD("\xf4\x90\x80\x80");         /* U+110000 */
    UTF8_BAD("\xf5\x80\x80\x80");
    UTF8_BAD("\xf7\xbf\xbf\xbf");
    UTF8_BAD("\xf8\x88\x80\x80\x80");
    UTF8_BAD("\xfc\x84\x80\x80\x80\x80");
    UTF8_BAD("\xfe");
    UTF8_BAD("\xff");
    UTF8_BAD("\x80");
    UTF8_BAD("a\xbf");
    UTF8_BAD("\xc3\xa9\xa9");
    /* truncated at the end */
    UTF8_BAD("\xc3");
    UTF8_BAD("\xe2\x82");
    UTF8_BAD("\xf0\x9d\x84");
    UTF8_BAD("abc\xe2\x82");
    UTF8_BAD("abc\xf0");
    /* truncated in the middle */
    UTF8_BAD("\xc3"
             "A");
    UTF8_BAD("\xe2"
             "A\xac");
    UTF8_BAD("\xf0\x9d"
             "A\x9e");
    UTF8_BAD("\xe2\x82\xc3\xa9");
}

/* The well-formed byte sequences of Unicode Table 3-7, as an oracle independent of how the
 * validator computes code points. Returns the length of the sequence at s, or 0. */
static size_t table37(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++) {
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    }
    return len;
}

static bool oracle(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = table37(s + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* Every 1-, 2- and 3-byte string (the 3-byte ones from a non-ASCII lead), and 4-byte strings
 * with a F0..FF lead over a set of boundary bytes. */
static void test_utf8_exhaustive(void)
{
    int mismatches = 0;
    unsigned char s[4];
    for (int a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        mismatches += gw_utf8_valid((char *)s, 1) != oracle(s, 1);
        for (int b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            mismatches += gw_utf8_valid((char *)s, 2) != oracle(s, 2);
            if (a < 0x80)
                continue;
            for (int c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                mismatches += gw_utf8_valid((char *)s, 3) != oracle(s, 3);
            }
        }
    }
    static const unsigned char edge[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                         0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf4, 0xff};
    for (int a = 0xf0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            for (size_t c = 0; c < sizeof(edge); c++) {
                for (size_t d = 0; d < sizeof(edge); d++) {
                    s[0] = (unsigned char)a;
                    s[1] = (unsigned char)b;
                    s[2] = edge[c];
                    s[3] = edge[d];
                    mismatches += gw_utf8_valid((char *)s, 4) != oracle(s, 4);
                }
            }
        }
    }
    CHECK_INT_EQ(mismatches, 0);
}

/* ---- query ---- */

/* Feeds the NULL-terminated args (each from an exact-size copy) and checks the result. */
static int query(struct gw_eio_query *q, enum gw_eio_error *err, const char *const *args)
{
    gw_eio_query_init(q);
    for (size_t i = 0; args[i]; i++) {
        size_t n = strlen(args[i]);
        char *c = exact_copy(args[i], n);
        gw_eio_query_add(q, c, n);
        free(c);
    }
    *err = (enum gw_eio_error) - 1;
    return gw_eio_query_check(q, err);
}

#define QUERY_OK(...)                                                                              \
    do {                                                                                           \
        const char *const args_[] = {__VA_ARGS__, NULL};                                           \
        CHECK_INT_EQ(query(&q, &err, args_), 0);                                                   \
    } while (0)

#define QUERY_ERR(want, ...)                                                                       \
    do {                                                                                           \
        const char *const args_[] = {__VA_ARGS__, NULL};                                           \
        CHECK_INT_EQ(query(&q, &err, args_), -1);                                                  \
        CHECK_INT_EQ(err, want);                                                                   \
    } while (0)

static void test_query_version_and_transport(void)
{
    struct gw_eio_query q;
    enum gw_eio_error err;

    QUERY_OK("EIO=4", "transport=polling");
    CHECK_INT_EQ(q.transport, GW_EIO_TRANSPORT_POLLING);
    CHECK(q.eio_ok && q.eio_seen && !q.has_sid);
    QUERY_OK("transport=websocket", "EIO=4");
    CHECK_INT_EQ(q.transport, GW_EIO_TRANSPORT_WEBSOCKET);

    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "transport=polling");
    CHECK(!q.eio_seen);
    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "EIO=abc", "transport=polling");
    CHECK(q.eio_seen && !q.eio_ok);
    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "EIO=3", "transport=polling");
    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "EIO=", "transport=polling");
    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "EIO=44", "transport=polling");
    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "EIO=4 ", "transport=polling");
    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "EIO", "transport=polling");
    /* names match exactly */
    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "eio=4", "transport=polling");
    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "EIOX=4", "transport=polling");
    QUERY_ERR(GW_EIO_ERR_UNSUPPORTED_VERSION, "xEIO=4", "transport=polling");

    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=4");
    CHECK_INT_EQ(q.transport, GW_EIO_TRANSPORT_NONE);
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=4", "transport=abc");
    CHECK_INT_EQ(q.transport, GW_EIO_TRANSPORT_UNKNOWN);
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=4", "transport=");
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=4", "transport=Polling");
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=4", "transport=pollingx");
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=4", "transport=websocke");
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=4", "transport=webtransport");
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=4", "transportx=polling");

    /* the transport is checked before the version, as the reference server does */
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "");
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=3");
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=abc", "transport=abc");
    QUERY_ERR(GW_EIO_ERR_TRANSPORT_UNKNOWN, "EIO=4", "transport=abc", "sid=nope");
}

static void test_query_extra_params_ignored(void)
{
    struct gw_eio_query q;
    enum gw_eio_error err;
    QUERY_OK("EIO=4", "transport=polling", "t=ODz3rW1", "b64=1", "token=eyJhbGciOi.x.y");
    CHECK(!q.has_sid);
    QUERY_OK("token=EIO=3", "EIO=4", "j=0", "transport=polling", "sidx=abc", "=", "");
    CHECK(!q.has_sid);
}

static void test_query_respects_length(void)
{
    /* len cuts the argument: "EIO=45" read as "EIO=4", "transport=pollingX" as polling */
    struct gw_eio_query q;
    enum gw_eio_error err;
    gw_eio_query_init(&q);
    char *a = exact_copy("EIO=45", 6);
    char *b = exact_copy("transport=pollingX", 18);
    gw_eio_query_add(&q, a, 5);
    gw_eio_query_add(&q, b, 17);
    CHECK_INT_EQ(gw_eio_query_check(&q, &err), 0);
    CHECK_INT_EQ(q.transport, GW_EIO_TRANSPORT_POLLING);
    free(a);
    free(b);
}

static void test_query_sid(void)
{
    struct gw_eio_query q;
    enum gw_eio_error err;
    char sid[GW_EIO_SID_LEN + 1], arg[64];
    gw_eio_new_sid(sid);
    snprintf(arg, sizeof(arg), "sid=%s", sid);
    QUERY_OK("EIO=4", "transport=polling", arg);
    CHECK(q.has_sid && q.sid_valid);
    CHECK_STR_EQ(q.sid, sid);

    QUERY_OK("EIO=4", "transport=websocket", "sid=Az09-_Az09-_Az09-_Az");
    CHECK_STR_EQ(q.sid, "Az09-_Az09-_Az09-_Az");

    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling", "sid=nope");
    CHECK(q.has_sid && !q.sid_valid);
    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling", "sid=");
    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling",
              "sid=AAAAAAAAAAAAAAAAAAA"); /* 19 */
    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling",
              "sid=AAAAAAAAAAAAAAAAAAAAA"); /* 21 */
    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling", "sid=AAAAAAAAAAAAAAAAAAA+");
    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling", "sid=AAAAAAAAAAAAAAAAAAA/");
    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling", "sid=AAAAAAAAAAAAAAAAAAA=");
    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling", "sid=AAAAAAAAAAAAAAAAAA..");
    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling",
              "sid=AAAAAAAAAAAAAAAAAAA\xc3");
    QUERY_ERR(GW_EIO_ERR_SESSION_UNKNOWN, "EIO=4", "transport=polling", "sid=AAAAAAAAA AAAAAAAAAA");

    /* a NUL inside the value (a %00 decoded by lws) is not an id character */
    gw_eio_query_init(&q);
    gw_eio_query_add(&q, "EIO=4", 5);
    gw_eio_query_add(&q, "transport=polling", 17);
    char nul_sid[24] = "sid=AAAAAAAAAAAAAAAAAAAA";
    nul_sid[10] = '\0';
    gw_eio_query_add(&q, nul_sid, sizeof(nul_sid));
    CHECK_INT_EQ(gw_eio_query_check(&q, &err), -1);
    CHECK_INT_EQ(err, GW_EIO_ERR_SESSION_UNKNOWN);
}

/* ---- session ids ---- */

static int cmp_sid(const void *a, const void *b)
{
    return memcmp(a, b, GW_EIO_SID_LEN + 1);
}

static void test_new_sid(void)
{
    enum { N = 10000 };
    char(*sids)[GW_EIO_SID_LEN + 1] = gw_malloc(N * sizeof(*sids));
    int bad_chars = 0;
    unsigned seen[256] = {0};
    for (int i = 0; i < N; i++) {
        memset(sids[i], '!', sizeof(sids[i]));
        gw_eio_new_sid(sids[i]);
        CHECK_INT_EQ(strlen(sids[i]), GW_EIO_SID_LEN);
        for (int k = 0; k < GW_EIO_SID_LEN; k++) {
            unsigned char c = (unsigned char)sids[i][k];
            seen[c]++;
            bad_chars += !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_');
        }
    }
    CHECK_INT_EQ(bad_chars, 0);
    /* 200k characters: each of the 64 should show up (expected ~3125 times each) */
    int used = 0;
    for (int c = 0; c < 256; c++)
        used += seen[c] > 0;
    CHECK_INT_EQ(used, 64);

    qsort(sids, N, sizeof(*sids), cmp_sid);
    int dups = 0;
    for (int i = 1; i < N; i++)
        dups += cmp_sid(sids[i - 1], sids[i]) == 0;
    CHECK_INT_EQ(dups, 0);
    free(sids);
}

int main(void)
{
    RUN(test_open_golden);
    RUN(test_error_bodies);
    RUN(test_decode_text);
    RUN(test_payload_golden);
    RUN(test_payload_errors);
    RUN(test_payload_append_golden);
    RUN(test_payload_round_trip);
    RUN(test_ws_header_golden);
    RUN(test_base64_rfc4648_vectors);
    RUN(test_base64_round_trips);
    RUN(test_base64_rejects);
    RUN(test_base64_every_char);
    RUN(test_utf8_cases);
    RUN(test_utf8_exhaustive);
    RUN(test_query_version_and_transport);
    RUN(test_query_extra_params_ignored);
    RUN(test_query_respects_length);
    RUN(test_query_sid);
    RUN(test_new_sid);
    return TEST_REPORT();
}
