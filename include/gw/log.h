/* log.h -- leveled logging in text or JSON lines, to stderr.
 *
 * gw_log() checks the level before its arguments are evaluated, so debug logging costs one
 * branch when off. Text lines look like
 *   2026-11-23T11:30:00.123Z INFO  server: listening on 0.0.0.0:3000
 * and JSON lines like
 *   {"ts":"2026-11-23T11:30:00.123Z","level":"info","module":"server","msg":"listening on ..."}
 * (one object per line, the message JSON-escaped). Timestamps are UTC with milliseconds.
 *
 * A message can never forge a second line: in text lines, control characters are written as
 * \n, \r or \xNN; in JSON lines they are JSON escapes and invalid UTF-8 becomes U+FFFD, so every
 * line parses. A line longer than GW_LOG_LINE_MAX bytes is cut (the message ends in "...") so that
 * one write to a pipe stays atomic. gw_log_write() leaves errno unchanged.
 *
 * Thread safety: gw_log_init() once on the main thread before other threads start; gw_log() from
 * any thread (one write(2) per line, so lines never interleave).
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdbool.h>

#include "gw/config.h"

/* PIPE_BUF on Linux: the largest write a pipe delivers in one piece. */
#define GW_LOG_LINE_MAX 4096

enum gw_log_level { GW_LOG_ERROR, GW_LOG_WARN, GW_LOG_INFO, GW_LOG_DEBUG };

/* Lines above this level are dropped. GW_LOG_INFO until gw_log_init() says otherwise. */
extern enum gw_log_level gw_log_threshold;

/* Sets the threshold (DEBUG=true -> debug, else info) and the format (text until called). Also
 * routes libwebsockets' own log lines through gw_log with module "lws": errors and warnings,
 * plus notices (as info) and info (as debug) when debug is on. Main thread only. */
void gw_log_init(bool debug, enum gw_log_format format);

/* Formats and writes one line, whatever the threshold. Prefer the gw_log() macro. module and fmt
 * are borrowed; module is a short lowercase name such as "server". Any thread. */
void gw_log_write(enum gw_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define gw_log(level, module, ...)                                                                 \
    do {                                                                                           \
        if ((level) <= gw_log_threshold)                                                           \
            gw_log_write((level), (module), __VA_ARGS__);                                          \
    } while (0)

#define gw_log_error(module, ...) gw_log(GW_LOG_ERROR, module, __VA_ARGS__)
#define gw_log_warn(module, ...) gw_log(GW_LOG_WARN, module, __VA_ARGS__)
#define gw_log_info(module, ...) gw_log(GW_LOG_INFO, module, __VA_ARGS__)
#define gw_log_debug(module, ...) gw_log(GW_LOG_DEBUG, module, __VA_ARGS__)

#endif
