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

struct gw_gateway;

/* Counters the health and metrics endpoints report. */
struct gw_gateway_stats {
    uint64_t handshakes_ok;
    uint64_t handshakes_rejected[GW_JWT_USER_CLAIM_MISSING + 1]; /* by enum gw_jwt_status */
    uint64_t evicted; /* sockets closed by the per-user cap */
    uint64_t expired; /* connections closed when their token expired */
};

/* Builds the app from the configuration: the JWT verifier (key files are read here), the
 * registry and the Socket.IO layer on cfg->socketio_path. NULL with one sentence in err. */
struct gw_gateway *gw_gateway_new(const struct gw_config *cfg, const struct gw_eio_settings *eio,
                                  char *err);
void gw_gateway_free(struct gw_gateway *gw);
/* The Engine.IO endpoint to give the server (borrowed). */
const struct gw_eio_endpoint *gw_gateway_endpoint(struct gw_gateway *gw);

/* Encodes ["<event>",<json>] as the Engine.IO message 42[...] (a new reference), once for every
 * socket it will go to. json is a complete JSON value (borrowed). Any thread. */
struct gw_msg *gw_gateway_encode_event(const char *event, const char *json, size_t len);

/* Queues msg (borrowed; each socket takes its own reference) on every socket of user[0..len).
 * Returns how many sockets it was queued on; 0 means the user has none online. */
size_t gw_gateway_deliver(struct gw_gateway *gw, const char *user, size_t len, struct gw_msg *msg);

size_t gw_gateway_socket_count(const struct gw_gateway *gw);
size_t gw_gateway_user_count(const struct gw_gateway *gw);
const struct gw_gateway_stats *gw_gateway_stats(const struct gw_gateway *gw);

#endif
