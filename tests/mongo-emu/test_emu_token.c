/* test_emu_token.c -- resume token encoding: round trip, ordering, and the three kinds of bad
 * token the server must tell apart. */
#include <string.h>

#include "test.h"
#include "token.h"

static void test_round_trip(void)
{
    struct emu_token t = {.ts = (uint64_t)0x6560A1B2u << 32 | 7, .kind = EMU_TOKEN_EVENT}, back;
    char hex[EMU_TOKEN_HEX_LEN + 1];
    emu_token_format(&t, hex);
    CHECK_INT_EQ(strlen(hex), EMU_TOKEN_HEX_LEN);
    CHECK(!strncmp(hex, "826560A1B200000007", 18));
    CHECK_INT_EQ(emu_token_parse_hex(hex, strlen(hex), &back), EMU_TOKEN_OK);
    CHECK(back.ts == t.ts);
    CHECK_INT_EQ(back.kind, EMU_TOKEN_EVENT);
    /* Lower-case hex is accepted too. */
    for (char *p = hex; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    CHECK_INT_EQ(emu_token_parse_hex(hex, strlen(hex), &back), EMU_TOKEN_OK);
}

static void test_hex_order_is_time_order(void)
{
    struct emu_token a = {.ts = (uint64_t)100 << 32 | 0xFFFF, .kind = EMU_TOKEN_EVENT};
    struct emu_token b = {.ts = (uint64_t)101 << 32 | 1, .kind = EMU_TOKEN_HWM};
    char ha[EMU_TOKEN_HEX_LEN + 1], hb[EMU_TOKEN_HEX_LEN + 1];
    emu_token_format(&a, ha);
    emu_token_format(&b, hb);
    CHECK(strcmp(ha, hb) < 0);
}

static void test_bad_tokens(void)
{
    struct emu_token t;
    CHECK_INT_EQ(emu_token_parse_hex("zz", 2, &t), EMU_TOKEN_NOT_HEX);
    CHECK_INT_EQ(emu_token_parse_hex("ABC", 3, &t), EMU_TOKEN_NOT_HEX);
    CHECK_INT_EQ(emu_token_parse_hex("DEADBEEF", 8, &t), EMU_TOKEN_MALFORMED);
    /* Right length and prefix, damaged check byte. */
    struct emu_token good = {.ts = 12345, .kind = EMU_TOKEN_HWM};
    char hex[EMU_TOKEN_HEX_LEN + 1];
    emu_token_format(&good, hex);
    hex[EMU_TOKEN_HEX_LEN - 1] = hex[EMU_TOKEN_HEX_LEN - 1] == '0' ? '1' : '0';
    CHECK_INT_EQ(emu_token_parse_hex(hex, strlen(hex), &t), EMU_TOKEN_MALFORMED);
    /* A digit changed in the time: the check byte no longer matches. */
    emu_token_format(&good, hex);
    hex[5] = hex[5] == '0' ? '1' : '0';
    CHECK_INT_EQ(emu_token_parse_hex(hex, strlen(hex), &t), EMU_TOKEN_MALFORMED);
}

static void test_parse_iter(void)
{
    bson_t doc = BSON_INITIALIZER;
    struct emu_token t = {.ts = 99, .kind = EMU_TOKEN_INVALIDATE}, back;
    emu_token_append(&doc, "tok", &t);
    BSON_APPEND_INT32(&doc, "num", 1);
    bson_t sub;
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "nodata", &sub);
    BSON_APPEND_INT32(&sub, "_data", 5);
    bson_append_document_end(&doc, &sub);
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &doc, "tok"));
    CHECK_INT_EQ(emu_token_parse_iter(&it, &back), EMU_TOKEN_OK);
    CHECK_INT_EQ(back.kind, EMU_TOKEN_INVALIDATE);
    CHECK(bson_iter_init_find(&it, &doc, "num"));
    CHECK_INT_EQ(emu_token_parse_iter(&it, &back), EMU_TOKEN_NOT_A_DOCUMENT);
    CHECK(bson_iter_init_find(&it, &doc, "nodata"));
    CHECK_INT_EQ(emu_token_parse_iter(&it, &back), EMU_TOKEN_NOT_A_DOCUMENT);
    bson_destroy(&doc);
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_hex_order_is_time_order);
    RUN(test_bad_tokens);
    RUN(test_parse_iter);
    return TEST_REPORT();
}
