/* log.c -- one line per call, built in memory and handed to stderr with one write(2).
 *
 * Building the whole line first is what keeps lines from different threads whole: stdio would
 * split a line into several writes. Everything a message contains is escaped on the way in, so a
 * client-supplied string in a log message cannot fake a line or break the JSON.
 */
#include "gw/log.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gw/buf.h"

enum gw_log_level gw_log_threshold = GW_LOG_INFO;
static enum gw_log_format log_format = GW_LOG_FORMAT_TEXT;

static const char *const text_names[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
static const char *const json_names[] = {"error", "warn", "info", "debug"};

static void append_timestamp(struct gw_buf *b)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    gw_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF), or 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    uint32_t cp = s[0] & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
        return 0;
    return len;
}

/* Writes the escaped form of the character at s into out (at least 8 bytes) and returns its
 * length; *used receives how many input bytes it consumed. */
static size_t escape_one(const unsigned char *s, size_t n, bool json, char *out, size_t *used)
{
    unsigned char c = s[0];
    const char *named = c == '\n'           ? "\\n"
                        : c == '\r'         ? "\\r"
                        : json && c == '\t' ? "\\t"
                        : json && c == '"'  ? "\\\""
                        : json && c == '\\' ? "\\\\"
                                            : NULL;
    *used = 1;
    if (named) {
        memcpy(out, named, 2);
        return 2;
    }
    if (c < 0x20 || c == 0x7f)
        return (size_t)snprintf(out, 8, json ? "\\u%04x" : "\\x%02x", c);
    if (c < 0x80 || !json) {
        out[0] = (char)c;
        return 1;
    }
    size_t len = utf8_seq(s, n);
    if (len == 0) {
        memcpy(out, "\\ufffd", 6);
        return 6;
    }
    memcpy(out, s, len);
    *used = len;
    return len;
}

/* Appends s escaped for the format, stopping with "..." where the line would pass `limit`. */
static void append_escaped(struct gw_buf *b, const char *s, size_t n, bool json, size_t limit)
{
    const unsigned char *p = (const unsigned char *)s;
    while (n > 0) {
        char out[8];
        size_t used, len = escape_one(p, n, json, out, &used);
        if (b->len + len > limit) {
            gw_buf_append_str(b, "...");
            return;
        }
        gw_buf_append(b, out, len);
        p += used;
        n -= used;
    }
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report a failing stderr */
        p += w;
        n -= (size_t)w;
    }
}

static void write_line(enum gw_log_level level, const char *module, const char *msg, size_t n)
{
    struct gw_buf b = GW_BUF_INIT;
    bool json = log_format == GW_LOG_FORMAT_JSON;
    const char *tail = json ? "\"}\n" : "\n";
    size_t limit = GW_LOG_LINE_MAX - strlen(tail) - 3; /* 3 = "..." */
    if (level > GW_LOG_DEBUG)
        level = GW_LOG_DEBUG;
    if (!module)
        module = "gw";

    gw_buf_reserve(&b, 128 + n);
    if (json)
        gw_buf_append_str(&b, "{\"ts\":\"");
    append_timestamp(&b);
    if (json)
        gw_buf_printf(&b, "\",\"level\":\"%s\",\"module\":\"", json_names[level]);
    else
        gw_buf_printf(&b, " %s ", text_names[level]);
    append_escaped(&b, module, strlen(module), json, 256);
    gw_buf_append_str(&b, json ? "\",\"msg\":\"" : ": ");
    append_escaped(&b, msg, n, json, limit);
    gw_buf_append_str(&b, tail);
    write_all(b.data, b.len);
    gw_buf_free(&b);
}

void gw_log_write(enum gw_log_level level, const char *module, const char *fmt, ...)
{
    int saved_errno = errno;
    char small[512], *heap = NULL;
    const char *msg = small;
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        msg = "(log message could not be formatted)";
        n = (int)strlen(msg);
    } else if ((size_t)n >= sizeof(small)) {
        msg = heap = gw_malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(heap, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    write_line(level, module, msg, (size_t)n);
    free(heap);
    errno = saved_errno;
}

/* lws hands over finished lines, each ending in '\n'; it has already filtered by level. */
static void lws_emit(int lws_level, const char *line)
{
    enum gw_log_level level = lws_level == LLL_ERR      ? GW_LOG_ERROR
                              : lws_level == LLL_WARN   ? GW_LOG_WARN
                              : lws_level == LLL_NOTICE ? GW_LOG_INFO
                                                        : GW_LOG_DEBUG;
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level <= gw_log_threshold)
        write_line(level, "lws", line, n);
}

void gw_log_init(bool debug, enum gw_log_format format)
{
    int lws_levels = LLL_ERR | LLL_WARN;
    if (debug)
        lws_levels |= LLL_NOTICE | LLL_INFO;
    gw_log_threshold = debug ? GW_LOG_DEBUG : GW_LOG_INFO;
    log_format = format;
    lws_set_log_level(lws_levels, lws_emit);
}
