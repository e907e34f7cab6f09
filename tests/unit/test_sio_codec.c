/* test_sio_codec.c -- Socket.IO v5 codec: golden strings of the protocol suite, the packets the
 * reference parser refuses, encode/decode round trips and binary reassembly.
 *
 * Inputs are Socket.IO packets as they sit inside an Engine.IO message, i.e. without the
 * leading "4": the suite's `42["message",...]` is `2["message",...]` here.
 */
#include <stdlib.h>
#include <string.h>

#include "gw/sio_codec.h"
#include "test.h"

#define PH0 "{\"_placeholder\":true,\"num\":0}"
#define PH1 "{\"_placeholder\":true,\"num\":1}"

/* Inputs are decoded from heap copies without a trailing NUL, so that any read past `len`
 * trips AddressSanitizer. The copies live until the end of the test program. */
static char *exact_copy(const char *s)
{
    size_t n = strlen(s);
    char *c = gw_malloc(n ? n : 1);
    memcpy(c, s, n);
    return c;
}

static char *copies[4096];
static size_t ncopies;

static enum gw_sio_status decode(const char *s, struct gw_sio_packet *p)
{
    char *c = exact_copy(s);
    GW_ASSERT(ncopies < GW_ARRAY_SIZE(copies));
    copies[ncopies++] = c;
    return gw_sio_decode(c, strlen(s), NULL, p);
}

static void free_copies(void)
{
    for (size_t i = 0; i < ncopies; i++)
        free(copies[i]);
    ncopies = 0;
}

static enum gw_sio_status decode_status(const char *s)
{
    char *c = exact_copy(s);
    struct gw_sio_packet p;
    enum gw_sio_status st = gw_sio_decode(c, strlen(s), NULL, &p);
    gw_sio_packet_clear(&p);
    free(c);
    return st;
}

/* Namespace as a NUL-terminated copy, for CHECK_STR_EQ. */
static const char *nsp_of(const struct gw_sio_packet *p)
{
    static char nsp[128];
    size_t n = GW_MIN(p->nsp_len, sizeof(nsp) - 1);
    memcpy(nsp, p->nsp, n);
    nsp[n] = '\0';
    return nsp;
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Decodes `in`, checks the header fields and the payload (NULL when none), then re-encodes the
 * packet both from its json_t and from its raw JSON text and expects `reencoded`. */
static void check_golden(const char *in, enum gw_sio_type type, int attachments, const char *nsp,
                         int64_t id, const char *payload, const char *reencoded)
{
    struct gw_sio_packet p;
    enum gw_sio_status st = decode(in, &p);
    CHECK_INT_EQ(st, GW_SIO_OK);
    if (st != GW_SIO_OK) {
        fprintf(stderr, "  input: %s (%s)\n", in, gw_sio_strerror(st));
        return;
    }
    CHECK_INT_EQ(p.type, type);
    CHECK_INT_EQ(p.attachments, attachments);
    CHECK_STR_EQ(nsp_of(&p), nsp);
    CHECK_INT_EQ(p.id, id);
    if (payload) {
        char *got = dump(p.data);
        CHECK_STR_EQ(got, payload);
        free(got);
        CHECK_MEM_EQ(p.json, p.json_len, payload, strlen(payload));
    } else {
        CHECK(p.data == NULL);
        CHECK(p.json == NULL);
    }

    struct gw_buf b = GW_BUF_INIT;
    CHECK_INT_EQ(gw_sio_encode(&b, &p, NULL), 0);
    CHECK_MEM_EQ(b.data, b.len, reencoded, strlen(reencoded));

    json_t *data = p.data;
    p.data = NULL; /* now the encoder must use the raw text */
    gw_buf_reset(&b);
    CHECK_INT_EQ(gw_sio_encode(&b, &p, NULL), 0);
    CHECK_MEM_EQ(b.data, b.len, reencoded, strlen(reencoded));
    p.data = data;

    gw_buf_free(&b);
    gw_sio_packet_clear(&p);
}

/* Every client packet of the official sio5 suite (research §1.3). */
static void test_golden_suite_packets(void)
{
    const int64_t none = GW_SIO_NO_ID;
    check_golden("0", GW_SIO_CONNECT, 0, "/", none, NULL, "0");
    check_golden("0{\"token\":\"123\"}", GW_SIO_CONNECT, 0, "/", none, "{\"token\":\"123\"}",
                 "0{\"token\":\"123\"}");
    check_golden("0/custom,", GW_SIO_CONNECT, 0, "/custom", none, NULL, "0/custom,");
    check_golden("0/custom,{\"token\":\"abc\"}", GW_SIO_CONNECT, 0, "/custom", none,
                 "{\"token\":\"abc\"}", "0/custom,{\"token\":\"abc\"}");
    /* No trailing comma: the namespace runs to the end of the packet. */
    check_golden("0/random", GW_SIO_CONNECT, 0, "/random", none, NULL, "0/random,");
    check_golden("0/custom", GW_SIO_CONNECT, 0, "/custom", none, NULL, "0/custom,");
    check_golden("1", GW_SIO_DISCONNECT, 0, "/", none, NULL, "1");
    check_golden("1/custom,", GW_SIO_DISCONNECT, 0, "/custom", none, NULL, "1/custom,");
    check_golden("1/custom", GW_SIO_DISCONNECT, 0, "/custom", none, NULL, "1/custom,");
    check_golden("2[\"message\",1,\"2\",{\"3\":[true]}]", GW_SIO_EVENT, 0, "/", none,
                 "[\"message\",1,\"2\",{\"3\":[true]}]", "2[\"message\",1,\"2\",{\"3\":[true]}]");
    check_golden("2[\"message\",\"message to main namespace\"]", GW_SIO_EVENT, 0, "/", none,
                 "[\"message\",\"message to main namespace\"]",
                 "2[\"message\",\"message to main namespace\"]");
    check_golden("52-[\"message\"," PH0 "," PH1 "]", GW_SIO_BINARY_EVENT, 2, "/", none,
                 "[\"message\"," PH0 "," PH1 "]", "52-[\"message\"," PH0 "," PH1 "]");
    check_golden("2456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", GW_SIO_EVENT, 0, "/", 456,
                 "[\"message-with-ack\",1,\"2\",{\"3\":[false]}]",
                 "2456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]");
    check_golden("3456[1,\"2\",{\"3\":[false]}]", GW_SIO_ACK, 0, "/", 456,
                 "[1,\"2\",{\"3\":[false]}]", "3456[1,\"2\",{\"3\":[false]}]");
    check_golden("52-789[\"message-with-ack\"," PH0 "," PH1 "]", GW_SIO_BINARY_EVENT, 2, "/", 789,
                 "[\"message-with-ack\"," PH0 "," PH1 "]",
                 "52-789[\"message-with-ack\"," PH0 "," PH1 "]");
    check_golden("62-789[" PH0 "," PH1 "]", GW_SIO_BINARY_ACK, 2, "/", 789, "[" PH0 "," PH1 "]",
                 "62-789[" PH0 "," PH1 "]");
    check_golden("4/random,{\"message\":\"Invalid namespace\"}", GW_SIO_CONNECT_ERROR, 0, "/random",
                 none, "{\"message\":\"Invalid namespace\"}",
                 "4/random,{\"message\":\"Invalid namespace\"}");
}

/* Shapes beyond the suite that the protocol allows. */
static void test_golden_other_shapes(void)
{
    const int64_t none = GW_SIO_NO_ID;
    check_golden("2/admin,12[\"bar\"]", GW_SIO_EVENT, 0, "/admin", 12, "[\"bar\"]",
                 "2/admin,12[\"bar\"]");
    check_golden("51-/admin,13[\"baz\"," PH0 "]", GW_SIO_BINARY_EVENT, 1, "/admin", 13,
                 "[\"baz\"," PH0 "]", "51-/admin,13[\"baz\"," PH0 "]");
    check_golden("2[42,\"numeric event name\"]", GW_SIO_EVENT, 0, "/", none,
                 "[42,\"numeric event name\"]", "2[42,\"numeric event name\"]");
    check_golden("3/admin,13[]", GW_SIO_ACK, 0, "/admin", 13, "[]", "3/admin,13[]");
    check_golden("4\"not authorized\"", GW_SIO_CONNECT_ERROR, 0, "/", none, "\"not authorized\"",
                 "4\"not authorized\"");
    check_golden("50-[\"no attachments\"]", GW_SIO_BINARY_EVENT, 0, "/", none,
                 "[\"no attachments\"]", "50-[\"no attachments\"]");
    check_golden("20[\"zero id\"]", GW_SIO_EVENT, 0, "/", 0, "[\"zero id\"]", "20[\"zero id\"]");
    check_golden("29223372036854775807[\"max id\"]", GW_SIO_EVENT, 0, "/", INT64_MAX,
                 "[\"max id\"]", "29223372036854775807[\"max id\"]");
    /* Key order, '/' and non-ASCII text survive the round trip byte for byte. */
    check_golden("2[\"a/b\",{\"z\":1,\"a\":2,\"\xc3\xa9\":\"\xe2\x82\xac\"}]", GW_SIO_EVENT, 0, "/",
                 none, "[\"a/b\",{\"z\":1,\"a\":2,\"\xc3\xa9\":\"\xe2\x82\xac\"}]",
                 "2[\"a/b\",{\"z\":1,\"a\":2,\"\xc3\xa9\":\"\xe2\x82\xac\"}]");
}

static void test_trailing_whitespace_is_not_payload(void)
{
    struct gw_sio_packet p;
    CHECK_INT_EQ(decode("2[\"a\"] \n", &p), GW_SIO_OK);
    CHECK_MEM_EQ(p.json, p.json_len, "[\"a\"]", 5);
    gw_sio_packet_clear(&p);
}

static void test_invalid_packets(void)
{
    /* The suite's invalid inputs: "4abc", "42{}", "42abc[...]" with the engine's "4" removed. */
    CHECK_INT_EQ(decode_status("abc"), GW_SIO_BAD_TYPE);
    CHECK_INT_EQ(decode_status("2{}"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("2abc[\"message-with-ack\",1,\"2\",{\"3\":[false]}]"),
                 GW_SIO_BAD_ID);

    CHECK_INT_EQ(decode_status(""), GW_SIO_EMPTY);
    CHECK_INT_EQ(decode_status("7"), GW_SIO_BAD_TYPE);
    CHECK_INT_EQ(decode_status("9[\"a\"]"), GW_SIO_BAD_TYPE);
    CHECK_INT_EQ(decode_status("/[\"a\"]"), GW_SIO_BAD_TYPE);
    CHECK_INT_EQ(decode_status(" 2[\"a\"]"), GW_SIO_BAD_TYPE);

    /* Ack ids: digits only, and they must fit. */
    CHECK_INT_EQ(decode_status("29223372036854775808[\"a\"]"), GW_SIO_BAD_ID);
    CHECK_INT_EQ(decode_status("299999999999999999999999[\"a\"]"), GW_SIO_BAD_ID);
    CHECK_INT_EQ(decode_status("212x[\"a\"]"), GW_SIO_BAD_ID);
    CHECK_INT_EQ(decode_status("2-1[\"a\"]"), GW_SIO_BAD_JSON);
    CHECK_INT_EQ(decode_status("2 [\"a\"]"), GW_SIO_BAD_JSON);

    /* JSON itself. */
    CHECK_INT_EQ(decode_status("2[\"a\""), GW_SIO_BAD_JSON);
    CHECK_INT_EQ(decode_status("2[\"a\",]"), GW_SIO_BAD_JSON);
    CHECK_INT_EQ(decode_status("2[\"\\u0000\"]"), GW_SIO_BAD_JSON);
    CHECK_INT_EQ(decode_status("2[\"\xff\"]"), GW_SIO_BAD_JSON);
    CHECK_INT_EQ(decode_status("2[\"a\"]x"), GW_SIO_TRAILING_GARBAGE);
    CHECK_INT_EQ(decode_status("2[\"a\"]]"), GW_SIO_TRAILING_GARBAGE);
    CHECK_INT_EQ(decode_status("2[\"a\"][\"b\"]"), GW_SIO_TRAILING_GARBAGE);
    CHECK_INT_EQ(decode_status("0{}{}"), GW_SIO_TRAILING_GARBAGE);

    /* A control character in a namespace would be echoed back in CONNECT_ERROR. */
    CHECK_INT_EQ(decode_status("0/a\x1e"
                               "b,"),
                 GW_SIO_BAD_NAMESPACE);
    CHECK_INT_EQ(decode_status("0/a\nb"), GW_SIO_BAD_NAMESPACE);
}

static void test_invalid_payload_per_type(void)
{
    CHECK_INT_EQ(decode_status("0[]"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("0\"token\""), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("1{}"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("1/custom,[]"), GW_SIO_BAD_PAYLOAD);

    CHECK_INT_EQ(decode_status("2"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("2[]"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("2\"message\""), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("2[null]"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("2[[\"message\"]]"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("2[{\"event\":\"message\"}]"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("2[true]"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("51-[]"), GW_SIO_BAD_PAYLOAD);

    const char *reserved[] = {"connect",       "connect_error", "disconnect",
                              "disconnecting", "newListener",   "removeListener"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(reserved); i++) {
        char pkt[64];
        snprintf(pkt, sizeof(pkt), "2[\"%s\",1]", reserved[i]);
        CHECK_INT_EQ(decode_status(pkt), GW_SIO_RESERVED_EVENT);
        snprintf(pkt, sizeof(pkt), "51-7[\"%s\"," PH0 "]", reserved[i]);
        CHECK_INT_EQ(decode_status(pkt), GW_SIO_RESERVED_EVENT);
    }
    /* Close to a reserved name is not reserved. */
    CHECK_INT_EQ(decode_status("2[\"connected\"]"), GW_SIO_OK);
    CHECK_INT_EQ(decode_status("2[\"Connect\"]"), GW_SIO_OK);
    CHECK_INT_EQ(decode_status("2[\"connec\"]"), GW_SIO_OK);

    CHECK_INT_EQ(decode_status("3[1]"), GW_SIO_MISSING_ID);
    CHECK_INT_EQ(decode_status("61-[" PH0 "]"), GW_SIO_MISSING_ID);
    CHECK_INT_EQ(decode_status("312"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("312{}"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("312\"a\""), GW_SIO_BAD_PAYLOAD);

    CHECK_INT_EQ(decode_status("4"), GW_SIO_BAD_PAYLOAD);
    CHECK_INT_EQ(decode_status("4[\"a\"]"), GW_SIO_BAD_PAYLOAD);
}

static void test_attachment_counts(void)
{
    CHECK_INT_EQ(decode_status("5[\"a\"]"), GW_SIO_BAD_ATTACHMENTS);
    CHECK_INT_EQ(decode_status("5-[\"a\"]"), GW_SIO_BAD_ATTACHMENTS);
    CHECK_INT_EQ(decode_status("52[\"a\"]"), GW_SIO_BAD_ATTACHMENTS);
    CHECK_INT_EQ(decode_status("52"), GW_SIO_BAD_ATTACHMENTS);
    CHECK_INT_EQ(decode_status("5a-[\"a\"]"), GW_SIO_BAD_ATTACHMENTS);
    CHECK_INT_EQ(decode_status("5 2-[\"a\"]"), GW_SIO_BAD_ATTACHMENTS);
    CHECK_INT_EQ(decode_status("6"), GW_SIO_BAD_ATTACHMENTS);

    CHECK_INT_EQ(decode_status("510-[\"a\"]"), GW_SIO_OK);
    CHECK_INT_EQ(decode_status("511-[\"a\"]"), GW_SIO_TOO_MANY_ATTACHMENTS);
    CHECK_INT_EQ(decode_status("599999999999999999999999-[\"a\"]"), GW_SIO_TOO_MANY_ATTACHMENTS);

    struct gw_sio_limits lim;
    gw_sio_limits_default(&lim);
    CHECK_INT_EQ(lim.max_attachments, 10);
    lim.max_attachments = 2;
    struct gw_sio_packet p;
    const char *three = "53-[\"a\"]";
    CHECK_INT_EQ(gw_sio_decode(three, strlen(three), &lim, &p), GW_SIO_TOO_MANY_ATTACHMENTS);
    const char *two = "52-[\"a\"]";
    CHECK_INT_EQ(gw_sio_decode(two, strlen(two), &lim, &p), GW_SIO_OK);
    gw_sio_packet_clear(&p);
}

static void test_placeholders(void)
{
    CHECK_INT_EQ(decode_status("52-[\"a\"," PH1 "," PH0 "]"), GW_SIO_OK);
    CHECK_INT_EQ(decode_status("51-[\"a\",{\"x\":[{\"y\":" PH0 "}]}]"), GW_SIO_OK);
    CHECK_INT_EQ(decode_status("62-5[" PH0 "]"), GW_SIO_OK);

    CHECK_INT_EQ(decode_status("52-[\"a\",{\"_placeholder\":true,\"num\":2}]"),
                 GW_SIO_BAD_PLACEHOLDER);
    CHECK_INT_EQ(decode_status("52-[\"a\",{\"_placeholder\":true,\"num\":-1}]"),
                 GW_SIO_BAD_PLACEHOLDER);
    CHECK_INT_EQ(decode_status("52-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]"),
                 GW_SIO_BAD_PLACEHOLDER);
    CHECK_INT_EQ(decode_status("52-[\"a\",{\"_placeholder\":true,\"num\":0.5}]"),
                 GW_SIO_BAD_PLACEHOLDER);
    CHECK_INT_EQ(decode_status("52-[\"a\",{\"_placeholder\":true}]"), GW_SIO_BAD_PLACEHOLDER);
    CHECK_INT_EQ(decode_status("51-[\"a\",{\"x\":[{\"y\":" PH1 "}]}]"), GW_SIO_BAD_PLACEHOLDER);
    CHECK_INT_EQ(decode_status("50-[\"a\"," PH0 "]"), GW_SIO_BAD_PLACEHOLDER);
    CHECK_INT_EQ(decode_status("61-9[{\"_placeholder\":true,\"num\":4294967296}]"),
                 GW_SIO_BAD_PLACEHOLDER);

    /* Only `"_placeholder": true` marks a placeholder; text packets are never checked. */
    CHECK_INT_EQ(decode_status("51-[\"a\",{\"_placeholder\":\"true\",\"num\":7}]"), GW_SIO_OK);
    CHECK_INT_EQ(decode_status("2[\"a\",{\"_placeholder\":true,\"num\":7}]"), GW_SIO_OK);
}

/* An event whose second argument nests `levels` containers: arrays, or objects when `objects`. */
static char *nested_event(int levels, bool objects)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_buf_append_str(&b, "2[\"deep\",");
    for (int i = 0; i < levels; i++)
        gw_buf_append_str(&b, objects ? "{\"k\":" : "[");
    gw_buf_append_char(&b, '1');
    for (int i = 0; i < levels; i++)
        gw_buf_append_char(&b, objects ? '}' : ']');
    gw_buf_append_char(&b, ']');
    return gw_buf_steal(&b, NULL);
}

static void check_depth(int levels, bool objects, enum gw_sio_status want)
{
    char *s = nested_event(levels, objects);
    CHECK_INT_EQ(decode_status(s), want);
    free(s);
}

static void test_depth_limit(void)
{
    /* The event array itself is the first level: 31 more make exactly the default 32. */
    check_depth(31, false, GW_SIO_OK);
    check_depth(31, true, GW_SIO_OK);
    check_depth(32, false, GW_SIO_TOO_DEEP);
    check_depth(32, true, GW_SIO_TOO_DEEP);

    struct gw_buf b = GW_BUF_INIT;
    /* Hostile input: a megabyte of '[' is refused before jansson sees it. */
    gw_buf_append_char(&b, '2');
    for (int i = 0; i < 1000000; i++)
        gw_buf_append_char(&b, '[');
    CHECK_INT_EQ(decode_status(b.data), GW_SIO_TOO_DEEP);

    /* Brackets inside strings, escaped quotes included, do not count. */
    gw_buf_reset(&b);
    gw_buf_append_str(&b, "2[\"a\",\"\\\"");
    for (int i = 0; i < 100; i++)
        gw_buf_append_str(&b, "[{");
    gw_buf_append_str(&b, "\"]");
    CHECK_INT_EQ(decode_status(b.data), GW_SIO_OK);

    /* A configured limit applies. */
    struct gw_sio_limits lim;
    gw_sio_limits_default(&lim);
    lim.max_depth = 2;
    struct gw_sio_packet p;
    const char *two = "2[\"a\",[1]]", *three = "2[\"a\",[[1]]]";
    CHECK_INT_EQ(gw_sio_decode(two, strlen(two), &lim, &p), GW_SIO_OK);
    gw_sio_packet_clear(&p);
    CHECK_INT_EQ(gw_sio_decode(three, strlen(three), &lim, &p), GW_SIO_TOO_DEEP);
    gw_buf_free(&b);
}

/* The decoder must never read past `len`: the input is not NUL-terminated. */
static void test_decode_respects_length(void)
{
    const char *s = "2[\"a\"]GARBAGE";
    struct gw_sio_packet p;
    CHECK_INT_EQ(gw_sio_decode(s, 6, NULL, &p), GW_SIO_OK);
    CHECK_MEM_EQ(p.json, p.json_len, "[\"a\"]", 5);
    gw_sio_packet_clear(&p);

    CHECK_INT_EQ(gw_sio_decode("0/customXYZ", 8, NULL, &p), GW_SIO_OK);
    CHECK_STR_EQ(nsp_of(&p), "/custom");
    gw_sio_packet_clear(&p);

    CHECK_INT_EQ(gw_sio_decode("52-[]", 2, NULL, &p), GW_SIO_BAD_ATTACHMENTS);
    CHECK_INT_EQ(gw_sio_decode("2123", 3, NULL, &p), GW_SIO_BAD_PAYLOAD);
}

static void test_strerror(void)
{
    for (int st = GW_SIO_OK; st <= GW_SIO_UNEXPECTED_BINARY; st++) {
        const char *s = gw_sio_strerror((enum gw_sio_status)st);
        CHECK(s != NULL && s[0] != '\0');
        CHECK(strcmp(s, "unknown Socket.IO codec status") != 0);
    }
    CHECK_STR_EQ(gw_sio_strerror((enum gw_sio_status)999), "unknown Socket.IO codec status");
    CHECK_STR_EQ(gw_sio_strerror(GW_SIO_RESERVED_EVENT), "the event name is reserved");
}

static void test_nsp_is(void)
{
    struct gw_sio_packet p;
    CHECK_INT_EQ(decode("0/custom,", &p), GW_SIO_OK);
    CHECK(gw_sio_packet_nsp_is(&p, "/custom"));
    CHECK(!gw_sio_packet_nsp_is(&p, "/"));
    CHECK(!gw_sio_packet_nsp_is(&p, "/custo"));
    CHECK(!gw_sio_packet_nsp_is(&p, "/customer"));
    gw_sio_packet_clear(&p);
    CHECK_INT_EQ(decode("0", &p), GW_SIO_OK);
    CHECK(gw_sio_packet_nsp_is(&p, "/"));
    gw_sio_packet_clear(&p);
}

/* ------------------------------------------------------------------------------------------ */
/* Encode */

static void check_buf(struct gw_buf *b, const char *want)
{
    CHECK_MEM_EQ(b->data, b->len, want, strlen(want));
    gw_buf_reset(b);
}

static void test_encode_server_replies(void)
{
    struct gw_buf b = GW_BUF_INIT;

    gw_sio_encode_connect(&b, NULL, "VtkgYMSAmiSAuTvHAAAA", NULL);
    check_buf(&b, "0{\"sid\":\"VtkgYMSAmiSAuTvHAAAA\"}");
    gw_sio_encode_connect(&b, "/", "VtkgYMSAmiSAuTvHAAAA", NULL);
    check_buf(&b, "0{\"sid\":\"VtkgYMSAmiSAuTvHAAAA\"}");
    gw_sio_encode_connect(&b, "/custom", "oSO0OpakMV_3jnilAAAA", NULL);
    check_buf(&b, "0/custom,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}");
    gw_sio_encode_connect(&b, NULL, "VtkgYMSAmiSAuTvHAAAA", "p\"1");
    check_buf(&b, "0{\"sid\":\"VtkgYMSAmiSAuTvHAAAA\",\"pid\":\"p\\\"1\"}");

    CHECK_INT_EQ(gw_sio_encode_connect_error(&b, "/random", "Invalid namespace", NULL, NULL), 0);
    check_buf(&b, "4/random,{\"message\":\"Invalid namespace\"}");

    json_t *data = json_pack("{s:s}", "code", "TOKEN_EXPIRED");
    CHECK_INT_EQ(gw_sio_encode_connect_error(&b, NULL, "jwt expired", data, NULL), 0);
    check_buf(&b, "4{\"message\":\"jwt expired\",\"data\":{\"code\":\"TOKEN_EXPIRED\"}}");
    json_decref(data);

    data = json_pack("{s:i}", "code", 4001);
    CHECK_INT_EQ(gw_sio_encode_connect_error(&b, NULL, "not authorized", data, NULL), 0);
    check_buf(&b, "4{\"message\":\"not authorized\",\"data\":{\"code\":4001}}");
    json_decref(data);

    /* Quotes and slashes in the message are escaped the way JSON.stringify does. */
    CHECK_INT_EQ(gw_sio_encode_connect_error(&b, NULL, "bad \"token\" a/b", NULL, NULL), 0);
    check_buf(&b, "4{\"message\":\"bad \\\"token\\\" a/b\"}");

    json_t *args = json_pack("[s,i,s,{s:[b]}]", "message-back", 1, "2", "3", 1);
    CHECK_INT_EQ(gw_sio_encode_json(&b, GW_SIO_EVENT, NULL, GW_SIO_NO_ID, args, NULL), 0);
    check_buf(&b, "2[\"message-back\",1,\"2\",{\"3\":[true]}]");
    CHECK_INT_EQ(gw_sio_encode_json(&b, GW_SIO_EVENT, "/custom", 7, args, NULL), 0);
    check_buf(&b, "2/custom,7[\"message-back\",1,\"2\",{\"3\":[true]}]");
    json_decref(args);

    args = json_pack("[i,s,{s:[b]}]", 1, "2", "3", 0);
    CHECK_INT_EQ(gw_sio_encode_json(&b, GW_SIO_ACK, NULL, 456, args, NULL), 0);
    check_buf(&b, "3456[1,\"2\",{\"3\":[false]}]");
    json_decref(args);

    json_t *auth = json_pack("[s,{}]", "auth");
    CHECK_INT_EQ(gw_sio_encode_json(&b, GW_SIO_EVENT, "/custom", GW_SIO_NO_ID, auth, NULL), 0);
    check_buf(&b, "2/custom,[\"auth\",{}]");
    json_decref(auth);

    CHECK_INT_EQ(gw_sio_encode_json(&b, GW_SIO_DISCONNECT, "/custom", GW_SIO_NO_ID, NULL, NULL), 0);
    check_buf(&b, "1/custom,");
    gw_buf_free(&b);
}

static void test_encode_pre_encoded_text(void)
{
    struct gw_buf b = GW_BUF_INIT;
    const char *note = "[\"notification\",{\"_id\":\"65f0\",\"title\":\"Shipped\"}]";
    gw_sio_encode_text(&b, GW_SIO_EVENT, NULL, GW_SIO_NO_ID, note, strlen(note));
    check_buf(&b, "2[\"notification\",{\"_id\":\"65f0\",\"title\":\"Shipped\"}]");
    gw_sio_encode_text(&b, GW_SIO_EVENT, "/", 3, note, strlen(note));
    check_buf(&b, "23[\"notification\",{\"_id\":\"65f0\",\"title\":\"Shipped\"}]");
    gw_sio_encode_text(&b, GW_SIO_ACK, "/admin", 0, "[]", 2);
    check_buf(&b, "3/admin,0[]");
    gw_buf_free(&b);
}

static void test_encode_binary_headers(void)
{
    struct gw_buf b = GW_BUF_INIT;
    const char *json = "[\"message-back\"," PH0 "," PH1 "]";
    struct gw_sio_packet p = {.type = GW_SIO_BINARY_EVENT,
                              .attachments = 2,
                              .id = GW_SIO_NO_ID,
                              .json = json,
                              .json_len = strlen(json)};
    CHECK_INT_EQ(gw_sio_encode(&b, &p, NULL), 0);
    check_buf(&b, "52-[\"message-back\"," PH0 "," PH1 "]");

    const char *acked = "[" PH0 "," PH1 "]";
    p = (struct gw_sio_packet){.type = GW_SIO_BINARY_ACK,
                               .attachments = 2,
                               .nsp = "/custom",
                               .nsp_len = 7,
                               .id = 789,
                               .json = acked,
                               .json_len = strlen(acked)};
    CHECK_INT_EQ(gw_sio_encode(&b, &p, NULL), 0);
    check_buf(&b, "62-/custom,789[" PH0 "," PH1 "]");

    p = (struct gw_sio_packet){.type = GW_SIO_BINARY_EVENT, .id = GW_SIO_NO_ID};
    CHECK_INT_EQ(gw_sio_encode(&b, &p, NULL), 0);
    check_buf(&b, "50-");
    gw_buf_free(&b);
}

/* A json_t jansson refuses to dump leaves the buffer as it was and says why. */
static void test_encode_failure_leaves_buffer(void)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_buf_append_str(&b, "keep");
    json_t *bad = json_pack("[s,o]", "e", json_stringn_nocheck("\xff\xfe", 2));
    char err[GW_ERR_LEN] = "";
    CHECK_INT_EQ(gw_sio_encode_json(&b, GW_SIO_EVENT, "/x", 5, bad, err), -1);
    CHECK_STR_EQ(b.data, "keep");
    CHECK_INT_EQ(b.len, 4);
    CHECK(err[0] != '\0');

    err[0] = '\0';
    CHECK_INT_EQ(gw_sio_encode_connect_error(&b, NULL, "msg", bad, err), -1);
    CHECK_STR_EQ(b.data, "keep");
    CHECK(err[0] != '\0');
    CHECK_INT_EQ(gw_sio_encode_connect_error(&b, NULL, "\xc3", NULL, NULL), -1);
    CHECK_STR_EQ(b.data, "keep");
    json_decref(bad);
    gw_buf_free(&b);
}

/* Encoding a decoded packet after JSON-level edits gives what the fixture must answer. */
static void test_echo_as_fixture(void)
{
    const char *in = "2456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]";
    struct gw_sio_packet p;
    CHECK_INT_EQ(decode(in, &p), GW_SIO_OK);
    json_array_remove(p.data, 0);
    struct gw_buf b = GW_BUF_INIT;
    CHECK_INT_EQ(gw_sio_encode_json(&b, GW_SIO_ACK, NULL, p.id, p.data, NULL), 0);
    check_buf(&b, "3456[1,\"2\",{\"3\":[false]}]");
    gw_sio_packet_clear(&p);

    CHECK_INT_EQ(decode("0/custom,{\"token\":\"abc\"}", &p), GW_SIO_OK);
    json_t *ev = json_pack("[s,O]", "auth", p.data);
    char nsp[16];
    snprintf(nsp, sizeof(nsp), "%s", nsp_of(&p));
    CHECK_INT_EQ(gw_sio_encode_json(&b, GW_SIO_EVENT, nsp, GW_SIO_NO_ID, ev, NULL), 0);
    check_buf(&b, "2/custom,[\"auth\",{\"token\":\"abc\"}]");
    json_decref(ev);
    gw_sio_packet_clear(&p);
    gw_buf_free(&b);
}

static bool is_base64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static void test_generate_sid(void)
{
    char a[GW_SIO_SID_LEN + 1], b[GW_SIO_SID_LEN + 1];
    memset(a, 'x', sizeof(a));
    gw_sio_generate_sid(a);
    gw_sio_generate_sid(b);
    CHECK_INT_EQ(strlen(a), 20);
    CHECK_INT_EQ(strlen(b), 20);
    bool all_ok = true;
    for (int i = 0; i < GW_SIO_SID_LEN; i++)
        all_ok = all_ok && is_base64url(a[i]) && is_base64url(b[i]);
    CHECK(all_ok);
    CHECK(strcmp(a, b) != 0);

    /* 120 random bits: over many ids every alphabet position shows up, '-' and '_' included. */
    int seen[256] = {0};
    for (int n = 0; n < 2000; n++) {
        gw_sio_generate_sid(a);
        for (int i = 0; i < GW_SIO_SID_LEN; i++)
            seen[(unsigned char)a[i]]++;
    }
    int distinct = 0;
    for (int c = 0; c < 256; c++)
        distinct += seen[c] > 0;
    CHECK_INT_EQ(distinct, 64);
    CHECK(seen['-'] > 0 && seen['_'] > 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Reassembly */

static void test_reasm_text_passes_through(void)
{
    struct gw_sio_reasm r;
    gw_sio_reasm_init(&r);
    struct gw_sio_packet p;
    bool complete = false;
    const char *s = "2[\"message\",1]";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, s, strlen(s), NULL, &p, &complete), GW_SIO_OK);
    CHECK(complete);
    CHECK(!gw_sio_reasm_active(&r));
    CHECK_INT_EQ(p.type, GW_SIO_EVENT);
    gw_sio_packet_clear(&p);

    /* Binary type, zero attachments: complete at once, like the reference. */
    s = "50-[\"message\"]";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, s, strlen(s), NULL, &p, &complete), GW_SIO_OK);
    CHECK(complete);
    CHECK(!gw_sio_reasm_active(&r));
    CHECK_INT_EQ(p.type, GW_SIO_BINARY_EVENT);
    gw_sio_packet_clear(&p);

    /* A decode error comes back unchanged and leaves the reassembler idle. */
    s = "2{}";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, s, strlen(s), NULL, &p, &complete), GW_SIO_BAD_PAYLOAD);
    CHECK(!complete);
    CHECK(!gw_sio_reasm_active(&r));
    gw_sio_reasm_reset(&r);
}

static void test_reasm_right_count(void)
{
    struct gw_sio_reasm r;
    gw_sio_reasm_init(&r);
    /* The header lives in a buffer the caller reuses before the attachments come. */
    char frame[128];
    snprintf(frame, sizeof(frame), "%s", "62-/custom,789[" PH0 "," PH1 "]");
    size_t frame_len = strlen(frame);

    struct gw_sio_packet p;
    struct gw_sio_assembled a;
    bool complete = true;
    CHECK_INT_EQ(gw_sio_reasm_text(&r, frame, frame_len, NULL, &p, &complete), GW_SIO_OK);
    CHECK(!complete);
    CHECK(gw_sio_reasm_active(&r));
    CHECK(p.data == NULL);
    memset(frame, '#', frame_len);

    const unsigned char one[] = {1, 2, 3}, two[] = {4, 5, 6};
    CHECK_INT_EQ(gw_sio_reasm_binary(&r, one, sizeof(one), &a, &complete), GW_SIO_OK);
    CHECK(!complete);
    CHECK(gw_sio_reasm_active(&r));
    CHECK_INT_EQ(gw_sio_reasm_binary(&r, two, sizeof(two), &a, &complete), GW_SIO_OK);
    CHECK(complete);
    CHECK(!gw_sio_reasm_active(&r));

    CHECK_INT_EQ(a.packet.type, GW_SIO_BINARY_ACK);
    CHECK_INT_EQ(a.packet.attachments, 2);
    CHECK_INT_EQ(a.packet.id, 789);
    CHECK_STR_EQ(nsp_of(&a.packet), "/custom");
    /* Placeholders stay in the JSON so the upper layer can echo it as is. */
    CHECK_MEM_EQ(a.packet.json, a.packet.json_len, "[" PH0 "," PH1 "]",
                 strlen("[" PH0 "," PH1 "]"));
    char *got = dump(a.packet.data);
    CHECK_STR_EQ(got, "[" PH0 "," PH1 "]");
    free(got);
    CHECK_MEM_EQ(a.att[0].data, a.att[0].len, one, sizeof(one));
    CHECK_MEM_EQ(a.att[1].data, a.att[1].len, two, sizeof(two));

    /* Echo: header then the attachments, as the suite expects. */
    struct gw_buf b = GW_BUF_INIT;
    CHECK_INT_EQ(gw_sio_encode(&b, &a.packet, NULL), 0);
    check_buf(&b, "62-/custom,789[" PH0 "," PH1 "]");
    gw_buf_free(&b);
    gw_sio_assembled_clear(&a);
    CHECK(a.text == NULL && a.att == NULL && a.packet.data == NULL);

    /* The reassembler is reusable: a one-attachment packet, an empty attachment. */
    const char *s = "51-[\"message\"," PH0 "]";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, s, strlen(s), NULL, &p, &complete), GW_SIO_OK);
    CHECK(!complete);
    CHECK_INT_EQ(gw_sio_reasm_binary(&r, "", 0, &a, &complete), GW_SIO_OK);
    CHECK(complete);
    CHECK_INT_EQ(a.att[0].len, 0);
    CHECK_STR_EQ(nsp_of(&a.packet), "/");
    gw_sio_assembled_clear(&a);
    gw_sio_reasm_reset(&r);
}

static void test_reasm_extra_binary(void)
{
    struct gw_sio_reasm r;
    gw_sio_reasm_init(&r);
    struct gw_sio_assembled a;
    bool complete = true;
    CHECK_INT_EQ(gw_sio_reasm_binary(&r, "x", 1, &a, &complete), GW_SIO_UNEXPECTED_BINARY);
    CHECK(!complete);

    struct gw_sio_packet p;
    const char *s = "51-[\"message\"," PH0 "]";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, s, strlen(s), NULL, &p, &complete), GW_SIO_OK);
    CHECK_INT_EQ(gw_sio_reasm_binary(&r, "x", 1, &a, &complete), GW_SIO_OK);
    CHECK(complete);
    CHECK_INT_EQ(gw_sio_reasm_binary(&r, "y", 1, &a, &complete), GW_SIO_UNEXPECTED_BINARY);
    CHECK(!complete);
    gw_sio_assembled_clear(&a);

    /* After a plain text packet a binary message is just as unexpected. */
    s = "2[\"message\"]";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, s, strlen(s), NULL, &p, &complete), GW_SIO_OK);
    gw_sio_packet_clear(&p);
    CHECK_INT_EQ(gw_sio_reasm_binary(&r, "z", 1, &a, &complete), GW_SIO_UNEXPECTED_BINARY);
    gw_sio_reasm_reset(&r);
}

static void test_reasm_text_while_reconstructing(void)
{
    struct gw_sio_reasm r;
    gw_sio_reasm_init(&r);
    struct gw_sio_packet p;
    struct gw_sio_assembled a;
    bool complete = true;
    const char *s = "52-[\"message\"," PH0 "," PH1 "]";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, s, strlen(s), NULL, &p, &complete), GW_SIO_OK);
    CHECK_INT_EQ(gw_sio_reasm_binary(&r, "a", 1, &a, &complete), GW_SIO_OK);
    CHECK(!complete);

    const char *text = "2[\"message\"]";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, text, strlen(text), NULL, &p, &complete),
                 GW_SIO_UNEXPECTED_TEXT);
    CHECK(!complete);
    CHECK(p.data == NULL);
    CHECK(gw_sio_reasm_active(&r));

    /* The caller closes the connection; reset frees the half-built packet (ASan checks). */
    gw_sio_reasm_reset(&r);
    CHECK(!gw_sio_reasm_active(&r));
    CHECK_INT_EQ(gw_sio_reasm_text(&r, text, strlen(text), NULL, &p, &complete), GW_SIO_OK);
    CHECK(complete);
    gw_sio_packet_clear(&p);
    gw_sio_reasm_reset(&r);
}

static void test_reasm_bad_placeholder(void)
{
    struct gw_sio_reasm r;
    gw_sio_reasm_init(&r);
    struct gw_sio_packet p;
    bool complete = true;
    const char *s = "52-[\"message\"," PH0 ",{\"_placeholder\":true,\"num\":2}]";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, s, strlen(s), NULL, &p, &complete), GW_SIO_BAD_PLACEHOLDER);
    CHECK(!complete);
    CHECK(!gw_sio_reasm_active(&r));

    struct gw_sio_limits lim;
    gw_sio_limits_default(&lim);
    lim.max_attachments = 1;
    s = "52-[\"message\"," PH0 "," PH1 "]";
    CHECK_INT_EQ(gw_sio_reasm_text(&r, s, strlen(s), &lim, &p, &complete),
                 GW_SIO_TOO_MANY_ATTACHMENTS);
    CHECK(!gw_sio_reasm_active(&r));
    gw_sio_reasm_reset(&r);
}

int main(void)
{
    RUN(test_golden_suite_packets);
    RUN(test_golden_other_shapes);
    RUN(test_trailing_whitespace_is_not_payload);
    RUN(test_invalid_packets);
    RUN(test_invalid_payload_per_type);
    RUN(test_attachment_counts);
    RUN(test_placeholders);
    RUN(test_depth_limit);
    RUN(test_decode_respects_length);
    RUN(test_strerror);
    RUN(test_nsp_is);
    RUN(test_encode_server_replies);
    RUN(test_encode_pre_encoded_text);
    RUN(test_encode_binary_headers);
    RUN(test_encode_failure_leaves_buffer);
    RUN(test_echo_as_fixture);
    RUN(test_generate_sid);
    RUN(test_reasm_text_passes_through);
    RUN(test_reasm_right_count);
    RUN(test_reasm_extra_binary);
    RUN(test_reasm_text_while_reconstructing);
    RUN(test_reasm_bad_placeholder);
    free_copies();
    return TEST_REPORT();
}
