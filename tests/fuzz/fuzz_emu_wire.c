/* fuzz_emu_wire.c -- libFuzzer target for mongo-emu's wire decoder (tools/mongo-emu/wire.h).
 *
 * The input is a byte stream from a peer, cut into messages exactly as the emulator's
 * connection loop cuts it: header, declared length, whole message. Each message is decoded
 * from an exact-size heap copy (so ASan sees any read past it); a decoded command re-encoded as
 * an OP_MSG must decode again to the same document. Separately, a document emu_wire_bson_valid
 * accepts must be one libbson can iterate to its end, at every level, since the emulator
 * iterates it right after. (bson_validate is no oracle: it also refuses keys that are not UTF-8,
 * which libbson iterates fine and the emulator deliberately lets through.)
 */
#include <bson/bson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct emu_wire_request *req)
{
    struct gw_buf out = GW_BUF_INIT;
    emu_wire_append_msg(&out, 7, req->request_id, 0, &req->command);
    struct emu_wire_request again;
    char err[GW_ERR_LEN];
    GW_ASSERT(emu_wire_request_parse((uint8_t *)out.data, out.len, &again, err) == 0);
    GW_ASSERT(again.opcode == EMU_OP_MSG && again.request_id == 7);
    GW_ASSERT(bson_equal(&again.command, &req->command));
    emu_wire_request_cleanup(&again);
    gw_buf_free(&out);
}

static void parse_stream(const uint8_t *data, size_t size)
{
    char err[GW_ERR_LEN];
    size_t off = 0;
    while (size - off >= EMU_WIRE_HEADER_LEN) {
        struct emu_wire_header h;
        if (emu_wire_header_parse(data + off, size - off, &h, err) < 0)
            return;
        size_t need = (size_t)h.length;
        if (size - off < need)
            return;
        uint8_t *msg = gw_malloc(need);
        memcpy(msg, data + off, need);
        struct emu_wire_request req;
        int rc = emu_wire_request_parse(msg, need, &req, err);
        free(msg);
        if (rc < 0)
            return;
        round_trip(&req);
        emu_wire_request_cleanup(&req);
        off += need;
    }
}

/* True when libbson walks every element from `it` on, entering sub-documents and arrays. */
static bool iterates_fully(bson_iter_t *it)
{
    while (bson_iter_next(it)) {
        bson_iter_t child;
        if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) {
            if (!bson_iter_recurse(it, &child) || !iterates_fully(&child))
                return false;
        }
    }
    return it->err_off == 0;
}

static void check_valid(const uint8_t *data, size_t size)
{
    uint8_t *copy = gw_malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (emu_wire_bson_valid(copy, size, EMU_WIRE_MAX_DEPTH)) {
        bson_t doc;
        bson_iter_t it;
        GW_ASSERT(bson_init_static(&doc, copy, size) && bson_iter_init(&it, &doc));
        GW_ASSERT(iterates_fully(&it));
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_stream(data, size);
    check_valid(data, size);
    return 0;
}
