/* token.c -- resume token encoding (see token.h). */
#include "token.h"

#include <stdio.h>
#include <string.h>

static uint8_t check_byte(const uint8_t *b, size_t n)
{
    uint8_t c = 0x5a;
    for (size_t i = 0; i < n; i++)
        c = (uint8_t)((c << 1 | c >> 7) ^ b[i]);
    return c;
}

static void to_bytes(const struct emu_token *tok, uint8_t b[10])
{
    b[0] = 0x82;
    for (int i = 0; i < 8; i++)
        b[1 + i] = (uint8_t)(tok->ts >> (56 - 8 * i));
    b[9] = (uint8_t)tok->kind;
}

void emu_token_format(const struct emu_token *tok, char out[EMU_TOKEN_HEX_LEN + 1])
{
    uint8_t b[11];
    to_bytes(tok, b);
    b[10] = check_byte(b, 10);
    static const char digits[] = "0123456789ABCDEF";
    for (int i = 0; i < 11; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[EMU_TOKEN_HEX_LEN] = '\0';
}

void emu_token_append(bson_t *doc, const char *key, const struct emu_token *tok)
{
    char hex[EMU_TOKEN_HEX_LEN + 1];
    emu_token_format(tok, hex);
    bson_t child;
    bson_append_document_begin(doc, key, -1, &child);
    BSON_APPEND_UTF8(&child, "_data", hex);
    bson_append_document_end(doc, &child);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum emu_token_status emu_token_parse_hex(const char *hex, size_t len, struct emu_token *out)
{
    for (size_t i = 0; i < len; i++)
        if (hexval(hex[i]) < 0)
            return EMU_TOKEN_NOT_HEX;
    if (len % 2)
        return EMU_TOKEN_NOT_HEX;
    if (len != EMU_TOKEN_HEX_LEN)
        return EMU_TOKEN_MALFORMED;
    uint8_t b[11];
    for (int i = 0; i < 11; i++)
        b[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    if (b[0] != 0x82 || b[9] > EMU_TOKEN_INVALIDATE || b[10] != check_byte(b, 10))
        return EMU_TOKEN_MALFORMED;
    uint64_t ts = 0;
    for (int i = 0; i < 8; i++)
        ts = ts << 8 | b[1 + i];
    out->ts = ts;
    out->kind = (enum emu_token_kind)b[9];
    return EMU_TOKEN_OK;
}

enum emu_token_status emu_token_parse_iter(const bson_iter_t *it, struct emu_token *out)
{
    if (!BSON_ITER_HOLDS_DOCUMENT(it))
        return EMU_TOKEN_NOT_A_DOCUMENT;
    bson_iter_t child;
    if (!bson_iter_recurse(it, &child) || !bson_iter_find(&child, "_data") ||
        !BSON_ITER_HOLDS_UTF8(&child))
        return EMU_TOKEN_NOT_A_DOCUMENT;
    uint32_t len;
    const char *s = bson_iter_utf8(&child, &len);
    return emu_token_parse_hex(s, len, out);
}
