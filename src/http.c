/* http.c -- single-write HTTP responses with CORS headers. */
#include "gw/http.h"

#include <ctype.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/log.h"

#define HEADER_ROOM 1024
#define ORIGIN_MAX 256

enum gw_http_method gw_http_method(struct lws *wsi)
{
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return GW_HTTP_GET;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        return GW_HTTP_POST;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI))
        return GW_HTTP_OPTIONS;
    return GW_HTTP_OTHER;
}

int gw_http_header(struct lws *wsi, int token, char *buf, size_t buflen)
{
    int n = lws_hdr_total_length(wsi, (enum lws_token_indexes)token);
    if (n <= 0 || (size_t)n >= buflen)
        return -1;
    if (lws_hdr_copy(wsi, buf, (int)buflen, (enum lws_token_indexes)token) != n)
        return -1;
    return n;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int add_cors(struct lws *wsi, const struct gw_cors *cors, unsigned char **p,
                    unsigned char *end)
{
    char origin[ORIGIN_MAX];
    bool creds;
    const char *allow = gw_cors_allow(
        cors, gw_http_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) > 0 ? origin : NULL,
        &creds);
    if (cors->mode == GW_CORS_LIST && add_header(wsi, "vary:", "Origin", p, end))
        return -1;
    if (!allow)
        return 0;
    if (add_header(wsi, "access-control-allow-origin:", allow, p, end))
        return -1;
    if (creds && add_header(wsi, "access-control-allow-credentials:", "true", p, end))
        return -1;
    return 0;
}

/* lws closes after the response when the request asked for it, but does not say so; a client
 * that is not told may reuse the socket and see its next request hang up. A chunked request
 * also ends its connection: see eio_polling.c. */
static bool closes_after(struct lws *wsi)
{
    char conn[128], version[16];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING))
        return true; /* lws cannot find the end of a chunked request: no second request */
    bool http10 = gw_http_header(wsi, WSI_TOKEN_HTTP, version, sizeof(version)) > 0 &&
                  strcmp(version, "HTTP/1.0") == 0;
    if (gw_http_header(wsi, WSI_TOKEN_CONNECTION, conn, sizeof(conn)) < 0)
        return http10;
    for (char *p = conn; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strstr(conn, "close"))
        return true;
    return http10 && !strstr(conn, "keep-alive");
}

static int write_response(struct lws *wsi, const struct gw_cors *cors, unsigned status,
                          const char *content_type, const void *body, size_t len, bool preflight,
                          unsigned retry_after_s)
{
    unsigned char *buf = gw_malloc(LWS_PRE + HEADER_ROOM + len);
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + HEADER_ROOM;
    char num[24];
    int rc = -1;

    snprintf(num, sizeof(num), "%zu", len);
    if (lws_add_http_header_status(wsi, status, &p, end) ||
        (content_type && add_header(wsi, "content-type:", content_type, &p, end)) ||
        add_header(wsi, "content-length:", num, &p, end) ||
        add_header(wsi, "cache-control:", "no-store", &p, end) || add_cors(wsi, cors, &p, end) ||
        (closes_after(wsi) && add_header(wsi, "connection:", "close", &p, end)))
        goto out;
    if (retry_after_s) {
        char secs[16];
        snprintf(secs, sizeof(secs), "%u", retry_after_s);
        if (add_header(wsi, "retry-after:", secs, &p, end))
            goto out;
    }
    if (preflight) {
        char req_headers[512];
        if (add_header(wsi, "access-control-allow-methods:", "GET, POST, OPTIONS", &p, end) ||
            add_header(wsi, "access-control-max-age:", "86400", &p, end))
            goto out;
        if (gw_http_header(wsi, WSI_TOKEN_HTTP_AC_REQUEST_HEADERS, req_headers,
                           sizeof(req_headers)) > 0 &&
            add_header(wsi, "access-control-allow-headers:", req_headers, &p, end))
            goto out;
    }
    if (lws_finalize_http_header(wsi, &p, end))
        goto out;
    if (len)
        memcpy(p, body, len);
    size_t total = (size_t)(p - start) + len;
    if (lws_write(wsi, start, total, LWS_WRITE_HTTP) != (int)total)
        goto out;
    rc = 0;
out:
    if (rc)
        gw_log_debug("http", "could not write a %u response", status);
    free(buf);
    return rc;
}

int gw_http_begin_stream(struct lws *wsi, const struct gw_cors *cors, const char *content_type)
{
    unsigned char buf[LWS_PRE + HEADER_ROOM];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = start + HEADER_ROOM;
    /* No content-length: the body ends when the connection does. */
    if (lws_add_http_header_status(wsi, 200, &p, end) ||
        add_header(wsi, "content-type:", content_type, &p, end) ||
        add_header(wsi, "cache-control:", "no-store", &p, end) ||
        add_header(wsi, "x-accel-buffering:", "no", &p, end) || add_cors(wsi, cors, &p, end) ||
        add_header(wsi, "connection:", "close", &p, end) || lws_finalize_http_header(wsi, &p, end))
        return -1;
    int n = (int)(p - start);
    return lws_write(wsi, start, (size_t)n, LWS_WRITE_HTTP_HEADERS) == n ? 0 : -1;
}

int gw_http_respond(struct lws *wsi, const struct gw_cors *cors, unsigned status,
                    const char *content_type, const void *body, size_t len)
{
    return write_response(wsi, cors, status, content_type, body, len, false, 0);
}

int gw_http_respond_retry(struct lws *wsi, const struct gw_cors *cors, unsigned status,
                          const char *content_type, const void *body, size_t len,
                          unsigned retry_after_s)
{
    return write_response(wsi, cors, status, content_type, body, len, false, retry_after_s);
}

int gw_http_preflight(struct lws *wsi, const struct gw_cors *cors)
{
    return write_response(wsi, cors, 204, NULL, NULL, 0, true, 0);
}

int gw_http_done(struct lws *wsi)
{
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}
