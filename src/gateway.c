/* gateway.c -- JWT-validated Socket.IO handshakes, the user registry and delivery. */
#include "gw/gateway.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/log.h"
#include "gw/registry.h"
#include "gw/sio.h"

struct gw_gateway {
    struct gw_sio_server *sio;
    struct gw_jwt_verifier *jwt;
    struct gw_registry *registry;
    struct gw_gateway_stats stats;
};

/* The app's state of one authenticated socket. */
struct member {
    struct gw_registry_link link;
    int64_t valid_until; /* wall-clock seconds at which the token stops being valid, 0 = never */
};

static bool namespace_exists(void *app, const char *nsp)
{
    return strcmp(nsp, "/") == 0;
}

static int reject(struct gw_gateway *gw, enum gw_jwt_status st, struct gw_sio_reject *rej)
{
    gw->stats.handshakes_rejected[st]++;
    rej->message = gw_jwt_strerror(st);
    rej->data = json_pack("{s:s}", "code", gw_jwt_code(st));
    return -1;
}

static int on_connect(void *app, struct gw_sio_socket *sock, const json_t *auth,
                      struct gw_sio_reject *rej)
{
    struct gw_gateway *gw = app;
    const struct gw_eio_request *req = gw_sio_socket_request(sock);
    const json_t *tok = json_object_get(auth, "token");
    struct gw_jwt_sources src = {0};
    if (json_is_string(tok)) {
        src.auth_token = json_string_value(tok);
        src.auth_token_len = json_string_length(tok);
    }
    if (req->authorization) {
        src.authorization = req->authorization;
        src.authorization_len = strlen(req->authorization);
    }
    if (req->query_token) {
        src.query_token = req->query_token;
        src.query_token_len = strlen(req->query_token);
    }
    size_t len;
    const char *token = gw_jwt_pick_token(&src, &len);
    struct gw_jwt_claims claims;
    enum gw_jwt_status st =
        gw_jwt_verify(gw->jwt, token, len, (int64_t)(gw_wall_ms() / 1000), &claims);
    if (st != GW_JWT_OK) {
        gw_log_debug("gateway", "handshake rejected: %s", gw_jwt_code(st));
        return reject(gw, st, rej);
    }
    struct member *m = gw_calloc(1, sizeof(*m));
    m->valid_until = claims.valid_until;
    gw_sio_socket_set_ud(sock, m);
    gw->stats.handshakes_ok++;
    gw_registry_add(gw->registry, &m->link, claims.user_id, claims.user_id_len, sock);
    return 0;
}

static void on_connected(void *app, struct gw_sio_socket *sock, const json_t *auth)
{
    struct member *m = gw_sio_socket_get_ud(sock);
    if (!m->valid_until)
        return;
    int64_t left_ms = m->valid_until * 1000 - (int64_t)gw_wall_ms();
    gw_sio_socket_set_deadline(sock, gw_now_ms() + (uint64_t)(left_ms > 0 ? left_ms : 0));
}

static void on_deadline(void *app, struct gw_sio_socket *sock)
{
    struct gw_gateway *gw = app;
    gw->stats.expired++;
    gw_log_debug("gateway", "socket %s: token expired, closing its connection",
                 gw_sio_socket_id(sock));
    gw_sio_socket_close_transport(sock);
}

static void on_event(void *app, struct gw_sio_socket *sock, const struct gw_sio_packet *p,
                     const struct gw_sio_attachment *att)
{
    /* Notifications flow one way; client events have no meaning yet and are ignored. */
}

static void on_disconnect(void *app, struct gw_sio_socket *sock, const char *reason)
{
    struct gw_gateway *gw = app;
    struct member *m = gw_sio_socket_get_ud(sock);
    if (!m)
        return;
    gw_registry_remove(gw->registry, &m->link);
    free(m);
    gw_sio_socket_set_ud(sock, NULL);
}

static void evict(void *owner, void *ud)
{
    struct gw_gateway *gw = ud;
    gw->stats.evicted++;
    gw_log_debug("gateway", "socket %s: over the per-user socket cap, disconnecting the oldest",
                 gw_sio_socket_id(owner));
    /* A Socket.IO DISCONNECT, not a transport close: the client must not come back and evict
     * the next oldest tab in turn. */
    gw_sio_socket_disconnect(owner);
}

static const struct gw_sio_app gateway_app = {
    .namespace_exists = namespace_exists,
    .on_connect = on_connect,
    .on_connected = on_connected,
    .on_event = on_event,
    .on_disconnect = on_disconnect,
    .on_deadline = on_deadline,
};

struct gw_gateway *gw_gateway_new(const struct gw_config *cfg, const struct gw_eio_settings *eio,
                                  char *err)
{
    struct gw_gateway *gw = gw_calloc(1, sizeof(*gw));
    struct gw_jwt_options jo = {
        .secret = cfg->jwt_secret,
        .secret_len = cfg->jwt_secret_len,
        .public_key_file = cfg->jwt_public_key_file,
        .algorithms = cfg->jwt_algorithms,
        .issuer = cfg->jwt_issuer,
        .audience = cfg->jwt_audience,
        .user_claim = cfg->jwt_user_claim,
        .leeway_s = cfg->jwt_leeway_s,
    };
    gw->jwt = gw_jwt_verifier_new(&jo, err);
    if (!gw->jwt)
        goto fail;
    gw->registry = gw_registry_new(cfg->max_sockets_per_user, evict, gw);
    struct gw_sio_options so = {
        .app = &gateway_app,
        .app_ud = gw,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .max_json_depth = cfg->json_max_depth,
        .events_per_s = cfg->client_events_per_s,
    };
    gw->sio = gw_sio_server_new(&so, cfg->socketio_path, eio);
    return gw;
fail:
    gw_gateway_free(gw);
    return NULL;
}

void gw_gateway_free(struct gw_gateway *gw)
{
    if (!gw)
        return;
    gw_sio_server_free(gw->sio);
    if (gw->registry && gw_registry_socket_count(gw->registry) == 0)
        gw_registry_free(gw->registry); /* sockets still open at exit die with the process */
    gw_jwt_verifier_free(gw->jwt);
    free(gw);
}

const struct gw_eio_endpoint *gw_gateway_endpoint(struct gw_gateway *gw)
{
    return gw_sio_server_endpoint(gw->sio);
}

struct gw_msg *gw_gateway_encode_event(const char *event, const char *json, size_t len)
{
    json_t *name = json_string(event);
    char *quoted = json_dumps(name, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(name);
    GW_ASSERT(quoted);
    size_t qlen = strlen(quoted);
    /* "42[" + name + "," + json + "]" */
    struct gw_msg *m = gw_msg_new(3 + qlen + 1 + len + 1, false);
    char *p = gw_msg_payload(m);
    memcpy(p, "42[", 3);
    memcpy(p + 3, quoted, qlen);
    p[3 + qlen] = ',';
    memcpy(p + 4 + qlen, json, len);
    p[4 + qlen + len] = ']';
    free(quoted);
    return m;
}

struct deliver_ctx {
    struct gw_msg *msg;
    size_t queued;
};

static void deliver_one(void *owner, void *ud)
{
    struct deliver_ctx *d = ud;
    if (gw_sio_socket_send_msg(owner, d->msg) == 0)
        d->queued++;
}

size_t gw_gateway_deliver(struct gw_gateway *gw, const char *user, size_t len, struct gw_msg *msg)
{
    struct deliver_ctx d = {msg, 0};
    gw_registry_foreach(gw->registry, user, len, deliver_one, &d);
    return d.queued;
}

size_t gw_gateway_socket_count(const struct gw_gateway *gw)
{
    return gw_registry_socket_count(gw->registry);
}

size_t gw_gateway_user_count(const struct gw_gateway *gw)
{
    return gw_registry_user_count(gw->registry);
}

const struct gw_gateway_stats *gw_gateway_stats(const struct gw_gateway *gw)
{
    return &gw->stats;
}
