/* store.c -- collections and the oplog (see store.h). */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "gw/buf.h"
#include "gw/common.h"

struct emu_id_node {
    uint64_t hash;
    size_t slot;
    struct emu_id_node *next;
};

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t id_hash(const bson_value_t *id, struct gw_buf *key)
{
    gw_buf_reset(key);
    emu_doc_id_key(id, key);
    return hash_bytes(key->data, key->len);
}

static bool doc_id(const bson_t *doc, bson_value_t *id)
{
    return emu_doc_path_get(doc, "_id", id);
}

void *emu_calloc_aligned(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, BSON_ALIGNOF(bson_t), n ? n : 1) != 0)
        gw_assert_fail("posix_memalign", __FILE__, __LINE__);
    memset(p, 0, n);
    return p;
}

struct emu_store *emu_store_new(size_t oplog_cap)
{
    struct emu_store *s = gw_calloc(1, sizeof *s);
    s->ring_cap = oplog_cap ? oplog_cap : 1;
    s->ring = gw_calloc(s->ring_cap, sizeof *s->ring);
    s->next_seq = 1;
    s->last_ts = emu_ts_make((uint32_t)(gw_wall_ms() / 1000), 0);
    s->lost_before = s->last_ts;
    return s;
}

static void entry_clear(struct emu_oplog_entry *e)
{
    free(e->db);
    free(e->coll);
    if (e->doc)
        bson_destroy(e->doc);
    if (e->key)
        bson_destroy(e->key);
    if (e->desc)
        bson_destroy(e->desc);
    if (e->pre)
        bson_destroy(e->pre);
    memset(e, 0, sizeof *e);
}

/* The bucket that holds hash h now: in the outgrown table until that bucket has moved. */
static struct emu_id_node **index_bucket(const struct emu_coll *c, uint64_t h)
{
    if (c->old && h % c->nold >= c->moved_upto)
        return &c->old[h % c->nold];
    return &c->buckets[h % c->nbuckets];
}

/* Moves up to n buckets of the outgrown table; frees it once all have moved. */
static void index_move(struct emu_coll *c, size_t n)
{
    for (; c->old && n > 0; n--) {
        struct emu_id_node *node = c->old[c->moved_upto];
        while (node) {
            struct emu_id_node *next = node->next;
            node->next = c->buckets[node->hash % c->nbuckets];
            c->buckets[node->hash % c->nbuckets] = node;
            node = next;
        }
        if (++c->moved_upto == c->nold) {
            free(c->old);
            c->old = NULL;
        }
    }
}

/* Links n into the bucket that holds its hash now. */
static void index_link(struct emu_coll *c, struct emu_id_node *n)
{
    struct emu_id_node **bucket = index_bucket(c, n->hash);
    n->next = *bucket;
    *bucket = n;
}

static void index_finish_growing(struct emu_coll *c)
{
    index_move(c, SIZE_MAX);
}

/* Doubles the bucket count. Moving every node at once stalled the server for as long as the
 * collection is big (51 ms at a million documents), which a client sees as a burst; each insert
 * moves INDEX_MOVE_PER_PUT buckets instead. The next doubling comes at least nold inserts
 * later, by which time all nold buckets have moved. */
enum { INDEX_MOVE_PER_PUT = 4 };

static void index_grow(struct emu_coll *c)
{
    index_finish_growing(c);
    c->old = c->buckets;
    c->nold = c->nbuckets;
    c->moved_upto = 0;
    c->nbuckets *= 2;
    c->buckets = gw_calloc(c->nbuckets, sizeof *c->buckets);
}

/* Frees every node of the index and leaves its buckets empty. */
static void index_clear(struct emu_coll *c)
{
    index_finish_growing(c);
    for (size_t b = 0; b < c->nbuckets; b++) {
        struct emu_id_node *n = c->buckets[b];
        while (n) {
            struct emu_id_node *next = n->next;
            free(n);
            n = next;
        }
        c->buckets[b] = NULL;
    }
}

static void coll_free(struct emu_coll *c)
{
    for (size_t i = 0; i < c->nslots; i++)
        if (c->docs[i])
            bson_destroy(c->docs[i]);
    index_clear(c);
    free(c->buckets);
    free(c->docs);
    free(c->db);
    free(c->name);
    free(c);
}

void emu_store_free(struct emu_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncolls; i++)
        coll_free(s->colls[i]);
    free(s->colls);
    for (size_t i = 0; i < s->ring_len; i++)
        entry_clear(&s->ring[(s->ring_head + i) % s->ring_cap]);
    free(s->ring);
    free(s);
}

uint64_t emu_store_tick(struct emu_store *s)
{
    uint32_t now = (uint32_t)(gw_wall_ms() / 1000);
    uint32_t t = emu_ts_secs(s->last_ts), i = emu_ts_inc(s->last_ts);
    s->last_ts = now > t ? emu_ts_make(now, 1) : emu_ts_make(t, i + 1);
    return s->last_ts;
}

/* Appends e (members owned by the ring from now on), evicting the oldest entry when full. */
static void ring_push(struct emu_store *s, struct emu_oplog_entry *e)
{
    if (s->ring_len == s->ring_cap) {
        struct emu_oplog_entry *old = &s->ring[s->ring_head];
        s->lost_before = old->ts + 1;
        entry_clear(old);
        s->ring_head = (s->ring_head + 1) % s->ring_cap;
        s->ring_len--;
    }
    e->seq = s->next_seq++;
    s->ring[(s->ring_head + s->ring_len) % s->ring_cap] = *e;
    s->ring_len++;
}

static bson_t *key_of(const bson_t *doc)
{
    bson_value_t id;
    bson_t *key = bson_new();
    if (doc_id(doc, &id))
        bson_append_value(key, "_id", 3, &id);
    return key;
}

static void log_op_pre(struct emu_store *s, enum emu_op op, const char *db, const char *coll,
                       const bson_t *doc, bson_t *key, const bson_t *desc, bson_t *pre)
{
    struct emu_oplog_entry e = {0};
    e.pre = pre;
    e.ts = emu_store_tick(s);
    e.wall_ms = (int64_t)gw_wall_ms();
    e.op = op;
    e.db = db ? gw_strdup(db) : NULL;
    e.coll = coll ? gw_strdup(coll) : NULL;
    e.doc = doc ? bson_copy(doc) : NULL;
    e.key = key;
    e.desc = desc ? bson_copy(desc) : NULL;
    ring_push(s, &e);
    if (s->journal)
        s->journal(s->journal_ud, &s->ring[(s->ring_head + s->ring_len - 1) % s->ring_cap]);
}

static void log_op(struct emu_store *s, enum emu_op op, const char *db, const char *coll,
                   const bson_t *doc, bson_t *key, const bson_t *desc)
{
    log_op_pre(s, op, db, coll, doc, key, desc, NULL);
}

static struct emu_coll *coll_find(struct emu_store *s, const char *db, const char *name,
                                  size_t *index)
{
    for (size_t i = 0; i < s->ncolls; i++) {
        struct emu_coll *c = s->colls[i];
        if (!strcmp(c->db, db) && !strcmp(c->name, name)) {
            if (index)
                *index = i;
            return c;
        }
    }
    return NULL;
}

static struct emu_coll *coll_add(struct emu_store *s, const char *db, const char *name)
{
    struct emu_coll *c = gw_calloc(1, sizeof *c);
    c->db = gw_strdup(db);
    c->name = gw_strdup(name);
    c->nbuckets = 64;
    c->buckets = gw_calloc(c->nbuckets, sizeof *c->buckets);
    s->colls = gw_realloc(s->colls, sizeof *s->colls * (s->ncolls + 1));
    s->colls[s->ncolls++] = c;
    return c;
}

struct emu_coll *emu_store_coll(struct emu_store *s, const char *db, const char *name, bool create)
{
    struct emu_coll *c = coll_find(s, db, name, NULL);
    if (c || !create)
        return c;
    c = coll_add(s, db, name);
    log_op(s, EMU_OP_CREATE, db, name, NULL, NULL, NULL);
    return c;
}

static void coll_remove(struct emu_store *s, const char *db, const char *name)
{
    size_t i;
    struct emu_coll *c = coll_find(s, db, name, &i);
    if (!c)
        return;
    coll_free(c);
    s->colls[i] = s->colls[--s->ncolls];
}

bool emu_store_drop(struct emu_store *s, const char *db, const char *name)
{
    if (!coll_find(s, db, name, NULL))
        return false;
    coll_remove(s, db, name);
    log_op(s, EMU_OP_DROP, db, name, NULL, NULL, NULL);
    return true;
}

static long index_lookup(const struct emu_coll *c, const bson_value_t *id, struct gw_buf *key,
                         uint64_t *hash_out)
{
    uint64_t h = id_hash(id, key);
    struct gw_buf other = GW_BUF_INIT;
    long found = -1;
    for (struct emu_id_node *n = *index_bucket(c, h); n; n = n->next) {
        bson_value_t oid;
        if (n->hash != h || !doc_id(c->docs[n->slot], &oid))
            continue;
        gw_buf_reset(&other);
        emu_doc_id_key(&oid, &other);
        if (other.len == key->len && !memcmp(other.data, key->data, key->len)) {
            found = (long)n->slot;
            break;
        }
    }
    gw_buf_free(&other);
    if (hash_out)
        *hash_out = h;
    return found;
}

long emu_store_find_id(const struct emu_coll *c, const bson_value_t *id)
{
    struct gw_buf key = GW_BUF_INIT;
    long slot = index_lookup(c, id, &key, NULL);
    gw_buf_free(&key);
    return slot;
}

static void index_remove(struct emu_coll *c, const bson_value_t *id, size_t slot)
{
    struct gw_buf key = GW_BUF_INIT;
    uint64_t h = id_hash(id, &key);
    gw_buf_free(&key);
    for (struct emu_id_node **pn = index_bucket(c, h); *pn; pn = &(*pn)->next) {
        if ((*pn)->slot == slot) {
            struct emu_id_node *n = *pn;
            *pn = n->next;
            free(n);
            return;
        }
    }
}

/* Rebuilds the slot array without holes once deletions dominate, so scans stay proportional to
 * the live documents. */
void emu_store_compact(struct emu_coll *c)
{
    if (c->nslots < 64 || c->live * 2 > c->nslots)
        return;
    size_t j = 0;
    for (size_t i = 0; i < c->nslots; i++)
        if (c->docs[i])
            c->docs[j++] = c->docs[i];
    c->nslots = j;
    index_clear(c);
    struct gw_buf key = GW_BUF_INIT;
    for (size_t i = 0; i < c->nslots; i++) {
        bson_value_t id;
        doc_id(c->docs[i], &id);
        struct emu_id_node *n = gw_malloc(sizeof *n);
        n->hash = id_hash(&id, &key);
        n->slot = i;
        index_link(c, n);
    }
    gw_buf_free(&key);
}

/* Adds doc to the collection without logging. Returns -1 on a duplicate _id (doc freed). */
static int coll_put(struct emu_coll *c, bson_t *doc)
{
    bson_value_t id;
    GW_ASSERT(doc_id(doc, &id));
    struct gw_buf key = GW_BUF_INIT;
    uint64_t h;
    long dup = index_lookup(c, &id, &key, &h);
    gw_buf_free(&key);
    if (dup >= 0) {
        bson_destroy(doc);
        return -1;
    }
    if (c->nslots == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->docs = gw_realloc(c->docs, sizeof *c->docs * c->cap);
    }
    c->docs[c->nslots] = doc;
    index_move(c, INDEX_MOVE_PER_PUT);
    struct emu_id_node *n = gw_malloc(sizeof *n);
    n->hash = h;
    n->slot = c->nslots++;
    index_link(c, n);
    c->live++;
    if (c->live > c->nbuckets)
        index_grow(c);
    return 0;
}

int emu_store_insert(struct emu_store *s, struct emu_coll *c, bson_t *doc)
{
    if (coll_put(c, doc) < 0)
        return -1;
    log_op(s, EMU_OP_INSERT, c->db, c->name, doc, key_of(doc), NULL);
    return 0;
}

void emu_store_replace(struct emu_store *s, struct emu_coll *c, size_t slot, bson_t *doc,
                       enum emu_op op, const bson_t *desc)
{
    GW_ASSERT(slot < c->nslots && c->docs[slot]);
    bson_t *pre = c->docs[slot];
    c->docs[slot] = doc; /* same _id: the index entry stays valid */
    log_op_pre(s, op, c->db, c->name, doc, key_of(doc), desc, pre);
}

static void coll_delete_slot(struct emu_coll *c, size_t slot)
{
    bson_value_t id;
    bson_t *doc = c->docs[slot];
    if (doc_id(doc, &id))
        index_remove(c, &id, slot);
    bson_destroy(doc);
    c->docs[slot] = NULL;
    c->live--;
}

void emu_store_delete(struct emu_store *s, struct emu_coll *c, size_t slot)
{
    GW_ASSERT(slot < c->nslots && c->docs[slot]);
    bson_t *key = key_of(c->docs[slot]);
    bson_t *pre = bson_copy(c->docs[slot]);
    coll_delete_slot(c, slot);
    log_op_pre(s, EMU_OP_DELETE, c->db, c->name, NULL, key, NULL, pre);
}

void emu_store_noop(struct emu_store *s)
{
    log_op(s, EMU_OP_NOOP, NULL, NULL, NULL, NULL, NULL);
}

uint64_t emu_store_first_seq(const struct emu_store *s)
{
    return s->ring_len ? s->ring[s->ring_head].seq : s->next_seq;
}

const struct emu_oplog_entry *emu_store_entry(const struct emu_store *s, uint64_t seq)
{
    uint64_t first = emu_store_first_seq(s);
    if (seq < first || seq >= s->next_seq)
        return NULL;
    return &s->ring[(s->ring_head + (seq - first)) % s->ring_cap];
}

uint64_t emu_store_seq_after(const struct emu_store *s, uint64_t after)
{
    size_t lo = 0, hi = s->ring_len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->ring[(s->ring_head + mid) % s->ring_cap].ts <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return emu_store_first_seq(s) + lo;
}

static void ring_clear(struct emu_store *s)
{
    for (size_t i = 0; i < s->ring_len; i++)
        entry_clear(&s->ring[(s->ring_head + i) % s->ring_cap]);
    s->ring_head = 0;
    s->ring_len = 0;
}

void emu_store_truncate_oplog(struct emu_store *s)
{
    ring_clear(s);
    /* Time moves on so that streams opened from now on get resumable tokens. */
    s->lost_before = emu_store_tick(s);
    if (s->journal) {
        struct emu_oplog_entry e = {.op = EMU_OP_TRUNCATE, .ts = s->lost_before};
        s->journal(s->journal_ud, &e);
    }
}

void emu_store_replay(struct emu_store *s, struct emu_oplog_entry *e)
{
    if (e->ts > s->last_ts)
        s->last_ts = e->ts;
    if (e->op == EMU_OP_TRUNCATE) {
        ring_clear(s);
        s->lost_before = e->ts;
        entry_clear(e);
        return;
    }
    struct emu_coll *c = e->db && e->coll ? coll_find(s, e->db, e->coll, NULL) : NULL;
    switch (e->op) {
    case EMU_OP_CREATE:
        if (!c)
            coll_add(s, e->db, e->coll);
        break;
    case EMU_OP_DROP:
        coll_remove(s, e->db, e->coll);
        break;
    case EMU_OP_INSERT:
    case EMU_OP_UPDATE:
    case EMU_OP_REPLACE:
    case EMU_OP_DELETE: {
        if (!c)
            c = coll_add(s, e->db, e->coll);
        bson_value_t id;
        long slot = e->key && doc_id(e->key, &id) ? emu_store_find_id(c, &id) : -1;
        if (e->op == EMU_OP_DELETE) {
            if (slot >= 0)
                coll_delete_slot(c, (size_t)slot);
        } else if (slot >= 0 && e->doc) {
            bson_destroy(c->docs[slot]);
            c->docs[slot] = bson_copy(e->doc);
        } else if (e->doc) {
            coll_put(c, bson_copy(e->doc));
        }
        break;
    }
    default:
        break;
    }
    ring_push(s, e);
}

void emu_store_restore_coll(struct emu_store *s, const char *db, const char *coll)
{
    if (!coll_find(s, db, coll, NULL))
        coll_add(s, db, coll);
}

void emu_store_restore_doc(struct emu_store *s, const char *db, const char *coll, bson_t *doc)
{
    struct emu_coll *c = coll_find(s, db, coll, NULL);
    if (!c)
        c = coll_add(s, db, coll);
    bson_value_t id;
    if (doc_id(doc, &id))
        coll_put(c, doc);
    else
        bson_destroy(doc);
}

void emu_store_restore_entry(struct emu_store *s, struct emu_oplog_entry *e)
{
    if (e->ts > s->last_ts)
        s->last_ts = e->ts;
    ring_push(s, e);
}
