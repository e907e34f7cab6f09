/* eio_session.c -- Engine.IO session lifecycle, outbox and heartbeat.
 *
 * DESIGN
 *
 * A session outlives the HTTP requests and WebSocket that carry it, so it is not lws
 * per-session data: the engine owns it in a sid-keyed map. Each session has at most one parked
 * GET, one active WebSocket and one probe WebSocket attached; attachments are two-way (the
 * wsi's conn points at the session and the session at the wsi) and whichever side ends first
 * detaches the other.
 *
 * Closing is two-step. gw_eio_session_close() takes the session out of the map and the timer
 * queue and tells the upper layer at once (so no new message is queued for it), then lets the
 * transports flush and say goodbye: the WebSocket writes what is queued and closes, the parked
 * GET answers with what is queued and a close packet. The memory is freed when the last
 * transport detaches (eio_session_maybe_free), never from under a callback that still uses it.
 *
 * Heartbeats: every session has one deadline in the engine's timer heap (the earliest of the
 * next ping, the pong deadline, the upgrade deadline and the upper layer's deadline), and the
 * engine arms a single lws timer at the heap's minimum. A ping is queued like any message; no
 * pong within pingTimeout closes the session.
 *
 * Outbox: a ring of message references with a byte cap. A session that would go over the cap
 * is a slow consumer and is closed, so memory stays bounded whatever a client does.
 *
 * Writes: an open WebSocket session with packets queued goes on the engine's dirty list (once,
 * however many packets); gw_eio_engine_flush(), run by the server when a loop pass is done, asks
 * lws for each one's WRITEABLE callback and has the loop serve it in that pass as writable,
 * without asking epoll, which saves two epoll_ctl calls and an epoll_wait per live write (about
 * a fifth of a live delivery's CPU, bench/README.md). A socket that cannot take the write tells
 * send(); lws keeps what the kernel refused and waits for the real POLLOUT. Polling GETs and
 * closing sessions still wait for POLLOUT: they are rare, and a close must not be hurried.
 *
 * Thread: the lws service thread only. Shutdown: gw_eio_engine_close_all() closes every
 * session with a flush; the server then waits for the transports to finish.
 */
#include <stdlib.h>
#include <string.h>

#include "eio_internal.h"
#include "gw/common.h"
#include "gw/log.h"

static void engine_arm(struct gw_eio_engine *eng);

const char *gw_eio_close_reason_str(enum gw_eio_close_reason r)
{
    switch (r) {
    case GW_EIO_CLOSE_TRANSPORT_CLOSE:
        return "transport close";
    case GW_EIO_CLOSE_TRANSPORT_ERROR:
        return "transport error";
    case GW_EIO_CLOSE_PARSE_ERROR:
        return "parse error";
    case GW_EIO_CLOSE_PING_TIMEOUT:
        return "ping timeout";
    case GW_EIO_CLOSE_CLIENT:
        return "client close";
    case GW_EIO_CLOSE_FORCED:
        return "forced close";
    case GW_EIO_CLOSE_SLOW_CONSUMER:
        return "slow consumer";
    case GW_EIO_CLOSE_SHUTDOWN:
        return "server shutting down";
    }
    return "unknown";
}

/* ---- engine ---------------------------------------------------------------------------- */

struct gw_eio_engine *gw_eio_engine_new(const struct gw_cors *cors)
{
    struct gw_eio_engine *eng = gw_calloc(1, sizeof(*eng));
    eng->cors = cors;
    gw_hmap_init(&eng->sessions);
    gw_timerq_init(&eng->timers);
    gw_list_init(&eng->reap);
    gw_list_init(&eng->dirty);
    return eng;
}

void gw_eio_engine_attach(struct gw_eio_engine *eng, struct lws_context *ctx)
{
    eng->ctx = ctx;
}

void gw_eio_engine_detach(struct gw_eio_engine *eng)
{
    if (eng->ctx && eng->sul_due)
        lws_sul_cancel(&eng->sul);
    eng->sul_due = 0;
    eng->ctx = NULL;
}

void gw_eio_engine_free(struct gw_eio_engine *eng)
{
    if (!eng)
        return;
    GW_ASSERT(!eng->ctx);
    gw_eio_engine_reap(eng);
    gw_timerq_fini(&eng->timers);
    gw_hmap_fini(&eng->sessions);
    gw_buf_free(&eng->ws_batch);
    free(eng);
}

size_t gw_eio_engine_session_count(const struct gw_eio_engine *eng)
{
    return eng->count;
}

void gw_eio_engine_drain(struct gw_eio_engine *eng)
{
    eng->draining = true;
}

bool gw_eio_engine_has_transports(const struct gw_eio_engine *eng)
{
    return eng->closing > 0;
}

void gw_eio_engine_close_all(struct gw_eio_engine *eng)
{
    /* Closing changes the map (or leaves lingering sessions in it): list the open ones first. */
    struct gw_eio_session **open = gw_malloc((eng->count + 1) * sizeof(*open));
    size_t n = 0;
    for (size_t i = 0; i < eng->sessions.nbuckets; i++) {
        for (struct gw_hmap_node *node = eng->sessions.buckets[i]; node; node = node->next) {
            struct gw_eio_session *s = GW_CONTAINER_OF(node, struct gw_eio_session, by_sid);
            if (s->state == SESSION_OPEN)
                open[n++] = s;
        }
    }
    for (size_t i = 0; i < n; i++)
        gw_eio_session_close(open[i], GW_EIO_CLOSE_SHUTDOWN, true);
    free(open);
}

static void session_on_deadline(struct gw_eio_session *s, uint64_t now);

static void engine_tick(lws_sorted_usec_list_t *sul)
{
    struct gw_eio_engine *eng = GW_CONTAINER_OF(sul, struct gw_eio_engine, sul);
    uint64_t now = gw_now_ms();
    struct gw_timer *t;
    eng->sul_due = 0;
    while ((t = gw_timerq_pop_due(&eng->timers, now)) != NULL)
        session_on_deadline(GW_CONTAINER_OF(t, struct gw_eio_session, timer), now);
    gw_eio_engine_reap(eng);
    engine_arm(eng);
}

/* Keeps the one lws timer armed at the heap's earliest deadline. */
static void engine_arm(struct gw_eio_engine *eng)
{
    struct gw_timer *first = gw_timerq_peek(&eng->timers);
    if (!first) {
        if (eng->sul_due)
            lws_sul_cancel(&eng->sul);
        eng->sul_due = 0;
        return;
    }
    if (eng->sul_due == first->due_ms || !eng->ctx)
        return;
    uint64_t now = gw_now_ms();
    uint64_t wait_ms = first->due_ms > now ? first->due_ms - now : 0;
    eng->sul_due = first->due_ms;
    lws_sul_schedule(eng->ctx, 0, &eng->sul, engine_tick, (lws_usec_t)wait_ms * LWS_US_PER_MS);
}

/* ---- session --------------------------------------------------------------------------- */

struct gw_eio_session *eio_session_new(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep,
                                       bool websocket)
{
    struct gw_eio_session *s = gw_calloc(1, sizeof(*s));
    do {
        gw_eio_new_sid(s->sid);
    } while (eio_session_find(eng, s->sid)); /* 120 random bits: a retry is only paranoia */
    s->eng = eng;
    s->ep = ep;
    s->websocket = websocket;
    s->state = SESSION_OPEN;
    gw_timer_init(&s->timer);
    gw_hmap_insert(&eng->sessions, &s->by_sid, s->sid, GW_EIO_SID_LEN);
    eng->count++;
    s->hb_due = gw_now_ms() + (uint64_t)ep->settings.ping_interval_ms;
    eio_session_reschedule(s);
    return s;
}

struct gw_eio_session *eio_session_find(struct gw_eio_engine *eng, const char *sid)
{
    struct gw_hmap_node *n = gw_hmap_find(&eng->sessions, sid, strlen(sid));
    return n ? GW_CONTAINER_OF(n, struct gw_eio_session, by_sid) : NULL;
}

void eio_session_reschedule(struct gw_eio_session *s)
{
    if (s->state != SESSION_OPEN)
        return;
    uint64_t due = s->hb_due;
    if (s->user_due && s->user_due < due)
        due = s->user_due;
    if (s->upgrade_due && s->upgrade_due < due)
        due = s->upgrade_due;
    gw_timerq_set(&s->eng->timers, &s->timer, due);
    engine_arm(s->eng);
}

/* A ping goes ahead of whatever is queued: the pong deadline starts now, and a client busy
 * reading a long backlog would otherwise only see the ping, and answer it, after the deadline.
 * Engine.IO does not order pings with messages, so nothing else changes. */
static void send_ping(struct gw_eio_session *s)
{
    gw_msgq_push_front(&s->outbox, gw_msg_ping());
    if (!s->upgrading)
        eio_session_wake(s);
}

static void session_on_deadline(struct gw_eio_session *s, uint64_t now)
{
    if (s->lingering) {
        eio_session_end_linger(s); /* no GET came for the last packets: the client is gone */
        return;
    }
    if (s->upgrade_due && now >= s->upgrade_due) {
        s->upgrade_due = 0;
        if (s->probe) {
            gw_log_debug("eio", "%s: upgrade timed out", s->sid);
            eio_ws_close_later(s->probe);
            s->upgrading = false;
        }
    }
    if (s->user_due && now >= s->user_due) {
        s->user_due = 0;
        if (s->ep->handler->on_timer)
            s->ep->handler->on_timer(s);
        if (s->state != SESSION_OPEN)
            return;
    }
    if (now >= s->hb_due) {
        if (s->awaiting_pong) {
            gw_eio_session_close(s, GW_EIO_CLOSE_PING_TIMEOUT, false);
            return;
        }
        s->awaiting_pong = true;
        s->hb_due = now + (uint64_t)s->ep->settings.ping_timeout_ms;
        send_ping(s);
    }
    eio_session_reschedule(s);
}

void eio_session_wake(struct gw_eio_session *s)
{
    if (!s->websocket) {
        if (s->get)
            lws_callback_on_writable(s->get);
    } else if (s->ws && s->state != SESSION_OPEN) {
        lws_callback_on_writable(s->ws);
    } else if (s->ws && !gw_list_linked(&s->dirty)) {
        gw_list_insert_tail(&s->eng->dirty, &s->dirty);
    }
}

int gw_eio_session_send(struct gw_eio_session *s, struct gw_msg *m)
{
    if (s->state != SESSION_OPEN)
        return -1;
    if (s->outbox.bytes + m->len > s->ep->settings.outbox_max_bytes) {
        gw_log_warn("eio", "%s: closing a slow consumer (%zu bytes queued)", s->sid,
                    s->outbox.bytes);
        gw_eio_session_close(s, GW_EIO_CLOSE_SLOW_CONSUMER, false);
        return -1;
    }
    gw_msgq_push(&s->outbox, m);
    if (!s->upgrading)
        eio_session_wake(s);
    return 0;
}

void gw_eio_session_close(struct gw_eio_session *s, enum gw_eio_close_reason why, bool flush)
{
    if (s->state != SESSION_OPEN)
        return;
    s->state = SESSION_CLOSING;
    s->close_reason = why;
    /* A polling client must see what was queued last (a DISCONNECT, say) in one response and
     * the close packet in a later one: the stock client handles a close at once but other
     * packets on the next tick, so both in one payload would lose the DISCONNECT. And a client
     * between two GETs would otherwise only get a 400. So the session stays findable until a
     * GET has carried the close packet, as with the reference server, or until it is overdue. */
    s->lingering = flush && !s->websocket;
    if (s->lingering) {
        uint64_t overdue =
            (uint64_t)s->ep->settings.ping_interval_ms + (uint64_t)s->ep->settings.ping_timeout_ms;
        gw_timerq_set(&s->eng->timers, &s->timer, gw_now_ms() + overdue);
        engine_arm(s->eng);
    } else {
        gw_hmap_remove(&s->eng->sessions, &s->by_sid);
        gw_timerq_remove(&s->eng->timers, &s->timer);
    }
    s->eng->count--;
    s->eng->closing++;
    gw_log_debug("eio", "%s: closed (%s)", s->sid, gw_eio_close_reason_str(why));
    s->ep->handler->on_close(s, why);

    if (!flush)
        gw_msgq_clear(&s->outbox);
    if (s->probe) {
        eio_ws_close_later(s->probe);
        s->probe = NULL;
    }
    s->upgrading = false;
    if (s->websocket ? s->ws != NULL : s->get != NULL)
        eio_session_wake(s);
    eio_session_maybe_free(s);
}

void eio_session_end_linger(struct gw_eio_session *s)
{
    if (!s->lingering)
        return;
    s->lingering = false;
    gw_hmap_remove(&s->eng->sessions, &s->by_sid);
    gw_timerq_remove(&s->eng->timers, &s->timer);
    eio_session_maybe_free(s);
}

void eio_session_maybe_free(struct gw_eio_session *s)
{
    if (s->state != SESSION_CLOSING || s->lingering || s->get || s->ws || s->probe ||
        gw_list_linked(&s->reap))
        return;
    gw_list_insert_tail(&s->eng->reap, &s->reap);
}

/* Each WebSocket with packets queued during this loop pass asks lws for its WRITEABLE callback
 * as usual, and the loop is told at once that the socket is writable, which it is unless lws
 * still holds part of an earlier write: lws then serves it as if epoll had said so, in this
 * pass, without the EPOLLOUT round trip (two epoll_ctl calls and an epoll_wait per write). A
 * socket whose send buffer filled meanwhile takes less than asked; lws keeps the rest and waits
 * for the real POLLOUT, as with any partial write. */
void gw_eio_engine_flush(struct gw_eio_engine *eng, void (*writable)(int fd, void *ud), void *ud)
{
    while (!gw_list_empty(&eng->dirty)) {
        struct gw_eio_session *s = GW_CONTAINER_OF(eng->dirty.next, struct gw_eio_session, dirty);
        gw_list_unlink(&s->dirty);
        struct lws *wsi = s->ws;
        if (!wsi)
            continue;
        lws_callback_on_writable(wsi);
        if (!lws_partial_buffered(wsi))
            writable(lws_get_socket_fd(wsi), ud);
    }
}

void gw_eio_engine_reap(struct gw_eio_engine *eng)
{
    struct gw_list_node *n, *tmp;
    gw_list_foreach_safe(n, tmp, &eng->reap)
    {
        struct gw_eio_session *s = GW_CONTAINER_OF(n, struct gw_eio_session, reap);
        gw_list_unlink(n);
        if (gw_list_linked(&s->dirty))
            gw_list_unlink(&s->dirty);
        eng->closing--;
        gw_msgq_clear(&s->outbox);
        free(s);
    }
}

static void on_pong(struct gw_eio_session *s)
{
    if (!s->awaiting_pong)
        return;
    s->awaiting_pong = false;
    s->hb_due = gw_now_ms() + (uint64_t)s->ep->settings.ping_interval_ms;
    eio_session_reschedule(s);
}

int eio_session_on_packet(struct gw_eio_session *s, const struct gw_eio_packet *pkt)
{
    if (s->state != SESSION_OPEN)
        return 0; /* late packets of a closing session are dropped */
    switch (pkt->type) {
    case GW_EIO_PONG:
        on_pong(s);
        return 0;
    case GW_EIO_MESSAGE:
        if (s->ep->handler->on_message(s, pkt->data, pkt->len, pkt->binary) < 0)
            break;
        return 0;
    case GW_EIO_CLOSE:
        gw_eio_session_close(s, GW_EIO_CLOSE_CLIENT, false);
        return -1;
    case GW_EIO_NOOP:
        return 0;
    case GW_EIO_OPEN:
    case GW_EIO_PING:    /* in v4 only the server pings */
    case GW_EIO_UPGRADE: /* only valid on a probe */
        break;
    }
    gw_eio_session_close(s, GW_EIO_CLOSE_PARSE_ERROR, false);
    return -1;
}

void gw_eio_session_set_timer(struct gw_eio_session *s, uint64_t due_ms)
{
    s->user_due = due_ms;
    eio_session_reschedule(s);
}

bool gw_eio_session_is_open(const struct gw_eio_session *s)
{
    return s->state == SESSION_OPEN;
}

const char *gw_eio_session_sid(const struct gw_eio_session *s)
{
    return s->sid;
}

void *gw_eio_session_endpoint_ud(const struct gw_eio_session *s)
{
    return s->ep->ud;
}

void *gw_eio_session_get_ud(const struct gw_eio_session *s)
{
    return s->ud;
}

void gw_eio_session_set_ud(struct gw_eio_session *s, void *ud)
{
    s->ud = ud;
}
