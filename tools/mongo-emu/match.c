/* match.c -- the query matcher (see match.h).
 *
 * A path can reach several values (through arrays), so evaluation first gathers every value the
 * path reaches, then asks whether any of them satisfies the operator, which is MongoDB's rule.
 */
#include "match.h"

#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "gw/common.h"

#define MAX_VALUES 256

struct gathered {
    bson_value_t v[MAX_VALUES];
    bool direct[MAX_VALUES]; /* false for elements added because their array was reached */
    size_t n;
    size_t ndirect;
};

static void add_value(struct gathered *g, const bson_value_t *v, bool direct)
{
    if (g->n < MAX_VALUES) {
        g->v[g->n] = *v;
        g->direct[g->n++] = direct;
    }
    if (direct)
        g->ndirect++;
}

static bool doc_of(const bson_value_t *v, bson_t *out)
{
    return bson_init_static(out, v->value.v_doc.data, v->value.v_doc.data_len);
}

static void gather(const bson_t *doc, const char *path, struct gathered *g, int depth)
{
    const char *dot = strchr(path, '.');
    size_t seglen = dot ? (size_t)(dot - path) : strlen(path);
    bson_iter_t it;
    if (depth > 100 || !bson_iter_init(&it, doc))
        return;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strlen(k) != seglen || strncmp(k, path, seglen) != 0)
            continue;
        const bson_value_t *v = bson_iter_value(&it);
        bson_t child;
        if (!dot) {
            add_value(g, v, true);
            if (v->value_type == BSON_TYPE_ARRAY && doc_of(v, &child)) {
                bson_iter_t ai;
                bson_iter_init(&ai, &child);
                while (bson_iter_next(&ai))
                    add_value(g, bson_iter_value(&ai), false);
            }
        } else if (v->value_type == BSON_TYPE_DOCUMENT && doc_of(v, &child)) {
            gather(&child, dot + 1, g, depth + 1);
        } else if (v->value_type == BSON_TYPE_ARRAY && doc_of(v, &child)) {
            /* "a.0.b" addresses an element; "a.b" reaches b in every element. */
            gather(&child, dot + 1, g, depth + 1);
            bson_iter_t ai;
            bson_iter_init(&ai, &child);
            while (bson_iter_next(&ai)) {
                bson_t el;
                if (BSON_ITER_HOLDS_DOCUMENT(&ai) && doc_of(bson_iter_value(&ai), &el))
                    gather(&el, dot + 1, g, depth + 1);
            }
        }
        return;
    }
}

static bool is_operator_doc(const bson_iter_t *it)
{
    bson_iter_t c;
    if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &c) || !bson_iter_next(&c))
        return false;
    return bson_iter_key(&c)[0] == '$';
}

static bool eq_any(const struct gathered *g, const bson_value_t *want)
{
    if (want->value_type == BSON_TYPE_NULL && g->ndirect == 0)
        return true;
    for (size_t i = 0; i < g->n; i++)
        if (emu_doc_value_cmp(&g->v[i], want) == 0 &&
            (g->v[i].value_type != BSON_TYPE_UNDEFINED || want->value_type == BSON_TYPE_NULL))
            return true;
    return false;
}

static bool range_any(const struct gathered *g, const bson_value_t *want, const char *op)
{
    int wc = emu_doc_type_class(want->value_type);
    for (size_t i = 0; i < g->n; i++) {
        if (emu_doc_type_class(g->v[i].value_type) != wc)
            continue;
        int c = emu_doc_value_cmp(&g->v[i], want);
        if ((!strcmp(op, "$gt") && c > 0) || (!strcmp(op, "$gte") && c >= 0) ||
            (!strcmp(op, "$lt") && c < 0) || (!strcmp(op, "$lte") && c <= 0))
            return true;
    }
    return false;
}

static bool in_any(const struct gathered *g, const bson_iter_t *arr)
{
    bson_iter_t ai;
    if (!bson_iter_recurse(arr, &ai))
        return false;
    while (bson_iter_next(&ai))
        if (eq_any(g, bson_iter_value(&ai)))
            return true;
    return false;
}

static bool eval_ops(const struct gathered *g, const bson_iter_t *ops);

static bool eval_op(const struct gathered *g, const bson_iter_t *op)
{
    const char *name = bson_iter_key(op);
    const bson_value_t *v = bson_iter_value((bson_iter_t *)op);
    if (!strcmp(name, "$eq"))
        return eq_any(g, v);
    if (!strcmp(name, "$ne"))
        return !eq_any(g, v);
    if (!strcmp(name, "$in"))
        return in_any(g, op);
    if (!strcmp(name, "$nin"))
        return !in_any(g, op);
    if (!strcmp(name, "$exists"))
        return (g->ndirect > 0) == bson_iter_as_bool(op);
    if (!strcmp(name, "$not"))
        return !eval_ops(g, op);
    return range_any(g, v, name);
}

/* ops is a document of operators ({$gt: 1, $lt: 5}); all must hold. */
static bool eval_ops(const struct gathered *g, const bson_iter_t *ops)
{
    bson_iter_t c;
    if (!bson_iter_recurse(ops, &c))
        return false;
    while (bson_iter_next(&c))
        if (!eval_op(g, &c))
            return false;
    return true;
}

static bool match_doc_iter(const bson_iter_t *filter_it, const bson_t *doc);

static bool match_logical(const char *op, const bson_iter_t *arr, const bson_t *doc)
{
    bson_iter_t ai;
    if (!bson_iter_recurse(arr, &ai))
        return false;
    bool any = false;
    while (bson_iter_next(&ai)) {
        bool m = match_doc_iter(&ai, doc);
        if (!strcmp(op, "$and") && !m)
            return false;
        if (!strcmp(op, "$or") && m)
            return true;
        if (!strcmp(op, "$nor") && m)
            return false;
        any = true;
    }
    (void)any;
    return strcmp(op, "$or") != 0;
}

static bool match_filter(const bson_t *filter, const bson_t *doc)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, filter))
        return false;
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (key[0] == '$') {
            if (!match_logical(key, &it, doc))
                return false;
            continue;
        }
        struct gathered g = {.n = 0, .ndirect = 0};
        gather(doc, key, &g, 0);
        bool ok = is_operator_doc(&it) ? eval_ops(&g, &it) : eq_any(&g, bson_iter_value(&it));
        if (!ok)
            return false;
    }
    return true;
}

/* filter_it points at an element whose value is a filter document. */
static bool match_doc_iter(const bson_iter_t *filter_it, const bson_t *doc)
{
    bson_t f;
    if (!BSON_ITER_HOLDS_DOCUMENT(filter_it) ||
        !doc_of(bson_iter_value((bson_iter_t *)filter_it), &f))
        return false;
    return match_filter(&f, doc);
}

bool emu_match(const bson_t *filter, const bson_t *doc)
{
    return match_filter(filter, doc);
}

static const char *const field_ops[] = {"$eq",  "$ne", "$gt",  "$gte",    "$lt",
                                        "$lte", "$in", "$nin", "$exists", "$not"};

static int validate_filter(const bson_t *filter, int depth, char *err);

static int validate_ops(const bson_iter_t *ops, int depth, char *err)
{
    bson_iter_t c;
    bson_iter_recurse(ops, &c);
    while (bson_iter_next(&c)) {
        const char *name = bson_iter_key(&c);
        size_t i;
        for (i = 0; i < GW_ARRAY_SIZE(field_ops); i++)
            if (!strcmp(name, field_ops[i]))
                break;
        if (i == GW_ARRAY_SIZE(field_ops))
            return gw_set_error(err, "unknown operator: %s", name);
        if ((!strcmp(name, "$in") || !strcmp(name, "$nin")) && !BSON_ITER_HOLDS_ARRAY(&c))
            return gw_set_error(err, "%s needs an array", name);
        if (BSON_ITER_HOLDS_REGEX(&c))
            return gw_set_error(err, "mongo-emu does not support regular expressions");
        if (!strcmp(name, "$not")) {
            if (!is_operator_doc(&c))
                return gw_set_error(err, "$not needs a document of operators");
            if (depth > 100 || validate_ops(&c, depth + 1, err) < 0)
                return -1;
        }
    }
    return 0;
}

static int validate_filter(const bson_t *filter, int depth, char *err)
{
    bson_iter_t it;
    if (depth > 100)
        return gw_set_error(err, "filter is nested too deeply");
    if (!bson_iter_init(&it, filter))
        return gw_set_error(err, "filter is not a valid document");
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (key[0] == '$') {
            if (strcmp(key, "$and") && strcmp(key, "$or") && strcmp(key, "$nor"))
                return gw_set_error(err, "unknown top level operator: %s", key);
            bson_iter_t ai;
            if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &ai))
                return gw_set_error(err, "%s must be an array", key);
            int n = 0;
            while (bson_iter_next(&ai)) {
                bson_t sub;
                if (!BSON_ITER_HOLDS_DOCUMENT(&ai) || !doc_of(bson_iter_value(&ai), &sub))
                    return gw_set_error(err, "%s entries must be objects", key);
                if (validate_filter(&sub, depth + 1, err) < 0)
                    return -1;
                n++;
            }
            if (n == 0)
                return gw_set_error(err, "%s must be a nonempty array", key);
        } else if (is_operator_doc(&it) && validate_ops(&it, depth + 1, err) < 0) {
            return -1;
        } else if (BSON_ITER_HOLDS_REGEX(&it)) {
            return gw_set_error(err, "mongo-emu does not support regular expressions (field '%s')",
                                key);
        }
    }
    return 0;
}

int emu_match_validate(const bson_t *filter, char *err)
{
    return validate_filter(filter, 0, err);
}
