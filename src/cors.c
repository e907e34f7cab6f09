/* cors.c -- CORS_ORIGINS policy. */
#include "gw/cors.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "gw/buf.h"
#include "gw/common.h"

int gw_cors_origin_canonical(const char *s, size_t n, struct gw_buf *out)
{
    size_t i = 0, host;
    /* scheme: a letter, then letters, digits, '+', '-', '.' (RFC 3986 §3.1) */
    while (i < n && (isalpha((unsigned char)s[i]) ||
                     (i > 0 && (isdigit((unsigned char)s[i]) || strchr("+.-", s[i])))))
        i++;
    if (i == 0 || n - i < 3 || memcmp(s + i, "://", 3) != 0)
        return -1;
    host = i += 3;
    if (i < n && s[i] == '[') { /* IPv6 literal */
        i++;
        while (i < n && (isxdigit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.'))
            i++;
        if (i == n || s[i++] != ']')
            return -1;
    } else {
        while (i < n && (isalnum((unsigned char)s[i]) || strchr(".-_", s[i])))
            i++;
    }
    if (i == host)
        return -1;
    if (i < n && s[i] == ':') {
        size_t digits = ++i;
        long port = 0;
        while (i < n && isdigit((unsigned char)s[i]) && i - digits < 5)
            port = port * 10 + (s[i++] - '0');
        if (i == digits || port < 1 || port > 65535)
            return -1;
    }
    if (i != n) /* path, query, fragment, user info, spaces, control characters */
        return -1;
    for (i = 0; i < n; i++)
        gw_buf_append_char(out, (char)tolower((unsigned char)s[i]));
    return 0;
}

int gw_cors_init(struct gw_cors *c, const char *spec, char *err)
{
    memset(c, 0, sizeof(*c));
    if (!spec || !*spec)
        return 0;
    if (strcmp(spec, "*") == 0) {
        c->mode = GW_CORS_ANY;
        return 0;
    }
    c->mode = GW_CORS_LIST;
    /* Every comma separates two entries, so "a," has an empty second entry: an error. */
    for (const char *p = spec;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        struct gw_buf o = GW_BUF_INIT;
        if (gw_cors_origin_canonical(p, n, &o) < 0) {
            gw_set_error(err, "\"%.*s\" is not an origin of the form scheme://host[:port]",
                         (int)GW_MIN(n, (size_t)80), p);
            gw_buf_free(&o);
            gw_cors_fini(c);
            return -1;
        }
        c->origins = gw_realloc(c->origins, (c->count + 1) * sizeof(*c->origins));
        c->origins[c->count++] = gw_buf_steal(&o, NULL);
        if (!comma)
            break;
        p = comma + 1;
    }
    if (c->count == 0) {
        gw_cors_fini(c);
        return gw_set_error(err, "the list names no origin");
    }
    return 0;
}

void gw_cors_fini(struct gw_cors *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->origins[i]);
    free(c->origins);
    memset(c, 0, sizeof(*c));
}

static bool listed(const struct gw_cors *c, const char *origin)
{
    for (size_t i = 0; i < c->count; i++) {
        if (strcmp(c->origins[i], origin) == 0)
            return true;
    }
    return false;
}

const char *gw_cors_allow(const struct gw_cors *c, const char *origin, bool *credentials)
{
    *credentials = false;
    switch (c->mode) {
    case GW_CORS_ANY:
        return "*";
    case GW_CORS_LIST:
        if (origin && listed(c, origin)) {
            *credentials = true;
            return origin;
        }
        return NULL;
    case GW_CORS_NONE:
        break;
    }
    return NULL;
}

bool gw_cors_ws_allowed(const struct gw_cors *c, const char *origin)
{
    return !origin || c->mode != GW_CORS_LIST || listed(c, origin);
}
