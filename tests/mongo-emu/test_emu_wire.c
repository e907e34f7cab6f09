/* test_emu_wire.c -- OP_MSG / OP_QUERY framing decode, BSON validation and reply encoding. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "wire.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

/* Builds a message: header + body bytes. */
static size_t frame(uint8_t *out, int32_t opcode, const uint8_t *body, size_t n)
{
    put32(out, (uint32_t)(16 + n));
    put32(out + 4, 7);
    put32(out + 8, 0);
    put32(out + 12, (uint32_t)opcode);
    memcpy(out + 16, body, n);
    return 16 + n;
}

static bson_t *J(const char *s)
{
    bson_t *b = bson_new_from_json((const uint8_t *)s, -1, NULL);
    if (!b)
        abort();
    return b;
}

static void test_header_bounds(void)
{
    uint8_t h[16] = {0};
    struct emu_wire_header hd;
    char err[256];
    put32(h, 15);
    CHECK_INT_EQ(emu_wire_header_parse(h, 16, &hd, err), -1);
    put32(h, EMU_WIRE_MAX_MESSAGE + 1);
    CHECK_INT_EQ(emu_wire_header_parse(h, 16, &hd, err), -1);
    put32(h, 0x80000000u);
    CHECK_INT_EQ(emu_wire_header_parse(h, 16, &hd, err), -1);
    put32(h, 16);
    put32(h + 12, 2013);
    CHECK_INT_EQ(emu_wire_header_parse(h, 16, &hd, err), 0);
    CHECK_INT_EQ(hd.opcode, 2013);
}

static void test_op_msg_sequences_merge(void)
{
    bson_t *body = J("{\"insert\": \"c\", \"$db\": \"app\"}");
    bson_t *d1 = J("{\"_id\": 1}"), *d2 = J("{\"_id\": 2}");
    uint8_t b[512], msg[600];
    size_t n = 0;
    put32(b, 0);
    n = 4;
    b[n++] = 0;
    memcpy(b + n, bson_get_data(body), body->len);
    n += body->len;
    b[n++] = 1;
    size_t seq_start = n;
    n += 4;
    memcpy(b + n, "documents", 10);
    n += 10;
    memcpy(b + n, bson_get_data(d1), d1->len);
    n += d1->len;
    memcpy(b + n, bson_get_data(d2), d2->len);
    n += d2->len;
    put32(b + seq_start, (uint32_t)(n - seq_start));
    size_t len = frame(msg, EMU_OP_MSG, b, n);
    struct emu_wire_request req;
    char err[256];
    CHECK_INT_EQ(emu_wire_request_parse(msg, len, &req, err), 0);
    bson_t *want = J("{\"insert\": \"c\", \"$db\": \"app\", \"documents\": [{\"_id\": 1}, "
                     "{\"_id\": 2}]}");
    CHECK(bson_equal(&req.command, want));
    CHECK_INT_EQ(req.request_id, 7);
    emu_wire_request_cleanup(&req);
    bson_destroy(want);

    /* A sequence named like a body field is refused. */
    memcpy(b + seq_start + 4, "insert\0\0\0\0", 10);
    put32(b + seq_start, (uint32_t)(n - seq_start - 3));
    memmove(b + seq_start + 4 + 7, b + seq_start + 4 + 10, n - (seq_start + 14));
    len = frame(msg, EMU_OP_MSG, b, n - 3);
    CHECK_INT_EQ(emu_wire_request_parse(msg, len, &req, err), -1);
    bson_destroy(body);
    bson_destroy(d1);
    bson_destroy(d2);
}

static void test_op_msg_flags(void)
{
    bson_t *body = J("{\"ping\": 1, \"$db\": \"admin\"}");
    uint8_t b[256], msg[300];
    struct emu_wire_request req;
    char err[256];
    /* checksumPresent: the trailing 4 bytes are not a section. */
    put32(b, EMU_MSG_CHECKSUM_PRESENT);
    b[4] = 0;
    memcpy(b + 5, bson_get_data(body), body->len);
    memset(b + 5 + body->len, 0xAB, 4);
    size_t len = frame(msg, EMU_OP_MSG, b, 5 + body->len + 4);
    CHECK_INT_EQ(emu_wire_request_parse(msg, len, &req, err), 0);
    emu_wire_request_cleanup(&req);
    /* An unknown required bit (bit 3) is an error; an unknown optional bit (bit 20) is not. */
    put32(b, 8);
    len = frame(msg, EMU_OP_MSG, b, 5 + body->len);
    CHECK_INT_EQ(emu_wire_request_parse(msg, len, &req, err), -1);
    put32(b, 1u << 20);
    len = frame(msg, EMU_OP_MSG, b, 5 + body->len);
    if (emu_wire_request_parse(msg, len, &req, err) == 0)
        emu_wire_request_cleanup(&req);
    else
        CHECK(0);
    /* Two bodies, or none, are errors. */
    memcpy(b + 5 + body->len, b + 4, 1 + body->len);
    len = frame(msg, EMU_OP_MSG, b, 5 + 2 * body->len + 1);
    CHECK_INT_EQ(emu_wire_request_parse(msg, len, &req, err), -1);
    len = frame(msg, EMU_OP_MSG, b, 4);
    CHECK_INT_EQ(emu_wire_request_parse(msg, len, &req, err), -1);
    /* Section kind 2 is not supported. */
    b[4] = 2;
    len = frame(msg, EMU_OP_MSG, b, 5 + body->len);
    CHECK_INT_EQ(emu_wire_request_parse(msg, len, &req, err), -1);
    bson_destroy(body);
}

static void test_op_query_unwraps(void)
{
    bson_t *q = J("{\"$query\": {\"isMaster\": 1, \"helloOk\": true}, \"$readPreference\": "
                  "{\"mode\": \"primaryPreferred\"}}");
    uint8_t b[512], msg[600];
    size_t n = 0;
    put32(b, 4);
    n = 4;
    memcpy(b + n, "admin.$cmd", 11);
    n += 11;
    put32(b + n, 0);
    put32(b + n + 4, (uint32_t)-1);
    n += 8;
    memcpy(b + n, bson_get_data(q), q->len);
    n += q->len;
    size_t len = frame(msg, EMU_OP_QUERY, b, n);
    struct emu_wire_request req;
    char err[256];
    CHECK_INT_EQ(emu_wire_request_parse(msg, len, &req, err), 0);
    CHECK_STR_EQ(req.ns, "admin.$cmd");
    CHECK_INT_EQ(req.flags, 4);
    bson_t *want = J("{\"isMaster\": 1, \"helloOk\": true, \"$readPreference\": {\"mode\": "
                     "\"primaryPreferred\"}}");
    CHECK(bson_equal(&req.command, want));
    emu_wire_request_cleanup(&req);
    bson_destroy(want);
    /* A namespace without its NUL. */
    memset(b + 4, 'x', n - 4);
    len = frame(msg, EMU_OP_QUERY, b, n);
    CHECK_INT_EQ(emu_wire_request_parse(msg, len, &req, err), -1);
    bson_destroy(q);
}

static void test_length_mismatch_and_opcode(void)
{
    uint8_t msg[32] = {0};
    struct emu_wire_request req;
    char err[256];
    put32(msg, 20);
    put32(msg + 12, EMU_OP_MSG);
    CHECK_INT_EQ(emu_wire_request_parse(msg, 24, &req, err), -1);
    put32(msg, 16);
    put32(msg + 12, 2012); /* OP_COMPRESSED is never negotiated */
    CHECK_INT_EQ(emu_wire_request_parse(msg, 16, &req, err), -1);
}

static size_t nested(uint8_t *buf, int depth)
{
    /* {"a": {"a": ... {}}} built inside out. */
    size_t len = 5;
    uint8_t tmp[8192];
    put32(buf, 5);
    buf[4] = 0;
    for (int d = 0; d < depth; d++) {
        size_t outer = 4 + 1 + 2 + len + 1;
        put32(tmp, (uint32_t)outer);
        tmp[4] = 3;
        tmp[5] = 'a';
        tmp[6] = 0;
        memcpy(tmp + 7, buf, len);
        tmp[7 + len] = 0;
        memcpy(buf, tmp, outer);
        len = outer;
    }
    return len;
}

static void test_bson_validation(void)
{
    uint8_t buf[8192];
    size_t n = nested(buf, 50);
    CHECK(emu_wire_bson_valid(buf, n, EMU_WIRE_MAX_DEPTH));
    n = nested(buf, 150);
    CHECK(!emu_wire_bson_valid(buf, n, EMU_WIRE_MAX_DEPTH));

    bson_t *d = J("{\"s\": \"hello\", \"b\": true, \"i\": 5}");
    uint8_t copy[128];
    memcpy(copy, bson_get_data(d), d->len);
    CHECK(emu_wire_bson_valid(copy, d->len, 10));
    /* The string's length runs past the document. */
    uint8_t bad[128];
    memcpy(bad, copy, d->len);
    put32(bad + 4 + 1 + 2, 200);
    CHECK(!emu_wire_bson_valid(bad, d->len, 10));
    /* A bool that is neither 0 nor 1. */
    memcpy(bad, copy, d->len);
    size_t boolpos = 4 + 1 + 2 + 4 + 6 + 1 + 2;
    CHECK_INT_EQ(bad[boolpos], 1);
    bad[boolpos] = 2;
    CHECK(!emu_wire_bson_valid(bad, d->len, 10));
    /* An unknown element type. */
    memcpy(bad, copy, d->len);
    bad[4] = 0x42;
    CHECK(!emu_wire_bson_valid(bad, d->len, 10));
    /* Missing terminator. */
    memcpy(bad, copy, d->len);
    bad[d->len - 1] = 1;
    CHECK(!emu_wire_bson_valid(bad, d->len, 10));
    bson_destroy(d);
}

static void test_reply_encoding(void)
{
    bson_t *doc = J("{\"ok\": 1.0}");
    struct gw_buf out = GW_BUF_INIT;
    emu_wire_append_msg(&out, 11, 7, EMU_MSG_MORE_TO_COME, doc);
    CHECK_INT_EQ(out.len, 16 + 4 + 1 + doc->len);
    const uint8_t *p = (const uint8_t *)out.data;
    CHECK_INT_EQ(p[0] | p[1] << 8, out.len);
    CHECK_INT_EQ(p[4], 11);
    CHECK_INT_EQ(p[8], 7);
    CHECK_INT_EQ(p[12] | p[13] << 8, 2013);
    CHECK_INT_EQ(p[16], 2);
    CHECK_INT_EQ(p[20], 0);
    CHECK_MEM_EQ(p + 21, doc->len, bson_get_data(doc), doc->len);
    gw_buf_reset(&out);
    emu_wire_append_reply(&out, 12, 9, doc);
    p = (const uint8_t *)out.data;
    CHECK_INT_EQ(out.len, 36 + doc->len);
    CHECK_INT_EQ(p[12], 1);
    CHECK_INT_EQ(p[32], 1); /* numberReturned */
    CHECK_MEM_EQ(p + 36, doc->len, bson_get_data(doc), doc->len);
    gw_buf_free(&out);
    bson_destroy(doc);
}

int main(void)
{
    RUN(test_header_bounds);
    RUN(test_op_msg_sequences_merge);
    RUN(test_op_msg_flags);
    RUN(test_op_query_unwraps);
    RUN(test_length_mismatch_and_opcode);
    RUN(test_bson_validation);
    RUN(test_reply_encoding);
    return TEST_REPORT();
}
