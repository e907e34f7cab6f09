/* sse_codec.c -- encoded notification messages as Server-Sent Events text (pure, no I/O). */
#include "gw/sse_codec.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

/* End of the JSON string starting at s[0] == '"' (index of its closing quote), or 0. */
static size_t string_end(const char *s, size_t len)
{
    for (size_t i = 1; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i;
    }
    return 0;
}

int gw_sse_format(const char *msg, size_t len, struct gw_buf *out)
{
    /* 42["name",<json>] or 42["name",<json>,"<offset>"]: the gateway's own encoding */
    if (len < 8 || memcmp(msg, "42[\"", 4) != 0 || msg[len - 1] != ']')
        return -1;
    size_t q = string_end(msg + 3, len - 3);
    if (!q || msg[3 + q + 1] != ',')
        return -1;
    json_error_t jerr;
    json_t *name = json_loadb(msg + 3, q + 1, JSON_DECODE_ANY, &jerr);
    if (!json_is_string(name)) {
        json_decref(name);
        return -1;
    }
    const char *data = msg + 3 + q + 2;
    size_t data_len = (size_t)(msg + len - 1 - data);
    const char *offset = NULL;
    size_t offset_len = 0;
    /* a document ends in '}': a closing quote means a trailing offset string */
    if (data_len > 3 && data[data_len - 1] == '"') {
        size_t i = data_len - 2;
        while (i > 0 && data[i] != '"')
            i--;
        if (i > 0 && data[i - 1] == ',') {
            offset = data + i + 1;
            offset_len = data_len - i - 2;
            data_len = i - 1;
        }
    }
    /* One event per message: a line break in the name or the data would end the event early
     * and let the rest be read as fields of its own (compact JSON never has one). */
    const char *n = json_string_value(name);
    bool breaks = strpbrk(n, "\r\n") != NULL || memchr(data, '\n', data_len) ||
                  memchr(data, '\r', data_len) || (offset && memchr(offset, '\n', offset_len)) ||
                  (offset && memchr(offset, '\r', offset_len));
    if (breaks) {
        json_decref(name);
        return -1;
    }
    gw_buf_append_str(out, "event: ");
    gw_buf_append_str(out, n);
    json_decref(name);
    if (offset) {
        gw_buf_append_str(out, "\nid: ");
        gw_buf_append(out, offset, offset_len);
    }
    /* compact JSON has no raw newline, so one data line carries it */
    gw_buf_append_str(out, "\ndata: ");
    gw_buf_append(out, data, data_len);
    gw_buf_append_str(out, "\n\n");
    return 0;
}
