/* test_msg_buf.c -- refcounted messages (layout, references, the immortal single packets) and
 * the growable buffer. Leaks and double frees show up when the test runs under ASan.
 */
#include <stdlib.h>
#include <string.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "gw/msg.h"
#include "test.h"

static void test_msg_text_layout(void)
{
    struct gw_msg *m = gw_msg_new_text('4', "hello", 5);
    CHECK_INT_EQ(m->refs, 1);
    CHECK_INT_EQ(m->len, 6);
    CHECK(!m->binary);
    CHECK(!m->immortal);
    CHECK(gw_msg_payload(m) == m->data + GW_MSG_HEADROOM);
    CHECK_MEM_EQ(gw_msg_payload(m), m->len, "4hello", 6);
    CHECK_INT_EQ(gw_msg_payload(m)[m->len], '\0');
    CHECK_STR_EQ(gw_msg_payload(m), "4hello");
    /* the headroom is ours to write (lws puts the frame header there) */
    memset(m->data, 0xaa, GW_MSG_HEADROOM);
    CHECK_STR_EQ(gw_msg_payload(m), "4hello");
    gw_msg_unref(m);

    m = gw_msg_new_text('3', NULL, 0);
    CHECK_INT_EQ(m->len, 1);
    CHECK_STR_EQ(gw_msg_payload(m), "3");
    gw_msg_unref(m);

    /* data is copied, NUL bytes included */
    char data[3] = {'a', '\0', 'b'};
    m = gw_msg_new_text('4', data, 3);
    data[0] = 'z';
    CHECK_MEM_EQ(gw_msg_payload(m), m->len, "4a\0b", 4);
    CHECK_INT_EQ(gw_msg_payload(m)[4], '\0');
    gw_msg_unref(m);
}

static void test_msg_large_and_binary(void)
{
    size_t n = 1 << 20;
    char *big = gw_malloc(n);
    memset(big, 'x', n);
    struct gw_msg *m = gw_msg_new_text('4', big, n);
    CHECK_INT_EQ(m->len, n + 1);
    CHECK_INT_EQ(gw_msg_payload(m)[0], '4');
    CHECK(memcmp(gw_msg_payload(m) + 1, big, n) == 0);
    CHECK_INT_EQ(gw_msg_payload(m)[n + 1], '\0');
    gw_msg_unref(m);
    free(big);

    m = gw_msg_new(4, true);
    CHECK(m->binary);
    CHECK_INT_EQ(m->len, 4);
    CHECK_INT_EQ(m->refs, 1);
    memcpy(gw_msg_payload(m), "\x01\x02\x03\x04", 4); /* the whole payload is writable */
    CHECK_INT_EQ(gw_msg_payload(m)[4], '\0');
    gw_msg_unref(m);

    m = gw_msg_new(0, true);
    CHECK_INT_EQ(m->len, 0);
    CHECK_INT_EQ(gw_msg_payload(m)[0], '\0');
    gw_msg_unref(m);
}

/* A message built in place: the payload appended to the buffer is the message's, with the
 * usual layout, and the buffer is left empty (its memory now belongs to the message). */
static void test_msg_build(void)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_msg_build_start(&b);
    gw_buf_append_str(&b, "42[\"n\",");
    gw_buf_append_str(&b, "{}]");
    struct gw_msg *m = gw_msg_build_finish(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    CHECK_INT_EQ(m->refs, 1);
    CHECK(!m->binary && !m->immortal);
    CHECK_INT_EQ(m->received_us, 0);
    CHECK_INT_EQ(m->len, 10);
    CHECK_STR_EQ(gw_msg_payload(m), "42[\"n\",{}]");
    memset(m->data, 0xaa, GW_MSG_HEADROOM); /* the headroom is writable, as for gw_msg_new */
    CHECK_STR_EQ(gw_msg_payload(m), "42[\"n\",{}]");
    gw_msg_ref(m);
    gw_msg_unref(m);
    gw_msg_unref(m);

    /* empty, then far beyond the first block: growth moves the header with the payload */
    gw_msg_build_start(&b);
    m = gw_msg_build_finish(&b);
    CHECK_INT_EQ(m->len, 0);
    CHECK_INT_EQ(gw_msg_payload(m)[0], '\0');
    gw_msg_unref(m);
    gw_msg_build_start(&b);
    for (int i = 0; i < 100000; i++)
        gw_buf_append_char(&b, (char)('a' + i % 26));
    m = gw_msg_build_finish(&b);
    CHECK_INT_EQ(m->len, 100000);
    bool same = true;
    for (int i = 0; i < 100000; i++)
        same = same && gw_msg_payload(m)[i] == (char)('a' + i % 26);
    CHECK(same);
    CHECK_INT_EQ(gw_msg_payload(m)[100000], '\0');
    gw_msg_unref(m);
}

/* One reference per holder: the message lives until the last one is dropped. Under ASan a
 * premature free shows up as a use after free on the reads, a missing one as a leak. */
static void test_msg_refcount(void)
{
    struct gw_msg *m = gw_msg_new_text('4', "x", 1);
    CHECK(gw_msg_ref(m) == m);
    CHECK_INT_EQ(m->refs, 2);
    struct gw_msg *holders[100];
    for (int i = 0; i < 100; i++)
        holders[i] = gw_msg_ref(m);
    CHECK_INT_EQ(m->refs, 102);
    for (int i = 0; i < 100; i++) {
        gw_msg_unref(holders[i]);
        CHECK_STR_EQ(gw_msg_payload(m), "4x");
    }
    CHECK_INT_EQ(m->refs, 2);
    gw_msg_unref(m);
    CHECK_INT_EQ(m->refs, 1);
    CHECK_STR_EQ(gw_msg_payload(m), "4x");
    gw_msg_unref(m); /* the last: freed here, ASan reports a leak otherwise */

    /* interleaved holders over many messages */
    struct gw_msg *msgs[64];
    int refs[64];
    for (int i = 0; i < 64; i++) {
        msgs[i] = gw_msg_new_text('4', "y", 1);
        refs[i] = 1;
    }
    uint64_t s = 12345;
    for (int op = 0; op < 20000; op++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((s >> 33) % 64);
        if (!refs[i])
            continue;
        if (((s >> 20) & 1) && refs[i] < 50) {
            gw_msg_ref(msgs[i]);
            refs[i]++;
        } else if (refs[i] > 1) {
            gw_msg_unref(msgs[i]);
            refs[i]--;
        }
    }
    int mismatch = 0;
    for (int i = 0; i < 64; i++) {
        mismatch += (int)msgs[i]->refs != refs[i];
        while (refs[i]--)
            gw_msg_unref(msgs[i]);
    }
    CHECK_INT_EQ(mismatch, 0);
}

static void test_msg_immortal(void)
{
    struct gw_msg *ping = gw_msg_ping(), *noop = gw_msg_noop(), *cls = gw_msg_close();
    CHECK(ping != noop && noop != cls && ping != cls);
    CHECK(gw_msg_ping() == ping); /* shared, built once */
    CHECK(gw_msg_noop() == noop);
    CHECK(gw_msg_close() == cls);
    CHECK(ping->immortal && noop->immortal && cls->immortal);
    CHECK(!ping->binary && !noop->binary && !cls->binary);
    CHECK_INT_EQ(ping->len, 1);
    CHECK_STR_EQ(gw_msg_payload(ping), "2");
    CHECK_STR_EQ(gw_msg_payload(noop), "6");
    CHECK_STR_EQ(gw_msg_payload(cls), "1");

    /* many holders come and go; the message outlives them all (ASan would see a free) */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 1000; i++)
            CHECK(gw_msg_ref(ping) == ping);
        for (int i = 0; i < 1000; i++)
            gw_msg_unref(ping);
        gw_msg_unref(gw_msg_ref(noop));
        gw_msg_unref(gw_msg_ref(cls));
    }
    CHECK_STR_EQ(gw_msg_payload(gw_msg_ping()), "2");
    CHECK_STR_EQ(gw_msg_payload(gw_msg_noop()), "6");
    CHECK_STR_EQ(gw_msg_payload(gw_msg_close()), "1");
}

static void test_buf_append(void)
{
    struct gw_buf b = GW_BUF_INIT;
    CHECK(b.data == NULL);
    gw_buf_append(&b, "abc", 3);
    CHECK_STR_EQ(b.data, "abc");
    CHECK_INT_EQ(b.len, 3);
    CHECK(b.cap > b.len);
    gw_buf_append_char(&b, '\0'); /* a NUL byte is data */
    gw_buf_append_str(&b, "def");
    CHECK_MEM_EQ(b.data, b.len, "abc\0def", 7);
    CHECK_INT_EQ(b.data[b.len], '\0');
    gw_buf_append(&b, "zzz", 0);
    CHECK_INT_EQ(b.len, 7);
    gw_buf_printf(&b, "[%d|%s|%zu]", -42, "str", (size_t)7);
    CHECK_MEM_EQ(b.data, b.len, "abc\0def[-42|str|7]", 18);
    gw_buf_free(&b);
    CHECK(b.data == NULL);
    CHECK_INT_EQ(b.len, 0);

    /* empty appends still leave a readable C string */
    gw_buf_append(&b, "", 0);
    CHECK_STR_EQ(b.data, "");
    gw_buf_free(&b);
    gw_buf_printf(&b, "%s", "");
    CHECK_STR_EQ(b.data, "");
    gw_buf_free(&b);
}

static void test_buf_large_growth(void)
{
    struct gw_buf b = GW_BUF_INIT;
    size_t total = 0;
    /* byte by byte, then in uneven blocks, to well past a few MB */
    for (int i = 0; i < 100000; i++) {
        gw_buf_append_char(&b, (char)('a' + i % 26));
        total++;
    }
    char block[4099];
    for (size_t i = 0; i < sizeof(block); i++)
        block[i] = (char)i;
    for (int i = 0; i < 1000; i++) {
        gw_buf_append(&b, block, sizeof(block));
        total += sizeof(block);
    }
    CHECK_INT_EQ(b.len, total);
    CHECK(b.cap > b.len);
    CHECK_INT_EQ(b.data[b.len], '\0');
    int bad = 0;
    for (int i = 0; i < 100000; i++)
        bad += b.data[i] != (char)('a' + i % 26);
    for (int i = 0; i < 1000; i++)
        bad += memcmp(b.data + 100000 + (size_t)i * sizeof(block), block, sizeof(block)) != 0;
    CHECK_INT_EQ(bad, 0);

    /* a printf larger than any spare capacity */
    char *big = gw_malloc(300000);
    memset(big, 'q', 299999);
    big[299999] = '\0';
    gw_buf_reset(&b);
    gw_buf_printf(&b, "<%s>", big);
    CHECK_INT_EQ(b.len, 300001);
    CHECK_INT_EQ(b.data[0], '<');
    CHECK_INT_EQ(b.data[300000], '>');
    CHECK_INT_EQ(b.data[300001], '\0');
    CHECK_INT_EQ(strlen(b.data), 300001);
    free(big);
    gw_buf_free(&b);
}

static void test_buf_reserve(void)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_buf_append_str(&b, "head:");
    char *p = gw_buf_reserve(&b, 100000);
    CHECK(p == b.data + 5);
    CHECK_INT_EQ(b.len, 5); /* reserve does not change len */
    CHECK(b.cap >= 5 + 100000 + 1);
    memset(p, 'r', 100000); /* all reserved bytes are writable */
    b.len += 100000;
    b.data[b.len] = '\0';
    CHECK_INT_EQ(strlen(b.data), 100005);

    /* reserving what is already there does not move the data */
    gw_buf_reset(&b);
    char *before = b.data;
    size_t cap = b.cap;
    p = gw_buf_reserve(&b, 10);
    CHECK(p == before);
    CHECK_INT_EQ(b.cap, cap);
    gw_buf_free(&b);

    p = gw_buf_reserve(&b, 0); /* on an empty buffer: a valid pointer with room for the NUL */
    CHECK(p != NULL && p == b.data);
    p[0] = '\0';
    gw_buf_free(&b);
}

static void test_buf_reset_and_steal(void)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_buf_append_str(&b, "some text");
    size_t cap = b.cap;
    char *mem = b.data;
    gw_buf_reset(&b);
    CHECK_INT_EQ(b.len, 0);
    CHECK_STR_EQ(b.data, "");
    CHECK(b.data == mem); /* memory kept */
    CHECK_INT_EQ(b.cap, cap);
    gw_buf_append_str(&b, "again");
    CHECK_STR_EQ(b.data, "again");

    size_t len = 0;
    char *s = gw_buf_steal(&b, &len);
    CHECK_STR_EQ(s, "again");
    CHECK_INT_EQ(len, 5);
    CHECK(b.data == NULL);
    CHECK_INT_EQ(b.len, 0);
    CHECK_INT_EQ(b.cap, 0);
    free(s); /* the caller owns it */

    /* the buffer is reusable after steal */
    gw_buf_append_str(&b, "x");
    s = gw_buf_steal(&b, NULL);
    CHECK_STR_EQ(s, "x");
    free(s);

    /* stealing from an empty buffer gives an empty, freeable string */
    s = gw_buf_steal(&b, &len);
    CHECK(s != NULL);
    CHECK_STR_EQ(s, "");
    CHECK_INT_EQ(len, 0);
    free(s);

    /* reset on a never-used buffer is harmless */
    gw_buf_reset(&b);
    CHECK_INT_EQ(b.len, 0);
    gw_buf_free(&b);
    gw_buf_free(&b); /* free twice: the first left it empty */

    /* steal after a large growth hands over all bytes */
    for (int i = 0; i < 50000; i++)
        gw_buf_printf(&b, "%04d", i % 10000);
    s = gw_buf_steal(&b, &len);
    CHECK_INT_EQ(len, 200000);
    CHECK_INT_EQ(strlen(s), 200000);
    CHECK(memcmp(s + 4 * 1234, "1234", 4) == 0);
    free(s);
}

int main(void)
{
    RUN(test_msg_text_layout);
    RUN(test_msg_large_and_binary);
    RUN(test_msg_build);
    RUN(test_msg_refcount);
    RUN(test_msg_immortal);
    RUN(test_buf_append);
    RUN(test_buf_large_growth);
    RUN(test_buf_reserve);
    RUN(test_buf_reset_and_steal);
    return TEST_REPORT();
}
