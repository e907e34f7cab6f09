/* base64.c -- strict base64 and base64url. */
#include "gw/base64.h"

#include <stdbool.h>
#include <stdint.h>

#include "gw/common.h"

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode(struct gw_buf *b, const unsigned char *s, size_t len, const char *alphabet,
                   bool pad)
{
    char *out = gw_buf_reserve(b, (len + 2) / 3 * 4);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < len)
            v |= s[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = alphabet[v >> 6 & 63];
        else if (pad)
            out[o++] = '=';
        if (i + 2 < len)
            out[o++] = alphabet[v & 63];
        else if (pad)
            out[o++] = '=';
    }
    b->len += o;
    b->data[b->len] = '\0';
}

void gw_base64_encode(struct gw_buf *b, const void *in, size_t len)
{
    encode(b, in, len, std_alphabet, true);
}

void gw_base64url_encode(struct gw_buf *b, const void *in, size_t len)
{
    encode(b, in, len, url_alphabet, false);
}

static int value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static long decode(const char *in, size_t len, unsigned char *out, bool url)
{
    size_t n = len;
    if (!url) {
        if (len % 4)
            return -1;
        while (n > 0 && len - n < 2 && in[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = value((unsigned char)in[i], url);
        if (v < 0)
            return -1; /* includes '=' anywhere but the end */
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return acc ? -1 : (long)o; /* unused bits must be zero */
}

long gw_base64_decode(const char *in, size_t len, void *out)
{
    return decode(in, len, out, false);
}

long gw_base64url_decode(const char *in, size_t len, void *out)
{
    return decode(in, len, out, true);
}

void gw_random_id(char *out, size_t chars)
{
    unsigned char raw[48];
    struct gw_buf b = GW_BUF_INIT;
    GW_ASSERT(chars % 4 == 0 && chars / 4 * 3 <= sizeof(raw));
    gw_random_bytes(raw, chars / 4 * 3);
    gw_base64url_encode(&b, raw, chars / 4 * 3);
    for (size_t i = 0; i <= chars; i++)
        out[i] = b.data[i];
    gw_buf_free(&b);
}
