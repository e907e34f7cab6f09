/* wire.h -- MongoDB wire-protocol framing: request decoding and reply encoding.
 *
 * Pure codec, no I/O. A request is one complete message (header included); decoding checks every
 * length against the message bounds and validates each BSON document (structure and nesting
 * depth) before libbson iterates it, so a hostile peer cannot make the emulator read out of
 * bounds or recurse without limit.
 *
 * Thread safety: every function is reentrant; callers own their buffers.
 */
#ifndef EMU_WIRE_H
#define EMU_WIRE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gw/buf.h"

enum emu_opcode {
    EMU_OP_REPLY = 1,
    EMU_OP_QUERY = 2004,
    EMU_OP_COMPRESSED = 2012,
    EMU_OP_MSG = 2013,
};

#define EMU_WIRE_HEADER_LEN 16
/* Advertised as maxMessageSizeBytes; anything larger closes the connection. */
#define EMU_WIRE_MAX_MESSAGE 48000000
/* Nesting limit for documents received (mongod allows 100 levels for user data). */
#define EMU_WIRE_MAX_DEPTH 100

#define EMU_MSG_CHECKSUM_PRESENT 0x1u
#define EMU_MSG_MORE_TO_COME 0x2u
#define EMU_MSG_EXHAUST_ALLOWED 0x10000u

struct emu_wire_header {
    int32_t length;
    int32_t request_id;
    int32_t response_to;
    int32_t opcode;
};

struct emu_wire_request {
    int32_t opcode; /* EMU_OP_QUERY or EMU_OP_MSG */
    int32_t request_id;
    uint32_t flags; /* OP_MSG flagBits, or OP_QUERY flags */
    char ns[128];   /* OP_QUERY full collection name ("admin.$cmd"); empty for OP_MSG */
    bson_t command; /* owned: body with kind-1 sequences merged in as arrays */
};

/* Decodes the 16-byte header at p (n >= 16). Returns 0, or -1 with err set when the declared
 * length is outside [16, EMU_WIRE_MAX_MESSAGE]. */
int emu_wire_header_parse(const uint8_t *p, size_t n, struct emu_wire_header *h, char *err);

/* Decodes one whole message of len bytes (the header's length). On success fills req (the caller
 * must call emu_wire_request_cleanup) and returns 0. Returns -1 with err set for unsupported
 * opcodes, bad section kinds, bad lengths or invalid BSON; req needs no cleanup then. */
int emu_wire_request_parse(const uint8_t *msg, size_t len, struct emu_wire_request *req, char *err);
void emu_wire_request_cleanup(struct emu_wire_request *req);

/* Checks that the len bytes at p are exactly one well-formed BSON document nested at most
 * max_depth levels. Returns true when valid. Borrows p. */
bool emu_wire_bson_valid(const uint8_t *p, size_t len, int max_depth);

/* Appends an OP_MSG reply (one kind-0 section) to out. Borrows doc. */
void emu_wire_append_msg(struct gw_buf *out, int32_t request_id, int32_t response_to,
                         uint32_t flags, const bson_t *doc);
/* Appends an OP_REPLY carrying one document to out. Borrows doc. */
void emu_wire_append_reply(struct gw_buf *out, int32_t request_id, int32_t response_to,
                           const bson_t *doc);

#endif
