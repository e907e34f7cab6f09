/* cors.h -- the CORS policy of CORS_ORIGINS, pure.
 *
 * "*" allows every origin without credentials; a comma list allows exactly those origins
 * (scheme://host[:port], compared byte for byte), echoed back with credentials; unset allows no
 * cross-origin access (no CORS headers at all).
 *
 * Thread safety: build once at start; afterwards read-only, any thread.
 */
#ifndef GW_CORS_H
#define GW_CORS_H

#include <stdbool.h>
#include <stddef.h>

#include "gw/buf.h"

enum gw_cors_mode { GW_CORS_NONE, GW_CORS_ANY, GW_CORS_LIST };

struct gw_cors {
    enum gw_cors_mode mode;
    char **origins; /* owned, GW_CORS_LIST only */
    size_t count;
};

/* Checks that s[0..n) is an origin, scheme://host[:port] (host a name or an [IPv6] literal,
 * port 1..65535, nothing after it), and appends its canonical, lower-case form to out.
 * Returns 0, or -1 (out untouched) when it is not. Browsers send origins in lower case, so
 * configured origins are kept so and requests compared byte for byte. */
int gw_cors_origin_canonical(const char *s, size_t n, struct gw_buf *out);

/* Parses spec (NULL or "" = GW_CORS_NONE); origins are stored in canonical form. Returns 0, or -1
 * with one sentence in err (GW_ERR_LEN) for a malformed origin. */
int gw_cors_init(struct gw_cors *c, const char *spec, char *err);
void gw_cors_fini(struct gw_cors *c);

/* Decides the Access-Control-Allow-Origin of a response to a request whose Origin header is
 * origin (NULL when absent). Returns the value to send (borrowed: origin itself or "*"), or NULL
 * when no CORS header must be sent; *credentials tells whether Allow-Credentials goes with it. */
const char *gw_cors_allow(const struct gw_cors *c, const char *origin, bool *credentials);

/* Returns true when an Origin header (NULL when absent) may open a WebSocket: always when the
 * header is absent (non-browser clients) or the mode is not a list, else only listed origins.
 * This is the check against cross-site WebSocket hijacking. */
bool gw_cors_ws_allowed(const struct gw_cors *c, const char *origin);

#endif
