/* server.h -- the libwebsockets context: one port for HTTP and WebSocket, on libev.
 *
 * The server owns the lws context, the Engine.IO engine and its endpoints, and a small table of
 * plain HTTP routes (health, metrics). It is the only module that knows lws callback reasons;
 * it dispatches them to the Engine.IO transports and the routes.
 *
 * Shutdown is graceful: gw_server_stop() (or SIGINT/SIGTERM) stops accepting, closes every
 * session after flushing what is queued, waits briefly for the transports to say goodbye, and
 * makes gw_server_run() return.
 *
 * Thread safety: everything runs on the thread that calls gw_server_run() (the loop thread),
 * except gw_server_wake(), which any thread may call.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

#include "gw/buf.h"
#include "gw/cors.h"
#include "gw/eio.h"

struct lws;
struct gw_server;

/* A plain HTTP GET route. handle writes the response with gw_http_respond() and returns 0, or
 * -1 to close the connection.
 *
 * A streaming route (handle NULL) keeps the response open: open() either answers at once
 * (gw_http_respond) and returns NULL, or returns the route's stream; then writeable() is called
 * on LWS_CALLBACK_HTTP_WRITEABLE (one lws_write; -1 closes), timer() when the wsi timer set with
 * lws_set_timer_usecs() fires, and closed() exactly once when the connection goes. */
struct gw_http_route {
    const char *path;
    int (*handle)(struct lws *wsi, void *ud);
    void *ud;
    void *(*open)(struct lws *wsi, void *ud);
    int (*writeable)(struct lws *wsi, void *stream);
    int (*timer)(struct lws *wsi, void *stream);
    void (*closed)(void *stream);
};

struct gw_server_options {
    const char *name; /* printed in "NAME listening on URL" */
    const char *host;
    int port;                  /* 0 = any free port */
    const char *tls_cert_file; /* both set: HTTPS/WSS */
    const char *tls_key_file;
    const struct gw_cors *cors;
    const struct gw_eio_endpoint *endpoints; /* borrowed for the server's lifetime */
    size_t n_endpoints;
    const struct gw_http_route *routes; /* borrowed for the server's lifetime */
    size_t n_routes;
    /* Called on the loop thread after gw_server_wake() (and spuriously): drain mailboxes. */
    void (*on_wake)(void *ud);
    /* Called on the loop thread when shutdown begins, before sessions are closed. */
    void (*on_stop)(void *ud);
    /* Polled (loop thread) after on_stop: sessions are closed once it returns true, or after
     * a grace period. Lets producers flush into the sockets first. May be NULL. */
    bool (*ready_to_close)(void *ud);
    void *ud;

    /* Limits. max_connections caps open TCP connections of every kind, counted from accept:
     * at the cap a new connection is closed at once, and new Engine.IO sessions are refused
     * (503) a little earlier, so the last tenth (at most 64) of the slots stays for health
     * checks and the requests of existing polling sessions. 0 = the open-file soft limit
     * minus 64. */
    size_t max_connections;
    /* New Engine.IO sessions (handshake GET, or WebSocket opened without sid) per second per
     * client address (IPv4, or IPv6 /64), bursts of twice that; over it: 429 with Retry-After.
     * 0 = no limit. */
    unsigned handshake_rate_per_ip;
    /* A request's headers must be complete this long after its first byte, and a POST body
     * this long after its headers; the connection is closed otherwise (slowloris). Headers are
     * timed by lws in whole seconds (rounded up); bodies to the millisecond. 0 = 10000. */
    int header_timeout_ms;
    int body_timeout_ms;
};

/* Counters of the limits, for /metrics. */
struct gw_server_stats {
    size_t connections;             /* open TCP connections now */
    size_t max_connections;         /* the cap in effect */
    uint64_t connections_refused;   /* closed at accept: the cap was reached */
    uint64_t sessions_refused_full; /* handshakes answered 503: near the cap */
    uint64_t sessions_rate_limited; /* handshakes answered 429 */
    uint64_t body_timeouts;         /* POSTs closed: the body was not in time */
};

/* Creates the context and starts listening. Returns NULL with one sentence in err on failure
 * (port in use, unreadable certificate, ...). */
struct gw_server *gw_server_new(const struct gw_server_options *opt, char *err);
/* Prints the listening line and serves until shutdown completes. Returns 0. */
int gw_server_run(struct gw_server *srv);
/* Begins a graceful shutdown (loop thread). */
void gw_server_stop(struct gw_server *srv);
/* Wakes the loop thread; safe from any thread (lws_cancel_service). */
void gw_server_wake(struct gw_server *srv);
void gw_server_free(struct gw_server *srv);

int gw_server_port(const struct gw_server *srv);
/* Fills st with the limits' counters (loop thread). */
void gw_server_stats(const struct gw_server *srv, struct gw_server_stats *st);
/* Appends the limits' counters to b in the Prometheus text format (loop thread). */
void gw_server_metrics(const struct gw_server *srv, struct gw_buf *b);
struct gw_eio_engine *gw_server_engine(struct gw_server *srv);

#endif
