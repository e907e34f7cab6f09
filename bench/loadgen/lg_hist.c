/* lg_hist.c -- log-linear histogram: bucket index from the position of the top bit. */
#include "lg_hist.h"

#include <string.h>

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * LG_HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - 7; /* v >> shift lands in [128, 256) */
    if (shift > LG_HIST_MAX_SHIFT)
        return LG_HIST_BUCKETS - 1;
    return 2 * LG_HIST_SUB + (shift - 1) * LG_HIST_SUB + (unsigned)(v >> shift) - LG_HIST_SUB;
}

/* The lowest value of bucket i and its width. */
static void bucket_range(unsigned i, uint64_t *low, uint64_t *width)
{
    if (i < 2 * LG_HIST_SUB) {
        *low = i;
        *width = 1;
        return;
    }
    unsigned k = i - 2 * LG_HIST_SUB;
    unsigned shift = k / LG_HIST_SUB + 1;
    *low = (uint64_t)(k % LG_HIST_SUB + LG_HIST_SUB) << shift;
    *width = (uint64_t)1 << shift;
}

void lg_hist_init(struct lg_hist *h)
{
    memset(h, 0, sizeof(*h));
}

void lg_hist_add(struct lg_hist *h, uint64_t v)
{
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += (double)v;
    h->buckets[bucket_of(v)]++;
}

uint64_t lg_hist_quantile(const struct lg_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    /* The rank of the sample at q, 1-based, so q = 1 is the last sample and q = 0 the first. */
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank >= h->count)
        return h->max; /* the extremes are kept exactly, even beyond the top bucket */
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t low, width;
            bucket_range(i, &low, &width);
            uint64_t v = low + width / 2;
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max;
}
