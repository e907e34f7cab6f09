/* cors.c -- CORS_ORIGINS policy. */
#include "gw/cors.h"

#include <stdlib.h>
#include <string.h>

#include "gw/common.h"

/* scheme://host[:port] with no path, query, fragment, user info or spaces. */
static bool origin_well_formed(const char *o)
{
    const char *sep = strstr(o, "://");
    if (!sep || sep == o)
        return false;
    for (const char *p = o; p < sep; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '+' || *p == '-' || *p == '.'))
            return false;
    }
    const char *host = sep + 3;
    if (!*host)
        return false;
    return strpbrk(host, "/?#@ \t") == NULL;
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
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && (*p == ' '))
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
