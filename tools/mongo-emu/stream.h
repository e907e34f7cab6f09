/* stream.h -- change-stream cursors over the oplog.
 *
 * A stream remembers the next oplog position to scan and the cluster time scanned so far (its
 * high-water mark). Each batch turns matching oplog entries into change events shaped like
 * MongoDB 6.0's, runs them through the $match/$project stages that followed $changeStream, and
 * reports the postBatchResumeToken.
 *
 * Thread safety: none; event-loop thread only.
 */
#ifndef EMU_STREAM_H
#define EMU_STREAM_H

#include <bson/bson.h>
#include <stdbool.h>

#include "store.h"
#include "token.h"

enum emu_full_doc {
    EMU_FULLDOC_DEFAULT,
    EMU_FULLDOC_UPDATE_LOOKUP,
    EMU_FULLDOC_WHEN_AVAILABLE,
    EMU_FULLDOC_REQUIRED,
};

struct emu_stream {
    char *db;
    char *coll; /* NULL: every collection of db */
    uint64_t next_seq;
    uint64_t hwm_ts;
    enum emu_full_doc full_doc;
    bool pre_images; /* fullDocumentBeforeChange whenAvailable or required */
    bson_t stages;   /* array document of the stages after $changeStream */
    bool invalidate_pending;
    uint64_t invalidate_ts;
    bool closed; /* the invalidate was delivered: the cursor ends */
    struct emu_token pbrt;
};

/* Error from opening a stream: server code plus one sentence. */
struct emu_stream_error {
    int code;
    char msg[256];
};

/* Opens a stream on db.coll (coll NULL for a database-wide stream) from the aggregate's
 * $changeStream spec (borrowed) and the stages after it (borrowed array iterator, may be NULL).
 * Returns a new stream (free with emu_stream_free) or NULL with *err filled: 40674 several
 * resume options, 9 bad token hex, 260 unusable or invalidate token, 286 history lost, 280 token
 * not found, 2/40324 bad options or stages. */
struct emu_stream *emu_stream_open(struct emu_store *store, const char *db, const char *coll,
                                   const bson_t *spec, const bson_t *stages,
                                   struct emu_stream_error *err);
void emu_stream_free(struct emu_stream *st);

/* Appends up to max_docs events (and at most max_bytes of them) to the array arr, starting at
 * index *count (updated). Sets st->pbrt. Returns -1 with *err filled (286) when the stream's
 * position fell off the oplog, 0 otherwise. */
int emu_stream_fill(struct emu_stream *st, struct emu_store *store, bson_t *arr, uint32_t *count,
                    uint32_t max_docs, size_t max_bytes, struct emu_stream_error *err);

/* True when entries past the stream's position exist (a getMore can make progress). */
bool emu_stream_has_more(const struct emu_stream *st, const struct emu_store *store);

#endif
