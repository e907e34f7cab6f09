/* token.h -- change-stream resume tokens: {_data: "<uppercase hex>"}.
 *
 * The hex string encodes 0x82, the cluster time (seconds, increment; big-endian so that sorting
 * the strings sorts by time, like a real server's KeyString tokens), the token kind and a check
 * byte. Clients treat it as opaque; the check byte lets the emulator tell a damaged or foreign
 * token (260) from one that is merely too old (286).
 *
 * Pure codec; reentrant.
 */
#ifndef EMU_TOKEN_H
#define EMU_TOKEN_H

#include <bson/bson.h>
#include <stdint.h>

enum emu_token_kind {
    EMU_TOKEN_HWM = 0,        /* high-water mark: everything up to ts was scanned */
    EMU_TOKEN_EVENT = 1,      /* an event at ts */
    EMU_TOKEN_INVALIDATE = 2, /* the invalidate that follows the drop at ts */
};

/* "82" + 8 + 8 + 2 + 2 hex digits. */
#define EMU_TOKEN_HEX_LEN 22

struct emu_token {
    uint64_t ts; /* (seconds << 32) | increment */
    enum emu_token_kind kind;
};

enum emu_token_status {
    EMU_TOKEN_OK,
    EMU_TOKEN_NOT_A_DOCUMENT, /* token is not {_data: <string>} */
    EMU_TOKEN_NOT_HEX,        /* _data has characters other than hex digits */
    EMU_TOKEN_MALFORMED,      /* hex, but not a token this emulator issued */
};

/* Writes the hex form (EMU_TOKEN_HEX_LEN chars plus NUL) into out. */
void emu_token_format(const struct emu_token *tok, char out[EMU_TOKEN_HEX_LEN + 1]);

/* Appends {_data: "<hex>"} under key to doc. */
void emu_token_append(bson_t *doc, const char *key, const struct emu_token *tok);

/* Decodes a hex string of len bytes. */
enum emu_token_status emu_token_parse_hex(const char *hex, size_t len, struct emu_token *out);

/* Decodes a token value (the iterator points at the value of resumeAfter/startAfter). */
enum emu_token_status emu_token_parse_iter(const bson_iter_t *it, struct emu_token *out);

#endif
