/* cmd.c -- command dispatch, hello, fail points and the emulator's admin commands.
 *
 * Fail points follow mongod's semantics (research §2.7): failCommand fires before the command
 * runs, so on a getMore it cannot know the cursor is a change stream and adds no
 * ResumableChangeStreamError label unless errorLabels says so; failGetMoreAfterCursorCheckout
 * fires after the cursor was found and gets the computed labels.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "gw/common.h"

#define STATE_CHANGE_CODES 91, 189, 10107, 11600, 11602, 13435, 13436

static const struct {
    int code;
    const char *name;
} code_names[] = {
    {1, "InternalError"},
    {2, "BadValue"},
    {6, "HostUnreachable"},
    {7, "HostNotFound"},
    {9, "FailedToParse"},
    {13, "Unauthorized"},
    {14, "TypeMismatch"},
    {26, "NamespaceNotFound"},
    {28, "PathNotViable"},
    {43, "CursorNotFound"},
    {48, "NamespaceExists"},
    {50, "MaxTimeMSExpired"},
    {59, "CommandNotFound"},
    {66, "ImmutableField"},
    {72, "InvalidOptions"},
    {73, "InvalidNamespace"},
    {89, "NetworkTimeout"},
    {91, "ShutdownInProgress"},
    {133, "FailedToSatisfyReadPreference"},
    {134, "ReadConcernMajorityNotAvailableYet"},
    {150, "StaleEpoch"},
    {189, "PrimarySteppedDown"},
    {216, "ElectionInProgress"},
    {234, "RetryChangeStream"},
    {260, "InvalidResumeToken"},
    {262, "ExceededTimeLimit"},
    {280, "ChangeStreamFatalError"},
    {286, "ChangeStreamHistoryLost"},
    {352, "UnsupportedOpQueryCommand"},
    {9001, "SocketException"},
    {10107, "NotWritablePrimary"},
    {11000, "DuplicateKey"},
    {11600, "InterruptedAtShutdown"},
    {11601, "Interrupted"},
    {11602, "InterruptedDueToReplStateChange"},
    {13388, "StaleConfig"},
    {13435, "NotPrimaryNoSecondaryOk"},
    {13436, "NotPrimaryOrSecondary"},
};

static const char *code_name(int code, char *buf, size_t n)
{
    for (size_t i = 0; i < GW_ARRAY_SIZE(code_names); i++)
        if (code_names[i].code == code)
            return code_names[i].name;
    snprintf(buf, n, "Location%d", code);
    return buf;
}

static bool code_in(int code, const int *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == code)
            return true;
    return false;
}

static bool is_retryable_write_code(int code)
{
    static const int set[] = {6, 7, 89, 9001, 262, STATE_CHANGE_CODES};
    return code_in(code, set, GW_ARRAY_SIZE(set));
}

static bool is_resumable_stream_code(int code)
{
    static const int set[] = {6, 7, 89, 9001, 262, 134, 13388, 150, 234, 133, STATE_CHANGE_CODES};
    return code_in(code, set, GW_ARRAY_SIZE(set));
}

static bool is_state_change_code(int code)
{
    static const int set[] = {STATE_CHANGE_CODES};
    return code_in(code, set, GW_ARRAY_SIZE(set));
}

static bool is_write_command(const char *name)
{
    static const char *const writes[] = {"insert", "update", "delete",        "findAndModify",
                                         "create", "drop",   "createIndexes", "dropDatabase"};
    for (size_t i = 0; i < GW_ARRAY_SIZE(writes); i++)
        if (!strcmp(name, writes[i]))
            return true;
    return false;
}

static bool has_field(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key);
}

static void append_topology_version(struct emu_server *srv, bson_t *doc)
{
    bson_t tv;
    BSON_APPEND_DOCUMENT_BEGIN(doc, "topologyVersion", &tv);
    BSON_APPEND_OID(&tv, "processId", &srv->process_id);
    BSON_APPEND_INT64(&tv, "counter", srv->tv_counter);
    bson_append_document_end(doc, &tv);
}

static void append_cluster_time(struct emu_server *srv, bson_t *doc)
{
    if (srv->cfg.standalone)
        return;
    uint64_t ts = srv->store->last_ts;
    bson_t ct, sig;
    BSON_APPEND_DOCUMENT_BEGIN(doc, "$clusterTime", &ct);
    BSON_APPEND_TIMESTAMP(&ct, "clusterTime", emu_ts_secs(ts), emu_ts_inc(ts));
    BSON_APPEND_DOCUMENT_BEGIN(&ct, "signature", &sig);
    static const uint8_t zero[20];
    BSON_APPEND_BINARY(&sig, "hash", BSON_SUBTYPE_BINARY, zero, sizeof zero);
    BSON_APPEND_INT64(&sig, "keyId", 0);
    bson_append_document_end(&ct, &sig);
    bson_append_document_end(doc, &ct);
    BSON_APPEND_TIMESTAMP(doc, "operationTime", emu_ts_secs(ts), emu_ts_inc(ts));
}

bson_t *emu_reply_begin(struct emu_ctx *x)
{
    x->res->outcome = EMU_CMD_REPLY;
    bson_init(&x->res->reply);
    return &x->res->reply;
}

void emu_reply_end(struct emu_ctx *x)
{
    BSON_APPEND_DOUBLE(&x->res->reply, "ok", 1.0);
    append_cluster_time(x->srv, &x->res->reply);
}

/* Labels mongod computes for an error (error_labels.cpp, research §1.2). */
static void computed_labels(struct emu_ctx *x, int code, bson_t *arr)
{
    if (is_write_command(x->name) && has_field(x->cmd, "txnNumber") &&
        is_retryable_write_code(code)) {
        BSON_APPEND_UTF8(arr, "0", "RetryableWriteError");
        return;
    }
    if (!x->change_stream || x->srv->cfg.max_wire < 9)
        return;
    if (is_resumable_stream_code(code))
        BSON_APPEND_UTF8(arr, "0", "ResumableChangeStreamError");
    else if (code == 280 || code == 286)
        BSON_APPEND_UTF8(arr, "0", "NonResumableChangeStreamError");
}

void emu_reply_error(struct emu_ctx *x, int code, const bson_t *labels, const char *fmt, ...)
{
    char msg[512], namebuf[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (x->res->outcome == EMU_CMD_REPLY)
        bson_destroy(&x->res->reply);
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_DOUBLE(r, "ok", 0.0);
    BSON_APPEND_UTF8(r, "errmsg", msg);
    BSON_APPEND_INT32(r, "code", code);
    BSON_APPEND_UTF8(r, "codeName", code_name(code, namebuf, sizeof namebuf));
    bson_t computed = BSON_INITIALIZER;
    if (!labels) {
        computed_labels(x, code, &computed);
        labels = &computed;
    }
    if (!bson_empty(labels))
        BSON_APPEND_ARRAY(r, "errorLabels", labels);
    bson_destroy(&computed);
    if (is_state_change_code(code) && x->srv->cfg.max_wire >= 9)
        append_topology_version(x->srv, r);
    append_cluster_time(x->srv, r);
}

const char *emu_ctx_coll(struct emu_ctx *x)
{
    bson_iter_t it;
    bson_iter_init(&it, x->cmd);
    bson_iter_next(&it);
    if (!BSON_ITER_HOLDS_UTF8(&it)) {
        emu_reply_error(x, 73, NULL, "collection name has invalid type %s",
                        BSON_ITER_HOLDS_DOCUMENT(&it) ? "object" : "non-string");
        return NULL;
    }
    uint32_t len;
    const char *name = bson_iter_utf8(&it, &len);
    if (len == 0 || len > 120 || strlen(name) != len || strchr(name, '$')) {
        emu_reply_error(x, 73, NULL, "Invalid collection name: '%s'", name);
        return NULL;
    }
    return name;
}

/* --- hello --- */

static void append_last_write(struct emu_server *srv, bson_t *r)
{
    uint64_t ts = srv->store->last_ts;
    int64_t date = (int64_t)emu_ts_secs(ts) * 1000;
    bson_t lw, op;
    BSON_APPEND_DOCUMENT_BEGIN(r, "lastWrite", &lw);
    for (int i = 0; i < 2; i++) {
        BSON_APPEND_DOCUMENT_BEGIN(&lw, i ? "majorityOpTime" : "opTime", &op);
        BSON_APPEND_TIMESTAMP(&op, "ts", emu_ts_secs(ts), emu_ts_inc(ts));
        BSON_APPEND_INT64(&op, "t", srv->term);
        bson_append_document_end(&lw, &op);
        BSON_APPEND_DATE_TIME(&lw, i ? "majorityWriteDate" : "lastWriteDate", date);
    }
    bson_append_document_end(r, &lw);
}

static void build_hello(struct emu_ctx *x, bool legacy_name)
{
    struct emu_server *srv = x->srv;
    bson_t *r = emu_reply_begin(x);
    bool primary = !srv->stepped_down;
    bson_iter_t it;
    if (bson_iter_init_find(&it, x->cmd, "helloOk") && bson_iter_as_bool(&it))
        BSON_APPEND_BOOL(r, "helloOk", true);
    append_topology_version(srv, r);
    if (!srv->cfg.standalone) {
        bson_t hosts;
        BSON_APPEND_ARRAY_BEGIN(r, "hosts", &hosts);
        BSON_APPEND_UTF8(&hosts, "0", srv->advertised);
        bson_append_array_end(r, &hosts);
        BSON_APPEND_UTF8(r, "setName", srv->cfg.set_name);
        BSON_APPEND_INT32(r, "setVersion", 1);
    }
    BSON_APPEND_BOOL(r, legacy_name ? "ismaster" : "isWritablePrimary", primary);
    if (!srv->cfg.standalone) {
        BSON_APPEND_BOOL(r, "secondary", !primary);
        if (primary)
            BSON_APPEND_UTF8(r, "primary", srv->advertised);
        BSON_APPEND_UTF8(r, "me", srv->advertised);
        if (primary) {
            bson_oid_t eid;
            uint8_t bytes[12] = {0x7f, 0xff, 0xff, 0xff};
            for (int i = 0; i < 8; i++)
                bytes[4 + i] = (uint8_t)(srv->term >> (56 - 8 * i));
            bson_oid_init_from_data(&eid, bytes);
            BSON_APPEND_OID(r, "electionId", &eid);
        }
        append_last_write(srv, r);
    }
    BSON_APPEND_INT32(r, "maxBsonObjectSize", 16 * 1024 * 1024);
    BSON_APPEND_INT32(r, "maxMessageSizeBytes", EMU_WIRE_MAX_MESSAGE);
    BSON_APPEND_INT32(r, "maxWriteBatchSize", 100000);
    BSON_APPEND_DATE_TIME(r, "localTime", (int64_t)gw_wall_ms());
    BSON_APPEND_INT32(r, "logicalSessionTimeoutMinutes", 30);
    BSON_APPEND_INT32(r, "connectionId", x->conn->connection_id);
    BSON_APPEND_INT32(r, "minWireVersion", 0);
    BSON_APPEND_INT32(r, "maxWireVersion", srv->cfg.max_wire);
    BSON_APPEND_BOOL(r, "readOnly", false);
    emu_reply_end(x);
}

static void remember_app_name(struct emu_ctx *x)
{
    bson_iter_t it, app;
    if (x->conn->app_name || !bson_iter_init(&it, x->cmd) ||
        !bson_iter_find_descendant(&it, "client.application.name", &app) ||
        !BSON_ITER_HOLDS_UTF8(&app))
        return;
    x->conn->app_name = gw_strdup(bson_iter_utf8(&app, NULL));
}

static void cmd_hello(struct emu_ctx *x)
{
    struct emu_server *srv = x->srv;
    struct emu_conn *c = x->conn;
    remember_app_name(x);
    bson_iter_t it, tv;
    int64_t wait_ms = -1;
    if (bson_iter_init_find(&it, x->cmd, "maxAwaitTimeMS") && BSON_ITER_HOLDS_NUMBER(&it))
        wait_ms = bson_iter_as_int64(&it);
    bool awaitable = wait_ms >= 0 && bson_iter_init_find(&tv, x->cmd, "topologyVersion") &&
                     BSON_ITER_HOLDS_DOCUMENT(&tv);
    if (awaitable) {
        bson_iter_t f;
        bson_oid_t pid = {{0}};
        int64_t counter = -1;
        if (bson_iter_recurse(&tv, &f) && bson_iter_find(&f, "processId") &&
            BSON_ITER_HOLDS_OID(&f))
            bson_oid_copy(bson_iter_oid(&f), &pid);
        if (bson_iter_recurse(&tv, &f) && bson_iter_find(&f, "counter") &&
            BSON_ITER_HOLDS_NUMBER(&f))
            counter = bson_iter_as_int64(&f);
        if (c->exhaust)
            counter = c->exhaust_counter;
        uint64_t now = gw_now_ms();
        if (!x->resumed)
            c->deadline_ms = now + (uint64_t)GW_MIN(wait_ms, 24 * 3600 * 1000);
        if (bson_oid_equal(&pid, &srv->process_id) && counter == srv->tv_counter &&
            now < c->deadline_ms) {
            x->res->outcome = EMU_CMD_PARK;
            x->res->park = EMU_PARK_HELLO;
            x->res->deadline_ms = c->deadline_ms;
            return;
        }
    }
    build_hello(x, strcasecmp(x->name, "hello") != 0);
    if (awaitable && x->req->opcode == EMU_OP_MSG && (x->req->flags & EMU_MSG_EXHAUST_ALLOWED)) {
        c->exhaust = true;
        c->exhaust_counter = srv->tv_counter;
        x->res->more_to_come = true;
        x->res->park = EMU_PARK_HELLO;
        x->res->deadline_ms = gw_now_ms() + (uint64_t)GW_MIN(wait_ms, 24 * 3600 * 1000);
    }
}

/* --- small commands --- */

static void cmd_ok(struct emu_ctx *x)
{
    emu_reply_begin(x);
    emu_reply_end(x);
}

static void cmd_build_info(struct emu_ctx *x)
{
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_UTF8(r, "version", "6.0.0-mongo-emu");
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(r, "versionArray", &arr);
    BSON_APPEND_INT32(&arr, "0", 6);
    BSON_APPEND_INT32(&arr, "1", 0);
    BSON_APPEND_INT32(&arr, "2", 0);
    BSON_APPEND_INT32(&arr, "3", 0);
    bson_append_array_end(r, &arr);
    BSON_APPEND_INT32(r, "bits", 64);
    BSON_APPEND_INT32(r, "maxBsonObjectSize", 16 * 1024 * 1024);
    emu_reply_end(x);
}

/* --- fail points --- */

static void failpoint_off(struct emu_failpoint *fp)
{
    if (fp->on)
        bson_destroy(&fp->data);
    fp->on = false;
}

static void cmd_configure_fail_point(struct emu_ctx *x)
{
    bson_iter_t it;
    bson_iter_init(&it, x->cmd);
    bson_iter_next(&it);
    const char *which = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
    struct emu_failpoint *fp = !strcmp(which, "failCommand") ? &x->srv->fail_command
                               : !strcmp(which, "failGetMoreAfterCursorCheckout")
                                   ? &x->srv->fail_getmore
                                   : NULL;
    if (!fp) {
        emu_reply_error(x, 2, NULL, "Cannot find failpoint: %s", which);
        return;
    }
    long times = 0, skip = 0;
    if (!bson_iter_init_find(&it, x->cmd, "mode")) {
        emu_reply_error(x, 2, NULL, "Missing mode in configureFailPoint");
        return;
    }
    if (BSON_ITER_HOLDS_UTF8(&it) && !strcmp(bson_iter_utf8(&it, NULL), "alwaysOn")) {
        times = -1;
    } else if (BSON_ITER_HOLDS_UTF8(&it) && !strcmp(bson_iter_utf8(&it, NULL), "off")) {
        times = 0;
    } else if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
        bson_iter_t m;
        bson_iter_recurse(&it, &m);
        times = -2;
        while (bson_iter_next(&m)) {
            if (!strcmp(bson_iter_key(&m), "times") && BSON_ITER_HOLDS_NUMBER(&m))
                times = (long)bson_iter_as_int64(&m);
            else if (!strcmp(bson_iter_key(&m), "skip") && BSON_ITER_HOLDS_NUMBER(&m))
                skip = (long)bson_iter_as_int64(&m), times = times == -2 ? -1 : times;
        }
        if (times < -1) {
            emu_reply_error(x, 2, NULL, "mode must be 'alwaysOn', 'off', {times: n} or {skip: n}");
            return;
        }
    } else {
        emu_reply_error(x, 2, NULL, "mode must be 'alwaysOn', 'off', {times: n} or {skip: n}");
        return;
    }
    long previous = fp->hits;
    failpoint_off(fp);
    fp->hits = 0;
    if (times != 0) {
        fp->on = true;
        fp->times = times;
        fp->skip = skip;
        bson_init(&fp->data);
        bson_iter_t d;
        if (bson_iter_init_find(&d, x->cmd, "data") && BSON_ITER_HOLDS_DOCUMENT(&d)) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&d, &len, &data);
            bson_t tmp;
            bson_init_static(&tmp, data, len);
            bson_concat(&fp->data, &tmp);
        }
    }
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_INT64(r, "count", previous);
    emu_reply_end(x);
}

/* Counts one activation; true when the fail point fires now. */
static bool failpoint_fire(struct emu_failpoint *fp)
{
    if (!fp->on)
        return false;
    if (fp->skip > 0) {
        fp->skip--;
        return false;
    }
    fp->hits++;
    if (fp->times > 0 && --fp->times == 0) {
        /* Keep the data for this activation; the caller copies what it needs first. */
        fp->on = false;
        return true;
    }
    return true;
}

static bool data_bool(const bson_t *data, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, data, key) && bson_iter_as_bool(&it);
}

static int64_t data_int(const bson_t *data, const char *key, int64_t dflt)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, data, key) && BSON_ITER_HOLDS_NUMBER(&it)
               ? bson_iter_as_int64(&it)
               : dflt;
}

/* Applies the error part of fail point data: errorCode with errorLabels. Returns true if it
 * replied. */
static bool apply_fail_error(struct emu_ctx *x, const bson_t *data, bool explicit_labels_only)
{
    int64_t code = data_int(data, "errorCode", 0);
    if (!code)
        return false;
    bson_iter_t it;
    bson_t labels;
    bool have_labels = false;
    if (bson_iter_init_find(&it, data, "errorLabels") && BSON_ITER_HOLDS_ARRAY(&it)) {
        uint32_t len;
        const uint8_t *d;
        bson_iter_array(&it, &len, &d);
        bson_init_static(&labels, d, len);
        have_labels = true;
    }
    (void)explicit_labels_only;
    emu_reply_error(x, (int)code, have_labels ? &labels : NULL,
                    "Failing command via 'failCommand' failpoint");
    return true;
}

static bool fail_command_applies(struct emu_ctx *x)
{
    struct emu_failpoint *fp = &x->srv->fail_command;
    if (!fp->on)
        return false;
    bson_iter_t it, c;
    bool listed = false;
    if (bson_iter_init_find(&it, &fp->data, "failCommands") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &c))
        while (bson_iter_next(&c))
            if (BSON_ITER_HOLDS_UTF8(&c) && !strcmp(bson_iter_utf8(&c, NULL), x->name))
                listed = true;
    if (!listed)
        return false;
    if (bson_iter_init_find(&it, &fp->data, "appName") && BSON_ITER_HOLDS_UTF8(&it) &&
        (!x->conn->app_name || strcmp(x->conn->app_name, bson_iter_utf8(&it, NULL)) != 0))
        return false;
    return true;
}

/* Runs failCommand before the command. Returns true when the request is fully handled. */
static bool run_fail_command(struct emu_ctx *x)
{
    if (!fail_command_applies(x))
        return false;
    struct emu_failpoint *fp = &x->srv->fail_command;
    bson_t data;
    bson_copy_to(&fp->data, &data);
    bool fired = failpoint_fire(fp);
    if (!fp->on && fired)
        bson_destroy(&fp->data);
    if (!fired) {
        bson_destroy(&data);
        return false;
    }
    bool handled = true;
    if (data_int(&data, "emuCloseAfterReplyBytes", 0) > 0) {
        /* Emulator extension (research §4 row 22): the command runs, its reply is cut short. */
        x->conn->truncate_reply = data_int(&data, "emuCloseAfterReplyBytes", 0);
        handled = false;
    } else if (data_bool(&data, "closeConnection")) {
        x->res->outcome = data_bool(&data, "resetConnection") ? EMU_CMD_RESET : EMU_CMD_CLOSE;
    } else if (data_bool(&data, "blockConnection") && data_int(&data, "blockTimeMS", 0) > 0) {
        x->res->outcome = EMU_CMD_PARK;
        x->res->park = EMU_PARK_BLOCK;
        x->res->deadline_ms = gw_now_ms() + (uint64_t)data_int(&data, "blockTimeMS", 0);
        x->conn->fp_after_block = bson_copy(&data);
    } else {
        handled = apply_fail_error(x, &data, true);
    }
    bson_destroy(&data);
    return handled;
}

bool emu_cmd_getmore_failpoint(struct emu_ctx *x)
{
    struct emu_failpoint *fp = &x->srv->fail_getmore;
    if (!fp->on)
        return false;
    bson_t data;
    bson_copy_to(&fp->data, &data);
    bool fired = failpoint_fire(fp);
    if (!fp->on && fired)
        bson_destroy(&fp->data);
    bool handled = false;
    if (fired) {
        int64_t code = data_int(&data, "errorCode", 0);
        if (code) {
            emu_reply_error(x, (int)code, NULL,
                            "Failing command via "
                            "'failGetMoreAfterCursorCheckout' failpoint");
            handled = true;
        }
    }
    bson_destroy(&data);
    return handled;
}

/* --- emulator controls --- */

static void cmd_kill_all_cursors(struct emu_ctx *x)
{
    size_t n = x->srv->ncursors;
    emu_cmd_kill_all_cursors(x->srv);
    x->srv->wake_pending = true;
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_INT64(r, "cursorsKilled", (int64_t)n);
    emu_reply_end(x);
}

static void cmd_truncate_oplog(struct emu_ctx *x)
{
    emu_store_truncate_oplog(x->srv->store);
    x->srv->wake_pending = true;
    cmd_ok(x);
}

static void cmd_step_down(struct emu_ctx *x)
{
    struct emu_server *srv = x->srv;
    bson_iter_t it;
    int64_t secs = 10;
    bson_iter_init(&it, x->cmd);
    bson_iter_next(&it);
    if (!strcmp(x->name, "replSetStepDown") && BSON_ITER_HOLDS_NUMBER(&it))
        secs = bson_iter_as_int64(&it);
    if (bson_iter_init_find(&it, x->cmd, "secs") && BSON_ITER_HOLDS_NUMBER(&it))
        secs = bson_iter_as_int64(&it);
    if (srv->cfg.standalone) {
        emu_reply_error(x, 76, NULL, "not running with --replSet");
        return;
    }
    if (secs < 0 || secs > 86400) {
        emu_reply_error(x, 2, NULL, "secs must be between 0 and 86400");
        return;
    }
    /* The counter moves before any error goes out, so drivers see the errors as fresh. */
    srv->stepped_down = true;
    srv->tv_counter++;
    srv->interrupt_epoch++;
    srv->step_up_at_ms = gw_now_ms() + (uint64_t)secs * 1000;
    srv->wake_pending = true;
    cmd_ok(x);
}

static void append_counts(bson_t *doc, const char *key, const uint64_t *n)
{
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(doc, key, &arr);
    for (uint32_t i = 0; i < EMU_BATCH_BUCKETS; i++) {
        char buf[16];
        const char *k;
        bson_uint32_to_string(i, &k, buf, sizeof buf);
        BSON_APPEND_INT64(&arr, k, (int64_t)n[i]);
    }
    bson_append_array_end(doc, &arr);
}

static void append_stream_stats(bson_t *r, const char *key, const struct emu_server *srv, int w)
{
    bson_t doc;
    uint64_t events = 0;
    for (size_t i = 0; i < EMU_BATCH_BUCKETS; i++)
        events += srv->stream_events[w][i];
    BSON_APPEND_DOCUMENT_BEGIN(r, key, &doc);
    BSON_APPEND_INT64(&doc, "events", (int64_t)events);
    append_counts(&doc, "replies", srv->stream_replies[w]);
    append_counts(&doc, "eventsByBucket", srv->stream_events[w]);
    bson_append_document_end(r, &doc);
}

/* replies[i]: change-stream getMore replies with up to 2^i events (the last: more);
 * eventsByBucket[i]: the events they carried. */
static void cmd_stream_stats(struct emu_ctx *x)
{
    bson_t *r = emu_reply_begin(x);
    append_stream_stats(r, "waited", x->srv, 1);
    append_stream_stats(r, "ready", x->srv, 0);
    emu_reply_end(x);
}

static void cmd_restart(struct emu_ctx *x)
{
    x->srv->restart_pending = true;
    cmd_ok(x);
}

/* --- dispatch --- */

typedef void (*handler_fn)(struct emu_ctx *x);

enum cmd_flags {
    CMD_WRITE = 1,        /* refused with 10107 while stepped down */
    CMD_PRIMARY_READ = 2, /* refused with 13435 while stepped down unless secondaryOk */
    CMD_ANY_DB = 0,
};

static const struct {
    const char *name;
    handler_fn fn;
    int flags;
} commands[] = {
    {"hello", cmd_hello, 0},
    {"isMaster", cmd_hello, 0},
    {"ismaster", cmd_hello, 0},
    {"ping", cmd_ok, 0},
    {"buildInfo", cmd_build_info, 0},
    {"buildinfo", cmd_build_info, 0},
    {"endSessions", cmd_ok, 0},
    {"killAllSessions", cmd_ok, 0},
    {"insert", emu_crud_insert, CMD_WRITE},
    {"update", emu_crud_update, CMD_WRITE},
    {"delete", emu_crud_delete, CMD_WRITE},
    {"find", emu_crud_find, CMD_PRIMARY_READ},
    {"count", emu_crud_count, CMD_PRIMARY_READ},
    {"aggregate", emu_crud_aggregate, CMD_PRIMARY_READ},
    {"getMore", emu_crud_get_more, 0},
    {"killCursors", emu_crud_kill_cursors, 0},
    {"listCollections", emu_crud_list_collections, CMD_PRIMARY_READ},
    {"listIndexes", emu_crud_list_indexes, CMD_PRIMARY_READ},
    {"listDatabases", emu_crud_list_databases, 0},
    {"createIndexes", emu_crud_create_indexes, CMD_WRITE},
    {"create", emu_crud_create, CMD_WRITE},
    {"drop", emu_crud_drop, CMD_WRITE},
    {"dropDatabase", emu_crud_drop_database, CMD_WRITE},
    {"configureFailPoint", cmd_configure_fail_point, 0},
    {"emuKillAllCursors", cmd_kill_all_cursors, 0},
    {"emuTruncateOplog", cmd_truncate_oplog, 0},
    {"emuStepDown", cmd_step_down, 0},
    {"replSetStepDown", cmd_step_down, 0},
    {"emuRestart", cmd_restart, 0},
    {"emuStreamStats", cmd_stream_stats, 0},
};

static bool secondary_ok(const struct emu_ctx *x)
{
    if (x->req->opcode == EMU_OP_QUERY && (x->req->flags & 4u))
        return true;
    bson_iter_t it, mode;
    if (!bson_iter_init_find(&it, x->cmd, "$readPreference") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &mode) || !bson_iter_find(&mode, "mode") ||
        !BSON_ITER_HOLDS_UTF8(&mode))
        return false;
    return strcmp(bson_iter_utf8(&mode, NULL), "primary") != 0;
}

static void fill_db(struct emu_ctx *x)
{
    bson_iter_t it;
    x->db[0] = '\0';
    if (bson_iter_init_find(&it, x->cmd, "$db") && BSON_ITER_HOLDS_UTF8(&it)) {
        snprintf(x->db, sizeof x->db, "%s", bson_iter_utf8(&it, NULL));
    } else if (x->req->opcode == EMU_OP_QUERY) {
        const char *dot = strchr(x->req->ns, '.');
        size_t n = dot ? (size_t)(dot - x->req->ns) : strlen(x->req->ns);
        snprintf(x->db, sizeof x->db, "%.*s", (int)n, x->req->ns);
    }
}

static bool is_change_stream_aggregate(const bson_t *cmd)
{
    bson_iter_t it, p, st;
    if (!bson_iter_init_find(&it, cmd, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &p) || !bson_iter_next(&p) || !BSON_ITER_HOLDS_DOCUMENT(&p) ||
        !bson_iter_recurse(&p, &st) || !bson_iter_next(&st))
        return false;
    return !strcmp(bson_iter_key(&st), "$changeStream");
}

void emu_cmd_dispatch(struct emu_server *srv, struct emu_conn *conn,
                      const struct emu_wire_request *req, bool resumed, struct emu_cmd_result *res)
{
    struct emu_ctx x = {
        .srv = srv, .conn = conn, .req = req, .cmd = &req->command, .resumed = resumed, .res = res};
    res->outcome = EMU_CMD_NO_REPLY;
    res->more_to_come = false;
    res->park = EMU_PARK_NONE;
    bson_iter_t it;
    if (!bson_iter_init(&it, x.cmd) || !bson_iter_next(&it)) {
        x.name = "";
        emu_reply_error(&x, 59, NULL, "no command given");
        return;
    }
    x.name = bson_iter_key(&it);
    fill_db(&x);
    x.change_stream = !strcmp(x.name, "aggregate") && is_change_stream_aggregate(x.cmd);
    size_t i;
    for (i = 0; i < GW_ARRAY_SIZE(commands); i++)
        if (!strcmp(commands[i].name, x.name))
            break;
    bool is_hello = i < GW_ARRAY_SIZE(commands) && commands[i].fn == cmd_hello;
    if (req->opcode == EMU_OP_QUERY && !is_hello) {
        emu_reply_error(&x, 352, NULL,
                        "Unsupported OP_QUERY command: %s. The client driver may "
                        "require an upgrade.",
                        x.name);
        return;
    }
    if (i == GW_ARRAY_SIZE(commands)) {
        emu_reply_error(&x, 59, NULL, "no such command: '%s'", x.name);
        return;
    }
    if (!x.db[0] && !is_hello) {
        emu_reply_error(&x, 40571, NULL, "OP_MSG requests require a $db argument");
        return;
    }
    if (conn->fp_after_block) {
        bson_t *data = conn->fp_after_block;
        conn->fp_after_block = NULL;
        bool handled = apply_fail_error(&x, data, true);
        bson_destroy(data);
        if (handled)
            return;
    } else if (!resumed && strcmp(x.name, "configureFailPoint") != 0 && run_fail_command(&x)) {
        return;
    }
    if (!resumed)
        conn->park_epoch = srv->interrupt_epoch;
    if (srv->stepped_down && (commands[i].flags & CMD_WRITE)) {
        emu_reply_error(&x, 10107, NULL, "not primary");
        return;
    }
    if (srv->stepped_down && (commands[i].flags & CMD_PRIMARY_READ) && !secondary_ok(&x)) {
        emu_reply_error(&x, 13435, NULL, "not primary and secondaryOk=false");
        return;
    }
    commands[i].fn(&x);
    if (req->opcode == EMU_OP_MSG && (req->flags & EMU_MSG_MORE_TO_COME) &&
        res->outcome == EMU_CMD_REPLY) {
        bson_destroy(&res->reply);
        res->outcome = EMU_CMD_NO_REPLY;
    }
}
