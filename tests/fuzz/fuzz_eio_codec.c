/* fuzz_eio_codec.c -- libFuzzer target for the Engine.IO codec (include/gw/eio_codec.h).
 *
 * The input is a polling payload, a WebSocket text frame and a query string at once: every
 * decoded packet must point inside the buffer it came from, and the query checker must answer
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

static void fuzz_payload(const uint8_t *data, size_t size)
{
    /* The iterator decodes base64 in place, so it gets its own copy. */
    char *copy = gw_malloc(size + 1);
    memcpy(copy, data, size);
    struct gw_eio_payload_iter it;
    struct gw_eio_packet pkt;
    gw_eio_payload_iter_init(&it, copy, size);
    int rc;
    size_t packets = 0;
    while ((rc = gw_eio_payload_next(&it, &pkt)) == 1) {
        check_inside(&pkt, copy, size);
        GW_ASSERT(++packets <= size + 1);
    }
    GW_ASSERT(rc == 0 || rc == -1);
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
