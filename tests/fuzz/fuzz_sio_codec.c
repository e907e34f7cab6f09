/* fuzz_sio_codec.c -- libFuzzer target for the Socket.IO codec (include/gw/sio_codec.h).
 *
 * 1. The whole input is one packet. When it decodes, encoding it and decoding that must succeed
 *    and give the same packet: the gateway echoes what it decodes.
 * 2. The input split at 0x1e is a sequence of messages, a segment starting with 'B' being a
 *    binary message (the rest of it) and any other a text message, fed to one reassembler the
 *    way a connection would feed it. A refused message resets the reassembler, as closing the
 *    connection does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "gw/sio_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* s is the decoded text when the packet borrows from it, else NULL. */
static void check_packet(const struct gw_sio_packet *p, const char *s, size_t len)
{
    GW_ASSERT(p->type >= GW_SIO_CONNECT && p->type <= GW_SIO_BINARY_ACK);
    GW_ASSERT(p->nsp != NULL && p->nsp_len > 0 && p->nsp[0] == '/');
    GW_ASSERT(p->id == GW_SIO_NO_ID || p->id >= 0);
    GW_ASSERT(p->attachments >= 0 && p->attachments <= GW_SIO_DEFAULT_MAX_ATTACHMENTS);
    GW_ASSERT((p->data == NULL) == (p->json == NULL));
    if (p->json && s)
        GW_ASSERT(p->json >= s && p->json + p->json_len <= s + len);
}

static void round_trip(const char *s, size_t len)
{
    struct gw_sio_packet p;
    if (gw_sio_decode(s, len, NULL, &p) != GW_SIO_OK)
        return;
    check_packet(&p, s, len);

    struct gw_buf b = GW_BUF_INIT;
    char err[GW_ERR_LEN];
    GW_ASSERT(gw_sio_encode(&b, &p, err) == 0);
    struct gw_sio_packet q;
    enum gw_sio_status st = gw_sio_decode(b.data, b.len, NULL, &q);
    GW_ASSERT(st == GW_SIO_OK);
    GW_ASSERT(q.type == p.type && q.id == p.id && q.attachments == p.attachments);
    GW_ASSERT(q.nsp_len == p.nsp_len && memcmp(q.nsp, p.nsp, p.nsp_len) == 0);
    GW_ASSERT((p.data == NULL && q.data == NULL) || json_equal(p.data, q.data));
    gw_sio_packet_clear(&q);
    gw_sio_packet_clear(&p);
    gw_buf_free(&b);
}

static void feed_text(struct gw_sio_reasm *r, const char *s, size_t len)
{
    struct gw_sio_packet p;
    bool complete = false;
    if (gw_sio_reasm_text(r, s, len, NULL, &p, &complete) != GW_SIO_OK) {
        gw_sio_reasm_reset(r);
        return;
    }
    if (complete) {
        check_packet(&p, s, len);
        gw_sio_packet_clear(&p);
    } else {
        GW_ASSERT(gw_sio_reasm_active(r));
    }
}

static void feed_binary(struct gw_sio_reasm *r, const char *s, size_t len)
{
    struct gw_sio_assembled a;
    bool complete = false;
    if (gw_sio_reasm_binary(r, s, len, &a, &complete) != GW_SIO_OK) {
        gw_sio_reasm_reset(r);
        return;
    }
    if (!complete)
        return;
    GW_ASSERT(!gw_sio_reasm_active(r));
    GW_ASSERT(a.text != NULL && a.packet.attachments > 0);
    check_packet(&a.packet, NULL, 0);
    /* Reading every attachment lets ASan check the lengths. */
    size_t sum = 0;
    for (int i = 0; i < a.packet.attachments; i++)
        for (size_t j = 0; j < a.att[i].len; j++)
            sum += a.att[i].data[j];
    (void)sum;
    gw_sio_assembled_clear(&a);
}

static void reassemble(const char *s, size_t len)
{
    struct gw_sio_reasm r;
    gw_sio_reasm_init(&r);
    const char *p = s, *end = s + len;
    while (p <= end) {
        const char *sep = memchr(p, 0x1e, (size_t)(end - p));
        size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);
        /* Heap copies of exact size, so ASan sees any read past a message. */
        char *msg = gw_malloc(n ? n : 1);
        memcpy(msg, p, n);
        if (n > 0 && msg[0] == 'B')
            feed_binary(&r, msg + 1, n - 1);
        else
            feed_text(&r, msg, n);
        free(msg);
        if (!sep)
            break;
        p = sep + 1;
    }
    gw_sio_reasm_reset(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = gw_malloc(size ? size : 1);
    memcpy(copy, data, size);
    round_trip(copy, size);
    free(copy);
    reassemble((const char *)data, size);
    return 0;
}
