/* sse.c -- Server-Sent Events streams of notifications.
 *
 * DESIGN
 *
 * Each stream is a gateway member (so the registry, the per-user cap and catch-up treat it like
 * a socket) with a queue of encoded 42[...] messages, rendered to SSE text at write time, one
 * event per lws_write, as lws asks. The queue is bounded by OUTBOX_MAX_BYTES like a socket's
 * outbox: a reader that falls behind is closed, and its EventSource comes back with
 * Last-Event-ID and catches up. One lws wsi timer per stream drives the heartbeat comment and
 * the token's expiry; SSE streams are few next to sockets, so lws's sorted timer list is fine.
 *
 * Thread: the loop thread. A stream is freed in closed(), the one callback lws always sends;
 * gw_sse_close_all() at shutdown only asks each stream to end.
 */
#include "gw/sse.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/http.h"
#include "gw/list.h"
#include "gw/log.h"
#include "gw/msgq.h"

#define HEADER_VALUE_MAX 4096

struct gw_sse {
    struct gw_gateway *gw;
    const struct gw_config *cfg;
    const struct gw_cors *cors;
    struct gw_list_node streams;
    size_t count;
};

struct stream {
    struct gw_list_node node;
    struct gw_sse *sse;
    struct lws *wsi;
    struct member *member;
    int64_t valid_until; /* wall-clock seconds, 0 = never */
    struct gw_msgq queue;
    bool heartbeat_due;
    bool closing;
};

/* ---- the stream's queue ---------------------------------------------------------------- */

static void stream_close(void *p)
{
    struct stream *st = p;
    st->closing = true;
    lws_callback_on_writable(st->wsi);
}

static int stream_send(void *p, struct gw_msg *msg)
{
    struct stream *st = p;
    if (st->closing)
        return -1;
    if (st->queue.bytes + msg->len > st->sse->cfg->outbox_max_bytes) {
        gw_log_info("sse", "a stream fell %zu bytes behind: closing it", st->queue.bytes);
        stream_close(st);
        return -1;
    }
    gw_msgq_push(&st->queue, msg);
    lws_callback_on_writable(st->wsi);
    return 0;
}

static const struct gw_member_ops stream_ops = {.send = stream_send, .close = stream_close};

static int write_text(struct lws *wsi, const char *text, size_t len)
{
    unsigned char *buf = gw_malloc(LWS_PRE + len);
    memcpy(buf + LWS_PRE, text, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP);
    free(buf);
    return n == (int)len ? 0 : -1;
}

static int on_writeable(struct lws *wsi, void *p)
{
    struct stream *st = p;
    struct gw_msg *msg = gw_msgq_pop(&st->queue);
    if (msg) {
        struct gw_buf text = GW_BUF_INIT;
        int rc = gw_sse_format(gw_msg_payload(msg), msg->len, &text);
        if (rc == 0)
            rc = write_text(wsi, text.data, text.len);
        if (rc == 0)
            gw_msg_written(msg);
        gw_msg_unref(msg);
        gw_buf_free(&text);
        if (rc < 0)
            return -1;
    } else if (st->heartbeat_due) {
        st->heartbeat_due = false;
        if (write_text(wsi, ":\n\n", 3) < 0)
            return -1;
    } else if (st->closing) {
        return -1;
    }
    if (st->queue.len || st->heartbeat_due || st->closing)
        lws_callback_on_writable(wsi);
    return 0;
}

static void arm_timer(struct stream *st)
{
    int64_t next_us = (int64_t)st->sse->cfg->sse_heartbeat_ms * 1000;
    if (st->valid_until) {
        int64_t left_us = (st->valid_until * 1000 - (int64_t)gw_wall_ms()) * 1000;
        if (left_us < next_us)
            next_us = left_us > 0 ? left_us : 1;
    }
    lws_set_timer_usecs(st->wsi, next_us);
}

static int on_timer(struct lws *wsi, void *p)
{
    struct stream *st = p;
    if (st->valid_until && (int64_t)(gw_wall_ms() / 1000) >= st->valid_until) {
        gw_log_debug("sse", "token expired: closing the stream");
        stream_close(st);
        return 0;
    }
    st->heartbeat_due = true;
    lws_callback_on_writable(wsi);
    arm_timer(st);
    return 0;
}

static void on_closed(void *p)
{
    struct stream *st = p;
    gw_gateway_detach(st->member);
    gw_msgq_clear(&st->queue);
    gw_list_unlink(&st->node);
    st->sse->count--;
    free(st);
}

/* ---- opening --------------------------------------------------------------------------- */

static void *refuse(struct lws *wsi, struct gw_sse *sse, unsigned status, const char *code,
                    const char *message)
{
    json_t *body =
        json_pack("{s:s,s:s,s:{s:s}}", "status", "error", "message", message, "data", "code", code);
    char *text = json_dumps(body, JSON_COMPACT);
    gw_http_respond(wsi, sse->cors, status, "application/json", text, strlen(text));
    free(text);
    json_decref(body);
    return NULL;
}

static void *on_open(struct lws *wsi, void *ud)
{
    struct gw_sse *sse = ud;
    char auth[HEADER_VALUE_MAX], token[HEADER_VALUE_MAX], last[64];
    if (gw_http_method(wsi) != GW_HTTP_GET)
        return refuse(wsi, sse, 405, "METHOD_NOT_ALLOWED", "Method not allowed");
    struct gw_jwt_sources src = {0};
    if (gw_http_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)) > 0) {
        src.authorization = auth;
        src.authorization_len = strlen(auth);
    }
    /* returns the value inside buf, after the name */
    const char *q = lws_get_urlarg_by_name(wsi, "token=", token, sizeof(token));
    if (q) {
        src.query_token = q;
        src.query_token_len = strlen(q);
    }
    struct gw_jwt_claims claims;
    enum gw_jwt_status js = gw_gateway_authenticate(sse->gw, &src, &claims);
    if (js != GW_JWT_OK)
        return refuse(wsi, sse, 401, gw_jwt_code(js), gw_jwt_strerror(js));

    /* lws has no token for Last-Event-ID: a custom header, name lowercase with its colon */
    const char *after = NULL;
    if (lws_hdr_custom_copy(wsi, last, (int)sizeof(last), "last-event-id:", 14) > 0)
        after = last;
    else
        after = lws_get_urlarg_by_name(wsi, "lastEventId=", last, sizeof(last));
    if (gw_http_begin_stream(wsi, sse->cors, "text/event-stream; charset=utf-8") < 0)
        return NULL;
    /* lws would close an HTTP connection that stays idle; this one is meant to */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    struct stream *st = gw_calloc(1, sizeof(*st));
    st->sse = sse;
    st->wsi = wsi;
    st->valid_until = claims.valid_until;
    gw_list_insert_tail(&sse->streams, &st->node);
    sse->count++;
    st->member =
        gw_gateway_attach(sse->gw, claims.user_id, claims.user_id_len, after, &stream_ops, st);
    arm_timer(st);
    return st;
}

/* ---- module ---------------------------------------------------------------------------- */

struct gw_sse *gw_sse_new(struct gw_gateway *gw, const struct gw_config *cfg,
                          const struct gw_cors *cors)
{
    struct gw_sse *sse = gw_calloc(1, sizeof(*sse));
    sse->gw = gw;
    sse->cfg = cfg;
    sse->cors = cors;
    gw_list_init(&sse->streams);
    return sse;
}

void gw_sse_free(struct gw_sse *sse)
{
    free(sse);
}

struct gw_http_route gw_sse_route(struct gw_sse *sse)
{
    struct gw_http_route r = {
        .path = GW_SSE_PATH,
        .ud = sse,
        .open = on_open,
        .writeable = on_writeable,
        .timer = on_timer,
        .closed = on_closed,
    };
    return r;
}

void gw_sse_close_all(struct gw_sse *sse)
{
    for (struct gw_list_node *n = sse->streams.next; n != &sse->streams; n = n->next)
        stream_close((struct stream *)n); /* node is the first member */
}

size_t gw_sse_stream_count(const struct gw_sse *sse)
{
    return sse->count;
}
