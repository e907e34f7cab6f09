/* eio.h -- Engine.IO v4 sessions over HTTP long-polling and WebSocket.
 *
 * An endpoint is a path (e.g. "/socket.io/") with a handler: the upper layer (Socket.IO, or the
 * raw echo of the protocol fixture) sees sessions open, receive messages and close, and sends
 * encoded messages with gw_eio_session_send(). Transports, upgrade, heartbeats, payload limits
 * and the outbox are this module's business; the upper layer never sees a transport.
 *
 * Thread safety: everything here runs on the lws service (loop) thread.
 */
#ifndef GW_EIO_H
#define GW_EIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/cors.h"
#include "gw/msg.h"

struct lws_context;
struct gw_eio_engine;
struct gw_eio_session;

struct gw_eio_settings {
    int ping_interval_ms;
    int ping_timeout_ms;
    size_t max_payload;      /* largest polling POST body and largest WebSocket message */
    size_t outbox_max_bytes; /* a session whose unsent bytes would exceed this is closed */
    int upgrade_timeout_ms;  /* a probe WebSocket not upgraded by then is dropped */
};

enum gw_eio_close_reason {
    GW_EIO_CLOSE_TRANSPORT_CLOSE, /* the client went away (WebSocket closed, GET aborted) */
    GW_EIO_CLOSE_TRANSPORT_ERROR, /* the client broke the transport rules (duplicate GET) */
    GW_EIO_CLOSE_PARSE_ERROR,     /* a malformed packet */
    GW_EIO_CLOSE_PING_TIMEOUT,
    GW_EIO_CLOSE_CLIENT,        /* the client sent a close packet */
    GW_EIO_CLOSE_FORCED,        /* the server decided (upper layer) */
    GW_EIO_CLOSE_SLOW_CONSUMER, /* the outbox went over outbox_max_bytes */
    GW_EIO_CLOSE_SHUTDOWN,
};

const char *gw_eio_close_reason_str(enum gw_eio_close_reason r);

/* What the handshake request said that an upper layer may need later (borrowed for the
 * on_open call only: copy what you keep). */
struct gw_eio_request {
    const char *authorization; /* Authorization header, or NULL */
    const char *query_token;   /* ?token= (URL-decoded), or NULL */
};

struct gw_eio_handler {
    /* A session was opened by a handshake. */
    void (*on_open)(struct gw_eio_session *s, const struct gw_eio_request *req);
    /* A message packet arrived (data borrowed for the call). Return -1 to close the session as a
     * parse error. */
    int (*on_message)(struct gw_eio_session *s, const char *data, size_t len, bool binary);
    /* The session closed, whatever the path; called exactly once. The session may still flush
     * its outbox afterwards, but the upper layer must forget it now. */
    void (*on_close)(struct gw_eio_session *s, enum gw_eio_close_reason why);
    /* The deadline set with gw_eio_session_set_timer() passed. May be NULL. */
    void (*on_timer)(struct gw_eio_session *s);
};

struct gw_eio_endpoint {
    const char *path; /* matched exactly, with and without the trailing '/' */
    const struct gw_eio_handler *handler;
    struct gw_eio_settings settings;
    void *ud; /* the upper layer's context, see gw_eio_session_endpoint_ud() */
};

/* Creates the engine of an lws context. cors is borrowed for the engine's lifetime. */
struct gw_eio_engine *gw_eio_engine_new(const struct gw_cors *cors);
/* Binds the engine to its context (once, after lws_create_context). */
void gw_eio_engine_attach(struct gw_eio_engine *eng, struct lws_context *ctx);
/* Cancels the engine's lws timer; call before the context is destroyed. */
void gw_eio_engine_detach(struct gw_eio_engine *eng);
/* Frees the engine; it must be detached. Sessions still open are leaked to the OS at exit. */
void gw_eio_engine_free(struct gw_eio_engine *eng);
/* Frees the sessions that closed and lost their last transport. The server calls it after
 * every lws callback, so a session pointer stays valid for a whole callback whatever closes. */
void gw_eio_engine_reap(struct gw_eio_engine *eng);
/* Asks for the WRITEABLE callbacks of the WebSocket sessions that queued packets since the last
 * call, and passes writable() each socket that lws holds nothing for, so the caller can have its
 * loop serve it at once (libev's ev_feed_fd_event()). The server calls it once per loop pass,
 * before the loop waits. */
void gw_eio_engine_flush(struct gw_eio_engine *eng, void (*writable)(int fd, void *ud), void *ud);
/* From now on, refuses new sessions (503) but keeps serving existing ones, so each can still
 * receive its last packets and its close. */
void gw_eio_engine_drain(struct gw_eio_engine *eng);
/* Closes every session (reason SHUTDOWN, outboxes flushed first). */
void gw_eio_engine_close_all(struct gw_eio_engine *eng);
size_t gw_eio_engine_session_count(const struct gw_eio_engine *eng);
/* True while closed sessions still have a transport finishing (flushing, saying goodbye). */
bool gw_eio_engine_has_transports(const struct gw_eio_engine *eng);

/* Queues a message on the session (takes a new reference on m; the caller keeps its own).
 * Returns 0, or -1 when the session is closing or this message would put it over its outbox
 * limit, in which case the session is closed as a slow consumer. */
int gw_eio_session_send(struct gw_eio_session *s, struct gw_msg *m);
/* Closes the session; flush sends what is queued first. */
void gw_eio_session_close(struct gw_eio_session *s, enum gw_eio_close_reason why, bool flush);
/* Arms (due_ms > 0, gw_now_ms clock) or disarms (0) the session's upper-layer deadline. */
void gw_eio_session_set_timer(struct gw_eio_session *s, uint64_t due_ms);

/* False once the session is closing: after calling into code that may close it, check this
 * before touching state of your own that on_close frees. */
bool gw_eio_session_is_open(const struct gw_eio_session *s);
const char *gw_eio_session_sid(const struct gw_eio_session *s);
void *gw_eio_session_endpoint_ud(const struct gw_eio_session *s);
/* The upper layer's per-session pointer (NULL until set). */
void *gw_eio_session_get_ud(const struct gw_eio_session *s);
void gw_eio_session_set_ud(struct gw_eio_session *s, void *ud);

#endif
