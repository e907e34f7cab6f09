/* buf.h -- a growable byte buffer (string builder) for encoders.
 *
 * The buffer always keeps a NUL byte after `len` so text can be read as a C string. Growth
 * aborts on allocation failure like every gw allocation.
 *
 * Thread safety: a buffer belongs to one thread at a time; no locking.
 */
#ifndef GW_BUF_H
#define GW_BUF_H

#include <stddef.h>
#include <stdint.h>

struct gw_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
};

#define GW_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Makes room for n more bytes and returns a pointer to them (len is not changed). The first
 * allocation is what the caller asks for (at least 64 bytes), so a builder that reserves its
 * typical size up front holds no slack; later ones double. */
char *gw_buf_reserve(struct gw_buf *b, size_t n);
void gw_buf_append_str(struct gw_buf *b, const char *s);

/* Appends n bytes (p may be NULL when n is 0). Inline, as is the next one: the JSON encoders
 * append a few bytes at a time, and a call into reserve for each was a fifth of a notice's
 * build time. */
static inline void gw_buf_append(struct gw_buf *b, const void *p, size_t n)
{
    char *dst = b->len + n + 1 <= b->cap ? b->data + b->len : gw_buf_reserve(b, n);
    if (n)
        __builtin_memcpy(dst, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void gw_buf_append_char(struct gw_buf *b, char c)
{
    gw_buf_append(b, &c, 1);
}
void gw_buf_printf(struct gw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeping its memory. */
void gw_buf_reset(struct gw_buf *b);
/* Frees the memory; the buffer is reusable (empty) afterwards. */
void gw_buf_free(struct gw_buf *b);
/* Detaches the data: the caller now owns it (free with free()); the buffer becomes empty. */
char *gw_buf_steal(struct gw_buf *b, size_t *len);

#endif
