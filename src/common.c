/* common.c -- allocation that aborts on failure, clocks, randomness, error sentences. */
#include "gw/common.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Noreturn void gw_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "notify-gateway: assertion failed: %s (%s:%d)\n", what, file, line);
    abort();
}

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "notify-gateway: out of memory allocating %zu bytes\n", n);
    abort();
}

void *gw_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *gw_calloc(size_t nmemb, size_t n)
{
    void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
    if (!p)
        oom(nmemb * n);
    return p;
}

void *gw_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *gw_strdup(const char *s)
{
    return gw_strndup(s, strlen(s));
}

char *gw_strndup(const char *s, size_t n)
{
    char *p = gw_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *gw_strcat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = gw_malloc(na + nb + 1);
    memcpy(p, a, na);
    memcpy(p + na, b, nb + 1);
    return p;
}

int gw_set_error(char *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, GW_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t gw_now_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000u;
}

uint64_t gw_now_us(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000u;
}

uint64_t gw_wall_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000u;
}

void gw_random_bytes(void *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) != 1) {
        fprintf(stderr, "notify-gateway: RAND_bytes failed\n");
        abort();
    }
}
