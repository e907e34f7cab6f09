/* crud.c -- data commands: insert, update, delete, find, count, aggregate (including
 * $changeStream), getMore, killCursors and the collection/database commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "doc.h"
#include "gw/common.h"
#include "match.h"
#include "update.h"

#define DEFAULT_BATCH 101
#define MAX_BATCH_BYTES (16u * 1024 * 1024)
#define MAX_DOC_BYTES (16 * 1024 * 1024)
#define DEFAULT_AWAIT_MS 1000

/* --- helpers --- */

static bool get_field(const bson_t *doc, const char *key, bson_iter_t *it)
{
    return bson_iter_init_find(it, doc, key);
}

static bool get_doc(const bson_t *doc, const char *key, bson_t *out)
{
    bson_iter_t it;
    if (!get_field(doc, key, &it) || !BSON_ITER_HOLDS_DOCUMENT(&it))
        return false;
    uint32_t len;
    const uint8_t *data;
    bson_iter_document(&it, &len, &data);
    return bson_init_static(out, data, len);
}

static bool get_array(const bson_t *doc, const char *key, bson_t *out)
{
    bson_iter_t it;
    if (!get_field(doc, key, &it) || !BSON_ITER_HOLDS_ARRAY(&it))
        return false;
    uint32_t len;
    const uint8_t *data;
    bson_iter_array(&it, &len, &data);
    return bson_init_static(out, data, len);
}

static int64_t get_int(const bson_t *doc, const char *key, int64_t dflt)
{
    bson_iter_t it;
    return get_field(doc, key, &it) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : dflt;
}

static bool get_bool(const bson_t *doc, const char *key, bool dflt)
{
    bson_iter_t it;
    return get_field(doc, key, &it) ? bson_iter_as_bool(&it) : dflt;
}

static void array_key(uint32_t i, char *buf, const char **key)
{
    bson_uint32_to_string(i, key, buf, 16);
}

/* A list of documents owned by the list. */
struct doclist {
    bson_t **docs;
    size_t n;
    size_t cap;
};

static void doclist_push(struct doclist *l, bson_t *doc)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->docs = gw_realloc(l->docs, sizeof *l->docs * l->cap);
    }
    l->docs[l->n++] = doc;
}

static void doclist_free(struct doclist *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->docs[i])
            bson_destroy(l->docs[i]);
    free(l->docs);
    memset(l, 0, sizeof *l);
}

/* If filter is exactly {_id: <plain value>}, returns true with the value. */
static bool filter_is_id(const bson_t *filter, bson_value_t *id)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, filter) || !bson_iter_next(&it) || strcmp(bson_iter_key(&it), "_id"))
        return false;
    if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it) || BSON_ITER_HOLDS_REGEX(&it) ||
        BSON_ITER_HOLDS_NULL(&it))
        return false;
    *id = *bson_iter_value(&it);
    return !bson_iter_next(&it);
}

/* Appends copies of c's documents matching filter to out, at most limit (0: all). */
static void collect(struct emu_coll *c, const bson_t *filter, size_t limit, struct doclist *out)
{
    if (!c)
        return;
    bson_value_t id;
    if (filter_is_id(filter, &id)) {
        long slot = emu_store_find_id(c, &id);
        if (slot >= 0)
            doclist_push(out, bson_copy(c->docs[slot]));
        return;
    }
    for (size_t i = 0; i < c->nslots && (!limit || out->n < limit); i++)
        if (c->docs[i] && emu_match(filter, c->docs[i]))
            doclist_push(out, bson_copy(c->docs[i]));
}

/* Slots of matching documents (borrowed view for updates and deletes). */
static size_t matching_slots(struct emu_coll *c, const bson_t *filter, bool multi, size_t **out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    bson_value_t id;
    if (filter_is_id(filter, &id)) {
        long slot = emu_store_find_id(c, &id);
        if (slot < 0)
            return 0;
        *out = gw_malloc(sizeof **out);
        (*out)[0] = (size_t)slot;
        return 1;
    }
    for (size_t i = 0; i < c->nslots; i++) {
        if (!c->docs[i] || !emu_match(filter, c->docs[i]))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = gw_realloc(*out, sizeof **out * cap);
        }
        (*out)[n++] = i;
        if (!multi)
            break;
    }
    return n;
}

static int cmp_sort(const void *pa, const void *pb, void *arg)
{
    const bson_t *a = *(bson_t *const *)pa, *b = *(bson_t *const *)pb;
    const bson_t *spec = arg;
    bson_iter_t it;
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
        bson_value_t va = {.value_type = BSON_TYPE_NULL}, vb = {.value_type = BSON_TYPE_NULL};
        emu_doc_path_get(a, bson_iter_key(&it), &va);
        emu_doc_path_get(b, bson_iter_key(&it), &vb);
        int c = emu_doc_value_cmp(&va, &vb);
        if (c)
            return bson_iter_as_int64(&it) < 0 ? -c : c;
    }
    return 0;
}

static int check_sort(struct emu_ctx *x, const bson_t *spec)
{
    bson_iter_t it;
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
        int64_t dir = BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
        if (dir != 1 && dir != -1) {
            emu_reply_error(x, 15975, NULL,
                            "$sort key ordering must be 1 (for ascending) or -1 "
                            "(for descending)");
            return -1;
        }
    }
    return 0;
}

/* Stable sort: qsort is not stable, so ties fall back to the original position. */
struct sort_item {
    bson_t *doc;
    size_t pos;
};

static int cmp_item(const void *pa, const void *pb, void *arg)
{
    const struct sort_item *a = pa, *b = pb;
    int c = cmp_sort(&a->doc, &b->doc, arg);
    return c ? c : (a->pos < b->pos ? -1 : 1);
}

static void sort_docs(struct doclist *l, const bson_t *spec)
{
    struct sort_item *items = gw_malloc(sizeof *items * (l->n ? l->n : 1));
    for (size_t i = 0; i < l->n; i++)
        items[i] = (struct sort_item){l->docs[i], i};
    qsort_r(items, l->n, sizeof *items, cmp_item, (void *)spec);
    for (size_t i = 0; i < l->n; i++)
        l->docs[i] = items[i].doc;
    free(items);
}

static void skip_limit(struct doclist *l, int64_t skip, int64_t limit)
{
    size_t s = skip > 0 ? GW_MIN((size_t)skip, l->n) : 0;
    if (l->n == 0)
        return;
    for (size_t i = 0; i < s; i++)
        bson_destroy(l->docs[i]);
    memmove(l->docs, l->docs + s, sizeof *l->docs * (l->n - s));
    l->n -= s;
    if (limit > 0 && (size_t)limit < l->n) {
        for (size_t i = (size_t)limit; i < l->n; i++)
            bson_destroy(l->docs[i]);
        l->n = (size_t)limit;
    }
}

static int project_docs(struct emu_ctx *x, struct doclist *l, const bson_t *spec)
{
    char err[GW_ERR_LEN];
    for (size_t i = 0; i < l->n; i++) {
        bson_t out;
        if (emu_doc_project(l->docs[i], spec, &out, err) < 0) {
            bson_destroy(&out);
            emu_reply_error(x, 31254, NULL, "%s", err);
            return -1;
        }
        bson_destroy(l->docs[i]);
        l->docs[i] = bson_copy(&out);
        bson_destroy(&out);
    }
    return 0;
}

/* --- cursors --- */

struct emu_cursor *emu_cursor_find(struct emu_server *srv, int64_t id)
{
    for (size_t i = 0; i < srv->ncursors; i++)
        if (srv->cursors[i]->id == id)
            return srv->cursors[i];
    return NULL;
}

static struct emu_cursor *cursor_new(struct emu_server *srv, const char *db, const char *coll)
{
    struct emu_cursor *c = gw_calloc(1, sizeof *c);
    c->id = srv->next_cursor_id++;
    c->db = gw_strdup(db);
    c->coll = coll ? gw_strdup(coll) : NULL;
    c->last_used_ms = gw_now_ms();
    srv->cursors = gw_realloc(srv->cursors, sizeof *srv->cursors * (srv->ncursors + 1));
    srv->cursors[srv->ncursors++] = c;
    return c;
}

static void cursor_free(struct emu_cursor *c)
{
    emu_stream_free(c->stream);
    for (size_t i = c->pos; i < c->ndocs; i++)
        bson_destroy(c->docs[i]);
    free(c->docs);
    free(c->db);
    free(c->coll);
    free(c);
}

static bool cursor_remove(struct emu_server *srv, int64_t id)
{
    for (size_t i = 0; i < srv->ncursors; i++) {
        if (srv->cursors[i]->id == id) {
            cursor_free(srv->cursors[i]);
            srv->cursors[i] = srv->cursors[--srv->ncursors];
            return true;
        }
    }
    return false;
}

void emu_cmd_kill_all_cursors(struct emu_server *srv)
{
    for (size_t i = 0; i < srv->ncursors; i++)
        cursor_free(srv->cursors[i]);
    srv->ncursors = 0;
}

/* True when a parked getMore is waiting on cursor id. */
static bool cursor_in_use(struct emu_server *srv, int64_t id)
{
    for (struct emu_conn *k = srv->conns; k; k = k->next) {
        bson_iter_t it;
        if (k->park == EMU_PARK_GETMORE && bson_iter_init(&it, &k->req.command) &&
            bson_iter_next(&it) && BSON_ITER_HOLDS_NUMBER(&it) && bson_iter_as_int64(&it) == id)
            return true;
    }
    return false;
}

void emu_cmd_reap_cursors(struct emu_server *srv, uint64_t now_ms)
{
    const uint64_t timeout_ms = 10 * 60 * 1000;
    for (size_t i = 0; i < srv->ncursors;) {
        struct emu_cursor *c = srv->cursors[i];
        if (now_ms - c->last_used_ms > timeout_ms && !cursor_in_use(srv, c->id)) {
            cursor_free(c);
            srv->cursors[i] = srv->cursors[--srv->ncursors];
        } else {
            i++;
        }
    }
}

static void cursor_ns(const char *db, const char *coll, const char *fallback, char *buf, size_t n)
{
    snprintf(buf, n, "%s.%s", db, coll ? coll : fallback);
}

/* Replies {cursor: {<batch_key>: [...], id, ns, postBatchResumeToken?}, ok: 1}. Takes the
 * documents from l starting at *pos, up to max_docs, and advances *pos. */
static void reply_batch(struct emu_ctx *x, const char *ns, int64_t id, const char *batch_key,
                        bson_t **docs, size_t ndocs, size_t *pos, size_t max_docs)
{
    bson_t *r = emu_reply_begin(x);
    bson_t cur, arr;
    BSON_APPEND_DOCUMENT_BEGIN(r, "cursor", &cur);
    BSON_APPEND_ARRAY_BEGIN(&cur, batch_key, &arr);
    uint32_t k = 0;
    while (*pos < ndocs && k < max_docs && (k == 0 || arr.len < MAX_BATCH_BYTES)) {
        char buf[16];
        const char *key;
        array_key(k++, buf, &key);
        BSON_APPEND_DOCUMENT(&arr, key, docs[*pos]);
        bson_destroy(docs[*pos]);
        docs[(*pos)++] = NULL;
    }
    bson_append_array_end(&cur, &arr);
    BSON_APPEND_INT64(&cur, "id", *pos < ndocs ? id : 0);
    BSON_APPEND_UTF8(&cur, "ns", ns);
    bson_append_document_end(r, &cur);
    emu_reply_end(x);
}

/* Sends the first batch of l; keeps the rest in a cursor unless single_batch. Frees l. */
static void reply_first_batch(struct emu_ctx *x, const char *coll, const char *fallback_ns,
                              struct doclist *l, int64_t batch, bool single_batch)
{
    char ns[300];
    cursor_ns(x->db, coll, fallback_ns, ns, sizeof ns);
    size_t pos = 0;
    size_t max = batch >= 0 ? (size_t)batch : DEFAULT_BATCH;
    if (single_batch)
        max = SIZE_MAX;
    struct emu_cursor *c = NULL;
    int64_t id = 0;
    bool more = !single_batch && l->n > 0;
    if (more) {
        c = cursor_new(x->srv, x->db, coll);
        id = c->id;
    }
    reply_batch(x, ns, id, "firstBatch", l->docs, l->n, &pos, max);
    if (c && pos < l->n) {
        c->docs = l->docs;
        c->ndocs = l->n;
        c->pos = pos;
        l->docs = NULL;
        l->n = 0;
    } else if (c) {
        cursor_remove(x->srv, c->id);
    }
    doclist_free(l);
}

/* --- insert / update / delete --- */

static void write_error(bson_t *arr, uint32_t *nerr, uint32_t index, int code, const char *msg)
{
    char buf[16];
    const char *key;
    array_key((*nerr)++, buf, &key);
    bson_t e;
    BSON_APPEND_DOCUMENT_BEGIN(arr, key, &e);
    BSON_APPEND_INT32(&e, "index", (int32_t)index);
    BSON_APPEND_INT32(&e, "code", code);
    BSON_APPEND_UTF8(&e, "errmsg", msg);
    bson_append_document_end(arr, &e);
}

static void dup_key_message(const char *db, const char *coll, const bson_t *doc, char *msg,
                            size_t n)
{
    bson_value_t id;
    bson_t key = BSON_INITIALIZER;
    if (emu_doc_path_get(doc, "_id", &id))
        bson_append_value(&key, "_id", 3, &id);
    char *json = bson_as_relaxed_extended_json(&key, NULL);
    snprintf(msg, n, "E11000 duplicate key error collection: %s.%s index: _id_ dup key: %s", db,
             coll, json ? json : "{}");
    bson_free(json);
    bson_destroy(&key);
}

/* A copy of doc with an _id first (a new ObjectId when it had none). */
static bson_t *with_id(const bson_t *doc)
{
    bson_value_t id;
    if (emu_doc_path_get(doc, "_id", &id)) {
        bson_iter_t it;
        bson_iter_init(&it, doc);
        if (bson_iter_next(&it) && !strcmp(bson_iter_key(&it), "_id"))
            return bson_copy(doc);
        bson_t *out = bson_new();
        bson_append_value(out, "_id", 3, &id);
        bson_iter_init(&it, doc);
        while (bson_iter_next(&it))
            if (strcmp(bson_iter_key(&it), "_id"))
                bson_append_iter(out, NULL, 0, &it);
        return out;
    }
    bson_t *out = bson_new();
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    BSON_APPEND_OID(out, "_id", &oid);
    bson_concat(out, doc);
    return out;
}

static void finish_write(struct emu_ctx *x, bson_t *r, bson_t *errs, uint32_t nerr)
{
    if (nerr)
        BSON_APPEND_ARRAY(r, "writeErrors", errs);
    bson_destroy(errs);
    emu_reply_end(x);
}

void emu_crud_insert(struct emu_ctx *x)
{
    const char *name = emu_ctx_coll(x);
    bson_t docs;
    if (!name)
        return;
    if (!get_array(x->cmd, "documents", &docs)) {
        emu_reply_error(x, 9, NULL,
                        "BSON field 'insert.documents' is missing but a required "
                        "field");
        return;
    }
    bool ordered = get_bool(x->cmd, "ordered", true);
    struct emu_coll *c = emu_store_coll(x->srv->store, x->db, name, true);
    bson_t errs = BSON_INITIALIZER;
    uint32_t nerr = 0, index = 0;
    int32_t n = 0;
    bson_iter_t it;
    bson_iter_init(&it, &docs);
    while (bson_iter_next(&it)) {
        uint32_t i = index++;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
            write_error(&errs, &nerr, i, 2, "documents must be objects");
        } else {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&it, &len, &data);
            bson_t doc;
            bson_init_static(&doc, data, len);
            bson_t *stored = with_id(&doc);
            if (stored->len > MAX_DOC_BYTES) {
                bson_destroy(stored);
                write_error(&errs, &nerr, i, 10334, "object to insert exceeds the maximum size");
            } else {
                bson_value_t id;
                emu_doc_path_get(stored, "_id", &id);
                if (emu_store_find_id(c, &id) >= 0) {
                    /* The message is built only for the rare duplicate: it costs a JSON dump. */
                    char msg[512];
                    dup_key_message(x->db, name, stored, msg, sizeof msg);
                    bson_destroy(stored);
                    write_error(&errs, &nerr, i, 11000, msg);
                } else if (emu_store_insert(x->srv->store, c, stored) == 0) {
                    n++;
                }
            }
        }
        if (nerr && ordered)
            break;
    }
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_INT32(r, "n", n);
    finish_write(x, r, &errs, nerr);
}

/* Upsert: builds the new document from the query's equality fields and the update. */
static int upsert_one(struct emu_ctx *x, struct emu_coll *c, const bson_t *q, const bson_t *u,
                      bson_value_t *new_id, bson_t *id_holder, int *code, char *err)
{
    enum emu_update_kind kind;
    if (emu_update_validate(u, &kind, err) < 0) {
        *code = 9;
        return -1;
    }
    bson_t seed, out;
    emu_update_upsert_seed(q, &seed);
    if (kind == EMU_UPDATE_REPLACEMENT) {
        /* A replacement keeps only the query's _id. */
        bson_t only_id = BSON_INITIALIZER;
        bson_value_t id;
        if (emu_doc_path_get(&seed, "_id", &id))
            bson_append_value(&only_id, "_id", 3, &id);
        bson_destroy(&seed);
        bson_steal(&seed, &only_id);
    }
    int rc = emu_update_apply(&seed, u, true, &out, NULL, code, err);
    bson_destroy(&seed);
    if (rc < 0) {
        bson_destroy(&out);
        return -1;
    }
    bson_t *doc = with_id(&out);
    bson_destroy(&out);
    bson_value_t id;
    emu_doc_path_get(doc, "_id", &id);
    bson_init(id_holder);
    bson_append_value(id_holder, "_id", 3, &id);
    emu_doc_path_get(id_holder, "_id", new_id);
    if (emu_store_insert(x->srv->store, c, doc) < 0) {
        *code = 11000;
        dup_key_message(x->db, c->name, id_holder, err, GW_ERR_LEN);
        bson_destroy(id_holder);
        return -1;
    }
    return 0;
}

/* Applies u to the documents in slots. Returns modified count or -1 with code/err. */
static long update_slots(struct emu_ctx *x, struct emu_coll *c, const size_t *slots, size_t n,
                         const bson_t *u, int *code, char *err)
{
    enum emu_update_kind kind;
    emu_update_validate(u, &kind, err);
    long modified = 0;
    for (size_t i = 0; i < n; i++) {
        const bson_t *doc = c->docs[slots[i]];
        struct emu_update_desc desc;
        bson_t out;
        if (emu_update_apply(doc, u, false, &out, &desc, code, err) < 0) {
            bson_destroy(&out);
            emu_update_desc_cleanup(&desc);
            return -1;
        }
        if (out.len == doc->len && !memcmp(bson_get_data(&out), bson_get_data(doc), doc->len)) {
            bson_destroy(&out);
            emu_update_desc_cleanup(&desc);
            continue;
        }
        bson_t full = BSON_INITIALIZER;
        if (kind == EMU_UPDATE_OPERATORS) {
            BSON_APPEND_DOCUMENT(&full, "updatedFields", &desc.updated);
            BSON_APPEND_ARRAY(&full, "removedFields", &desc.removed);
            bson_t empty;
            BSON_APPEND_ARRAY_BEGIN(&full, "truncatedArrays", &empty);
            bson_append_array_end(&full, &empty);
        }
        emu_store_replace(x->srv->store, c, slots[i], bson_copy(&out),
                          kind == EMU_UPDATE_OPERATORS ? EMU_OP_UPDATE : EMU_OP_REPLACE,
                          kind == EMU_UPDATE_OPERATORS ? &full : NULL);
        bson_destroy(&full);
        bson_destroy(&out);
        emu_update_desc_cleanup(&desc);
        modified++;
    }
    return modified;
}

void emu_crud_update(struct emu_ctx *x)
{
    const char *name = emu_ctx_coll(x);
    bson_t updates;
    if (!name)
        return;
    if (!get_array(x->cmd, "updates", &updates)) {
        emu_reply_error(x, 9, NULL, "BSON field 'update.updates' is missing but a required field");
        return;
    }
    bool ordered = get_bool(x->cmd, "ordered", true);
    bson_t errs = BSON_INITIALIZER, upserted = BSON_INITIALIZER;
    uint32_t nerr = 0, nups = 0, index = 0;
    int64_t matched = 0, modified = 0;
    bson_iter_t it;
    bson_iter_init(&it, &updates);
    while (bson_iter_next(&it)) {
        uint32_t i = index++;
        bson_t st, q, u;
        char err[GW_ERR_LEN];
        int code = 9;
        uint32_t len;
        const uint8_t *data;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
            write_error(&errs, &nerr, i, 9, "update statements must be objects");
            goto next;
        }
        bson_iter_document(&it, &len, &data);
        bson_init_static(&st, data, len);
        if (!get_doc(&st, "q", &q) || !get_doc(&st, "u", &u)) {
            write_error(&errs, &nerr, i, 9,
                        "update statement needs q and u documents "
                        "(pipeline-style updates are not supported)");
            goto next;
        }
        if (emu_match_validate(&q, err) < 0) {
            write_error(&errs, &nerr, i, 2, err);
            goto next;
        }
        enum emu_update_kind kind;
        if (emu_update_validate(&u, &kind, err) < 0) {
            write_error(&errs, &nerr, i, 9, err);
            goto next;
        }
        bool multi = get_bool(&st, "multi", false);
        if (multi && kind == EMU_UPDATE_REPLACEMENT) {
            write_error(&errs, &nerr, i, 9,
                        "multi update is not supported for "
                        "replacement-style update");
            goto next;
        }
        struct emu_coll *c = emu_store_coll(x->srv->store, x->db, name, false);
        size_t *slots = NULL;
        size_t n = c ? matching_slots(c, &q, multi, &slots) : 0;
        if (n) {
            long m = update_slots(x, c, slots, n, &u, &code, err);
            free(slots);
            if (m < 0) {
                write_error(&errs, &nerr, i, code, err);
                goto next;
            }
            matched += (int64_t)n;
            modified += m;
        } else if (get_bool(&st, "upsert", false)) {
            c = emu_store_coll(x->srv->store, x->db, name, true);
            bson_value_t id;
            bson_t holder;
            if (upsert_one(x, c, &q, &u, &id, &holder, &code, err) < 0) {
                write_error(&errs, &nerr, i, code, err);
                goto next;
            }
            char buf[16];
            const char *key;
            array_key(nups++, buf, &key);
            bson_t up;
            BSON_APPEND_DOCUMENT_BEGIN(&upserted, key, &up);
            BSON_APPEND_INT32(&up, "index", (int32_t)i);
            bson_append_value(&up, "_id", 3, &id);
            bson_append_document_end(&upserted, &up);
            bson_destroy(&holder);
            matched++;
        }
    next:
        if (nerr && ordered)
            break;
    }
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_INT32(r, "n", (int32_t)matched);
    BSON_APPEND_INT32(r, "nModified", (int32_t)modified);
    if (nups)
        BSON_APPEND_ARRAY(r, "upserted", &upserted);
    bson_destroy(&upserted);
    finish_write(x, r, &errs, nerr);
}

void emu_crud_delete(struct emu_ctx *x)
{
    const char *name = emu_ctx_coll(x);
    bson_t deletes;
    if (!name)
        return;
    if (!get_array(x->cmd, "deletes", &deletes)) {
        emu_reply_error(x, 9, NULL, "BSON field 'delete.deletes' is missing but a required field");
        return;
    }
    bool ordered = get_bool(x->cmd, "ordered", true);
    bson_t errs = BSON_INITIALIZER;
    uint32_t nerr = 0, index = 0;
    int32_t n = 0;
    bson_iter_t it;
    bson_iter_init(&it, &deletes);
    while (bson_iter_next(&it)) {
        uint32_t i = index++;
        bson_t st, q;
        char err[GW_ERR_LEN];
        uint32_t len;
        const uint8_t *data;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
            write_error(&errs, &nerr, i, 9, "delete statements must be objects");
        } else {
            bson_iter_document(&it, &len, &data);
            bson_init_static(&st, data, len);
            if (!get_doc(&st, "q", &q)) {
                write_error(&errs, &nerr, i, 9, "delete statement needs a q document");
            } else if (emu_match_validate(&q, err) < 0) {
                write_error(&errs, &nerr, i, 2, err);
            } else {
                struct emu_coll *c = emu_store_coll(x->srv->store, x->db, name, false);
                size_t *slots = NULL;
                size_t m = c ? matching_slots(c, &q, get_int(&st, "limit", 0) != 1, &slots) : 0;
                for (size_t k = 0; k < m; k++)
                    emu_store_delete(x->srv->store, c, slots[k]);
                if (c)
                    emu_store_compact(c);
                free(slots);
                n += (int32_t)m;
            }
        }
        if (nerr && ordered)
            break;
    }
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_INT32(r, "n", n);
    finish_write(x, r, &errs, nerr);
}

/* --- find / count --- */

static bool filter_arg(struct emu_ctx *x, const char *key, bson_t *filter)
{
    char err[GW_ERR_LEN];
    bson_iter_t it;
    if (get_field(x->cmd, key, &it) && !BSON_ITER_HOLDS_DOCUMENT(&it) &&
        !BSON_ITER_HOLDS_NULL(&it)) {
        emu_reply_error(x, 14, NULL, "BSON field '%s' is the wrong type, expected an object", key);
        return false;
    }
    if (!get_doc(x->cmd, key, filter))
        bson_init(filter);
    if (emu_match_validate(filter, err) < 0) {
        emu_reply_error(x, 2, NULL, "%s", err);
        return false;
    }
    return true;
}

void emu_crud_find(struct emu_ctx *x)
{
    const char *name = emu_ctx_coll(x);
    bson_t filter, sort, proj;
    if (!name || !filter_arg(x, "filter", &filter))
        return;
    bool has_sort = get_doc(x->cmd, "sort", &sort) && !bson_empty(&sort);
    if (has_sort && check_sort(x, &sort) < 0)
        return;
    int64_t limit = get_int(x->cmd, "limit", 0), skip = get_int(x->cmd, "skip", 0);
    bool single = get_bool(x->cmd, "singleBatch", false) || limit < 0;
    if (limit < 0)
        limit = -limit;
    struct doclist l = {0};
    struct emu_coll *c = emu_store_coll(x->srv->store, x->db, name, false);
    collect(c, &filter, has_sort ? 0 : (size_t)(limit + GW_MAX(skip, 0)) * (limit > 0), &l);
    if (has_sort)
        sort_docs(&l, &sort);
    skip_limit(&l, skip, limit);
    if (get_doc(x->cmd, "projection", &proj) && !bson_empty(&proj) &&
        project_docs(x, &l, &proj) < 0) {
        doclist_free(&l);
        return;
    }
    reply_first_batch(x, name, name, &l, get_int(x->cmd, "batchSize", -1), single);
}

void emu_crud_count(struct emu_ctx *x)
{
    const char *name = emu_ctx_coll(x);
    bson_t filter;
    if (!name || !filter_arg(x, "query", &filter))
        return;
    struct doclist l = {0};
    collect(emu_store_coll(x->srv->store, x->db, name, false), &filter, 0, &l);
    skip_limit(&l, get_int(x->cmd, "skip", 0), get_int(x->cmd, "limit", 0));
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_INT32(r, "n", (int32_t)l.n);
    doclist_free(&l);
    emu_reply_end(x);
}

/* --- aggregate --- */

static bool stage_doc(const bson_iter_t *stage_it, const char **name, bson_iter_t *arg)
{
    bson_iter_t s;
    if (!BSON_ITER_HOLDS_DOCUMENT(stage_it) || !bson_iter_recurse(stage_it, &s) ||
        !bson_iter_next(&s))
        return false;
    *name = bson_iter_key(&s);
    *arg = s;
    return !bson_iter_next(&s);
}

static bool arg_doc(const bson_iter_t *arg, bson_t *out)
{
    if (!BSON_ITER_HOLDS_DOCUMENT(arg))
        return false;
    uint32_t len;
    const uint8_t *data;
    bson_iter_document(arg, &len, &data);
    return bson_init_static(out, data, len);
}

/* $group with a constant _id and {$sum: <number>} accumulators (countDocuments' shape). */
static int stage_group(struct emu_ctx *x, struct doclist *l, const bson_t *spec)
{
    bson_iter_t it;
    bson_t *out = bson_new();
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
        const char *field = bson_iter_key(&it);
        if (!strcmp(field, "_id")) {
            if (BSON_ITER_HOLDS_UTF8(&it) && bson_iter_utf8(&it, NULL)[0] == '$')
                goto unsupported;
            bson_append_iter(out, "_id", 3, &it);
            continue;
        }
        bson_iter_t acc;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &acc) ||
            !bson_iter_next(&acc) || strcmp(bson_iter_key(&acc), "$sum") ||
            !BSON_ITER_HOLDS_NUMBER(&acc))
            goto unsupported;
        int64_t sum = bson_iter_as_int64(&acc) * (int64_t)l->n;
        if (sum >= INT32_MIN && sum <= INT32_MAX)
            BSON_APPEND_INT32(out, field, (int32_t)sum);
        else
            BSON_APPEND_INT64(out, field, sum);
    }
    bool empty = l->n == 0;
    doclist_free(l);
    if (!empty)
        doclist_push(l, out);
    else
        bson_destroy(out);
    return 0;
unsupported:
    bson_destroy(out);
    emu_reply_error(x, 2, NULL,
                    "mongo-emu supports $group only with a constant _id and "
                    "{$sum: <number>} accumulators");
    return -1;
}

static int run_stage(struct emu_ctx *x, struct doclist *l, const char *name, bson_iter_t *arg)
{
    bson_t spec;
    char err[GW_ERR_LEN];
    if (!strcmp(name, "$match") || !strcmp(name, "$sort") || !strcmp(name, "$project") ||
        !strcmp(name, "$group")) {
        if (!arg_doc(arg, &spec)) {
            emu_reply_error(x, 15955, NULL, "the %s stage specification must be an object", name);
            return -1;
        }
    }
    if (!strcmp(name, "$match")) {
        if (emu_match_validate(&spec, err) < 0) {
            emu_reply_error(x, 2, NULL, "%s", err);
            return -1;
        }
        size_t j = 0;
        for (size_t i = 0; i < l->n; i++) {
            if (emu_match(&spec, l->docs[i]))
                l->docs[j++] = l->docs[i];
            else
                bson_destroy(l->docs[i]);
        }
        l->n = j;
    } else if (!strcmp(name, "$sort")) {
        if (check_sort(x, &spec) < 0)
            return -1;
        sort_docs(l, &spec);
    } else if (!strcmp(name, "$skip") || !strcmp(name, "$limit")) {
        if (!BSON_ITER_HOLDS_NUMBER(arg) || bson_iter_as_int64(arg) < 0) {
            emu_reply_error(x, 15956, NULL, "%s needs a non-negative number", name);
            return -1;
        }
        int64_t v = bson_iter_as_int64(arg);
        skip_limit(l, name[1] == 's' ? v : 0, name[1] == 'l' ? GW_MAX(v, 1) : 0);
    } else if (!strcmp(name, "$project")) {
        return project_docs(x, l, &spec);
    } else if (!strcmp(name, "$count")) {
        if (!BSON_ITER_HOLDS_UTF8(arg)) {
            emu_reply_error(x, 40156, NULL, "the count field must be a non-empty string");
            return -1;
        }
        bson_t *out = bson_new();
        BSON_APPEND_INT32(out, bson_iter_utf8(arg, NULL), (int32_t)l->n);
        bool empty = l->n == 0;
        doclist_free(l);
        if (!empty)
            doclist_push(l, out);
        else
            bson_destroy(out);
    } else if (!strcmp(name, "$group")) {
        return stage_group(x, l, &spec);
    } else if (!strcmp(name, "$changeStream")) {
        emu_reply_error(x, 40602, NULL,
                        "$changeStream is only valid as the first stage in a "
                        "pipeline.");
        return -1;
    } else {
        emu_reply_error(x, 40324, NULL, "Unrecognized pipeline stage name: '%s'", name);
        return -1;
    }
    return 0;
}

static void aggregate_change_stream(struct emu_ctx *x, const char *coll, bson_iter_t *pipe,
                                    int64_t batch)
{
    if (x->srv->cfg.standalone) {
        emu_reply_error(x, 40573, NULL,
                        "The $changeStream stage is only supported on replica sets");
        return;
    }
    const char *sname;
    bson_iter_t arg;
    bson_t spec;
    if (!stage_doc(pipe, &sname, &arg) || !arg_doc(&arg, &spec)) {
        emu_reply_error(x, 40573, NULL, "the $changeStream stage specification must be an object");
        return;
    }
    bson_t rest = BSON_INITIALIZER;
    uint32_t k = 0;
    while (bson_iter_next(pipe)) {
        char buf[16];
        const char *key;
        array_key(k++, buf, &key);
        bson_append_iter(&rest, key, -1, pipe);
    }
    struct emu_stream_error serr;
    struct emu_stream *st = emu_stream_open(x->srv->store, x->db, coll, &spec, &rest, &serr);
    bson_destroy(&rest);
    if (!st) {
        emu_reply_error(x, serr.code, NULL, "%s", serr.msg);
        return;
    }
    bson_t events = BSON_INITIALIZER;
    uint32_t count = 0;
    if (emu_stream_fill(st, x->srv->store, &events, &count,
                        batch >= 0 ? (uint32_t)GW_MIN(batch, INT32_MAX) : DEFAULT_BATCH,
                        MAX_BATCH_BYTES, &serr) < 0) {
        bson_destroy(&events);
        emu_stream_free(st);
        emu_reply_error(x, serr.code, NULL, "%s", serr.msg);
        return;
    }
    int64_t id = 0;
    if (!st->closed) {
        struct emu_cursor *c = cursor_new(x->srv, x->db, coll);
        c->stream = st;
        id = c->id;
    }
    char ns[300];
    cursor_ns(x->db, coll, "$cmd.aggregate", ns, sizeof ns);
    bson_t *r = emu_reply_begin(x);
    bson_t cur;
    BSON_APPEND_DOCUMENT_BEGIN(r, "cursor", &cur);
    BSON_APPEND_ARRAY(&cur, "firstBatch", &events);
    emu_token_append(&cur, "postBatchResumeToken", &st->pbrt);
    BSON_APPEND_INT64(&cur, "id", id);
    BSON_APPEND_UTF8(&cur, "ns", ns);
    bson_append_document_end(r, &cur);
    emu_reply_end(x);
    bson_destroy(&events);
    if (!id)
        emu_stream_free(st);
}

void emu_crud_aggregate(struct emu_ctx *x)
{
    bson_iter_t it, pipe;
    const char *coll = NULL;
    bson_iter_init(&it, x->cmd);
    bson_iter_next(&it);
    if (BSON_ITER_HOLDS_UTF8(&it)) {
        if (!(coll = emu_ctx_coll(x)))
            return;
    } else if (!(BSON_ITER_HOLDS_NUMBER(&it) && bson_iter_as_int64(&it) == 1)) {
        emu_reply_error(x, 73, NULL, "aggregate needs a collection name or 1");
        return;
    }
    bson_t cursor_opt;
    if (!get_doc(x->cmd, "cursor", &cursor_opt)) {
        emu_reply_error(x, 9, NULL,
                        "The 'cursor' option is required, except for aggregate "
                        "with the explain argument");
        return;
    }
    int64_t batch = get_int(&cursor_opt, "batchSize", -1);
    if (!get_field(x->cmd, "pipeline", &it) || !BSON_ITER_HOLDS_ARRAY(&it)) {
        emu_reply_error(x, 14, NULL, "'pipeline' option must be specified as an array");
        return;
    }
    bson_iter_recurse(&it, &pipe);
    bson_iter_t first = pipe;
    const char *name;
    bson_iter_t arg;
    if (bson_iter_next(&first) && stage_doc(&first, &name, &arg) &&
        !strcmp(name, "$changeStream")) {
        aggregate_change_stream(x, coll, &first, batch);
        return;
    }
    if (!coll) {
        emu_reply_error(x, 73, NULL,
                        "mongo-emu supports database-level aggregate only for "
                        "$changeStream");
        return;
    }
    struct doclist l = {0};
    bson_t all = BSON_INITIALIZER;
    collect(emu_store_coll(x->srv->store, x->db, coll, false), &all, 0, &l);
    bson_destroy(&all);
    while (bson_iter_next(&pipe)) {
        if (!stage_doc(&pipe, &name, &arg)) {
            doclist_free(&l);
            emu_reply_error(x, 40323, NULL,
                            "A pipeline stage specification object must "
                            "contain exactly one field.");
            return;
        }
        if (run_stage(x, &l, name, &arg) < 0) {
            doclist_free(&l);
            return;
        }
    }
    reply_first_batch(x, coll, coll, &l, batch, false);
}

/* --- getMore / killCursors --- */

static void count_batch(struct emu_server *srv, bool waited, uint32_t count)
{
    size_t i = 0;
    while (i + 1 < EMU_BATCH_BUCKETS && count > (1u << i))
        i++;
    srv->stream_replies[waited][i]++;
    srv->stream_events[waited][i] += count;
}

static void get_more_stream(struct emu_ctx *x, struct emu_cursor *c, int64_t batch)
{
    struct emu_conn *conn = x->conn;
    struct emu_stream_error serr;
    bson_t events = BSON_INITIALIZER;
    uint32_t count = 0;
    uint32_t max = batch > 0 ? (uint32_t)GW_MIN(batch, INT32_MAX) : UINT32_MAX;
    if (emu_stream_fill(c->stream, x->srv->store, &events, &count, max, MAX_BATCH_BYTES, &serr) <
        0) {
        bson_destroy(&events);
        cursor_remove(x->srv, c->id);
        emu_reply_error(x, serr.code, NULL, "%s", serr.msg);
        return;
    }
    uint64_t now = gw_now_ms();
    if (!x->resumed) {
        int64_t wait = get_int(x->cmd, "maxTimeMS", DEFAULT_AWAIT_MS);
        conn->deadline_ms = now + (uint64_t)GW_MAX(GW_MIN(wait, 24 * 3600 * 1000), 0);
    }
    if (count == 0 && !c->stream->closed && now < conn->deadline_ms) {
        bson_destroy(&events);
        x->res->outcome = EMU_CMD_PARK;
        x->res->park = EMU_PARK_GETMORE;
        x->res->deadline_ms = conn->deadline_ms;
        return;
    }
    if (count > 0)
        count_batch(x->srv, x->resumed, count);
    char ns[300];
    cursor_ns(c->db, c->coll, "$cmd.aggregate", ns, sizeof ns);
    bool closed = c->stream->closed;
    bson_t *r = emu_reply_begin(x);
    bson_t cur;
    BSON_APPEND_DOCUMENT_BEGIN(r, "cursor", &cur);
    BSON_APPEND_ARRAY(&cur, "nextBatch", &events);
    emu_token_append(&cur, "postBatchResumeToken", &c->stream->pbrt);
    BSON_APPEND_INT64(&cur, "id", closed ? 0 : c->id);
    BSON_APPEND_UTF8(&cur, "ns", ns);
    bson_append_document_end(r, &cur);
    emu_reply_end(x);
    bson_destroy(&events);
    c->last_used_ms = now;
    if (closed)
        cursor_remove(x->srv, c->id);
}

void emu_crud_get_more(struct emu_ctx *x)
{
    bson_iter_t it;
    bson_iter_init(&it, x->cmd);
    bson_iter_next(&it);
    if (!BSON_ITER_HOLDS_INT64(&it) && !BSON_ITER_HOLDS_INT32(&it)) {
        emu_reply_error(x, 14, NULL, "Field 'getMore' must be of type long in: getMore");
        return;
    }
    int64_t id = bson_iter_as_int64(&it);
    struct emu_cursor *c = emu_cursor_find(x->srv, id);
    if (!c) {
        emu_reply_error(x, 43, NULL, "cursor id %lld not found", (long long)id);
        return;
    }
    x->change_stream = c->stream != NULL;
    if (!x->resumed && emu_cmd_getmore_failpoint(x))
        return;
    if (x->resumed && x->conn->park_epoch != x->srv->interrupt_epoch) {
        cursor_remove(x->srv, id);
        emu_reply_error(x, 11602, NULL,
                        "operation was interrupted because of a replica set "
                        "state change (stepdown)");
        return;
    }
    int64_t batch = get_int(x->cmd, "batchSize", 0);
    if (c->stream) {
        get_more_stream(x, c, batch);
        return;
    }
    char ns[300];
    cursor_ns(c->db, c->coll, c->coll, ns, sizeof ns);
    size_t pos = c->pos;
    reply_batch(x, ns, id, "nextBatch", c->docs, c->ndocs, &pos,
                batch > 0 ? (size_t)batch : SIZE_MAX);
    c->pos = pos;
    c->last_used_ms = gw_now_ms();
    if (pos >= c->ndocs)
        cursor_remove(x->srv, id);
}

void emu_crud_kill_cursors(struct emu_ctx *x)
{
    bson_t ids, killed = BSON_INITIALIZER, missing = BSON_INITIALIZER;
    if (!get_array(x->cmd, "cursors", &ids)) {
        emu_reply_error(x, 9, NULL,
                        "BSON field 'killCursors.cursors' is missing but a required "
                        "field");
        return;
    }
    uint32_t nk = 0, nm = 0;
    bson_iter_t it;
    bson_iter_init(&it, &ids);
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_NUMBER(&it))
            continue;
        int64_t id = bson_iter_as_int64(&it);
        char buf[16];
        const char *key;
        bool ok = cursor_remove(x->srv, id);
        array_key(ok ? nk++ : nm++, buf, &key);
        BSON_APPEND_INT64(ok ? &killed : &missing, key, id);
    }
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_ARRAY(r, "cursorsKilled", &killed);
    BSON_APPEND_ARRAY(r, "cursorsNotFound", &missing);
    bson_t empty = BSON_INITIALIZER;
    BSON_APPEND_ARRAY(r, "cursorsAlive", &empty);
    BSON_APPEND_ARRAY(r, "cursorsUnknown", &empty);
    emu_reply_end(x);
    bson_destroy(&killed);
    bson_destroy(&missing);
}

/* --- collections and databases --- */

static void append_id_index(bson_t *doc, const char *key)
{
    bson_t idx, k;
    BSON_APPEND_DOCUMENT_BEGIN(doc, key, &idx);
    BSON_APPEND_INT32(&idx, "v", 2);
    BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &k);
    BSON_APPEND_INT32(&k, "_id", 1);
    bson_append_document_end(&idx, &k);
    BSON_APPEND_UTF8(&idx, "name", "_id_");
    bson_append_document_end(doc, &idx);
}

void emu_crud_list_collections(struct emu_ctx *x)
{
    bson_t filter;
    if (!filter_arg(x, "filter", &filter))
        return;
    bool name_only = get_bool(x->cmd, "nameOnly", false);
    struct doclist l = {0};
    struct emu_store *s = x->srv->store;
    for (size_t i = 0; i < s->ncolls; i++) {
        if (strcmp(s->colls[i]->db, x->db))
            continue;
        bson_t *d = bson_new();
        BSON_APPEND_UTF8(d, "name", s->colls[i]->name);
        BSON_APPEND_UTF8(d, "type", "collection");
        if (!name_only) {
            bson_t opts, info;
            BSON_APPEND_DOCUMENT_BEGIN(d, "options", &opts);
            bson_append_document_end(d, &opts);
            BSON_APPEND_DOCUMENT_BEGIN(d, "info", &info);
            BSON_APPEND_BOOL(&info, "readOnly", false);
            bson_append_document_end(d, &info);
            append_id_index(d, "idIndex");
        }
        if (emu_match(&filter, d))
            doclist_push(&l, d);
        else
            bson_destroy(d);
    }
    reply_first_batch(x, NULL, "$cmd.listCollections", &l, -1, true);
}

void emu_crud_list_indexes(struct emu_ctx *x)
{
    const char *name = emu_ctx_coll(x);
    if (!name)
        return;
    if (!emu_store_coll(x->srv->store, x->db, name, false)) {
        emu_reply_error(x, 26, NULL, "ns does not exist: %s.%s", x->db, name);
        return;
    }
    struct doclist l = {0};
    bson_t *wrap = bson_new();
    append_id_index(wrap, "i");
    bson_t idx;
    get_doc(wrap, "i", &idx);
    doclist_push(&l, bson_copy(&idx));
    bson_destroy(wrap);
    reply_first_batch(x, name, name, &l, -1, true);
}

void emu_crud_create_indexes(struct emu_ctx *x)
{
    const char *name = emu_ctx_coll(x);
    bson_t indexes;
    if (!name)
        return;
    if (!get_array(x->cmd, "indexes", &indexes)) {
        emu_reply_error(x, 9, NULL,
                        "BSON field 'createIndexes.indexes' is missing but a "
                        "required field");
        return;
    }
    bool existed = emu_store_coll(x->srv->store, x->db, name, false) != NULL;
    emu_store_coll(x->srv->store, x->db, name, true);
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_INT32(r, "numIndexesBefore", 1);
    BSON_APPEND_INT32(r, "numIndexesAfter", 1 + (int32_t)bson_count_keys(&indexes));
    BSON_APPEND_BOOL(r, "createdCollectionAutomatically", !existed);
    BSON_APPEND_UTF8(r, "note", "mongo-emu accepts index definitions but does not build them");
    emu_reply_end(x);
}

void emu_crud_create(struct emu_ctx *x)
{
    const char *name = emu_ctx_coll(x);
    if (!name)
        return;
    if (emu_store_coll(x->srv->store, x->db, name, false)) {
        emu_reply_error(x, 48, NULL, "Collection %s.%s already exists.", x->db, name);
        return;
    }
    emu_store_coll(x->srv->store, x->db, name, true);
    emu_reply_begin(x);
    emu_reply_end(x);
}

void emu_crud_drop(struct emu_ctx *x)
{
    const char *name = emu_ctx_coll(x);
    if (!name)
        return;
    if (!emu_store_drop(x->srv->store, x->db, name)) {
        emu_reply_error(x, 26, NULL, "ns not found");
        return;
    }
    char ns[300];
    cursor_ns(x->db, name, name, ns, sizeof ns);
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_INT32(r, "nIndexesWas", 1);
    BSON_APPEND_UTF8(r, "ns", ns);
    emu_reply_end(x);
}

void emu_crud_drop_database(struct emu_ctx *x)
{
    struct emu_store *s = x->srv->store;
    for (size_t i = 0; i < s->ncolls;) {
        if (!strcmp(s->colls[i]->db, x->db)) {
            char *name = gw_strdup(s->colls[i]->name);
            emu_store_drop(s, x->db, name);
            free(name);
        } else {
            i++;
        }
    }
    bson_t *r = emu_reply_begin(x);
    BSON_APPEND_UTF8(r, "dropped", x->db);
    emu_reply_end(x);
}

void emu_crud_list_databases(struct emu_ctx *x)
{
    struct emu_store *s = x->srv->store;
    bson_t *r = emu_reply_begin(x);
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(r, "databases", &arr);
    uint32_t k = 0;
    for (size_t i = 0; i < s->ncolls; i++) {
        bool seen = false;
        for (size_t j = 0; j < i; j++)
            seen |= !strcmp(s->colls[j]->db, s->colls[i]->db);
        if (seen)
            continue;
        char buf[16];
        const char *key;
        array_key(k++, buf, &key);
        bson_t d;
        BSON_APPEND_DOCUMENT_BEGIN(&arr, key, &d);
        BSON_APPEND_UTF8(&d, "name", s->colls[i]->db);
        BSON_APPEND_INT64(&d, "sizeOnDisk", 0);
        BSON_APPEND_BOOL(&d, "empty", false);
        bson_append_document_end(&arr, &d);
    }
    bson_append_array_end(r, &arr);
    BSON_APPEND_INT64(r, "totalSize", 0);
    emu_reply_end(x);
}
