/* wire.c -- MongoDB wire-protocol framing (see wire.h). */
#include "wire.h"

#include <string.h>

#include "gw/common.h"

static int32_t rd_i32(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (int32_t)v;
}

static void wr_i32(uint8_t *p, int32_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (uint8_t)u;
    p[1] = (uint8_t)(u >> 8);
    p[2] = (uint8_t)(u >> 16);
    p[3] = (uint8_t)(u >> 24);
}

int emu_wire_header_parse(const uint8_t *p, size_t n, struct emu_wire_header *h, char *err)
{
    GW_ASSERT(n >= EMU_WIRE_HEADER_LEN);
    h->length = rd_i32(p);
    h->request_id = rd_i32(p + 4);
    h->response_to = rd_i32(p + 8);
    h->opcode = rd_i32(p + 12);
    if (h->length < EMU_WIRE_HEADER_LEN || h->length > EMU_WIRE_MAX_MESSAGE)
        return gw_set_error(err, "message length %d is outside [16, %d]", h->length,
                            EMU_WIRE_MAX_MESSAGE);
    return 0;
}

/* Length of a NUL-terminated string starting at p within n bytes, or -1. */
static long cstring_len(const uint8_t *p, size_t n)
{
    const uint8_t *z = memchr(p, 0, n);
    return z ? (long)(z - p) : -1;
}

/* A BSON string value: int32 length (counting the NUL), bytes, NUL. Returns its size or 0. */
static size_t bson_string_size(const uint8_t *p, size_t n)
{
    if (n < 5)
        return 0;
    int32_t len = rd_i32(p);
    if (len < 1 || (size_t)len > n - 4 || p[4 + len - 1] != 0)
        return 0;
    return 4 + (size_t)len;
}

static bool doc_valid(const uint8_t *p, size_t n, int depth);

/* Size of the value of the given type at p (n bytes available), or 0 when invalid. Zero-length
 * values return SIZE_MAX so they can be told apart from errors. */
static size_t value_size(uint8_t type, const uint8_t *p, size_t n, int depth)
{
    size_t fixed = 0;
    switch (type) {
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DATE_TIME:
    case BSON_TYPE_TIMESTAMP:
    case BSON_TYPE_INT64:
        fixed = 8;
        break;
    case BSON_TYPE_INT32:
        fixed = 4;
        break;
    case BSON_TYPE_OID:
        fixed = 12;
        break;
    case BSON_TYPE_DECIMAL128:
        fixed = 16;
        break;
    case BSON_TYPE_BOOL:
        return n >= 1 && p[0] <= 1 ? 1 : 0;
    case BSON_TYPE_UNDEFINED:
    case BSON_TYPE_NULL:
    case BSON_TYPE_MINKEY:
    case BSON_TYPE_MAXKEY:
        return SIZE_MAX;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_CODE:
    case BSON_TYPE_SYMBOL:
        return bson_string_size(p, n);
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
        if (n < 5 || depth <= 0)
            return 0;
        int32_t len = rd_i32(p);
        if (len < 5 || (size_t)len > n || !doc_valid(p, (size_t)len, depth - 1))
            return 0;
        return (size_t)len;
    }
    case BSON_TYPE_BINARY: {
        if (n < 5)
            return 0;
        int32_t len = rd_i32(p);
        if (len < 0 || (size_t)len > n - 5)
            return 0;
        if (p[4] == BSON_SUBTYPE_BINARY_DEPRECATED && (len < 4 || rd_i32(p + 5) != len - 4))
            return 0;
        return 5 + (size_t)len;
    }
    case BSON_TYPE_REGEX: {
        long a = cstring_len(p, n);
        if (a < 0)
            return 0;
        long b = cstring_len(p + a + 1, n - (size_t)a - 1);
        return b < 0 ? 0 : (size_t)(a + b + 2);
    }
    case BSON_TYPE_DBPOINTER: {
        size_t s = bson_string_size(p, n);
        return s && n - s >= 12 ? s + 12 : 0;
    }
    case BSON_TYPE_CODEWSCOPE: {
        if (n < 14 || depth <= 0)
            return 0;
        int32_t len = rd_i32(p);
        if (len < 14 || (size_t)len > n)
            return 0;
        size_t s = bson_string_size(p + 4, (size_t)len - 4);
        if (!s || 4 + s + 5 > (size_t)len)
            return 0;
        size_t scope = (size_t)len - 4 - s;
        if ((size_t)rd_i32(p + 4 + s) != scope || !doc_valid(p + 4 + s, scope, depth - 1))
            return 0;
        return (size_t)len;
    }
    default:
        return 0;
    }
    return n >= fixed ? fixed : 0;
}

/* p[0..n) is claimed to be one document of exactly n bytes. */
static bool doc_valid(const uint8_t *p, size_t n, int depth)
{
    if (n < 5 || (size_t)rd_i32(p) != n || p[n - 1] != 0)
        return false;
    size_t pos = 4;
    while (pos < n - 1) {
        uint8_t type = p[pos++];
        long klen = cstring_len(p + pos, n - 1 - pos);
        if (klen < 0)
            return false;
        pos += (size_t)klen + 1;
        size_t vs = value_size(type, p + pos, n - 1 - pos, depth);
        if (vs == 0)
            return false;
        if (vs != SIZE_MAX)
            pos += vs;
    }
    return pos == n - 1;
}

bool emu_wire_bson_valid(const uint8_t *p, size_t len, int max_depth)
{
    return doc_valid(p, len, max_depth);
}

/* Reads a document at p (n bytes left) into a validated static bson_t. Returns its size or 0. */
static size_t take_doc(const uint8_t *p, size_t n, bson_t *doc)
{
    if (n < 5)
        return 0;
    int32_t len = rd_i32(p);
    if (len < 5 || (size_t)len > n || !emu_wire_bson_valid(p, (size_t)len, EMU_WIRE_MAX_DEPTH))
        return 0;
    if (!bson_init_static(doc, p, (size_t)len))
        return 0;
    return (size_t)len;
}

static int parse_query(const uint8_t *p, size_t n, struct emu_wire_request *req, char *err)
{
    if (n < 4)
        return gw_set_error(err, "OP_QUERY is truncated");
    req->flags = (uint32_t)rd_i32(p);
    p += 4, n -= 4;
    long nslen = cstring_len(p, n);
    if (nslen < 0 || (size_t)nslen >= sizeof req->ns)
        return gw_set_error(err, "OP_QUERY collection name is missing or too long");
    memcpy(req->ns, p, (size_t)nslen + 1);
    p += nslen + 1, n -= (size_t)nslen + 1;
    if (n < 8)
        return gw_set_error(err, "OP_QUERY is truncated");
    p += 8, n -= 8; /* numberToSkip, numberToReturn */
    bson_t query;
    size_t qlen = take_doc(p, n, &query);
    if (!qlen)
        return gw_set_error(err, "OP_QUERY query document is not valid BSON");
    /* Trailing returnFieldsSelector is allowed and ignored. */
    bson_iter_t it;
    if (bson_iter_init_find(&it, &query, "$query") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t dlen;
        const uint8_t *data;
        bson_iter_document(&it, &dlen, &data);
        bson_init(&req->command);
        bson_t inner;
        bson_init_static(&inner, data, dlen);
        bson_concat(&req->command, &inner);
        /* $readPreference sits beside $query in legacy wrapped commands. */
        if (bson_iter_init_find(&it, &query, "$readPreference"))
            bson_append_iter(&req->command, "$readPreference", -1, &it);
    } else {
        bson_copy_to(&query, &req->command);
    }
    return 0;
}

static bool has_key(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key);
}

static int parse_msg(const uint8_t *p, size_t n, struct emu_wire_request *req, char *err)
{
    if (n < 4)
        return gw_set_error(err, "OP_MSG is truncated");
    req->flags = (uint32_t)rd_i32(p);
    p += 4, n -= 4;
    if (req->flags & ~(EMU_MSG_CHECKSUM_PRESENT | EMU_MSG_MORE_TO_COME | EMU_MSG_EXHAUST_ALLOWED) &
        0xffffu)
        return gw_set_error(err, "OP_MSG has unknown required flag bits 0x%x", req->flags);
    if (req->flags & EMU_MSG_CHECKSUM_PRESENT) {
        if (n < 4)
            return gw_set_error(err, "OP_MSG checksum is missing");
        n -= 4;
    }
    bool have_body = false;
    bson_t body;
    bson_t seqs = BSON_INITIALIZER; /* identifier -> array of documents */
    while (n > 0) {
        uint8_t kind = *p++;
        n--;
        if (kind == 0) {
            size_t blen = have_body ? 0 : take_doc(p, n, &body);
            if (!blen)
                goto fail_body;
            have_body = true;
            p += blen, n -= blen;
        } else if (kind == 1) {
            if (n < 4)
                goto fail_seq;
            int32_t slen = rd_i32(p);
            if (slen < 5 || (size_t)slen > n)
                goto fail_seq;
            const uint8_t *sp = p + 4;
            size_t sn = (size_t)slen - 4;
            long idlen = cstring_len(sp, sn);
            if (idlen <= 0)
                goto fail_seq;
            const char *ident = (const char *)sp;
            sp += idlen + 1, sn -= (size_t)idlen + 1;
            if (has_key(&seqs, ident))
                goto fail_seq;
            bson_t arr;
            bson_append_array_begin(&seqs, ident, (int)idlen, &arr);
            for (uint32_t i = 0; sn > 0; i++) {
                bson_t doc;
                size_t dl = take_doc(sp, sn, &doc);
                if (!dl) {
                    bson_append_array_end(&seqs, &arr);
                    goto fail_seq;
                }
                char key[16];
                const char *k;
                size_t kl = bson_uint32_to_string(i, &k, key, sizeof key);
                bson_append_document(&arr, k, (int)kl, &doc);
                sp += dl, sn -= dl;
            }
            bson_append_array_end(&seqs, &arr);
            p += slen, n -= (size_t)slen;
        } else {
            bson_destroy(&seqs);
            return gw_set_error(err, "OP_MSG section kind %u is not supported", kind);
        }
    }
    if (!have_body)
        goto fail_body;
    bson_copy_to(&body, &req->command);
    bson_iter_t it;
    bson_iter_init(&it, &seqs);
    while (bson_iter_next(&it)) {
        if (has_key(&body, bson_iter_key(&it))) {
            /* The key lives in seqs: report it before freeing. */
            gw_set_error(err, "OP_MSG sequence '%s' duplicates a body field", bson_iter_key(&it));
            bson_destroy(&req->command);
            bson_destroy(&seqs);
            return -1;
        }
        bson_append_iter(&req->command, NULL, 0, &it);
    }
    bson_destroy(&seqs);
    return 0;
fail_body:
    bson_destroy(&seqs);
    return gw_set_error(err, "OP_MSG needs exactly one valid kind-0 body section");
fail_seq:
    bson_destroy(&seqs);
    return gw_set_error(err, "OP_MSG document sequence is malformed");
}

int emu_wire_request_parse(const uint8_t *msg, size_t len, struct emu_wire_request *req, char *err)
{
    struct emu_wire_header h;
    if (len < EMU_WIRE_HEADER_LEN)
        return gw_set_error(err, "message shorter than its header");
    if (emu_wire_header_parse(msg, len, &h, err) < 0)
        return -1;
    if ((size_t)h.length != len)
        return gw_set_error(err, "message length %d does not match %zu bytes", h.length, len);
    memset(req, 0, sizeof *req);
    req->opcode = h.opcode;
    req->request_id = h.request_id;
    const uint8_t *p = msg + EMU_WIRE_HEADER_LEN;
    size_t n = len - EMU_WIRE_HEADER_LEN;
    if (h.opcode == EMU_OP_MSG)
        return parse_msg(p, n, req, err);
    if (h.opcode == EMU_OP_QUERY)
        return parse_query(p, n, req, err);
    return gw_set_error(err, "opcode %d is not supported", h.opcode);
}

void emu_wire_request_cleanup(struct emu_wire_request *req)
{
    bson_destroy(&req->command);
}

static void put_header(uint8_t *p, int32_t len, int32_t request_id, int32_t response_to,
                       int32_t opcode)
{
    wr_i32(p, len);
    wr_i32(p + 4, request_id);
    wr_i32(p + 8, response_to);
    wr_i32(p + 12, opcode);
}

void emu_wire_append_msg(struct gw_buf *out, int32_t request_id, int32_t response_to,
                         uint32_t flags, const bson_t *doc)
{
    size_t total = EMU_WIRE_HEADER_LEN + 4 + 1 + doc->len;
    uint8_t *p = (uint8_t *)gw_buf_reserve(out, total);
    put_header(p, (int32_t)total, request_id, response_to, EMU_OP_MSG);
    wr_i32(p + 16, (int32_t)flags);
    p[20] = 0;
    memcpy(p + 21, bson_get_data(doc), doc->len);
    out->len += total;
    out->data[out->len] = '\0';
}

void emu_wire_append_reply(struct gw_buf *out, int32_t request_id, int32_t response_to,
                           const bson_t *doc)
{
    size_t total = EMU_WIRE_HEADER_LEN + 20 + doc->len;
    uint8_t *p = (uint8_t *)gw_buf_reserve(out, total);
    put_header(p, (int32_t)total, request_id, response_to, EMU_OP_REPLY);
    memset(p + 16, 0, 20);
    wr_i32(p + 32, 1); /* numberReturned */
    memcpy(p + 36, bson_get_data(doc), doc->len);
    out->len += total;
    out->data[out->len] = '\0';
}
