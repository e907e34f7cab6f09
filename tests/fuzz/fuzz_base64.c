/* fuzz_base64.c -- libFuzzer target for include/gw/base64.h.
 *
 * Decoding arbitrary bytes writes into a heap block of exactly the documented bound
 * (len / 4 * 3 + 2), so ASan reports any byte written past it; decoding in place must give the
 * same answer; and both alphabets round-trip: decode(encode(x)) == x.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/base64.h"
#include "gw/buf.h"
#include "gw/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef long (*decode_fn)(const char *in, size_t len, void *out);
typedef void (*encode_fn)(struct gw_buf *b, const void *in, size_t len);

static void decode_bounded(decode_fn decode, const uint8_t *data, size_t size)
{
    size_t bound = size / 4 * 3 + 2;
    unsigned char *out = gw_malloc(bound);
    long n = decode((const char *)data, size, out);
    GW_ASSERT(n >= -1 && (n == -1 || (size_t)n <= bound));

    char *inplace = gw_malloc(size + 2);
    memcpy(inplace, data, size);
    long m = decode(inplace, size, inplace);
    GW_ASSERT(m == n);
    if (n > 0)
        GW_ASSERT(memcmp(inplace, out, (size_t)n) == 0);
    free(inplace);
    free(out);
}

static void round_trip(encode_fn encode, decode_fn decode, const uint8_t *data, size_t size)
{
    struct gw_buf enc = GW_BUF_INIT;
    encode(&enc, data, size);
    unsigned char *out = gw_malloc(enc.len / 4 * 3 + 2);
    long n = decode(enc.data ? enc.data : "", enc.len, out);
    GW_ASSERT(n >= 0 && (size_t)n == size);
    GW_ASSERT(size == 0 || memcmp(out, data, size) == 0);
    free(out);
    gw_buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_bounded(gw_base64_decode, data, size);
    decode_bounded(gw_base64url_decode, data, size);
    round_trip(gw_base64_encode, gw_base64_decode, data, size);
    round_trip(gw_base64url_encode, gw_base64url_decode, data, size);
    return 0;
}
