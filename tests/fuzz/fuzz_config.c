/* fuzz_config.c -- libFuzzer target for configuration parsing (include/gw/config.h).
 *
 * The first input byte sets the size of the error buffer (0 means 1024), so the line-dropping
 * of long error reports is exercised; the rest is NAME=value lines served by the getter. On
 * success the documented canonical forms and ranges must hold; on failure the error text must
 * be NUL-terminated inside the buffer and the struct freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw/common.h"
#include "gw/config.h"
#include "gw/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VARS 64

struct env {
    char *name[MAX_VARS];
    char *value[MAX_VARS];
    int n;
};

static const char *env_get(const char *name, void *ud)
{
    const struct env *e = ud;
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->name[i], name) == 0)
            return e->value[i];
    return NULL;
}

static void env_parse(struct env *e, const char *s, size_t len)
{
    const char *end = s + len;
    e->n = 0;
    while (s < end && e->n < MAX_VARS) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        const char *eq = memchr(s, '=', n);
        if (eq) {
            e->name[e->n] = gw_strndup(s, (size_t)(eq - s));
            e->value[e->n] = gw_strndup(eq + 1, n - (size_t)(eq - s) - 1);
            e->n++;
        }
        s += n + 1;
    }
}

static void env_free(struct env *e)
{
    for (int i = 0; i < e->n; i++) {
        free(e->name[i]);
        free(e->value[i]);
    }
}

static void check_loaded(const struct gw_config *c)
{
    size_t plen = strlen(c->socketio_path);
    GW_ASSERT(plen >= 1 && c->socketio_path[0] == '/' && c->socketio_path[plen - 1] == '/');
    GW_ASSERT(c->port >= 0 && c->port <= 65535);
    GW_ASSERT(c->host && c->mongodb_uri && c->mongodb_db && c->jwt_user_claim);
    GW_ASSERT((c->tls_cert_file == NULL) == (c->tls_key_file == NULL));
    GW_ASSERT(c->ping_interval_ms >= 1 && c->ping_timeout_ms >= 1);
    GW_ASSERT(c->max_payload >= 1024 && c->outbox_max_bytes >= 1024);
    if (c->jwt_algorithms)
        for (const char *p = c->jwt_algorithms; *p; p++)
            GW_ASSERT(strncasecmp(p, "none", 4) != 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Warnings about odd values are expected by the thousand; errors still show. */
    gw_log_threshold = GW_LOG_ERROR;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t errlen = data[0] ? data[0] : 1024;
    struct env e;
    env_parse(&e, (const char *)data + 1, size - 1);

    char *err = gw_malloc(errlen);
    struct gw_config cfg;
    if (gw_config_load_from(&cfg, env_get, &e, err, errlen) == 0) {
        check_loaded(&cfg);
        gw_config_free(&cfg);
    } else {
        GW_ASSERT(memchr(err, '\0', errlen) != NULL);
        GW_ASSERT(cfg.host == NULL && cfg.jwt_secret == NULL);
    }
    free(err);
    env_free(&e);
    return 0;
}
