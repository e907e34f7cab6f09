/* gateway.h -- the product's Socket.IO app: JWT handshakes, the user registry, delivery.
 *
 * A client joins namespace "/" with a JWT (auth.token, else an Authorization: Bearer header on
 * the handshake request, else a token query parameter). A valid token registers the socket
 * under the token's user; any failure is a CONNECT_ERROR whose data.code names the reason
 * (TOKEN_MISSING, TOKEN_EXPIRED, ...). When the token expires the Engine.IO connection is
 * closed, so the stock client reconnects and asks its auth callback for a fresh token.
 *
 * Thread safety: the loop thread only.
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "gw/config.h"
#include "gw/eio.h"
#include "gw/jwt.h"
#include "gw/msg.h"
#include "gw/store.h"

struct gw_gateway;
struct member;

/* How the gateway reaches a receiver that is not a Socket.IO socket (an SSE stream). */
struct gw_member_ops {
    /* Queue msg, an encoded 42["<event>",<json>[,"<offset>"]] (borrowed; take a reference to
     * keep it). Returns 0, or -1 when the stream is closing. */
    int (*send)(void *stream, struct gw_msg *msg);
    /* Close the stream (the per-user cap evicted it, or it fell too far behind); the owner
     * calls gw_gateway_detach() once it is gone. */
    void (*close)(void *stream);
};

/* Counters the health and metrics endpoints report. */
struct gw_gateway_stats {
    uint64_t handshakes_ok;
    uint64_t handshakes_rejected[GW_JWT_USER_CLAIM_MISSING + 1]; /* by enum gw_jwt_status */
    uint64_t evicted;                   /* sockets closed by the per-user cap */
    uint64_t expired;                   /* connections closed when their token expired */
    uint64_t replayed;                  /* notifications sent by catch-up */
    uint64_t replay_duplicates_skipped; /* live copies of replayed notifications not sent */
    uint64_t client_events_dropped;     /* over CLIENT_EVENTS_PER_SECOND */
};

/* Builds the app from the configuration: the JWT verifier (key files are read here), the
 * registry and the Socket.IO layer on cfg->socketio_path. NULL with one sentence in err. */
struct gw_gateway *gw_gateway_new(const struct gw_config *cfg, const struct gw_eio_settings *eio,
                                  char *err);
void gw_gateway_free(struct gw_gateway *gw);
/* The Engine.IO endpoint to give the server (borrowed). */
const struct gw_eio_endpoint *gw_gateway_endpoint(struct gw_gateway *gw);

/* Encodes ["<event>",<json>] as the Engine.IO message 42[...] (a new reference), once for every
 * socket it will go to, or ["<event>",<json>,"<offset>"] when offset (a notification id, plain
 * ASCII) is not NULL: the trailing string is the connection-state-recovery offset the stock
 * client records by itself. json is a complete JSON value (borrowed). Any thread. */
struct gw_msg *gw_gateway_encode_event(const char *event, const char *json, size_t len,
                                       const char *offset);

/* Gives the gateway its store (borrowed, outlives the gateway's sockets): from then on every
 * connect catches up and notification:read works. Without one, neither happens. */
void gw_gateway_set_store(struct gw_gateway *gw, struct gw_store *store);
/* Hands completed store requests to their members (after the store's wake). */
void gw_gateway_drain_store(struct gw_gateway *gw);

/* Queues msg (borrowed; each receiver takes its own reference) on every receiver of
 * user[0..len). id is the notification's ObjectId hex for an insert (checked against what a
 * catch-up just replayed), else NULL. Returns how many receivers took it (a receiver still
 * catching up holds it and counts); 0 means the user has none online. */
size_t gw_gateway_deliver(struct gw_gateway *gw, const char *user, size_t len, const char *id,
                          struct gw_msg *msg);

/* Picks the token from src (borrowed) like a Socket.IO handshake does, verifies it and counts
 * the result in the handshake statistics. */
enum gw_jwt_status gw_gateway_authenticate(struct gw_gateway *gw, const struct gw_jwt_sources *src,
                                           struct gw_jwt_claims *claims);

/* Registers a non-Socket.IO receiver (ops and stream borrowed until detached) for user[0..len)
 * and, with a store, starts its catch-up after `after` (a notification id, NULL for none; an
 * id that is not 24 hex digits makes the sync event say resyncRequired). The caller enforces
 * the token's expiry. Returns the member. */
struct member *gw_gateway_attach(struct gw_gateway *gw, const char *user, size_t len,
                                 const char *after, const struct gw_member_ops *ops, void *stream);
/* Unregisters and frees a member from gw_gateway_attach(). */
void gw_gateway_detach(struct member *m);

size_t gw_gateway_socket_count(const struct gw_gateway *gw);
size_t gw_gateway_user_count(const struct gw_gateway *gw);
/* The counters, refreshed from the Socket.IO layer (borrowed until the next call). */
const struct gw_gateway_stats *gw_gateway_stats(struct gw_gateway *gw);

#endif
