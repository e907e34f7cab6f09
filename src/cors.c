/* cors.c -- CORS_ORIGINS policy. */
#include "gw/cors.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"

/* scheme://host[:port] with no path, query, fragment, user info, spaces or control
 * characters; the scheme starts with a letter (RFC 3986 §3.1). */
static bool origin_well_formed(const char *o)
{
    const char *sep = strstr(o, "://");
    if (!sep || sep == o || !isalpha((unsigned char)o[0]))
        return false;
    for (const char *p = o; p < sep; p++) {
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return false;
    }
    const char *host = sep + 3;
    if (!*host)
        return false;
    for (const char *p = host; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    }
    return strpbrk(host, "/?#@") == NULL;
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
        char *o = gw_strndup(p, n);
        if (!origin_well_formed(o)) {
            gw_set_error(err, "\"%s\" is not an origin of the form scheme://host[:port]", o);
            free(o);
            gw_cors_fini(c);
            return -1;
        }
        c->origins = gw_realloc(c->origins, (c->count + 1) * sizeof(*c->origins));
        c->origins[c->count++] = o;
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
