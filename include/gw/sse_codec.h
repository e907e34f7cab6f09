/* sse_codec.h -- the Server-Sent Events rendering of the gateway's encoded messages.
 *
 * Pure: no I/O, so the unit tests and the fuzzer drive it directly.
 */
#ifndef GW_SSE_CODEC_H
#define GW_SSE_CODEC_H

#include <stddef.h>

#include "gw/buf.h"

/* Appends the SSE text of an encoded 42["<event>",<json>[,"<offset>"]] message to out
 * (`event:`, `id:` when there is an offset, `data:`, blank line). Returns 0, or -1 (out
 * untouched) when msg is not such a message or holds a line break that would split the event.
 * Any thread. */
int gw_sse_format(const char *msg, size_t len, struct gw_buf *out);

#endif
