/* sio.h -- Socket.IO v5 server on an Engine.IO endpoint.
 *
 * The layer turns Engine.IO sessions into Socket.IO clients and their namespace sockets, and
 * leaves every decision to an app: which namespaces exist, who may connect (auth), what events
 * mean. The product's app checks a JWT and registers the socket for delivery; the protocol
 * fixture's app echoes. A client that breaks the protocol (bad packet, event for a namespace it
 * did not join, no CONNECT within the connect timeout) loses its whole connection, as with the
 * reference server.
 *
 * Thread safety: the loop thread only.
 */
#ifndef GW_SIO_H
#define GW_SIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/eio.h"
#include "gw/sio_codec.h"

struct gw_sio_server;
struct gw_sio_socket;

/* An app's answer to a CONNECT it refuses: CONNECT_ERROR {message, data}. */
struct gw_sio_reject {
    const char *message; /* static or owned by the app until the call returns */
    json_t *data;        /* new reference handed to the layer, or NULL */
};

struct gw_sio_app {
    /* Does namespace nsp (NUL-terminated) exist? */
    bool (*namespace_exists)(void *app, const char *nsp);
    /* A CONNECT to an existing namespace. auth is the CONNECT payload (borrowed, NULL when
     * absent). Return 0 to accept, -1 to refuse (fill *rej), or 1 to answer later with
     * gw_sio_socket_accept() or gw_sio_socket_refuse(): the socket then exists (a second
     * CONNECT to the namespace is a protocol violation, on_disconnect is called if the
     * connection closes first, the connect timeout keeps running) but may not send events. */
    int (*on_connect)(void *app, struct gw_sio_socket *sock, const json_t *auth,
                      struct gw_sio_reject *rej);
    /* After the CONNECT reply went out; auth as in on_connect when accepted at once, NULL
     * after gw_sio_socket_accept(). May be NULL. */
    void (*on_connected)(void *app, struct gw_sio_socket *sock, const json_t *auth);
    /* An EVENT or BINARY_EVENT (with its attachments, else att == NULL). p is borrowed. */
    void (*on_event)(void *app, struct gw_sio_socket *sock, const struct gw_sio_packet *p,
                     const struct gw_sio_attachment *att);
    /* The socket left (client DISCONNECT, connection closed, server close). The app must
     * forget it now. */
    void (*on_disconnect)(void *app, struct gw_sio_socket *sock, const char *reason);
    /* The deadline the app set with gw_sio_socket_set_deadline() passed. May be NULL. */
    void (*on_deadline)(void *app, struct gw_sio_socket *sock);
};

struct gw_sio_options {
    const struct gw_sio_app *app;
    void *app_ud;
    int connect_timeout_ms;
    int max_json_depth; /* nesting accepted in a packet's JSON; 0 = the codec's default */
    /* Events a connection may send per second (burst: one second's worth); 0 = no limit. Events
     * over the rate are dropped (one with an ack id is answered [{"error":"RATE_LIMITED"}]), and
     * a connection that has more than twice the rate dropped within a second is closed. */
    int events_per_s;
};

/* Creates the layer. Fill the endpoint returned by gw_sio_server_endpoint() into the server's
 * endpoint table. */
struct gw_sio_server *gw_sio_server_new(const struct gw_sio_options *opt, const char *path,
                                        const struct gw_eio_settings *settings);
void gw_sio_server_free(struct gw_sio_server *srv);
/* Events dropped by the rate limit since the server was created. */
uint64_t gw_sio_server_events_dropped(const struct gw_sio_server *srv);
/* The Engine.IO endpoint of this layer (borrowed, lives as long as the server). */
const struct gw_eio_endpoint *gw_sio_server_endpoint(struct gw_sio_server *srv);

/* Answers a CONNECT that on_connect deferred: sends the CONNECT reply, with the recovery
 * private id pid (borrowed) when not NULL, then calls on_connected. A no-op when the socket
 * already joined. */
void gw_sio_socket_accept(struct gw_sio_socket *sock, const char *pid);
/* Refuses a deferred CONNECT with CONNECT_ERROR {message, data} (both borrowed), calls
 * on_disconnect with "refused" and frees the socket. The connection stays open. */
void gw_sio_socket_refuse(struct gw_sio_socket *sock, const char *message, const json_t *data);
/* Emits an event on a socket: args_json is the JSON array text ["event",...] (borrowed). */
void gw_sio_socket_emit(struct gw_sio_socket *sock, const char *args_json, size_t len);
/* Sends an encoded Engine.IO message as is (a "42[...]" built once for many sockets). Takes a
 * new reference. Returns 0, or -1 when the connection is closing or over its outbox limit. */
int gw_sio_socket_send_msg(struct gw_sio_socket *sock, struct gw_msg *m);
/* Answers an ack id with the JSON array text args_json; with n_att attachments (borrowed)
 * the answer is a BINARY_ACK. */
void gw_sio_socket_ack(struct gw_sio_socket *sock, int64_t id, const char *args_json, size_t len,
                       const struct gw_sio_attachment *att, int n_att);
/* Emits a BINARY_EVENT: args_json holds the placeholders, att the attachments (borrowed). */
void gw_sio_socket_emit_binary(struct gw_sio_socket *sock, const char *args_json, size_t len,
                               const struct gw_sio_attachment *att, int n_att);
/* Closes the whole Engine.IO connection the socket lives on. The stock client reconnects by
 * itself (unlike after a Socket.IO DISCONNECT, which it takes as final). */
void gw_sio_socket_close_transport(struct gw_sio_socket *sock);
/* Disconnects the socket from its namespace for good: sends DISCONNECT (the stock client then
 * reports "io server disconnect" and does not reconnect), tells the app (on_disconnect with
 * "server namespace disconnect") and frees the socket; the connection closes after a flush
 * when it has no other socket. sock is invalid afterwards. */
void gw_sio_socket_disconnect(struct gw_sio_socket *sock);
/* Arms (due_ms > 0, gw_now_ms clock) or disarms (0) an app deadline for the socket's
 * connection; on_deadline is called when it passes. */
void gw_sio_socket_set_deadline(struct gw_sio_socket *sock, uint64_t due_ms);

const char *gw_sio_socket_nsp(const struct gw_sio_socket *sock);
const char *gw_sio_socket_id(const struct gw_sio_socket *sock);
/* The handshake request's token sources (borrowed; valid until the connection's first
 * successful CONNECT, after which they are freed: read them in on_connect). */
const struct gw_eio_request *gw_sio_socket_request(const struct gw_sio_socket *sock);
void *gw_sio_socket_get_ud(const struct gw_sio_socket *sock);
void gw_sio_socket_set_ud(struct gw_sio_socket *sock, void *ud);

#endif
