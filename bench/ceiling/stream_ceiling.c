/* stream-ceiling -- the least CPU a change event costs a server that reads it with mongoc: one
 * change stream on test.notifications, the gateway's own (gw_watcher_stream_new), each event's
 * fullDocument.userId found (who it is for: the least any server needs to know), nothing else.
 * With lws's write pattern in a drain (write-ceiling --poll-armed) it bounds what any server
 * built on the project's fixed stack can deliver when each delivery is its own event (bench b,
 * 10k x 1).
 *
 * DESIGN. One thread, mongoc's single-threaded client (no monitoring thread). It opens the
 * stream, prints "stream-ceiling: watching" on stderr, and reads until --expect events arrived,
 * then prints one JSON line on stdout: the events, its CPU time (getrusage) from the moment the
 * stream was open, and the wall time from the first event to the last. The runner stops it
 * (SIGSTOP) while the inserts go in and continues it once they are all in, so it reads a
 * backlog in full batches, the cheapest case per event, as the servers do in bench b. Exits 1
 * on a stream error or when --timeout seconds pass first.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ceiling.h"
#include "ceiling_stream.h"

static _Noreturn void usage(void)
{
    fprintf(stderr, "usage: stream-ceiling --uri URI --expect N [--timeout SECONDS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *uri = NULL;
    long expect = 0, timeout_s = 120;
    static const struct option longopts[] = {{"uri", required_argument, 0, 'u'},
                                             {"expect", required_argument, 0, 'n'},
                                             {"timeout", required_argument, 0, 't'},
                                             {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (c == 'u')
            uri = optarg;
        else if (c == 'n')
            expect = strtol(optarg, NULL, 10);
        else if (c == 't')
            timeout_s = strtol(optarg, NULL, 10);
        else
            usage();
    }
    if (!uri || expect <= 0 || timeout_s <= 0)
        usage();

    mongoc_init();
    struct ceiling_stream st;
    char why[640];
    if (ceiling_stream_open(&st, uri, why, sizeof(why)) < 0) {
        fprintf(stderr, "stream-ceiling: %s\n", why);
        return 1;
    }
    bson_error_t err;
    const bson_t *errdoc;
    fprintf(stderr, "stream-ceiling: watching\n");

    double cpu0 = ceiling_cpu_s(NULL, NULL), deadline = ceiling_now_s() + (double)timeout_s;
    double first = 0, last = 0;
    long events = 0, unmatched = 0;
    const bson_t *doc;
    while (events < expect) {
        if (mongoc_change_stream_next(st.cs, &doc)) {
            last = ceiling_now_s();
            if (!events)
                first = last;
            events++;
            unmatched += !ceiling_stream_user(doc);
            continue;
        }
        if (mongoc_change_stream_error_document(st.cs, &err, &errdoc)) {
            fprintf(stderr, "stream-ceiling: the stream failed: %s\n", err.message);
            return 1;
        }
        if (ceiling_now_s() > deadline) {
            fprintf(stderr, "stream-ceiling: %ld of %ld events within %ld s\n", events, expect,
                    timeout_s);
            return 1;
        }
    }
    double cpu_s = ceiling_cpu_s(NULL, NULL) - cpu0;
    printf("{\"events\":%ld,\"withoutUser\":%ld,\"cpuSeconds\":%.4f,\"usPerEvent\":%.3f,"
           "\"wallSeconds\":%.4f,\"eventsPerSecond\":%.0f}\n",
           events, unmatched, cpu_s, cpu_s * 1e6 / (double)events, last - first,
           last > first ? (double)(events - 1) / (last - first) : 0.0);

    ceiling_stream_close(&st);
    mongoc_cleanup();
    return 0;
}
