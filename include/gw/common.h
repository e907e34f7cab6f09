/* common.h -- small helpers every module uses.
 *
 * Allocation failure aborts the process (gw_malloc and friends never return NULL), which removes
 * a whole class of untested error paths. GW_ASSERT stays on in release builds: it guards
 * "cannot happen" invariants, never input validation.
 *
 * Thread safety: every function here may be called from any thread.
 */
#ifndef GW_COMMON_H
#define GW_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Size of the caller-supplied buffer that receives one human sentence on error. */
#define GW_ERR_LEN 256

#define GW_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define GW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GW_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Recover the struct that embeds `ptr` as its member `member`. */
#define GW_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define GW_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            gw_assert_fail(#cond, __FILE__, __LINE__);                                             \
    } while (0)

_Noreturn void gw_assert_fail(const char *what, const char *file, int line);

/* Allocators that abort on failure. Returns new memory owned by the caller (free with free()). */
void *gw_malloc(size_t n);
void *gw_calloc(size_t nmemb, size_t n);
void *gw_realloc(void *p, size_t n);
char *gw_strdup(const char *s);
char *gw_strndup(const char *s, size_t n);
char *gw_strcat(const char *a, const char *b); /* a new string a + b */

/* Writes one formatted sentence into err (GW_ERR_LEN bytes) when err is not NULL. Returns -1 so
 * callers can write `return gw_set_error(err, "...")`. */
int gw_set_error(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic clock in milliseconds and microseconds (CLOCK_MONOTONIC). */
uint64_t gw_now_ms(void);
uint64_t gw_now_us(void);

/* Wall clock: milliseconds since the Unix epoch. */
uint64_t gw_wall_ms(void);

/* Fills buf with n cryptographically strong random bytes (OpenSSL RAND_bytes); aborts on
 * failure, since a predictable session id is worse than no server. */
void gw_random_bytes(void *buf, size_t n);

#endif
