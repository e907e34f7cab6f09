/* fuzz_chunked.c -- libFuzzer target for the chunked decoder (include/gw/chunked.h).
 *
 * The first input byte picks a split point; the rest is the body. Fed whole or in two pieces,
 * the decoder must reach the same status with the same decoded bytes: a network can cut a
 * request anywhere.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/buf.h"
#include "gw/chunked.h"
#include "gw/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    enum gw_chunked_status st;
    struct gw_buf body;
    size_t decoded;
};

/* Feeds the pieces in order, stopping at the first final status like the transport does. */
static void run(struct outcome *o, const char *in, size_t len, size_t split)
{
    struct gw_chunked d;
    gw_chunked_init(&d);
    o->body = (struct gw_buf)GW_BUF_INIT;
    o->decoded = 0;
    o->st = gw_chunked_feed(&d, in, split, &o->body, &o->decoded);
    if (o->st == GW_CHUNKED_MORE)
        o->st = gw_chunked_feed(&d, in + split, len - split, &o->body, &o->decoded);
    GW_ASSERT(o->decoded == o->body.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t split = len ? data[0] % (len + 1) : 0;

    struct outcome whole, pieces;
    run(&whole, in, len, len);
    run(&pieces, in, len, split);
    GW_ASSERT(whole.st == pieces.st);
    GW_ASSERT(whole.body.len == pieces.body.len);
    GW_ASSERT(whole.body.len == 0 ||
              memcmp(whole.body.data, pieces.body.data, whole.body.len) == 0);

    /* A discarded body (out == NULL) must be counted the same. */
    struct gw_chunked d;
    size_t decoded = 0;
    gw_chunked_init(&d);
    GW_ASSERT(gw_chunked_feed(&d, in, len, NULL, &decoded) == whole.st);
    GW_ASSERT(decoded == whole.decoded);

    gw_buf_free(&whole.body);
    gw_buf_free(&pieces.body);
    return 0;
}
