/* eio_codec.h -- Engine.IO v4 wire format, pure (no I/O, no libwebsockets).
 *
 * A packet is a type digit followed by data ("4hello", "2", "3probe"). Over WebSocket each frame
 * is one packet and a binary frame is a message packet whose data is the frame. Over HTTP
 * long-polling a payload joins packets with the record separator 0x1e, and a binary message
 * travels as 'b' followed by its base64.
 *
 * Thread safety: every function is reentrant.
 */
#ifndef GW_EIO_CODEC_H
#define GW_EIO_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "gw/buf.h"

enum gw_eio_type {
    GW_EIO_OPEN = 0,
    GW_EIO_CLOSE = 1,
    GW_EIO_PING = 2,
    GW_EIO_PONG = 3,
    GW_EIO_MESSAGE = 4,
    GW_EIO_UPGRADE = 5,
    GW_EIO_NOOP = 6,
};

#define GW_EIO_SEPARATOR '\x1e'

struct gw_eio_packet {
    enum gw_eio_type type;
    bool binary;      /* a binary message (type is GW_EIO_MESSAGE) */
    const char *data; /* borrowed from the decoded buffer */
    size_t len;
};

/* Decodes one text packet (a WebSocket text frame, or one polling segment that does not start
 * with 'b'). Returns 0, or -1 when the type digit is missing or unknown. */
int gw_eio_decode_text(const char *buf, size_t len, struct gw_eio_packet *out);

/* Iterates over the packets of a polling payload. The buffer is borrowed and modified: base64
 * segments are decoded in place, so decoded packets point into it. */
struct gw_eio_payload_iter {
    char *p;
    char *end;
    bool done;
};

void gw_eio_payload_iter_init(struct gw_eio_payload_iter *it, char *buf, size_t len);
/* Returns 1 with the next packet in *out, 0 at the end, -1 on a malformed segment (empty
 * segment, unknown type, invalid base64). */
int gw_eio_payload_next(struct gw_eio_payload_iter *it, struct gw_eio_packet *out);

/* Appends one encoded WebSocket frame body (as held by a gw_msg) to a polling payload, writing
 * the separator first unless the payload is empty. */
void gw_eio_payload_append(struct gw_buf *b, const char *frame, size_t len, bool binary);

/* The longest WebSocket frame header a server writes: no mask, a 64-bit length. */
#define GW_EIO_WS_HEADER_MAX 10

/* Writes the header of one final, unmasked (server to client) WebSocket frame carrying len
 * payload bytes, text or binary, into out and returns its length: 2, 4 or 10 bytes (RFC 6455
 * §5.2, shortest length form). For a write that joins several queued frames. */
size_t gw_eio_ws_header(unsigned char out[GW_EIO_WS_HEADER_MAX], size_t len, bool binary);

/* Appends the open packet: 0{"sid":...,"upgrades":[...],"pingInterval":N,"pingTimeout":N,
 * "maxPayload":N} with exactly these keys. upgrades is ["websocket"] when can_upgrade. */
void gw_eio_encode_open(struct gw_buf *b, const char *sid, bool can_upgrade, int ping_interval_ms,
                        int ping_timeout_ms, size_t max_payload);

/* Returns true when p[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool gw_utf8_valid(const char *p, size_t len);

/* The Engine.IO error codes, as the reference server sends them in a 400 JSON body. */
enum gw_eio_error {
    GW_EIO_ERR_TRANSPORT_UNKNOWN = 0,
    GW_EIO_ERR_SESSION_UNKNOWN = 1,
    GW_EIO_ERR_BAD_HANDSHAKE_METHOD = 2,
    GW_EIO_ERR_BAD_REQUEST = 3,
    GW_EIO_ERR_FORBIDDEN = 4,
    GW_EIO_ERR_UNSUPPORTED_VERSION = 5,
};

/* Returns the static message for e ("Transport unknown", ...). */
const char *gw_eio_error_message(enum gw_eio_error e);
/* Appends {"code":N,"message":"..."}. */
void gw_eio_encode_error(struct gw_buf *b, enum gw_eio_error e);

enum gw_eio_transport {
    GW_EIO_TRANSPORT_NONE, /* the query has no transport */
    GW_EIO_TRANSPORT_POLLING,
    GW_EIO_TRANSPORT_WEBSOCKET,
    GW_EIO_TRANSPORT_UNKNOWN,
};

#define GW_EIO_SID_LEN 20

/* What an Engine.IO request says in its query string. */
struct gw_eio_query {
    bool eio_ok;   /* EIO=4 was present */
    bool eio_seen; /* some EIO= was present */
    enum gw_eio_transport transport;
    bool has_sid;
    bool sid_valid; /* has_sid and it has the shape of one of our ids */
    char sid[GW_EIO_SID_LEN + 1];
};

void gw_eio_query_init(struct gw_eio_query *q);
/* Feeds one "name=value" argument (already URL-decoded, as lws hands them out). Unknown names
 * (t, b64, user parameters) are ignored. */
void gw_eio_query_add(struct gw_eio_query *q, const char *arg, size_t len);
/* Checks the query of a request. Returns 0 when EIO and transport are acceptable, else -1 with
 * the error the reference server gives: missing or unsupported EIO -> UNSUPPORTED_VERSION;
 * missing or unknown transport -> TRANSPORT_UNKNOWN; a sid that is not one of ours ->
 * SESSION_UNKNOWN. */
int gw_eio_query_check(const struct gw_eio_query *q, enum gw_eio_error *err);

/* Writes a new random session id (GW_EIO_SID_LEN base64url characters and a NUL). */
void gw_eio_new_sid(char out[GW_EIO_SID_LEN + 1]);

#endif
