/* eio_internal.h -- what the Engine.IO session core and its two transports share.
 *
 * Not a public header: only eio_session.c, eio_polling.c, eio_websocket.c and server.c (which
 * dispatches lws callbacks to the transports) include it.
 */
#ifndef GW_EIO_INTERNAL_H
#define GW_EIO_INTERNAL_H

#include <libwebsockets.h>

#include "gw/buf.h"
#include "gw/chunked.h"
#include "gw/cors.h"
#include "gw/eio.h"
#include "gw/eio_codec.h"
#include "gw/hmap.h"
#include "gw/list.h"
#include "gw/msgq.h"
#include "gw/ratelimit.h"
#include "gw/timerq.h"

_Static_assert(GW_MSG_HEADROOM >= LWS_PRE, "messages need LWS_PRE bytes of headroom");

enum session_state {
    SESSION_OPEN,
    SESSION_CLOSING, /* closed for the upper layer; flushing, then freed once detached */
};

struct gw_eio_session {
    char sid[GW_EIO_SID_LEN + 1];
    struct gw_hmap_node by_sid;
    struct gw_list_node reap;  /* on eng->reap once closed and detached */
    struct gw_list_node dirty; /* on eng->dirty while its WebSocket has a write to make */
    struct gw_timer timer;     /* earliest of hb_due, user_due, upgrade_due */
    struct gw_eio_engine *eng;
    const struct gw_eio_endpoint *ep;
    void *ud;

    enum session_state state;
    enum gw_eio_close_reason close_reason;
    bool websocket; /* the active transport is the WebSocket */
    bool upgrading; /* the probe said 2probe; polling GETs get noops until 5 */
    bool awaiting_pong;
    bool lingering; /* closed polling session kept in the map until its next GET */

    /* Transport attachments. A wsi's conn points back here; whichever side goes first
     * detaches the other, so neither ever holds a dangling pointer. */
    struct lws *get;   /* the parked long-polling GET */
    struct lws *ws;    /* the active WebSocket */
    struct lws *probe; /* a WebSocket being upgraded to */

    uint64_t hb_due;      /* next ping, or the pong deadline when awaiting_pong */
    uint64_t user_due;    /* upper layer's deadline, 0 = none */
    uint64_t upgrade_due; /* probe deadline, 0 = none */

    struct gw_msgq outbox;
};

struct gw_eio_engine {
    struct lws_context *ctx;
    const struct gw_cors *cors;
    struct gw_hmap sessions;
    struct gw_timerq timers;
    lws_sorted_usec_list_t sul;
    uint64_t sul_due;          /* when the sul fires, 0 = not armed */
    size_t count;              /* open sessions */
    size_t closing;            /* closed sessions whose transports are still finishing */
    bool draining;             /* shutting down: no new sessions */
    struct gw_list_node reap;  /* closed, detached sessions, freed by gw_eio_engine_reap() */
    struct gw_list_node dirty; /* open WebSocket sessions with packets to write, in wake order */

    /* Admission of new sessions, set up by the server (see eio_admit). */
    struct gw_ratelimit *handshake_rate; /* per client address; NULL = no limit; server's */
    const size_t *connections;           /* the server's open connection count, or NULL */
    size_t session_conn_limit;           /* new sessions refused above this many connections */
    int body_timeout_ms;                 /* a POST body must be in this long after its headers */
    uint64_t refused_full, rate_limited, body_timeouts;

    struct gw_buf ws_batch; /* scratch for eio_ws_writeable's joined frames, kept between writes */
};

enum eio_admission {
    EIO_ADMIT,
    EIO_REFUSE_FULL, /* too many connections: 503 */
    EIO_REFUSE_RATE, /* too many handshakes from this address: 429 */
};

struct gw_http_route;

enum conn_role { CONN_NONE, CONN_POLL_GET, CONN_POLL_POST, CONN_WS, CONN_STREAM };

/* Per-wsi state (the lws per-session data of our one protocol). For HTTP it lives for one
 * transaction only: lws frees and zeroes it between keep-alive requests. */
struct gw_conn {
    struct gw_eio_session *session; /* NULL when detached */
    const struct gw_eio_endpoint *ep;
    struct gw_buf in; /* POST body, or a WebSocket message being reassembled */
    struct gw_chunked dechunk;
    size_t in_total;                   /* POST: decoded body bytes so far, kept or not */
    const struct gw_http_route *route; /* CONN_STREAM: the streaming route and its stream */
    void *stream;
    char sid[GW_EIO_SID_LEN + 1]; /* POST: the session the body is for */
    /* The small fields last, so the struct packs into the allocator's 128-byte class: lws
     * keeps one per connection. */
    uint8_t role; /* enum conn_role */
    bool in_too_large;
    bool chunked;     /* POST: Transfer-Encoding: chunked, decoded by dechunk */
    bool probe_reply; /* WebSocket probe: "3probe" is due */
    bool close_now;   /* WebSocket: close at the next WRITEABLE */
    bool close_armed; /* WebSocket: the close frame goes out from the wsi timer */
    bool body_timer;  /* POST: the wsi timer is the body deadline */
};

/* eio_session.c */
struct gw_eio_session *eio_session_new(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep,
                                       bool websocket);
/* Returns the session with that sid, open or lingering (closed, waiting for a GET to hand its
 * last packets to): check s->state. */
struct gw_eio_session *eio_session_find(struct gw_eio_engine *eng, const char *sid);
/* Ends the linger of a closed polling session once its last GET was answered. */
void eio_session_end_linger(struct gw_eio_session *s);
/* Handles one decoded packet that arrived on the active transport. Returns -1 when the session
 * was closed because of it. */
int eio_session_on_packet(struct gw_eio_session *s, const struct gw_eio_packet *pkt);
/* Once the session is closing and no transport is attached, queues it to be freed by the next
 * gw_eio_engine_reap(), so the pointer stays valid until the current callback returns. */
void eio_session_maybe_free(struct gw_eio_session *s);
void eio_session_reschedule(struct gw_eio_session *s);
/* Asks the active transport to write (a message was queued, or the session is closing). */
void eio_session_wake(struct gw_eio_session *s);

/* eio_polling.c: lws HTTP callbacks on an Engine.IO path. Each returns what the lws callback
 * must return. */
int eio_poll_request(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep, struct lws *wsi,
                     struct gw_conn *c);
int eio_poll_body(struct gw_eio_engine *eng, struct lws *wsi, struct gw_conn *c, const void *in,
                  size_t len);
int eio_poll_body_done(struct gw_eio_engine *eng, struct lws *wsi, struct gw_conn *c);
int eio_poll_writeable(struct lws *wsi, struct gw_conn *c);
void eio_poll_detach(struct lws *wsi, struct gw_conn *c);

/* eio_websocket.c: lws WebSocket callbacks on an Engine.IO path. */
int eio_ws_confirm(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep, struct lws *wsi);
int eio_ws_established(struct gw_eio_engine *eng, const struct gw_eio_endpoint *ep, struct lws *wsi,
                       struct gw_conn *c);
int eio_ws_receive(struct lws *wsi, struct gw_conn *c, const void *in, size_t len);
int eio_ws_writeable(struct lws *wsi, struct gw_conn *c);
void eio_ws_closed(struct lws *wsi, struct gw_conn *c);
/* LWS_CALLBACK_TIMER: armed only to close politely. */
int eio_ws_timer(struct lws *wsi, struct gw_conn *c);
/* Makes a WebSocket close itself at its next WRITEABLE and detaches it from its session. */
void eio_ws_close_later(struct lws *wsi);

/* Decides whether the request on wsi may open a new session (connection cap, handshake rate
 * of its address); on a refusal *retry_after_s says when to come back. Counts refusals. */
enum eio_admission eio_admit(struct gw_eio_engine *eng, struct lws *wsi, unsigned *retry_after_s);
/* Writes the response of a refusal (429 or 503, Engine.IO error JSON, Retry-After). Returns 0,
 * or -1 when the connection must be closed. */
int eio_respond_refusal(struct gw_eio_engine *eng, struct lws *wsi, enum eio_admission a,
                        unsigned retry_after_s);
/* LWS_CALLBACK_TIMER on a POST: its body is overdue. Returns what the callback must return. */
int eio_poll_timer(struct gw_eio_engine *eng, struct lws *wsi, struct gw_conn *c);

/* Reads an Engine.IO request's query into q. */
void eio_read_query(struct lws *wsi, struct gw_eio_query *q);
/* Calls the endpoint's on_open with what the handshake request carried. */
void eio_open_session(struct gw_eio_session *s, struct lws *wsi);

#endif
