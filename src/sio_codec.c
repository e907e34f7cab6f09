/* sio_codec.c -- Socket.IO v5 packet codec (see include/gw/sio_codec.h for the wire format).
 *
 * Decoding walks the header left to right exactly once, then hands the rest to jansson. Two
 * guards come before jansson: the payload must start like an object, array or string (every
 * valid payload does), and its nesting depth is measured by a flat scan, so hostile input never
 * drives jansson's recursive parser (or our placeholder walk) deeper than the limit.
 */
#include "gw/sio_codec.h"
#include "gw/base64.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The namespace of packets that name none; gw_sio_reasm_text() tells it apart from a namespace
 * borrowed from the input by comparing against this pointer. */
static const char sio_root_nsp[] = "/";

/* Event names the reference refuses because its EventEmitter gives them a meaning. */
static const char *const sio_reserved_events[] = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

static const char *const sio_status_text[] = {
    [GW_SIO_OK] = "no error",
    [GW_SIO_EMPTY] = "the Socket.IO packet is empty",
    [GW_SIO_BAD_TYPE] = "the Socket.IO packet type is not a digit from 0 to 6",
    [GW_SIO_BAD_ATTACHMENTS] = "the binary packet does not start with a \"<count>-\" attachment "
                               "count",
    [GW_SIO_TOO_MANY_ATTACHMENTS] = "the binary packet announces too many attachments",
    [GW_SIO_BAD_NAMESPACE] = "the namespace contains a control character",
    [GW_SIO_BAD_ID] = "the ack id is not a decimal number that fits in 63 bits",
    [GW_SIO_BAD_JSON] = "the payload is not valid JSON",
    [GW_SIO_TOO_DEEP] = "the payload nests arrays and objects too deeply",
    [GW_SIO_TRAILING_GARBAGE] = "there are bytes after the JSON payload",
    [GW_SIO_BAD_PAYLOAD] = "the payload does not have the shape this packet type requires",
    [GW_SIO_RESERVED_EVENT] = "the event name is reserved",
    [GW_SIO_MISSING_ID] = "the ack packet has no id",
    [GW_SIO_BAD_PLACEHOLDER] = "a binary placeholder does not name one of the packet's "
                               "attachments",
    [GW_SIO_UNEXPECTED_TEXT] = "a text packet arrived while binary attachments were expected",
    [GW_SIO_UNEXPECTED_BINARY] = "a binary message arrived when no attachment was expected",
};

const char *gw_sio_strerror(enum gw_sio_status status)
{
    if ((unsigned)status >= GW_ARRAY_SIZE(sio_status_text) || !sio_status_text[status])
        return "unknown Socket.IO codec status";
    return sio_status_text[status];
}

void gw_sio_limits_default(struct gw_sio_limits *lim)
{
    lim->max_attachments = GW_SIO_DEFAULT_MAX_ATTACHMENTS;
    lim->max_depth = GW_SIO_DEFAULT_MAX_DEPTH;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_binary_type(enum gw_sio_type t)
{
    return t == GW_SIO_BINARY_EVENT || t == GW_SIO_BINARY_ACK;
}

/* ------------------------------------------------------------------------------------------ */
/* Header */

/* Reads "<digits>-" at s[*i]. The count saturates just past `max`, so long digit runs neither
 * overflow nor pass. */
static enum gw_sio_status parse_attachments(const char *s, size_t len, size_t *i, int max, int *out)
{
    size_t start = *i;
    long n = 0;
    while (*i < len && is_digit(s[*i])) {
        if (n <= max)
            n = n * 10 + (s[*i] - '0');
        (*i)++;
    }
    if (*i == start || *i == len || s[*i] != '-')
        return GW_SIO_BAD_ATTACHMENTS;
    if (n > max)
        return GW_SIO_TOO_MANY_ATTACHMENTS;
    (*i)++;
    *out = (int)n;
    return GW_SIO_OK;
}

/* A namespace runs from '/' to the next ',' or to the end: the reference reads "40/random" as
 * namespace "/random". Control characters are refused because the namespace is echoed back
 * (CONNECT_ERROR) and must not smuggle framing bytes such as the polling separator 0x1e. */
static enum gw_sio_status parse_namespace(const char *s, size_t len, size_t *i,
                                          struct gw_sio_packet *p)
{
    p->nsp = sio_root_nsp;
    p->nsp_len = 1;
    if (*i == len || s[*i] != '/')
        return GW_SIO_OK;
    size_t start = *i;
    while (*i < len && s[*i] != ',') {
        unsigned char c = (unsigned char)s[*i];
        if (c < 0x20 || c == 0x7f)
            return GW_SIO_BAD_NAMESPACE;
        (*i)++;
    }
    p->nsp = s + start;
    p->nsp_len = *i - start;
    if (*i < len)
        (*i)++; /* the ',' */
    return GW_SIO_OK;
}

static enum gw_sio_status parse_id(const char *s, size_t len, size_t *i, int64_t *out)
{
    *out = GW_SIO_NO_ID;
    if (*i == len || !is_digit(s[*i]))
        return GW_SIO_OK;
    int64_t id = 0;
    while (*i < len && is_digit(s[*i])) {
        int d = s[*i] - '0';
        if (id > (INT64_MAX - d) / 10)
            return GW_SIO_BAD_ID;
        id = id * 10 + d;
        (*i)++;
    }
    *out = id;
    return GW_SIO_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Payload */

/* True when arrays and objects in s[0..len) nest deeper than `max`. Brackets inside strings do
 * not count; the scan follows the same string rules as any JSON lexer. */
static bool json_depth_exceeds(const char *s, size_t len, int max)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return true;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return false;
}

static enum gw_sio_status parse_json(const char *s, size_t len, const struct gw_sio_limits *lim,
                                     struct gw_sio_packet *p)
{
    /* Every valid payload is an object, array or string. A letter here means the id had
     * non-digits in it ("2abc[...]"); anything else is simply not JSON we accept. */
    if (s[0] != '{' && s[0] != '[' && s[0] != '"')
        return is_alnum(s[0]) ? GW_SIO_BAD_ID : GW_SIO_BAD_JSON;
    if (json_depth_exceeds(s, len, lim->max_depth))
        return GW_SIO_TOO_DEEP;

    json_error_t jerr;
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
    if (!v)
        return GW_SIO_BAD_JSON;
    /* With the EOF check off, jansson reports where the value ended. */
    size_t end = (size_t)jerr.position;
    for (size_t i = end; i < len; i++) {
        if (!is_json_space(s[i])) {
            json_decref(v);
            return GW_SIO_TRAILING_GARBAGE;
        }
    }
    p->data = v;
    p->json = s;
    p->json_len = end;
    return GW_SIO_OK;
}

static bool is_reserved_event(const json_t *name)
{
    const char *s = json_string_value(name);
    size_t n = json_string_length(name);
    for (size_t i = 0; i < GW_ARRAY_SIZE(sio_reserved_events); i++) {
        if (strlen(sio_reserved_events[i]) == n && memcmp(sio_reserved_events[i], s, n) == 0)
            return true;
    }
    return false;
}

static enum gw_sio_status check_event(const json_t *data)
{
    if (!json_is_array(data) || json_array_size(data) == 0)
        return GW_SIO_BAD_PAYLOAD;
    const json_t *name = json_array_get(data, 0);
    if (json_is_number(name))
        return GW_SIO_OK;
    if (!json_is_string(name))
        return GW_SIO_BAD_PAYLOAD;
    return is_reserved_event(name) ? GW_SIO_RESERVED_EVENT : GW_SIO_OK;
}

/* The payload shape each type requires, as the reference parser checks it, plus: EVENT needs a
 * payload, ACK needs an id and an array (spec: "the payload is mandatory"), CONNECT_ERROR needs a
 * payload. */
static enum gw_sio_status check_payload(const struct gw_sio_packet *p)
{
    switch (p->type) {
    case GW_SIO_CONNECT:
        return !p->data || json_is_object(p->data) ? GW_SIO_OK : GW_SIO_BAD_PAYLOAD;
    case GW_SIO_DISCONNECT:
        return p->data ? GW_SIO_BAD_PAYLOAD : GW_SIO_OK;
    case GW_SIO_EVENT:
    case GW_SIO_BINARY_EVENT:
        return check_event(p->data);
    case GW_SIO_ACK:
    case GW_SIO_BINARY_ACK:
        if (p->id == GW_SIO_NO_ID)
            return GW_SIO_MISSING_ID;
        return json_is_array(p->data) ? GW_SIO_OK : GW_SIO_BAD_PAYLOAD;
    case GW_SIO_CONNECT_ERROR:
        return json_is_object(p->data) || json_is_string(p->data) ? GW_SIO_OK : GW_SIO_BAD_PAYLOAD;
    }
    return GW_SIO_BAD_TYPE;
}

/* Every {"_placeholder":true,...} object must carry an integer "num" naming an attachment. The
 * recursion is bounded by the depth limit checked before parsing. */
static bool placeholders_valid(const json_t *v, int attachments)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (!placeholders_valid(json_array_get(v, i), attachments))
                return false;
        }
        return true;
    }
    if (!json_is_object(v))
        return true;
    if (json_is_true(json_object_get(v, "_placeholder"))) {
        const json_t *num = json_object_get(v, "num");
        if (!json_is_integer(num))
            return false;
        json_int_t k = json_integer_value(num);
        return k >= 0 && k < attachments;
    }
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)v, key, member)
    {
        if (!placeholders_valid(member, attachments))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Decode */

static enum gw_sio_status decode_header(const char *s, size_t len, const struct gw_sio_limits *lim,
                                        size_t *i, struct gw_sio_packet *p)
{
    if (len == 0)
        return GW_SIO_EMPTY;
    if (s[0] < '0' || s[0] > '6')
        return GW_SIO_BAD_TYPE;
    p->type = (enum gw_sio_type)(s[0] - '0');
    *i = 1;
    enum gw_sio_status st = GW_SIO_OK;
    if (is_binary_type(p->type))
        st = parse_attachments(s, len, i, lim->max_attachments, &p->attachments);
    if (st == GW_SIO_OK)
        st = parse_namespace(s, len, i, p);
    if (st == GW_SIO_OK)
        st = parse_id(s, len, i, &p->id);
    return st;
}

enum gw_sio_status gw_sio_decode(const char *s, size_t len, const struct gw_sio_limits *lim,
                                 struct gw_sio_packet *out)
{
    struct gw_sio_limits defaults;
    if (!lim) {
        gw_sio_limits_default(&defaults);
        lim = &defaults;
    }
    struct gw_sio_packet p = {.nsp = sio_root_nsp, .nsp_len = 1, .id = GW_SIO_NO_ID};
    memset(out, 0, sizeof(*out));
    out->id = GW_SIO_NO_ID;

    size_t i = 0;
    enum gw_sio_status st = decode_header(s, len, lim, &i, &p);
    if (st == GW_SIO_OK && i < len)
        st = parse_json(s + i, len - i, lim, &p);
    if (st == GW_SIO_OK)
        st = check_payload(&p);
    if (st == GW_SIO_OK && is_binary_type(p.type) && !placeholders_valid(p.data, p.attachments))
        st = GW_SIO_BAD_PLACEHOLDER;
    if (st != GW_SIO_OK) {
        json_decref(p.data);
        return st;
    }
    *out = p;
    return GW_SIO_OK;
}

void gw_sio_packet_clear(struct gw_sio_packet *p)
{
    if (!p)
        return;
    json_decref(p->data);
    memset(p, 0, sizeof(*p));
    p->id = GW_SIO_NO_ID;
}

bool gw_sio_packet_nsp_is(const struct gw_sio_packet *p, const char *nsp)
{
    size_t n = strlen(nsp);
    return p->nsp && p->nsp_len == n && memcmp(p->nsp, nsp, n) == 0;
}

bool gw_sio_packet_awaits_attachments(const struct gw_sio_packet *p)
{
    return is_binary_type(p->type) && p->attachments > 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Binary reassembly */

void gw_sio_reasm_init(struct gw_sio_reasm *r)
{
    memset(r, 0, sizeof(*r));
    r->pending.packet.id = GW_SIO_NO_ID;
}

void gw_sio_reasm_reset(struct gw_sio_reasm *r)
{
    gw_sio_assembled_clear(&r->pending);
    r->received = 0;
}

bool gw_sio_reasm_active(const struct gw_sio_reasm *r)
{
    return r->pending.text != NULL;
}

/* Moves a decoded header into the reassembler, re-pointing its borrowed fields into a private
 * copy of the text, since the caller's buffer is gone by the time the attachments arrive. */
static void reasm_hold(struct gw_sio_reasm *r, const char *s, size_t len, struct gw_sio_packet *p)
{
    char *text = gw_malloc(len + 1);
    memcpy(text, s, len);
    text[len] = '\0';
    if (p->nsp != sio_root_nsp)
        p->nsp = text + (p->nsp - s);
    if (p->json)
        p->json = text + (p->json - s);
    r->pending.packet = *p;
    r->pending.text = text;
    r->pending.att = gw_calloc((size_t)p->attachments, sizeof(*r->pending.att));
    r->received = 0;
    memset(p, 0, sizeof(*p));
    p->id = GW_SIO_NO_ID;
}

enum gw_sio_status gw_sio_reasm_text(struct gw_sio_reasm *r, const char *s, size_t len,
                                     const struct gw_sio_limits *lim, struct gw_sio_packet *out,
                                     bool *complete)
{
    *complete = false;
    if (gw_sio_reasm_active(r)) {
        memset(out, 0, sizeof(*out));
        out->id = GW_SIO_NO_ID;
        return GW_SIO_UNEXPECTED_TEXT;
    }
    enum gw_sio_status st = gw_sio_decode(s, len, lim, out);
    if (st != GW_SIO_OK)
        return st;
    if (gw_sio_packet_awaits_attachments(out))
        reasm_hold(r, s, len, out);
    else
        *complete = true;
    return GW_SIO_OK;
}

enum gw_sio_status gw_sio_reasm_binary(struct gw_sio_reasm *r, const void *p, size_t len,
                                       struct gw_sio_assembled *out, bool *complete)
{
    *complete = false;
    if (!gw_sio_reasm_active(r))
        return GW_SIO_UNEXPECTED_BINARY;
    struct gw_sio_attachment *a = &r->pending.att[r->received++];
    a->data = gw_malloc(len ? len : 1);
    if (len)
        memcpy(a->data, p, len);
    a->len = len;
    if (r->received < r->pending.packet.attachments)
        return GW_SIO_OK;
    *out = r->pending;
    gw_sio_reasm_init(r);
    *complete = true;
    return GW_SIO_OK;
}

void gw_sio_assembled_clear(struct gw_sio_assembled *a)
{
    if (!a)
        return;
    if (a->att) {
        for (int i = 0; i < a->packet.attachments; i++)
            free(a->att[i].data);
        free(a->att);
    }
    json_decref(a->packet.data);
    free(a->text);
    memset(a, 0, sizeof(*a));
    a->packet.id = GW_SIO_NO_ID;
}

/* ------------------------------------------------------------------------------------------ */
/* Encode */

static int buf_dump_cb(const char *p, size_t n, void *ud)
{
    gw_buf_append(ud, p, n);
    return 0;
}

/* Undoes a partly written packet so a failed encode leaves the buffer as it was. */
static void buf_truncate(struct gw_buf *b, size_t len)
{
    b->len = len;
    if (b->data)
        b->data[len] = '\0';
}

static int append_json(struct gw_buf *b, const json_t *v)
{
    return json_dump_callback(v, buf_dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void append_header(struct gw_buf *b, const struct gw_sio_packet *p)
{
    GW_ASSERT(p->type >= GW_SIO_CONNECT && p->type <= GW_SIO_BINARY_ACK);
    gw_buf_append_char(b, (char)('0' + p->type));
    if (is_binary_type(p->type)) {
        GW_ASSERT(p->attachments >= 0);
        gw_buf_printf(b, "%d-", p->attachments);
    }
    if (p->nsp && !(p->nsp_len == 1 && p->nsp[0] == '/')) {
        GW_ASSERT(p->nsp_len > 0 && p->nsp[0] == '/' && !memchr(p->nsp, ',', p->nsp_len));
        gw_buf_append(b, p->nsp, p->nsp_len);
        gw_buf_append_char(b, ',');
    }
    if (p->id != GW_SIO_NO_ID) {
        GW_ASSERT(p->id >= 0);
        gw_buf_printf(b, "%" PRId64, p->id);
    }
}

int gw_sio_encode(struct gw_buf *b, const struct gw_sio_packet *p, char *err)
{
    size_t mark = b->len;
    append_header(b, p);
    if (p->data) {
        if (append_json(b, p->data) != 0) {
            buf_truncate(b, mark);
            return gw_set_error(err, "The Socket.IO payload could not be encoded as JSON.");
        }
    } else if (p->json) {
        gw_buf_append(b, p->json, p->json_len);
    }
    return 0;
}

static struct gw_sio_packet packet_for(enum gw_sio_type type, const char *nsp, int64_t id)
{
    struct gw_sio_packet p = {.type = type, .id = id};
    if (nsp) {
        p.nsp = nsp;
        p.nsp_len = strlen(nsp);
    }
    return p;
}

int gw_sio_encode_json(struct gw_buf *b, enum gw_sio_type type, const char *nsp, int64_t id,
                       const json_t *data, char *err)
{
    struct gw_sio_packet p = packet_for(type, nsp, id);
    p.data = (json_t *)data; /* only read by the encoder */
    return gw_sio_encode(b, &p, err);
}

void gw_sio_encode_text(struct gw_buf *b, enum gw_sio_type type, const char *nsp, int64_t id,
                        const char *json, size_t json_len)
{
    struct gw_sio_packet p = packet_for(type, nsp, id);
    p.json = json;
    p.json_len = json_len;
    int rc = gw_sio_encode(b, &p, NULL); /* cannot fail: there is no json_t to encode */
    GW_ASSERT(rc == 0);
}

/* Appends a JSON string literal for the UTF-8 text s; -1 if s is not valid UTF-8. */
static int append_json_string(struct gw_buf *b, const char *s)
{
    json_t *v = json_string(s);
    if (!v)
        return -1;
    int rc = append_json(b, v);
    json_decref(v);
    return rc;
}

void gw_sio_encode_connect(struct gw_buf *b, const char *nsp, const char *sid, const char *pid)
{
    struct gw_sio_packet p = packet_for(GW_SIO_CONNECT, nsp, GW_SIO_NO_ID);
    append_header(b, &p);
    gw_buf_append_str(b, "{\"sid\":");
    int rc = append_json_string(b, sid);
    GW_ASSERT(rc == 0); /* session ids are ours, hence ASCII */
    if (pid) {
        gw_buf_append_str(b, ",\"pid\":");
        if (append_json_string(b, pid) < 0)
            gw_buf_append_str(b, "\"\"");
    }
    gw_buf_append_char(b, '}');
}

int gw_sio_encode_connect_error(struct gw_buf *b, const char *nsp, const char *message,
                                const json_t *data, char *err)
{
    size_t mark = b->len;
    struct gw_sio_packet p = packet_for(GW_SIO_CONNECT_ERROR, nsp, GW_SIO_NO_ID);
    append_header(b, &p);
    gw_buf_append_str(b, "{\"message\":");
    if (append_json_string(b, message) != 0)
        goto fail;
    if (data) {
        gw_buf_append_str(b, ",\"data\":");
        if (append_json(b, data) != 0)
            goto fail;
    }
    gw_buf_append_char(b, '}');
    return 0;

fail:
    buf_truncate(b, mark);
    return gw_set_error(err, "The CONNECT_ERROR message or data could not be encoded as JSON.");
}

void gw_sio_generate_sid(char out[GW_SIO_SID_LEN + 1])
{
    gw_random_id(out, GW_SIO_SID_LEN);
}
