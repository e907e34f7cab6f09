/* eio_codec.c -- Engine.IO v4 packets, polling payloads, base64, handshake and errors. */
#include "gw/eio_codec.h"

#include <string.h>

#include "gw/base64.h"
#include "gw/common.h"

int gw_eio_decode_text(const char *buf, size_t len, struct gw_eio_packet *out)
{
    if (len == 0 || buf[0] < '0' || buf[0] > '6')
        return -1;
    out->type = (enum gw_eio_type)(buf[0] - '0');
    out->binary = false;
    out->data = buf + 1;
    out->len = len - 1;
    return 0;
}

void gw_eio_payload_iter_init(struct gw_eio_payload_iter *it, char *buf, size_t len)
{
    it->p = buf;
    it->end = buf + len;
    it->done = false;
}

int gw_eio_payload_next(struct gw_eio_payload_iter *it, struct gw_eio_packet *out)
{
    if (it->done)
        return 0;
    char *seg = it->p;
    char *sep = memchr(seg, GW_EIO_SEPARATOR, (size_t)(it->end - seg));
    char *seg_end = sep ? sep : it->end;
    size_t len = (size_t)(seg_end - seg);
    if (sep)
        it->p = sep + 1;
    else
        it->done = true;

    if (len > 0 && seg[0] == 'b') {
        long n = gw_base64_decode(seg + 1, len - 1, seg);
        if (n < 0)
            return -1;
        out->type = GW_EIO_MESSAGE;
        out->binary = true;
        out->data = seg;
        out->len = (size_t)n;
        return 1;
    }
    return gw_eio_decode_text(seg, len, out) < 0 ? -1 : 1;
}

void gw_eio_payload_append(struct gw_buf *b, const char *frame, size_t len, bool binary)
{
    if (b->len)
        gw_buf_append_char(b, GW_EIO_SEPARATOR);
    if (binary) {
        gw_buf_append_char(b, 'b');
        gw_base64_encode(b, frame, len);
    } else {
        gw_buf_append(b, frame, len);
    }
}

size_t gw_eio_ws_header(unsigned char out[GW_EIO_WS_HEADER_MAX], size_t len, bool binary)
{
    out[0] = 0x80 | (binary ? 0x2 : 0x1); /* FIN, opcode */
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    uint64_t v = len;
    for (int i = 9; i >= 2; i--, v >>= 8)
        out[i] = (unsigned char)v;
    return 10;
}

void gw_eio_encode_open(struct gw_buf *b, const char *sid, bool can_upgrade, int ping_interval_ms,
                        int ping_timeout_ms, size_t max_payload)
{
    gw_buf_printf(b,
                  "0{\"sid\":\"%s\",\"upgrades\":%s,\"pingInterval\":%d,\"pingTimeout\":%d,"
                  "\"maxPayload\":%zu}",
                  sid, can_upgrade ? "[\"websocket\"]" : "[]", ping_interval_ms, ping_timeout_ms,
                  max_payload);
}

bool gw_utf8_valid(const char *p, size_t len)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= len) /* truncated sequence */
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

static const char *const error_messages[] = {
    [GW_EIO_ERR_TRANSPORT_UNKNOWN] = "Transport unknown",
    [GW_EIO_ERR_SESSION_UNKNOWN] = "Session ID unknown",
    [GW_EIO_ERR_BAD_HANDSHAKE_METHOD] = "Bad handshake method",
    [GW_EIO_ERR_BAD_REQUEST] = "Bad request",
    [GW_EIO_ERR_FORBIDDEN] = "Forbidden",
    [GW_EIO_ERR_UNSUPPORTED_VERSION] = "Unsupported protocol version",
};

const char *gw_eio_error_message(enum gw_eio_error e)
{
    GW_ASSERT((size_t)e < GW_ARRAY_SIZE(error_messages));
    return error_messages[e];
}

void gw_eio_encode_error(struct gw_buf *b, enum gw_eio_error e)
{
    gw_buf_printf(b, "{\"code\":%d,\"message\":\"%s\"}", (int)e, gw_eio_error_message(e));
}

void gw_eio_query_init(struct gw_eio_query *q)
{
    memset(q, 0, sizeof(*q));
    q->transport = GW_EIO_TRANSPORT_NONE;
}

static bool arg_is(const char *arg, size_t len, const char *name, const char **value, size_t *vlen)
{
    size_t n = strlen(name);
    if (len < n + 1 || memcmp(arg, name, n) != 0 || arg[n] != '=')
        return false;
    *value = arg + n + 1;
    *vlen = len - n - 1;
    return true;
}

static bool is_sid_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

void gw_eio_query_add(struct gw_eio_query *q, const char *arg, size_t len)
{
    const char *v;
    size_t vlen;
    if (arg_is(arg, len, "EIO", &v, &vlen)) {
        q->eio_seen = true;
        q->eio_ok = vlen == 1 && v[0] == '4';
    } else if (arg_is(arg, len, "transport", &v, &vlen)) {
        if (vlen == 7 && memcmp(v, "polling", 7) == 0)
            q->transport = GW_EIO_TRANSPORT_POLLING;
        else if (vlen == 9 && memcmp(v, "websocket", 9) == 0)
            q->transport = GW_EIO_TRANSPORT_WEBSOCKET;
        else
            q->transport = GW_EIO_TRANSPORT_UNKNOWN;
    } else if (arg_is(arg, len, "sid", &v, &vlen)) {
        q->has_sid = true;
        q->sid_valid = vlen == GW_EIO_SID_LEN;
        for (size_t i = 0; q->sid_valid && i < vlen; i++)
            q->sid_valid = is_sid_char(v[i]);
        if (q->sid_valid) {
            memcpy(q->sid, v, vlen);
            q->sid[vlen] = '\0';
        }
    }
}

int gw_eio_query_check(const struct gw_eio_query *q, enum gw_eio_error *err)
{
    if (q->transport == GW_EIO_TRANSPORT_NONE || q->transport == GW_EIO_TRANSPORT_UNKNOWN)
        *err = GW_EIO_ERR_TRANSPORT_UNKNOWN;
    else if (q->has_sid && !q->sid_valid)
        *err = GW_EIO_ERR_SESSION_UNKNOWN;
    else if (!q->eio_ok)
        *err = GW_EIO_ERR_UNSUPPORTED_VERSION;
    else
        return 0;
    return -1;
}

void gw_eio_new_sid(char out[GW_EIO_SID_LEN + 1])
{
    gw_random_id(out, GW_EIO_SID_LEN);
}
