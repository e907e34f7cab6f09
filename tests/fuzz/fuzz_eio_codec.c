/* fuzz_eio_codec.c -- libFuzzer target for the Engine.IO codec (include/gw/eio_codec.h).
 *
 * The input is a polling payload, a WebSocket text frame and a query string at once: every
 * decoded packet must point inside the buffer it came from, a well-formed payload re-encoded
 * with gw_eio_payload_append must decode to the same packets, and the query checker must answer
 * with one of its errors, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/eio_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const struct gw_eio_packet *pkt, const char *buf, size_t len)
{
    GW_ASSERT(pkt->type >= GW_EIO_OPEN && pkt->type <= GW_EIO_NOOP);
    GW_ASSERT(!pkt->binary || pkt->type == GW_EIO_MESSAGE);
    if (pkt->len > 0)
        GW_ASSERT(pkt->data >= buf && pkt->data + pkt->len <= buf + len);
}

/* Decodes a payload (in place) into at most `max` packets (pkts has room for max + 1: the
 * iterator is asked once more at the end); returns the count, or -1. */
static long decode_all(char *buf, size_t len, struct gw_eio_packet *pkts, size_t max)
{
    struct gw_eio_payload_iter it;
    gw_eio_payload_iter_init(&it, buf, len);
    size_t n = 0;
    int rc;
    while ((rc = gw_eio_payload_next(&it, &pkts[n])) == 1) {
        check_inside(&pkts[n], buf, len);
        GW_ASSERT(++n <= max);
    }
    GW_ASSERT(rc == 0 || rc == -1);
    return rc == 0 ? (long)n : -1;
}

/* Appends each packet as the WebSocket frame body it stands for, as the polling writer does. */
static void encode_all(struct gw_buf *b, const struct gw_eio_packet *pkts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (pkts[i].binary) {
            gw_eio_payload_append(b, pkts[i].data, pkts[i].len, true);
            continue;
        }
        char *frame = gw_malloc(pkts[i].len + 1);
        frame[0] = (char)('0' + pkts[i].type);
        if (pkts[i].len)
            memcpy(frame + 1, pkts[i].data, pkts[i].len);
        gw_eio_payload_append(b, frame, pkts[i].len + 1, false);
        free(frame);
    }
}

static void fuzz_payload(const uint8_t *data, size_t size)
{
    /* The iterator decodes base64 in place, so it gets its own copy. A payload of size bytes
     * holds at most size + 1 segments. */
    char *copy = gw_malloc(size + 1);
    memcpy(copy, data, size);
    struct gw_eio_packet *pkts = gw_calloc(size + 2, sizeof(*pkts));
    long n = decode_all(copy, size, pkts, size + 1);
    if (n > 0) {
        struct gw_buf b = GW_BUF_INIT;
        encode_all(&b, pkts, (size_t)n);
        struct gw_eio_packet *again = gw_calloc((size_t)n + 2, sizeof(*again));
        GW_ASSERT(decode_all(b.data, b.len, again, (size_t)n + 1) == n);
        for (long i = 0; i < n; i++) {
            GW_ASSERT(again[i].type == pkts[i].type && again[i].binary == pkts[i].binary);
            GW_ASSERT(again[i].len == pkts[i].len);
            GW_ASSERT(pkts[i].len == 0 || memcmp(again[i].data, pkts[i].data, pkts[i].len) == 0);
        }
        free(again);
        gw_buf_free(&b);
    }
    free(pkts);
    free(copy);
}

static void fuzz_text(const uint8_t *data, size_t size)
{
    struct gw_eio_packet pkt;
    if (gw_eio_decode_text((const char *)data, size, &pkt) == 0)
        check_inside(&pkt, (const char *)data, size);
    (void)gw_utf8_valid((const char *)data, size);
}

/* The query is split on '&' the way lws hands arguments out. */
static void fuzz_query(const uint8_t *data, size_t size)
{
    struct gw_eio_query q;
    gw_eio_query_init(&q);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p);
        gw_eio_query_add(&q, p, n);
        p += n + (amp != NULL);
    }
    if (q.sid_valid)
        GW_ASSERT(strlen(q.sid) == GW_EIO_SID_LEN);
    enum gw_eio_error err = GW_EIO_ERR_BAD_REQUEST;
    if (gw_eio_query_check(&q, &err) != 0)
        GW_ASSERT(gw_eio_error_message(err) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_payload(data, size);
    fuzz_text(data, size);
    fuzz_query(data, size);
    return 0;
}
