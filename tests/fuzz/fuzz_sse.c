/* fuzz_sse.c -- libFuzzer target for gw_sse_format (include/gw/sse_codec.h).
 *
 * The renderer reads a message the gateway encoded itself, but it must still never read out of
 * bounds on any input. When it accepts one, the output is one SSE event: it starts with
 * "event: ", ends with a blank line, and has no other blank line (a stray "\n\n" would split
 * the event and let a document inject events of its own).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "gw/sse_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = gw_malloc(size ? size : 1); /* exact size: ASan sees any read past it */
    memcpy(copy, data, size);
    struct gw_buf out = GW_BUF_INIT;
    int rc = gw_sse_format(copy, size, &out);
    GW_ASSERT(rc == 0 || rc == -1);
    if (rc == 0) {
        GW_ASSERT(out.len >= 9 && memcmp(out.data, "event: ", 7) == 0);
        GW_ASSERT(memcmp(out.data + out.len - 2, "\n\n", 2) == 0);
        for (size_t i = 0; i + 2 < out.len; i++)
            GW_ASSERT(!(out.data[i] == '\n' && out.data[i + 1] == '\n'));
    } else {
        GW_ASSERT(out.len == 0);
    }
    gw_buf_free(&out);
    free(copy);
    return 0;
}
