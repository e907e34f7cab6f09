/* test_hist.c -- the latency histogram (bucket edges, rendering) and the dispatch-latency
 * histogram that timed messages feed when they are written.
 */
#include <stdlib.h>
#include <string.h>

#include "gw/buf.h"
#include "gw/common.h"
#include "gw/hist.h"
#include "gw/msg.h"
#include "test.h"

static const uint64_t small_bounds[] = {10, 25, 100};

static void test_hist_edges(void)
{
    struct gw_hist h;
    gw_hist_init(&h, small_bounds, GW_ARRAY_SIZE(small_bounds));
    CHECK_INT_EQ(gw_hist_count(&h), 0);
    /* a value equal to a bound belongs to that bound's bucket (Prometheus `le`) */
    const uint64_t values[] = {0, 10, 11, 25, 26, 100, 101, 1000000000000ull};
    const int bucket[] = {0, 0, 1, 1, 2, 2, 3, 3};
    uint64_t sum = 0;
    for (size_t i = 0; i < GW_ARRAY_SIZE(values); i++) {
        uint64_t before[4];
        memcpy(before, h.counts, sizeof(before));
        gw_hist_observe(&h, values[i]);
        sum += values[i];
        for (int b = 0; b < 4; b++)
            CHECK_INT_EQ(h.counts[b] - before[b], b == bucket[i] ? 1 : 0);
    }
    CHECK_INT_EQ(gw_hist_count(&h), GW_ARRAY_SIZE(values));
    CHECK(h.sum_us == sum);
}

static void test_hist_static_init(void)
{
    static struct gw_hist h = GW_HIST_INIT(small_bounds);
    CHECK(h.bounds_us == small_bounds);
    CHECK_INT_EQ(h.n_bounds, 3);
    CHECK_INT_EQ(gw_hist_count(&h), 0);
    gw_hist_observe(&h, 30);
    CHECK_INT_EQ(h.counts[2], 1);
}

static void test_hist_render(void)
{
    struct gw_hist h;
    gw_hist_init(&h, small_bounds, GW_ARRAY_SIZE(small_bounds));
    struct gw_buf b = GW_BUF_INIT;
    gw_hist_render(&h, "x_seconds", "An empty one.", &b);
    CHECK_STR_EQ(b.data, "# HELP x_seconds An empty one.\n"
                         "# TYPE x_seconds histogram\n"
                         "x_seconds_bucket{le=\"1e-05\"} 0\n"
                         "x_seconds_bucket{le=\"2.5e-05\"} 0\n"
                         "x_seconds_bucket{le=\"0.0001\"} 0\n"
                         "x_seconds_bucket{le=\"+Inf\"} 0\n"
                         "x_seconds_sum 0.000000\n"
                         "x_seconds_count 0\n");
    gw_buf_reset(&b);
    /* cumulative buckets; the sum in seconds */
    gw_hist_observe(&h, 7);
    gw_hist_observe(&h, 10);
    gw_hist_observe(&h, 80);
    gw_hist_observe(&h, 2500000);
    gw_hist_render(&h, "x_seconds", "Four.", &b);
    CHECK_STR_EQ(b.data, "# HELP x_seconds Four.\n"
                         "# TYPE x_seconds histogram\n"
                         "x_seconds_bucket{le=\"1e-05\"} 2\n"
                         "x_seconds_bucket{le=\"2.5e-05\"} 2\n"
                         "x_seconds_bucket{le=\"0.0001\"} 3\n"
                         "x_seconds_bucket{le=\"+Inf\"} 4\n"
                         "x_seconds_sum 2.500097\n"
                         "x_seconds_count 4\n");
    gw_buf_free(&b);
}

/* A histogram of counts: the same cumulative buckets, le and the sum as plain integers. */
static void test_hist_render_counts(void)
{
    static const uint64_t bounds[] = {1, 4, 16};
    struct gw_hist h = GW_HIST_INIT(bounds);
    gw_hist_observe(&h, 1);
    gw_hist_observe(&h, 3);
    gw_hist_observe(&h, 4);
    gw_hist_observe(&h, 1000);
    struct gw_buf b = GW_BUF_INIT;
    gw_hist_render_counts(&h, "x_items", "Items.", &b);
    CHECK_STR_EQ(b.data, "# HELP x_items Items.\n"
                         "# TYPE x_items histogram\n"
                         "x_items_bucket{le=\"1\"} 1\n"
                         "x_items_bucket{le=\"4\"} 3\n"
                         "x_items_bucket{le=\"16\"} 3\n"
                         "x_items_bucket{le=\"+Inf\"} 4\n"
                         "x_items_sum 1008\n"
                         "x_items_count 4\n");
    gw_buf_free(&b);
}

/* The count of the dispatch histogram's buckets up to and including the bound `le_us`. */
static uint64_t dispatch_le(uint64_t le_us)
{
    const struct gw_hist *h = gw_msg_dispatch_latency();
    uint64_t n = 0;
    for (size_t i = 0; i < h->n_bounds && h->bounds_us[i] <= le_us; i++)
        n += h->counts[i];
    return n;
}

static void test_dispatch_timed_only(void)
{
    const struct gw_hist *h = gw_msg_dispatch_latency();
    uint64_t n0 = gw_hist_count(h);

    /* untimed: a fresh message, the shared ping */
    struct gw_msg *m = gw_msg_new_text('4', "2[\"x\"]", 6);
    CHECK(m->received_us == 0);
    gw_msg_written(m);
    gw_msg_written(gw_msg_ping());
    CHECK_INT_EQ(gw_hist_count(h), n0);

    /* timed 200 us ago at least: never in a bucket below 250 us */
    uint64_t le150 = dispatch_le(150), finite = dispatch_le(UINT64_MAX);
    m->received_us = gw_now_us() - 200;
    gw_msg_written(m);
    CHECK_INT_EQ(gw_hist_count(h), n0 + 1);
    CHECK_INT_EQ(dispatch_le(150), le150);
    CHECK_INT_EQ(dispatch_le(UINT64_MAX), finite + 1);
    gw_msg_unref(m);

    /* one clock reading for several messages; edges and a clock that went back */
    le150 = dispatch_le(150);
    uint64_t le100 = dispatch_le(100), le10 = dispatch_le(10);
    gw_msg_dispatch_observe(1000, 1150);
    CHECK_INT_EQ(dispatch_le(100), le100);
    CHECK_INT_EQ(dispatch_le(150), le150 + 1);
    gw_msg_dispatch_observe(5000, 4000);
    CHECK_INT_EQ(dispatch_le(10), le10 + 1);
    CHECK_INT_EQ(gw_hist_count(h), n0 + 3);
}

static void test_dispatch_buckets(void)
{
    struct gw_buf b = GW_BUF_INIT;
    gw_hist_render(gw_msg_dispatch_latency(), "d", "h", &b);
    static const char *const les[] = {"1e-05",   "2.5e-05", "5e-05", "0.0001", "0.00015",
                                      "0.00025", "0.0005",  "0.001", "0.0025", "0.005",
                                      "0.01",    "0.025",   "0.05",  "0.1",    "0.25",
                                      "1",       "2.5",     "5",     "10",     "+Inf"};
    const char *p = b.data;
    for (size_t i = 0; i < GW_ARRAY_SIZE(les); i++) {
        char want[64];
        snprintf(want, sizeof(want), "d_bucket{le=\"%s\"} ", les[i]);
        const char *at = strstr(p, want);
        CHECK(at != NULL);
        if (!at) {
            fprintf(stderr, "  missing or out of order: %s\n", want);
            break;
        }
        p = at + strlen(want);
    }
    CHECK(strstr(b.data, "d_bucket{le=\"0.5\"}") == NULL); /* no bound between 250 ms and 1 s */
    gw_buf_free(&b);
}

int main(void)
{
    RUN(test_hist_edges);
    RUN(test_hist_static_init);
    RUN(test_hist_render);
    RUN(test_hist_render_counts);
    RUN(test_dispatch_timed_only);
    RUN(test_dispatch_buckets);
    return TEST_REPORT();
}
