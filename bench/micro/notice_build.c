/* notice-build -- the time one gw_notice_build() takes for the change event the latency and
 * throughput scenarios carry: gw-insert's document (_id, userId, type, seq, sentAt) in an insert
 * event shaped as mongo-emu sends it. A hot loop over one event, so it measures the code, not
 * the cache misses of a live batch; compare builds in one run, alternating (bench/README.md).
 * Prints one JSON line: calls and nanoseconds per call. Usage: notice-build [CALLS]. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <bson/bson.h>

#include "gw/notice.h"

static void build_event(bson_t *ev)
{
    bson_t id, full, ns, key;
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, "65f1c2a3b4d5e6f708192a3b");
    BSON_APPEND_DOCUMENT_BEGIN(ev, "_id", &id);
    BSON_APPEND_UTF8(&id, "_data",
                     "8265F1C2A3000000012B022C0100296E5A100465F1C2A3B4D5E6F708192A3B46645F69640064"
                     "65F1C2A3B4D5E6F708192A3B0004");
    bson_append_document_end(ev, &id);
    BSON_APPEND_UTF8(ev, "operationType", "insert");
    BSON_APPEND_TIMESTAMP(ev, "clusterTime", 1710342819, 1);
    BSON_APPEND_DATE_TIME(ev, "wallTime", 1710342819123);
    BSON_APPEND_DOCUMENT_BEGIN(ev, "fullDocument", &full);
    BSON_APPEND_OID(&full, "_id", &oid);
    BSON_APPEND_UTF8(&full, "userId", "user-1234");
    BSON_APPEND_UTF8(&full, "type", "bench");
    BSON_APPEND_INT32(&full, "seq", 42);
    BSON_APPEND_DOUBLE(&full, "sentAt", 1765140000123456.0);
    bson_append_document_end(ev, &full);
    BSON_APPEND_DOCUMENT_BEGIN(ev, "ns", &ns);
    BSON_APPEND_UTF8(&ns, "db", "test");
    BSON_APPEND_UTF8(&ns, "coll", "notifications");
    bson_append_document_end(ev, &ns);
    BSON_APPEND_DOCUMENT_BEGIN(ev, "documentKey", &key);
    BSON_APPEND_OID(&key, "_id", &oid);
    bson_append_document_end(ev, &key);
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long calls = argc > 1 ? strtol(argv[1], &end, 10) : 2000000;
    if (argc > 2 || (end && *end) || calls < 1) {
        fprintf(stderr, "usage: notice-build [CALLS]\n");
        return 2;
    }
    bson_t ev = BSON_INITIALIZER;
    build_event(&ev);
    struct gw_notice_options opt = {.user_field = "userId", .event = "notification"};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < calls; i++) {
        struct gw_notice n;
        if (gw_notice_build(&ev, &opt, &n) != GW_NOTICE_OK) {
            fprintf(stderr, "notice-build: the event did not build\n");
            return 1;
        }
        gw_notice_clear(&n);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    printf("{\"calls\":%ld,\"nsPerCall\":%.1f}\n", calls, ns / (double)calls);
    bson_destroy(&ev);
    return 0;
}
