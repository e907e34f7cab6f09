/* test_emu_faults.c -- mongo-c-driver 1.23 against mongo-emu's fault injection (research §4):
 * automatic resume across closeConnection and labelled errors with no event lost or duplicated,
 * unlabelled errors ending the stream, CursorNotFound, 286 after oplog truncation, stepdown
 * (row 12), restart (row 18), blockConnection, and malformed input closing one connection only.
 *
 * Usage: test_emu_faults PATH/TO/mongo-emu
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu_harness.h"
#include "test.h"

static struct emu_proc emu;

#define RS_OPTS "replicaSet=rs0&serverSelectionTimeoutMS=5000"
#define PIPELINE                                                                                   \
    "{\"pipeline\": [{\"$match\": {\"operationType\": \"insert\", "                                \
    "\"fullDocument.type\": {\"$exists\": true}}}]}"

static bson_t *json(const char *s)
{
    bson_error_t err;
    bson_t *b = bson_new_from_json((const uint8_t *)s, -1, &err);
    if (!b) {
        fprintf(stderr, "bad test JSON %s: %s\n", s, err.message);
        abort();
    }
    return b;
}

static void insert_seq(mongoc_collection_t *coll, int seq)
{
    char d[64];
    snprintf(d, sizeof d, "{\"type\": \"t\", \"seq\": %d}", seq);
    bson_t *doc = json(d);
    bson_error_t err;
    bool ok = mongoc_collection_insert_one(coll, doc, NULL, NULL, &err);
    if (!ok)
        fprintf(stderr, "insert %d failed: %s\n", seq, err.message);
    CHECK(ok);
    bson_destroy(doc);
}

static mongoc_change_stream_t *watch(mongoc_collection_t *coll, const bson_t *token)
{
    bson_t *pipeline = json(PIPELINE);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_INT64(&opts, "maxAwaitTimeMS", 200);
    if (token)
        BSON_APPEND_DOCUMENT(&opts, "resumeAfter", token);
    mongoc_change_stream_t *cs = mongoc_collection_watch(coll, pipeline, &opts);
    bson_destroy(pipeline);
    bson_destroy(&opts);
    return cs;
}

/* Reads events until `want` seq numbers arrived in order or timeout_ms passed. Returns how many
 * matched in order; *error_out receives a stream error when one happened. */
static int read_seqs(mongoc_change_stream_t *cs, const int *want, int n, int timeout_ms,
                     bson_error_t *error_out, bson_t *reply_out)
{
    int64_t end = bson_get_monotonic_time() + (int64_t)timeout_ms * 1000;
    int got = 0;
    const bson_t *doc;
    memset(error_out, 0, sizeof *error_out);
    while (got < n && bson_get_monotonic_time() < end) {
        if (mongoc_change_stream_next(cs, &doc)) {
            int64_t seq = emu_int_at(doc, "fullDocument.seq", -1);
            if (seq != want[got]) {
                fprintf(stderr, "  got seq %lld, want %d\n", (long long)seq, want[got]);
                return got;
            }
            got++;
            continue;
        }
        const bson_t *reply;
        if (mongoc_change_stream_error_document(cs, error_out, &reply)) {
            if (reply_out)
                bson_copy_to(reply, reply_out);
            return got;
        }
    }
    return got;
}

/* No further event shows up within ms (no duplicates). */
static bool quiet_for(mongoc_change_stream_t *cs, int ms)
{
    int64_t end = bson_get_monotonic_time() + (int64_t)ms * 1000;
    const bson_t *doc;
    bson_error_t err;
    while (bson_get_monotonic_time() < end) {
        if (mongoc_change_stream_next(cs, &doc)) {
            char *j = bson_as_relaxed_extended_json(doc, NULL);
            fprintf(stderr, "  unexpected event %s\n", j);
            bson_free(j);
            return false;
        }
        if (mongoc_change_stream_error_document(cs, &err, NULL))
            return false;
    }
    return true;
}

static void admin_ok(mongoc_client_t *c, const char *cmd, bson_t *reply)
{
    bson_error_t err;
    bool ok = emu_admin(c, cmd, reply, &err);
    if (!ok)
        fprintf(stderr, "admin %s failed: %s\n", cmd, err.message);
    CHECK(ok);
}

/* Turns the fail point off and returns how many times it fired. */
static int64_t fail_point_off(mongoc_client_t *c, const char *name)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "{\"configureFailPoint\": \"%s\", \"mode\": \"off\"}", name);
    bson_t reply;
    admin_ok(c, cmd, &reply);
    int64_t n = emu_int_at(&reply, "count", -1);
    bson_destroy(&reply);
    return n;
}

struct fixture {
    mongoc_client_t *gw, *ctl;
    mongoc_collection_t *gwc, *ctlc;
    mongoc_change_stream_t *cs;
};

static void fixture_open(struct fixture *f, const char *coll, const char *gw_opts)
{
    f->gw = emu_client(&emu, gw_opts ? gw_opts : RS_OPTS, "gateway");
    f->ctl = emu_client(&emu, RS_OPTS, "control");
    f->gwc = mongoc_client_get_collection(f->gw, "app", coll);
    f->ctlc = mongoc_client_get_collection(f->ctl, "app", coll);
    f->cs = watch(f->gwc, NULL);
    bson_error_t err;
    CHECK(!mongoc_change_stream_error_document(f->cs, &err, NULL));
}

static void fixture_close(struct fixture *f)
{
    if (f->cs)
        mongoc_change_stream_destroy(f->cs);
    mongoc_collection_destroy(f->gwc);
    mongoc_collection_destroy(f->ctlc);
    mongoc_client_destroy(f->gw);
    mongoc_client_destroy(f->ctl);
}

/* Inserts 1, reads it, arms a fault, inserts 2 and 3, and expects exactly 2, 3. */
static void expect_transparent(const char *coll, const char *fault_cmd, const char *fail_point)
{
    struct fixture f;
    fixture_open(&f, coll, NULL);
    bson_error_t err;
    insert_seq(f.ctlc, 1);
    int w1[] = {1};
    CHECK_INT_EQ(read_seqs(f.cs, w1, 1, 3000, &err, NULL), 1);
    admin_ok(f.ctl, fault_cmd, NULL);
    insert_seq(f.ctlc, 2);
    insert_seq(f.ctlc, 3);
    int w2[] = {2, 3};
    CHECK_INT_EQ(read_seqs(f.cs, w2, 2, 5000, &err, NULL), 2);
    CHECK_INT_EQ(err.code, 0);
    CHECK(quiet_for(f.cs, 600));
    if (fail_point)
        CHECK(fail_point_off(f.ctl, fail_point) >= 1);
    fixture_close(&f);
}

static void test_close_connection_on_getmore(void)
{
    expect_transparent("f_close",
                       "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 1}, "
                       "\"data\": {\"failCommands\": [\"getMore\"], \"closeConnection\": true, "
                       "\"appName\": \"gateway\"}}",
                       "failCommand");
}

static void test_reset_connection_on_getmore(void)
{
    expect_transparent("f_reset",
                       "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 1}, "
                       "\"data\": {\"failCommands\": [\"getMore\"], \"closeConnection\": true, "
                       "\"resetConnection\": true, \"appName\": \"gateway\"}}",
                       "failCommand");
}

static void test_partial_reply_resumes(void)
{
    expect_transparent("f_partial",
                       "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 1}, "
                       "\"data\": {\"failCommands\": [\"getMore\"], "
                       "\"emuCloseAfterReplyBytes\": 10, \"appName\": \"gateway\"}}",
                       "failCommand");
}

static void test_labelled_error_resumes(void)
{
    expect_transparent("f_label",
                       "{\"configureFailPoint\": \"failGetMoreAfterCursorCheckout\", \"mode\": "
                       "{\"times\": 2}, \"data\": {\"errorCode\": 10107}}",
                       "failGetMoreAfterCursorCheckout");
}

static void test_cursor_not_found_resumes(void)
{
    expect_transparent("f_43", "{\"emuKillAllCursors\": 1}", NULL);
}

static void test_unlabelled_error_ends_stream(void)
{
    struct fixture f;
    fixture_open(&f, "f_nolabel", NULL);
    bson_error_t err;
    bson_t reply = BSON_INITIALIZER;
    admin_ok(f.ctl,
             "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 1}, "
             "\"data\": {\"failCommands\": [\"getMore\"], \"errorCode\": 10107, "
             "\"appName\": \"gateway\"}}",
             NULL);
    insert_seq(f.ctlc, 1);
    int w[] = {1};
    CHECK_INT_EQ(read_seqs(f.cs, w, 1, 3000, &err, &reply), 0);
    CHECK_INT_EQ(err.domain, MONGOC_ERROR_SERVER);
    CHECK_INT_EQ(err.code, 10107);
    CHECK(!emu_array_has(&reply, "errorLabels", "ResumableChangeStreamError"));
    bson_destroy(&reply);
    /* The application recreates from its token and loses nothing. */
    mongoc_change_stream_destroy(f.cs);
    f.cs = watch(f.gwc, NULL);
    fixture_close(&f);
}

static void test_history_lost_after_truncation(void)
{
    struct fixture f;
    fixture_open(&f, "f_286", NULL);
    bson_error_t err;
    insert_seq(f.ctlc, 1);
    int w[] = {1};
    CHECK_INT_EQ(read_seqs(f.cs, w, 1, 3000, &err, NULL), 1);
    const bson_t *cached = mongoc_change_stream_get_resume_token(f.cs);
    CHECK(cached != NULL);
    bson_t *token = cached ? bson_copy(cached) : bson_new();
    admin_ok(f.ctl, "{\"emuTruncateOplog\": 1}", NULL);
    admin_ok(f.ctl,
             "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 1}, "
             "\"data\": {\"failCommands\": [\"getMore\"], \"closeConnection\": true, "
             "\"appName\": \"gateway\"}}",
             NULL);
    bson_t reply = BSON_INITIALIZER;
    int w2[] = {2};
    CHECK_INT_EQ(read_seqs(f.cs, w2, 1, 3000, &err, &reply), 0);
    CHECK_INT_EQ(err.code, 286);
    CHECK(emu_array_has(&reply, "errorLabels", "NonResumableChangeStreamError"));
    bson_destroy(&reply);
    /* Recreating with the same token fails the same way, at once. */
    mongoc_change_stream_destroy(f.cs);
    f.cs = watch(f.gwc, token);
    CHECK(mongoc_change_stream_error_document(f.cs, &err, NULL));
    CHECK_INT_EQ(err.code, 286);
    /* Starting from now works. */
    mongoc_change_stream_destroy(f.cs);
    f.cs = watch(f.gwc, NULL);
    insert_seq(f.ctlc, 3);
    int w3[] = {3};
    CHECK_INT_EQ(read_seqs(f.cs, w3, 1, 3000, &err, NULL), 1);
    bson_destroy(token);
    fixture_close(&f);
}

struct step_down_arg {
    int delay_ms;
    int secs;
};

static void *step_down_later(void *p)
{
    struct step_down_arg *a = p;
    emu_sleep_ms(a->delay_ms);
    mongoc_client_t *c = emu_client(&emu, "directConnection=true", "control");
    char cmd[64];
    snprintf(cmd, sizeof cmd, "{\"emuStepDown\": 1, \"secs\": %d}", a->secs);
    bson_error_t err;
    if (!emu_admin(c, cmd, NULL, &err))
        fprintf(stderr, "stepdown failed: %s\n", err.message);
    mongoc_client_destroy(c);
    return NULL;
}

/* Research §4 row 12 with the default URI: the stream fails at once (server selection tries
 * once); the application recreates it from its token after the election and loses nothing. */
static void test_step_down_default_uri(void)
{
    struct fixture f;
    fixture_open(&f, "f_step", NULL);
    bson_error_t err;
    insert_seq(f.ctlc, 1);
    int w[] = {1};
    CHECK_INT_EQ(read_seqs(f.cs, w, 1, 3000, &err, NULL), 1);
    const bson_t *cached = mongoc_change_stream_get_resume_token(f.cs);
    CHECK(cached != NULL);
    bson_t *token = cached ? bson_copy(cached) : bson_new();
    pthread_t th;
    struct step_down_arg a = {100, 2};
    pthread_create(&th, NULL, step_down_later, &a);
    int none[] = {99};
    int64_t t0 = bson_get_monotonic_time();
    CHECK_INT_EQ(read_seqs(f.cs, none, 1, 1500, &err, NULL), 0);
    CHECK(err.code != 0); /* the stream failed instead of hanging */
    CHECK(bson_get_monotonic_time() - t0 < 1400 * 1000);
    pthread_join(th, NULL);

    /* While stepped down: hello says secondary, writes are refused with 10107. */
    mongoc_client_t *direct = emu_client(&emu, "directConnection=true&retryWrites=false", "x");
    bson_t reply;
    CHECK(emu_admin(direct, "{\"hello\": 1}", &reply, &err));
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &reply, "secondary") && bson_iter_as_bool(&it));
    CHECK(bson_iter_init_find(&it, &reply, "isWritablePrimary") && !bson_iter_as_bool(&it));
    bson_destroy(&reply);
    mongoc_collection_t *dc = mongoc_client_get_collection(direct, "app", "f_step");
    bson_t *doc = json("{\"type\": \"t\", \"seq\": 50}");
    CHECK(!mongoc_collection_insert_one(dc, doc, NULL, NULL, &err));
    CHECK_INT_EQ(err.code, 10107);
    bson_destroy(doc);
    mongoc_collection_destroy(dc);
    mongoc_client_destroy(direct);

    emu_sleep_ms(2300); /* re-election */
    mongoc_change_stream_destroy(f.cs);
    mongoc_collection_destroy(f.gwc);
    mongoc_client_destroy(f.gw);
    mongoc_collection_destroy(f.ctlc);
    mongoc_client_destroy(f.ctl);
    f.ctl = emu_client(&emu, RS_OPTS, "control");
    f.ctlc = mongoc_client_get_collection(f.ctl, "app", "f_step");
    insert_seq(f.ctlc, 2);
    f.gw = emu_client(&emu, RS_OPTS, "gateway");
    f.gwc = mongoc_client_get_collection(f.gw, "app", "f_step");
    f.cs = watch(f.gwc, token);
    int w2[] = {2};
    CHECK_INT_EQ(read_seqs(f.cs, w2, 1, 3000, &err, NULL), 1);
    CHECK(quiet_for(f.cs, 500));
    bson_destroy(token);
    fixture_close(&f);
}

/* Row 12 with serverSelectionTryOnce=false: the same stepdown is transparent. */
static void test_step_down_waiting_uri(void)
{
    struct fixture f;
    fixture_open(&f, "f_step2",
                 RS_OPTS "&serverSelectionTryOnce=false&serverSelectionTimeoutMS=15000");
    bson_error_t err;
    insert_seq(f.ctlc, 1);
    int w[] = {1};
    CHECK_INT_EQ(read_seqs(f.cs, w, 1, 3000, &err, NULL), 1);
    pthread_t th;
    struct step_down_arg a = {100, 2};
    pthread_create(&th, NULL, step_down_later, &a);
    pthread_join(th, NULL);
    emu_sleep_ms(2300);
    mongoc_collection_destroy(f.ctlc);
    mongoc_client_destroy(f.ctl);
    f.ctl = emu_client(&emu, RS_OPTS, "control");
    f.ctlc = mongoc_client_get_collection(f.ctl, "app", "f_step2");
    insert_seq(f.ctlc, 2);
    int w2[] = {2};
    CHECK_INT_EQ(read_seqs(f.cs, w2, 1, 15000, &err, NULL), 1);
    CHECK_INT_EQ(err.code, 0);
    fixture_close(&f);
}

static void test_restart_is_transparent(void)
{
    expect_transparent("f_restart", "{\"emuRestart\": 1}", NULL);
}

static void test_block_connection(void)
{
    mongoc_client_t *c = emu_client(&emu, RS_OPTS, "slow");
    admin_ok(c,
             "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 1}, "
             "\"data\": {\"failCommands\": [\"find\"], \"blockConnection\": true, "
             "\"blockTimeMS\": 300, \"appName\": \"slow\"}}",
             NULL);
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "app", "f_block");
    bson_t *q = json("{}");
    int64_t t0 = bson_get_monotonic_time();
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, q, NULL, NULL);
    const bson_t *doc;
    bson_error_t err;
    while (mongoc_cursor_next(cur, &doc))
        ;
    CHECK(!mongoc_cursor_error(cur, &err));
    int64_t ms = (bson_get_monotonic_time() - t0) / 1000;
    CHECK(ms >= 290);
    CHECK(ms < 2000);
    mongoc_cursor_destroy(cur);
    bson_destroy(q);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
}

/* Sends raw bytes on a fresh socket; returns true when the server closed it. */
static bool server_closes_after(const void *bytes, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)emu.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return false;
    }
    if (send(fd, bytes, n, 0) != (ssize_t)n) {
        close(fd);
        return false;
    }
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    close(fd);
    return r == 0;
}

static void test_malformed_input_closes_one_connection(void)
{
    mongoc_client_t *c = emu_client(&emu, RS_OPTS, NULL);
    bson_error_t err;
    CHECK(emu_admin(c, "{\"ping\": 1}", NULL, &err));
    /* Length below the header size. */
    uint8_t small[16] = {5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 7, 0, 0};
    CHECK(server_closes_after(small, sizeof small));
    /* Length above maxMessageSizeBytes. */
    uint8_t huge[16] = {0, 0, 0, 0x7f, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 7, 0, 0};
    CHECK(server_closes_after(huge, sizeof huge));
    /* OP_MSG whose body claims more bytes than the message has. */
    uint8_t bad_doc[26] = {26, 0, 0, 0, 1, 0, 0, 0, 0,    0, 0, 0, 0xdd,
                           7,  0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0};
    CHECK(server_closes_after(bad_doc, sizeof bad_doc));
    /* Unknown opcode. */
    uint8_t opcode[16] = {16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x39, 0x30, 0, 0};
    CHECK(server_closes_after(opcode, sizeof opcode));
    /* The existing client is unaffected. */
    CHECK(emu_admin(c, "{\"ping\": 1}", NULL, &err));
    mongoc_client_destroy(c);
}

/* Research §4 row 6: a 4.2-era server (wire 8) adds no labels; drivers resume through the
 * code allow-list, so the same unlabelled 10107 that ends a stream on wire 17 is transparent. */
static void test_wire8_resumes_by_code(const char *binary)
{
    struct emu_proc main_emu = emu;
    const char *args[] = {"--max-wire-version", "8", NULL};
    if (emu_proc_start(&emu, binary, args) < 0) {
        CHECK(0);
        emu = main_emu;
        return;
    }
    expect_transparent("f_wire8",
                       "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 1}, "
                       "\"data\": {\"failCommands\": [\"getMore\"], \"errorCode\": 10107, "
                       "\"appName\": \"gateway\"}}",
                       "failCommand");
    CHECK_INT_EQ(emu_proc_stop(&emu), 0);
    emu = main_emu;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/mongo-emu\n", argv[0]);
        return 2;
    }
    mongoc_init();
    mongoc_log_set_handler(NULL, NULL);
    if (emu_proc_start(&emu, argv[1], NULL) < 0)
        return 1;
    RUN(test_close_connection_on_getmore);
    RUN(test_reset_connection_on_getmore);
    RUN(test_partial_reply_resumes);
    RUN(test_labelled_error_resumes);
    RUN(test_cursor_not_found_resumes);
    RUN(test_unlabelled_error_ends_stream);
    RUN(test_history_lost_after_truncation);
    RUN(test_block_connection);
    RUN(test_malformed_input_closes_one_connection);
    RUN(test_restart_is_transparent);
    RUN(test_step_down_default_uri);
    RUN(test_step_down_waiting_uri);
    CHECK_INT_EQ(emu_proc_stop(&emu), 0);
    test_current = "test_wire8_resumes_by_code";
    test_wire8_resumes_by_code(argv[1]);
    mongoc_cleanup();
    return TEST_REPORT();
}
