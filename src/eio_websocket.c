/* eio_websocket.c -- the WebSocket transport of Engine.IO, and the upgrade from polling.
 *
 * A WebSocket without sid opens a new session whose first frame is the open packet. A
 * WebSocket with the sid of a polling session is a probe: "2probe" is answered "3probe", the
 * session starts answering polling GETs with noops, and "5" makes the WebSocket the session's
 * transport, which then flushes everything queued meanwhile. A probe that does anything else,
 * or does not finish within the upgrade timeout, is dropped and the session stays on polling.
 *
 * Writes follow lws's rule: one lws_write per WRITEABLE callback (a live write's callback comes
 * in the loop pass that queued it, without an EPOLLOUT round trip: eio_session.c). A lone
 * queued packet is written in place as one frame; when several are queued (a backlog, a burst
 * to one user) they are framed here and joined into one write of up to about WS_BATCH_BYTES,
 * which saves a syscall and a writable callback per packet. lws keeps whatever the kernel does not
 * take and sends it before the next WRITEABLE, so a joined write is never torn between frames by
 * us, and a slow reader holds at most one joined write in lws beyond its outbox cap. Messages are
 * reassembled from fragments up to maxPayload; a bigger one closes with 1009.
 *
 * Thread: the lws service thread.
 */
#include <string.h>

#include "eio_internal.h"
#include "gw/common.h"
#include "gw/http.h"
#include "gw/log.h"

#define ORIGIN_MAX 256
#define WS_BATCH_BYTES 16384 /* a joined write stops growing past this */
#define WS_BATCH_MAX 64      /* packets in one joined write */

static int reject(struct gw_eio_engine *eng, struct lws *wsi, enum gw_eio_error e)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_eio_encode_error(&b, e);
    gw_http_respond(wsi, eng->cors, e == GW_EIO_ERR_FORBIDDEN ? 403 : 400, "application/json",
                    b.data, b.len);
    gw_buf_free(&b);
    return 1; /* lws ends the transaction itself after a rejected upgrade */
}

int eio_ws_confirm(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep, struct lws *wsi)
{
    struct gw_eio_query q;
    enum gw_eio_error err;
    char origin[ORIGIN_MAX];

    if (!gw_cors_ws_allowed(
            eng->cors,
            gw_http_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) > 0 ? origin : NULL))
        return reject(eng, wsi, GW_EIO_ERR_FORBIDDEN);
    eio_read_query(wsi, &q);
    if (gw_eio_query_check(&q, &err) < 0)
        return reject(eng, wsi, err);
    if (q.transport != GW_EIO_TRANSPORT_WEBSOCKET)
        return reject(eng, wsi, GW_EIO_ERR_BAD_REQUEST);
    if (!q.has_sid) {
        unsigned retry_after_s = 0;
        enum eio_admission a = eio_admit(eng, wsi, &retry_after_s);
        if (a != EIO_ADMIT) {
            eio_respond_refusal(eng, wsi, a, retry_after_s);
            return 1;
        }
    } else {
        struct gw_eio_session *s = eio_session_find(eng, q.sid);
        if (!s || s->ep != ep || s->state != SESSION_OPEN)
            return reject(eng, wsi, GW_EIO_ERR_SESSION_UNKNOWN);
        /* A session already on (or moving to) WebSocket: like the reference, accept the
         * upgrade and close the new socket at once (eio_ws_established), so clients see a plain
         * close rather than a failed handshake. */
    }
    return 0;
}

int eio_ws_established(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep, struct lws *wsi,
                       struct gw_conn *c)
{
    struct gw_eio_query q;
    eio_read_query(wsi, &q);
    c->role = CONN_WS;

    if (!q.has_sid) {
        struct gw_eio_session *s = eio_session_new(eng, ep, true);
        struct gw_buf b = GW_BUF_INIT;
        gw_eio_encode_open(&b, s->sid, false, ep->settings.ping_interval_ms,
                           ep->settings.ping_timeout_ms, ep->settings.max_payload);
        struct gw_msg *open = gw_msg_new_text('0', b.data + 1, b.len - 1);
        gw_buf_free(&b);
        s->ws = wsi;
        c->session = s;
        gw_eio_session_send(s, open);
        gw_msg_unref(open);
        eio_open_session(s, wsi);
        return 0;
    }
    /* Checked in eio_ws_confirm, but the session may have gone in between. */
    struct gw_eio_session *s = eio_session_find(eng, q.sid);
    if (!s || s->state != SESSION_OPEN || s->websocket || s->probe)
        return -1;
    s->probe = wsi;
    c->session = s;
    s->upgrade_due = gw_now_ms() + (uint64_t)ep->settings.upgrade_timeout_ms;
    eio_session_reschedule(s);
    return 0;
}

void eio_ws_close_later(struct lws *wsi)
{
    struct gw_conn *c = lws_wsi_user(wsi);
    c->session = NULL;
    c->close_now = true;
    lws_callback_on_writable(wsi);
}

/* A packet on a probe. Returns -1 when the probe must be closed. */
static int probe_packet(struct gw_eio_session *s, struct lws *wsi, struct gw_conn *c,
                        const struct gw_eio_packet *pkt)
{
    if (pkt->type == GW_EIO_PING && pkt->len == 5 && memcmp(pkt->data, "probe", 5) == 0) {
        c->probe_reply = true;
        s->upgrading = true;
        lws_callback_on_writable(wsi);
        if (s->get)
            lws_callback_on_writable(s->get); /* the parked GET answers with a noop */
        return 0;
    }
    if (pkt->type == GW_EIO_UPGRADE && s->upgrading) {
        s->websocket = true;
        s->upgrading = false;
        s->ws = wsi;
        s->probe = NULL;
        s->upgrade_due = 0;
        eio_session_reschedule(s);
        if (s->get)
            lws_callback_on_writable(s->get);
        lws_callback_on_writable(wsi);
        return 0;
    }
    gw_log_debug("eio", "%s: unexpected packet on an upgrade probe", s->sid);
    s->probe = NULL;
    s->upgrading = false;
    s->upgrade_due = 0;
    c->session = NULL;
    return -1;
}

/* Ends the connection with a close frame. Returning -1 from a WRITEABLE callback (or killing
 * through a timeout) makes lws 4.1 take the socket for broken and drop it without a close frame:
 * the client would see 1006, an abnormal closure. A -1 from the wsi's own timer callback closes
 * politely (close frame, then the client's acknowledgement), so go through that. */
static int close_politely(struct lws *wsi, struct gw_conn *c, enum lws_close_status status)
{
    if (!c->close_armed) {
        c->close_armed = true;
        c->close_now = true;
        lws_close_reason(wsi, status, NULL, 0);
        lws_set_timer_usecs(wsi, 1);
    }
    return 0;
}

int eio_ws_timer(struct lws *wsi, struct gw_conn *c)
{
    return c->close_armed ? -1 : 0;
}

int eio_ws_receive(struct lws *wsi, struct gw_conn *c, const void *in, size_t len)
{
    struct gw_eio_session *s = c->session;
    if (!s)
        return 0; /* detached and closing: what it still says does not matter */
    /* The frame header says how much more is coming: refuse an oversized message at once
     * rather than wait for (and buffer) bytes that will be too many anyway. */
    if (c->in.len + len > s->ep->settings.max_payload ||
        lws_remaining_packet_payload(wsi) > s->ep->settings.max_payload - c->in.len - len) {
        /* Detach first: lws now waits for the client's close acknowledgement, and nothing
         * (a heartbeat ping, say) may be written after the close frame. */
        if (s->probe == wsi) {
            s->probe = NULL;
            s->upgrading = false;
        } else {
            s->ws = NULL;
            gw_eio_session_close(s, GW_EIO_CLOSE_PARSE_ERROR, false);
        }
        c->session = NULL;
        eio_session_maybe_free(s);
        /* Not -1: lws would close with the rest of the message unread, and the reset that
         * unread data causes can swallow the close frame. The polite close keeps reading
         * (and this callback discards, the conn being detached) until the client answers. */
        return close_politely(wsi, c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
    }
    gw_buf_append(&c->in, in, len);
    if (!lws_is_final_fragment(wsi))
        return 0;

    struct gw_eio_packet pkt;
    bool bad = false;
    if (lws_frame_is_binary(wsi)) {
        pkt.type = GW_EIO_MESSAGE;
        pkt.binary = true;
        pkt.data = c->in.data;
        pkt.len = c->in.len;
    } else {
        bad = gw_eio_decode_text(c->in.data, c->in.len, &pkt) < 0;
    }

    int rc = 0;
    if (s->probe == wsi) {
        rc = bad ? -1 : probe_packet(s, wsi, c, &pkt);
        if (rc < 0) {
            s->probe = NULL;
            s->upgrading = false;
            c->session = NULL;
        }
    } else if (bad || eio_session_on_packet(s, &pkt) < 0) {
        if (bad)
            gw_eio_session_close(s, GW_EIO_CLOSE_PARSE_ERROR, false);
        /* The session is closing: this socket goes now, without a flush. */
        s->ws = NULL;
        c->session = NULL;
        eio_session_maybe_free(s);
        rc = -1;
    }
    gw_buf_reset(&c->in);
    if (c->in.cap > 4096)
        gw_buf_free(&c->in); /* a big message passed: don't keep its buffer for an idle socket */
    return rc;
}

/* 0 when lws took all of buf (it buffers what the kernel does not), else -1. */
static int write_all(struct lws *wsi, void *buf, size_t len, enum lws_write_protocol wp)
{
    return lws_write(wsi, buf, len, wp) < (int)len ? -1 : 0;
}

static int write_frame(struct lws *wsi, char *payload, size_t len, bool binary)
{
    return write_all(wsi, payload, len, binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
}

static int write_one(struct gw_eio_session *s, struct lws *wsi)
{
    struct gw_msg *m = gw_msgq_pop(&s->outbox);
    int rc = write_frame(wsi, gw_msg_payload(m), m->len, m->binary);
    if (rc == 0)
        gw_msg_written(m);
    gw_msg_unref(m);
    return rc;
}

/* Frames the oldest queued packets into the engine's scratch buffer and writes them at once.
 * Packets are taken while the total stays within WS_BATCH_BYTES, the first one always. Each
 * delivery completes at the write, as in a polling payload. */
static int write_joined(struct gw_eio_session *s, struct lws *wsi)
{
    struct gw_buf *b = &s->eng->ws_batch;
    struct gw_msg *taken[WS_BATCH_MAX];
    size_t n = 0;
    gw_buf_reset(b);
    for (struct gw_msg *m; n < WS_BATCH_MAX && (m = gw_msgq_peek(&s->outbox)) != NULL; n++) {
        if (n && b->len + GW_EIO_WS_HEADER_MAX + m->len > WS_BATCH_BYTES)
            break;
        unsigned char hdr[GW_EIO_WS_HEADER_MAX];
        gw_buf_append(b, hdr, gw_eio_ws_header(hdr, m->len, m->binary));
        gw_buf_append(b, gw_msg_payload(m), m->len);
        taken[n] = gw_msgq_pop(&s->outbox);
    }
    int rc = write_all(wsi, b->data, b->len, LWS_WRITE_RAW);
    uint64_t now_us = rc == 0 ? gw_now_us() : 0;
    for (size_t i = 0; i < n; i++) {
        if (now_us && taken[i]->received_us)
            gw_msg_dispatch_observe(taken[i]->received_us, now_us);
        gw_msg_unref(taken[i]);
    }
    return rc;
}

int eio_ws_writeable(struct lws *wsi, struct gw_conn *c)
{
    struct gw_eio_session *s = c->session;
    if (c->close_now || !s)
        return close_politely(wsi, c, LWS_CLOSE_STATUS_NORMAL);
    if (s->probe == wsi) {
        if (!c->probe_reply)
            return 0;
        char buf[LWS_PRE + 6];
        memcpy(buf + LWS_PRE, "3probe", 6);
        c->probe_reply = false;
        return write_frame(wsi, buf + LWS_PRE, 6, false);
    }
    if (s->outbox.len) {
        int rc = s->outbox.len > 1 && gw_msgq_peek(&s->outbox)->len < WS_BATCH_BYTES
                     ? write_joined(s, wsi)
                     : write_one(s, wsi);
        if (s->outbox.len || s->state == SESSION_CLOSING)
            lws_callback_on_writable(wsi);
        return rc;
    }
    if (s->state == SESSION_CLOSING) {
        s->ws = NULL;
        c->session = NULL;
        c->close_now = true;
        eio_session_maybe_free(s);
        return close_politely(wsi, c,
                              s->close_reason == GW_EIO_CLOSE_SHUTDOWN ? LWS_CLOSE_STATUS_GOINGAWAY
                                                                       : LWS_CLOSE_STATUS_NORMAL);
    }
    return 0;
}

void eio_ws_closed(struct lws *wsi, struct gw_conn *c)
{
    struct gw_eio_session *s = c->session;
    gw_buf_free(&c->in);
    c->session = NULL;
    if (!s)
        return;
    if (s->probe == wsi) {
        s->probe = NULL;
        s->upgrading = false;
        s->upgrade_due = 0;
        eio_session_reschedule(s);
        if (s->get && s->outbox.len)
            lws_callback_on_writable(s->get);
        eio_session_maybe_free(s);
    } else if (s->ws == wsi) {
        s->ws = NULL;
        if (s->state == SESSION_OPEN)
            gw_eio_session_close(s, GW_EIO_CLOSE_TRANSPORT_CLOSE, false); /* may free s */
        else
            eio_session_maybe_free(s);
    }
}
