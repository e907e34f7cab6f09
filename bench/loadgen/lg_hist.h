/* lg_hist.h -- a log-linear latency histogram (HDR style) in microseconds. Pure.
 *
 * Values below 256 us are exact; above, each power of two is split into 128 buckets, so a
 * reported percentile is within 0.8 % of the true sample. Memory is fixed (about 36 KB) whatever
 * the number of samples, which matters at millions of deliveries per run.
 *
 * Thread safety: a histogram belongs to one thread.
 */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stdint.h>

#define LG_HIST_SUB 128 /* buckets per power of two above the exact range */
#define LG_HIST_MAX_SHIFT 33
#define LG_HIST_BUCKETS (2 * LG_HIST_SUB + LG_HIST_MAX_SHIFT * LG_HIST_SUB)

struct lg_hist {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    double sum;
    uint64_t buckets[LG_HIST_BUCKETS];
};

/* Empties h. */
void lg_hist_init(struct lg_hist *h);
/* Records one value (values above 2^40 us land in the top bucket; min/max stay exact). */
void lg_hist_add(struct lg_hist *h, uint64_t v);
/* Returns the value at quantile q in [0, 1] (the midpoint of its bucket, clamped to the exact
 * min and max; the last rank is the exact max), or 0 when h is empty. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

#endif
