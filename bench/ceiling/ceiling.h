/* ceiling.h -- what the ceiling programs (write_ceiling.c, handshake_ceiling.c) share: a
 * monotonic clock, the process's CPU time, fatal errors, pinning to a core and the open-file
 * limit. Header-only: each program is one file. */
#ifndef GW_BENCH_CEILING_H
#define GW_BENCH_CEILING_H

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double ceiling_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the process so far, user and system (either may be NULL); returns the sum. */
static inline double ceiling_cpu_s(double *user, double *sys)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    double u = (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec / 1e6;
    double k = (double)r.ru_stime.tv_sec + (double)r.ru_stime.tv_usec / 1e6;
    if (user)
        *user = u;
    if (sys)
        *sys = k;
    return u + k;
}

/* Prints "<program>: <what>: <errno text>" and exits 1. */
static inline _Noreturn void ceiling_die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, strerror(errno));
    exit(1);
}

/* Pins the calling process to cpu; a negative cpu leaves it free. */
static inline void ceiling_pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        ceiling_die("sched_setaffinity");
}

/* Raises the soft open-file limit to the hard one; returns the soft limit now in force. */
static inline rlim_t ceiling_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

#endif
