/* lg_codec.c -- RFC 6455 client framing, the upgrade answer and a minimal JSON reader. */
#include "lg_codec.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "gw/common.h"

/* ---- WebSocket frames ---------------------------------------------------------------------- */

void lg_ws_encode(struct gw_buf *out, int opcode, const void *payload, size_t len,
                  const uint8_t mask[4])
{
    uint8_t *h = (uint8_t *)gw_buf_reserve(out, 14 + len);
    size_t i = 0;
    h[i++] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        h[i++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        h[i++] = 0x80 | 126;
        h[i++] = (uint8_t)(len >> 8);
        h[i++] = (uint8_t)len;
    } else {
        h[i++] = 0x80 | 127;
        for (int s = 56; s >= 0; s -= 8)
            h[i++] = (uint8_t)((uint64_t)len >> s);
    }
    memcpy(h + i, mask, 4);
    i += 4;
    const uint8_t *src = payload;
    for (size_t k = 0; k < len; k++)
        h[i + k] = src[k] ^ mask[k & 3];
    out->len += i + len;
    out->data[out->len] = '\0';
}

long lg_ws_decode(const uint8_t *p, size_t n, uint64_t max_len, struct lg_ws_frame *f, char *err)
{
    if (n < 2)
        return 0;
    if (p[0] & 0x70)
        return gw_set_error(err, "the server set reserved bits in a frame (0x%02x)", p[0]);
    if (p[1] & 0x80)
        return gw_set_error(err, "the server sent a masked frame");
    f->fin = (p[0] & 0x80) != 0;
    f->opcode = p[0] & 0x0f;
    int control = (f->opcode & 0x08) != 0;
    if ((f->opcode > LG_WS_BINARY && !control) || f->opcode > LG_WS_PONG)
        return gw_set_error(err, "the server sent a frame with reserved opcode 0x%x", f->opcode);
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = ((uint64_t)p[2] << 8) | p[3];
        hdr = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 2; i < 10; i++)
            len = (len << 8) | p[i];
        hdr = 10;
    }
    if (control && (!f->fin || len > 125))
        return gw_set_error(err, "the server sent a fragmented or oversized control frame");
    if (len > max_len)
        return gw_set_error(err, "the server sent a %llu-byte frame, above the %llu-byte limit",
                            (unsigned long long)len, (unsigned long long)max_len);
    if (n - hdr < len)
        return 0;
    f->payload = p + hdr;
    f->len = len;
    return (long)(hdr + len);
}

void lg_ws_accept(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    GW_ASSERT(md);
    EVP_DigestInit_ex(md, EVP_sha1(), NULL);
    EVP_DigestUpdate(md, key, strlen(key));
    EVP_DigestUpdate(md, guid, sizeof(guid) - 1);
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

static const char *find_crlf(const char *p, const char *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n')
            return p;
    return NULL;
}

static void header_value(const char *line, const char *end, char accept[29])
{
    static const char name[] = "sec-websocket-accept:";
    size_t nl = sizeof(name) - 1;
    if ((size_t)(end - line) < nl || strncasecmp(line, name, nl) != 0)
        return;
    const char *v = line + nl;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    const char *e = end;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e - v == 28) {
        memcpy(accept, v, 28);
        accept[28] = '\0';
    }
}

long lg_http_response(const char *p, size_t n, int *status, char accept[29])
{
    const char *end = p + n;
    const char *eol = find_crlf(p, end);
    if (!eol)
        return n > 8192 ? -1 : 0;
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
        !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
        !isdigit((unsigned char)p[11]))
        return -1;
    *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    accept[0] = '\0';
    const char *line = eol + 2;
    for (;;) {
        eol = find_crlf(line, end);
        if (!eol)
            return n > 8192 ? -1 : 0;
        if (eol == line)
            return (long)(eol + 2 - p);
        header_value(line, eol, accept);
        line = eol + 2;
    }
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* Returns the index after the closing quote of the string starting at p[i] == '"', or 0. */
static size_t skip_string(const char *p, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (++i >= n)
                return 0;
            if (p[i] == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (i + k >= n || !isxdigit((unsigned char)p[i + k]))
                        return 0;
                i += 4;
            } else if (!strchr("\"\\/bfnrt", p[i])) {
                return 0;
            }
        }
    }
    return 0;
}

static size_t skip_number(const char *p, size_t n, size_t i)
{
    size_t start = i;
    if (i < n && p[i] == '-')
        i++;
    if (i < n && p[i] == '0') {
        i++;
    } else {
        if (i >= n || !isdigit((unsigned char)p[i]))
            return 0;
        while (i < n && isdigit((unsigned char)p[i]))
            i++;
    }
    if (i < n && p[i] == '.') {
        if (++i >= n || !isdigit((unsigned char)p[i]))
            return 0;
        while (i < n && isdigit((unsigned char)p[i]))
            i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= n || !isdigit((unsigned char)p[i]))
            return 0;
        while (i < n && isdigit((unsigned char)p[i]))
            i++;
    }
    return i > start ? i : 0;
}

static size_t skip_value(const char *p, size_t n, size_t i, int depth);

/* Skips an object or array starting at p[i]; returns the index after it, or 0. */
static size_t skip_container(const char *p, size_t n, size_t i, int depth)
{
    char close = p[i] == '{' ? '}' : ']';
    int object = close == '}';
    i = skip_ws(p, n, i + 1);
    if (i < n && p[i] == close)
        return i + 1;
    for (;;) {
        if (object) {
            if (i >= n || p[i] != '"' || !(i = skip_string(p, n, i)))
                return 0;
            i = skip_ws(p, n, i);
            if (i >= n || p[i] != ':')
                return 0;
            i++;
        }
        if (!(i = skip_value(p, n, i, depth + 1)))
            return 0;
        i = skip_ws(p, n, i);
        if (i >= n)
            return 0;
        if (p[i] == close)
            return i + 1;
        if (p[i] != ',')
            return 0;
        i = skip_ws(p, n, i + 1);
    }
}

static size_t skip_value(const char *p, size_t n, size_t i, int depth)
{
    if (depth > 64)
        return 0;
    i = skip_ws(p, n, i);
    if (i >= n)
        return 0;
    switch (p[i]) {
    case '"':
        return skip_string(p, n, i);
    case '{':
    case '[':
        return skip_container(p, n, i, depth);
    case 't':
        return n - i >= 4 && memcmp(p + i, "true", 4) == 0 ? i + 4 : 0;
    case 'f':
        return n - i >= 5 && memcmp(p + i, "false", 5) == 0 ? i + 5 : 0;
    case 'n':
        return n - i >= 4 && memcmp(p + i, "null", 4) == 0 ? i + 4 : 0;
    default:
        return skip_number(p, n, i);
    }
}

/* Records the value p[vs..ve) under the first of keys equal to the key p[ks..ke) (quotes
 * excluded) that has no value yet. Keys with escapes never equal our plain ASCII names, so a raw
 * compare is exact. */
static int note_member(const char *p, size_t ks, size_t ke, size_t vs, size_t ve,
                       const char *const *keys, int nkeys, struct lg_json_span *vals)
{
    for (int k = 0; k < nkeys; k++) {
        if (!vals[k].p && strlen(keys[k]) == ke - ks && memcmp(p + ks, keys[k], ke - ks) == 0) {
            vals[k] = (struct lg_json_span){p + vs, ve - vs};
            return 1;
        }
    }
    return 0;
}

int lg_json_members(const char *p, size_t n, const char *const *keys, int nkeys,
                    struct lg_json_span *vals)
{
    int found = 0;
    for (int k = 0; k < nkeys; k++)
        vals[k] = (struct lg_json_span){NULL, 0};
    size_t i = skip_ws(p, n, 0);
    if (i >= n || p[i] != '{')
        return -1;
    i = skip_ws(p, n, i + 1);
    if (i < n && p[i] == '}')
        return skip_ws(p, n, i + 1) == n ? 0 : -1;
    for (;;) {
        size_t ks = i;
        if (i >= n || p[i] != '"' || !(i = skip_string(p, n, i)))
            return -1;
        size_t ke = i - 1;
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != ':')
            return -1;
        size_t vs = skip_ws(p, n, i + 1);
        if (!(i = skip_value(p, n, vs, 1)))
            return -1;
        found += note_member(p, ks + 1, ke, vs, i, keys, nkeys, vals);
        i = skip_ws(p, n, i);
        if (i < n && p[i] == '}')
            return skip_ws(p, n, i + 1) == n ? found : -1;
        if (i >= n || p[i] != ',')
            return -1;
        i = skip_ws(p, n, i + 1);
    }
}

int lg_json_member(const char *p, size_t n, const char *key, const char **val, size_t *vlen)
{
    struct lg_json_span v;
    int found = lg_json_members(p, n, &key, 1, &v);
    if (found == 1) {
        *val = v.p;
        *vlen = v.n;
    }
    return found;
}

int lg_json_int(const char *p, size_t n, int64_t *out)
{
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp) || skip_number(p, n, 0) != n)
        return -1;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    double d = strtod(tmp, NULL);
    if (!(fabs(d) <= 9007199254740992.0) || d != floor(d))
        return -1;
    *out = (int64_t)d;
    return 0;
}

int lg_json_plain_string(const char *p, size_t n, char *out, size_t cap)
{
    if (n < 2 || p[0] != '"' || p[n - 1] != '"' || n - 2 >= cap)
        return -1;
    if (memchr(p + 1, '\\', n - 2))
        return -1;
    memcpy(out, p + 1, n - 2);
    out[n - 2] = '\0';
    return 0;
}

/* ---- notifications ------------------------------------------------------------------------- */

enum lg_notice_result lg_notice_parse(const char *p, size_t n, const char *event,
                                      struct lg_notice *out)
{
    static const char *const keys[] = {"_id", "userId", "seq", "sentAt"};
    struct lg_json_span v[4];
    size_t i = skip_ws(p, n, 0);
    if (i >= n || p[i] != '[')
        return LG_NOTICE_MALFORMED;
    size_t ns = skip_ws(p, n, i + 1);
    size_t ne = skip_value(p, n, ns, 1);
    char name[128];
    if (!ne || lg_json_plain_string(p + ns, ne - ns, name, sizeof(name)) != 0)
        return LG_NOTICE_MALFORMED;
    if (strcmp(name, event) != 0)
        return LG_NOTICE_OTHER_EVENT;
    i = skip_ws(p, n, ne);
    if (i >= n || p[i] != ',')
        return LG_NOTICE_MALFORMED;
    size_t ds = skip_ws(p, n, i + 1);
    size_t de = ds < n && p[ds] == '{' ? skip_value(p, n, ds, 1) : 0;
    if (!de)
        return LG_NOTICE_MALFORMED;
    if (lg_json_members(p + ds, de - ds, keys, 4, v) != 4 ||
        lg_json_plain_string(v[0].p, v[0].n, out->id, sizeof(out->id)) != 0 ||
        lg_json_plain_string(v[1].p, v[1].n, out->user, sizeof(out->user)) != 0 ||
        lg_json_int(v[2].p, v[2].n, &out->seq) != 0 ||
        lg_json_int(v[3].p, v[3].n, &out->sent_at_us) != 0)
        return LG_NOTICE_MALFORMED;
    /* Connection-state recovery: the gateway appends the document's _id as an offset argument;
     * anything else there is a server bug. */
    i = skip_ws(p, n, de);
    if (i < n && p[i] == ',') {
        size_t os = skip_ws(p, n, i + 1), oe = skip_value(p, n, os, 1);
        char offset[64];
        if (!oe || lg_json_plain_string(p + os, oe - os, offset, sizeof(offset)) != 0 ||
            strcmp(offset, out->id) != 0)
            return LG_NOTICE_MALFORMED;
        i = skip_ws(p, n, oe);
    }
    if (i >= n || p[i] != ']' || skip_ws(p, n, i + 1) != n)
        return LG_NOTICE_MALFORMED;
    return LG_NOTICE_OK;
}
