/* hist.c -- see hist.h. */
#include "gw/hist.h"

#include <stdbool.h>
#include <string.h>

#include "gw/common.h"

void gw_hist_init(struct gw_hist *h, const uint64_t *bounds_us, size_t n_bounds)
{
    GW_ASSERT(n_bounds <= GW_HIST_MAX_BOUNDS);
    memset(h, 0, sizeof(*h));
    h->bounds_us = bounds_us;
    h->n_bounds = n_bounds;
}

void gw_hist_observe(struct gw_hist *h, uint64_t us)
{
    /* Linear: a score of bounds, and most observations stop in the first few. */
    size_t i = 0;
    while (i < h->n_bounds && us > h->bounds_us[i])
        i++;
    h->counts[i]++;
    h->sum_us += us;
}

uint64_t gw_hist_count(const struct gw_hist *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= h->n_bounds; i++)
        n += h->counts[i];
    return n;
}

static void render(const struct gw_hist *h, const char *name, const char *help, bool seconds,
                   struct gw_buf *b)
{
    uint64_t cumulative = 0;
    gw_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < h->n_bounds; i++) {
        cumulative += h->counts[i];
        if (seconds)
            gw_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, (double)h->bounds_us[i] / 1e6,
                          (unsigned long long)cumulative);
        else
            gw_buf_printf(b, "%s_bucket{le=\"%llu\"} %llu\n", name,
                          (unsigned long long)h->bounds_us[i], (unsigned long long)cumulative);
    }
    cumulative += h->counts[h->n_bounds];
    gw_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cumulative);
    if (seconds)
        gw_buf_printf(b, "%s_sum %.6f\n", name, (double)h->sum_us / 1e6);
    else
        gw_buf_printf(b, "%s_sum %llu\n", name, (unsigned long long)h->sum_us);
    gw_buf_printf(b, "%s_count %llu\n", name, (unsigned long long)cumulative);
}

void gw_hist_render(const struct gw_hist *h, const char *name, const char *help, struct gw_buf *b)
{
    render(h, name, help, true, b);
}

void gw_hist_render_counts(const struct gw_hist *h, const char *name, const char *help,
                           struct gw_buf *b)
{
    render(h, name, help, false, b);
}
