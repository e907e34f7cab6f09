/* config.c -- the environment variables of design §4.1, as one table.
 *
 * Each row names a variable, its kind, default, field in struct gw_config and, for strings, a
 * validator that may also normalise the value. The loader, --help, the startup log line and
 * gw_config_free() all walk the same table, so a variable cannot be added to one and forgotten
 * in another. Values are quoted, escaped and cut short when echoed in an error, so a stray
 * newline cannot forge a second error line; secrets are never echoed at all.
 */
#include "gw/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw/buf.h"
#include "gw/cors.h"
#include "gw/eio_codec.h"
#include "gw/log.h"

enum kind { K_STR, K_INT, K_SIZE, K_BOOL, K_ENUM };
enum group { G_LISTEN, G_STREAMS, G_JWT, G_EIO, G_LIMITS, G_LOG, G_COUNT };

#define F_SECRET 1u  /* never echoed or logged, wiped on free */
#define F_LENIENT 2u /* K_BOOL: an unknown word means off, with a warning */
#define F_URI 4u     /* logged with credentials masked */

typedef int check_fn(char **val, char *err);

struct var {
    const char *name;
    enum group group;
    enum kind kind;
    size_t off;
    const char *def; /* parsed like a set value when unset; NULL leaves a string field NULL */
    long long min, max;
    const char *what;           /* K_INT, K_SIZE: "a whole number of seconds" */
    check_fn *check;            /* K_STR: validates and may replace *val; NULL = any */
    const char *const *choices; /* K_ENUM: names in enum order, NULL-terminated */
    unsigned flags;
    const char *help;
};

static const char *const group_names[G_COUNT] = {
    "listener", "change streams", "JWT", "Engine.IO/Socket.IO", "limits", "logging"};
static const char *const log_formats[] = {"text", "json", NULL};
static check_fn check_path, check_file, check_uri, check_db, check_coll, check_event, check_algs,
    check_cors;

#define OFF(field) offsetof(struct gw_config, field)
#define STR(n, g, f, d, chk, fl, h)                                                                \
    {                                                                                              \
        .name = n, .group = g, .kind = K_STR, .off = OFF(f), .def = d, .check = chk, .flags = fl,  \
        .help = h                                                                                  \
    }
#define NUM(n, g, k, f, d, lo, hi, w, h)                                                           \
    {                                                                                              \
        .name = n, .group = g, .kind = k, .off = OFF(f), .def = d, .min = lo, .max = hi,           \
        .what = w, .help = h                                                                       \
    }
#define BOOL(n, g, f, fl, h)                                                                       \
    {                                                                                              \
        .name = n, .group = g, .kind = K_BOOL, .off = OFF(f), .def = "false", .flags = fl,         \
        .help = h                                                                                  \
    }
#define ENUM(n, g, f, d, names, h)                                                                 \
    {                                                                                              \
        .name = n, .group = g, .kind = K_ENUM, .off = OFF(f), .def = d, .choices = names,          \
        .help = h                                                                                  \
    }
#define MS "a whole number of milliseconds"

static const struct var vars[] = {
    STR("HOST", G_LISTEN, host, "0.0.0.0", NULL, 0, "address to listen on"),
    NUM("PORT", G_LISTEN, K_INT, port, "3000", 0, 65535, "a port number",
        "HTTP and WebSocket port; 0 = any free port"),
    STR("SOCKETIO_PATH", G_LISTEN, socketio_path, "/socket.io/", check_path, 0,
        "Engine.IO/Socket.IO endpoint"),
    STR("TLS_CERT_FILE", G_LISTEN, tls_cert_file, NULL, check_file, 0,
        "PEM certificate chain; with TLS_KEY_FILE serves HTTPS/WSS"),
    STR("TLS_KEY_FILE", G_LISTEN, tls_key_file, NULL, check_file, 0,
        "PEM private key for TLS_CERT_FILE"),
    NUM("SSE_HEARTBEAT_MS", G_LISTEN, K_INT, sse_heartbeat_ms, "15000", 1000, 3600000, MS,
        "comment line sent on idle event streams"),

    BOOL("ENABLE_CHANGE_STREAMS", G_STREAMS, change_streams, F_LENIENT,
         "true/1 starts the MongoDB watcher; anything else: off"),
    STR("MONGODB_URI", G_STREAMS, mongodb_uri, "mongodb://127.0.0.1:27017/?replicaSet=rs0",
        check_uri, F_URI, "connection string"),
    STR("MONGODB_DB", G_STREAMS, mongodb_db, NULL, check_db, 0,
        "database (default: the one in the URI path, else test)"),
    STR("NOTIFICATIONS_COLLECTION", G_STREAMS, notifications_collection, "notifications",
        check_coll, 0, "collection watched and read for catch-up"),
    STR("RESUME_TOKEN_COLLECTION", G_STREAMS, resume_token_collection, "changeStreamResumeTokens",
        check_coll, 0, "collection of resume tokens"),
    STR("RESUME_TOKEN_ID", G_STREAMS, resume_token_id, "notifications", NULL, 0,
        "_id of this instance's token document"),
    STR("NOTIFICATION_EVENT", G_STREAMS, notification_event, "notification", check_event, 0,
        "Socket.IO event emitted to clients"),
    STR("NOTIFICATION_USER_FIELD", G_STREAMS, notification_user_field, "userId", NULL, 0,
        "document field naming the recipient"),
    NUM("CATCHUP_MAX_COUNT", G_STREAMS, K_INT, catchup_max_count, "1000", 0, 100000,
        "a whole number of notifications", "notifications replayed on connect; 0 = off"),
    NUM("CATCHUP_MAX_AGE_SECONDS", G_STREAMS, K_INT, catchup_max_age_s, "604800", 1, 315360000,
        "a whole number of seconds", "oldest notification replayed on connect"),

    STR("JWT_SECRET", G_JWT, jwt_secret, NULL, NULL, F_SECRET,
        "HMAC key for HS256/384/512, 32 bytes or more"),
    STR("JWT_PUBLIC_KEY_FILE", G_JWT, jwt_public_key_file, NULL, check_file, 0,
        "PEM public key for RS*, PS* or ES256/384"),
    STR("JWT_ALGORITHMS", G_JWT, jwt_algorithms, NULL, check_algs, 0,
        "comma list of accepted algorithms (default: from the key)"),
    STR("JWT_ISSUER", G_JWT, jwt_issuer, NULL, NULL, 0, "required iss claim"),
    STR("JWT_AUDIENCE", G_JWT, jwt_audience, NULL, NULL, 0, "required aud claim"),
    STR("JWT_USER_CLAIM", G_JWT, jwt_user_claim, "sub", NULL, 0, "claim holding the user id"),
    NUM("JWT_LEEWAY_SECONDS", G_JWT, K_INT, jwt_leeway_s, "5", 0, 86400,
        "a whole number of seconds", "clock skew allowed on exp, nbf, iat"),

    STR("CORS_ORIGINS", G_EIO, cors_origins, NULL, check_cors, 0,
        "* or comma list of scheme://host[:port]"),
    NUM("PING_INTERVAL_MS", G_EIO, K_INT, ping_interval_ms, "25000", 1, 3600000, MS,
        "heartbeat period"),
    NUM("PING_TIMEOUT_MS", G_EIO, K_INT, ping_timeout_ms, "20000", 1, 3600000, MS,
        "wait for a pong before closing"),
    NUM("MAX_PAYLOAD_BYTES", G_EIO, K_SIZE, max_payload, "1000000", 1024, 104857600,
        "a whole number of bytes", "largest packet accepted"),
    NUM("CONNECT_TIMEOUT_MS", G_EIO, K_INT, connect_timeout_ms, "45000", 1, 3600000, MS,
        "closes a session that sends no CONNECT"),
    NUM("MAX_SOCKETS_PER_USER", G_EIO, K_INT, max_sockets_per_user, "32", 1, 100000,
        "a whole number of sockets", "connections one user may hold"),
    NUM("OUTBOX_MAX_BYTES", G_EIO, K_SIZE, outbox_max_bytes, "1048576", 1024, 1073741824,
        "a whole number of bytes", "per-socket send backlog cap"),

    NUM("MAX_CONNECTIONS", G_LIMITS, K_INT, max_connections, "0", 0, 10000000,
        "a whole number of connections", "open connections; 0 = open-file limit minus 64"),
    NUM("HANDSHAKE_RATE_PER_IP", G_LIMITS, K_INT, handshake_rate_per_ip, "100", 0, 1000000,
        "a whole number per second", "new sessions per second per IP; 0 = none"),
    NUM("HTTP_HEADER_TIMEOUT_MS", G_LIMITS, K_INT, http_header_timeout_ms, "10000", 1000, 3600000,
        MS, "time to send the request headers"),
    NUM("HTTP_BODY_TIMEOUT_MS", G_LIMITS, K_INT, http_body_timeout_ms, "10000", 1000, 3600000, MS,
        "time to send a request body"),
    NUM("JSON_MAX_DEPTH", G_LIMITS, K_INT, json_max_depth, "32", 1, 1000,
        "a whole number of levels", "nesting accepted in client JSON"),
    NUM("CLIENT_EVENTS_PER_SECOND", G_LIMITS, K_INT, client_events_per_s, "50", 0, 1000000,
        "a whole number per second", "events one socket may send; 0 = no limit"),

    BOOL("DEBUG", G_LOG, debug, 0, "true or 1 for verbose logs"),
    ENUM("LOG_FORMAT", G_LOG, log_format, "text", log_formats,
         "text, or json for one object per line"),
};

_Static_assert(sizeof(enum gw_log_format) == sizeof(int), "K_ENUM fields are stored as int");

#define QUOTE_LEN 96

/* Writes s (n bytes) in double quotes, non-printables as \xNN, cut with "..." after 60 bytes or
 * when out is nearly full. */
static const char *quote_n(const char *s, size_t n, char out[QUOTE_LEN])
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 60 || o + 9 > QUOTE_LEN) { /* keeps room for \xNN, "...", '"' and NUL */
            o += (size_t)snprintf(out + o, QUOTE_LEN - o, "...");
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, QUOTE_LEN - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    snprintf(out + o, QUOTE_LEN - o, "\"");
    return out;
}

static const char *quote(const char *s, char out[QUOTE_LEN])
{
    return quote_n(s, strlen(s), out);
}

static void replace(char **val, char *with)
{
    free(*val);
    *val = with;
}

/* The URI with user:password and the values of *password* options replaced by "***". Everything
 * up to the last '@' goes, so an unescaped '@' or '/' in a password cannot leak its tail. */
static char *mask_uri(const char *uri)
{
    struct gw_buf b = GW_BUF_INIT;
    const char *rest = strstr(uri, "://");
    rest = rest ? rest + 3 : uri;
    gw_buf_append(&b, uri, (size_t)(rest - uri));
    const char *at = strrchr(rest, '@');
    if (at) {
        gw_buf_append_str(&b, "***");
        rest = at;
    }
    const char *q = strchr(rest, '?');
    gw_buf_append(&b, rest, q ? (size_t)(q + 1 - rest) : strlen(rest));
    for (const char *p = q ? q + 1 : ""; *p;) {
        size_t n = strcspn(p, "&;"), key = strcspn(p, "=");
        bool secret = key < n && memmem(p, key, "assword", 7) != NULL;
        if (secret) {
            gw_buf_append(&b, p, key);
            gw_buf_append_str(&b, "=***");
        } else {
            gw_buf_append(&b, p, n);
        }
        if (p[n])
            gw_buf_append_char(&b, p[n++]);
        p += n;
    }
    return gw_buf_steal(&b, NULL);
}

/* ---- validators: 0, or -1 with a sentence about the value (the loader prefixes the name) ---- */

static int check_path(char **val, char *err)
{
    char q[QUOTE_LEN];
    const char *p = *val;
    if (p[0] != '/')
        return gw_set_error(err, "%s does not start with '/'", quote(p, q));
    for (; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p) || *p == '?' || *p == '#')
            return gw_set_error(err, "%s contains a space, control character, '?' or '#'",
                                quote(*val, q));
    if (p[-1] != '/') {
        char *with_slash = gw_malloc(strlen(*val) + 2);
        sprintf(with_slash, "%s/", *val);
        replace(val, with_slash);
    }
    return 0;
}

static int check_file(char **val, char *err)
{
    char q[QUOTE_LEN];
    struct stat st;
    int fd = open(*val, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not hang the start */
    if (fd < 0)
        return gw_set_error(err, "%s cannot be read: %s", quote(*val, q), strerror(errno));
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!regular)
        return gw_set_error(err, "%s is not a regular file", quote(*val, q));
    return 0;
}

/* mongoc explains a rejected URI through its log handler ("Port could not be parsed") and only
 * returns a vague error; catch those lines while parsing so they join the one error line. */
static void collect_mongoc_log(mongoc_log_level_t level, const char *domain, const char *msg,
                               void *ud)
{
    struct gw_buf *b = ud;
    gw_buf_printf(b, "%s%s", b->len ? "; " : "", msg);
}

/* Parses a URI with mongoc's log lines going into detail. The config loads before anything
 * installs its own mongoc handler, so restoring mongoc's default one is right. */
static mongoc_uri_t *parse_uri(const char *s, struct gw_buf *detail, bson_error_t *e)
{
    mongoc_log_set_handler(collect_mongoc_log, detail);
    mongoc_uri_t *uri = mongoc_uri_new_with_error(s, e);
    mongoc_log_set_handler(mongoc_log_default_handler, NULL);
    return uri;
}

static int check_uri(char **val, char *err)
{
    char q[QUOTE_LEN], *shown = mask_uri(*val);
    struct gw_buf detail = GW_BUF_INIT;
    bson_error_t e;
    int rc = 0;

    quote(shown, q);
    free(shown);
    if (strncmp(*val, "mongodb://", 10) != 0 && strncmp(*val, "mongodb+srv://", 14) != 0)
        return gw_set_error(err, "%s does not start with mongodb:// or mongodb+srv://", q);
    mongoc_uri_t *uri = parse_uri(*val, &detail, &e);
    if (!uri)
        rc = gw_set_error(err, "%s is not a valid MongoDB URI: %s%s%s", q, e.message,
                          detail.len ? ": " : "", detail.len ? detail.data : "");
    else if (detail.len)
        gw_log_warn("config", "MONGODB_URI: %s", detail.data);
    mongoc_uri_destroy(uri);
    gw_buf_free(&detail);
    return rc;
}

static int check_db(char **val, char *err)
{
    char q[QUOTE_LEN];
    if (strpbrk(*val, "/\\. \"$") || strlen(*val) > 63)
        return gw_set_error(err, "%s is not a database name (at most 63 bytes, none of /\\. \"$)",
                            quote(*val, q));
    return 0;
}

static int check_coll(char **val, char *err)
{
    char q[QUOTE_LEN];
    if (strchr(*val, '$'))
        return gw_set_error(err, "%s is not a collection name: it contains '$'", quote(*val, q));
    if (strncmp(*val, "system.", 7) == 0)
        return gw_set_error(err, "%s is not a collection name: system.* is reserved",
                            quote(*val, q));
    return 0;
}

/* socket.io clients treat these names specially, so a notification sent as one never reaches
 * application code. */
static int check_event(char **val, char *err)
{
    static const char *const reserved[] = {"connect",       "connect_error", "disconnect",
                                           "disconnecting", "newListener",   "removeListener"};
    char q[QUOTE_LEN];
    /* It goes into every emitted packet as a JSON string: it must be text. */
    if (!gw_utf8_valid(*val, strlen(*val)))
        return gw_set_error(err, "%s is not valid UTF-8", quote(*val, q));
    for (size_t i = 0; i < GW_ARRAY_SIZE(reserved); i++)
        if (strcmp(*val, reserved[i]) == 0)
            return gw_set_error(err, "%s is reserved by Socket.IO", quote(*val, q));
    return 0;
}

typedef int item_fn(const char *s, size_t n, struct gw_buf *out, char *err);

/* Splits a comma list, trims blanks around items, rejects empty items and rebuilds the list
 * from what `item` appends, so the stored value is in one canonical form. */
static int check_list(char **val, item_fn *item, char *err)
{
    struct gw_buf out = GW_BUF_INIT;
    for (const char *p = *val;; p++) {
        size_t n = strcspn(p, ",");
        const char *s = p, *end = p + n;
        while (s < end && isblank((unsigned char)*s))
            s++;
        while (end > s && isblank((unsigned char)end[-1]))
            end--;
        if (s == end) {
            gw_set_error(err, "the list has an empty item");
            goto fail;
        }
        if (out.len)
            gw_buf_append_char(&out, ',');
        if (item(s, (size_t)(end - s), &out, err) < 0)
            goto fail;
        p += n;
        if (!*p)
            break;
    }
    replace(val, gw_buf_steal(&out, NULL));
    return 0;
fail:
    gw_buf_free(&out);
    return -1;
}

static int alg_item(const char *s, size_t n, struct gw_buf *out, char *err)
{
    static const char *const known[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
                                        "PS256", "PS384", "PS512", "ES256", "ES384"};
    char q[QUOTE_LEN];
    for (size_t i = 0; i < GW_ARRAY_SIZE(known); i++) {
        if (strlen(known[i]) == n && memcmp(s, known[i], n) == 0) {
            gw_buf_append(out, s, n);
            return 0;
        }
    }
    if (n == 4 && strncasecmp(s, "none", 4) == 0)
        return gw_set_error(err, "%s is never accepted", quote_n(s, n, q));
    return gw_set_error(err,
                        "%s is not a known algorithm (HS256/384/512, RS256/384/512, "
                        "PS256/384/512, ES256/384)",
                        quote_n(s, n, q));
}

static int check_algs(char **val, char *err)
{
    return check_list(val, alg_item, err);
}

/* An origin as browsers send it: scheme://host[:port], no path, no trailing '/'. Stored in
 * lowercase because browsers serialise origins that way and the match is exact. */
static int origin_item(const char *s, size_t n, struct gw_buf *out, char *err)
{
    char q[QUOTE_LEN];
    if (gw_cors_origin_canonical(s, n, out) == 0)
        return 0;
    return gw_set_error(err, "%s is not an origin (scheme://host[:port], no path)",
                        quote_n(s, n, q));
}

static int check_cors(char **val, char *err)
{
    if (strcmp(*val, "*") == 0)
        return 0;
    if (strchr(*val, '*'))
        return gw_set_error(err, "\"*\" allows every origin and cannot be combined with others");
    return check_list(val, origin_item, err);
}

/* ---- the loader ---- */

static void *field(struct gw_config *cfg, const struct var *v)
{
    return (char *)cfg + v->off;
}

/* Decimal digits only: no sign, blanks, hex or trailing text. Saturates instead of overflowing. */
static int parse_num(const struct var *v, const char *s, long long *out, char *err)
{
    char q[QUOTE_LEN];
    unsigned long long n = 0;
    if (!*s || strspn(s, "0123456789") != strlen(s))
        return gw_set_error(err, "%s is not %s (%lld..%lld)", quote(s, q), v->what, v->min, v->max);
    for (const char *p = s; *p && n <= (unsigned long long)v->max; p++)
        n = n * 10 + (unsigned long long)(*p - '0');
    if (n < (unsigned long long)v->min || n > (unsigned long long)v->max)
        return gw_set_error(err, "%s is out of range (%lld..%lld)", quote(s, q), v->min, v->max);
    *out = (long long)n;
    return 0;
}

static bool word_is(const char *s, const char *a, const char *b)
{
    return strcasecmp(s, a) == 0 || strcmp(s, b) == 0;
}

/* Parses one value into its field. Returns 0 or -1 with err about the value (no name). */
static int parse_var(struct gw_config *cfg, const struct var *v, const char *s, char *err)
{
    char q[QUOTE_LEN];
    long long n = 0;
    switch (v->kind) {
    case K_STR: {
        char **slot = field(cfg, v);
        if (!*s)
            return gw_set_error(err, "is set but empty; unset it or give a value");
        *slot = gw_strdup(s);
        if (v->check && v->check(slot, err) < 0) {
            free(*slot);
            *slot = NULL;
            return -1;
        }
        return 0;
    }
    case K_INT:
    case K_SIZE:
        if (parse_num(v, s, &n, err) < 0)
            return -1;
        if (v->kind == K_INT)
            *(int *)field(cfg, v) = (int)n;
        else
            *(size_t *)field(cfg, v) = (size_t)n;
        return 0;
    case K_BOOL:
        if (word_is(s, "true", "1") || word_is(s, "false", "0") || !*s) {
            *(bool *)field(cfg, v) = word_is(s, "true", "1");
            return 0;
        }
        if (v->flags & F_LENIENT) {
            gw_log_warn("config", "%s: %s is not true/1 or false/0; taken as false (off)", v->name,
                        quote(s, q));
            *(bool *)field(cfg, v) = false;
            return 0;
        }
        return gw_set_error(err, "%s is not true/1 or false/0", quote(s, q));
    case K_ENUM:
        for (int i = 0; v->choices[i]; i++) {
            if (strcasecmp(s, v->choices[i]) == 0) {
                *(int *)field(cfg, v) = i;
                return 0;
            }
        }
        return gw_set_error(err, "%s is not %s or %s", quote(s, q), v->choices[0], v->choices[1]);
    }
    return 0;
}

/* Rules that involve more than one variable, run once every variable has been read. */
static void check_together(struct gw_config *cfg, struct gw_buf *errs)
{
    if (!cfg->tls_cert_file != !cfg->tls_key_file)
        gw_buf_printf(errs, "%s: must be set too when %s is set (both or neither)\n",
                      cfg->tls_cert_file ? "TLS_KEY_FILE" : "TLS_CERT_FILE",
                      cfg->tls_cert_file ? "TLS_CERT_FILE" : "TLS_KEY_FILE");

    if (cfg->jwt_secret) {
        cfg->jwt_secret_len = strlen(cfg->jwt_secret);
        if (cfg->jwt_secret_len < 32)
            gw_log_warn("config", "JWT_SECRET is %zu bytes; 32 or more resist brute force",
                        cfg->jwt_secret_len);
    }

    if (!cfg->mongodb_db && cfg->mongodb_uri) {
        char err[GW_ERR_LEN];
        struct gw_buf ignored = GW_BUF_INIT; /* check_uri already reported it */
        bson_error_t e;
        mongoc_uri_t *uri = parse_uri(cfg->mongodb_uri, &ignored, &e);
        gw_buf_free(&ignored);
        const char *db = uri ? mongoc_uri_get_database(uri) : NULL;
        cfg->mongodb_db = gw_strdup(db ? db : "test");
        if (check_db(&cfg->mongodb_db, err) < 0)
            gw_buf_printf(errs, "MONGODB_URI: the database in the path: %s\n", err);
        mongoc_uri_destroy(uri);
    }
}

/* Copies whole lines of src into err, dropping the lines that do not fit. */
static void copy_lines(char *err, size_t errlen, const char *src, size_t len)
{
    if (errlen == 0)
        return;
    if (len >= errlen) {
        len = errlen - 1;
        while (len > 0 && src[len - 1] != '\n')
            len--;
    }
    memcpy(err, src, len);
    err[len] = '\0';
}

int gw_config_load_from(struct gw_config *cfg, const char *(*get)(const char *name, void *ud),
                        void *ud, char *err, size_t errlen)
{
    struct gw_buf errs = GW_BUF_INIT;
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < GW_ARRAY_SIZE(vars); i++) {
        const struct var *v = &vars[i];
        const char *s = get(v->name, ud);
        char why[GW_ERR_LEN];
        if (!s)
            s = v->def;
        if (s && parse_var(cfg, v, s, why) < 0)
            gw_buf_printf(&errs, "%s: %s\n", v->name, why);
    }
    check_together(cfg, &errs);
    if (errs.len == 0) {
        if (errlen)
            err[0] = '\0';
        return 0;
    }
    copy_lines(err, errlen, errs.data, errs.len);
    gw_buf_free(&errs);
    gw_config_free(cfg);
    return -1;
}

static const char *get_env(const char *name, void *ud)
{
    return getenv(name);
}

int gw_config_load(struct gw_config *cfg, char *err, size_t errlen)
{
    return gw_config_load_from(cfg, get_env, NULL, err, errlen);
}

int gw_config_require_key(const struct gw_config *cfg, char *err)
{
    if (cfg->jwt_secret || cfg->jwt_public_key_file)
        return 0;
    return gw_set_error(err, "no JWT key configured: set JWT_SECRET (HMAC) or "
                             "JWT_PUBLIC_KEY_FILE (RSA or EC public key)");
}

void gw_config_free(struct gw_config *cfg)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(vars); i++) {
        char **slot = field(cfg, &vars[i]);
        if (vars[i].kind != K_STR || !*slot)
            continue;
        if (vars[i].flags & F_SECRET)
            explicit_bzero(*slot, strlen(*slot));
        free(*slot);
    }
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- help and the startup log ---- */

void gw_config_print_help(void *out)
{
    FILE *f = out;
    fprintf(f, "Configuration is read from these environment variables:\n");
    for (size_t i = 0; i < GW_ARRAY_SIZE(vars); i++) {
        const struct var *v = &vars[i];
        if (i == 0 || vars[i - 1].group != v->group)
            fprintf(f, "\n%c%s:\n", toupper(group_names[v->group][0]), group_names[v->group] + 1);
        fprintf(f, "  %-25s %s", v->name, v->help);
        if (v->kind == K_INT || v->kind == K_SIZE)
            fprintf(f, " (%lld..%lld, default: %s)", v->min, v->max, v->def);
        else if (v->def)
            fprintf(f, " (default: %s)", v->def);
        fputc('\n', f);
    }
}

static void append_value(struct gw_buf *b, const struct gw_config *cfg, const struct var *v)
{
    const void *p = (const char *)cfg + v->off;
    const char *s = v->kind == K_STR ? *(char *const *)p : NULL;
    switch (v->kind) {
    case K_STR:
        if (!s) {
            gw_buf_append_str(b, "(unset)");
        } else if (v->flags & F_SECRET) {
            gw_buf_printf(b, "(set, %zu bytes)", strlen(s));
        } else if (v->flags & F_URI) {
            char *masked = mask_uri(s);
            gw_buf_append_str(b, masked);
            free(masked);
        } else {
            gw_buf_append_str(b, s);
        }
        break;
    case K_INT:
        gw_buf_printf(b, "%d", *(const int *)p);
        break;
    case K_SIZE:
        gw_buf_printf(b, "%zu", *(const size_t *)p);
        break;
    case K_BOOL:
        gw_buf_append_str(b, *(const bool *)p ? "true" : "false");
        break;
    case K_ENUM:
        gw_buf_append_str(b, v->choices[*(const int *)p]);
        break;
    }
}

void gw_config_log(const struct gw_config *cfg)
{
    struct gw_buf line = GW_BUF_INIT;
    for (size_t i = 0; i < GW_ARRAY_SIZE(vars); i++) {
        const struct var *v = &vars[i];
        gw_buf_printf(&line, "%s%s=", line.len ? " " : "", v->name);
        append_value(&line, cfg, v);
        if (i + 1 == GW_ARRAY_SIZE(vars) || vars[i + 1].group != v->group) {
            gw_log_info("config", "%s: %s", group_names[v->group], line.data);
            gw_buf_reset(&line);
        }
    }
    gw_buf_free(&line);
}
