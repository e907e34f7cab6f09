/* fixture.c -- protocol-fixture: the server the official Engine.IO/Socket.IO suites expect.
 *
 * It links the same core library as the product and serves, on one port:
 *   /engine.io/  a raw Engine.IO v4 echo: every message packet, text or binary, goes back;
 *   /socket.io/  the Socket.IO fixture of design §6: on connect to "/" or "/custom" emit
 *                "auth" with the CONNECT payload; "message" -> "message-back" with the same
 *                arguments (attachments included); "message-with-ack" -> ack with them.
 * Defaults are the suites' settings (pingInterval 300, pingTimeout 200, maxPayload 1000000,
 * connect timeout 1000 ms, CORS "*", 127.0.0.1:3000); the product's environment variables of
 * the same names override them, so tests can tighten limits.
 *
 * Thread: main runs the lws loop; nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/config.h"
#include "gw/cors.h"
#include "gw/eio.h"
#include "gw/log.h"
#include "gw/server.h"
#include "gw/sio.h"

static void echo_open(struct gw_eio_session *s, const struct gw_eio_request *req)
{
}

static int echo_message(struct gw_eio_session *s, const char *data, size_t len, bool binary)
{
    struct gw_msg *m = binary ? gw_msg_new(len, true) : gw_msg_new_text('4', data, len);
    if (binary)
        memcpy(gw_msg_payload(m), data, len);
    gw_eio_session_send(s, m);
    gw_msg_unref(m);
    return 0;
}

static void echo_close(struct gw_eio_session *s, enum gw_eio_close_reason why)
{
}

static const struct gw_eio_handler echo_handler = {
    .on_open = echo_open,
    .on_message = echo_message,
    .on_close = echo_close,
};

/* ---- /socket.io/: the Socket.IO fixture of design §6 -------------------------------------- */

static bool fx_namespace_exists(void *app, const char *nsp)
{
    return strcmp(nsp, "/") == 0 || strcmp(nsp, "/custom") == 0;
}

static int fx_connect(void *app, struct gw_sio_socket *sock, const json_t *auth,
                      struct gw_sio_reject *rej)
{
    return 0;
}

/* Emits ["auth", <the CONNECT payload or {}>]. */
static void fx_connected(void *app, struct gw_sio_socket *sock, const json_t *auth)
{
    char *payload = auth ? json_dumps(auth, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    struct gw_buf b = GW_BUF_INIT;
    gw_buf_printf(&b, "[\"auth\",%s]", payload ? payload : "{}");
    gw_sio_socket_emit(sock, b.data, b.len);
    gw_buf_free(&b);
    free(payload);
}

/* Returns the offset in the array text json just past its first element (at the ',' or ']'
 * that follows it), or 0 when json is not an array with a first element. The codec already
 * checked the JSON, so a string literal and a scan to the next delimiter suffice. */
static size_t after_first_element(const char *json, size_t len)
{
    size_t i = 1;
    if (len < 2 || json[0] != '[')
        return 0;
    if (json[i] == '"') {
        for (i++; i < len && json[i] != '"'; i++) {
            if (json[i] == '\\')
                i++;
        }
        i++;
    } else {
        while (i < len && json[i] != ',' && json[i] != ']')
            i++;
    }
    return i < len ? i : 0;
}

static bool event_is(const struct gw_sio_packet *p, const char *name)
{
    const json_t *first = json_array_get(p->data, 0);
    return json_is_string(first) && strcmp(json_string_value(first), name) == 0;
}

static void fx_event(void *app, struct gw_sio_socket *sock, const struct gw_sio_packet *p,
                     const struct gw_sio_attachment *att)
{
    size_t rest = after_first_element(p->json, p->json_len);
    if (!rest || strcmp(gw_sio_socket_nsp(sock), "/") != 0)
        return;
    struct gw_buf b = GW_BUF_INIT;
    if (event_is(p, "message")) {
        gw_buf_append_str(&b, "[\"message-back\"");
        gw_buf_append(&b, p->json + rest, p->json_len - rest);
        if (p->attachments)
            gw_sio_socket_emit_binary(sock, b.data, b.len, att, p->attachments);
        else
            gw_sio_socket_emit(sock, b.data, b.len);
    } else if (event_is(p, "message-with-ack") && p->id != GW_SIO_NO_ID) {
        /* The ack carries the event's arguments, i.e. the array without its first element. */
        gw_buf_append_char(&b, '[');
        if (p->json[rest] == ',')
            gw_buf_append(&b, p->json + rest + 1, p->json_len - rest - 1);
        else
            gw_buf_append_char(&b, ']');
        gw_sio_socket_ack(sock, p->id, b.data, b.len, att, p->attachments);
    }
    gw_buf_free(&b);
}

static void fx_disconnect(void *app, struct gw_sio_socket *sock, const char *reason)
{
}

static const struct gw_sio_app fixture_app = {
    .namespace_exists = fx_namespace_exists,
    .on_connect = fx_connect,
    .on_connected = fx_connected,
    .on_event = fx_event,
    .on_disconnect = fx_disconnect,
};

/* The suites' settings are the defaults; a variable set in the environment wins. */
static const char *fixture_env(const char *name, void *ud)
{
    static const char *const defaults[][2] = {
        {"HOST", "127.0.0.1"},
        {"PING_INTERVAL_MS", "300"},
        {"PING_TIMEOUT_MS", "200"},
        {"CONNECT_TIMEOUT_MS", "1000"},
        {"CORS_ORIGINS", "*"},
        /* The suites open hundreds of sessions from one address in seconds. */
        {"HANDSHAKE_RATE_PER_IP", "0"},
    };
    const char *v = getenv(name);
    if (v)
        return v;
    for (size_t i = 0; i < GW_ARRAY_SIZE(defaults); i++) {
        if (strcmp(defaults[i][0], name) == 0)
            return defaults[i][1];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct gw_config cfg;
    struct gw_cors cors;
    char err[2048];

    if (argc > 1) {
        fprintf(stderr, "usage: protocol-fixture (configured by PORT, HOST, PING_INTERVAL_MS, "
                        "PING_TIMEOUT_MS, MAX_PAYLOAD_BYTES, CONNECT_TIMEOUT_MS, CORS_ORIGINS)\n");
        return 2;
    }
    if (gw_config_load_from(&cfg, fixture_env, NULL, err, sizeof(err)) < 0) {
        fputs(err, stderr);
        return 2;
    }
    gw_log_init(cfg.debug, cfg.log_format);
    if (gw_cors_init(&cors, cfg.cors_origins, err) < 0) {
        fprintf(stderr, "CORS_ORIGINS: %s\n", err);
        gw_config_free(&cfg);
        return 2;
    }

    struct gw_eio_settings settings = {
        .ping_interval_ms = cfg.ping_interval_ms,
        .ping_timeout_ms = cfg.ping_timeout_ms,
        .max_payload = cfg.max_payload,
        .outbox_max_bytes = cfg.outbox_max_bytes,
        .upgrade_timeout_ms = 10000,
    };
    struct gw_sio_options sio_opt = {
        .app = &fixture_app,
        .connect_timeout_ms = cfg.connect_timeout_ms,
    };
    struct gw_sio_server *sio = gw_sio_server_new(&sio_opt, "/socket.io/", &settings);
    struct gw_eio_endpoint endpoints[] = {
        {.path = "/engine.io/", .handler = &echo_handler, .settings = settings},
        *gw_sio_server_endpoint(sio),
    };
    struct gw_server_options opt = {
        .name = "protocol-fixture",
        .host = cfg.host,
        .port = cfg.port,
        .tls_cert_file = cfg.tls_cert_file,
        .tls_key_file = cfg.tls_key_file,
        .cors = &cors,
        .endpoints = endpoints,
        .n_endpoints = GW_ARRAY_SIZE(endpoints),
        .max_connections = (size_t)cfg.max_connections,
        .handshake_rate_per_ip = (unsigned)cfg.handshake_rate_per_ip,
        .header_timeout_ms = cfg.http_header_timeout_ms,
        .body_timeout_ms = cfg.http_body_timeout_ms,
    };
    struct gw_server *srv = gw_server_new(&opt, err);
    if (!srv) {
        gw_log_error("fixture", "%s", err);
        gw_sio_server_free(sio);
        gw_cors_fini(&cors);
        gw_config_free(&cfg);
        return 1;
    }
    gw_server_run(srv);
    gw_server_free(srv);
    gw_sio_server_free(sio);
    gw_cors_fini(&cors);
    gw_config_free(&cfg);
    return 0;
}
