/* server.c -- the lws context and the one protocol callback that dispatches everything.
 *
 * DESIGN
 *
 * One lws context on the libev event lib (Debian's default poll() loop collapses past a few
 * thousand sockets; on libuv every poll change cost an epoll DEL, a scan of the event batch and
 * an ADD, a third of the CPU of a delivery: bench/README.md has the figures), one vhost, one
 * protocol that handles both HTTP and WebSocket: clients send no Sec-WebSocket-Protocol, so lws
 * binds them to protocols[0]. This file is the only one that knows lws callback reasons; it maps
 * them onto the Engine.IO transports and the HTTP routes.
 *
 * The libev loop is ours, lent to lws as a foreign loop, so that a prepare watcher can end each
 * loop pass: it hands lws, as writable, the WebSockets that queued packets during the pass
 * (gw_eio_engine_flush(), ev_feed_fd_event()), and lws serves them before the loop waits again,
 * through its own libev callback, as if epoll had reported them. lws breaks only a loop it
 * created, so the shutdown breaks this one itself.
 *
 * Cross-thread work arrives through gw_server_wake() = lws_cancel_service(), the only lws call
 * that is safe from another thread; lws answers with LWS_CALLBACK_EVENT_WAIT_CANCELLED on the
 * loop thread, where on_wake drains whatever mailbox the owner has.
 *
 * Shutdown: a SIGINT/SIGTERM handler only sets a flag and wakes the loop (lws_cancel_service()
 * writes to lws's event pipe, which is async-signal-safe); the wake, on the loop thread, finds
 * the flag and starts the shutdown. SIGHUP is ignored, as a daemon's is. The server stops
 * listening, lets the owner stop its producers (on_stop), closes every session with a flush,
 * and polls until they are gone (at most SHUTDOWN_GRACE_MS), then destroys the context so
 * lws_service() returns.
 *
 * Thread: the loop thread, except gw_server_wake().
 */
#include "gw/server.h"

#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "eio_internal.h"
#include "evtimer.h"
#include "gw/common.h"
#include "gw/http.h"
#include "gw/log.h"
#include "gw/ratelimit.h"

#define SHUTDOWN_GRACE_MS 2000
#define PRODUCER_GRACE_MS 6000
#define SHUTDOWN_POLL_MS 20
/* lws keeps one rx buffer per connection: at 2048 bytes it was the largest part of an idle
 * connection (4.5 KB each measured, 3.0 KB at 512). Bigger messages arrive in pieces, which
 * the transport reassembles anyway. */
#define RX_BUFFER_SIZE 512
/* The most lws hands to one send(). Left at 0, lws caps each send at the rx buffer size (plus
 * LWS_PRE + 4): a joined write of two frames went out as 532 bytes, the rest copied to lws's
 * own buffer and sent after another POLLOUT round. This holds a joined WebSocket write (about
 * 16 KB) or a polling response in one send; it allocates nothing. */
#define TX_PACKET_SIZE 65536
#define PATH_MAX_LEN 512
/* File descriptors kept for everything that is not a client connection (listener, mongoc,
 * logs, the loop's own) when MAX_CONNECTIONS is derived from the open-file limit. */
#define FD_HEADROOM 64
/* The slots above which new sessions are refused: a tenth of the cap, at most this many. */
#define SESSION_RESERVE_MAX 64
#define DEFAULT_TIMEOUT_MS 10000
/* Idle handshake buckets per address are dropped once full; this caps the table anyway. */
#define RATE_TABLE_MAX 65536
#define FULL_LOG_INTERVAL_MS 10000

struct gw_server {
    struct gw_server_options opt;
    struct lws_context *ctx;
    struct ev_loop *loop; /* ours, lent to lws, so the flush below can hook its passes */
    ev_prepare flush;     /* runs the sessions' writes at the end of each loop pass */
    struct lws_vhost *vhost;
    struct gw_eio_engine *eng;
    struct lws_protocols protocols[2];
    lws_sorted_usec_list_t shutdown_sul;
    uint64_t shutdown_deadline;
    uint64_t producers_deadline; /* 0 once the sessions were closed */
    size_t websockets;           /* established and not yet closed, for the shutdown wait */
    size_t connections;          /* accepted TCP connections whose wsi still exists */
    size_t max_connections;
    uint64_t connections_refused;
    uint64_t full_logged_ms; /* when "connection limit reached" was last logged */
    int header_timeout_ms;
    struct gw_ratelimit *handshake_rate;
    unsigned depth; /* nesting of our lws callback */
    bool stopping;
    bool destroyed;
    bool tls;
};

/* A signal handler gets no user pointer; a process runs one server. */
static struct gw_server *volatile signal_target;
static volatile sig_atomic_t stop_signalled;

/* Matches "/socket.io/" against a request path with or without the trailing slash. */
static bool path_is(const char *want, const char *path)
{
    size_t n = strlen(want);
    if (strcmp(want, path) == 0)
        return true;
    return n > 1 && want[n - 1] == '/' && strlen(path) == n - 1 && memcmp(want, path, n - 1) == 0;
}

static const struct gw_eio_endpoint *find_endpoint(struct gw_server *srv, const char *path)
{
    for (size_t i = 0; i < srv->opt.n_endpoints; i++) {
        if (path_is(srv->opt.endpoints[i].path, path))
            return &srv->opt.endpoints[i];
    }
    return NULL;
}

static const struct gw_eio_endpoint *endpoint_of(struct gw_server *srv, struct lws *wsi)
{
    char path[PATH_MAX_LEN];
    int n = gw_http_header(wsi, WSI_TOKEN_GET_URI, path, sizeof(path));
    return n > 0 ? find_endpoint(srv, path) : NULL;
}

static int http_request(struct gw_server *srv, struct lws *wsi, struct gw_conn *c, const char *path)
{
    const struct gw_eio_endpoint *ep = find_endpoint(srv, path);
    if (ep)
        return eio_poll_request(srv->eng, ep, wsi, c);
    for (size_t i = 0; i < srv->opt.n_routes; i++) {
        const struct gw_http_route *r = &srv->opt.routes[i];
        if (strcmp(r->path, path) != 0)
            continue;
        if (gw_http_method(wsi) != GW_HTTP_GET) {
            if (gw_http_respond(wsi, srv->opt.cors, 405, "application/json",
                                "{\"status\":\"error\",\"message\":\"Method not allowed\"}", 49))
                return -1;
            return gw_http_done(wsi);
        }
        if (!r->handle) {
            c->stream = r->open(wsi, r->ud);
            if (!c->stream)
                return gw_http_done(wsi);
            c->role = CONN_STREAM;
            c->route = r;
            return 0;
        }
        if (r->handle(wsi, r->ud))
            return -1;
        return gw_http_done(wsi);
    }
    static const char not_found[] = "{\"status\":\"error\",\"message\":\"Not found\"}";
    if (gw_http_respond(wsi, srv->opt.cors, 404, "application/json", not_found,
                        sizeof(not_found) - 1))
        return -1;
    return gw_http_done(wsi);
}

/* Only WebSocket upgrades on an Engine.IO path: HTTP/2 (h2c) is not served, and nothing
 * upgrades while shutting down. Returns 1 after answering a refusal itself, as lws expects. */
static int confirm_upgrade(struct gw_server *srv, struct lws *wsi, const char *proto)
{
    static const char h1_only[] = "Only HTTP/1.1 and WebSocket upgrades are supported";
    const struct gw_eio_endpoint *ep = endpoint_of(srv, wsi);
    if (strcmp(proto, "websocket") != 0)
        gw_http_respond(wsi, srv->opt.cors, 400, "text/plain", h1_only, sizeof(h1_only) - 1);
    else if (!ep)
        gw_http_respond(wsi, srv->opt.cors, 404, "text/plain", "", 0);
    else if (srv->stopping)
        gw_http_respond(wsi, srv->opt.cors, 503, "text/plain", "shutting down", 13);
    else
        return eio_ws_confirm(srv->eng, ep, wsi);
    return 1;
}

/* Refusing at accept costs one accept() and one close(): no wsi, no buffer, no header parse.
 * Returns non-zero to make lws close the new socket. */
static int admit_connection(struct gw_server *srv)
{
    if (srv->connections < srv->max_connections)
        return 0;
    srv->connections_refused++;
    uint64_t now = gw_now_ms();
    if (!srv->full_logged_ms || now - srv->full_logged_ms >= FULL_LOG_INTERVAL_MS) {
        srv->full_logged_ms = now;
        gw_log_warn("server",
                    "connection limit reached (MAX_CONNECTIONS=%zu): closing new connections "
                    "at once (%llu so far)",
                    srv->max_connections, (unsigned long long)srv->connections_refused);
    }
    return 1;
}

static int dispatch(struct gw_server *srv, struct lws *wsi, enum lws_callback_reasons reason,
                    struct gw_conn *c, void *in, size_t len)
{
    const struct gw_eio_endpoint *ep;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_request(srv, wsi, c, in);
    case LWS_CALLBACK_HTTP_BODY:
        return eio_poll_body(srv->eng, wsi, c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return eio_poll_body_done(srv->eng, wsi, c);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (c && c->role == CONN_STREAM)
            return c->route->writeable(wsi, c->stream);
        return eio_poll_writeable(wsi, c);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (c && c->role == CONN_STREAM) {
            c->role = CONN_NONE;
            c->route->closed(c->stream);
            c->stream = NULL;
            return 0;
        }
        if (c)
            eio_poll_detach(wsi, c);
        return 0;

    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(srv, wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
        srv->websockets++; /* CLOSED follows whatever we return */
        ep = endpoint_of(srv, wsi);
        if (!ep)
            return -1;
        return eio_ws_established(srv->eng, ep, wsi, c);
    case LWS_CALLBACK_RECEIVE:
        return eio_ws_receive(wsi, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return eio_ws_writeable(wsi, c);
    case LWS_CALLBACK_TIMER:
        if (c && c->role == CONN_STREAM)
            return c->route->timer(wsi, c->stream);
        if (!c)
            return 0;
        if (c->role == CONN_POLL_POST)
            return eio_poll_timer(srv->eng, wsi, c);
        return eio_ws_timer(wsi, c);
    case LWS_CALLBACK_CLOSED:
        srv->websockets--;
        eio_ws_closed(wsi, c);
        return 0;

    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return admit_connection(srv);
    case LWS_CALLBACK_WSI_CREATE:
        /* lws creates server wsis only for accepted connections. */
        srv->connections++;
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* Also the listener's at exit, hence the guard. */
        if (srv->connections)
            srv->connections--;
        return 0;

    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (stop_signalled && !srv->stopping && !srv->destroyed)
            gw_server_stop(srv);
        if (srv->opt.on_wake && !srv->destroyed)
            srv->opt.on_wake(srv->opt.ud);
        return 0;
    default:
        return 0;
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct gw_server *srv = ctx ? lws_context_user(ctx) : NULL;
    if (!srv)
        return 0;
    /* lws calls back re-entrantly (lws_http_transaction_completed() drops the protocol from
     * inside a WRITEABLE callback, say): free closed sessions only when the outermost callback
     * returns, so no callback on the stack holds a freed session. */
    srv->depth++;
    int rc = dispatch(srv, wsi, reason, user, in, len);
    if (--srv->depth == 0)
        gw_eio_engine_reap(srv->eng);
    return rc;
}

static void finish_shutdown(lws_sorted_usec_list_t *sul);

static void feed_writable(int fd, void *ud)
{
    struct gw_server *srv = ud;
    ev_feed_fd_event(srv->loop, fd, EV_WRITE);
}

/* libev runs prepare watchers when a pass has run its callbacks, before it waits again; what
 * they feed it runs in the same pass. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)revents;
    struct gw_server *srv = w->data;
    if (!srv->destroyed)
        gw_eio_engine_flush(srv->eng, feed_writable, srv);
}

static void poll_shutdown(struct gw_server *srv)
{
    lws_sul_schedule(srv->ctx, 0, &srv->shutdown_sul, finish_shutdown,
                     SHUTDOWN_POLL_MS * LWS_US_PER_MS);
}

/* Shutdown, step by step on one timer: wait for the producers (on_wake keeps dispatching what
 * they push), then close every session with a flush, then wait for the transports to go. */
static void finish_shutdown(lws_sorted_usec_list_t *sul)
{
    struct gw_server *srv = GW_CONTAINER_OF(sul, struct gw_server, shutdown_sul);
    uint64_t now = gw_now_ms();
    if (srv->destroyed)
        return;
    if (srv->producers_deadline) {
        if (srv->opt.on_wake)
            srv->opt.on_wake(srv->opt.ud);
        bool ready = !srv->opt.ready_to_close || srv->opt.ready_to_close(srv->opt.ud);
        if (!ready && now < srv->producers_deadline) {
            poll_shutdown(srv);
            return;
        }
        srv->producers_deadline = 0;
        gw_log_info("server", "closing %zu sessions", gw_eio_engine_session_count(srv->eng));
        gw_eio_engine_close_all(srv->eng);
        gw_eio_engine_reap(srv->eng);
        srv->shutdown_deadline = now + SHUTDOWN_GRACE_MS;
    }
    /* Sessions leave the map at once; their transports need a few ms to flush, and each
     * WebSocket to exchange close frames, before the context may go. */
    if (gw_eio_engine_session_count(srv->eng) == 0 && !gw_eio_engine_has_transports(srv->eng) &&
        srv->websockets == 0)
        srv->shutdown_deadline = 0;
    if (srv->shutdown_deadline && now < srv->shutdown_deadline) {
        poll_shutdown(srv);
        return;
    }
    srv->destroyed = true;
    gw_log_info("server", "shutdown complete");
    gw_eio_engine_detach(srv->eng);
    lws_context_destroy(srv->ctx);
    ev_break(srv->loop, EVBREAK_ALL); /* lws breaks only a loop of its own */
}

void gw_server_stop(struct gw_server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    gw_log_info("server", "shutting down");
    gw_eio_engine_drain(srv->eng);
    if (srv->opt.on_stop)
        srv->opt.on_stop(srv->opt.ud);
    srv->producers_deadline = gw_now_ms() + PRODUCER_GRACE_MS;
    poll_shutdown(srv);
}

static void on_signal(int signum)
{
    (void)signum;
    stop_signalled = 1;
    struct gw_server *srv = signal_target;
    if (srv)
        lws_cancel_service(srv->ctx);
}

/* Installed after the context exists, so it replaces the SIGINT watcher lws's libev plugin
 * registers (and no signal arrives before there is a loop to wake). */
static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &sa, NULL);
}

void gw_server_wake(struct gw_server *srv)
{
    lws_cancel_service(srv->ctx);
}

static const char *bind_address(const char *host)
{
    /* lws binds every interface when iface is NULL. */
    if (!host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
        return NULL;
    return host;
}

/* Engine.IO heartbeats already prove each connection alive. lws 4.1 would otherwise give every
 * WebSocket its own 300 s "validity" timer, and its timers live in one sorted list, so each new
 * connection paid an O(n) insert: at 18k sockets that was 65 % of the loop's CPU. A policy with
 * no hangup interval turns the validity timer off. */
static const lws_retry_bo_t no_validity_timer = {.secs_since_valid_ping = 0,
                                                 .secs_since_valid_hangup = 0};

/* MAX_CONNECTIONS=0 means "as many as the process may open", less what it needs for itself. */
static size_t resolve_max_connections(size_t wanted)
{
    struct rlimit rl;
    size_t fds = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        fds = rl.rlim_cur == RLIM_INFINITY ? (size_t)1 << 20 : (size_t)rl.rlim_cur;
    size_t usable = fds > 2 * FD_HEADROOM ? fds - FD_HEADROOM : fds / 2;
    if (!wanted) {
        gw_log_info("server",
                    "MAX_CONNECTIONS=0: at most %zu connections (open-file limit %zu minus %d)",
                    usable, fds, FD_HEADROOM);
        return usable;
    }
    if (wanted > usable)
        gw_log_warn("server",
                    "MAX_CONNECTIONS=%zu is above the open-file limit %zu minus %d: accept() "
                    "will fail before the cap is reached (raise ulimit -n)",
                    wanted, fds, FD_HEADROOM);
    return wanted;
}

static void setup_limits(struct gw_server *srv, const struct gw_server_options *opt)
{
    struct gw_eio_engine *eng = srv->eng;
    srv->max_connections = resolve_max_connections(opt->max_connections);
    srv->header_timeout_ms =
        opt->header_timeout_ms > 0 ? opt->header_timeout_ms : DEFAULT_TIMEOUT_MS;
    size_t reserve = GW_MIN(SESSION_RESERVE_MAX, GW_MAX(srv->max_connections / 10, 1));
    eng->connections = &srv->connections;
    eng->session_conn_limit = srv->max_connections > reserve ? srv->max_connections - reserve : 0;
    eng->body_timeout_ms = opt->body_timeout_ms > 0 ? opt->body_timeout_ms : DEFAULT_TIMEOUT_MS;
    if (opt->handshake_rate_per_ip) {
        srv->handshake_rate = gw_ratelimit_new(opt->handshake_rate_per_ip,
                                               2 * opt->handshake_rate_per_ip, RATE_TABLE_MAX);
        eng->handshake_rate = srv->handshake_rate;
    }
}

struct gw_server *gw_server_new(const struct gw_server_options *opt, char *err)
{
    struct lws_context_creation_info info;
    struct gw_server *srv = gw_calloc(1, sizeof(*srv));
    srv->opt = *opt;
    srv->eng = gw_eio_engine_new(opt->cors);
    srv->tls = opt->tls_cert_file && opt->tls_key_file;

    setup_limits(srv, opt);

    srv->protocols[0].name = "engine.io";
    srv->protocols[0].callback = callback;
    srv->protocols[0].per_session_data_size = sizeof(struct gw_conn);
    srv->protocols[0].rx_buffer_size = RX_BUFFER_SIZE;
    srv->protocols[0].tx_packet_size = TX_PACKET_SIZE;

    srv->loop = ev_loop_new(EVFLAG_AUTO);
    if (!srv->loop) {
        gw_set_error(err, "cannot create the event loop");
        goto fail;
    }
    void *loops[1] = {srv->loop};
    memset(&info, 0, sizeof(info));
    info.foreign_loops = loops;
    info.port = opt->port;
    info.iface = bind_address(opt->host);
    info.protocols = srv->protocols;
    info.user = srv;
    info.options =
        LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    /* lws times headers from the first byte of a request (its header table is held that long)
     * and everything before it from the accept, both in whole seconds. An idle keep-alive
     * connection gets the same time to start its next request. */
    unsigned header_s = (unsigned)(srv->header_timeout_ms + 999) / 1000;
    info.timeout_secs = header_s;
    info.timeout_secs_ah_idle = header_s;
    info.keepalive_timeout = (int)header_s;
    info.retry_and_idle_policy = &no_validity_timer;
    if (srv->tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = opt->tls_cert_file;
        info.ssl_private_key_filepath = opt->tls_key_file;
        info.alpn = "http/1.1";
    }
    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        gw_set_error(err, "cannot listen on %s:%d%s (port in use, bad address%s?)",
                     opt->host ? opt->host : "0.0.0.0", opt->port, srv->tls ? " with TLS" : "",
                     srv->tls ? ", or unreadable certificate or key" : "");
        goto fail;
    }
    if (gw_evtimer_check(err) != 0) {
        lws_context_destroy(srv->ctx);
        goto fail;
    }
    srv->vhost = lws_get_vhost_by_name(srv->ctx, "default");
    gw_eio_engine_attach(srv->eng, srv->ctx);
    ev_prepare_init(&srv->flush, on_prepare);
    srv->flush.data = srv;
    ev_prepare_start(srv->loop, &srv->flush);
    ev_unref(srv->loop); /* the flush alone must not keep the loop running */
    signal_target = srv;
    install_signal_handlers();
    return srv;
fail:
    if (srv->loop)
        ev_loop_destroy(srv->loop);
    gw_eio_engine_detach(srv->eng);
    gw_eio_engine_free(srv->eng);
    gw_ratelimit_free(srv->handshake_rate);
    free(srv);
    return NULL;
}

int gw_server_run(struct gw_server *srv)
{
    printf("%s listening on %s://%s:%d\n", srv->opt.name, srv->tls ? "https" : "http",
           srv->opt.host ? srv->opt.host : "0.0.0.0", gw_server_port(srv));
    fflush(stdout);
    gw_log_info("server", "listening on %s:%d%s", srv->opt.host ? srv->opt.host : "0.0.0.0",
                gw_server_port(srv), srv->tls ? " (TLS)" : "");
    while (!lws_service(srv->ctx, 0))
        ;
    return 0;
}

void gw_server_free(struct gw_server *srv)
{
    if (!srv)
        return;
    gw_eio_engine_detach(srv->eng);
    if (!srv->destroyed)
        lws_context_destroy(srv->ctx);
    lws_context_destroy(srv->ctx); /* the second call frees what the first, in the loop, left */
    ev_ref(srv->loop);
    ev_prepare_stop(srv->loop, &srv->flush);
    ev_loop_destroy(srv->loop);
    gw_eio_engine_free(srv->eng);
    gw_ratelimit_free(srv->handshake_rate);
    if (signal_target == srv)
        signal_target = NULL;
    free(srv);
}

int gw_server_port(const struct gw_server *srv)
{
    return srv->vhost ? lws_get_vhost_listen_port(srv->vhost) : srv->opt.port;
}

struct gw_eio_engine *gw_server_engine(struct gw_server *srv)
{
    return srv->eng;
}

void gw_server_stats(const struct gw_server *srv, struct gw_server_stats *st)
{
    st->connections = srv->connections;
    st->max_connections = srv->max_connections;
    st->connections_refused = srv->connections_refused;
    st->sessions_refused_full = srv->eng->refused_full;
    st->sessions_rate_limited = srv->eng->rate_limited;
    st->body_timeouts = srv->eng->body_timeouts;
}

void gw_server_metrics(const struct gw_server *srv, struct gw_buf *b)
{
    struct gw_server_stats st;
    gw_server_stats(srv, &st);
    gw_buf_printf(b,
                  "# HELP notify_gateway_connections Open TCP connections (HTTP and WebSocket).\n"
                  "# TYPE notify_gateway_connections gauge\n"
                  "notify_gateway_connections %zu\n"
                  "# HELP notify_gateway_connections_max MAX_CONNECTIONS in effect.\n"
                  "# TYPE notify_gateway_connections_max gauge\n"
                  "notify_gateway_connections_max %zu\n"
                  "# HELP notify_gateway_connections_refused_total Connections closed at accept "
                  "because MAX_CONNECTIONS were open.\n"
                  "# TYPE notify_gateway_connections_refused_total counter\n"
                  "notify_gateway_connections_refused_total %llu\n"
                  "# HELP notify_gateway_sessions_refused_total New Engine.IO sessions refused, "
                  "by reason (full: 503 near MAX_CONNECTIONS, rate: 429 over "
                  "HANDSHAKE_RATE_PER_IP).\n"
                  "# TYPE notify_gateway_sessions_refused_total counter\n"
                  "notify_gateway_sessions_refused_total{reason=\"full\"} %llu\n"
                  "notify_gateway_sessions_refused_total{reason=\"rate\"} %llu\n"
                  "# HELP notify_gateway_http_body_timeouts_total POST requests closed because "
                  "their body was not complete within HTTP_BODY_TIMEOUT_MS.\n"
                  "# TYPE notify_gateway_http_body_timeouts_total counter\n"
                  "notify_gateway_http_body_timeouts_total %llu\n",
                  st.connections, st.max_connections, (unsigned long long)st.connections_refused,
                  (unsigned long long)st.sessions_refused_full,
                  (unsigned long long)st.sessions_rate_limited,
                  (unsigned long long)st.body_timeouts);
}
