/* test.h -- the unit-test harness: a test is a function, a failed check prints both sides.
 *
 * Usage: write `static void test_x(void) { CHECK_INT_EQ(1 + 1, 2); }` and in main()
 * `RUN(test_x); return TEST_REPORT();`. The process exits non-zero if any check failed, which is
 * what CTest reads.
 */
#ifndef GW_TEST_H
#define GW_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_failures;
static int test_checks;
static const char *test_current = "";

#define TEST_FAIL_AT(...)                                                                          \
    do {                                                                                           \
        test_failures++;                                                                           \
        fprintf(stderr, "FAIL %s (%s:%d): ", test_current, __FILE__, __LINE__);                    \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond))                                                                               \
            TEST_FAIL_AT("%s", #cond);                                                             \
    } while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        test_checks++;                                                                             \
        if (a_ != b_)                                                                              \
            TEST_FAIL_AT("%s == %s: %lld != %lld", #a, #b, a_, b_);                                \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        test_checks++;                                                                             \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            TEST_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",                 \
                         b_ ? b_ : "(null)");                                                      \
    } while (0)

/* Compares n bytes; prints both sides as escaped text. */
#define CHECK_MEM_EQ(a, alen, b, blen)                                                             \
    do {                                                                                           \
        const void *a_ = (a), *b_ = (b);                                                           \
        size_t al_ = (alen), bl_ = (blen);                                                         \
        test_checks++;                                                                             \
        if (al_ != bl_ || memcmp(a_, b_, al_) != 0) {                                              \
            TEST_FAIL_AT("%s == %s", #a, #b);                                                      \
            test_dump("  got:  ", a_, al_);                                                        \
            test_dump("  want: ", b_, bl_);                                                        \
        }                                                                                          \
    } while (0)

static inline void test_dump(const char *label, const void *p, size_t n)
{
    const unsigned char *s = p;
    fprintf(stderr, "%s(%zu) \"", label, n);
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
            fputc(s[i], stderr);
        else
            fprintf(stderr, "\\x%02x", s[i]);
    }
    fprintf(stderr, "\"\n");
}

/* Capture of fd 2 (gw_log writes there directly): everything written between
 * test_capture_start() and test_capture_end() lands in a temp file. Run checks only after
 * test_capture_end(), since failures are reported on stderr too. */
static int test_cap_fd = -1, test_saved_fd = -1;

static inline void test_capture_start(void)
{
    char path[] = "/tmp/gw-test-capture-XXXXXX";
    test_cap_fd = mkstemp(path);
    if (test_cap_fd < 0)
        abort();
    unlink(path);
    fflush(stderr);
    test_saved_fd = dup(2);
    dup2(test_cap_fd, 2);
}

/* Returns what was captured (new memory, free with free()). */
static inline char *test_capture_end(void)
{
    fflush(stderr);
    dup2(test_saved_fd, 2);
    close(test_saved_fd);
    off_t n = lseek(test_cap_fd, 0, SEEK_END);
    char *s = malloc((size_t)n + 1);
    if (!s || pread(test_cap_fd, s, (size_t)n, 0) != n)
        abort();
    s[n] = '\0';
    close(test_cap_fd);
    return s;
}

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        test_current = #fn;                                                                        \
        fn();                                                                                      \
    } while (0)

#define TEST_REPORT()                                                                              \
    (fprintf(stderr, "%s: %d checks, %d failed\n", __FILE__, test_checks, test_failures),          \
     test_failures ? 1 : 0)

#endif
