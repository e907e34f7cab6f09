/* doc.c -- BSON document helpers (see doc.h). */
#include "doc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"

int emu_doc_type_class(bson_type_t t)
{
    switch (t) {
    case BSON_TYPE_MINKEY:
        return 1;
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED:
        return 2;
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DECIMAL128:
        return 3;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL:
        return 4;
    case BSON_TYPE_DOCUMENT:
        return 5;
    case BSON_TYPE_ARRAY:
        return 6;
    case BSON_TYPE_BINARY:
        return 7;
    case BSON_TYPE_OID:
        return 8;
    case BSON_TYPE_BOOL:
        return 9;
    case BSON_TYPE_DATE_TIME:
        return 10;
    case BSON_TYPE_TIMESTAMP:
        return 11;
    case BSON_TYPE_REGEX:
        return 12;
    case BSON_TYPE_MAXKEY:
        return 14;
    default:
        return 13;
    }
}

static long double num_value(const bson_value_t *v)
{
    switch (v->value_type) {
    case BSON_TYPE_INT32:
        return v->value.v_int32;
    case BSON_TYPE_INT64:
        return (long double)v->value.v_int64;
    case BSON_TYPE_DOUBLE:
        return v->value.v_double;
    case BSON_TYPE_DECIMAL128: {
        char s[BSON_DECIMAL128_STRING];
        bson_decimal128_to_string(&v->value.v_decimal128, s);
        return strtold(s, NULL);
    }
    default:
        return 0;
    }
}

static int cmp_numbers(const bson_value_t *a, const bson_value_t *b)
{
    bool ai = a->value_type == BSON_TYPE_INT32 || a->value_type == BSON_TYPE_INT64;
    bool bi = b->value_type == BSON_TYPE_INT32 || b->value_type == BSON_TYPE_INT64;
    if (ai && bi) {
        int64_t x = a->value_type == BSON_TYPE_INT32 ? a->value.v_int32 : a->value.v_int64;
        int64_t y = b->value_type == BSON_TYPE_INT32 ? b->value.v_int32 : b->value.v_int64;
        return x < y ? -1 : x > y;
    }
    long double x = num_value(a), y = num_value(b);
    /* NaN sorts below every other number, as in MongoDB. */
    if (isnan(x) || isnan(y))
        return isnan(x) ? (isnan(y) ? 0 : -1) : 1;
    return x < y ? -1 : x > y;
}

static int cmp_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, GW_MIN(alen, blen));
    if (c)
        return c < 0 ? -1 : 1;
    return alen < blen ? -1 : alen > blen;
}

static int cmp_docs(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    bson_t da, db;
    bson_iter_t ia, ib;
    if (!bson_init_static(&da, a, alen) || !bson_init_static(&db, b, blen) ||
        !bson_iter_init(&ia, &da) || !bson_iter_init(&ib, &db))
        return cmp_bytes(a, alen, b, blen);
    for (;;) {
        bool na = bson_iter_next(&ia), nb = bson_iter_next(&ib);
        if (!na || !nb)
            return na - nb;
        int ca = emu_doc_type_class(bson_iter_type(&ia));
        int cb = emu_doc_type_class(bson_iter_type(&ib));
        if (ca != cb)
            return ca < cb ? -1 : 1;
        int c = strcmp(bson_iter_key(&ia), bson_iter_key(&ib));
        if (c)
            return c < 0 ? -1 : 1;
        c = emu_doc_value_cmp(bson_iter_value(&ia), bson_iter_value(&ib));
        if (c)
            return c;
    }
}

int emu_doc_value_cmp(const bson_value_t *a, const bson_value_t *b)
{
    int ca = emu_doc_type_class(a->value_type), cb = emu_doc_type_class(b->value_type);
    if (ca != cb)
        return ca < cb ? -1 : 1;
    switch (ca) {
    case 3:
        return cmp_numbers(a, b);
    case 4:
        return cmp_bytes(a->value.v_utf8.str, a->value.v_utf8.len, b->value.v_utf8.str,
                         b->value.v_utf8.len);
    case 5:
    case 6:
        return cmp_docs(a->value.v_doc.data, a->value.v_doc.data_len, b->value.v_doc.data,
                        b->value.v_doc.data_len);
    case 7:
        if (a->value.v_binary.data_len != b->value.v_binary.data_len)
            return a->value.v_binary.data_len < b->value.v_binary.data_len ? -1 : 1;
        if (a->value.v_binary.subtype != b->value.v_binary.subtype)
            return a->value.v_binary.subtype < b->value.v_binary.subtype ? -1 : 1;
        return cmp_bytes(a->value.v_binary.data, a->value.v_binary.data_len, b->value.v_binary.data,
                         b->value.v_binary.data_len);
    case 8:
        return cmp_bytes(a->value.v_oid.bytes, 12, b->value.v_oid.bytes, 12);
    case 9:
        return (int)a->value.v_bool - (int)b->value.v_bool;
    case 10:
        return a->value.v_datetime < b->value.v_datetime
                   ? -1
                   : a->value.v_datetime > b->value.v_datetime;
    case 11:
        if (a->value.v_timestamp.timestamp != b->value.v_timestamp.timestamp)
            return a->value.v_timestamp.timestamp < b->value.v_timestamp.timestamp ? -1 : 1;
        return a->value.v_timestamp.increment < b->value.v_timestamp.increment
                   ? -1
                   : a->value.v_timestamp.increment > b->value.v_timestamp.increment;
    case 12: {
        int c = strcmp(a->value.v_regex.regex, b->value.v_regex.regex);
        if (c)
            return c < 0 ? -1 : 1;
        c = strcmp(a->value.v_regex.options, b->value.v_regex.options);
        return c < 0 ? -1 : c > 0;
    }
    default:
        return 0;
    }
}

bool emu_doc_path_get(const bson_t *doc, const char *path, bson_value_t *out)
{
    bson_iter_t it, found;
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &found))
        return false;
    *out = *bson_iter_value(&found);
    return true;
}

void emu_doc_id_key(const bson_value_t *id, struct gw_buf *key)
{
    uint8_t cls = (uint8_t)emu_doc_type_class(id->value_type);
    gw_buf_append(key, &cls, 1);
    switch (id->value_type) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DECIMAL128: {
        long double v = num_value(id);
        int64_t i = (int64_t)v;
        if ((long double)i == v) {
            gw_buf_append(key, "i", 1);
            gw_buf_append(key, &i, sizeof i);
        } else {
            double d = (double)v;
            gw_buf_append(key, "d", 1);
            gw_buf_append(key, &d, sizeof d);
        }
        break;
    }
    case BSON_TYPE_UTF8:
        gw_buf_append(key, id->value.v_utf8.str, id->value.v_utf8.len);
        break;
    case BSON_TYPE_OID:
        gw_buf_append(key, id->value.v_oid.bytes, 12);
        break;
    default: {
        /* Everything else: the value's own BSON bytes, which equal values share. */
        bson_t tmp = BSON_INITIALIZER;
        bson_append_value(&tmp, "", 0, id);
        gw_buf_append(key, bson_get_data(&tmp), tmp.len);
        bson_destroy(&tmp);
    }
    }
}

void emu_doc_append(bson_t *doc, const char *key, const bson_value_t *value)
{
    bson_append_value(doc, key, (int)strlen(key), value);
}

/* Projection spec entries that concern one field of the current level. */
struct proj_path {
    const char *path; /* remaining dotted path */
};

static bool truthy(const bson_iter_t *it)
{
    return bson_iter_as_bool(it);
}

/* One level of projection: spec paths are given relative to this level. */
static void project_level(const bson_t *doc, const char **paths, const bool *incl, size_t n,
                          bool inclusion, bool top, bson_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, doc))
        return;
    const char **sub = gw_malloc(sizeof *sub * (n ? n : 1));
    bool *subincl = gw_malloc(sizeof *subincl * (n ? n : 1));
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        size_t klen = strlen(key);
        int exact = -1;
        size_t nsub = 0;
        for (size_t i = 0; i < n; i++) {
            if (strncmp(paths[i], key, klen) != 0)
                continue;
            if (paths[i][klen] == '\0')
                exact = incl[i];
            else if (paths[i][klen] == '.') {
                sub[nsub] = paths[i] + klen + 1;
                subincl[nsub++] = incl[i];
            }
        }
        bool is_id = top && strcmp(key, "_id") == 0;
        if (exact == 1 || (is_id && exact == -1)) {
            bson_append_iter(out, key, (int)klen, &it);
        } else if (exact == 0) {
            continue;
        } else if (nsub && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&it, &len, &data);
            bson_t child, inner;
            bson_init_static(&inner, data, len);
            const char **copy = gw_malloc(sizeof *copy * nsub);
            bool *copyincl = gw_malloc(sizeof *copyincl * nsub);
            memcpy(copy, sub, sizeof *copy * nsub);
            memcpy(copyincl, subincl, sizeof *copyincl * nsub);
            bson_append_document_begin(out, key, (int)klen, &child);
            project_level(&inner, copy, copyincl, nsub, inclusion, false, &child);
            bson_append_document_end(out, &child);
            free(copy);
            free(copyincl);
        } else if (!inclusion) {
            bson_append_iter(out, key, (int)klen, &it);
        }
    }
    free(sub);
    free(subincl);
}

int emu_doc_project(const bson_t *doc, const bson_t *spec, bson_t *out, char *err)
{
    uint32_t n = bson_count_keys(spec);
    const char **paths = gw_malloc(sizeof *paths * (n ? n : 1));
    bool *incl = gw_malloc(sizeof *incl * (n ? n : 1));
    int mode = -1; /* -1 undecided, 1 inclusion, 0 exclusion */
    size_t i = 0;
    bson_iter_t it;
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
        paths[i] = bson_iter_key(&it);
        incl[i] = truthy(&it);
        if (strcmp(paths[i], "_id") != 0) {
            if (mode != -1 && mode != (int)incl[i]) {
                gw_set_error(err, "cannot mix inclusion and exclusion in a projection (field '%s')",
                             paths[i]);
                free(paths);
                free(incl);
                bson_init(out);
                return -1;
            }
            mode = incl[i];
        }
        i++;
    }
    bool inclusion = mode == 1 || (mode == -1 && n > 0 && incl[0]);
    bson_init(out);
    project_level(doc, paths, incl, i, inclusion, true, out);
    free(paths);
    free(incl);
    return 0;
}
