/* bench_inserts.c -- how many inserts per second mongo-emu takes with one change stream open.
 *
 * Spawns mongo-emu (--port 0), opens one change stream (the gateway's $match pipeline) on a
 * watcher thread, then inserts N documents from W writer threads (one mongoc client each) and
 * waits until the stream delivered all N events. Prints the insert rate and the end-to-end
 * delivery rate. mongo-emu is single-threaded, so these are one-core figures for the server.
 *
 * Usage: bench_mongo_emu PATH/TO/mongo-emu [N=100000] [WRITERS=4] [BATCH=1]
 *   BATCH > 1 uses insert_many with that many documents per command.
 */
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_harness.h"

static struct emu_proc emu;
static long total, writers, batch;
static volatile long delivered;
static volatile int watcher_ready;

static const char *PIPELINE = "{\"pipeline\": [{\"$match\": {\"operationType\": \"insert\", "
                              "\"fullDocument.type\": {\"$exists\": true}}}]}";

/* CPU seconds (user + system) the process has used so far, from /proc/PID/stat. */
static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void *watcher(void *arg)
{
    (void)arg;
    mongoc_client_t *c = emu_client(&emu, "replicaSet=rs0", "gateway");
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "app", "notifications");
    bson_t *pipeline = bson_new_from_json((const uint8_t *)PIPELINE, -1, NULL);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_INT64(&opts, "maxAwaitTimeMS", 1000);
    mongoc_change_stream_t *cs = mongoc_collection_watch(coll, pipeline, &opts);
    const bson_t *doc;
    bson_error_t err;
    __atomic_store_n(&watcher_ready, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&delivered, __ATOMIC_RELAXED) < total) {
        if (mongoc_change_stream_next(cs, &doc))
            __atomic_add_fetch(&delivered, 1, __ATOMIC_RELAXED);
        else if (mongoc_change_stream_error_document(cs, &err, NULL)) {
            fprintf(stderr, "bench: stream error: %s\n", err.message);
            exit(1);
        }
    }
    mongoc_change_stream_destroy(cs);
    bson_destroy(&opts);
    bson_destroy(pipeline);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    return NULL;
}

static void *writer(void *arg)
{
    long id = (long)(intptr_t)arg;
    long n = total / writers + (id < total % writers ? 1 : 0);
    mongoc_client_t *c = emu_client(&emu, "replicaSet=rs0", "admin");
    mongoc_collection_t *coll = mongoc_client_get_collection(c, "app", "notifications");
    bson_error_t err;
    bson_t **docs = calloc((size_t)batch, sizeof *docs);
    for (long i = 0; i < n;) {
        long k = 0;
        for (; k < batch && i < n; k++, i++) {
            docs[k] = BCON_NEW("userId", BCON_UTF8("u42"), "type", BCON_UTF8("order_shipped"),
                               "title", BCON_UTF8("Your order shipped"), "seq", BCON_INT64(i),
                               "read", BCON_BOOL(false));
        }
        bool ok = k == 1 ? mongoc_collection_insert_one(coll, docs[0], NULL, NULL, &err)
                         : mongoc_collection_insert_many(coll, (const bson_t **)docs, (size_t)k,
                                                         NULL, NULL, &err);
        for (long j = 0; j < k; j++)
            bson_destroy(docs[j]);
        if (!ok) {
            fprintf(stderr, "bench: insert failed: %s\n", err.message);
            exit(1);
        }
    }
    free(docs);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(c);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/mongo-emu [N] [WRITERS] [BATCH]\n", argv[0]);
        return 2;
    }
    total = argc > 2 ? atol(argv[2]) : 100000;
    writers = argc > 3 ? atol(argv[3]) : 4;
    batch = argc > 4 ? atol(argv[4]) : 1;
    if (total < 1 || writers < 1 || writers > 64 || batch < 1 || batch > 100000) {
        fprintf(stderr, "bench: N >= 1, 1 <= WRITERS <= 64, 1 <= BATCH <= 100000\n");
        return 2;
    }
    mongoc_init();
    if (emu_proc_start(&emu, argv[1], NULL) < 0)
        return 1;
    pthread_t w, ws[64];
    pthread_create(&w, NULL, watcher, NULL);
    while (!__atomic_load_n(&watcher_ready, __ATOMIC_ACQUIRE))
        emu_sleep_ms(1);
    emu_sleep_ms(200); /* the stream's aggregate has run */
    double cpu0 = cpu_seconds(emu.pid);
    int64_t t0 = bson_get_monotonic_time();
    for (long i = 0; i < writers; i++)
        pthread_create(&ws[i], NULL, writer, (void *)(intptr_t)i);
    for (long i = 0; i < writers; i++)
        pthread_join(ws[i], NULL);
    int64_t t1 = bson_get_monotonic_time();
    pthread_join(w, NULL);
    int64_t t2 = bson_get_monotonic_time();
    double cpu = cpu_seconds(emu.pid) - cpu0;
    double ins = (double)total / ((double)(t1 - t0) / 1e6);
    double del = (double)total / ((double)(t2 - t0) / 1e6);
    printf("mongo-emu bench: %ld inserts (%ld writers, batch %ld), 1 change stream open\n", total,
           writers, batch);
    printf("inserts/s: %.0f\n", ins);
    printf("events delivered/s (end to end): %.0f\n", del);
    /* The clients share the machine's cores with the server; this is the server's own cost. */
    if (cpu > 0)
        printf("mongo-emu CPU: %.2f s, i.e. %.0f inserts per CPU-second of the server\n", cpu,
               (double)total / cpu);
    int rc = emu_proc_stop(&emu);
    mongoc_cleanup();
    return rc == 0 ? 0 : 1;
}
