/* eio_polling.c -- the HTTP long-polling transport of Engine.IO.
 *
 * GET without sid is the handshake. GET with sid is a long poll: it is answered at once when
 * packets are queued, and otherwise parked on the session until something is queued (a ping at
 * the latest, every pingInterval). POST with sid carries a payload of packets from the client;
 * it is answered "ok" once the whole body is in and its packets are handled.
 *
 * At most one GET may be parked: a second one is a protocol violation that closes the session
 * (the first GET then gets the close packet). A client that aborts its parked GET has gone away,
 * which closes the session too. While an upgrade is in flight every GET is answered with a noop
 * so the client can finish it; after the upgrade, polling requests for the session get 400.
 *
 * Thread: the lws service thread.
 */
#include <string.h>
#include <strings.h>

#include "eio_internal.h"
#include "gw/common.h"
#include "gw/http.h"
#include "gw/log.h"

#define ARG_MAX 512

void eio_read_query(struct lws *wsi, struct gw_eio_query *q)
{
    char arg[ARG_MAX];
    gw_eio_query_init(q);
    for (int i = 0;; i++) {
        int n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        if ((size_t)n >= sizeof(arg))
            continue; /* longer than any argument we read: someone else's parameter */
        n = lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n > 0)
            gw_eio_query_add(q, arg, (size_t)n);
    }
}

void eio_open_session(struct gw_eio_session *s, struct lws *wsi)
{
    char auth[GW_HEADER_VALUE_MAX], token[GW_HEADER_VALUE_MAX];
    struct gw_eio_request req = {
        .authorization =
            gw_http_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)) > 0 ? auth : NULL,
        .query_token = lws_get_urlarg_by_name(wsi, "token=", token, sizeof(token)),
    };
    s->ep->handler->on_open(s, &req);
}

static int respond_error(struct gw_eio_engine *eng, struct lws *wsi, enum gw_eio_error e)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_eio_encode_error(&b, e);
    int rc = gw_http_respond(wsi, eng->cors, e == GW_EIO_ERR_FORBIDDEN ? 403 : 400,
                             "application/json", b.data, b.len);
    gw_buf_free(&b);
    return rc ? -1 : gw_http_done(wsi);
}

static int respond_text(struct gw_eio_engine *eng, struct lws *wsi, unsigned status,
                        const char *ctype, const char *body, size_t len)
{
    if (gw_http_respond(wsi, eng->cors, status, ctype, body, len))
        return -1;
    return gw_http_done(wsi);
}

#define PEER_MAX 64
#define FULL_RETRY_AFTER_S 5

enum eio_admission eio_admit(struct gw_eio_engine *eng, struct lws *wsi, unsigned *retry_after_s)
{
    if (eng->connections && *eng->connections > eng->session_conn_limit) {
        eng->refused_full++;
        *retry_after_s = FULL_RETRY_AFTER_S;
        return EIO_REFUSE_FULL;
    }
    if (!eng->handshake_rate)
        return EIO_ADMIT;
    char peer[PEER_MAX];
    unsigned char key[GW_RATELIMIT_KEY_MAX];
    uint64_t wait_us = 0;
    const char *addr = lws_get_peer_simple(wsi, peer, sizeof(peer));
    size_t keylen = addr ? gw_ratelimit_key(addr, key) : 0;
    if (!keylen)
        return EIO_ADMIT; /* not an IP peer (a unix socket): nothing to key on */
    if (gw_ratelimit_take(eng->handshake_rate, key, keylen, gw_now_us(), &wait_us))
        return EIO_ADMIT;
    eng->rate_limited++;
    *retry_after_s = (unsigned)((wait_us + 999999) / 1000000);
    return EIO_REFUSE_RATE;
}

int eio_respond_refusal(struct gw_eio_engine *eng, struct lws *wsi, enum eio_admission a,
                        unsigned retry_after_s)
{
    /* The Engine.IO error shape; code 3 is "Bad request", the closest the protocol has. The
     * stock client only sees the status and retries with its reconnection backoff. */
    static const char rate[] = "{\"code\":3,\"message\":\"Too many handshakes from this address\"}";
    static const char full[] = "{\"code\":3,\"message\":\"Server at its connection limit\"}";
    bool is_rate = a == EIO_REFUSE_RATE;
    return gw_http_respond_retry(wsi, eng->cors, is_rate ? 429 : 503, "application/json",
                                 is_rate ? rate : full,
                                 is_rate ? sizeof(rate) - 1 : sizeof(full) - 1, retry_after_s);
}

static int handshake(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep, struct lws *wsi)
{
    unsigned retry_after_s = 0;
    enum eio_admission a = eio_admit(eng, wsi, &retry_after_s);
    if (a != EIO_ADMIT)
        return eio_respond_refusal(eng, wsi, a, retry_after_s) ? -1 : gw_http_done(wsi);

    struct gw_eio_session *s = eio_session_new(eng, ep, false);
    struct gw_buf b = GW_BUF_INIT;
    gw_eio_encode_open(&b, s->sid, true, ep->settings.ping_interval_ms,
                       ep->settings.ping_timeout_ms, ep->settings.max_payload);
    eio_open_session(s, wsi);
    int rc = respond_text(eng, wsi, 200, "text/plain; charset=UTF-8", b.data, b.len);
    gw_buf_free(&b);
    return rc;
}

/* Joins the queued packets into one payload and answers the GET with it. The receipt times of
 * the timed messages in it are kept until the write, which completes each one's delivery. */
static int flush_get(struct gw_eio_session *s, struct lws *wsi)
{
    struct gw_buf b = GW_BUF_INIT, timed = GW_BUF_INIT;
    struct gw_msg *m;
    if (s->upgrading || s->websocket) {
        gw_buf_append_char(&b, '6');
    } else {
        while ((m = gw_msgq_pop(&s->outbox)) != NULL) {
            gw_eio_payload_append(&b, gw_msg_payload(m), m->len, m->binary);
            if (m->received_us)
                gw_buf_append(&timed, &m->received_us, sizeof(m->received_us));
            gw_msg_unref(m);
        }
        if (s->state == SESSION_CLOSING && b.len == 0) {
            /* The reference answers the client's own close with a noop, any other with close.
             * Queued packets went first, alone; the close packet ends a linger. */
            char last = s->close_reason == GW_EIO_CLOSE_CLIENT ? '6' : '1';
            gw_eio_payload_append(&b, &last, 1, false);
            eio_session_end_linger(s);
        }
    }
    int rc = gw_http_respond(wsi, s->eng->cors, 200, "text/plain; charset=UTF-8", b.data, b.len);
    if (rc == 0 && timed.len) {
        uint64_t now_us = gw_now_us(), received_us;
        for (size_t off = 0; off < timed.len; off += sizeof(received_us)) {
            memcpy(&received_us, timed.data + off, sizeof(received_us));
            gw_msg_dispatch_observe(received_us, now_us);
        }
    }
    gw_buf_free(&timed);
    gw_buf_free(&b);
    return rc ? -1 : gw_http_done(wsi);
}

static int poll_get(struct gw_eio_engine *eng, struct gw_eio_session *s, struct lws *wsi,
                    struct gw_conn *c)
{
    if (s->websocket)
        return respond_error(eng, wsi, GW_EIO_ERR_BAD_REQUEST);
    if (s->get) {
        gw_log_debug("eio", "%s: overlapping GET, closing the session", s->sid);
        gw_eio_session_close(s, GW_EIO_CLOSE_TRANSPORT_ERROR, false);
        return respond_error(eng, wsi, GW_EIO_ERR_BAD_REQUEST);
    }
    if (s->upgrading || s->outbox.len)
        return flush_get(s, wsi);
    c->role = CONN_POLL_GET;
    c->session = s;
    s->get = wsi;
    /* The session's heartbeat bounds how long the GET stays parked; lws must not time it out. */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    return 0;
}

static int poll_post_start(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep,
                           struct gw_eio_session *s, struct lws *wsi, struct gw_conn *c)
{
    char len_str[24], te[64];
    if (s->websocket)
        return respond_error(eng, wsi, GW_EIO_ERR_BAD_REQUEST);
    if (gw_http_header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, te, sizeof(te)) > 0) {
        if (strcasecmp(te, "chunked") != 0) {
            respond_text(eng, wsi, 501, "text/plain", "Transfer-Encoding not supported", 31);
            return -1;
        }
        c->chunked = true;
        gw_chunked_init(&c->dechunk);
    } else if (gw_http_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, len_str, sizeof(len_str)) < 0) {
        /* Neither length nor chunks: lws would wait for 100 MB of body. */
        respond_text(eng, wsi, 411, "text/plain", "Length Required", 15);
        return -1;
    }
    c->role = CONN_POLL_POST;
    c->ep = ep;
    memcpy(c->sid, s->sid, sizeof(c->sid));
    /* lws re-arms its own content timeout at every piece of body, so a body trickling a byte
     * at a time would never end: the deadline from the headers on is ours. */
    c->body_timer = true;
    lws_set_timer_usecs(wsi, (lws_usec_t)eng->body_timeout_ms * LWS_US_PER_MS);
    return 0; /* the body follows in HTTP_BODY callbacks */
}

int eio_poll_request(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep, struct lws *wsi,
                     struct gw_conn *c)
{
    struct gw_eio_query q;
    enum gw_eio_error err;
    enum gw_http_method method = gw_http_method(wsi);

    if (method == GW_HTTP_OPTIONS) {
        if (gw_http_preflight(wsi, eng->cors))
            return -1;
        return gw_http_done(wsi);
    }
    eio_read_query(wsi, &q);
    if (gw_eio_query_check(&q, &err) < 0)
        return respond_error(eng, wsi, err);
    if (q.transport == GW_EIO_TRANSPORT_WEBSOCKET) /* a websocket request without the upgrade */
        return respond_error(eng, wsi, GW_EIO_ERR_BAD_REQUEST);
    if (!q.has_sid) {
        if (method != GW_HTTP_GET)
            return respond_error(eng, wsi, GW_EIO_ERR_BAD_HANDSHAKE_METHOD);
        if (eng->draining)
            return respond_text(eng, wsi, 503, "text/plain", "shutting down", 13);
        return handshake(eng, ep, wsi);
    }
    struct gw_eio_session *s = eio_session_find(eng, q.sid);
    if (!s || s->ep != ep)
        return respond_error(eng, wsi, GW_EIO_ERR_SESSION_UNKNOWN);
    if (s->lingering) {
        if (method != GW_HTTP_GET)
            return respond_error(eng, wsi, GW_EIO_ERR_SESSION_UNKNOWN);
        return flush_get(s, wsi); /* what was queued last, or else the close packet */
    }
    if (method == GW_HTTP_GET)
        return poll_get(eng, s, wsi, c);
    if (method == GW_HTTP_POST)
        return poll_post_start(eng, ep, s, wsi, c);
    return respond_error(eng, wsi, GW_EIO_ERR_BAD_REQUEST);
}

/* Keeps body bytes up to maxPayload; past it, drops them but keeps reading, so the answer can
 * be a clean 413 on a live connection. */
static void take_body(struct gw_conn *c, const void *in, size_t len)
{
    c->in_total += len;
    if (c->in_too_large || c->in_total > c->ep->settings.max_payload) {
        c->in_too_large = true;
        gw_buf_free(&c->in);
        return;
    }
    gw_buf_append(&c->in, in, len);
}

int eio_poll_body(struct gw_eio_engine *eng, struct lws *wsi, struct gw_conn *c, const void *in,
                  size_t len)
{
    if (c->role != CONN_POLL_POST)
        return 0;
    if (!c->chunked) {
        take_body(c, in, len);
        return 0;
    }
    /* lws 4.1 passes chunked bodies through undecoded and never sees their end: decode here,
     * answer when the last chunk is in, and end the connection (the response said close). */
    struct gw_buf plain = GW_BUF_INIT;
    size_t n = 0;
    enum gw_chunked_status st = gw_chunked_feed(&c->dechunk, in, len, &plain, &n);
    take_body(c, plain.data, plain.len);
    gw_buf_free(&plain);
    if (st == GW_CHUNKED_MORE)
        return 0;
    if (st == GW_CHUNKED_ERROR)
        respond_text(eng, wsi, 400, "text/plain", "Malformed chunked body", 22);
    else
        eio_poll_body_done(eng, wsi, c);
    return -1;
}

/* Handles the packets of a complete POST body. Returns 0 when all went well, 1 when the client
 * closed the session, -1 when the body was malformed and the session was closed. The session
 * may be freed when this returns non-zero. */
static int handle_payload(struct gw_eio_session *s, struct gw_buf *body)
{
    struct gw_eio_payload_iter it;
    struct gw_eio_packet pkt;
    int r;
    if (!gw_utf8_valid(body->data, body->len)) {
        gw_eio_session_close(s, GW_EIO_CLOSE_PARSE_ERROR, false);
        return -1;
    }
    gw_eio_payload_iter_init(&it, body->data, body->len);
    while ((r = gw_eio_payload_next(&it, &pkt)) > 0) {
        if (pkt.type == GW_EIO_CLOSE) {
            gw_eio_session_close(s, GW_EIO_CLOSE_CLIENT, false);
            return 1;
        }
        if (eio_session_on_packet(s, &pkt) < 0)
            return -1;
        if (s->state != SESSION_OPEN)
            return 1; /* the upper layer closed it: the request itself was fine */
    }
    if (r < 0) {
        gw_eio_session_close(s, GW_EIO_CLOSE_PARSE_ERROR, false);
        return -1;
    }
    return 0;
}

int eio_poll_timer(struct gw_eio_engine *eng, struct lws *wsi, struct gw_conn *c)
{
    if (!c || c->role != CONN_POLL_POST || !c->body_timer)
        return 0;
    /* No answer: the client is not reading one either, or is an attacker. The session stays;
     * a real client sees its POST fail and closes the session itself. */
    eng->body_timeouts++;
    gw_log_debug("eio", "%s: POST body not complete after %d ms, closing the connection", c->sid,
                 eng->body_timeout_ms);
    return -1;
}

int eio_poll_body_done(struct gw_eio_engine *eng, struct lws *wsi, struct gw_conn *c)
{
    if (c->role != CONN_POLL_POST)
        return 0;
    int rc;
    if (c->body_timer) {
        c->body_timer = false;
        lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
    }
    struct gw_eio_session *s = eio_session_find(eng, c->sid);
    if (s && s->state != SESSION_OPEN)
        s = NULL;
    if (c->in_too_large) {
        rc = respond_text(eng, wsi, 413, "text/plain; charset=UTF-8", "Payload Too Large", 17);
    } else if (!s || s->websocket) {
        rc = respond_error(eng, wsi, s ? GW_EIO_ERR_BAD_REQUEST : GW_EIO_ERR_SESSION_UNKNOWN);
    } else if (handle_payload(s, &c->in) < 0) {
        rc = respond_error(eng, wsi, GW_EIO_ERR_BAD_REQUEST);
    } else {
        rc = respond_text(eng, wsi, 200, "text/html", "ok", 2);
    }
    /* c was freed by lws if the transaction completed; only the local rc is left. */
    return rc;
}

int eio_poll_writeable(struct lws *wsi, struct gw_conn *c)
{
    struct gw_eio_session *s = c->session;
    if (c->role != CONN_POLL_GET || !s)
        return 0; /* a spurious wake: lws may send them */
    if (!s->outbox.len && s->state == SESSION_OPEN && !s->upgrading && !s->websocket)
        return 0;
    s->get = NULL;
    c->session = NULL;
    int rc = flush_get(s, wsi);
    eio_session_maybe_free(s);
    return rc;
}

void eio_poll_detach(struct lws *wsi, struct gw_conn *c)
{
    struct gw_eio_session *s = c->session;
    if (s && c->role == CONN_POLL_GET && s->get == wsi) {
        /* The client aborted its parked GET: it has gone away. */
        s->get = NULL;
        c->session = NULL;
        if (s->state == SESSION_OPEN)
            gw_eio_session_close(s, GW_EIO_CLOSE_TRANSPORT_CLOSE, false); /* may free s */
        else
            eio_session_maybe_free(s);
    }
    gw_buf_free(&c->in);
    c->role = CONN_NONE;
}
