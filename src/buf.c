/* buf.c -- growable byte buffer. */
#include "gw/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"

char *gw_buf_reserve(struct gw_buf *b, size_t n)
{
    size_t need = b->len + n + 1; /* +1 keeps room for the trailing NUL */
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : need > 64 ? need : 64;
        while (cap < need)
            cap *= 2;
        b->data = gw_realloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void gw_buf_append_str(struct gw_buf *b, const char *s)
{
    gw_buf_append(b, s, strlen(s));
}

void gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    GW_ASSERT(n >= 0);
    char *dst = gw_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void gw_buf_reset(struct gw_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void gw_buf_free(struct gw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *gw_buf_steal(struct gw_buf *b, size_t *len)
{
    char *p = b->data ? b->data : gw_strdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
