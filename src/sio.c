/* sio.c -- Socket.IO v5 clients and namespace sockets on top of Engine.IO sessions.
 *
 * DESIGN
 *
 * One client per Engine.IO session, created on open and freed on close; one socket per joined
 * namespace, in a short list on the client. A client must CONNECT within the connect timeout or
 * its connection is closed. Packets are decoded (and binary ones reassembled) here, and every
 * decision is the app's: whether a namespace exists, whether a CONNECT is accepted, what an
 * event means. Protocol violations close the whole connection, like the reference server.
 *
 * The app may close the connection from any callback; on_close then frees the client at once.
 * So after every app callback this file checks the Engine.IO session (which stays allocated
 * until the end of the lws callback) before touching the client again.
 *
 * Thread: the loop thread.
 */
#include "gw/sio.h"

#include <stdlib.h>
#include <string.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "gw/log.h"

#define NSP_MAX 256

struct gw_sio_server {
    struct gw_sio_options opt;
    struct gw_eio_endpoint ep;
    char *path;
    struct gw_sio_limits limits;
    uint64_t events_dropped;
};

/* A token bucket in thousandths of an event, so integer arithmetic refills it smoothly. */
struct rate {
    int64_t milli;      /* tokens available, x1000 */
    uint64_t last_ms;   /* last refill */
    uint64_t window_ms; /* start of the current one-second window of drops */
    int dropped;        /* events dropped in that window */
};

struct sio_client {
    struct gw_sio_server *srv;
    struct gw_eio_session *eio;
    struct gw_sio_socket *sockets;
    struct gw_sio_reasm reasm;
    struct gw_eio_request req; /* owned copies until the first successful CONNECT */
    bool connected_once;
    struct gw_sio_socket *deadline_owner; /* the socket whose app deadline is armed */
    struct rate rate;
};

struct gw_sio_socket {
    struct sio_client *client;
    struct gw_sio_socket *next;
    char *nsp;
    char id[GW_SIO_SID_LEN + 1];
    void *ud;
    bool joined; /* the CONNECT reply went out; false while the app defers its answer */
};

/* ---- sending --------------------------------------------------------------------------- */

static void send_text(struct sio_client *c, const struct gw_buf *b)
{
    struct gw_msg *m = gw_msg_new_text('4', b->data, b->len);
    gw_eio_session_send(c->eio, m);
    gw_msg_unref(m);
}

static void send_attachments(struct sio_client *c, const struct gw_sio_attachment *att, int n)
{
    for (int i = 0; i < n; i++) {
        struct gw_msg *m = gw_msg_new(att[i].len, true);
        if (att[i].len)
            memcpy(gw_msg_payload(m), att[i].data, att[i].len);
        gw_eio_session_send(c->eio, m);
        gw_msg_unref(m);
    }
}

static const char *nsp_arg(const char *nsp)
{
    return strcmp(nsp, "/") == 0 ? NULL : nsp;
}

int gw_sio_socket_send_msg(struct gw_sio_socket *sock, struct gw_msg *m)
{
    return gw_eio_session_send(sock->client->eio, m);
}

void gw_sio_socket_emit(struct gw_sio_socket *sock, const char *args_json, size_t len)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_sio_encode_text(&b, GW_SIO_EVENT, nsp_arg(sock->nsp), GW_SIO_NO_ID, args_json, len);
    send_text(sock->client, &b);
    gw_buf_free(&b);
}

static void send_binary(struct gw_sio_socket *sock, enum gw_sio_type type, int64_t id,
                        const char *args_json, size_t len, const struct gw_sio_attachment *att,
                        int n_att)
{
    struct gw_buf b = GW_BUF_INIT;
    struct gw_sio_packet p = {
        .type = type,
        .attachments = n_att,
        .nsp = sock->nsp,
        .nsp_len = strlen(sock->nsp),
        .id = id,
        .json = args_json,
        .json_len = len,
    };
    char err[GW_ERR_LEN];
    if (gw_sio_encode(&b, &p, err) < 0) {
        gw_log_error("sio", "cannot encode a binary packet: %s", err);
    } else {
        /* Header and attachments are queued back to back, so nothing can come between. */
        send_text(sock->client, &b);
        send_attachments(sock->client, att, n_att);
    }
    gw_buf_free(&b);
}

void gw_sio_socket_emit_binary(struct gw_sio_socket *sock, const char *args_json, size_t len,
                               const struct gw_sio_attachment *att, int n_att)
{
    send_binary(sock, GW_SIO_BINARY_EVENT, GW_SIO_NO_ID, args_json, len, att, n_att);
}

void gw_sio_socket_ack(struct gw_sio_socket *sock, int64_t id, const char *args_json, size_t len,
                       const struct gw_sio_attachment *att, int n_att)
{
    if (n_att > 0) {
        send_binary(sock, GW_SIO_BINARY_ACK, id, args_json, len, att, n_att);
        return;
    }
    struct gw_buf b = GW_BUF_INIT;
    gw_sio_encode_text(&b, GW_SIO_ACK, nsp_arg(sock->nsp), id, args_json, len);
    send_text(sock->client, &b);
    gw_buf_free(&b);
}

static void send_connect_error(struct sio_client *c, const char *nsp, const char *message,
                               const json_t *data)
{
    struct gw_buf b = GW_BUF_INIT;
    char err[GW_ERR_LEN];
    if (gw_sio_encode_connect_error(&b, nsp_arg(nsp), message, data, err) < 0)
        gw_log_error("sio", "cannot encode CONNECT_ERROR: %s", err);
    else
        send_text(c, &b);
    gw_buf_free(&b);
}

/* ---- sockets --------------------------------------------------------------------------- */

static struct gw_sio_socket *find_socket(struct sio_client *c, const char *nsp)
{
    for (struct gw_sio_socket *s = c->sockets; s; s = s->next) {
        if (strcmp(s->nsp, nsp) == 0)
            return s;
    }
    return NULL;
}

static void unlink_socket(struct sio_client *c, struct gw_sio_socket *sock)
{
    struct gw_sio_socket **pp = &c->sockets;
    while (*pp != sock)
        pp = &(*pp)->next;
    *pp = sock->next;
    if (c->deadline_owner == sock) {
        c->deadline_owner = NULL;
        gw_eio_session_set_timer(c->eio, 0);
    }
}

static void free_socket(struct gw_sio_socket *sock)
{
    free(sock->nsp);
    free(sock);
}

static void forget_request(struct sio_client *c)
{
    free((char *)c->req.authorization);
    free((char *)c->req.query_token);
    c->req.authorization = c->req.query_token = NULL;
}

static void accept_socket(struct gw_sio_socket *sock, const char *pid, const json_t *auth);

/* A CONNECT: accept, refuse, or (a second CONNECT to the same namespace) break the protocol. */
static int on_connect_packet(struct sio_client *c, const char *nsp, const json_t *auth)
{
    const struct gw_sio_app *app = c->srv->opt.app;
    void *ud = c->srv->opt.app_ud;
    struct gw_eio_session *eio = c->eio;

    if (find_socket(c, nsp))
        return -1;
    if (!app->namespace_exists(ud, nsp)) {
        send_connect_error(c, nsp, "Invalid namespace", NULL);
        return 0;
    }
    struct gw_sio_socket *sock = gw_calloc(1, sizeof(*sock));
    sock->client = c;
    sock->nsp = gw_strdup(nsp);
    gw_sio_generate_sid(sock->id);

    /* Linked before the app decides, so it may accept from inside on_connect and a close
     * from inside reaches the app through on_disconnect like any other. */
    sock->next = c->sockets;
    c->sockets = sock;
    struct gw_sio_reject rej = {"Not authorized", NULL};
    int verdict = app->on_connect(ud, sock, auth, &rej);
    if (!gw_eio_session_is_open(eio)) {
        /* on_close freed the client and its sockets, this one included */
        json_decref(rej.data);
        return 0;
    }
    if (verdict < 0) {
        unlink_socket(c, sock);
        free_socket(sock);
        send_connect_error(c, nsp, rej.message, rej.data);
        json_decref(rej.data);
        return 0;
    }
    if (verdict == 0)
        accept_socket(sock, NULL, auth);
    return 0;
}

void gw_sio_socket_accept(struct gw_sio_socket *sock, const char *pid)
{
    accept_socket(sock, pid, NULL);
}

static void accept_socket(struct gw_sio_socket *sock, const char *pid, const json_t *auth)
{
    struct sio_client *c = sock->client;
    if (sock->joined)
        return;
    sock->joined = true;
    if (!c->connected_once) {
        c->connected_once = true;
        forget_request(c);
        if (!c->deadline_owner)
            gw_eio_session_set_timer(c->eio, 0); /* the connect timeout is met */
    }
    struct gw_buf b = GW_BUF_INIT;
    gw_sio_encode_connect(&b, nsp_arg(sock->nsp), sock->id, pid);
    send_text(c, &b);
    gw_buf_free(&b);
    if (c->srv->opt.app->on_connected)
        c->srv->opt.app->on_connected(c->srv->opt.app_ud, sock, auth);
}

void gw_sio_socket_refuse(struct gw_sio_socket *sock, const char *message, const json_t *data)
{
    struct sio_client *c = sock->client;
    GW_ASSERT(!sock->joined);
    send_connect_error(c, sock->nsp, message, data);
    unlink_socket(c, sock);
    c->srv->opt.app->on_disconnect(c->srv->opt.app_ud, sock, "refused");
    free_socket(sock);
}

/* True when the client may send one more event now. Notifications flow one way: a client that
 * floods events must not take the loop from the deliveries of everyone else. */
static bool rate_allows(struct sio_client *c)
{
    int64_t per_s = c->srv->opt.events_per_s;
    if (per_s <= 0)
        return true;
    struct rate *r = &c->rate;
    uint64_t now = gw_now_ms();
    r->milli += (int64_t)(now - r->last_ms) * per_s;
    if (r->milli > per_s * 1000)
        r->milli = per_s * 1000;
    r->last_ms = now;
    if (r->milli >= 1000) {
        r->milli -= 1000;
        return true;
    }
    if (now - r->window_ms >= 1000) {
        r->window_ms = now;
        r->dropped = 0;
    }
    r->dropped++;
    return false;
}

/* An event over the rate: answered if it asked for an ack, and the connection is closed once it
 * keeps flooding. */
static void drop_event(struct sio_client *c, struct gw_sio_socket *sock,
                       const struct gw_sio_packet *p)
{
    static const char limited[] = "[{\"error\":\"RATE_LIMITED\"}]";
    c->srv->events_dropped++;
    if (c->rate.dropped > 2 * c->srv->opt.events_per_s) {
        gw_log_info("sio", "%s: closed, more than %d events a second", gw_eio_session_sid(c->eio),
                    3 * c->srv->opt.events_per_s);
        gw_eio_session_close(c->eio, GW_EIO_CLOSE_FORCED, false);
        return;
    }
    if (p->id != GW_SIO_NO_ID)
        gw_sio_socket_ack(sock, p->id, limited, sizeof(limited) - 1, NULL, 0);
}

/* Handles one complete packet. Returns -1 when the connection must close. */
static int dispatch(struct sio_client *c, const struct gw_sio_packet *p,
                    const struct gw_sio_attachment *att)
{
    const struct gw_sio_app *app = c->srv->opt.app;
    char nsp[NSP_MAX];
    struct gw_sio_socket *sock;

    if (p->nsp_len >= sizeof(nsp))
        return -1;
    memcpy(nsp, p->nsp, p->nsp_len);
    nsp[p->nsp_len] = '\0';

    switch (p->type) {
    case GW_SIO_CONNECT:
        return on_connect_packet(c, nsp, p->data);
    case GW_SIO_DISCONNECT:
        sock = find_socket(c, nsp);
        if (sock) {
            unlink_socket(c, sock);
            app->on_disconnect(c->srv->opt.app_ud, sock, "client namespace disconnect");
            free_socket(sock);
        }
        return 0;
    case GW_SIO_EVENT:
    case GW_SIO_BINARY_EVENT:
        sock = find_socket(c, nsp);
        if (!sock || !sock->joined)
            return -1;
        if (rate_allows(c))
            app->on_event(c->srv->opt.app_ud, sock, p, att);
        else
            drop_event(c, sock, p);
        return 0;
    case GW_SIO_ACK:
    case GW_SIO_BINARY_ACK:
        /* The server asks for no acks yet: an ack from a joined namespace is harmless. */
        return find_socket(c, nsp) ? 0 : -1;
    case GW_SIO_CONNECT_ERROR:
        return -1; /* only servers send it */
    }
    return -1;
}

/* ---- Engine.IO handler ----------------------------------------------------------------- */

static void on_open(struct gw_eio_session *s, const struct gw_eio_request *req)
{
    struct gw_sio_server *srv = gw_eio_session_endpoint_ud(s);
    struct sio_client *c = gw_calloc(1, sizeof(*c));
    c->srv = srv;
    c->eio = s;
    gw_sio_reasm_init(&c->reasm);
    c->req.authorization = req->authorization ? gw_strdup(req->authorization) : NULL;
    c->req.query_token = req->query_token ? gw_strdup(req->query_token) : NULL;
    gw_eio_session_set_ud(s, c);
    c->rate.last_ms = c->rate.window_ms = gw_now_ms();
    c->rate.milli = (int64_t)srv->opt.events_per_s * 1000;
    gw_eio_session_set_timer(s, gw_now_ms() + (uint64_t)srv->opt.connect_timeout_ms);
}

static int on_message(struct gw_eio_session *s, const char *data, size_t len, bool binary)
{
    struct sio_client *c = gw_eio_session_get_ud(s);
    int rc = 0;
    bool complete = false;
    if (binary) {
        struct gw_sio_assembled a = {0};
        enum gw_sio_status st = gw_sio_reasm_binary(&c->reasm, data, len, &a, &complete);
        if (st != GW_SIO_OK) {
            gw_log_debug("sio", "%s: %s", gw_eio_session_sid(s), gw_sio_strerror(st));
            return -1;
        }
        if (complete)
            rc = dispatch(c, &a.packet, a.att);
        gw_sio_assembled_clear(&a);
        return rc;
    }
    struct gw_sio_packet p = {0};
    enum gw_sio_status st = gw_sio_reasm_text(&c->reasm, data, len, &c->srv->limits, &p, &complete);
    if (st != GW_SIO_OK) {
        gw_log_debug("sio", "%s: %s", gw_eio_session_sid(s), gw_sio_strerror(st));
        return -1;
    }
    if (complete)
        rc = dispatch(c, &p, NULL);
    gw_sio_packet_clear(&p);
    return rc;
}

static const char *disconnect_reason(enum gw_eio_close_reason why)
{
    switch (why) {
    case GW_EIO_CLOSE_TRANSPORT_CLOSE:
    case GW_EIO_CLOSE_CLIENT:
        return "transport close";
    case GW_EIO_CLOSE_TRANSPORT_ERROR:
        return "transport error";
    case GW_EIO_CLOSE_PARSE_ERROR:
        return "parse error";
    case GW_EIO_CLOSE_PING_TIMEOUT:
        return "ping timeout";
    case GW_EIO_CLOSE_FORCED:
    case GW_EIO_CLOSE_SLOW_CONSUMER:
        return "forced close";
    case GW_EIO_CLOSE_SHUTDOWN:
        return "server shutting down";
    }
    return "transport close";
}

static void on_close(struct gw_eio_session *s, enum gw_eio_close_reason why)
{
    struct sio_client *c = gw_eio_session_get_ud(s);
    if (!c)
        return;
    gw_eio_session_set_ud(s, NULL);
    while (c->sockets) {
        struct gw_sio_socket *sock = c->sockets;
        c->sockets = sock->next;
        c->srv->opt.app->on_disconnect(c->srv->opt.app_ud, sock, disconnect_reason(why));
        free_socket(sock);
    }
    gw_sio_reasm_reset(&c->reasm);
    forget_request(c);
    free(c);
}

static void on_timer(struct gw_eio_session *s)
{
    struct sio_client *c = gw_eio_session_get_ud(s);
    if (!c->connected_once) {
        gw_log_debug("sio", "%s: no CONNECT within the connect timeout", gw_eio_session_sid(s));
        gw_eio_session_close(s, GW_EIO_CLOSE_FORCED, false);
        return;
    }
    struct gw_sio_socket *owner = c->deadline_owner;
    c->deadline_owner = NULL;
    if (owner && c->srv->opt.app->on_deadline)
        c->srv->opt.app->on_deadline(c->srv->opt.app_ud, owner);
}

static const struct gw_eio_handler sio_handler = {
    .on_open = on_open,
    .on_message = on_message,
    .on_close = on_close,
    .on_timer = on_timer,
};

/* ---- server and accessors -------------------------------------------------------------- */

struct gw_sio_server *gw_sio_server_new(const struct gw_sio_options *opt, const char *path,
                                        const struct gw_eio_settings *settings)
{
    struct gw_sio_server *srv = gw_calloc(1, sizeof(*srv));
    srv->opt = *opt;
    srv->path = gw_strdup(path);
    gw_sio_limits_default(&srv->limits);
    if (opt->max_json_depth > 0)
        srv->limits.max_depth = opt->max_json_depth;
    srv->ep.path = srv->path;
    srv->ep.handler = &sio_handler;
    srv->ep.settings = *settings;
    srv->ep.ud = srv;
    return srv;
}

void gw_sio_server_free(struct gw_sio_server *srv)
{
    if (!srv)
        return;
    free(srv->path);
    free(srv);
}

uint64_t gw_sio_server_events_dropped(const struct gw_sio_server *srv)
{
    return srv->events_dropped;
}

const struct gw_eio_endpoint *gw_sio_server_endpoint(struct gw_sio_server *srv)
{
    return &srv->ep;
}

void gw_sio_socket_close_transport(struct gw_sio_socket *sock)
{
    gw_eio_session_close(sock->client->eio, GW_EIO_CLOSE_FORCED, true);
}

void gw_sio_socket_disconnect(struct gw_sio_socket *sock)
{
    struct sio_client *c = sock->client;
    struct gw_buf b = GW_BUF_INIT;
    gw_sio_encode_text(&b, GW_SIO_DISCONNECT, nsp_arg(sock->nsp), GW_SIO_NO_ID, NULL, 0);
    send_text(c, &b);
    gw_buf_free(&b);
    unlink_socket(c, sock);
    c->srv->opt.app->on_disconnect(c->srv->opt.app_ud, sock, "server namespace disconnect");
    free_socket(sock);
    if (!c->sockets && gw_eio_session_is_open(c->eio))
        gw_eio_session_close(c->eio, GW_EIO_CLOSE_FORCED, true);
}

void gw_sio_socket_set_deadline(struct gw_sio_socket *sock, uint64_t due_ms)
{
    struct sio_client *c = sock->client;
    if (!c->connected_once)
        return; /* the connect timeout owns the timer until the first CONNECT */
    c->deadline_owner = due_ms ? sock : NULL;
    gw_eio_session_set_timer(c->eio, due_ms);
}

const char *gw_sio_socket_nsp(const struct gw_sio_socket *sock)
{
    return sock->nsp;
}

const char *gw_sio_socket_id(const struct gw_sio_socket *sock)
{
    return sock->id;
}

const struct gw_eio_request *gw_sio_socket_request(const struct gw_sio_socket *sock)
{
    return &sock->client->req;
}

void *gw_sio_socket_get_ud(const struct gw_sio_socket *sock)
{
    return sock->ud;
}

void gw_sio_socket_set_ud(struct gw_sio_socket *sock, void *ud)
{
    sock->ud = ud;
}
