/* hist.h -- a latency histogram with fixed buckets, kept in microseconds and exported as a
 * Prometheus histogram in seconds.
 *
 * Bucket i counts the observations v with bounds[i-1] < v <= bounds[i] (Prometheus's `le`);
 * one more bucket past the last bound counts the rest (+Inf). The bounds are the caller's
 * static array, so a histogram is plain counters that need no set-up beyond GW_HIST_INIT.
 *
 * Thread safety: none. A histogram belongs to one thread, which both observes and renders (the
 * loop thread in the gateway: /metrics is served there too).
 */
#ifndef GW_HIST_H
#define GW_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "gw/buf.h"

/* Most bounds a histogram may have (the +Inf bucket comes on top). */
#define GW_HIST_MAX_BOUNDS 24

struct gw_hist {
    const uint64_t *bounds_us; /* borrowed, strictly ascending */
    size_t n_bounds;
    uint64_t counts[GW_HIST_MAX_BOUNDS + 1]; /* per bucket, not cumulative; [n_bounds] is +Inf */
    uint64_t sum_us;
};

/* A static initializer over an array of bounds, e.g.
 * `static struct gw_hist h = GW_HIST_INIT(bounds);` (the array is borrowed for h's lifetime). */
#define GW_HIST_INIT(bounds)                                                                       \
    {                                                                                              \
        (bounds), sizeof(bounds) / sizeof((bounds)[0]), {0}, 0                                     \
    }

/* Initializes h over n_bounds strictly ascending bounds in microseconds (borrowed for h's
 * lifetime, at most GW_HIST_MAX_BOUNDS of them). */
void gw_hist_init(struct gw_hist *h, const uint64_t *bounds_us, size_t n_bounds);

/* Adds one observation of us microseconds. */
void gw_hist_observe(struct gw_hist *h, uint64_t us);

/* How many observations were made. */
uint64_t gw_hist_count(const struct gw_hist *h);

/* Appends the histogram to b in Prometheus text format: HELP (help: one line, no newline) and
 * TYPE, one cumulative <name>_bucket{le="<seconds>"} line per bound and le="+Inf", then
 * <name>_sum in seconds and <name>_count. name and help are borrowed for the call. */
void gw_hist_render(const struct gw_hist *h, const char *name, const char *help, struct gw_buf *b);

/* The same for a histogram of plain counts (the bounds and observations are numbers of things,
 * kept in the _us fields unscaled): le and the sum are written as integers. */
void gw_hist_render_counts(const struct gw_hist *h, const char *name, const char *help,
                           struct gw_buf *b);

#endif
