/* chunked.c -- HTTP/1.1 chunked transfer coding decoder. */
#include "gw/chunked.h"

#include <string.h>

#define LINE_MAX_LEN 4096 /* size line with extensions, or one trailer field */
#define SIZE_MAX_DIGITS 15

enum {
    S_SIZE,       /* hex digits of the chunk size */
    S_EXT,        /* ';' extensions up to CR */
    S_SIZE_LF,    /* LF after the size line */
    S_DATA,       /* chunk data */
    S_DATA_CR,    /* CR after data */
    S_DATA_LF,    /* LF after data */
    S_TRAILER,    /* a trailer line, or the empty line that ends the body */
    S_TRAILER_LF, /* LF after a trailer line */
    S_DONE,
    S_ERROR,
};

void gw_chunked_init(struct gw_chunked *d)
{
    memset(d, 0, sizeof(*d));
    d->state = S_SIZE;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static enum gw_chunked_status fail(struct gw_chunked *d)
{
    d->state = S_ERROR;
    return GW_CHUNKED_ERROR;
}

enum gw_chunked_status gw_chunked_feed(struct gw_chunked *d, const char *in, size_t len,
                                       struct gw_buf *out, size_t *decoded)
{
    size_t i = 0;
    while (i < len) {
        char c = in[i];
        switch (d->state) {
        case S_SIZE:
            if (hex(c) >= 0) {
                if (d->line++ >= SIZE_MAX_DIGITS)
                    return fail(d);
                d->remain = d->remain * 16 + (uint64_t)hex(c);
                d->size_digits = true;
            } else if (!d->size_digits) {
                return fail(d);
            } else if (c == ';' || c == ' ' || c == '\t') {
                d->state = S_EXT;
            } else if (c == '\r') {
                d->state = S_SIZE_LF;
            } else {
                return fail(d);
            }
            i++;
            break;
        case S_EXT:
            if (++d->line > LINE_MAX_LEN)
                return fail(d);
            if (c == '\r')
                d->state = S_SIZE_LF;
            i++;
            break;
        case S_SIZE_LF:
            if (c != '\n')
                return fail(d);
            d->line = 0;
            d->size_digits = false;
            d->state = d->remain ? S_DATA : S_TRAILER;
            i++;
            break;
        case S_DATA: {
            size_t n = len - i < d->remain ? len - i : (size_t)d->remain;
            if (out)
                gw_buf_append(out, in + i, n);
            *decoded += n;
            d->remain -= n;
            i += n;
            if (!d->remain)
                d->state = S_DATA_CR;
            break;
        }
        case S_DATA_CR:
            if (c != '\r')
                return fail(d);
            d->state = S_DATA_LF;
            i++;
            break;
        case S_DATA_LF:
            if (c != '\n')
                return fail(d);
            d->state = S_SIZE;
            i++;
            break;
        case S_TRAILER:
            if (c == '\r') {
                d->state = S_TRAILER_LF;
            } else if (++d->line > LINE_MAX_LEN) {
                return fail(d);
            }
            i++;
            break;
        case S_TRAILER_LF:
            if (c != '\n')
                return fail(d);
            i++;
            if (d->line == 0) {
                d->state = S_DONE;
                return GW_CHUNKED_DONE;
            }
            d->line = 0;
            d->state = S_TRAILER;
            break;
        case S_DONE:
            return GW_CHUNKED_DONE;
        case S_ERROR:
            return GW_CHUNKED_ERROR;
        }
    }
    if (d->state == S_ERROR)
        return GW_CHUNKED_ERROR;
    return d->state == S_DONE ? GW_CHUNKED_DONE : GW_CHUNKED_MORE;
}
