/* notice.c -- change event -> notification: BSON to JSON and the checks around it.
 *
 * The converter walks the document once with bson_iter and appends to a gw_buf. Every text it
 * writes goes through json_string(), which repairs invalid UTF-8, so the output is valid JSON
 * and valid UTF-8 whatever the document holds. A cap on the output length is checked after each
 * value, so a document far above the cap costs at most about one value beyond it.
 *
 * Nothing here keeps state between calls: the functions are reentrant.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/eio_codec.h"
#include "gw/notice.h"
#include "gw/base64.h"

struct conv {
    struct gw_buf *b;
    size_t start;   /* out->len when the call began, restored on failure */
    size_t max;     /* 0 = no cap on what this call appends */
    bool too_large; /* failed because of max */
    char *err;
};

static int conv_doc(struct conv *c, bson_iter_t *it, bool array, int depth);

/* ---- strings --------------------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 when there is none; then *bad is
 * the length of its maximal ill-formed subpart (at least 1), which becomes one U+FFFD. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        if (s[0] == 0xe0)
            lo = 0xa0; /* overlong */
        else if (s[0] == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        if (s[0] == 0xf0)
            lo = 0x90; /* overlong */
        else if (s[0] == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;
        if (i >= n || s[i] < min || s[i] > max) {
            *bad = i;
            return 0;
        }
    }
    return len;
}

static bool json_plain(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\';
}

static const char hex_digits[] = "0123456789abcdef";

/* Appends s[0..n) as the inside of a JSON string literal, escaping as JSON.stringify does and
 * replacing invalid UTF-8. */
static void json_chars(struct gw_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && json_plain(s[run]))
            run++;
        gw_buf_append(b, s + i, run - i);
        i = run;
        if (i == n)
            break;
        unsigned char ch = s[i];
        if (ch >= 0x80) {
            size_t bad, len = utf8_seq(s + i, n - i, &bad);
            if (len) {
                gw_buf_append(b, s + i, len);
                i += len;
            } else {
                gw_buf_append(b, "\xef\xbf\xbd", 3);
                i += bad;
            }
            continue;
        }
        i++;
        switch (ch) {
        case '"':
            gw_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            gw_buf_append(b, "\\\\", 2);
            break;
        case '\b':
            gw_buf_append(b, "\\b", 2);
            break;
        case '\f':
            gw_buf_append(b, "\\f", 2);
            break;
        case '\n':
            gw_buf_append(b, "\\n", 2);
            break;
        case '\r':
            gw_buf_append(b, "\\r", 2);
            break;
        case '\t':
            gw_buf_append(b, "\\t", 2);
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex_digits[ch >> 4], hex_digits[ch & 15]};
            gw_buf_append(b, esc, sizeof(esc));
        }
        }
    }
}

static void json_string(struct gw_buf *b, const char *s, size_t n)
{
    gw_buf_append_char(b, '"');
    json_chars(b, s, n);
    gw_buf_append_char(b, '"');
}

static void json_cstring(struct gw_buf *b, const char *s)
{
    json_string(b, s, strlen(s));
}

/* ---- scalars --------------------------------------------------------------------------- */

/* Numbers are written by hand: printf parses its format and sizes its output first, which cost
 * a fifth of a typical notification's conversion. */
static void append_u64(struct gw_buf *b, uint64_t v)
{
    char tmp[20], *p = tmp + sizeof(tmp);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    gw_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void append_i64(struct gw_buf *b, int64_t v)
{
    if (v < 0)
        gw_buf_append_char(b, '-');
    append_u64(b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

/* Writes v as exactly width digits, zero-padded, and returns the end. */
static char *put_fixed(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Finds the fewest significant digits (1..17) that read back to d, the way JavaScript must
 * (ECMA-262 Number::toString). Writes them to digits (NUL-terminated) and returns the decimal
 * exponent n such that |d| = 0.digits * 10^n. printf rounds correctly, so among equally short
 * candidates it picks the closest, as the standard asks.
 *
 * For normal doubles only 15, 16 and 17 digits need trying: any decimal of at most 15
 * significant digits survives a trip through a double (DBL_DIG), and a double lies within half
 * an ulp (2^-53 relative) of such a decimal that reads back to it, which is well inside half a
 * 15-digit step (at least 5e-16 relative), so rounding d to 15 digits lands on that decimal
 * with zeros after it. Subnormals have fewer bits, so they still try every length.
 * Trying every length from 1 up cost a dozen printf/strtod pairs per 16-digit number, a
 * quarter of the gateway's CPU on timestamps stored as doubles. */
static int shortest_digits(double d, char digits[18])
{
    char text[40];
    for (int prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        snprintf(text, sizeof(text), "%.*e", prec - 1, fabs(d));
        if (strtod(text, NULL) == fabs(d) || prec == 17)
            break;
    }
    /* text is "d[.ddd]e[+-]xx"; the decimal point depends on the locale, so skip any
     * non-digit before the exponent */
    char *e = strchr(text, 'e');
    size_t k = 0;
    for (char *p = text; p < e; p++)
        if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = '\0';
    return atoi(e + 1) + 1;
}

static void append_zeros(struct gw_buf *b, int n)
{
    for (; n > 0; n--)
        gw_buf_append_char(b, '0');
}

static void json_double(struct gw_buf *b, double d)
{
    if (!isfinite(d)) {
        gw_buf_append_str(b, "null");
        return;
    }
    if (d == 0) {
        gw_buf_append_str(b, signbit(d) ? "-0" : "0");
        return;
    }
    /* Integers below 2^53 are exact, and their own digits are the shortest that read back
     * (a shorter decimal is another integer, itself a double), so no search is needed. */
    if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
        append_i64(b, (int64_t)d);
        return;
    }
    char digits[18];
    int n = shortest_digits(d, digits);
    int k = (int)strlen(digits);
    if (d < 0)
        gw_buf_append_char(b, '-');
    if (k <= n && n <= 21) {
        gw_buf_append(b, digits, (size_t)k);
        append_zeros(b, n - k);
    } else if (0 < n && n <= 21) {
        gw_buf_append(b, digits, (size_t)n);
        gw_buf_append_char(b, '.');
        gw_buf_append_str(b, digits + n);
    } else if (-6 < n && n <= 0) {
        gw_buf_append_str(b, "0.");
        append_zeros(b, -n);
        gw_buf_append_str(b, digits);
    } else {
        gw_buf_append_char(b, digits[0]);
        if (k > 1) {
            gw_buf_append_char(b, '.');
            gw_buf_append_str(b, digits + 1);
        }
        gw_buf_append_str(b, n - 1 > 0 ? "e+" : "e-");
        append_u64(b, (uint64_t)abs(n - 1));
    }
}

/* Days since 1970-01-01 to a proleptic Gregorian date. Works on 400-year eras (146097 days)
 * counted from 0000-03-01, so that the leap day is the last day of each shifted year. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468; /* days from 0000-03-01 to 1970-01-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

#define MS_PER_DAY INT64_C(86400000)
#define MIN_ISO_MS INT64_C(-62167219200000) /* 0000-01-01T00:00:00.000Z */
#define MAX_ISO_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */

static void json_date(struct gw_buf *b, int64_t ms)
{
    if (ms < MIN_ISO_MS || ms > MAX_ISO_MS) {
        append_i64(b, ms);
        return;
    }
    int64_t days = ms >= 0 ? ms / MS_PER_DAY : (ms - MS_PER_DAY + 1) / MS_PER_DAY;
    int64_t in_day = ms - days * MS_PER_DAY, y;
    int mon, mday;
    civil_from_days(days, &y, &mon, &mday);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" with its quotes: 26 bytes */
    char *start = gw_buf_reserve(b, 26), *p = start;
    *p++ = '"';
    p = put_fixed(p, (unsigned)y, 4);
    *p++ = '-';
    p = put_fixed(p, (unsigned)mon, 2);
    *p++ = '-';
    p = put_fixed(p, (unsigned)mday, 2);
    *p++ = 'T';
    p = put_fixed(p, (unsigned)(in_day / 3600000), 2);
    *p++ = ':';
    p = put_fixed(p, (unsigned)(in_day / 60000 % 60), 2);
    *p++ = ':';
    p = put_fixed(p, (unsigned)(in_day / 1000 % 60), 2);
    *p++ = '.';
    p = put_fixed(p, (unsigned)(in_day % 1000), 3);
    *p++ = 'Z';
    *p++ = '"';
    b->len += (size_t)(p - start);
    b->data[b->len] = '\0';
}

static void json_oid(struct gw_buf *b, const bson_oid_t *oid)
{
    char *p = gw_buf_reserve(b, 26);
    p[0] = '"';
    bson_oid_to_string(oid, p + 1); /* 24 digits and a NUL, which the quote replaces */
    p[25] = '"';
    b->len += 26;
    b->data[b->len] = '\0';
}

static void json_base64(struct gw_buf *b, const uint8_t *p, size_t n)
{
    gw_buf_append_char(b, '"');
    gw_base64_encode(b, p, n);
    gw_buf_append_char(b, '"');
}

static void json_binary(struct gw_buf *b, bson_subtype_t sub, const uint8_t *p, uint32_t n)
{
    if (sub != BSON_SUBTYPE_UUID || n != 16) {
        json_base64(b, p, n);
        return;
    }
    gw_buf_append_char(b, '"');
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            gw_buf_append_char(b, '-');
        char two[2] = {hex_digits[p[i] >> 4], hex_digits[p[i] & 15]};
        gw_buf_append(b, two, 2);
    }
    gw_buf_append_char(b, '"');
}

/* ---- documents ------------------------------------------------------------------------- */

static int corrupt(struct conv *c, const bson_iter_t *it)
{
    return gw_set_error(c->err, "the BSON document is corrupt (near byte %" PRIu32 ")",
                        it->err_off ? it->err_off : it->off);
}

static int conv_value(struct conv *c, bson_iter_t *it, int depth)
{
    struct gw_buf *b = c->b;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_DOUBLE:
        json_double(b, bson_iter_double(it));
        break;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL: {
        uint32_t n;
        const char *s =
            BSON_ITER_HOLDS_UTF8(it) ? bson_iter_utf8(it, &n) : bson_iter_symbol(it, &n);
        json_string(b, s, n);
        break;
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
        bson_iter_t child;
        if (!bson_iter_recurse(it, &child))
            return corrupt(c, it);
        return conv_doc(c, &child, BSON_ITER_HOLDS_ARRAY(it), depth + 1);
    }
    case BSON_TYPE_BINARY: {
        bson_subtype_t sub;
        uint32_t n;
        const uint8_t *p;
        bson_iter_binary(it, &sub, &n, &p);
        json_binary(b, sub, p, n);
        break;
    }
    case BSON_TYPE_UNDEFINED:
    case BSON_TYPE_NULL:
        gw_buf_append_str(b, "null");
        break;
    case BSON_TYPE_OID:
        json_oid(b, bson_iter_oid(it));
        break;
    case BSON_TYPE_BOOL:
        gw_buf_append_str(b, bson_iter_bool(it) ? "true" : "false");
        break;
    case BSON_TYPE_DATE_TIME:
        json_date(b, bson_iter_date_time(it));
        break;
    case BSON_TYPE_REGEX: {
        const char *flags, *pattern = bson_iter_regex(it, &flags);
        struct gw_buf tmp = GW_BUF_INIT;
        gw_buf_printf(&tmp, "/%s/%s", pattern, flags);
        json_string(b, tmp.data, tmp.len);
        gw_buf_free(&tmp);
        break;
    }
    case BSON_TYPE_DBPOINTER: {
        uint32_t n;
        const char *coll;
        const bson_oid_t *oid;
        bson_iter_dbpointer(it, &n, &coll, &oid);
        gw_buf_append_str(b, "{\"$ref\":");
        json_string(b, coll, n);
        gw_buf_append_str(b, ",\"$id\":");
        json_oid(b, oid);
        gw_buf_append_char(b, '}');
        break;
    }
    case BSON_TYPE_CODE: {
        uint32_t n;
        const char *code = bson_iter_code(it, &n);
        json_string(b, code, n);
        break;
    }
    case BSON_TYPE_CODEWSCOPE: {
        uint32_t n, scope_len;
        const uint8_t *scope;
        const char *code = bson_iter_codewscope(it, &n, &scope_len, &scope);
        json_string(b, code, n);
        break;
    }
    case BSON_TYPE_INT32:
        append_i64(b, bson_iter_int32(it));
        break;
    case BSON_TYPE_TIMESTAMP: {
        uint32_t t, i;
        bson_iter_timestamp(it, &t, &i);
        gw_buf_append_str(b, "{\"t\":");
        append_u64(b, t);
        gw_buf_append_str(b, ",\"i\":");
        append_u64(b, i);
        gw_buf_append_char(b, '}');
        break;
    }
    case BSON_TYPE_INT64:
        append_i64(b, bson_iter_int64(it));
        break;
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t dec;
        char text[BSON_DECIMAL128_STRING];
        bson_iter_decimal128(it, &dec);
        bson_decimal128_to_string(&dec, text);
        json_cstring(b, text);
        break;
    }
    case BSON_TYPE_MAXKEY:
        gw_buf_append_str(b, "{\"$maxKey\":1}");
        break;
    case BSON_TYPE_MINKEY:
        gw_buf_append_str(b, "{\"$minKey\":1}");
        break;
    case BSON_TYPE_EOD:
    default:
        return gw_set_error(c->err, "the BSON document holds an unknown type 0x%02x",
                            (unsigned)bson_iter_type(it));
    }
    return 0;
}

static int over_cap(struct conv *c)
{
    if (!c->max || c->b->len - c->start <= c->max)
        return 0;
    c->too_large = true;
    return gw_set_error(c->err, "the JSON text is longer than %zu bytes", c->max);
}

/* Appends the members of the document (or elements of the array) that it iterates. */
static int conv_doc(struct conv *c, bson_iter_t *it, bool array, int depth)
{
    if (depth > GW_NOTICE_MAX_DEPTH)
        return gw_set_error(c->err, "the BSON document is nested deeper than %d levels",
                            GW_NOTICE_MAX_DEPTH);
    gw_buf_append_char(c->b, array ? '[' : '{');
    bool first = true;
    while (bson_iter_next(it)) {
        if (!first)
            gw_buf_append_char(c->b, ',');
        first = false;
        if (!array) {
            json_string(c->b, bson_iter_key(it), bson_iter_key_len(it));
            gw_buf_append_char(c->b, ':');
        }
        if (conv_value(c, it, depth) < 0 || over_cap(c) < 0)
            return -1;
    }
    if (it->err_off)
        return corrupt(c, it);
    gw_buf_append_char(c->b, array ? ']' : '}');
    return 0;
}

static int to_json(const bson_t *doc, struct gw_buf *out, size_t max, bool *too_large, char *err)
{
    struct conv c = {out, out->len, max, false, err};
    bson_iter_t it;
    int rc;
    if (!bson_iter_init(&it, doc))
        rc = gw_set_error(err, "the BSON document is corrupt (bad length)");
    else
        rc = conv_doc(&c, &it, false, 1);
    if (rc == 0)
        rc = over_cap(&c);
    if (rc < 0) {
        out->len = c.start;
        if (out->data)
            out->data[out->len] = '\0';
    }
    if (too_large)
        *too_large = c.too_large;
    return rc;
}

int gw_notice_bson_to_json(const bson_t *doc, struct gw_buf *out, char *err)
{
    return to_json(doc, out, 0, NULL, err);
}

/* ---- notices --------------------------------------------------------------------------- */

/* A top-level name to look for. find_keys() looks for several in one pass: a lookup of its own
 * per field walked the keys again each time, a third of a typical notification's conversion. */
struct key {
    const char *name;
    size_t len;
    bson_iter_t it; /* the first match, valid when hits > 0 */
    int hits;       /* how many times the name appears */
};

#define KEY(lit)                                                                                   \
    {                                                                                              \
        lit, sizeof(lit) - 1, {0}, 0                                                               \
    }

/* it is positioned before the first element of a document. */
static void find_keys_iter(bson_iter_t *it, struct key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        keys[i].hits = 0;
    while (bson_iter_next(it)) {
        const char *name = bson_iter_key(it);
        uint32_t len = bson_iter_key_len(it);
        for (size_t i = 0; i < n; i++)
            if (len == keys[i].len && memcmp(name, keys[i].name, len) == 0 && keys[i].hits++ == 0)
                keys[i].it = *it;
    }
}

static void find_keys(const bson_t *doc, struct key *keys, size_t n)
{
    bson_iter_t it;
    if (bson_iter_init(&it, doc))
        find_keys_iter(&it, keys, n);
    else
        for (size_t i = 0; i < n; i++)
            keys[i].hits = 0;
}

/* The first name of a dotted path; *rest is what follows the first dot, NULL if none. */
static struct key path_head(const char *path, const char **rest)
{
    const char *dot = strchr(path, '.');
    struct key k = {path, dot ? (size_t)(dot - path) : strlen(path), {0}, 0};
    *rest = dot ? dot + 1 : NULL;
    return k;
}

/* Follows a dotted path whose first name was looked up (head, reused as the walk goes down).
 * Returns 1 found, 0 missing, -1 ambiguous: a name on the path appears more than once, so
 * readers could disagree on who the recipient is. */
static int follow_path(struct key *head, const char *rest, bson_iter_t *found)
{
    for (;;) {
        if (head->len == 0 || head->hits == 0)
            return 0;
        if (head->hits > 1)
            return -1;
        if (!rest) {
            *found = head->it;
            return 1;
        }
        bson_iter_t child;
        if (!BSON_ITER_HOLDS_DOCUMENT(&head->it) && !BSON_ITER_HOLDS_ARRAY(&head->it))
            return 0;
        if (!bson_iter_recurse(&head->it, &child))
            return 0;
        *head = path_head(rest, &rest);
        find_keys_iter(&child, head, 1);
    }
}

static int find_path(const bson_t *doc, const char *path, bson_iter_t *found)
{
    const char *rest;
    struct key head = path_head(path, &rest);
    find_keys(doc, &head, 1);
    return follow_path(&head, rest, found);
}

/* rc and it: what find_path() or follow_path() returned and found. */
static enum gw_notice_status take_user(int rc, const bson_iter_t *it, struct gw_notice *out)
{
    if (rc == 0)
        return GW_NOTICE_NO_USER;
    if (rc < 0)
        return GW_NOTICE_BAD_USER;
    if (BSON_ITER_HOLDS_OID(it)) {
        bson_oid_to_string(bson_iter_oid(it), out->user_id);
        out->user_id_len = 24;
        return GW_NOTICE_OK;
    }
    if (!BSON_ITER_HOLDS_UTF8(it))
        return GW_NOTICE_BAD_USER;
    uint32_t n;
    const char *s = bson_iter_utf8(it, &n);
    if (n == 0 || n > GW_NOTICE_MAX_USER_ID_LEN || !gw_utf8_valid(s, n))
        return GW_NOTICE_BAD_USER;
    for (uint32_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return GW_NOTICE_BAD_USER;
    memcpy(out->user_id, s, n);
    out->user_id[n] = '\0';
    out->user_id_len = n;
    return GW_NOTICE_OK;
}

static enum gw_notice_status take_user_of(const bson_t *doc, const char *field,
                                          struct gw_notice *out)
{
    bson_iter_t it;
    int rc = find_path(doc, field, &it);
    return take_user(rc, &it, out);
}

/* Called after the whole document converted, so rendering one of its values cannot fail. */
static void take_id(const bson_iter_t *id, struct gw_notice *out)
{
    if (!BSON_ITER_HOLDS_OID(id))
        return;
    bson_oid_to_string(bson_iter_oid(id), out->id);
    out->id_len = 24;
}

/* The ObjectId says when the insert happened to the second; a createdAt Date in that second or
 * later says it to the millisecond, which the latency histogram needs. A createdAt earlier
 * than the ObjectId (a backdated document) is not the insert time. */
static int64_t insert_time(const struct key *created, const bson_iter_t *id)
{
    int64_t oid_ms =
        BSON_ITER_HOLDS_OID(id) ? (int64_t)bson_oid_get_time_t(bson_iter_oid(id)) * 1000 : 0;
    int64_t ms = 0;
    if (created->hits && BSON_ITER_HOLDS_DATE_TIME(&created->it) &&
        bson_iter_date_time(&created->it) > 0)
        ms = bson_iter_date_time(&created->it);
    return ms >= oid_ms ? ms : oid_ms;
}

static enum gw_notice_kind kind_of(const struct key *op, bool *known)
{
    static const struct {
        const char *op;
        enum gw_notice_kind kind;
    } ops[] = {{"insert", GW_NOTICE_INSERT},
               {"update", GW_NOTICE_UPDATE},
               {"replace", GW_NOTICE_UPDATE},
               {"delete", GW_NOTICE_DELETE}};
    *known = false;
    if (!op->hits || !BSON_ITER_HOLDS_UTF8(&op->it))
        return GW_NOTICE_INSERT;
    const char *name = bson_iter_utf8(&op->it, NULL);
    for (size_t i = 0; i < GW_ARRAY_SIZE(ops); i++) {
        if (strcmp(name, ops[i].op) == 0) {
            *known = true;
            return ops[i].kind;
        }
    }
    return GW_NOTICE_INSERT;
}

void gw_notice_event_open(struct gw_buf *b, const char *event, const char *suffix)
{
    gw_buf_append(b, "42[\"", 4);
    json_chars(b, event, strlen(event));
    json_chars(b, suffix, strlen(suffix));
    gw_buf_append(b, "\",", 2);
}

void gw_notice_event_close(struct gw_buf *b, const char *offset)
{
    if (offset) {
        gw_buf_append(b, ",\"", 2);
        gw_buf_append_str(b, offset);
        gw_buf_append_char(b, '"');
    }
    gw_buf_append_char(b, ']');
}

/* The document's JSON goes straight into the message: no scratch buffer, no copy. */
static enum gw_notice_status encode(const bson_t *doc, const struct gw_notice_options *opt,
                                    const char *suffix, const char *offset, struct gw_notice *out)
{
    const char *event = opt && opt->event ? opt->event : GW_NOTICE_DEFAULT_EVENT;
    size_t max = opt ? opt->max_bytes : 0;
    struct gw_buf b = GW_BUF_INIT;
    bool too_large;
    gw_msg_build_start(&b);
    gw_notice_event_open(&b, event, suffix);
    if (to_json(doc, &b, max, &too_large, NULL) < 0) {
        gw_buf_free(&b);
        return too_large ? GW_NOTICE_TOO_LARGE : GW_NOTICE_BAD_DOCUMENT;
    }
    gw_notice_event_close(&b, offset);
    out->msg = gw_msg_build_finish(&b);
    if (max && out->msg->len > max) {
        gw_msg_unref(out->msg);
        out->msg = NULL;
        return GW_NOTICE_TOO_LARGE;
    }
    return GW_NOTICE_OK;
}

/* A sub-document found by find_keys(); false when missing, not a document or corrupt. */
static bool sub_document(const struct key *k, bson_t *out)
{
    uint32_t len;
    const uint8_t *data;
    if (!k->hits || !BSON_ITER_HOLDS_DOCUMENT(&k->it))
        return false;
    bson_iter_document(&k->it, &len, &data);
    return bson_init_static(out, data, len);
}

/* The top-level fields of a change event that a notice reads. */
enum { EV_OP, EV_FULL, EV_KEY, EV_PRE, EV_COUNT };

/* An insert or an update: the (looked-up) document itself is the payload. */
static enum gw_notice_status
build_document(const struct key *ev, const struct gw_notice_options *opt, struct gw_notice *out)
{
    const char *field = opt && opt->user_field ? opt->user_field : GW_NOTICE_DEFAULT_USER_FIELD;
    const char *rest;
    bson_t doc;
    enum gw_notice_status st;

    if (!ev[EV_FULL].hits || !BSON_ITER_HOLDS_DOCUMENT(&ev[EV_FULL].it))
        return GW_NOTICE_NO_FULL_DOCUMENT;
    if (!sub_document(&ev[EV_FULL], &doc))
        return GW_NOTICE_BAD_DOCUMENT;
    struct key k[] = {KEY("_id"), KEY("type"), KEY("createdAt"), path_head(field, &rest)};
    find_keys(&doc, k, GW_ARRAY_SIZE(k));
    if (!k[0].hits)
        return GW_NOTICE_NO_ID;
    bson_iter_t user;
    int rc = follow_path(&k[3], rest, &user);
    if ((st = take_user(rc, &user, out)) != GW_NOTICE_OK)
        return st;
    bool insert = out->kind == GW_NOTICE_INSERT;
    if (insert && !k[1].hits)
        return GW_NOTICE_NO_TYPE;
    take_id(&k[0].it, out);
    if ((st = encode(&doc, opt, insert ? "" : ":update", insert && out->id_len ? out->id : NULL,
                     out)) != GW_NOTICE_OK)
        return st;
    out->inserted_at_ms = insert ? insert_time(&k[2], &k[0].it) : 0;
    return GW_NOTICE_OK;
}

/* A delete carries no document: its user comes from the pre-image (MongoDB 6.0+ with
 * changeStreamPreAndPostImages on the collection) or from documentKey (a collection sharded on
 * the user field). The payload is {"_id": <id>}. */
static enum gw_notice_status build_delete(const struct key *ev, const struct gw_notice_options *opt,
                                          struct gw_notice *out)
{
    const char *field = opt && opt->user_field ? opt->user_field : GW_NOTICE_DEFAULT_USER_FIELD;
    bson_t key, pre;
    bson_iter_t id;
    enum gw_notice_status st;

    if (!sub_document(&ev[EV_KEY], &key) || !bson_iter_init_find(&id, &key, "_id"))
        return GW_NOTICE_NO_ID;
    if (sub_document(&ev[EV_PRE], &pre))
        st = take_user_of(&pre, field, out);
    else
        st = take_user_of(&key, field, out);
    if (st == GW_NOTICE_NO_USER)
        return GW_NOTICE_DELETE_UNROUTABLE;
    if (st != GW_NOTICE_OK)
        return st;
    bson_t payload = BSON_INITIALIZER;
    bson_append_iter(&payload, "_id", 3, &id);
    st = encode(&payload, opt, ":delete", NULL, out);
    bson_destroy(&payload);
    if (st == GW_NOTICE_OK)
        take_id(&id, out);
    return st;
}

enum gw_notice_status gw_notice_build(const bson_t *change, const struct gw_notice_options *opt,
                                      struct gw_notice *out)
{
    struct key ev[EV_COUNT] = {
        [EV_OP] = KEY("operationType"),
        [EV_FULL] = KEY("fullDocument"),
        [EV_KEY] = KEY("documentKey"),
        [EV_PRE] = KEY("fullDocumentBeforeChange"),
    };
    bool known;
    enum gw_notice_status st;

    memset(out, 0, sizeof(*out));
    find_keys(change, ev, EV_COUNT);
    out->kind = kind_of(&ev[EV_OP], &known);
    if (!known)
        return GW_NOTICE_NOT_INSERT;
    st = out->kind == GW_NOTICE_DELETE ? build_delete(ev, opt, out) : build_document(ev, opt, out);
    if (st != GW_NOTICE_OK) {
        enum gw_notice_kind kind = out->kind;
        gw_notice_clear(out);
        out->kind = kind;
    }
    return st;
}

void gw_notice_clear(struct gw_notice *n)
{
    if (n->msg)
        gw_msg_unref(n->msg);
    memset(n, 0, sizeof(*n));
}

const char *gw_notice_strerror(enum gw_notice_status st)
{
    switch (st) {
    case GW_NOTICE_OK:
        return "The notification is ready to deliver.";
    case GW_NOTICE_NOT_INSERT:
        return "The change event is not an insert, update, replace or delete.";
    case GW_NOTICE_NO_FULL_DOCUMENT:
        return "The change event carries no fullDocument.";
    case GW_NOTICE_NO_ID:
        return "The document has no _id, so clients could not de-duplicate it.";
    case GW_NOTICE_NO_USER:
        return "The document has no user field.";
    case GW_NOTICE_BAD_USER:
        return "The document's user field is not a usable user id (a non-empty string of at "
               "most 256 bytes without control characters, or an ObjectId, given once).";
    case GW_NOTICE_NO_TYPE:
        return "The document has no type field.";
    case GW_NOTICE_BAD_DOCUMENT:
        return "The document is corrupt BSON or nested too deeply.";
    case GW_NOTICE_TOO_LARGE:
        return "The notification is larger than the maximum payload.";
    case GW_NOTICE_DELETE_UNROUTABLE:
        return "A delete event names no user: enable changeStreamPreAndPostImages on the "
               "collection (MongoDB 6.0+) so deletes carry the document they removed.";
    }
    return "Unknown notice status.";
}
