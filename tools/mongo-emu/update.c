/* update.c -- update documents (see update.h).
 *
 * Each operator rebuilds the document with one path changed: documents are small and updates
 * rare next to inserts, so clarity wins over in-place editing.
 */
#include "update.h"

#include <limits.h>
#include <string.h>

#include "doc.h"
#include "gw/common.h"

static const char *const known_ops[] = {"$set", "$unset", "$inc", "$setOnInsert"};

int emu_update_validate(const bson_t *update, enum emu_update_kind *kind, char *err)
{
    bson_iter_t it;
    int ops = 0, fields = 0;
    if (!bson_iter_init(&it, update))
        return gw_set_error(err, "update is not a valid document");
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (key[0] != '$') {
            fields++;
            continue;
        }
        ops++;
        size_t i;
        for (i = 0; i < GW_ARRAY_SIZE(known_ops); i++)
            if (!strcmp(key, known_ops[i]))
                break;
        if (i == GW_ARRAY_SIZE(known_ops))
            return gw_set_error(err,
                                "Unknown modifier: %s. Expected a valid update modifier or "
                                "pipeline-style update specified as an array",
                                key);
        if (!BSON_ITER_HOLDS_DOCUMENT(&it))
            return gw_set_error(err, "Modifiers operate on fields but we found type %s instead",
                                BSON_ITER_HOLDS_ARRAY(&it) ? "array" : "a non-document");
        bson_iter_t c;
        bson_iter_recurse(&it, &c);
        while (bson_iter_next(&c)) {
            const char *path = bson_iter_key(&c);
            if (!path[0] || path[0] == '.' || path[strlen(path) - 1] == '.' || strstr(path, ".."))
                return gw_set_error(err, "The update path '%s' contains an empty field name", path);
            if (!strcmp(key, "$inc") && emu_doc_type_class(bson_iter_type(&c)) != 3)
                return gw_set_error(err, "Cannot increment with non-numeric argument: {%s: ...}",
                                    path);
        }
    }
    if (ops && fields)
        return gw_set_error(err, "update document mixes operators and plain fields");
    *kind = ops ? EMU_UPDATE_OPERATORS : EMU_UPDATE_REPLACEMENT;
    return 0;
}

/* Copies src into out with the value at path set to val (or removed when val is NULL). */
static int set_path(const bson_t *src, const char *path, const bson_value_t *val, bson_t *out,
                    int *code, char *err)
{
    const char *dot = strchr(path, '.');
    size_t seglen = dot ? (size_t)(dot - path) : strlen(path);
    bool found = false;
    bson_iter_t it;
    bson_iter_init(&it, src);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (found || strlen(k) != seglen || strncmp(k, path, seglen) != 0) {
            bson_append_iter(out, NULL, 0, &it);
            continue;
        }
        found = true;
        if (!dot) {
            if (val)
                bson_append_value(out, k, (int)seglen, val);
            continue;
        }
        bool is_arr = BSON_ITER_HOLDS_ARRAY(&it);
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) && !is_arr) {
            *code = 28;
            return gw_set_error(err, "Cannot create field '%s' in element {%s: ...}", dot + 1, k);
        }
        uint32_t len;
        const uint8_t *data;
        if (is_arr)
            bson_iter_array(&it, &len, &data);
        else
            bson_iter_document(&it, &len, &data);
        bson_t inner, child = BSON_INITIALIZER;
        bson_init_static(&inner, data, len);
        if (is_arr && val) {
            /* Only existing elements can be set: a new index would break the array's keys. */
            bson_value_t cur;
            if (!emu_doc_path_get(&inner, dot + 1, &cur)) {
                bson_destroy(&child);
                *code = 28;
                return gw_set_error(err, "Cannot create field '%s' in array '%s'", dot + 1, k);
            }
        }
        if (set_path(&inner, dot + 1, val, &child, code, err) < 0) {
            bson_destroy(&child);
            return -1;
        }
        if (is_arr)
            bson_append_array(out, k, (int)seglen, &child);
        else
            bson_append_document(out, k, (int)seglen, &child);
        bson_destroy(&child);
    }
    if (!found && val) {
        if (!dot) {
            bson_append_value(out, path, (int)seglen, val);
        } else {
            bson_t empty = BSON_INITIALIZER, child = BSON_INITIALIZER;
            set_path(&empty, dot + 1, val, &child, code, err);
            bson_append_document(out, path, (int)seglen, &child);
            bson_destroy(&child);
            bson_destroy(&empty);
        }
    }
    return 0;
}

/* Replaces *doc by a copy with path set. */
static int apply_path(bson_t *doc, const char *path, const bson_value_t *val, int *code, char *err)
{
    bson_t next = BSON_INITIALIZER;
    if (set_path(doc, path, val, &next, code, err) < 0) {
        bson_destroy(&next);
        return -1;
    }
    bson_destroy(doc);
    bson_steal(doc, &next);
    return 0;
}

static int inc_value(const bson_value_t *cur, const bson_value_t *by, bson_value_t *out, int *code,
                     char *err)
{
    if (emu_doc_type_class(cur->value_type) != 3) {
        *code = 14;
        return gw_set_error(err, "Cannot apply $inc to a value of non-numeric type");
    }
    bson_type_t a = cur->value_type, b = by->value_type;
    if (a == BSON_TYPE_DOUBLE || b == BSON_TYPE_DOUBLE || a == BSON_TYPE_DECIMAL128 ||
        b == BSON_TYPE_DECIMAL128) {
        double x = a == BSON_TYPE_DOUBLE  ? cur->value.v_double
                   : a == BSON_TYPE_INT32 ? cur->value.v_int32
                                          : (double)cur->value.v_int64;
        double y = b == BSON_TYPE_DOUBLE  ? by->value.v_double
                   : b == BSON_TYPE_INT32 ? by->value.v_int32
                                          : (double)by->value.v_int64;
        out->value_type = BSON_TYPE_DOUBLE;
        out->value.v_double = x + y;
        return 0;
    }
    int64_t x = a == BSON_TYPE_INT32 ? cur->value.v_int32 : cur->value.v_int64;
    int64_t y = b == BSON_TYPE_INT32 ? by->value.v_int32 : by->value.v_int64;
    int64_t sum;
    if (__builtin_add_overflow(x, y, &sum)) {
        *code = 2;
        return gw_set_error(err, "$inc overflows a 64-bit integer");
    }
    if (a == BSON_TYPE_INT32 && b == BSON_TYPE_INT32 && sum >= INT32_MIN && sum <= INT32_MAX) {
        out->value_type = BSON_TYPE_INT32;
        out->value.v_int32 = (int32_t)sum;
    } else {
        out->value_type = BSON_TYPE_INT64;
        out->value.v_int64 = sum;
    }
    return 0;
}

static int apply_operator(bson_t *doc, const char *op, bson_iter_t *args, bool is_insert,
                          struct emu_update_desc *desc, int *code, char *err)
{
    if (!strcmp(op, "$setOnInsert") && !is_insert)
        return 0;
    while (bson_iter_next(args)) {
        const char *path = bson_iter_key(args);
        const bson_value_t *arg = bson_iter_value(args);
        bson_value_t cur, val = *arg;
        bool present = emu_doc_path_get(doc, path, &cur);
        if (!strcmp(op, "$unset")) {
            if (!present)
                continue;
            if (apply_path(doc, path, NULL, code, err) < 0)
                return -1;
            if (desc) {
                char key[16];
                const char *k;
                bson_uint32_to_string(bson_count_keys(&desc->removed), &k, key, sizeof key);
                BSON_APPEND_UTF8(&desc->removed, k, path);
            }
            continue;
        }
        if (!strcmp(op, "$inc") && present && inc_value(&cur, arg, &val, code, err) < 0)
            return -1;
        if (apply_path(doc, path, &val, code, err) < 0)
            return -1;
        if (desc)
            emu_doc_append(&desc->updated, path, &val);
    }
    return 0;
}

static bool id_changed(const bson_t *before, const bson_t *after)
{
    bson_value_t a, b;
    bool ha = emu_doc_path_get(before, "_id", &a), hb = emu_doc_path_get(after, "_id", &b);
    if (!ha)
        return false;
    return !hb || emu_doc_value_cmp(&a, &b) != 0 || a.value_type != b.value_type;
}

static int apply_replacement(const bson_t *doc, const bson_t *update, bson_t *out, int *code,
                             char *err)
{
    bson_value_t id;
    bson_init(out);
    if (emu_doc_path_get(doc, "_id", &id)) {
        bson_append_value(out, "_id", 3, &id);
        bson_value_t rid;
        if (emu_doc_path_get(update, "_id", &rid) && emu_doc_value_cmp(&id, &rid) != 0) {
            bson_destroy(out);
            bson_init(out);
            *code = 66;
            return gw_set_error(err, "After applying the update, the (immutable) field '_id' "
                                     "was found to have been altered");
        }
    } else if (emu_doc_path_get(update, "_id", &id)) {
        bson_append_value(out, "_id", 3, &id);
    }
    bson_iter_t it;
    bson_iter_init(&it, update);
    while (bson_iter_next(&it))
        if (strcmp(bson_iter_key(&it), "_id") != 0)
            bson_append_iter(out, NULL, 0, &it);
    return 0;
}

int emu_update_apply(const bson_t *doc, const bson_t *update, bool is_insert, bson_t *out,
                     struct emu_update_desc *desc, int *code, char *err)
{
    enum emu_update_kind kind;
    *code = 9;
    if (desc) {
        bson_init(&desc->updated);
        bson_init(&desc->removed);
    }
    if (emu_update_validate(update, &kind, err) < 0) {
        bson_init(out);
        return -1;
    }
    if (kind == EMU_UPDATE_REPLACEMENT)
        return apply_replacement(doc, update, out, code, err);
    bson_copy_to(doc, out);
    bson_iter_t it;
    bson_iter_init(&it, update);
    while (bson_iter_next(&it)) {
        bson_iter_t args;
        bson_iter_recurse(&it, &args);
        if (apply_operator(out, bson_iter_key(&it), &args, is_insert, desc, code, err) < 0)
            return -1;
    }
    if (id_changed(doc, out)) {
        *code = 66;
        return gw_set_error(err, "Performing an update on the path '_id' would modify the "
                                 "immutable field '_id'");
    }
    return 0;
}

void emu_update_desc_cleanup(struct emu_update_desc *desc)
{
    bson_destroy(&desc->updated);
    bson_destroy(&desc->removed);
}

static void seed_from(const bson_t *query, bson_t *out, int depth)
{
    bson_iter_t it;
    int code;
    if (depth > 100 || !bson_iter_init(&it, query))
        return;
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (!strcmp(key, "$and") && BSON_ITER_HOLDS_ARRAY(&it)) {
            bson_iter_t ai;
            bson_iter_recurse(&it, &ai);
            while (bson_iter_next(&ai)) {
                if (!BSON_ITER_HOLDS_DOCUMENT(&ai))
                    continue;
                uint32_t len;
                const uint8_t *data;
                bson_iter_document(&ai, &len, &data);
                bson_t sub;
                bson_init_static(&sub, data, len);
                seed_from(&sub, out, depth + 1);
            }
            continue;
        }
        if (key[0] == '$')
            continue;
        const bson_value_t *v = bson_iter_value(&it);
        bson_value_t eq;
        if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
            bson_t sub;
            bson_init_static(&sub, v->value.v_doc.data, v->value.v_doc.data_len);
            bson_iter_t first;
            if (bson_iter_init(&first, &sub) && bson_iter_next(&first) &&
                bson_iter_key(&first)[0] == '$') {
                if (!emu_doc_path_get(&sub, "$eq", &eq))
                    continue;
                v = &eq;
            }
        }
        apply_path(out, key, v, &code, NULL);
    }
}

void emu_update_upsert_seed(const bson_t *query, bson_t *out)
{
    bson_init(out);
    seed_from(query, out, 0);
}
