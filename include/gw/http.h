/* http.h -- writing whole HTTP/1.1 responses on libwebsockets.
 *
 * Every response of the gateway is small or already in memory, so it goes out as ONE lws_write
 * of status line, headers and body (lws buffers what the socket does not take at once). CORS
 * headers follow the configured policy and the request's Origin.
 *
 * Thread safety: the lws service thread only, inside a callback of the wsi.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>

#include "gw/cors.h"

struct lws;

/* The longest header value (Authorization, a token parameter) the gateway reads. */
#define GW_HEADER_VALUE_MAX 8192

enum gw_http_method {
    GW_HTTP_GET,
    GW_HTTP_POST,
    GW_HTTP_OPTIONS,
    GW_HTTP_OTHER, /* PUT, PATCH, DELETE, HEAD, ... */
};

enum gw_http_method gw_http_method(struct lws *wsi);

/* Copies the header named by an lws token into buf (NUL-terminated). Returns its length, or -1
 * when the header is absent or longer than buflen - 1. */
int gw_http_header(struct lws *wsi, int token, char *buf, size_t buflen);

/* Writes a complete response. content_type may be NULL for an empty body. Returns 0, or -1 when
 * the connection must be closed (the caller's callback then returns -1). */
int gw_http_respond(struct lws *wsi, const struct gw_cors *cors, unsigned status,
                    const char *content_type, const void *body, size_t len);

/* Writes the status line and headers of a 200 response whose body follows in later writes
 * (LWS_WRITE_HTTP) until the connection closes (an event stream). Returns 0 or -1. */
int gw_http_begin_stream(struct lws *wsi, const struct gw_cors *cors, const char *content_type);

/* Same as gw_http_respond, with a Retry-After header of retry_after_s seconds (429, 503). */
int gw_http_respond_retry(struct lws *wsi, const struct gw_cors *cors, unsigned status,
                          const char *content_type, const void *body, size_t len,
                          unsigned retry_after_s);

/* Answers a CORS preflight (OPTIONS) with 204. */
int gw_http_preflight(struct lws *wsi, const struct gw_cors *cors);

/* Ends the HTTP transaction after a response. Returns what the lws callback must return. The
 * wsi's per-session data is freed by lws inside this call: touch nothing of it afterwards. */
int gw_http_done(struct lws *wsi);

#endif
