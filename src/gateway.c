/* gateway.c -- JWT-validated Socket.IO handshakes, the user registry, catch-up and delivery.
 *
 * DESIGN
 *
 * A member is one authenticated receiver: a Socket.IO socket (or, through the SSE module, an
 * event stream) registered under its user. Live notifications reach members through the
 * registry; catch-up fills the gap a reconnecting client left, and the seam between the two
 * has neither a gap nor a duplicate:
 *   - the member is registered before its catch-up read is submitted, so any notification
 *     committed after the read's snapshot reaches it live;
 *   - until the read answers, live messages wait in the member's pending queue (catch-up goes
 *     first, in _id order, then the `sync` event, then the pending ones);
 *   - ids replayed by catch-up are remembered for a minute and live copies of them skipped:
 *     the change stream may still bring a notification the read already returned.
 * A client that asks for recovery (a CSR pid and offset, or auth.lastNotificationId) gets its
 * CONNECT reply only when the read answered, so the stock client's socket.recovered is true
 * exactly when the replay is complete (the pid it sent is echoed); otherwise a new pid.
 *
 * Thread: the loop thread. Store requests in flight belong to the store; a member that leaves
 * marks its own as cancelled and the drain frees them.
 */
#include "gw/gateway.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gw/base64.h"
#include "gw/common.h"
#include "gw/log.h"
#include "gw/notice.h"
#include "gw/registry.h"
#include "gw/sio.h"

#define PID_LEN 16
#define PENDING_MAX 65536  /* live messages held for one member during its catch-up */
#define SEEN_KEEP_MS 60000 /* how long replayed ids are checked against live delivery */
#define ZERO_OID "000000000000000000000000"

struct gw_gateway {
    const struct gw_config *cfg;
    struct gw_sio_server *sio;
    struct gw_jwt_verifier *jwt;
    struct gw_registry *registry;
    struct gw_store *store; /* NULL: no catch-up, no read marks */
    char *read_event;       /* "<event>:read" */
    char *read_all_event;   /* "<event>:read_all" */
    struct gw_gateway_stats stats;
};

struct pending {
    struct gw_msg *msg;
    char id[GW_STORE_OID_LEN + 1]; /* "" for updates and deletes */
};

/* A member's catch-up: allocated when it connects, freed once the replay is done and its ids
 * need no more checking, so an idle member carries none of it. */
struct catchup {
    bool waiting;                 /* the read is in flight: live messages go to pending */
    bool deferred;                /* the CONNECT reply waits for the read */
    bool bad_offset;              /* the client sent an offset we cannot resume from */
    char client_pid[PID_LEN + 1]; /* the pid the client sent, "" none */
    struct pending *pending;
    size_t n_pending, cap_pending;
    char (*seen)[GW_STORE_OID_LEN + 1]; /* replayed ids, sorted */
    size_t n_seen;
    uint64_t seen_until_ms;
};

/* The app's state of one authenticated receiver. */
struct member {
    struct gw_registry_link link;
    struct gw_gateway *gw;
    const struct gw_member_ops *ops; /* NULL for a Socket.IO socket, else the SSE stream's */
    union {
        struct gw_sio_socket *sock; /* ops == NULL */
        void *stream;
    };
    int64_t valid_until; /* wall-clock seconds at which the token stops being valid, 0 = never */
    struct gw_store_req *reqs; /* in flight, linked through owner_next */
    struct catchup *cu;        /* NULL when no catch-up state is needed */
    bool pinned;               /* finish_catchup is sending: a close only marks it dead */
    bool dead;
};

static bool namespace_exists(void *app, const char *nsp)
{
    return strcmp(nsp, "/") == 0;
}

static int reject(enum gw_jwt_status st, struct gw_sio_reject *rej)
{
    rej->message = gw_jwt_strerror(st);
    rej->data = json_pack("{s:s}", "code", gw_jwt_code(st));
    return -1;
}

/* ---- sending to a member ------------------------------------------------------------- */

static int member_send(struct member *m, struct gw_msg *msg)
{
    if (!m->ops)
        return gw_sio_socket_send_msg(m->sock, msg);
    return m->ops->send(m->stream, msg);
}

static void member_close(struct member *m)
{
    if (!m->ops)
        gw_sio_socket_close_transport(m->sock);
    else
        m->ops->close(m->stream);
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, GW_STORE_OID_LEN);
}

static void catchup_free(struct member *m)
{
    struct catchup *cu = m->cu;
    if (!cu)
        return;
    for (size_t i = 0; i < cu->n_pending; i++)
        gw_msg_unref(cu->pending[i].msg);
    free(cu->pending);
    free(cu->seen);
    free(cu);
    m->cu = NULL;
}

/* True when the live copy of a replayed notification must be skipped. */
static bool already_replayed(struct member *m, const char *id)
{
    if (!m->cu || !id || !id[0])
        return false;
    if (gw_now_ms() > m->cu->seen_until_ms) {
        catchup_free(m);
        return false;
    }
    return bsearch(id, m->cu->seen, m->cu->n_seen, sizeof(*m->cu->seen), cmp_id) != NULL;
}

static void hold(struct member *m, struct gw_msg *msg, const char *id)
{
    if (m->cu->n_pending == PENDING_MAX) {
        /* The store is far behind: let the client reconnect and catch up from its offset. */
        member_close(m);
        return;
    }
    if (m->cu->n_pending == m->cu->cap_pending) {
        m->cu->cap_pending = m->cu->cap_pending ? m->cu->cap_pending * 2 : 16;
        m->cu->pending = gw_realloc(m->cu->pending, m->cu->cap_pending * sizeof(*m->cu->pending));
    }
    struct pending *p = &m->cu->pending[m->cu->n_pending++];
    p->msg = gw_msg_ref(msg);
    snprintf(p->id, sizeof(p->id), "%s", id ? id : "");
}

/* Live delivery to one member: held during its catch-up, skipped when catch-up sent it. */
static int deliver_live(struct member *m, struct gw_msg *msg, const char *id)
{
    if (m->cu && m->cu->waiting) {
        hold(m, msg, id);
        return 0;
    }
    if (already_replayed(m, id)) {
        m->gw->stats.replay_duplicates_skipped++;
        return 0;
    }
    return member_send(m, msg);
}

/* ---- catch-up -------------------------------------------------------------------------- */

static void track(struct member *m, struct gw_store_req *r)
{
    r->owner = m;
    r->owner_next = m->reqs;
    m->reqs = r;
}

static void untrack(struct member *m, struct gw_store_req *r)
{
    struct gw_store_req **pp = &m->reqs;
    while (*pp && *pp != r)
        pp = &(*pp)->owner_next;
    if (*pp)
        *pp = r->owner_next;
}

/* The offset a client sent, if it is one we can resume from: the larger of a valid
 * auth.lastNotificationId and a valid CSR offset. */
static void pick_after(struct member *m, const json_t *auth, char out[GW_STORE_OID_LEN + 1])
{
    static const char *const keys[] = {"lastNotificationId", "offset"};
    out[0] = '\0';
    for (size_t i = 0; i < GW_ARRAY_SIZE(keys); i++) {
        const json_t *v = json_object_get(auth, keys[i]);
        if (!v || json_is_null(v))
            continue;
        const char *s = json_string_value(v);
        if (!s || !gw_store_oid_valid(s, json_string_length(v))) {
            m->cu->bad_offset = true;
            continue;
        }
        char low[GW_STORE_OID_LEN + 1];
        for (size_t k = 0; k <= GW_STORE_OID_LEN; k++)
            low[k] = (char)(s[k] >= 'A' && s[k] <= 'F' ? s[k] - 'A' + 'a' : s[k]);
        if (strcmp(low, out) > 0)
            memcpy(out, low, sizeof(low));
    }
}

static void remember_replayed(struct member *m, const struct gw_store_req *r)
{
    if (!r->n_items)
        return;
    m->cu->seen = gw_realloc(m->cu->seen, r->n_items * sizeof(*m->cu->seen));
    for (size_t i = 0; i < r->n_items; i++)
        memcpy(m->cu->seen[i], r->items[i].id, sizeof(*m->cu->seen));
    m->cu->n_seen = r->n_items;
    qsort(m->cu->seen, m->cu->n_seen, sizeof(*m->cu->seen), cmp_id);
    m->cu->seen_until_ms = gw_now_ms() + SEEN_KEEP_MS;
}

static struct gw_msg *encode_replayed(const struct gw_gateway *gw, const struct gw_store_item *it)
{
    return gw_gateway_encode_event(gw->cfg->notification_event, it->json, it->json_len, it->id);
}

/* sync: {offset, unreadCount, resyncRequired[, error]} with the offset repeated as the last
 * argument, so the stock client records it even before its first notification. */
static struct gw_msg *encode_sync(const struct gw_store_req *r, const char *offset, bool resync)
{
    json_t *o = json_object();
    json_object_set_new(o, "offset", offset ? json_string(offset) : json_null());
    json_object_set_new(o, "unreadCount",
                        r && r->status == 0 ? json_integer(r->unread) : json_null());
    json_object_set_new(o, "resyncRequired", json_boolean(resync));
    if (r && r->status < 0)
        json_object_set_new(o, "error", json_string(r->err));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    struct gw_msg *msg = gw_gateway_encode_event("sync", text, strlen(text), offset);
    free(text);
    return msg;
}

static const char *sync_offset(const struct gw_store_req *r)
{
    if (r->status < 0)
        return r->after[0] ? r->after : NULL;
    if (r->n_items)
        return r->items[r->n_items - 1].id;
    if (r->after[0])
        return r->after;
    return r->newest[0] ? r->newest : ZERO_OID;
}

static void member_free(struct member *m);

/* Sends one message of the catch-up; false once the member is gone (a send may close a slow
 * consumer, and the close frees what the socket's owner held). */
static bool send_pinned(struct member *m, struct gw_msg *msg)
{
    member_send(m, msg);
    gw_msg_unref(msg);
    return !m->dead;
}

/* The read answered (or could not be asked): CONNECT reply if deferred, replay, sync, then
 * what arrived live meanwhile. Exactly one of r and failed is set; both are borrowed. */
static void finish_catchup(struct member *m, struct gw_store_req *r, struct gw_store_req *failed)
{
    struct gw_gateway *gw = m->gw;
    struct catchup *cu = m->cu;
    const struct gw_store_req *res = r ? r : failed;
    bool complete = res->status == 0 && !res->truncated && !cu->bad_offset;
    cu->waiting = false;
    m->pinned = true;
    if (cu->deferred) {
        char pid[PID_LEN + 1];
        cu->deferred = false;
        if (complete && cu->client_pid[0])
            memcpy(pid, cu->client_pid, sizeof(pid));
        else
            gw_random_id(pid, PID_LEN);
        gw_sio_socket_accept(m->sock, pid);
        if (m->dead)
            goto out;
    }
    for (size_t i = 0; i < res->n_items; i++) {
        if (!send_pinned(m, encode_replayed(gw, &res->items[i])))
            goto out;
    }
    gw->stats.replayed += res->n_items;
    remember_replayed(m, res);
    if (!send_pinned(m, encode_sync(res, sync_offset(res), !complete)))
        goto out;
    struct pending *held = cu->pending;
    size_t n = cu->n_pending;
    cu->pending = NULL;
    cu->n_pending = cu->cap_pending = 0;
    if (!cu->n_seen)
        catchup_free(m); /* nothing to check live copies against */
    for (size_t i = 0; i < n; i++) {
        if (!m->dead)
            deliver_live(m, held[i].msg, held[i].id);
        gw_msg_unref(held[i].msg);
    }
    free(held);
out:
    m->pinned = false;
    if (m->dead)
        member_free(m);
}

static void start_catchup(struct gw_gateway *gw, struct member *m, const char *user, size_t len,
                          const char *after)
{
    struct gw_store_req *r = gw_store_req_new(GW_STORE_CATCHUP, user, len);
    memcpy(r->after, after, sizeof(r->after));
    m->cu->waiting = true;
    if (gw_store_submit(gw->store, r) == 0) {
        track(m, r);
        return;
    }
    r->status = -1;
    gw_set_error(r->err, "the gateway is too busy to catch up now; reconnect later");
    finish_catchup(m, NULL, r);
    gw_store_req_free(r);
}

/* ---- read marks ------------------------------------------------------------------------ */

static void ack_json(struct gw_sio_socket *sock, int64_t ack, json_t *answer)
{
    json_t *args = json_pack("[o]", answer);
    char *text = json_dumps(args, JSON_COMPACT);
    gw_sio_socket_ack(sock, ack, text, strlen(text), NULL, 0);
    free(text);
    json_decref(args);
}

static void ack_error(struct gw_sio_socket *sock, int64_t ack, const char *code, const char *msg)
{
    if (ack != GW_SIO_NO_ID)
        ack_json(sock, ack, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

static void mark_read(struct gw_gateway *gw, struct gw_sio_socket *sock, const json_t *data,
                      int64_t ack, bool all)
{
    struct member *m = gw_sio_socket_get_ud(sock);
    const json_t *arg = json_array_get(data, 1);
    const json_t *id = json_is_object(arg)   ? json_object_get(arg, "id")
                       : json_is_string(arg) ? arg
                                             : NULL;
    if (!all && (!json_is_string(id) ||
                 !gw_store_oid_valid(json_string_value(id), json_string_length(id)))) {
        ack_error(sock, ack, "INVALID_ID",
                  "Send {id} with the notification's _id as 24 hex digits.");
        return;
    }
    if (!gw->store) {
        ack_error(sock, ack, "UNAVAILABLE", "Read marks need ENABLE_CHANGE_STREAMS.");
        return;
    }
    size_t ulen;
    const char *user = gw_registry_link_user(&m->link, &ulen);
    if (!user)
        return;
    struct gw_store_req *r =
        gw_store_req_new(all ? GW_STORE_MARK_ALL_READ : GW_STORE_MARK_READ, user, ulen);
    if (!all)
        memcpy(r->id, json_string_value(id), GW_STORE_OID_LEN);
    r->ack_id = ack;
    if (gw_store_submit(gw->store, r) < 0) {
        gw_store_req_free(r);
        ack_error(sock, ack, "BUSY", "The gateway is too busy; try again.");
        return;
    }
    track(m, r);
}

static void finish_mark(struct member *m, struct gw_store_req *r)
{
    if (m->ops || r->ack_id == GW_SIO_NO_ID)
        return;
    if (r->status < 0)
        ack_error(m->sock, r->ack_id, "STORE_UNAVAILABLE", r->err);
    else if (r->op == GW_STORE_MARK_ALL_READ)
        ack_json(m->sock, r->ack_id,
                 json_pack("{s:b,s:I}", "ok", 1, "count", (json_int_t)r->modified));
    else if (!r->matched)
        ack_error(m->sock, r->ack_id, "NOT_FOUND", "No notification with this id is yours.");
    else
        ack_json(m->sock, r->ack_id, json_pack("{s:b,s:s}", "ok", 1, "id", r->id));
}

static void store_done(struct gw_store_req *r, void *ud)
{
    if (!r->cancelled) {
        struct member *m = r->owner;
        untrack(m, r);
        if (r->op == GW_STORE_CATCHUP)
            finish_catchup(m, r, NULL);
        else
            finish_mark(m, r);
    }
    gw_store_req_free(r);
}

void gw_gateway_drain_store(struct gw_gateway *gw)
{
    if (gw->store)
        gw_store_drain(gw->store, store_done, gw);
}

/* ---- members --------------------------------------------------------------------------- */

static struct member *member_new(struct gw_gateway *gw, int64_t valid_until)
{
    struct member *m = gw_calloc(1, sizeof(*m));
    m->gw = gw;
    m->valid_until = valid_until;
    return m;
}

static void member_free(struct member *m)
{
    if (m->pinned) {
        m->dead = true;
        return;
    }
    for (struct gw_store_req *r = m->reqs; r; r = r->owner_next)
        r->cancelled = true;
    catchup_free(m);
    gw_registry_remove(m->gw->registry, &m->link);
    free(m);
}

/* ---- the Socket.IO app ----------------------------------------------------------------- */

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
    struct gw_jwt_claims claims;
    enum gw_jwt_status st = gw_gateway_authenticate(gw, &src, &claims);
    if (st != GW_JWT_OK) {
        gw_log_debug("gateway", "handshake rejected: %s", gw_jwt_code(st));
        return reject(st, rej);
    }
    struct member *m = member_new(gw, claims.valid_until);
    m->sock = sock;
    gw_sio_socket_set_ud(sock, m);
    gw_registry_add(gw->registry, &m->link, claims.user_id, claims.user_id_len, m);
    if (!gw->store || gw->cfg->catchup_max_count == 0)
        return 0;
    m->cu = gw_calloc(1, sizeof(*m->cu));
    char after[GW_STORE_OID_LEN + 1];
    pick_after(m, auth, after);
    const json_t *pid = json_object_get(auth, "pid");
    if (json_is_string(pid) && json_string_length(pid) == PID_LEN)
        memcpy(m->cu->client_pid, json_string_value(pid), PID_LEN + 1);
    m->cu->deferred = after[0] != '\0';
    if (!m->cu->deferred) {
        /* A first connect: joined now, with a fresh pid so the stock client starts recording
         * offsets; the sync event follows when the store answers. */
        char fresh[PID_LEN + 1];
        gw_random_id(fresh, PID_LEN);
        gw_sio_socket_accept(sock, fresh);
    }
    start_catchup(gw, m, claims.user_id, claims.user_id_len, after);
    return 1;
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
    struct gw_gateway *gw = app;
    const char *name = json_string_value(json_array_get(p->data, 0));
    if (name && strcmp(name, gw->read_event) == 0) {
        mark_read(gw, sock, p->data, p->id, false);
        return;
    }
    if (name && strcmp(name, gw->read_all_event) == 0) {
        mark_read(gw, sock, p->data, p->id, true);
        return;
    }
    /* Notifications flow one way: say so to a client that waits for an answer. */
    ack_error(sock, p->id, "UNKNOWN_EVENT", "This server handles no such event.");
}

static void on_disconnect(void *app, struct gw_sio_socket *sock, const char *reason)
{
    struct member *m = gw_sio_socket_get_ud(sock);
    if (!m)
        return;
    gw_sio_socket_set_ud(sock, NULL);
    member_free(m);
}

static void evict(void *owner, void *ud)
{
    struct gw_gateway *gw = ud;
    struct member *m = owner;
    gw->stats.evicted++;
    gw_log_debug("gateway", "over the per-user socket cap, disconnecting the oldest");
    /* A Socket.IO DISCONNECT, not a transport close: the client must not come back and evict
     * the next oldest tab in turn. */
    if (!m->ops)
        gw_sio_socket_disconnect(m->sock);
    else
        m->ops->close(m->stream);
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
    gw->cfg = cfg;
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
    gw->read_event = gw_strcat(cfg->notification_event, ":read");
    gw->read_all_event = gw_strcat(cfg->notification_event, ":read_all");
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

void gw_gateway_set_store(struct gw_gateway *gw, struct gw_store *store)
{
    gw->store = store;
}

void gw_gateway_free(struct gw_gateway *gw)
{
    if (!gw)
        return;
    gw_sio_server_free(gw->sio);
    if (gw->registry && gw_registry_socket_count(gw->registry) == 0)
        gw_registry_free(gw->registry); /* sockets still open at exit die with the process */
    gw_jwt_verifier_free(gw->jwt);
    free(gw->read_event);
    free(gw->read_all_event);
    free(gw);
}

const struct gw_eio_endpoint *gw_gateway_endpoint(struct gw_gateway *gw)
{
    return gw_sio_server_endpoint(gw->sio);
}

struct gw_msg *gw_gateway_encode_event(const char *event, const char *json, size_t len,
                                       const char *offset)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_msg_build_start(&b);
    gw_notice_event_open(&b, event, "");
    gw_buf_append(&b, json, len);
    gw_notice_event_close(&b, offset);
    return gw_msg_build_finish(&b);
}

struct deliver_ctx {
    struct gw_msg *msg;
    const char *id;
    size_t queued;
};

static void deliver_one(void *owner, void *ud)
{
    struct deliver_ctx *d = ud;
    if (deliver_live(owner, d->msg, d->id) == 0)
        d->queued++;
}

size_t gw_gateway_deliver(struct gw_gateway *gw, const char *user, size_t len, const char *id,
                          struct gw_msg *msg)
{
    struct deliver_ctx d = {msg, id, 0};
    gw_registry_foreach(gw->registry, user, len, deliver_one, &d);
    return d.queued;
}

enum gw_jwt_status gw_gateway_authenticate(struct gw_gateway *gw, const struct gw_jwt_sources *src,
                                           struct gw_jwt_claims *claims)
{
    size_t len;
    const char *token = gw_jwt_pick_token(src, &len);
    enum gw_jwt_status st =
        gw_jwt_verify(gw->jwt, token, len, (int64_t)(gw_wall_ms() / 1000), claims);
    if (st == GW_JWT_OK)
        gw->stats.handshakes_ok++;
    else
        gw->stats.handshakes_rejected[st]++;
    return st;
}

struct member *gw_gateway_attach(struct gw_gateway *gw, const char *user, size_t len,
                                 const char *after, const struct gw_member_ops *ops, void *stream)
{
    struct member *m = member_new(gw, 0);
    m->ops = ops;
    m->stream = stream;
    gw_registry_add(gw->registry, &m->link, user, len, m);
    if (gw->store && gw->cfg->catchup_max_count > 0) {
        char from[GW_STORE_OID_LEN + 1] = "";
        m->cu = gw_calloc(1, sizeof(*m->cu));
        if (after && gw_store_oid_valid(after, strlen(after)))
            memcpy(from, after, sizeof(from));
        else if (after)
            m->cu->bad_offset = true;
        start_catchup(gw, m, user, len, from);
    }
    return m;
}

void gw_gateway_detach(struct member *m)
{
    member_free(m);
}

size_t gw_gateway_socket_count(const struct gw_gateway *gw)
{
    return gw_registry_socket_count(gw->registry);
}

size_t gw_gateway_user_count(const struct gw_gateway *gw)
{
    return gw_registry_user_count(gw->registry);
}

const struct gw_gateway_stats *gw_gateway_stats(struct gw_gateway *gw)
{
    gw->stats.client_events_dropped = gw_sio_server_events_dropped(gw->sio);
    return &gw->stats;
}
