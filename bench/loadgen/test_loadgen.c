/* test_loadgen.c -- unit tests of the load generator's pure parts: WebSocket frames, the
 * upgrade answer, JSON field extraction, notification parsing, the histogram, the sequence
 * tracker and token minting (HS256, RS256, the per-user table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "gw/base64.h"
#include "gw/buf.h"
#include "gw/common.h"
#include "lg_codec.h"
#include "lg_hist.h"
#include "lg_jwt.h"
#include "lg_track.h"
#include "test.h"

static const uint8_t MASK[4] = {0x11, 0x22, 0x33, 0x44};

/* Unmasks the payload of a client frame in place and checks its header; returns the payload. */
static const uint8_t *client_payload(struct gw_buf *b, size_t hdr, size_t len)
{
    uint8_t *p = (uint8_t *)b->data;
    CHECK_INT_EQ(b->len, hdr + 4 + len);
    CHECK(memcmp(p + hdr, MASK, 4) == 0);
    for (size_t i = 0; i < len; i++)
        p[hdr + 4 + i] ^= MASK[i & 3];
    return p + hdr + 4;
}

static void test_encode_small(void)
{
    struct gw_buf b = GW_BUF_INIT;
    lg_ws_encode(&b, LG_WS_TEXT, "40{}", 4, MASK);
    const uint8_t *p = (const uint8_t *)b.data;
    CHECK_INT_EQ(p[0], 0x81);
    CHECK_INT_EQ(p[1], 0x80 | 4);
    /* The bytes on the wire are masked, not the plain text. */
    CHECK_INT_EQ(p[6], '4' ^ 0x11);
    CHECK_MEM_EQ(client_payload(&b, 2, 4), 4, "40{}", 4);
    gw_buf_free(&b);
}

static void test_encode_lengths(void)
{
    char *big = malloc(70000);
    memset(big, 'x', 70000);
    struct gw_buf b = GW_BUF_INIT;
    lg_ws_encode(&b, LG_WS_TEXT, big, 126, MASK);
    const uint8_t *p = (const uint8_t *)b.data;
    CHECK_INT_EQ(p[1], 0x80 | 126);
    CHECK_INT_EQ(p[2] << 8 | p[3], 126);
    CHECK_MEM_EQ(client_payload(&b, 4, 126), 126, big, 126);
    gw_buf_reset(&b);
    lg_ws_encode(&b, LG_WS_CLOSE, big, 70000, MASK);
    p = (const uint8_t *)b.data;
    CHECK_INT_EQ(p[0], 0x88);
    CHECK_INT_EQ(p[1], 0x80 | 127);
    CHECK_INT_EQ(p[7] << 16 | p[8] << 8 | p[9], 70000);
    CHECK_MEM_EQ(client_payload(&b, 10, 70000), 70000, big, 70000);
    gw_buf_free(&b);
    free(big);
}

static void test_decode(void)
{
    static const uint8_t frame[] = "\x81\x05hello";
    struct lg_ws_frame f;
    char err[GW_ERR_LEN];
    /* Every strict prefix asks for more bytes. */
    for (size_t n = 0; n < 7; n++)
        CHECK_INT_EQ(lg_ws_decode(frame, n, 100, &f, err), 0);
    CHECK_INT_EQ(lg_ws_decode(frame, 7, 100, &f, err), 7);
    CHECK_INT_EQ(f.fin, 1);
    CHECK_INT_EQ(f.opcode, LG_WS_TEXT);
    CHECK_MEM_EQ(f.payload, f.len, "hello", 5);

    uint8_t mid[4 + 300];
    mid[0] = 0x01; /* text, not final */
    mid[1] = 126;
    mid[2] = 300 >> 8;
    mid[3] = 300 & 0xff;
    memset(mid + 4, 'a', 300);
    CHECK_INT_EQ(lg_ws_decode(mid, sizeof(mid) - 1, 1000, &f, err), 0);
    CHECK_INT_EQ(lg_ws_decode(mid, sizeof(mid), 1000, &f, err), (long)sizeof(mid));
    CHECK_INT_EQ(f.fin, 0);
    CHECK_INT_EQ(f.len, 300);
    CHECK_INT_EQ(lg_ws_decode(mid, sizeof(mid), 299, &f, err), -1);

    static const uint8_t big[] = "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00";
    CHECK_INT_EQ(lg_ws_decode(big, 10, 1u << 20, &f, err), 0);
    CHECK_INT_EQ(lg_ws_decode(big, 10, 100, &f, err), -1);
}

static void test_decode_refuses(void)
{
    struct lg_ws_frame f;
    char err[GW_ERR_LEN] = "";
    CHECK_INT_EQ(lg_ws_decode((const uint8_t *)"\x81\x85\0\0\0\0hello", 11, 100, &f, err), -1);
    CHECK(strstr(err, "masked") != NULL);
    CHECK_INT_EQ(lg_ws_decode((const uint8_t *)"\xc1\x00", 2, 100, &f, err), -1); /* RSV1 */
    CHECK_INT_EQ(lg_ws_decode((const uint8_t *)"\x83\x00", 2, 100, &f, err), -1); /* opcode 3 */
    CHECK_INT_EQ(lg_ws_decode((const uint8_t *)"\x8b\x00", 2, 100, &f, err), -1); /* opcode B */
    CHECK_INT_EQ(lg_ws_decode((const uint8_t *)"\x09\x00", 2, 100, &f, err), -1); /* frag ping */
    CHECK_INT_EQ(lg_ws_decode((const uint8_t *)"\x89\x7e\x00\x7e", 4, 1000, &f, err), -1);
}

static void test_accept(void)
{
    char out[29];
    lg_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out); /* RFC 6455 section 1.3 */
    CHECK_STR_EQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_http_response(void)
{
    static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "sec-websocket-accept:  s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \r\n\r\n\x81";
    int status = 0;
    char accept[29];
    size_t head = sizeof(ok) - 2;
    for (size_t n = 0; n < head; n++)
        CHECK_INT_EQ(lg_http_response(ok, n, &status, accept), 0);
    CHECK_INT_EQ(lg_http_response(ok, sizeof(ok) - 1, &status, accept), (long)head);
    CHECK_INT_EQ(status, 101);
    CHECK_STR_EQ(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

    static const char no[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    CHECK_INT_EQ(lg_http_response(no, sizeof(no) - 1, &status, accept), (long)sizeof(no) - 1);
    CHECK_INT_EQ(status, 403);
    CHECK_STR_EQ(accept, "");
    CHECK_INT_EQ(lg_http_response("SSH-2.0-x\r\n\r\n", 13, &status, accept), -1);
}

static void test_json_member(void)
{
    /* A decoy "seq" inside a nested object and inside a string must not match. */
    static const char doc[] = " { \"data\" : {\"seq\": 9}, \"t\":\"\\\"seq\\\": 8\", \"seq\" : 7 ,"
                              "\"a\":[1,{\"x\":null}],\"b\":true}";
    const char *v;
    size_t vl;
    CHECK_INT_EQ(lg_json_member(doc, sizeof(doc) - 1, "seq", &v, &vl), 1);
    CHECK_MEM_EQ(v, vl, "7", 1);
    CHECK_INT_EQ(lg_json_member(doc, sizeof(doc) - 1, "a", &v, &vl), 1);
    CHECK_MEM_EQ(v, vl, "[1,{\"x\":null}]", 14);
    CHECK_INT_EQ(lg_json_member(doc, sizeof(doc) - 1, "x", &v, &vl), 0);
    CHECK_INT_EQ(lg_json_member("{}", 2, "x", &v, &vl), 0);
    CHECK_INT_EQ(lg_json_member("[1]", 3, "x", &v, &vl), -1);
    CHECK_INT_EQ(lg_json_member("{\"x\" 1}", 7, "x", &v, &vl), -1);
    CHECK_INT_EQ(lg_json_member("{\"y\":1,}", 8, "x", &v, &vl), -1);
    CHECK_INT_EQ(lg_json_member("{\"y\":tru}", 9, "x", &v, &vl), -1);
    CHECK_INT_EQ(lg_json_member("{\"x\":[[[]]]}", 12, "x", &v, &vl), 1);
    CHECK_MEM_EQ(v, vl, "[[[]]]", 6);
    CHECK_INT_EQ(lg_json_member("{\"x\":\"a\\q\"}", 11, "x", &v, &vl), -1); /* bad escape */
    CHECK_INT_EQ(lg_json_member("{\"x\":01}", 8, "x", &v, &vl), -1);        /* leading zero */
}

static void test_json_members(void)
{
    static const char *const keys[] = {"seq", "userId", "gone"};
    struct lg_json_span v[3];
    static const char doc[] = "{\"meta\":{\"seq\":1},\"seq\":2,\"userId\":\"u\",\"seq\":3} ";
    CHECK_INT_EQ(lg_json_members(doc, sizeof(doc) - 1, keys, 3, v), 2);
    CHECK_MEM_EQ(v[0].p, v[0].n, "2", 1); /* the first top-level one, not the nested one */
    CHECK_MEM_EQ(v[1].p, v[1].n, "\"u\"", 3);
    CHECK(v[2].p == NULL);
    CHECK_INT_EQ(lg_json_members("{} ", 3, keys, 3, v), 0);
    CHECK_INT_EQ(lg_json_members("{},1", 4, keys, 3, v), -1);
    CHECK_INT_EQ(lg_json_members("{\"seq\":2} x", 11, keys, 3, v), -1);
    CHECK_INT_EQ(lg_json_members("{\"seq\":2", 8, keys, 3, v), -1);
    CHECK_INT_EQ(lg_json_members("{\"seq\":[}", 9, keys, 3, v), -1);
}

static void test_json_scalars(void)
{
    int64_t n = 0;
    CHECK_INT_EQ(lg_json_int("17", 2, &n), 0);
    CHECK_INT_EQ(n, 17);
    CHECK_INT_EQ(lg_json_int("1795000000000123", 16, &n), 0);
    CHECK_INT_EQ(n, 1795000000000123LL);
    CHECK_INT_EQ(lg_json_int("1.7e3", 5, &n), 0);
    CHECK_INT_EQ(n, 1700);
    CHECK_INT_EQ(lg_json_int("-3", 2, &n), 0);
    CHECK_INT_EQ(n, -3);
    CHECK_INT_EQ(lg_json_int("1.5", 3, &n), -1);
    CHECK_INT_EQ(lg_json_int("1e300", 5, &n), -1);
    CHECK_INT_EQ(lg_json_int("\"1\"", 3, &n), -1);
    CHECK_INT_EQ(lg_json_int("12x", 3, &n), -1);
    char s[8];
    CHECK_INT_EQ(lg_json_plain_string("\"user-1\"", 8, s, sizeof(s)), 0);
    CHECK_STR_EQ(s, "user-1");
    CHECK_INT_EQ(lg_json_plain_string("\"user-123\"", 10, s, sizeof(s)), -1); /* no room */
    CHECK_INT_EQ(lg_json_plain_string("\"a\\nb\"", 6, s, sizeof(s)), -1);
    CHECK_INT_EQ(lg_json_plain_string("12", 2, s, sizeof(s)), -1);
}

static enum lg_notice_result parse(const char *p, struct lg_notice *n)
{
    return lg_notice_parse(p, strlen(p), "notification", n);
}

static void test_notice(void)
{
    struct lg_notice n;
    CHECK_INT_EQ(parse("[\"notification\",{\"_id\":\"65f0a1b2c3d4e5f607182930\",\"userId\":"
                       "\"user-3\",\"type\":\"bench\",\"meta\":{\"seq\":99},\"seq\":12,"
                       "\"sentAt\":1795000000000123}]",
                       &n),
                 LG_NOTICE_OK);
    CHECK_STR_EQ(n.id, "65f0a1b2c3d4e5f607182930");
    CHECK_STR_EQ(n.user, "user-3");
    CHECK_INT_EQ(n.seq, 12);
    CHECK_INT_EQ(n.sent_at_us, 1795000000000123LL);

    CHECK_INT_EQ(parse("[\"other\",{}]", &n), LG_NOTICE_OTHER_EVENT);
    CHECK_INT_EQ(parse("[\"notification\",{\"_id\":\"a\",\"userId\":\"u\",\"sentAt\":1}]", &n),
                 LG_NOTICE_MALFORMED); /* no seq */
    CHECK_INT_EQ(parse("[\"notification\",{\"_id\":\"a\",\"userId\":\"u\",\"seq\":\"1\","
                       "\"sentAt\":1}]",
                       &n),
                 LG_NOTICE_MALFORMED); /* seq is a string */
    CHECK_INT_EQ(parse("[\"notification\",{\"_id\":\"a\",\"userId\":\"u\",\"seq\":1,"
                       "\"sentAt\":1}] x",
                       &n),
                 LG_NOTICE_MALFORMED); /* trailing bytes */
    CHECK_INT_EQ(parse("{\"notification\":1}", &n), LG_NOTICE_MALFORMED);
    CHECK_INT_EQ(parse("[\"notification\",{\"_id\":\"a\",\"userId\":\"u\",\"seq\":1,"
                       "\"sentAt\":1},2]",
                       &n),
                 LG_NOTICE_MALFORMED); /* a third element that is not the offset */
    CHECK_INT_EQ(parse("[\"notification\",{\"_id\":\"a\",\"userId\":\"u\",\"seq\":1,"
                       "\"sentAt\":1},\"b\"]",
                       &n),
                 LG_NOTICE_MALFORMED); /* an offset other than the _id */
    CHECK_INT_EQ(parse("[\"notification\",{\"_id\":\"a\",\"userId\":\"u\",\"seq\":1,"
                       "\"sentAt\":1},\"a\",\"a\"]",
                       &n),
                 LG_NOTICE_MALFORMED); /* a fourth element */
    CHECK_INT_EQ(parse("[\"notification\",{\"_id\":\"6b04\",\"userId\":\"u\",\"seq\":7,"
                       "\"sentAt\":5} , \"6b04\" ]",
                       &n),
                 LG_NOTICE_OK); /* the gateway's recovery offset */
    CHECK_INT_EQ(n.seq, 7);
    CHECK_INT_EQ(parse("[\"notification\",{\"_id\":\"a\",\"userId\":\"u\",\"seq\":1,"
                       "\"sentAt\":1 ]",
                       &n),
                 LG_NOTICE_MALFORMED); /* the document is not closed */
    CHECK_INT_EQ(parse(" [ \"notification\" , {\"_id\":\"a\",\"userId\":\"u\",\"seq\":1,"
                       "\"sentAt\":1} ] ",
                       &n),
                 LG_NOTICE_OK);
    CHECK_INT_EQ(parse("[\"notification\"]", &n), LG_NOTICE_MALFORMED);
}

static void test_hist(void)
{
    struct lg_hist *h = malloc(sizeof(*h));
    lg_hist_init(h);
    CHECK_INT_EQ(lg_hist_quantile(h, 0.5), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        lg_hist_add(h, v);
    CHECK_INT_EQ(h->count, 100000);
    CHECK_INT_EQ(lg_hist_quantile(h, 0), 1);
    CHECK_INT_EQ(lg_hist_quantile(h, 1), 100000);
    const double qs[] = {0.001, 0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < GW_ARRAY_SIZE(qs); i++) {
        double want = qs[i] * 100000, got = (double)lg_hist_quantile(h, qs[i]);
        CHECK(got >= want * 0.99 && got <= want * 1.01);
    }
    lg_hist_add(h, (uint64_t)1 << 50); /* beyond the top bucket: max stays exact */
    CHECK_INT_EQ(lg_hist_quantile(h, 1), (int64_t)1 << 50);
    /* Exact below 256. */
    lg_hist_init(h);
    lg_hist_add(h, 3);
    lg_hist_add(h, 200);
    CHECK_INT_EQ(lg_hist_quantile(h, 0.5), 3);
    CHECK_INT_EQ(lg_hist_quantile(h, 1), 200);
    free(h);
}

static void test_track(void)
{
    struct lg_track t;
    lg_track_init(&t);
    CHECK_INT_EQ(lg_track_add(&t, 0), LG_SEQ_NEXT);
    CHECK_INT_EQ(lg_track_add(&t, 1), LG_SEQ_NEXT);
    CHECK_INT_EQ(lg_track_add(&t, 3), LG_SEQ_AHEAD);
    CHECK_INT_EQ(lg_track_add(&t, 2), LG_SEQ_LATE);
    CHECK_INT_EQ(lg_track_add(&t, 2), LG_SEQ_DUPLICATE);
    CHECK_INT_EQ(lg_track_add(&t, -1), LG_SEQ_INVALID);
    CHECK_INT_EQ(lg_track_add(&t, LG_TRACK_MAX_SEQ + 1), LG_SEQ_INVALID);
    CHECK_INT_EQ(lg_track_add(&t, 1000), LG_SEQ_AHEAD); /* grows the bitmap */
    CHECK_INT_EQ(t.received, 5);
    CHECK_INT_EQ(t.duplicates, 1);
    CHECK_INT_EQ(t.reordered, 1);
    CHECK_INT_EQ(t.invalid, 2);
    CHECK_INT_EQ(lg_track_missing(&t, 4), 0);
    CHECK_INT_EQ(lg_track_missing(&t, 6), 2);
    CHECK_INT_EQ(lg_track_missing(&t, 1001), 1001 - 5);
    lg_track_free(&t);
    CHECK_INT_EQ(lg_track_missing(&t, 3), 3);
}

static void test_jwt(void)
{
    /* Expected value computed independently with Node's crypto (createHmac, base64url). */
    struct gw_buf b = GW_BUF_INIT;
    lg_jwt_hs256(&b, "user-42", 1700000000, 2000000000, "bench-secret", 12);
    CHECK_STR_EQ(b.data, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                         "eyJzdWIiOiJ1c2VyLTQyIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjIwMDAwMDAwMDB9."
                         "_SvBMhIpU5hOUd3q8MDXKuAzbyfMUN8psWiwrN7ZKsY");
    gw_buf_free(&b);
}

/* Writes key (private part) to a fresh temporary PEM file; returns its path in path. */
static void write_key(EVP_PKEY *key, char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/test_loadgen_key_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CHECK(f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(f);
}

/* Verifies the RS256 signature of token under key, as a gateway would. */
static int rs256_valid(const char *token, EVP_PKEY *key)
{
    const char *dot = strrchr(token, '.');
    uint8_t sig[512];
    long sig_len = gw_base64url_decode(dot + 1, strlen(dot + 1), sig);
    if (sig_len <= 0)
        return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(md, sig, (size_t)sig_len, (const unsigned char *)token,
                              (size_t)(dot - token)) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static void test_jwt_rs256(void)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    CHECK(key != NULL);
    char path[64], err[GW_ERR_LEN];
    write_key(key, path, sizeof(path));
    struct lg_signer s = {0};
    CHECK_INT_EQ(lg_signer_load_rs256(&s, path, err), 0);
    CHECK_INT_EQ(s.alg, LG_RS256);

    struct gw_buf b = GW_BUF_INIT;
    lg_jwt_sign(&b, &s, "user-42", 1700000000, 2000000000);
    gw_buf_append_char(&b, '\0');
    /* base64url({"alg":"RS256","typ":"JWT"}) and the same claims as the HS256 test. */
    CHECK(strncmp(b.data,
                  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
                  "eyJzdWIiOiJ1c2VyLTQyIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjIwMDAwMDAwMDB9.",
                  36 + 1 + 68 + 1) == 0);
    CHECK(rs256_valid(b.data, key));
    b.data[40] ^= 1; /* a changed claim must break the signature */
    CHECK(!rs256_valid(b.data, key));
    gw_buf_free(&b);
    lg_signer_free(&s);
    CHECK(s.key == NULL);
    unlink(path);
    EVP_PKEY_free(key);
}

static void test_jwt_rs256_refuses(void)
{
    char err[GW_ERR_LEN];
    struct lg_signer s = {0};
    CHECK_INT_EQ(lg_signer_load_rs256(&s, "/nonexistent/key.pem", err), -1);
    CHECK(strstr(err, "cannot open") != NULL);

    EVP_PKEY *ec = EVP_EC_gen("P-256");
    char path[64];
    write_key(ec, path, sizeof(path));
    CHECK_INT_EQ(lg_signer_load_rs256(&s, path, err), -1);
    CHECK(strstr(err, "not an RSA key") != NULL);
    CHECK(s.key == NULL);
    unlink(path);
    EVP_PKEY_free(ec);
}

static void test_tokens(void)
{
    struct lg_signer s = {
        .alg = LG_HS256, .secret = (const uint8_t *)"bench-secret", .secret_len = 12};
    struct lg_tokens t;
    lg_tokens_mint(&t, &s, 41, 3, 1700000000, 2000000000);
    size_t len;
    const char *tok = lg_tokens_get(&t, 42, &len);
    /* The same token as test_jwt mints for user-42, and its neighbours differ from it. */
    CHECK_MEM_EQ(tok, len,
                 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                 "eyJzdWIiOiJ1c2VyLTQyIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjIwMDAwMDAwMDB9."
                 "_SvBMhIpU5hOUd3q8MDXKuAzbyfMUN8psWiwrN7ZKsY",
                 (size_t)149);
    size_t l41, l43;
    const char *t41 = lg_tokens_get(&t, 41, &l41), *t43 = lg_tokens_get(&t, 43, &l43);
    CHECK(l41 == len && memcmp(t41, tok, len) != 0);
    CHECK(l43 == len && memcmp(t43, tok, len) != 0);
    lg_tokens_free(&t);
    CHECK(t.n == 0 && t.off == NULL);
}

int main(void)
{
    RUN(test_encode_small);
    RUN(test_encode_lengths);
    RUN(test_decode);
    RUN(test_decode_refuses);
    RUN(test_accept);
    RUN(test_http_response);
    RUN(test_json_member);
    RUN(test_json_members);
    RUN(test_json_scalars);
    RUN(test_notice);
    RUN(test_hist);
    RUN(test_track);
    RUN(test_jwt);
    RUN(test_jwt_rs256);
    RUN(test_jwt_rs256_refuses);
    RUN(test_tokens);
    return TEST_REPORT();
}
