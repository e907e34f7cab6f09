/* gw-insert -- inserts benchmark notifications at a fixed rate, for gw-loadgen to check.
 *
 * DESIGN. One thread, one mongoc client, one ordered insert_many in flight at a time. Document
 * i goes to user-(offset + i % users) with seq = i / users, so every user's seq runs 0, 1, 2,
 * ... in insert order, which is what gw-loadgen checks. The documents due by now go out
 * together, at most one batch per --tick-us: the tick bounds the commands per second (each one
 * costs the store and the load core a round trip) and so the size of the bursts a server
 * receives (rate x tick). A slow store shows up as latency and as an achieved rate below the
 * asked one (both reported), never as reordering. The run ends when the last batch is
 * acknowledged; a failed insert ends it with exit status 1.
 *
 * sentAt is the wall clock (CLOCK_REALTIME, the clock gw-loadgen reads) in microseconds just
 * before the batch is built and sent; with --sent-at scheduled it is the instant the schedule
 * meant the document to go out (start + i / rate), so time spent behind a slow insert counts
 * as latency too (no coordinated omission). It is stored as a BSON double, as a JavaScript
 * inserter stores it, so both servers render the same document.
 *
 * Prints one JSON summary line on stdout; errors go to stderr, bad options exit with 2.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct opts {
    const char *uri, *db, *collection;
    double users, offset, rate, duration, tick_us;
    int scheduled;
};

static _Noreturn void usage(FILE *to, int code)
{
    fprintf(
        to,
        "usage: gw-insert [options]\n"
        "  --uri URI              store URI (mongodb://127.0.0.1:27017/?replicaSet=rs0)\n"
        "  --db NAME              database (test)\n"
        "  --collection NAME      collection (notifications)\n"
        "  --users N              users the documents cycle through (1000)\n"
        "  --user-offset K        first user number: user-K .. user-(K+N-1) (0)\n"
        "  --rate R               documents per second (1000)\n"
        "  --duration S           seconds; the total is rounded to a whole number per user (10)\n"
        "  --sent-at MODE         actual (the send instant) or scheduled (actual)\n"
        "  --tick-us T            at most one insert command per T microseconds (1000)\n");
    exit(code);
}

static _Noreturn void bad(const char *name, const char *value, const char *want)
{
    fprintf(stderr, "gw-insert: --%s must be %s, not \"%s\"\n", name, want, value);
    exit(2);
}

static double parse_at_least(const char *name, const char *s, double min, const char *want)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min)
        bad(name, s, want);
    return v;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {{"uri", required_argument, NULL, 'u'},
                                          {"db", required_argument, NULL, 'd'},
                                          {"collection", required_argument, NULL, 'c'},
                                          {"users", required_argument, NULL, 'n'},
                                          {"user-offset", required_argument, NULL, 'k'},
                                          {"rate", required_argument, NULL, 'r'},
                                          {"duration", required_argument, NULL, 't'},
                                          {"sent-at", required_argument, NULL, 's'},
                                          {"tick-us", required_argument, NULL, 'T'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    *o = (struct opts){.uri = "mongodb://127.0.0.1:27017/?replicaSet=rs0",
                       .db = "test",
                       .collection = "notifications",
                       .users = 1000,
                       .rate = 1000,
                       .duration = 10,
                       .tick_us = 1000};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (ch) {
        case 'u':
            o->uri = optarg;
            break;
        case 'd':
            o->db = optarg;
            break;
        case 'c':
            o->collection = optarg;
            break;
        case 'n':
            o->users = floor(parse_at_least("users", optarg, 1, "a number >= 1"));
            break;
        case 'k':
            o->offset = floor(parse_at_least("user-offset", optarg, 0, "a number >= 0"));
            break;
        case 'r':
            o->rate = parse_at_least("rate", optarg, 0.001, "a number >= 0.001");
            break;
        case 't':
            o->duration = parse_at_least("duration", optarg, 0.001, "a number >= 0.001");
            break;
        case 'T':
            o->tick_us = parse_at_least("tick-us", optarg, 0, "a number >= 0");
            break;
        case 's':
            if (strcmp(optarg, "actual") != 0 && strcmp(optarg, "scheduled") != 0)
                bad("sent-at", optarg, "actual or scheduled");
            o->scheduled = strcmp(optarg, "scheduled") == 0;
            break;
        case 'h':
            usage(stdout, 0);
        default:
            usage(stderr, 2);
        }
    }
    if (optind < argc)
        usage(stderr, 2);
    if (o->users > UINT32_MAX || o->offset > UINT32_MAX)
        bad(o->users > UINT32_MAX ? "users" : "user-offset", "(too large)", "below 2^32");
}

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until_us(int64_t mono_us)
{
    struct timespec ts = {.tv_sec = mono_us / 1000000, .tv_nsec = (mono_us % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static mongoc_client_t *connect_store(const char *uri_string)
{
    bson_error_t err;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_string, &err);
    if (!uri) {
        fprintf(stderr, "gw-insert: --uri is not a valid MongoDB URI: %s\n", err.message);
        exit(2);
    }
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
    mongoc_client_t *client = mongoc_client_new_from_uri(uri);
    mongoc_uri_destroy(uri);
    if (!client) {
        fprintf(stderr, "gw-insert: could not create a client for %s\n", uri_string);
        exit(2);
    }
    mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(client, "gw-insert");
    return client;
}

/* Documents [from, to) into docs[0 .. to - from), bson_t's kept from batch to batch (a bson_t
 * wants more alignment than realloc gives, so they are allocated one by one). */
static void build_batch(const struct opts *o, bson_t **docs, uint64_t from, uint64_t to,
                        int64_t t0_wall, int64_t now_wall)
{
    uint32_t users = (uint32_t)o->users;
    char user[32];
    for (uint64_t i = from; i < to; i++) {
        bson_t *d = docs[i - from];
        bson_reinit(d);
        int n = snprintf(user, sizeof user, "user-%" PRIu64, (uint64_t)o->offset + i % users);
        bson_append_utf8(d, "userId", 6, user, n);
        bson_append_utf8(d, "type", 4, "bench", 5);
        bson_append_int32(d, "seq", 3, (int32_t)(i / users));
        double sent =
            o->scheduled ? (double)t0_wall + floor((double)i * 1e6 / o->rate) : (double)now_wall;
        bson_append_double(d, "sentAt", 6, sent);
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    parse_opts(argc, argv, &o);
    uint64_t per_user = (uint64_t)fmax(1, round(o.rate * o.duration / o.users));
    uint64_t total = per_user * (uint64_t)o.users;
    if (per_user > INT32_MAX) {
        fprintf(stderr, "gw-insert: %" PRIu64 " documents per user do not fit seq (int32)\n",
                per_user);
        return 2;
    }

    mongoc_init();
    mongoc_client_t *client = connect_store(o.uri);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, o.db, o.collection);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&opts, "ordered", true);

    size_t cap = 0;
    bson_t **docs = NULL;
    uint64_t sent = 0, batches = 0, largest = 0;
    int64_t slowest = 0; /* the longest insert round trip, us */
    int64_t t0 = clock_us(CLOCK_MONOTONIC), t0_wall = clock_us(CLOCK_REALTIME);
    int64_t last = INT64_MIN / 2, tick = (int64_t)o.tick_us;
    int rc = 0;
    while (sent < total) {
        /* Document `sent` is due once (now - t0) * rate >= sent * 1e6. */
        int64_t next = t0 + (int64_t)ceil((double)sent * 1e6 / o.rate);
        int64_t wake = next > last + tick ? next : last + tick;
        if (clock_us(CLOCK_MONOTONIC) < wake)
            sleep_until_us(wake);
        int64_t now = clock_us(CLOCK_MONOTONIC);
        uint64_t due = (uint64_t)floor((double)(now - t0) * o.rate / 1e6) + 1;
        if (due > total)
            due = total;
        if (due <= sent)
            continue;
        size_t n = (size_t)(due - sent);
        if (n > cap) {
            size_t grown = n > 2 * cap ? n : 2 * cap;
            docs = realloc(docs, grown * sizeof *docs);
            if (!docs)
                abort();
            for (; cap < grown; cap++)
                docs[cap] = bson_new();
        }
        last = now;
        build_batch(&o, docs, sent, due, t0_wall, clock_us(CLOCK_REALTIME));
        bson_error_t err;
        bool ok = mongoc_collection_insert_many(coll, (const bson_t **)docs, n, &opts, NULL, &err);
        int64_t took = clock_us(CLOCK_MONOTONIC) - now;
        slowest = took > slowest ? took : slowest;
        largest = n > largest ? n : largest;
        if (!ok) {
            fprintf(stderr, "gw-insert: insert of documents %" PRIu64 "..%" PRIu64 " failed: %s\n",
                    sent, due - 1, err.message);
            rc = 1;
            break;
        }
        sent = due;
        batches++;
    }
    double seconds = (double)(clock_us(CLOCK_MONOTONIC) - t0) / 1e6;
    if (rc == 0)
        printf("{\"inserted\":%" PRIu64 ",\"users\":%.0f,\"userOffset\":%.0f,\"perUser\":%" PRIu64
               ",\"batches\":%" PRIu64 ",\"largestBatch\":%" PRIu64 ",\"slowestInsertUs\":%" PRId64
               ",\"sentAt\":\"%s\",\"tickUs\":%.0f,\"seconds\":%.3f,"
               "\"achievedRate\":%.0f,\"cpuSeconds\":%.3f}\n",
               total, o.users, o.offset, per_user, batches, largest, slowest,
               o.scheduled ? "scheduled" : "actual", o.tick_us, seconds,
               seconds > 0 ? (double)total / seconds : 0.0, cpu_seconds());
    for (size_t i = 0; i < cap; i++)
        bson_destroy(docs[i]);
    free(docs);
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
    mongoc_cleanup();
    return rc;
}
