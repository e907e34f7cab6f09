/* test_config.c -- defaults, every variable's good and bad forms, the error lines, masking. */
#include "gw/config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw/log.h"
#include "test.h"

/* A fake environment: a NULL-terminated list of name, value pairs. */
static const char *env_get(const char *name, void *ud)
{
    for (const char **kv = ud; *kv; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

static char err[4096];

#define LOAD(cfg, ...)                                                                             \
    gw_config_load_from(cfg, env_get, (const char *[]){__VA_ARGS__, NULL}, err, sizeof(err))

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static char tmpdir[] = "/tmp/gw-test-config-dir-XXXXXX";
static char cert[64], key[64], pub[64];

static void make_files(void)
{
    GW_ASSERT(mkdtemp(tmpdir) != NULL);
    snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
    snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
    snprintf(pub, sizeof(pub), "%s/pub.pem", tmpdir);
    const char *files[] = {cert, key, pub};
    for (size_t i = 0; i < GW_ARRAY_SIZE(files); i++) {
        int fd = open(files[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        GW_ASSERT(fd >= 0 && write(fd, "pem\n", 4) == 4);
        close(fd);
    }
}

static void remove_files(void)
{
    unlink(cert);
    unlink(key);
    unlink(pub);
    rmdir(tmpdir);
}

static void test_defaults(void)
{
    struct gw_config c;
    CHECK_INT_EQ(LOAD(&c, NULL), 0);
    CHECK_STR_EQ(err, "");
    CHECK_STR_EQ(c.host, "0.0.0.0");
    CHECK_INT_EQ(c.port, 3000);
    CHECK_STR_EQ(c.socketio_path, "/socket.io/");
    CHECK(c.tls_cert_file == NULL && c.tls_key_file == NULL);
    CHECK(!c.change_streams);
    CHECK_STR_EQ(c.mongodb_uri, "mongodb://127.0.0.1:27017/?replicaSet=rs0");
    CHECK_STR_EQ(c.mongodb_db, "test");
    CHECK_STR_EQ(c.notifications_collection, "notifications");
    CHECK_STR_EQ(c.resume_token_collection, "changeStreamResumeTokens");
    CHECK_STR_EQ(c.resume_token_id, "notifications");
    CHECK_STR_EQ(c.notification_event, "notification");
    CHECK_STR_EQ(c.notification_user_field, "userId");
    CHECK(c.jwt_secret == NULL && c.jwt_secret_len == 0 && c.jwt_public_key_file == NULL);
    CHECK(c.jwt_algorithms == NULL && c.jwt_issuer == NULL && c.jwt_audience == NULL);
    CHECK_STR_EQ(c.jwt_user_claim, "sub");
    CHECK_INT_EQ(c.jwt_leeway_s, 5);
    CHECK(c.cors_origins == NULL);
    CHECK_INT_EQ(c.ping_interval_ms, 25000);
    CHECK_INT_EQ(c.ping_timeout_ms, 20000);
    CHECK_INT_EQ(c.max_payload, 1000000);
    CHECK_INT_EQ(c.connect_timeout_ms, 45000);
    CHECK_INT_EQ(c.max_sockets_per_user, 32);
    CHECK_INT_EQ(c.outbox_max_bytes, 1048576);
    CHECK(!c.debug);
    CHECK_INT_EQ(c.log_format, GW_LOG_FORMAT_TEXT);
    gw_config_free(&c);
}

static void test_valid_values(void)
{
    struct gw_config c;
    int rc =
        LOAD(&c, "HOST", "127.0.0.1", "PORT", "0", "SOCKETIO_PATH", "/ws", "TLS_CERT_FILE", cert,
             "TLS_KEY_FILE", key, "ENABLE_CHANGE_STREAMS", "TRUE", "MONGODB_URI",
             "mongodb://db1:27017,db2:27018/app?replicaSet=rs1", "NOTIFICATIONS_COLLECTION",
             "inbox", "RESUME_TOKEN_COLLECTION", "tokens", "RESUME_TOKEN_ID", "gw-2",
             "NOTIFICATION_EVENT", "notice", "NOTIFICATION_USER_FIELD", "owner", "JWT_SECRET",
             "0123456789abcdef0123456789abcdef", "JWT_PUBLIC_KEY_FILE", pub, "JWT_ALGORITHMS",
             " HS256 , RS384,ES256", "JWT_ISSUER", "https://issuer.example", "JWT_AUDIENCE",
             "gateway", "JWT_USER_CLAIM", "uid", "JWT_LEEWAY_SECONDS", "86400", "CORS_ORIGINS",
             "http://localhost:5173, HTTPS://App.Example.com,http://[::1]:8080", "PING_INTERVAL_MS",
             "300", "PING_TIMEOUT_MS", "200", "MAX_PAYLOAD_BYTES", "104857600",
             "CONNECT_TIMEOUT_MS", "3600000", "MAX_SOCKETS_PER_USER", "100000", "OUTBOX_MAX_BYTES",
             "1073741824", "DEBUG", "1", "LOG_FORMAT", "json", "UNKNOWN_VARIABLE", "is ignored");
    CHECK_INT_EQ(rc, 0);
    CHECK_STR_EQ(err, "");
    CHECK_STR_EQ(c.host, "127.0.0.1");
    CHECK_INT_EQ(c.port, 0);
    CHECK_STR_EQ(c.socketio_path, "/ws/");
    CHECK_STR_EQ(c.tls_cert_file, cert);
    CHECK_STR_EQ(c.tls_key_file, key);
    CHECK(c.change_streams);
    CHECK_STR_EQ(c.mongodb_db, "app");
    CHECK_STR_EQ(c.notifications_collection, "inbox");
    CHECK_STR_EQ(c.resume_token_collection, "tokens");
    CHECK_STR_EQ(c.resume_token_id, "gw-2");
    CHECK_STR_EQ(c.notification_event, "notice");
    CHECK_STR_EQ(c.notification_user_field, "owner");
    CHECK_STR_EQ(c.jwt_secret, "0123456789abcdef0123456789abcdef");
    CHECK_INT_EQ(c.jwt_secret_len, 32);
    CHECK_STR_EQ(c.jwt_public_key_file, pub);
    CHECK_STR_EQ(c.jwt_algorithms, "HS256,RS384,ES256");
    CHECK_STR_EQ(c.jwt_issuer, "https://issuer.example");
    CHECK_STR_EQ(c.jwt_audience, "gateway");
    CHECK_STR_EQ(c.jwt_user_claim, "uid");
    CHECK_INT_EQ(c.jwt_leeway_s, 86400);
    CHECK_STR_EQ(c.cors_origins, "http://localhost:5173,https://app.example.com,http://[::1]:8080");
    CHECK_INT_EQ(c.ping_interval_ms, 300);
    CHECK_INT_EQ(c.ping_timeout_ms, 200);
    CHECK_INT_EQ(c.max_payload, 104857600);
    CHECK_INT_EQ(c.connect_timeout_ms, 3600000);
    CHECK_INT_EQ(c.max_sockets_per_user, 100000);
    CHECK_INT_EQ(c.outbox_max_bytes, 1073741824);
    CHECK(c.debug);
    CHECK_INT_EQ(c.log_format, GW_LOG_FORMAT_JSON);
    gw_config_free(&c);
}

/* One variable set to `value` must load, and field(c) must then equal want. */
struct good {
    const char *name, *value, *want;
    size_t off; /* of a char * field; or of an int/size_t field when want is a number */
    char kind;  /* 's' string, 'i' int, 'z' size_t, 'b' bool */
};

#define S(n, v, w, f)                                                                              \
    {                                                                                              \
        n, v, w, offsetof(struct gw_config, f), 's'                                                \
    }
#define I(n, v, f)                                                                                 \
    {                                                                                              \
        n, v, v, offsetof(struct gw_config, f), 'i'                                                \
    }
#define Z(n, v, f)                                                                                 \
    {                                                                                              \
        n, v, v, offsetof(struct gw_config, f), 'z'                                                \
    }
#define B(n, v, w, f)                                                                              \
    {                                                                                              \
        n, v, w, offsetof(struct gw_config, f), 'b'                                                \
    }

static void test_good_forms(void)
{
    static const struct good cases[] = {
        S("SOCKETIO_PATH", "/", "/", socketio_path),
        S("SOCKETIO_PATH", "/a/b", "/a/b/", socketio_path),
        S("SOCKETIO_PATH", "/engine.io/", "/engine.io/", socketio_path),
        S("HOST", "::", "::", host),
        S("MONGODB_URI", "mongodb://u:p@h/mydb?replicaSet=rs0", "mydb", mongodb_db),
        S("MONGODB_URI", "mongodb+srv://u:p@cluster0.example.com/db2", "db2", mongodb_db),
        S("MONGODB_URI", "mongodb://h:27017", "test", mongodb_db),
        S("MONGODB_DB", "notify_prod", "notify_prod", mongodb_db),
        S("JWT_ALGORITHMS", "PS512", "PS512", jwt_algorithms),
        S("JWT_ALGORITHMS", "HS256,HS384,HS512,RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384",
          "HS256,HS384,HS512,RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384", jwt_algorithms),
        S("CORS_ORIGINS", "*", "*", cors_origins),
        S("CORS_ORIGINS", "capacitor://localhost", "capacitor://localhost", cors_origins),
        S("CORS_ORIGINS", "https://a.example:65535", "https://a.example:65535", cors_origins),
        S("JWT_SECRET", "short", "short", jwt_secret),
        I("PORT", "65535", port),
        I("PORT", "08080", port),
        I("JWT_LEEWAY_SECONDS", "0", jwt_leeway_s),
        I("PING_INTERVAL_MS", "1", ping_interval_ms),
        I("PING_TIMEOUT_MS", "3600000", ping_timeout_ms),
        I("CONNECT_TIMEOUT_MS", "1", connect_timeout_ms),
        I("MAX_SOCKETS_PER_USER", "1", max_sockets_per_user),
        Z("MAX_PAYLOAD_BYTES", "1024", max_payload),
        Z("OUTBOX_MAX_BYTES", "1024", outbox_max_bytes),
        B("DEBUG", "true", "1", debug),
        B("DEBUG", "True", "1", debug),
        B("DEBUG", "false", "0", debug),
        B("DEBUG", "FALSE", "0", debug),
        B("DEBUG", "0", "0", debug),
        B("DEBUG", "", "0", debug),
        B("ENABLE_CHANGE_STREAMS", "1", "1", change_streams),
        B("ENABLE_CHANGE_STREAMS", "true", "1", change_streams),
        B("ENABLE_CHANGE_STREAMS", "0", "0", change_streams),
        B("ENABLE_CHANGE_STREAMS", "", "0", change_streams),
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        const struct good *g = &cases[i];
        struct gw_config c;
        char *p = (char *)&c + g->off;
        test_capture_start(); /* a short JWT_SECRET warns */
        int rc = LOAD(&c, g->name, g->value);
        free(test_capture_end());
        if (rc != 0) {
            TEST_FAIL_AT("%s=\"%s\" rejected: %s", g->name, g->value, err);
            continue;
        }
        if (g->kind == 's')
            CHECK_STR_EQ(*(char **)p, g->want);
        else if (g->kind == 'i')
            CHECK_INT_EQ(*(int *)p, atoll(g->want));
        else if (g->kind == 'z')
            CHECK_INT_EQ(*(size_t *)p, atoll(g->want));
        else
            CHECK_INT_EQ(*(bool *)p, atoi(g->want));
        gw_config_free(&c);
    }
}

/* One bad variable must give exactly the one line `name: ` + message containing `want`. */
struct bad {
    const char *name, *value, *want;
};

static void test_bad_forms(void)
{
    char nofile[128], toolong[80];
    snprintf(nofile, sizeof(nofile), "%s/missing.pem", tmpdir);
    memset(toolong, 'd', 64);
    toolong[64] = '\0';
    const struct bad cases[] = {
        {"HOST", "", "is set but empty; unset it or give a value"},
        {"PORT", "http", "\"http\" is not a port number (0..65535)"},
        {"PORT", "65536", "\"65536\" is out of range (0..65535)"},
        {"PORT", "-1", "is not a port number"},
        {"PORT", "+80", "is not a port number"},
        {"PORT", " 80", "is not a port number"},
        {"PORT", "80 ", "is not a port number"},
        {"PORT", "0x50", "is not a port number"},
        {"PORT", "", "is not a port number"},
        {"PORT", "99999999999999999999999999", "is out of range (0..65535)"},
        {"PING_INTERVAL_MS", "abc", "\"abc\" is not a whole number of milliseconds (1..3600000)"},
        {"PING_INTERVAL_MS", "0", "\"0\" is out of range (1..3600000)"},
        {"PING_INTERVAL_MS", "25000ms", "is not a whole number of milliseconds"},
        {"PING_TIMEOUT_MS", "1.5", "is not a whole number of milliseconds"},
        {"PING_TIMEOUT_MS", "3600001", "is out of range (1..3600000)"},
        {"CONNECT_TIMEOUT_MS", "0", "is out of range (1..3600000)"},
        {"JWT_LEEWAY_SECONDS", "86401", "is out of range (0..86400)"},
        {"JWT_LEEWAY_SECONDS", "5s", "is not a whole number of seconds (0..86400)"},
        {"MAX_PAYLOAD_BYTES", "1023", "is out of range (1024..104857600)"},
        {"MAX_PAYLOAD_BYTES", "1MB", "is not a whole number of bytes"},
        {"MAX_SOCKETS_PER_USER", "0", "is out of range (1..100000)"},
        {"OUTBOX_MAX_BYTES", "1073741825", "is out of range (1024..1073741824)"},
        {"DEBUG", "yes", "\"yes\" is not true/1 or false/0"},
        {"DEBUG", "2", "is not true/1 or false/0"},
        {"LOG_FORMAT", "xml", "\"xml\" is not text or json"},
        {"LOG_FORMAT", "", "is not text or json"},
        {"SOCKETIO_PATH", "socket.io/", "does not start with '/'"},
        {"SOCKETIO_PATH", "/a b/", "contains a space, control character, '?' or '#'"},
        {"SOCKETIO_PATH", "/a?b", "contains a space"},
        {"SOCKETIO_PATH", "/a#b", "contains a space"},
        {"SOCKETIO_PATH", "/a\tb", "\"/a\\x09b\" contains"},
        {"TLS_CERT_FILE", nofile, "cannot be read: No such file or directory"},
        {"TLS_KEY_FILE", tmpdir, "is not a regular file"},
        {"JWT_PUBLIC_KEY_FILE", nofile, "cannot be read"},
        {"JWT_PUBLIC_KEY_FILE", "", "is set but empty"},
        {"JWT_SECRET", "", "is set but empty"},
        {"JWT_ALGORITHMS", "none", "\"none\" is never accepted"},
        {"JWT_ALGORITHMS", "HS256,None", "\"None\" is never accepted"},
        {"JWT_ALGORITHMS", "hs256", "\"hs256\" is not a known algorithm"},
        {"JWT_ALGORITHMS", "HS256,EdDSA", "\"EdDSA\" is not a known algorithm"},
        {"JWT_ALGORITHMS", "HS256,,RS256", "the list has an empty item"},
        {"JWT_ALGORITHMS", "HS256,", "the list has an empty item"},
        {"JWT_ISSUER", "", "is set but empty"},
        {"JWT_AUDIENCE", "", "is set but empty"},
        {"JWT_USER_CLAIM", "", "is set but empty"},
        {"CORS_ORIGINS", "https://a.example/", "is not an origin (scheme://host[:port], no path)"},
        {"CORS_ORIGINS", "https://a.example/app", "is not an origin"},
        {"CORS_ORIGINS", "a.example", "is not an origin"},
        {"CORS_ORIGINS", "https://", "is not an origin"},
        {"CORS_ORIGINS", "https://a.example:0", "is not an origin"},
        {"CORS_ORIGINS", "https://a.example:65536", "is not an origin"},
        {"CORS_ORIGINS", "https://a.example:", "is not an origin"},
        {"CORS_ORIGINS", "https://a.example?x=1", "is not an origin"},
        {"CORS_ORIGINS", "http://[::1", "is not an origin"},
        {"CORS_ORIGINS", "https://ok.example,https://bad.example/x",
         "\"https://bad.example/x\" is not an origin"},
        {"CORS_ORIGINS", "*,https://a.example", "cannot be combined with others"},
        {"CORS_ORIGINS", "", "is set but empty"},
        {"MONGODB_URI", "http://127.0.0.1:27017",
         "does not start with mongodb:// or mongodb+srv://"},
        {"MONGODB_URI", "mongodb://h:99999/x", "is not a valid MongoDB URI: Invalid host string"},
        {"MONGODB_URI", "mongodb://h/x?tls=maybe", "is not a valid MongoDB URI"},
        {"MONGODB_URI", "mongodb://h/a.b", "is not a valid MongoDB URI"},
        {"MONGODB_DB", "a.b", "is not a database name"},
        {"MONGODB_DB", "a$b", "is not a database name"},
        {"MONGODB_DB", toolong, "is not a database name (at most 63 bytes"},
        {"NOTIFICATIONS_COLLECTION", "a$b", "\"a$b\" is not a collection name: it contains '$'"},
        {"NOTIFICATIONS_COLLECTION", "system.users", "system.* is reserved"},
        {"NOTIFICATIONS_COLLECTION", "", "is set but empty"},
        {"RESUME_TOKEN_COLLECTION", "$tokens", "it contains '$'"},
        {"RESUME_TOKEN_ID", "", "is set but empty"},
        {"NOTIFICATION_EVENT", "connect", "\"connect\" is reserved by Socket.IO"},
        {"NOTIFICATION_EVENT", "disconnect", "is reserved by Socket.IO"},
        {"NOTIFICATION_EVENT", "bad\xff", "is not valid UTF-8"},
        {"NOTIFICATION_EVENT", "", "is set but empty"},
        {"NOTIFICATION_USER_FIELD", "", "is set but empty"},
    };
    for (size_t i = 0; i < GW_ARRAY_SIZE(cases); i++) {
        const struct bad *b = &cases[i];
        struct gw_config c;
        size_t nlen = strlen(b->name);
        test_capture_start(); /* mongoc's own complaints are folded into err; nothing else */
        int rc = LOAD(&c, b->name, b->value);
        free(test_capture_end());
        if (rc != -1) {
            TEST_FAIL_AT("%s=\"%s\" accepted", b->name, b->value);
            gw_config_free(&c);
            continue;
        }
        if (count_lines(err) != 1 || strncmp(err, b->name, nlen) != 0 ||
            strncmp(err + nlen, ": ", 2) != 0 || !strstr(err, b->want))
            TEST_FAIL_AT("%s=\"%s\": got \"%s\", want one line containing \"%s\"", b->name,
                         b->value, err, b->want);
        test_checks++;
        CHECK(c.host == NULL && c.mongodb_uri == NULL); /* left freed */
    }
}

static void test_exact_messages(void)
{
    struct gw_config c;
    CHECK_INT_EQ(LOAD(&c, "PING_INTERVAL_MS", "abc"), -1);
    CHECK_STR_EQ(err, "PING_INTERVAL_MS: \"abc\" is not a whole number of milliseconds "
                      "(1..3600000)\n");
    /* a newline in a value cannot fake a second error line, and long values are cut */
    CHECK_INT_EQ(LOAD(&c, "HOST", "ok", "DEBUG", "on\nPORT: forged"), -1);
    CHECK_STR_EQ(err, "DEBUG: \"on\\x0aPORT: forged\" is not true/1 or false/0\n");
    char lng[200], want[200];
    memset(lng, 'x', 150);
    lng[150] = '\0';
    snprintf(want, sizeof(want), "LOG_FORMAT: \"%.60s...\" is not text or json\n", lng);
    CHECK_INT_EQ(LOAD(&c, "LOG_FORMAT", lng), -1);
    CHECK_STR_EQ(err, want);
    memset(lng, '\x01', 150); /* escapes take four bytes each: still cut, still marked */
    CHECK_INT_EQ(LOAD(&c, "LOG_FORMAT", lng), -1);
    CHECK(strlen(err) <= strlen("LOG_FORMAT: ") + 95 + strlen(" is not text or json\n") &&
          strstr(err, "\\x01...\" is not text or json\n") != NULL);
}

static void test_every_bad_variable_is_reported(void)
{
    struct gw_config c;
    int rc =
        LOAD(&c, "PORT", "x", "HOST", "", "SOCKETIO_PATH", "ws", "TLS_CERT_FILE", cert, "DEBUG",
             "maybe", "JWT_ALGORITHMS", "none", "LOG_FORMAT", "xml", "PING_TIMEOUT_MS", "0");
    CHECK_INT_EQ(rc, -1);
    /* in table order, then the rules that span variables */
    CHECK_STR_EQ(err, "HOST: is set but empty; unset it or give a value\n"
                      "PORT: \"x\" is not a port number (0..65535)\n"
                      "SOCKETIO_PATH: \"ws\" does not start with '/'\n"
                      "JWT_ALGORITHMS: \"none\" is never accepted\n"
                      "PING_TIMEOUT_MS: \"0\" is out of range (1..3600000)\n"
                      "DEBUG: \"maybe\" is not true/1 or false/0\n"
                      "LOG_FORMAT: \"xml\" is not text or json\n"
                      "TLS_KEY_FILE: must be set too when TLS_CERT_FILE is set (both or "
                      "neither)\n");
    struct gw_config zero;
    memset(&zero, 0, sizeof(zero));
    CHECK(memcmp(&c, &zero, sizeof(c)) == 0);
}

static void test_tls_needs_both(void)
{
    struct gw_config c;
    CHECK_INT_EQ(LOAD(&c, "TLS_KEY_FILE", key), -1);
    CHECK_STR_EQ(err, "TLS_CERT_FILE: must be set too when TLS_KEY_FILE is set (both or "
                      "neither)\n");
}

static void test_error_buffer_keeps_whole_lines(void)
{
    struct gw_config c;
    char small[80];
    int rc = gw_config_load_from(
        &c, env_get, (const char *[]){"PORT", "x", "PING_INTERVAL_MS", "y", "DEBUG", "z", NULL},
        small, sizeof(small));
    CHECK_INT_EQ(rc, -1);
    CHECK_STR_EQ(small, "PORT: \"x\" is not a port number (0..65535)\n");
    CHECK_INT_EQ(gw_config_load_from(&c, env_get, (const char *[]){"PORT", "x", NULL}, small, 10),
                 -1);
    CHECK_STR_EQ(small, "");
}

static void test_require_key(void)
{
    struct gw_config c;
    char e[GW_ERR_LEN];
    CHECK_INT_EQ(LOAD(&c, NULL), 0);
    CHECK_INT_EQ(gw_config_require_key(&c, e), -1);
    CHECK(strstr(e, "JWT_SECRET") && strstr(e, "JWT_PUBLIC_KEY_FILE"));
    gw_config_free(&c);
    CHECK_INT_EQ(LOAD(&c, "JWT_SECRET", "0123456789abcdef0123456789abcdef"), 0);
    CHECK_INT_EQ(gw_config_require_key(&c, e), 0);
    gw_config_free(&c);
    CHECK_INT_EQ(LOAD(&c, "JWT_PUBLIC_KEY_FILE", pub), 0);
    CHECK_INT_EQ(gw_config_require_key(&c, e), 0);
    gw_config_free(&c);
}

static void test_warnings(void)
{
    struct gw_config c;
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
    test_capture_start();
    int rc1 = LOAD(&c, "ENABLE_CHANGE_STREAMS", "yes");
    bool on = c.change_streams;
    gw_config_free(&c);
    int rc2 = LOAD(&c, "JWT_SECRET", "hunter2-but-short");
    size_t len = c.jwt_secret_len;
    gw_config_free(&c);
    char *out = test_capture_end();
    CHECK_INT_EQ(rc1, 0);
    CHECK(!on);
    CHECK_INT_EQ(rc2, 0);
    CHECK_INT_EQ(len, 17);
    CHECK_INT_EQ(count_lines(out), 2);
    CHECK(strstr(out, "WARN  config: ENABLE_CHANGE_STREAMS: \"yes\" is not true/1 or false/0"));
    CHECK(strstr(out, "WARN  config: JWT_SECRET is 17 bytes"));
    CHECK(strstr(out, "hunter2") == NULL);
    free(out);
}

static void test_log_masks_secrets(void)
{
    struct gw_config c;
    const char *secret = "topsecret-0123456789-0123456789-0123";
    CHECK_INT_EQ(LOAD(&c, "JWT_SECRET", secret, "MONGODB_URI",
                      "mongodb://alice:s3cr3tpw@db.example.com:27017/app?replicaSet=rs0"
                      "&tlsCertificateKeyFilePassword=keypw&appname=gw"),
                 0);
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
    test_capture_start();
    gw_config_log(&c);
    char *out = test_capture_end();
    CHECK(strstr(out, "topsecret") == NULL);
    CHECK(strstr(out, "s3cr3tpw") == NULL);
    CHECK(strstr(out, "alice") == NULL);
    CHECK(strstr(out, "keypw") == NULL);
    CHECK(strstr(out, "JWT_SECRET=(set, 36 bytes)") != NULL);
    CHECK(strstr(out, "MONGODB_URI=mongodb://***@db.example.com:27017/app?replicaSet=rs0"
                      "&tlsCertificateKeyFilePassword=***&appname=gw ") != NULL);
    CHECK(strstr(out, "MONGODB_DB=app ") != NULL);
    CHECK(strstr(out, "INFO  config: listener: HOST=0.0.0.0 PORT=3000 ") != NULL);
    CHECK(strstr(out, "TLS_CERT_FILE=(unset)") != NULL);
    CHECK(strstr(out, "LOG_FORMAT=text\n") != NULL);
    CHECK_INT_EQ(count_lines(out), 6); /* one per group */
    free(out);
    gw_config_free(&c);

    /* an unescaped '@' in the password still leaves nothing of it */
    CHECK_INT_EQ(LOAD(&c, "MONGODB_URI", "mongodb://bob:pa@ss@h/x"), 0);
    test_capture_start();
    gw_config_log(&c);
    out = test_capture_end();
    CHECK(strstr(out, "MONGODB_URI=mongodb://***@h/x ") != NULL);
    CHECK(strstr(out, "pa@") == NULL && strstr(out, "bob") == NULL);
    free(out);
    gw_config_free(&c);

    /* nor does an error about the URI */
    CHECK_INT_EQ(LOAD(&c, "MONGODB_URI", "mongodb://carol:hunter2@h:99999/x"), -1);
    CHECK(strstr(err, "\"mongodb://***@h:99999/x\"") != NULL);
    CHECK(strstr(err, "hunter2") == NULL && strstr(err, "carol") == NULL);
}

static const char *const all_names[] = {"HOST",
                                        "PORT",
                                        "SOCKETIO_PATH",
                                        "TLS_CERT_FILE",
                                        "TLS_KEY_FILE",
                                        "ENABLE_CHANGE_STREAMS",
                                        "MONGODB_URI",
                                        "MONGODB_DB",
                                        "NOTIFICATIONS_COLLECTION",
                                        "RESUME_TOKEN_COLLECTION",
                                        "RESUME_TOKEN_ID",
                                        "NOTIFICATION_EVENT",
                                        "NOTIFICATION_USER_FIELD",
                                        "JWT_SECRET",
                                        "JWT_PUBLIC_KEY_FILE",
                                        "JWT_ALGORITHMS",
                                        "JWT_ISSUER",
                                        "JWT_AUDIENCE",
                                        "JWT_USER_CLAIM",
                                        "JWT_LEEWAY_SECONDS",
                                        "CORS_ORIGINS",
                                        "PING_INTERVAL_MS",
                                        "PING_TIMEOUT_MS",
                                        "MAX_PAYLOAD_BYTES",
                                        "CONNECT_TIMEOUT_MS",
                                        "MAX_SOCKETS_PER_USER",
                                        "OUTBOX_MAX_BYTES",
                                        "DEBUG",
                                        "LOG_FORMAT"};

static void test_help(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gw_config_print_help(f);
    fclose(f);
    for (size_t i = 0; i < GW_ARRAY_SIZE(all_names); i++) {
        char want[64];
        snprintf(want, sizeof(want), "\n  %s ", all_names[i]);
        if (!strstr(text, want))
            TEST_FAIL_AT("--help lacks %s", all_names[i]);
    }
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        if (n > 100)
            TEST_FAIL_AT("--help line of %zu columns: %.*s", n, (int)n, line);
        line += n + (line[n] != '\0');
    }
    CHECK(strstr(text, "(default: mongodb://127.0.0.1:27017/?replicaSet=rs0)") != NULL);
    CHECK(strstr(text, "(1..3600000, default: 25000)") != NULL);
    CHECK(strstr(text, "\nChange streams:\n") != NULL);
    free(text);
}

static void test_reads_the_environment(void)
{
    struct gw_config c;
    setenv("PORT", "4321", 1);
    setenv("SOCKETIO_PATH", "/rt", 1);
    int rc = gw_config_load(&c, err, sizeof(err));
    unsetenv("PORT");
    unsetenv("SOCKETIO_PATH");
    CHECK_INT_EQ(rc, 0);
    CHECK_INT_EQ(c.port, 4321);
    CHECK_STR_EQ(c.socketio_path, "/rt/");
    gw_config_free(&c);
    gw_config_free(&c); /* freeing twice, or a zeroed struct, is harmless */
}

int main(void)
{
    make_files();
    RUN(test_defaults);
    RUN(test_valid_values);
    RUN(test_good_forms);
    RUN(test_bad_forms);
    RUN(test_exact_messages);
    RUN(test_every_bad_variable_is_reported);
    RUN(test_tls_needs_both);
    RUN(test_error_buffer_keeps_whole_lines);
    RUN(test_require_key);
    RUN(test_warnings);
    RUN(test_log_masks_secrets);
    RUN(test_help);
    RUN(test_reads_the_environment);
    remove_files();
    return TEST_REPORT();
}
