/* chunked.h -- decoder of the HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), pure.
 *
 * libwebsockets 4.1 hands a chunked request body to the application as raw bytes, so the
 * polling transport decodes it itself. Chunk extensions and trailer fields are skipped; sizes
 * and line lengths are bounded so a hostile body cannot make the decoder loop or allocate.
 *
 * Thread safety: a decoder belongs to one request on one thread.
 */
#ifndef GW_CHUNKED_H
#define GW_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"

struct gw_chunked {
    uint64_t remain;  /* bytes left in the current chunk */
    uint32_t line;    /* bytes of the current size/trailer line, bounded */
    uint8_t state;    /* private; 16 bytes in all, as it is in every connection's state */
    bool size_digits; /* the size line had at least one hex digit */
};

enum gw_chunked_status {
    GW_CHUNKED_MORE = 0, /* feed more bytes */
    GW_CHUNKED_DONE = 1, /* the last chunk and trailers are in; bytes after it are ignored */
    GW_CHUNKED_ERROR = -1,
};

void gw_chunked_init(struct gw_chunked *d);
/* Decodes in[0..len) and appends the body bytes to out unless out is NULL (for a body that is
 * being discarded). Adds the number of body bytes decoded to *decoded (not NULL). */
enum gw_chunked_status gw_chunked_feed(struct gw_chunked *d, const char *in, size_t len,
                                       struct gw_buf *out, size_t *decoded);

#endif
