/* test_sse.c -- the SSE rendering of encoded notification messages. */
#include <string.h>

#include "gw/sse_codec.h"
#include "test.h"

static void check(const char *msg, const char *want)
{
    struct gw_buf b = GW_BUF_INIT;
    CHECK_INT_EQ(gw_sse_format(msg, strlen(msg), &b), 0);
    gw_buf_append_char(&b, '\0');
    CHECK_STR_EQ(b.data, want);
    gw_buf_free(&b);
}

static void refuse(const char *msg)
{
    struct gw_buf b = GW_BUF_INIT;
    CHECK_INT_EQ(gw_sse_format(msg, strlen(msg), &b), -1);
    CHECK_INT_EQ(b.len, 0);
    gw_buf_free(&b);
}

static void test_formats(void)
{
    /* an insert: the trailing offset becomes the event id */
    check("42[\"notification\",{\"_id\":\"65f1c0ffee0000000000abcd\",\"t\":\"a,\\\"b\"},"
          "\"65f1c0ffee0000000000abcd\"]",
          "event: notification\nid: 65f1c0ffee0000000000abcd\n"
          "data: {\"_id\":\"65f1c0ffee0000000000abcd\",\"t\":\"a,\\\"b\"}\n\n");
    /* an update: no offset, no id line */
    check("42[\"notification:update\",{\"read\":true}]",
          "event: notification:update\ndata: {\"read\":true}\n\n");
    /* an escaped event name is decoded */
    check("42[\"al\\\"ert\",{}]", "event: al\"ert\ndata: {}\n\n");
    /* sync with its offset */
    check("42[\"sync\",{\"offset\":\"000000000000000000000000\"},\"000000000000000000000000\"]",
          "event: sync\nid: 000000000000000000000000\n"
          "data: {\"offset\":\"000000000000000000000000\"}\n\n");
}

static void test_refusals(void)
{
    refuse("");
    refuse("42");
    refuse("2probe");
    refuse("42[\"x\"]");
    refuse("42[\"x\",{}");
    refuse("42[1,{}]");
    refuse("42[\"unterminated,{}]");
    /* a line break anywhere would split the event */
    refuse("42[\"a\\n\\nevent: x\",{}]");
    refuse("42[\"a\",{\"k\":\"\n\n\"}]");
    refuse("42[\"a\",{},\"id\r\"]");
}

int main(void)
{
    RUN(test_formats);
    RUN(test_refusals);
    return TEST_REPORT();
}
