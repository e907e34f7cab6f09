/* store.h -- the emulator's data: collections of documents and the oplog.
 *
 * Every change to a collection appends one oplog entry with a fresh cluster time; change streams
 * read the oplog. The oplog is a ring of at most `oplog_cap` entries: older entries fall off, and
 * resume points before the oldest retained time are reported as lost (286), as on a real server
 * whose capped oplog rolled over.
 *
 * Documents in a collection keep insertion order (find returns them in that order, as a real
 * collection scan usually does) and are indexed by _id.
 *
 * Thread safety: none; the event-loop thread owns the store.
 */
#ifndef EMU_STORE_H
#define EMU_STORE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum emu_op {
    EMU_OP_NOOP,   /* advances time only (never shown to change streams) */
    EMU_OP_CREATE, /* collection created (not shown without showExpandedEvents) */
    EMU_OP_INSERT,
    EMU_OP_UPDATE,
    EMU_OP_REPLACE,
    EMU_OP_DELETE,
    EMU_OP_DROP,
    EMU_OP_TRUNCATE, /* journal only: the oplog was truncated, ts is the new lost_before */
};

struct emu_oplog_entry {
    uint64_t seq; /* position in the oplog, dense and increasing */
    uint64_t ts;  /* cluster time, (seconds << 32) | increment */
    int64_t wall_ms;
    enum emu_op op;
    char *db;
    char *coll;
    bson_t *doc;  /* insert/replace: the document; update: the post-image; else NULL */
    bson_t *key;  /* documentKey {_id}; NULL for create/drop/noop */
    bson_t *desc; /* update: {updatedFields, removedFields, truncatedArrays}; else NULL */
    bson_t *pre;  /* update/replace/delete: the document before the change (a pre-image, as
                     if changeStreamPreAndPostImages were on for every collection); kept in
                     memory only, so not after a restart */
};

struct emu_id_node;

struct emu_coll {
    char *db;
    char *name;
    bson_t **docs; /* slots in insertion order; NULL marks a deleted document */
    size_t nslots;
    size_t cap;
    size_t live;
    struct emu_id_node **buckets; /* _id index: hash -> slot */
    size_t nbuckets;
    /* While the index grows, the table it outgrew: its buckets from moved_upto on have not
     * been moved into buckets yet (a few per insert, so no insert pays for the whole index). */
    struct emu_id_node **old;
    size_t nold, moved_upto;
};

/* Called after every oplog append (persistence); entry is borrowed for the call. */
typedef void (*emu_store_journal_fn)(void *ud, const struct emu_oplog_entry *entry);

struct emu_store {
    struct emu_coll **colls;
    size_t ncolls;
    struct emu_oplog_entry *ring;
    size_t ring_cap;
    size_t ring_head; /* index of the oldest entry */
    size_t ring_len;
    uint64_t next_seq;
    uint64_t last_ts;     /* the latest cluster time handed out */
    uint64_t lost_before; /* resume points with ts < this are no longer in the oplog */
    emu_store_journal_fn journal;
    void *journal_ud;
};

/* Zeroed memory aligned for structs that embed a bson_t (libbson declares it 128-byte aligned,
 * more than malloc promises). Aborts on failure; free with free(). */
void *emu_calloc_aligned(size_t n);

/* Creates an empty store whose oplog keeps at most oplog_cap (>= 1) entries. Returns a new
 * object; free with emu_store_free. */
struct emu_store *emu_store_new(size_t oplog_cap);
void emu_store_free(struct emu_store *s);

/* Pack / unpack cluster times. */
static inline uint64_t emu_ts_make(uint32_t t, uint32_t i)
{
    return (uint64_t)t << 32 | i;
}
static inline uint32_t emu_ts_secs(uint64_t ts)
{
    return (uint32_t)(ts >> 32);
}
static inline uint32_t emu_ts_inc(uint64_t ts)
{
    return (uint32_t)ts;
}

/* Returns the collection (borrowed), or NULL when it does not exist and create is false. A new
 * collection logs a create entry. */
struct emu_coll *emu_store_coll(struct emu_store *s, const char *db, const char *name, bool create);

/* Drops a collection and logs a drop entry. Returns false when it did not exist. */
bool emu_store_drop(struct emu_store *s, const char *db, const char *name);

/* Inserts doc (ownership taken; it must have an _id). Returns 0, or -1 when the _id is already
 * present (the document is freed then). */
int emu_store_insert(struct emu_store *s, struct emu_coll *c, bson_t *doc);

/* Slot of the document with this _id, or -1. */
long emu_store_find_id(const struct emu_coll *c, const bson_value_t *id);

/* Replaces the document in slot by doc (ownership taken) and logs an update (desc borrowed, may
 * be NULL for a replacement). */
void emu_store_replace(struct emu_store *s, struct emu_coll *c, size_t slot, bson_t *doc,
                       enum emu_op op, const bson_t *desc);

/* Deletes the document in slot and logs a delete. Slots stay valid until emu_store_compact. */
void emu_store_delete(struct emu_store *s, struct emu_coll *c, size_t slot);

/* Closes the holes deletions left once they dominate (slot numbers change). */
void emu_store_compact(struct emu_coll *c);

/* Appends a no-op entry (advances the cluster time). */
void emu_store_noop(struct emu_store *s);

/* Oldest retained entry's seq (== next_seq when the oplog is empty). */
uint64_t emu_store_first_seq(const struct emu_store *s);

/* The entry with this seq (borrowed), or NULL if it fell off or does not exist yet. */
const struct emu_oplog_entry *emu_store_entry(const struct emu_store *s, uint64_t seq);

/* The seq of the first entry with ts > after (or next_seq when none). */
uint64_t emu_store_seq_after(const struct emu_store *s, uint64_t after);

/* Drops every oplog entry: every resume point up to now becomes lost. */
void emu_store_truncate_oplog(struct emu_store *s);

/* Hands out the next cluster time (wall-clock seconds, increment within the second). */
uint64_t emu_store_tick(struct emu_store *s);

/* Snapshot loading: adds a document without logging (creating the collection if needed), and
 * an oplog entry without applying it (members owned by the store afterwards). */
void emu_store_restore_doc(struct emu_store *s, const char *db, const char *coll, bson_t *doc);
void emu_store_restore_coll(struct emu_store *s, const char *db, const char *coll);
void emu_store_restore_entry(struct emu_store *s, struct emu_oplog_entry *e);

/* Restores an entry read back from disk (persistence): appends it to the oplog as is and
 * applies it to the collections. Takes ownership of the entry's members. */
void emu_store_replay(struct emu_store *s, struct emu_oplog_entry *e);

#endif
