/* main.c -- notify-gateway: configuration, then the server, until SIGINT/SIGTERM.
 *
 * Exit codes: 0 after a graceful shutdown, 2 for a configuration problem (one line per bad
 * variable on stderr), 1 when the server cannot start (port in use, TLS files unusable).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/config.h"
#include "gw/cors.h"
#include "gw/gateway.h"
#include "gw/health.h"
#include "gw/http.h"
#include "gw/jwt.h"
#include "gw/log.h"
#include "gw/server.h"
#include "gw/sse.h"
#include "gw/store.h"
#include "gw/watcher.h"

#include <jansson.h>
#include <mongoc/mongoc.h>

struct app {
    const struct gw_config *cfg;
    struct gw_gateway *gateway;
    struct gw_server *server;
    struct gw_watcher *watcher; /* NULL when ENABLE_CHANGE_STREAMS is off */
    struct gw_store *store;     /* likewise */
    struct gw_sse *sse;
    struct gw_cors cors;
    uint64_t started_ms;
};

static void snapshot(struct app *a, struct gw_health_snapshot *s)
{
    memset(s, 0, sizeof(*s));
    s->uptime_s = (gw_now_ms() - a->started_ms) / 1000;
    s->sockets = gw_gateway_socket_count(a->gateway);
    s->users = gw_gateway_user_count(a->gateway);
    s->engine_sessions = gw_eio_engine_session_count(gw_server_engine(a->server));
    s->gateway = gw_gateway_stats(a->gateway);
    s->cs_enabled = a->cfg->change_streams;
    if (a->watcher)
        gw_watcher_fill(a->watcher, s);
}

static int respond(struct lws *wsi, struct app *a, unsigned status, const char *ctype,
                   struct gw_buf *b)
{
    int rc = gw_http_respond(wsi, &a->cors, status, ctype, b->data, b->len);
    gw_buf_free(b);
    return rc;
}

static int route_health(struct lws *wsi, void *ud)
{
    struct gw_health_snapshot s;
    struct gw_buf b = GW_BUF_INIT;
    snapshot(ud, &s);
    unsigned status = gw_health_json(&b, &s);
    return respond(wsi, ud, status, "application/json", &b);
}

static int route_change_streams(struct lws *wsi, void *ud)
{
    struct gw_health_snapshot s;
    struct gw_buf b = GW_BUF_INIT;
    snapshot(ud, &s);
    gw_health_change_streams_json(&b, &s);
    return respond(wsi, ud, 200, "application/json", &b);
}

static int route_metrics(struct lws *wsi, void *ud)
{
    struct app *a = ud;
    struct gw_health_snapshot s;
    struct gw_buf b = GW_BUF_INIT;
    snapshot(ud, &s);
    gw_health_metrics(&b, &s);
    gw_server_metrics(a->server, &b);
    if (a->watcher)
        gw_watcher_metrics(a->watcher, &b);
    if (a->store)
        gw_store_metrics(a->store, &b);
    return respond(wsi, ud, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static void wake_loop(void *ud)
{
    struct app *a = ud;
    gw_server_wake(a->server);
}

static void on_wake(void *ud)
{
    struct app *a = ud;
    if (a->watcher)
        gw_watcher_dispatch(a->watcher, a->gateway);
    gw_gateway_drain_store(a->gateway);
}

static void on_stop(void *ud)
{
    struct app *a = ud;
    if (a->watcher)
        gw_watcher_request_stop(a->watcher);
    gw_store_stop(a->store);
    gw_sse_close_all(a->sse);
}

static bool ready_to_close(void *ud)
{
    struct app *a = ud;
    return !a->watcher || gw_watcher_finished(a->watcher);
}

/* mongoc logs through our logger, warnings and worse (everything with DEBUG). */
static void route_mongoc_log(mongoc_log_level_t level, const char *domain, const char *message,
                             void *ud)
{
    if (level <= MONGOC_LOG_LEVEL_WARNING)
        gw_log(level <= MONGOC_LOG_LEVEL_ERROR ? GW_LOG_ERROR : GW_LOG_WARN, "mongoc", "%s: %s",
               domain, message);
    else
        gw_log_debug("mongoc", "%s: %s", domain, message);
}

/* `notify-gateway token --sub ID [--ttl SECONDS]`: a development token signed with the
 * configured HMAC secret, carrying the configured issuer and audience, so nobody needs a
 * website to make one. */
static int make_token(const struct gw_config *cfg, int argc, char **argv)
{
    const char *sub = NULL;
    long ttl = 3600;
    char err[GW_ERR_LEN];
    for (int i = 2; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--sub") == 0 && i + 1 < argc) {
            sub = argv[++i];
        } else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
            ttl = strtol(argv[++i], &end, 10);
            if (*end || ttl <= 0 || ttl > 366L * 24 * 3600) {
                fprintf(stderr, "notify-gateway token: --ttl wants seconds (1..31622400)\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: notify-gateway token --sub USER_ID [--ttl SECONDS]\n");
            return 2;
        }
    }
    if (!sub || !*sub) {
        fprintf(stderr, "usage: notify-gateway token --sub USER_ID [--ttl SECONDS]\n");
        return 2;
    }
    if (!cfg->jwt_secret) {
        fprintf(stderr, "notify-gateway token: needs JWT_SECRET (an HMAC key); with "
                        "JWT_PUBLIC_KEY_FILE, sign tokens with your private key instead\n");
        return 2;
    }
    int64_t now = (int64_t)(gw_wall_ms() / 1000);
    json_t *claims = json_pack("{s:s,s:I,s:I}", cfg->jwt_user_claim, sub, "iat", (json_int_t)now,
                               "exp", (json_int_t)(now + ttl));
    if (cfg->jwt_issuer)
        json_object_set_new(claims, "iss", json_string(cfg->jwt_issuer));
    if (cfg->jwt_audience)
        json_object_set_new(claims, "aud", json_string(cfg->jwt_audience));
    char *text = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    /* The first HMAC algorithm the allowlist names (the loader keeps it as "A,B,C"), HS256
     * when it names none. */
    char alg[8] = "HS256";
    for (const char *p = cfg->jwt_algorithms; p && *p;
         p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strncmp(p, "HS", 2) == 0 && strcspn(p, ",") == 5) {
            memcpy(alg, p, 5);
            break;
        }
    }
    char *token = gw_jwt_sign_hmac(alg, cfg->jwt_secret, cfg->jwt_secret_len, text, err);
    free(text);
    if (!token) {
        fprintf(stderr, "notify-gateway token: %s\n", err);
        return 2;
    }
    puts(token);
    free(token);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: notify-gateway [--help | --version | token --sub USER_ID [--ttl SECONDS]]\n\n"
            "A Socket.IO notification gateway: it watches a MongoDB collection with a change\n"
            "stream and emits each inserted notification to every socket of its user.\n"
            "`token` prints a development JWT signed with JWT_SECRET.\n"
            "It is configured by environment variables:\n\n");
    gw_config_print_help(out);
}

static int serve(struct app *a)
{
    const struct gw_config *cfg = a->cfg;
    char err[GW_ERR_LEN];
    struct gw_eio_settings eio = {
        .ping_interval_ms = cfg->ping_interval_ms,
        .ping_timeout_ms = cfg->ping_timeout_ms,
        .max_payload = cfg->max_payload,
        .outbox_max_bytes = cfg->outbox_max_bytes,
        .upgrade_timeout_ms = 10000,
    };
    a->gateway = gw_gateway_new(cfg, &eio, err);
    if (!a->gateway) {
        fprintf(stderr, "notify-gateway: %s\n", err);
        return 2;
    }
    a->sse = gw_sse_new(a->gateway, cfg, &a->cors);
    const struct gw_http_route routes[] = {
        {.path = "/api/health", .handle = route_health, .ud = a},
        {.path = "/api/health/change-streams", .handle = route_change_streams, .ud = a},
        {.path = "/metrics", .handle = route_metrics, .ud = a},
        gw_sse_route(a->sse),
    };
    struct gw_server_options opt = {
        .name = "notify-gateway",
        .host = cfg->host,
        .port = cfg->port,
        .tls_cert_file = cfg->tls_cert_file,
        .tls_key_file = cfg->tls_key_file,
        .cors = &a->cors,
        .endpoints = gw_gateway_endpoint(a->gateway),
        .n_endpoints = 1,
        .routes = routes,
        .n_routes = GW_ARRAY_SIZE(routes),
        .on_wake = on_wake,
        .on_stop = on_stop,
        .ready_to_close = ready_to_close,
        .ud = a,
        .max_connections = (size_t)cfg->max_connections,
        .handshake_rate_per_ip = (unsigned)cfg->handshake_rate_per_ip,
        .header_timeout_ms = cfg->http_header_timeout_ms,
        .body_timeout_ms = cfg->http_body_timeout_ms,
    };
    a->server = gw_server_new(&opt, err);
    if (!a->server) {
        gw_log_error("main", "%s", err);
        gw_sse_free(a->sse);
        gw_gateway_free(a->gateway);
        return 1;
    }
    a->started_ms = gw_now_ms();
    if (cfg->change_streams) {
        a->watcher = gw_watcher_start(cfg, wake_loop, a, err);
        if (!a->watcher) {
            gw_log_error("main", "%s", err);
            gw_server_free(a->server);
            gw_sse_free(a->sse);
            gw_gateway_free(a->gateway);
            return 2;
        }
        a->store = gw_store_start(cfg, wake_loop, a, err);
        if (!a->store) {
            gw_log_error("main", "%s", err);
            gw_watcher_request_stop(a->watcher);
            gw_watcher_free(a->watcher);
            gw_server_free(a->server);
            gw_sse_free(a->sse);
            gw_gateway_free(a->gateway);
            return 2;
        }
        gw_gateway_set_store(a->gateway, a->store);
    } else {
        gw_log_info("main", "ENABLE_CHANGE_STREAMS is off: no notification will be watched");
    }
    gw_server_run(a->server);
    gw_watcher_free(a->watcher);
    gw_store_free(a->store);
    gw_server_free(a->server);
    gw_sse_free(a->sse);
    gw_gateway_free(a->gateway);
    return 0;
}

int main(int argc, char **argv)
{
    struct gw_config cfg;
    struct app a = {.cfg = &cfg};
    char err[4096];

    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
            printf("notify-gateway %s\n", GW_VERSION);
            return 0;
        }
        if (strcmp(argv[1], "token") != 0) {
            fprintf(stderr, "notify-gateway: unknown argument \"%s\" (try --help)\n", argv[1]);
            return 2;
        }
    }
    if (gw_config_load(&cfg, err, sizeof(err)) < 0) {
        fputs(err, stderr);
        return 2;
    }
    if (argc > 1) {
        int rc = make_token(&cfg, argc, argv);
        gw_config_free(&cfg);
        return rc;
    }
    if (gw_config_require_key(&cfg, err) < 0) {
        fprintf(stderr, "notify-gateway: %s\n", err);
        gw_config_free(&cfg);
        return 2;
    }
    gw_log_init(cfg.debug, cfg.log_format);
    mongoc_init();
    mongoc_log_set_handler(route_mongoc_log, NULL);
    gw_config_log(&cfg);
    if (gw_cors_init(&a.cors, cfg.cors_origins, err) < 0) {
        fprintf(stderr, "CORS_ORIGINS: %s\n", err);
        gw_config_free(&cfg);
        return 2;
    }
    int rc = serve(&a);
    gw_cors_fini(&a.cors);
    gw_config_free(&cfg);
    mongoc_cleanup();
    return rc;
}
