/* config.h -- the gateway's configuration, read from the environment (design §4.1).
 *
 * Every variable has a default, a validator and one clear error sentence per bad value. The
 * loader reports every bad variable, not only the first, so an operator fixes them in one go.
 * Secrets (JWT_SECRET, the private parts of URIs) are never logged nor echoed in errors.
 *
 * Rules every variable shares: unknown variables are ignored; a string set to "" is an error
 * (unset it instead), except for the booleans, where "" means false; integers are plain decimal
 * digits within the range noted below. Some values are stored in a canonical form: SOCKETIO_PATH
 * ends in '/', JWT_ALGORITHMS and CORS_ORIGINS lose the blanks around commas, and CORS origins are
 * lowercased (browsers send them that way and the match is exact).
 *
 * Thread safety: load once on the main thread before any other thread starts; afterwards the
 * struct is read-only and may be read from any thread.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/common.h"

enum gw_log_format { GW_LOG_FORMAT_TEXT, GW_LOG_FORMAT_JSON };

struct gw_config {
    /* listener */
    char *host;           /* HOST, default "0.0.0.0" */
    int port;             /* PORT, default 3000, 0..65535 (0 = any free port) */
    char *socketio_path;  /* SOCKETIO_PATH, default "/socket.io/"; always starts and ends
                             with '/' after loading ("/ws" becomes "/ws/") */
    char *tls_cert_file;  /* TLS_CERT_FILE, NULL when unset */
    char *tls_key_file;   /* TLS_KEY_FILE, NULL when unset; both or neither */
    int sse_heartbeat_ms; /* SSE_HEARTBEAT_MS, default 15000, 1000..3600000 */

    /* change streams */
    bool change_streams; /* ENABLE_CHANGE_STREAMS: "true" or "1" (case-insensitive); any other
                            word is false, with a warning */
    char *mongodb_uri;   /* MONGODB_URI, default mongodb://127.0.0.1:27017/?replicaSet=rs0 */
    char *mongodb_db;    /* MONGODB_DB, default: database in the URI path, else "test" */
    char *notifications_collection; /* NOTIFICATIONS_COLLECTION, default "notifications" */
    char *resume_token_collection;  /* RESUME_TOKEN_COLLECTION, "changeStreamResumeTokens" */
    char *resume_token_id;          /* RESUME_TOKEN_ID, default "notifications" */
    char *notification_event;       /* NOTIFICATION_EVENT, default "notification" */
    char *notification_user_field;  /* NOTIFICATION_USER_FIELD, default "userId" */
    int catchup_max_count;          /* CATCHUP_MAX_COUNT, default 1000, 0..100000; 0 = off */
    int catchup_max_age_s;          /* CATCHUP_MAX_AGE_SECONDS, default 604800 (7 days) */

    /* JWT */
    char *jwt_secret; /* JWT_SECRET, NULL when unset; never logged */
    size_t jwt_secret_len;
    char *jwt_public_key_file; /* JWT_PUBLIC_KEY_FILE, NULL when unset */
    char *jwt_algorithms;      /* JWT_ALGORITHMS, comma list, NULL = derived from the key; "none"
                                  is rejected */
    char *jwt_issuer;          /* JWT_ISSUER, NULL when unset */
    char *jwt_audience;        /* JWT_AUDIENCE, NULL when unset */
    char *jwt_user_claim;      /* JWT_USER_CLAIM, default "sub" */
    int jwt_leeway_s;          /* JWT_LEEWAY_SECONDS, default 5, 0..86400 */

    /* Engine.IO / Socket.IO */
    char *cors_origins;       /* CORS_ORIGINS, NULL when unset; "*" or comma list of origins */
    int ping_interval_ms;     /* PING_INTERVAL_MS, default 25000, 1..3600000 */
    int ping_timeout_ms;      /* PING_TIMEOUT_MS, default 20000, 1..3600000 */
    size_t max_payload;       /* MAX_PAYLOAD_BYTES, default 1000000, 1024..104857600 */
    int connect_timeout_ms;   /* CONNECT_TIMEOUT_MS, default 45000, 1..3600000 */
    int max_sockets_per_user; /* MAX_SOCKETS_PER_USER, default 32, 1..100000 */
    size_t outbox_max_bytes;  /* OUTBOX_MAX_BYTES, default 1048576, 1024..1073741824 */

    /* limits */
    int max_connections;        /* MAX_CONNECTIONS, default 0 = open-file limit minus 64 */
    int handshake_rate_per_ip;  /* HANDSHAKE_RATE_PER_IP, default 100/s (burst 2x); 0 = none */
    int http_header_timeout_ms; /* HTTP_HEADER_TIMEOUT_MS, default 10000, 1000..3600000 */
    int http_body_timeout_ms;   /* HTTP_BODY_TIMEOUT_MS, default 10000, 1000..3600000 */
    int json_max_depth;         /* JSON_MAX_DEPTH, default 32, 1..1000 */
    int client_events_per_s;    /* CLIENT_EVENTS_PER_SECOND, default 50; 0 = no limit */

    /* logging */
    bool debug;                    /* DEBUG: "true" or "1" */
    enum gw_log_format log_format; /* LOG_FORMAT: "text" (default) or "json" */
};

/* Fills cfg from the process environment (getenv). cfg is overwritten, not freed first. On
 * success returns 0 and cfg owns its strings. On failure returns -1 and err holds one line per
 * bad variable, each ending in '\n' and naming the variable first ("PORT: ..."); lines that do
 * not fit in errlen bytes are dropped whole, and err is always NUL-terminated. cfg is then left
 * freed (zeroed). The key requirement (JWT_SECRET or JWT_PUBLIC_KEY_FILE) is NOT checked here:
 * see gw_config_require_key().
 *
 * Values that work but look wrong (ENABLE_CHANGE_STREAMS neither true nor false, a JWT_SECRET
 * under 32 bytes, a URI option mongoc does not know) are reported with gw_log_warn during the
 * load, so in whatever format gw_log has at that moment. Parsing MONGODB_URI briefly takes over
 * mongoc's log handler and leaves mongoc's default one installed: install your own after this.
 * Main thread only. */
int gw_config_load(struct gw_config *cfg, char *err, size_t errlen);

/* Same as gw_config_load, but reads variables through `get` (for tests). get returns a borrowed
 * string or NULL when unset; ud is passed through. */
int gw_config_load_from(struct gw_config *cfg, const char *(*get)(const char *name, void *ud),
                        void *ud, char *err, size_t errlen);

/* Returns 0 when a JWT key is configured, else -1 with one sentence in err (GW_ERR_LEN). The
 * product requires a key; the protocol fixture does not. */
int gw_config_require_key(const struct gw_config *cfg, char *err);

/* Frees every string cfg owns (the secret is wiped first) and zeroes cfg. cfg itself is the
 * caller's storage. Safe on a zeroed struct, so calling it twice is harmless. */
void gw_config_free(struct gw_config *cfg);

/* Writes the `--help` text (every variable, grouped, with its meaning, range and default, lines
 * of at most 100 columns) to `out`, a borrowed FILE *. Any thread. */
void gw_config_print_help(void *out);

/* Logs the effective configuration at info level, one line per group (module "config"), secrets
 * masked ("JWT_SECRET=(set, 32 bytes)"), user:password and *password* options in MONGODB_URI
 * replaced by "***". cfg is borrowed. Any thread. */
void gw_config_log(const struct gw_config *cfg);

#endif
