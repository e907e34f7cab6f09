/* notice.h -- one MongoDB change event in, one ready-to-send notification out (design §3, §4.2).
 *
 * The watcher thread hands every document that mongoc_change_stream_next() returns to
 * gw_notice_build(). It checks that the event is an insert of a routable notification, renders
 * fullDocument as JSON once, and wraps it as the Engine.IO message 42["<event>",{...}] that the
 * loop thread then queues on every socket of the user. Nothing here touches the network, the
 * driver or libwebsockets: only libbson, so the unit tests and fuzzers link it alone.
 *
 * BSON -> JSON mapping (compact, the document's own key order, output always valid UTF-8):
 *   ObjectId      "65f1c0ffee...": 24 lowercase hex digits
 *   Date          "2026-11-23T11:30:00.000Z" for years 0000-9999 (before 1970 too); outside that
 *                 range a JSON number of milliseconds since the epoch, which JavaScript's
 *                 new Date(n) reads back (ISO-8601 has no agreed form for 5-digit years)
 *   Int32, Int64  exact decimal integers (JavaScript reads integers beyond 2^53 inexactly;
 *                 the text itself is exact for other clients)
 *   Double        the shortest text that reads back to the same double, written as JavaScript's
 *                 Number#toString writes it: 3.0 -> 3, 0.1 -> 0.1, 1e300 -> 1e+300,
 *                 1e-7 -> 1e-7; -0.0 -> -0 (JSON.parse("-0") is -0, so the sign survives);
 *                 NaN and +-Infinity -> null, as JSON.stringify does
 *   Decimal128    string, as bson_decimal128_to_string() writes it ("1.10", "NaN", "-Infinity")
 *   Binary        standard padded base64 string; subtype 4 (UUID) of 16 bytes -> the canonical
 *                 8-4-4-4-12 lowercase string. Legacy UUIDs (subtype 3) stay base64, since their
 *                 byte order depends on the driver that wrote them
 *   String        JSON string: " \ and control characters escaped as JSON.stringify does
 *                 (\n, \t, ..., otherwise \u00xx), other text kept as UTF-8, each invalid
 *                 UTF-8 sequence (WHATWG "maximal subpart") replaced by U+FFFD: a WebSocket
 *                 text frame with invalid UTF-8 would make the client drop the connection
 *   Bool, Null    true / false / null
 *   Document      object; Array -> array; nesting deeper than GW_NOTICE_MAX_DEPTH is an error
 *   Timestamp     {"t":<seconds>,"i":<increment>}
 *   Regex         "/pattern/flags"
 *   Code, Symbol  the code or symbol text as a string; Code with scope -> its code (scope dropped)
 *   DBPointer     {"$ref":"<collection>","$id":"<hex>"}, the shape of a DBRef
 *   MinKey/MaxKey {"$minKey":1} / {"$maxKey":1} (extended JSON); Undefined -> null
 * Keys are escaped like strings. A key that appears twice in one BSON document (the server
 * refuses such inserts, old drivers could write them) appears twice in the JSON.
 *
 * Thread safety: every function is reentrant and may be called from any thread (the watcher
 * thread in the product). A gw_notice belongs to one thread at a time and may be handed over
 * whole, e.g. copied by value into the mailbox: it holds only plain storage and pointers.
 */
#ifndef GW_NOTICE_H
#define GW_NOTICE_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "gw/msg.h"

/* Longest user id accepted, in bytes (not counting the NUL); the same bound as a JWT user. */
#define GW_NOTICE_MAX_USER_ID_LEN 256

/* Deepest nesting of documents and arrays rendered. MongoDB stores at most 100 levels, so no
 * stored document is refused; the bound exists because the converter recurses. */
#define GW_NOTICE_MAX_DEPTH 128

#define GW_NOTICE_DEFAULT_USER_FIELD "userId"
#define GW_NOTICE_DEFAULT_EVENT "notification"

enum gw_notice_status {
    GW_NOTICE_OK = 0,
    GW_NOTICE_NOT_INSERT,        /* operationType missing or not insert/update/replace/delete */
    GW_NOTICE_NO_FULL_DOCUMENT,  /* fullDocument missing or not a document */
    GW_NOTICE_NO_ID,             /* fullDocument has no _id: clients could not de-duplicate */
    GW_NOTICE_NO_USER,           /* the user field is missing */
    GW_NOTICE_BAD_USER,          /* the user field is not a string nor an ObjectId, is empty,
                                    longer than GW_NOTICE_MAX_USER_ID_LEN, has control
                                    characters or invalid UTF-8, or is ambiguous (its name
                                    appears twice on the path) */
    GW_NOTICE_NO_TYPE,           /* fullDocument.type is missing */
    GW_NOTICE_BAD_DOCUMENT,      /* corrupt BSON, or nested deeper than GW_NOTICE_MAX_DEPTH */
    GW_NOTICE_TOO_LARGE,         /* the encoded message is longer than max_bytes */
    GW_NOTICE_DELETE_UNROUTABLE, /* a delete with neither a pre-image nor the user field in
                                    its documentKey */
};

/* What changed. Each kind has its own event: an insert is "<event>" with the document and,
 * when _id is an ObjectId, the id as a trailing string argument (the Socket.IO recovery
 * offset); an update or replace is "<event>:update" with the current document (the stream asks
 * for updateLookup; an update whose document is gone by then has no fullDocument and is
 * refused); a delete is "<event>:delete" with {"_id": <id>}. */
enum gw_notice_kind { GW_NOTICE_INSERT, GW_NOTICE_UPDATE, GW_NOTICE_DELETE };

/* How to read a change event. The strings are borrowed for the duration of each call. */
struct gw_notice_options {
    const char *user_field; /* NOTIFICATION_USER_FIELD: a top-level name or a dotted path into
                               sub-documents ("recipient.id"); NULL = "userId". Arrays are
                               entered only by an explicit index ("recipients.0.id") */
    const char *event;      /* NOTIFICATION_EVENT, valid UTF-8; NULL = "notification" */
    size_t max_bytes;       /* cap on the encoded Engine.IO message 42[...] in bytes (e.g.
                               MAX_PAYLOAD_BYTES); 0 = no cap */
};

/* A notification ready to deliver. Filled by gw_notice_build(); released by gw_notice_clear(). */
struct gw_notice {
    enum gw_notice_kind kind;
    char user_id[GW_NOTICE_MAX_USER_ID_LEN + 1]; /* NUL-terminated; an ObjectId user becomes its
                                                    24-hex string, the JWT sub such a user has */
    size_t user_id_len;
    struct gw_msg *msg;     /* owned: one reference to 42["<event>",<fullDocument JSON>] */
    char id[25];            /* the notification's _id as 24 lowercase hex digits when it is an
                               ObjectId, else "": only an ObjectId serves as the recovery offset and
                               the catch-up position, so no other _id is rendered here */
    size_t id_len;          /* 24 or 0 */
    int64_t inserted_at_ms; /* wall clock of the insert, ms since the epoch: a positive
                               createdAt Date when it is not before the ObjectId time of _id
                               (whole seconds), else that ObjectId time, else 0 */
};

/* Appends fullDocument-style JSON for doc (borrowed) to out, mapped as described above.
 * Returns 0, or -1 with one sentence in err (GW_ERR_LEN, may be NULL) when doc is corrupt or
 * too deep; out then holds what it held before the call. */
int gw_notice_bson_to_json(const bson_t *doc, struct gw_buf *out, char *err);

/* Turns one change event (borrowed; the caller may destroy it right after) into *out. Every
 * field of *out is set whatever the result; on GW_NOTICE_OK the caller owns what it holds and
 * must call gw_notice_clear(), on any other status it owns nothing (clearing is harmless). The
 * checks run in the enum's order and the first failure is returned. */
enum gw_notice_status gw_notice_build(const bson_t *change, const struct gw_notice_options *opt,
                                      struct gw_notice *out);

/* Releases what n owns (the message reference) and empties it; n may be cleared again.
 * Does not free n itself. */
void gw_notice_clear(struct gw_notice *n);

/* The Engine.IO message of a Socket.IO event, 42["<event><suffix>",<json>] or, with an offset,
 * 42["<event><suffix>",<json>,"<offset>"]: the trailing string is the connection-state-recovery
 * offset (a notification id, plain ASCII) that the stock client records by itself and sends
 * back when it reconnects. Open appends up to the comma before the JSON value, close what
 * follows it; the caller appends the value in between. b, event and suffix are borrowed; event
 * and suffix are UTF-8, escaped as JSON.stringify escapes them. */
void gw_notice_event_open(struct gw_buf *b, const char *event, const char *suffix);
void gw_notice_event_close(struct gw_buf *b, const char *offset);

/* One static sentence for a status, for logs ("The document has no user field."). */
const char *gw_notice_strerror(enum gw_notice_status st);

#endif
