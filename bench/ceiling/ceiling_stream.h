/* ceiling_stream.h -- what the programs that read the change stream share (stream_ceiling.c,
 * write_ceiling.c --stream): the gateway's own stream on test.notifications (gw_core's
 * gw_watcher_stream_new), opened and closed with mongoc's single-threaded client, and an event's
 * user. Header-only, like ceiling.h; the caller calls mongoc_init() first. Each stream belongs
 * to the one thread that opened it. */
#ifndef GW_BENCH_CEILING_STREAM_H
#define GW_BENCH_CEILING_STREAM_H

#include <stdio.h>

#include <mongoc/mongoc.h>

#include "gw/watcher.h"

struct ceiling_stream {
    mongoc_uri_t *uri;
    mongoc_client_t *client;
    mongoc_collection_t *coll;
    bson_t opts;
    bson_t *pipeline;
    mongoc_change_stream_t *cs; /* NULL until open */
};

/* Closes whatever ceiling_stream_open() opened, also after it failed. */
static inline void ceiling_stream_close(struct ceiling_stream *s)
{
    if (s->cs)
        mongoc_change_stream_destroy(s->cs);
    if (s->pipeline) {
        bson_destroy(&s->opts);
        bson_destroy(s->pipeline);
    }
    if (s->coll)
        mongoc_collection_destroy(s->coll);
    if (s->client)
        mongoc_client_destroy(s->client);
    if (s->uri)
        mongoc_uri_destroy(s->uri);
    *s = (struct ceiling_stream){0};
}

/* Opens the stream at uri: 0, or -1 with one sentence in err (n bytes) and s closed. */
static inline int ceiling_stream_open(struct ceiling_stream *s, const char *uri, char *err,
                                      size_t n)
{
    bson_error_t e;
    const bson_t *doc;
    *s = (struct ceiling_stream){0};
    if (!(s->uri = mongoc_uri_new_with_error(uri, &e))) {
        snprintf(err, n, "bad stream URI: %s", e.message);
        return -1;
    }
    s->client = mongoc_client_new_from_uri(s->uri);
    s->coll = mongoc_client_get_collection(s->client, "test", "notifications");
    bson_init(&s->opts);
    s->pipeline = gw_watcher_stream_new(&s->opts);
    s->cs = mongoc_collection_watch(s->coll, s->pipeline, &s->opts);
    if (mongoc_change_stream_error_document(s->cs, &e, &doc)) {
        snprintf(err, n, "cannot watch: %s", e.message);
        ceiling_stream_close(s);
        return -1;
    }
    return 0;
}

/* The event's string fullDocument.userId (borrowed from doc), or NULL. */
static inline const char *ceiling_stream_user(const bson_t *doc)
{
    bson_iter_t it, user;
    if (!bson_iter_init(&it, doc) ||
        !bson_iter_find_descendant(&it, "fullDocument.userId", &user) ||
        !BSON_ITER_HOLDS_UTF8(&user))
        return NULL;
    return bson_iter_utf8(&user, NULL);
}

#endif
