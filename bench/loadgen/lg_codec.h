/* lg_codec.h -- the load generator's wire codecs: RFC 6455 client frames, the HTTP upgrade
 * answer, and just enough JSON to read a notification. Pure: no I/O, no clocks, no globals.
 *
 * The generator only ever talks to a server under test, but what the server sends is still
 * untrusted input: every decoder bounds-checks and reports malformed bytes instead of guessing,
 * because a wrongly parsed frame would show up as a bogus loss or duplicate in the report.
 *
 * Thread safety: reentrant.
 */
#ifndef LG_CODEC_H
#define LG_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"

enum lg_ws_opcode {
    LG_WS_CONT = 0x0,
    LG_WS_TEXT = 0x1,
    LG_WS_BINARY = 0x2,
    LG_WS_CLOSE = 0x8,
    LG_WS_PING = 0x9,
    LG_WS_PONG = 0xA,
};

/* One decoded server frame. payload borrows from the decoder's input. */
struct lg_ws_frame {
    int fin;
    int opcode;
    const uint8_t *payload;
    uint64_t len;
};

/* Appends one masked client frame (FIN set) carrying payload[0..len) to out, masked with
 * mask[4]. Borrows payload and mask. */
void lg_ws_encode(struct gw_buf *out, int opcode, const void *payload, size_t len,
                  const uint8_t mask[4]);

/* Decodes one server frame from p[0..n). Returns the bytes the whole frame takes (> 0), 0 when
 * more bytes are needed, or -1 with a sentence in err when the frame is malformed (masked,
 * reserved bits or opcode, fragmented or oversized control frame, payload above max_len).
 * f->payload borrows from p. */
long lg_ws_decode(const uint8_t *p, size_t n, uint64_t max_len, struct lg_ws_frame *f, char *err);

/* Writes the Sec-WebSocket-Accept value (28 characters and a NUL) for key into out[29]. */
void lg_ws_accept(const char *key, char out[29]);

/* Parses an HTTP response head in p[0..n). Returns the head's length including the blank line
 * (> 0), 0 when incomplete, -1 when malformed. On success *status holds the status code and
 * accept[29] the Sec-WebSocket-Accept header value ("" when absent or too long). */
long lg_http_response(const char *p, size_t n, int *status, char accept[29]);

/* ---- JSON ---------------------------------------------------------------------------------- */

/* Finds the first member named key at the top level of the JSON object p[0..n) (nested members
 * never match). Returns 1 and sets *val and *vlen to the raw value text (borrowed from p), 0 when
 * the object has no such member, -1 when p is not a well-formed object (trailing whitespace
 * allowed). */
int lg_json_member(const char *p, size_t n, const char *key, const char **val, size_t *vlen);

/* A raw JSON value inside a larger text (borrowed). */
struct lg_json_span {
    const char *p;
    size_t n;
};

/* Reads the whole JSON object p[0..n) once (validating it) and, for each of the nkeys names in
 * keys, sets vals[i] to the raw text of its first top-level member ({NULL, 0} when absent).
 * Returns how many keys were found, or -1 when p is not a well-formed object followed only by
 * whitespace. */
int lg_json_members(const char *p, size_t n, const char *const *keys, int nkeys,
                    struct lg_json_span *vals);

/* Reads a JSON number that is an integer (in any exact notation, e.g. 17 or 1.7e3) into *out.
 * Returns 0, or -1 when the text is not such a number or its magnitude exceeds 2^53. */
int lg_json_int(const char *p, size_t n, int64_t *out);

/* Copies a JSON string without escapes (the quotes stripped) into out[cap]. Returns 0, or -1
 * when the text is not a string, holds a backslash, or does not fit. */
int lg_json_plain_string(const char *p, size_t n, char *out, size_t cap);

/* ---- notifications --------------------------------------------------------------------- */

/* The fields the generator checks; strings are NUL-terminated copies. */
struct lg_notice {
    char id[64];
    char user[64];
    int64_t seq;
    int64_t sent_at_us;
};

enum lg_notice_result {
    LG_NOTICE_OK = 0,
    LG_NOTICE_OTHER_EVENT, /* a well-formed event with another name */
    LG_NOTICE_MALFORMED,   /* not an event array, or a field missing or of the wrong type */
};

/* Parses the Socket.IO EVENT payload p[0..n) (the JSON array after "42", e.g.
 * ["notification",{...}] or, with the connection-state-recovery offset the gateway appends,
 * ["notification",{...},"<_id>"]) for event name `event`. Reads _id, userId, seq and sentAt
 * from the document; an offset other than the document's _id is malformed. Borrows
 * everything. */
enum lg_notice_result lg_notice_parse(const char *p, size_t n, const char *event,
                                      struct lg_notice *out);

#endif
