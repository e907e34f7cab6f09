/* stream.c -- change-stream cursors (see stream.h). */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "gw/common.h"
#include "match.h"

static struct emu_stream *fail(struct emu_stream_error *err, int code, const char *msg)
{
    err->code = code;
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    return NULL;
}

static int check_stages(const bson_t *stages, struct emu_stream_error *err)
{
    bson_iter_t it;
    char why[GW_ERR_LEN];
    if (!stages || !bson_iter_init(&it, stages))
        return 0;
    while (bson_iter_next(&it)) {
        bson_iter_t st;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &st) ||
            !bson_iter_next(&st)) {
            fail(err, 40323,
                 "A pipeline stage specification object must contain exactly one "
                 "field.");
            return -1;
        }
        const char *name = bson_iter_key(&st);
        if (strcmp(name, "$match") && strcmp(name, "$project")) {
            err->code = 40324;
            snprintf(err->msg, sizeof err->msg, "Unrecognized pipeline stage name: '%s'", name);
            return -1;
        }
        if (!BSON_ITER_HOLDS_DOCUMENT(&st)) {
            err->code = 2;
            snprintf(err->msg, sizeof err->msg, "the %s stage specification must be an object",
                     name);
            return -1;
        }
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&st, &len, &data);
        bson_t spec;
        bson_init_static(&spec, data, len);
        if (!strcmp(name, "$match") && emu_match_validate(&spec, why) < 0) {
            fail(err, 2, why);
            return -1;
        }
    }
    return 0;
}

/* Finds the entry whose ts equals ts exactly. */
static const struct emu_oplog_entry *entry_at(const struct emu_store *store, uint64_t ts)
{
    if (ts == 0)
        return NULL;
    return emu_store_entry(store, emu_store_seq_after(store, ts - 1));
}

static bool entry_in_ns(const struct emu_stream *st, const struct emu_oplog_entry *e)
{
    return e->db && !strcmp(e->db, st->db) &&
           (!st->coll || (e->coll && !strcmp(e->coll, st->coll)));
}

static int parse_full_doc(const bson_iter_t *it, enum emu_full_doc *out)
{
    static const char *const names[] = {"default", "updateLookup", "whenAvailable", "required"};
    if (!BSON_ITER_HOLDS_UTF8(it))
        return -1;
    for (size_t i = 0; i < GW_ARRAY_SIZE(names); i++)
        if (!strcmp(bson_iter_utf8(it, NULL), names[i])) {
            *out = (enum emu_full_doc)i;
            return 0;
        }
    return -1;
}

/* Positions st from a resume token. Returns 0 or -1 with err filled. */
static int position_from_token(struct emu_stream *st, struct emu_store *store,
                               const bson_iter_t *it, bool start_after,
                               struct emu_stream_error *err)
{
    struct emu_token tok;
    switch (emu_token_parse_iter(it, &tok)) {
    case EMU_TOKEN_OK:
        break;
    case EMU_TOKEN_NOT_HEX:
        fail(err, 9, "resume token string was not a valid hex string");
        return -1;
    case EMU_TOKEN_NOT_A_DOCUMENT:
        fail(err, 260, "Bad resume token: _data of missing or of wrong type");
        return -1;
    default:
        fail(err, 260, "Bad resume token: the token was not issued by this server");
        return -1;
    }
    if (tok.kind == EMU_TOKEN_INVALIDATE && !start_after) {
        fail(err, 260,
             "Attempting to resume a change stream using 'resumeAfter' is not allowed "
             "from an invalidate notification.");
        return -1;
    }
    if (tok.ts < store->lost_before) {
        fail(err, 286,
             "Resume of change stream was not possible, as the resume point may no "
             "longer be in the oplog.");
        return -1;
    }
    const struct emu_oplog_entry *e = entry_at(store, tok.ts);
    bool found = tok.kind == EMU_TOKEN_HWM ? tok.ts <= store->last_ts
                                           : e && (e->op == EMU_OP_DROP || e->key);
    if (!found) {
        fail(err, 280, "cannot resume stream; the resume token was not found");
        return -1;
    }
    st->next_seq = emu_store_seq_after(store, tok.ts);
    st->hwm_ts = tok.ts;
    return 0;
}

static int position_from_time(struct emu_stream *st, struct emu_store *store, const bson_iter_t *it,
                              struct emu_stream_error *err)
{
    if (!BSON_ITER_HOLDS_TIMESTAMP(it)) {
        fail(err, 14, "startAtOperationTime must be a timestamp");
        return -1;
    }
    uint32_t t, i;
    bson_iter_timestamp(it, &t, &i);
    uint64_t ts = emu_ts_make(t, i);
    if (ts < store->lost_before) {
        fail(err, 286,
             "Resume of change stream was not possible, as the resume point may no "
             "longer be in the oplog.");
        return -1;
    }
    st->hwm_ts = ts ? ts - 1 : 0;
    st->next_seq = emu_store_seq_after(store, st->hwm_ts);
    return 0;
}

struct emu_stream *emu_stream_open(struct emu_store *store, const char *db, const char *coll,
                                   const bson_t *spec, const bson_t *stages,
                                   struct emu_stream_error *err)
{
    bson_iter_t it, resume_it;
    int nresume = 0;
    const char *resume_key = NULL;
    enum emu_full_doc full_doc = EMU_FULLDOC_DEFAULT;
    bool pre_images = false;
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (!strcmp(key, "resumeAfter") || !strcmp(key, "startAfter") ||
            !strcmp(key, "startAtOperationTime")) {
            nresume++;
            resume_it = it;
            resume_key = key;
        } else if (!strcmp(key, "fullDocument")) {
            if (parse_full_doc(&it, &full_doc) < 0)
                return fail(err, 2, "unrecognized value for fullDocument");
        } else if (!strcmp(key, "fullDocumentBeforeChange")) {
            const char *v = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
            if (strcmp(v, "off") && strcmp(v, "whenAvailable") && strcmp(v, "required"))
                return fail(err, 2, "unrecognized value for fullDocumentBeforeChange");
            pre_images = strcmp(v, "off") != 0;
        } else if (strcmp(key, "showExpandedEvents") && strcmp(key, "allowToRunOnConfigDB")) {
            err->code = 40415;
            snprintf(err->msg, sizeof err->msg,
                     "BSON field '$changeStream.%s' is an unknown field.", key);
            return NULL;
        }
    }
    if (nresume > 1)
        return fail(err, 40674,
                    "Only one type of resume option is allowed, but multiple were found.");
    if (check_stages(stages, err) < 0)
        return NULL;
    struct emu_stream *st = emu_calloc_aligned(sizeof *st);
    st->db = gw_strdup(db);
    st->coll = coll ? gw_strdup(coll) : NULL;
    st->full_doc = full_doc;
    st->pre_images = pre_images;
    st->next_seq = store->next_seq;
    st->hwm_ts = store->last_ts;
    if (stages)
        bson_copy_to(stages, &st->stages);
    else
        bson_init(&st->stages);
    int rc = 0;
    if (resume_key && !strcmp(resume_key, "startAtOperationTime"))
        rc = position_from_time(st, store, &resume_it, err);
    else if (resume_key)
        rc = position_from_token(st, store, &resume_it, !strcmp(resume_key, "startAfter"), err);
    if (rc < 0) {
        emu_stream_free(st);
        return NULL;
    }
    st->pbrt = (struct emu_token){.ts = st->hwm_ts, .kind = EMU_TOKEN_HWM};
    return st;
}

void emu_stream_free(struct emu_stream *st)
{
    if (!st)
        return;
    free(st->db);
    free(st->coll);
    bson_destroy(&st->stages);
    free(st);
}

static const char *op_name(enum emu_op op)
{
    switch (op) {
    case EMU_OP_INSERT:
        return "insert";
    case EMU_OP_UPDATE:
        return "update";
    case EMU_OP_REPLACE:
        return "replace";
    case EMU_OP_DELETE:
        return "delete";
    case EMU_OP_DROP:
        return "drop";
    default:
        return "noop";
    }
}

static void append_head(bson_t *ev, const struct emu_token *tok, const char *type, uint64_t ts,
                        int64_t wall_ms)
{
    emu_token_append(ev, "_id", tok);
    BSON_APPEND_UTF8(ev, "operationType", type);
    BSON_APPEND_TIMESTAMP(ev, "clusterTime", emu_ts_secs(ts), emu_ts_inc(ts));
    BSON_APPEND_DATE_TIME(ev, "wallTime", wall_ms);
}

static void append_ns(bson_t *ev, const struct emu_oplog_entry *e)
{
    bson_t ns;
    BSON_APPEND_DOCUMENT_BEGIN(ev, "ns", &ns);
    BSON_APPEND_UTF8(&ns, "db", e->db);
    BSON_APPEND_UTF8(&ns, "coll", e->coll);
    bson_append_document_end(ev, &ns);
}

static void append_lookup(bson_t *ev, struct emu_store *store, const struct emu_oplog_entry *e)
{
    struct emu_coll *c = emu_store_coll(store, e->db, e->coll, false);
    bson_value_t id;
    long slot = c && emu_doc_path_get(e->key, "_id", &id) ? emu_store_find_id(c, &id) : -1;
    if (slot >= 0)
        BSON_APPEND_DOCUMENT(ev, "fullDocument", c->docs[slot]);
    else
        BSON_APPEND_NULL(ev, "fullDocument");
}

static void build_event(const struct emu_stream *st, struct emu_store *store,
                        const struct emu_oplog_entry *e, bson_t *ev)
{
    struct emu_token tok = {.ts = e->ts, .kind = EMU_TOKEN_EVENT};
    append_head(ev, &tok, op_name(e->op), e->ts, e->wall_ms);
    if (e->op == EMU_OP_INSERT || e->op == EMU_OP_REPLACE)
        BSON_APPEND_DOCUMENT(ev, "fullDocument", e->doc);
    append_ns(ev, e);
    if (e->key)
        BSON_APPEND_DOCUMENT(ev, "documentKey", e->key);
    if (e->op == EMU_OP_UPDATE) {
        BSON_APPEND_DOCUMENT(ev, "updateDescription", e->desc);
        if (st->full_doc == EMU_FULLDOC_UPDATE_LOOKUP)
            append_lookup(ev, store, e);
        else if (st->full_doc != EMU_FULLDOC_DEFAULT)
            BSON_APPEND_DOCUMENT(ev, "fullDocument", e->doc);
    }
    if (st->pre_images && e->pre)
        BSON_APPEND_DOCUMENT(ev, "fullDocumentBeforeChange", e->pre);
}

/* Runs ev through the stages; returns false when a $match dropped it. May replace *ev. */
static bool run_stages(const struct emu_stream *st, bson_t *ev)
{
    bson_iter_t it;
    bson_iter_init(&it, &st->stages);
    while (bson_iter_next(&it)) {
        bson_iter_t s;
        bson_iter_recurse(&it, &s);
        bson_iter_next(&s);
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&s, &len, &data);
        bson_t spec;
        bson_init_static(&spec, data, len);
        if (!strcmp(bson_iter_key(&s), "$match")) {
            if (!emu_match(&spec, ev))
                return false;
        } else {
            bson_t out;
            if (emu_doc_project(ev, &spec, &out, NULL) == 0) {
                bson_destroy(ev);
                bson_steal(ev, &out);
            } else {
                bson_destroy(&out);
            }
        }
    }
    return true;
}

static void append_event(bson_t *arr, uint32_t *count, const bson_t *ev)
{
    char key[16];
    const char *k;
    size_t kl = bson_uint32_to_string(*count, &k, key, sizeof key);
    bson_append_document(arr, k, (int)kl, ev);
    (*count)++;
}

static void emit_invalidate(struct emu_stream *st, bson_t *arr, uint32_t *count)
{
    struct emu_token tok = {.ts = st->invalidate_ts, .kind = EMU_TOKEN_INVALIDATE};
    bson_t ev = BSON_INITIALIZER;
    append_head(&ev, &tok, "invalidate", st->invalidate_ts, (int64_t)gw_wall_ms());
    append_event(arr, count, &ev);
    bson_destroy(&ev);
    st->invalidate_pending = false;
    st->closed = true;
    st->pbrt = tok;
}

int emu_stream_fill(struct emu_stream *st, struct emu_store *store, bson_t *arr, uint32_t *count,
                    uint32_t max_docs, size_t max_bytes, struct emu_stream_error *err)
{
    if (st->closed)
        return 0;
    if (st->next_seq < emu_store_first_seq(store)) {
        fail(err, 286,
             "Resume of change stream was not possible, as the resume point may no "
             "longer be in the oplog.");
        return -1;
    }
    while (!st->invalidate_pending && st->next_seq < store->next_seq && *count < max_docs &&
           arr->len < max_bytes) {
        const struct emu_oplog_entry *e = emu_store_entry(store, st->next_seq);
        st->next_seq++;
        st->hwm_ts = e->ts;
        if (!entry_in_ns(st, e) || e->op == EMU_OP_NOOP || e->op == EMU_OP_CREATE)
            continue;
        bson_t ev = BSON_INITIALIZER;
        build_event(st, store, e, &ev);
        if (run_stages(st, &ev))
            append_event(arr, count, &ev);
        bson_destroy(&ev);
        if (e->op == EMU_OP_DROP && st->coll) {
            st->invalidate_pending = true;
            st->invalidate_ts = e->ts;
        }
    }
    st->pbrt = (struct emu_token){.ts = st->hwm_ts, .kind = EMU_TOKEN_HWM};
    if (st->invalidate_pending && *count < max_docs)
        emit_invalidate(st, arr, count);
    return 0;
}

bool emu_stream_has_more(const struct emu_stream *st, const struct emu_store *store)
{
    return !st->closed && (st->invalidate_pending || st->next_seq < store->next_seq);
}
