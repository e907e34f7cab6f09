/* stall-probe -- how often, and for how long, this core is taken from a running process.
 *
 * Spins on CLOCK_MONOTONIC for --seconds and records every gap between two consecutive readings
 * longer than 0.5 ms: a stretch in which this thread did not run although it never blocks.
 * Pinned alone to an otherwise idle core, the gaps are what the machine takes (the hypervisor
 * running another guest, kernel threads, interrupts), not other processes of the benchmark.
 * A server on that core loses the same stretches, and every delivery due in one waits it out.
 * Prints one JSON line: how many gaps were longer than each of 0.5-20 ms, the longest, their total,
 * and the longest ones with their offsets in seconds.
 *
 * Usage: stall-probe [--seconds S]   (10)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { NBUCKETS = 6, NLONGEST = 8 };
static const double EDGES_MS[NBUCKETS] = {0.5, 1, 2, 5, 10, 20};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    double seconds = 10;
    if (argc == 3 && strcmp(argv[1], "--seconds") == 0) {
        char *end;
        seconds = strtod(argv[2], &end);
        if (*end || !(seconds > 0 && seconds <= 3600)) {
            fprintf(stderr, "stall-probe: --seconds must be in (0, 3600], not \"%s\"\n", argv[2]);
            return 2;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: stall-probe [--seconds S]\n");
        return 2;
    }
    long counts[NBUCKETS] = {0};
    struct stall {
        double ms, at_s;
    } longest[NLONGEST] = {{0}};
    double total = 0;
    double start = now_ms(), last = start, end = start + seconds * 1e3;
    for (double t = start; t < end; last = t) {
        t = now_ms();
        double gap = t - last;
        if (gap <= EDGES_MS[0])
            continue;
        total += gap;
        for (int b = 0; b < NBUCKETS && gap > EDGES_MS[b]; b++)
            counts[b]++;
        /* keep the NLONGEST longest, longest first */
        for (int i = 0; i < NLONGEST; i++)
            if (gap > longest[i].ms) {
                memmove(&longest[i + 1], &longest[i], sizeof *longest * (NLONGEST - 1 - i));
                longest[i] = (struct stall){gap, (last - start) / 1e3};
                break;
            }
    }
    printf("{\"seconds\":%.1f,\"gapsOverMs\":{", seconds);
    for (int b = 0; b < NBUCKETS; b++)
        printf("%s\"%g\":%ld", b ? "," : "", EDGES_MS[b], counts[b]);
    printf("},\"longestMs\":%.2f,\"totalMs\":%.2f,\"longest\":[", longest[0].ms, total);
    for (int i = 0; i < NLONGEST && longest[i].ms > 0; i++)
        printf("%s{\"ms\":%.2f,\"atS\":%.3f}", i ? "," : "", longest[i].ms, longest[i].at_s);
    printf("]}\n");
    return 0;
}
