/* server.h -- the libwebsockets context: one port for HTTP and WebSocket, on libuv.
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

#include "gw/cors.h"
#include "gw/eio.h"

struct lws;
struct gw_server;

/* A plain HTTP GET route. handle writes the response with gw_http_respond() and returns 0, or
 * -1 to close the connection. */
struct gw_http_route {
    const char *path;
    int (*handle)(struct lws *wsi, void *ud);
    void *ud;
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
struct gw_eio_engine *gw_server_engine(struct gw_server *srv);

#endif
