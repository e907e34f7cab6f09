/* sio_codec.h -- Socket.IO v5 packets: decode, binary reassembly, encode.
 *
 * A Socket.IO packet is the text of an Engine.IO message packet after its "4":
 *
 *     <type>[<attachments>-][<nsp>,][<id>][<json>]
 *
 * followed, for BINARY_EVENT and BINARY_ACK, by <attachments> binary Engine.IO messages. The
 * JSON of a binary packet keeps {"_placeholder":true,"num":k} objects where the buffers were.
 *
 * The decoder accepts what the reference parser (socket.io-parser 4.2) accepts, minus its
 * accidents: digits only in counts and ids, an id that fits in an int64, a JSON nesting depth
 * limit, and a payload that must have the shape its type requires. Anything else is an error the
 * caller answers by closing the connection.
 *
 * The encoder produces the reference server's bytes: compact JSON in insertion order, no escaped
 * '/', the namespace only when it is not "/".
 *
 * This module is a pure codec: no I/O, no libwebsockets. Thread safety: every function may be
 * called from any thread; a struct gw_sio_reasm belongs to one thread at a time.
 */
#ifndef GW_SIO_CODEC_H
#define GW_SIO_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"
#include "gw/common.h"

enum gw_sio_type {
    GW_SIO_CONNECT = 0,
    GW_SIO_DISCONNECT = 1,
    GW_SIO_EVENT = 2,
    GW_SIO_ACK = 3,
    GW_SIO_CONNECT_ERROR = 4,
    GW_SIO_BINARY_EVENT = 5,
    GW_SIO_BINARY_ACK = 6,
};

/* Callers branch on these: every status but GW_SIO_OK means "close the connection". */
enum gw_sio_status {
    GW_SIO_OK = 0,
    GW_SIO_EMPTY,           /* no bytes at all */
    GW_SIO_BAD_TYPE,        /* first byte is not '0'..'6' */
    GW_SIO_BAD_ATTACHMENTS, /* binary packet without a "<digits>-" count */
    GW_SIO_TOO_MANY_ATTACHMENTS,
    GW_SIO_BAD_NAMESPACE,     /* control character inside the namespace */
    GW_SIO_BAD_ID,            /* ack id overflows int64, or non-digits where the id goes */
    GW_SIO_BAD_JSON,          /* payload is not valid JSON (or has \u0000, or bad UTF-8) */
    GW_SIO_TOO_DEEP,          /* payload nests deeper than the limit */
    GW_SIO_TRAILING_GARBAGE,  /* bytes after the JSON value */
    GW_SIO_BAD_PAYLOAD,       /* valid JSON of the wrong shape for the packet type */
    GW_SIO_RESERVED_EVENT,    /* event named connect, disconnect, newListener, ... */
    GW_SIO_MISSING_ID,        /* ACK or BINARY_ACK without an id */
    GW_SIO_BAD_PLACEHOLDER,   /* placeholder "num" not an integer in [0, attachments) */
    GW_SIO_UNEXPECTED_TEXT,   /* text packet while attachments are still expected */
    GW_SIO_UNEXPECTED_BINARY, /* binary message when no attachment is expected */
};

/* Same cap as the reference parser's default maxAttachments. */
#define GW_SIO_DEFAULT_MAX_ATTACHMENTS 10
/* Arrays and objects nested deeper than this are refused before jansson recurses into them. */
#define GW_SIO_DEFAULT_MAX_DEPTH 32
/* Marks a packet without an ack id. */
#define GW_SIO_NO_ID ((int64_t)-1)
/* Length of a Socket.IO session id (15 random bytes in base64url), without the NUL. */
#define GW_SIO_SID_LEN 20

struct gw_sio_limits {
    int max_attachments; /* binary packets announcing more are refused */
    int max_depth;       /* maximum nesting of arrays and objects in the payload */
};

/* One decoded packet. Namespace and JSON text point into the decoded input (borrowed: valid as
 * long as that buffer is); `data` is a reference owned by the packet. */
struct gw_sio_packet {
    enum gw_sio_type type;
    int attachments; /* BINARY_EVENT / BINARY_ACK only, else 0 */
    const char *nsp; /* "/" when the packet names none; not NUL-terminated */
    size_t nsp_len;
    int64_t id;       /* GW_SIO_NO_ID when absent */
    json_t *data;     /* NULL when there is no payload */
    const char *json; /* the payload's exact text (NULL when none), for byte-exact echoes */
    size_t json_len;
};

/* One binary attachment; `data` is owned by whoever holds the struct. */
struct gw_sio_attachment {
    unsigned char *data;
    size_t len;
};

/* A binary packet with all its attachments, owned as a whole: `packet.nsp` and `packet.json`
 * point into `text`, and gw_sio_assembled_clear() frees everything. */
struct gw_sio_assembled {
    struct gw_sio_packet packet;
    char *text;
    struct gw_sio_attachment *att; /* packet.attachments entries, in arrival order */
};

/* The receive side of one connection: at most one binary packet being completed. */
struct gw_sio_reasm {
    struct gw_sio_assembled pending; /* text == NULL when idle */
    int received;
};

/* Returns a static English sentence for a status. Any thread. */
const char *gw_sio_strerror(enum gw_sio_status status);

/* Fills `lim` with the defaults above. Any thread. */
void gw_sio_limits_default(struct gw_sio_limits *lim);

/* Decodes one Socket.IO packet from s[0..len) (no NUL needed). `lim` may be NULL for the
 * defaults. On GW_SIO_OK, `out` borrows from `s` and owns a new reference in out->data: release
 * it with gw_sio_packet_clear(). On error `out` holds nothing to release. A binary packet's
 * placeholders are checked against its attachment count here. Does not enforce who may send
 * which type: a CONNECT_ERROR from a client decodes fine and the caller must refuse it. Any
 * thread. */
enum gw_sio_status gw_sio_decode(const char *s, size_t len, const struct gw_sio_limits *lim,
                                 struct gw_sio_packet *out);

/* Drops the packet's JSON reference and empties it. NULL-safe. Any thread. */
void gw_sio_packet_clear(struct gw_sio_packet *p);

/* True when the packet's namespace equals the C string `nsp`. Borrows both. Any thread. */
bool gw_sio_packet_nsp_is(const struct gw_sio_packet *p, const char *nsp);

/* True for BINARY_EVENT / BINARY_ACK with at least one attachment to wait for. */
bool gw_sio_packet_awaits_attachments(const struct gw_sio_packet *p);

/* Starts idle. The owning thread only, for all reasm functions. */
void gw_sio_reasm_init(struct gw_sio_reasm *r);

/* Drops a half-received binary packet, if any; the reassembler is idle and reusable after. */
void gw_sio_reasm_reset(struct gw_sio_reasm *r);

/* True while attachments are still expected. */
bool gw_sio_reasm_active(const struct gw_sio_reasm *r);

/* Feeds one text message. Refuses it with GW_SIO_UNEXPECTED_TEXT while attachments are
 * expected, else decodes it. When the packet is complete (every non-binary packet, and binary
 * ones announcing 0 attachments) *complete is true and `out` is filled as by gw_sio_decode()
 * (borrowing from s; release with gw_sio_packet_clear()). When attachments must follow,
 * *complete is false, `out` is left empty and the reassembler keeps its own copy of the text. */
enum gw_sio_status gw_sio_reasm_text(struct gw_sio_reasm *r, const char *s, size_t len,
                                     const struct gw_sio_limits *lim, struct gw_sio_packet *out,
                                     bool *complete);

/* Feeds one binary message (copied). Refuses it with GW_SIO_UNEXPECTED_BINARY when no
 * attachment is expected. On the last attachment *complete is true and ownership of the whole
 * packet moves to `out` (release with gw_sio_assembled_clear()); the reassembler is idle again. */
enum gw_sio_status gw_sio_reasm_binary(struct gw_sio_reasm *r, const void *p, size_t len,
                                       struct gw_sio_assembled *out, bool *complete);

/* Frees everything the assembled packet owns and empties it. NULL-safe. Any thread. */
void gw_sio_assembled_clear(struct gw_sio_assembled *a);

/* Appends the encoded packet to `b`. Borrows `p`: the payload is p->data when not NULL, else
 * p->json/json_len when not NULL (JSON text the caller already encoded compactly, copied as is),
 * else none. p->nsp may be NULL for "/"; a namespace must start with '/' and hold no ','.
 * p->attachments is written for binary types. Returns 0, or -1 with `err` set and `b` unchanged
 * when jansson cannot encode p->data. Any thread. */
int gw_sio_encode(struct gw_buf *b, const struct gw_sio_packet *p, char *err);

/* Appends `<type>[<nsp>,][<id>]<data>` for a non-binary packet. `nsp` (C string, NULL for "/")
 * and `data` (NULL for none) are borrowed; `id` may be GW_SIO_NO_ID. Returns 0 or -1 as above. */
int gw_sio_encode_json(struct gw_buf *b, enum gw_sio_type type, const char *nsp, int64_t id,
                       const json_t *data, char *err);

/* Same with the payload as JSON text already encoded (borrowed, copied as is): the gateway
 * encodes a notification once and reuses the text for every socket. */
void gw_sio_encode_text(struct gw_buf *b, enum gw_sio_type type, const char *nsp, int64_t id,
                        const char *json, size_t json_len);

/* Appends the CONNECT reply `0[<nsp>,]{"sid":"<sid>"}`, or with a connection-state-recovery
 * private id `{"sid":"<sid>","pid":"<pid>"}` when pid is not NULL. Borrows nsp (NULL for "/"),
 * sid and pid; sid must be valid UTF-8 (gw_sio_generate_sid() output is), pid any string (it
 * is JSON-escaped; one that is not valid UTF-8 is sent as ""). */
void gw_sio_encode_connect(struct gw_buf *b, const char *nsp, const char *sid, const char *pid);

/* Appends `4[<nsp>,]{"message":"<message>"[,"data":<data>]}`. Borrows nsp (NULL for "/"),
 * message (UTF-8) and data (NULL to leave "data" out, as the reference does for an error without
 * it). Returns 0, or -1 with `err` set and `b` unchanged when message or data cannot be encoded. */
int gw_sio_encode_connect_error(struct gw_buf *b, const char *nsp, const char *message,
                                const json_t *data, char *err);

/* Writes a fresh Socket.IO session id (GW_SIO_SID_LEN base64url characters and a NUL) from
 * gw_random_bytes(). Any thread. */
void gw_sio_generate_sid(char out[GW_SIO_SID_LEN + 1]);

#endif
