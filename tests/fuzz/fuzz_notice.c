/* fuzz_notice.c -- libFuzzer target for BSON -> JSON and change events (include/gw/notice.h).
 *
 * The input is a BSON document. When libbson validates its structure, gw_notice_bson_to_json
 * must produce text that jansson parses as an object (JSON_ALLOW_NUL: a BSON string may hold
 * NUL, which browsers' JSON.parse reads as \u0000; JSON_DECODE_INT_AS_REAL: a large double is
 * written in JSON.stringify's integer form, beyond jansson's int64 but fine for a browser) and
 * gw_notice_build on an insert event wrapping it must return a status; an OK notification's message
 * must be 42[<event>,<object>], byte for byte the standalone conversion wrapped. Unvalidated input
 * must still be refused or converted without a crash.
 */
#include <bson/bson.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "gw/msg.h"
#include "gw/notice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *parse(const char *s, size_t len)
{
    json_error_t jerr;
    return json_loadb(s, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
}

static void check_json(const bson_t *doc)
{
    struct gw_buf out = GW_BUF_INIT;
    char err[GW_ERR_LEN];
    if (gw_notice_bson_to_json(doc, &out, err) != 0) {
        GW_ASSERT(out.len == 0);
        gw_buf_free(&out);
        return;
    }
    json_t *j = parse(out.data, out.len);
    GW_ASSERT(j != NULL && json_is_object(j));
    json_decref(j);
    gw_buf_free(&out);
}

static void check_build(const bson_t *doc)
{
    bson_t change = BSON_INITIALIZER, id = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&id, "_data", "8265");
    BSON_APPEND_DOCUMENT(&change, "_id", &id);
    BSON_APPEND_UTF8(&change, "operationType", "insert");
    BSON_APPEND_DOCUMENT(&change, "fullDocument", doc);

    struct gw_notice n;
    enum gw_notice_status st = gw_notice_build(&change, NULL, &n);
    GW_ASSERT(st >= GW_NOTICE_OK && st <= GW_NOTICE_DELETE_UNROUTABLE);
    GW_ASSERT(gw_notice_strerror(st) != NULL);
    if (st == GW_NOTICE_OK) {
        GW_ASSERT(n.user_id_len > 0 && strlen(n.user_id) == n.user_id_len);
        GW_ASSERT((n.id_len == 0 || n.id_len == 24) && strlen(n.id) == n.id_len);
        const char *p = gw_msg_payload(n.msg);
        GW_ASSERT(n.msg->len >= 2 && p[0] == '4' && p[1] == '2');
        json_t *j = parse(p + 2, n.msg->len - 2);
        /* ["notification", doc] plus, for an ObjectId _id, the recovery offset: that id */
        size_t want = n.id_len == 24 && strspn(n.id, "0123456789abcdef") == 24 ? 3 : 2;
        GW_ASSERT(j != NULL && json_is_array(j) && json_array_size(j) == want);
        GW_ASSERT(json_is_string(json_array_get(j, 0)) && json_is_object(json_array_get(j, 1)));
        if (want == 3)
            GW_ASSERT(strcmp(json_string_value(json_array_get(j, 2)), n.id) == 0);
        json_decref(j);
        /* the message built in place is byte for byte the document's own JSON, wrapped */
        struct gw_buf expect = GW_BUF_INIT;
        gw_buf_append_str(&expect, "42[\"notification\",");
        GW_ASSERT(gw_notice_bson_to_json(doc, &expect, NULL) == 0);
        if (want == 3)
            gw_buf_printf(&expect, ",\"%s\"", n.id);
        gw_buf_append_char(&expect, ']');
        GW_ASSERT(expect.len == n.msg->len && memcmp(expect.data, p, expect.len) == 0);
        gw_buf_free(&expect);
    }
    gw_notice_clear(&n);
    bson_destroy(&change);
    bson_destroy(&id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bson_t *doc = bson_new_from_data(data, size);
    if (!doc)
        return 0;
    size_t offset;
    if (bson_validate(doc, BSON_VALIDATE_NONE, &offset)) {
        check_json(doc);
        check_build(doc);
    } else {
        struct gw_buf out = GW_BUF_INIT;
        (void)gw_notice_bson_to_json(doc, &out, NULL);
        gw_buf_free(&out);
    }
    bson_destroy(doc);
    return 0;
}
