/* test_log.c -- both line formats, escaping, the level gate, the lws hook, whole lines. */
#include "gw/log.h"

#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static bool matches(const char *s, const char *pattern)
{
    regex_t re;
    GW_ASSERT(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0);
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

/* Parses a single JSON line; NULL (and a failed check) when it is not one object. */
static json_t *parse_line(const char *line)
{
    json_error_t e;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &e);
    if (!j)
        TEST_FAIL_AT("not JSON (%s): %s", e.text, line);
    return j;
}

static void test_text_format(void)
{
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
    test_capture_start();
    gw_log_info("server", "listening on %s:%d", "0.0.0.0", 3000);
    gw_log_warn("watcher", "retry in %d ms", 250);
    gw_log_error("jwt", "bad");
    char *out = test_capture_end();
    CHECK(matches(out, "^" TS " INFO  server: listening on 0\\.0\\.0\\.0:3000\n" TS
                       " WARN  watcher: retry in 250 ms\n" TS " ERROR jwt: bad\n$"));
    free(out);
}

static void test_text_cannot_forge_lines(void)
{
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
    test_capture_start();
    gw_log_info("eio", "user %s", "u1\n2026-01-01T00:00:00.000Z ERROR fake: x\r\x01");
    char *out = test_capture_end();
    CHECK_INT_EQ(count_lines(out), 1);
    CHECK(strstr(out, "user u1\\n2026-01-01T00:00:00.000Z ERROR fake: x\\r\\x01\n") != NULL);
    free(out);
}

static void test_json_format_and_escaping(void)
{
    /* quotes, backslash, every kind of control character, valid multi-byte UTF-8, then bytes
     * that are not UTF-8 (a lone continuation, an overlong '/', a surrogate, a cut sequence) */
    const char *nasty = "say \"hi\" \\ back\nnew\tline\r\x01\x1f\x7f caf\xc3\xa9 \xe2\x82\xac "
                        "\xf0\x9f\x98\x80 \x80 \xc0\xaf \xed\xa0\x80 \xe2\x82";
    const char *want = "say \"hi\" \\ back\nnew\tline\r\x01\x1f\x7f caf\xc3\xa9 \xe2\x82\xac "
                       "\xf0\x9f\x98\x80 \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd "
                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd";
    gw_log_init(false, GW_LOG_FORMAT_JSON);
    test_capture_start();
    gw_log_warn("sio", "%s", nasty);
    char *out = test_capture_end();
    CHECK_INT_EQ(count_lines(out), 1);
    CHECK(matches(out, "^\\{\"ts\":\"" TS "\",\"level\":\"warn\",\"module\":\"sio\",\"msg\":\""));
    json_t *j = parse_line(out);
    if (j) {
        CHECK_INT_EQ(json_object_size(j), 4);
        CHECK_STR_EQ(json_string_value(json_object_get(j, "level")), "warn");
        CHECK_STR_EQ(json_string_value(json_object_get(j, "module")), "sio");
        CHECK_STR_EQ(json_string_value(json_object_get(j, "msg")), want);
        json_decref(j);
    }
    free(out);
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
}

static void test_timestamp_is_now_utc(void)
{
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
    /* The logger reads CLOCK_REALTIME; time() reads the coarse clock, which
     * trails it by up to a tick and once put a stamp one second past "after". */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t before = ts.tv_sec;
    test_capture_start();
    gw_log_info("t", "x");
    char *out = test_capture_end();
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t after = ts.tv_sec;
    struct tm tm = {0};
    int ms = -1;
    char *rest = strptime(out, "%Y-%m-%dT%H:%M:%S", &tm);
    CHECK(rest != NULL && sscanf(rest, ".%3dZ", &ms) == 1);
    time_t t = timegm(&tm);
    CHECK(t >= before && t <= after);
    CHECK(ms >= 0 && ms <= 999);
    free(out);
}

static int side_effects;

static int touch(void)
{
    return ++side_effects;
}

static void test_threshold_skips_formatting(void)
{
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
    side_effects = 0;
    test_capture_start();
    gw_log_debug("t", "never %d", touch());
    gw_log_info("t", "shown %d", touch());
    char *out = test_capture_end();
    CHECK_INT_EQ(side_effects, 1); /* the debug call's argument was not evaluated */
    CHECK(strstr(out, "never") == NULL);
    CHECK(strstr(out, "INFO  t: shown 1\n") != NULL);
    free(out);

    gw_log_init(true, GW_LOG_FORMAT_JSON);
    test_capture_start();
    gw_log_debug("t", "now %d", touch());
    out = test_capture_end();
    CHECK_INT_EQ(side_effects, 2);
    CHECK(strstr(out, "\"level\":\"debug\",\"module\":\"t\",\"msg\":\"now 2\"") != NULL);
    free(out);
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
}

static void test_long_lines_are_cut_whole(void)
{
    size_t n = 10000;
    char *big = gw_malloc(n + 1);
    for (size_t i = 0; i < n; i += 2)
        memcpy(big + i, "\xc3\xa9", 2); /* multi-byte, so a careless cut would split one */
    big[n] = '\0';
    for (int json = 0; json <= 1; json++) {
        gw_log_init(false, json ? GW_LOG_FORMAT_JSON : GW_LOG_FORMAT_TEXT);
        test_capture_start();
        gw_log_info("big", "%s", big);
        char *out = test_capture_end();
        size_t len = strlen(out);
        CHECK_INT_EQ(count_lines(out), 1);
        CHECK(len <= GW_LOG_LINE_MAX && len > GW_LOG_LINE_MAX - 16);
        CHECK(strstr(out, json ? "...\"}\n" : "...\n") != NULL);
        json_t *j = json ? parse_line(out) : NULL;
        const char *msg = j ? json_string_value(json_object_get(j, "msg")) : NULL;
        if (json)
            CHECK(msg && strncmp(msg, big, strlen(msg) - 3) == 0);
        json_decref(j);
        free(out);
    }
    free(big);
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
}

static void test_errno_is_kept(void)
{
    test_capture_start();
    errno = ENOENT;
    gw_log_info("t", "%s", "x");
    int after = errno;
    free(test_capture_end());
    CHECK_INT_EQ(after, ENOENT);
}

static void test_lws_lines_are_routed(void)
{
    gw_log_init(false, GW_LOG_FORMAT_JSON);
    test_capture_start();
    lwsl_err("boom %d\n", 7);
    lwsl_warn("careful\n");
    lwsl_notice("chatty\n"); /* off without DEBUG */
    char *out = test_capture_end();
    CHECK_INT_EQ(count_lines(out), 2);
    CHECK(strstr(out, "\"level\":\"error\",\"module\":\"lws\",\"msg\":\"boom 7\"}\n") != NULL);
    CHECK(strstr(out, "\"level\":\"warn\",\"module\":\"lws\",\"msg\":\"careful\"}\n") != NULL);
    CHECK(strstr(out, "chatty") == NULL);
    free(out);

    gw_log_init(true, GW_LOG_FORMAT_TEXT);
    test_capture_start();
    lwsl_notice("chatty\n");
    out = test_capture_end();
    CHECK(matches(out, "^" TS " INFO  lws: chatty\n$"));
    free(out);
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
}

enum { THREADS = 4, LINES = 2000 };

static void *spam(void *arg)
{
    for (int i = 0; i < LINES; i++)
        gw_log_info("thread", "t%ld line %d %s", (long)(intptr_t)arg, i,
                    "padding padding padding padding padding padding padding padding");
    return NULL;
}

static void test_threads_write_whole_lines(void)
{
    pthread_t t[THREADS];
    gw_log_init(false, GW_LOG_FORMAT_JSON);
    test_capture_start();
    for (intptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, spam, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *out = test_capture_end();
    int lines = 0, bad = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        lines++;
        bad += !j || !json_is_string(json_object_get(j, "msg"));
        json_decref(j);
    }
    CHECK_INT_EQ(lines, THREADS * LINES);
    CHECK_INT_EQ(bad, 0);
    free(out);
    gw_log_init(false, GW_LOG_FORMAT_TEXT);
}

int main(void)
{
    RUN(test_text_format);
    RUN(test_text_cannot_forge_lines);
    RUN(test_json_format_and_escaping);
    RUN(test_timestamp_is_now_utc);
    RUN(test_threshold_skips_formatting);
    RUN(test_long_lines_are_cut_whole);
    RUN(test_errno_is_kept);
    RUN(test_lws_lines_are_routed);
    RUN(test_threads_write_whole_lines);
    return TEST_REPORT();
}
