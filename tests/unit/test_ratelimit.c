/* test_ratelimit.c -- token buckets per address: burst, refill, retry hint, bounded memory. */
#include "gw/ratelimit.h"

#include "test.h"

#define SEC 1000000ull

static const unsigned char KEY_A[] = {4, 10, 0, 0, 1};
static const unsigned char KEY_B[] = {4, 10, 0, 0, 2};

static int take_n(struct gw_ratelimit *rl, const unsigned char *key, int n, uint64_t now)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += gw_ratelimit_take(rl, key, 5, now, NULL);
    return ok;
}

static void test_burst_then_refused(void)
{
    struct gw_ratelimit *rl = gw_ratelimit_new(10, 20, 100);
    uint64_t now = 5 * SEC, retry = 0;
    CHECK_INT_EQ(take_n(rl, KEY_A, 20, now), 20);
    CHECK(!gw_ratelimit_take(rl, KEY_A, 5, now, &retry));
    /* The next token comes one interval (100 ms) after the burst was used up. */
    CHECK_INT_EQ(retry, 100000);
    /* Another address has its own bucket. */
    CHECK_INT_EQ(take_n(rl, KEY_B, 20, now), 20);
    gw_ratelimit_free(rl);
}

static void test_refill_at_rate(void)
{
    struct gw_ratelimit *rl = gw_ratelimit_new(10, 20, 100);
    uint64_t now = 1 * SEC;
    CHECK_INT_EQ(take_n(rl, KEY_A, 25, now), 20);
    /* Half a second later five tokens are back, not more. */
    now += SEC / 2;
    CHECK_INT_EQ(take_n(rl, KEY_A, 10, now), 5);
    /* A steady 10/s stream is always allowed once the burst is gone. */
    for (int i = 0; i < 50; i++) {
        now += SEC / 10;
        CHECK(gw_ratelimit_take(rl, KEY_A, 5, now, NULL));
    }
    CHECK(!gw_ratelimit_take(rl, KEY_A, 5, now, NULL));
    gw_ratelimit_free(rl);
}

static void test_retry_hint_is_honest(void)
{
    struct gw_ratelimit *rl = gw_ratelimit_new(3, 6, 100);
    uint64_t now = 7 * SEC, retry = 0;
    take_n(rl, KEY_A, 6, now);
    CHECK(!gw_ratelimit_take(rl, KEY_A, 5, now + 1000, &retry));
    CHECK(retry > 0);
    /* Just before the hint: still refused; at the hint: allowed. */
    CHECK(!gw_ratelimit_take(rl, KEY_A, 5, now + 1000 + retry - 1, NULL));
    CHECK(gw_ratelimit_take(rl, KEY_A, 5, now + 1000 + retry, NULL));
    gw_ratelimit_free(rl);
}

static void test_idle_buckets_expire(void)
{
    struct gw_ratelimit *rl = gw_ratelimit_new(100, 200, 1000);
    uint64_t now = 1 * SEC;
    unsigned char key[5] = {4, 192, 168, 0, 0};
    for (int i = 0; i < 100; i++) {
        key[4] = (unsigned char)i;
        gw_ratelimit_take(rl, key, 5, now, NULL);
    }
    CHECK_INT_EQ(gw_ratelimit_count(rl), 100);
    /* Not yet refilled: a single take leaves a bucket one interval (10 ms) from full. */
    CHECK_INT_EQ(gw_ratelimit_sweep(rl, now + 5000), 0);
    CHECK_INT_EQ(gw_ratelimit_sweep(rl, now + 10000), 100);
    CHECK_INT_EQ(gw_ratelimit_count(rl), 0);

    /* A drained bucket stays until it has refilled completely (burst / rate = 2 s). */
    take_n(rl, KEY_A, 200, now);
    CHECK_INT_EQ(gw_ratelimit_sweep(rl, now + 2 * SEC - 1), 0);
    CHECK_INT_EQ(gw_ratelimit_count(rl), 1);
    /* Any take sweeps too, so an idle table shrinks without a timer. */
    gw_ratelimit_take(rl, KEY_B, 5, now + 2 * SEC, NULL);
    CHECK_INT_EQ(gw_ratelimit_count(rl), 1);
    gw_ratelimit_free(rl);
}

static void test_hard_cap_evicts_oldest(void)
{
    struct gw_ratelimit *rl = gw_ratelimit_new(1, 2, 3);
    uint64_t now = 1 * SEC;
    unsigned char key[5] = {4, 1, 1, 1, 0};
    for (int i = 0; i < 10; i++) {
        key[4] = (unsigned char)i;
        CHECK_INT_EQ(take_n(rl, key, 2, now), 2);
        CHECK(gw_ratelimit_count(rl) <= 3);
    }
    /* The most recent keys are still drained; the first one was forgotten, so it has a full
     * bucket again. */
    key[4] = 9;
    CHECK(!gw_ratelimit_take(rl, key, 5, now, NULL));
    key[4] = 0;
    CHECK_INT_EQ(take_n(rl, key, 3, now), 2);
    gw_ratelimit_free(rl);
}

static void test_keys(void)
{
    unsigned char a[GW_RATELIMIT_KEY_MAX], b[GW_RATELIMIT_KEY_MAX];
    size_t na = gw_ratelimit_key("203.0.113.7", a);
    size_t nb = gw_ratelimit_key("::ffff:203.0.113.7", b);
    CHECK_INT_EQ(na, 5);
    CHECK_MEM_EQ(a, na, b, nb);
    /* Two hosts of one IPv6 /64 share a key; another /64 does not. */
    na = gw_ratelimit_key("2001:db8:1:2::1", a);
    nb = gw_ratelimit_key("2001:db8:1:2:ffff::9", b);
    CHECK_INT_EQ(na, 9);
    CHECK_MEM_EQ(a, na, b, nb);
    nb = gw_ratelimit_key("2001:db8:1:3::1", b);
    CHECK(memcmp(a, b, 9) != 0);
    /* An IPv4 address and the IPv6 prefix that spells the same bytes differ by the tag. */
    na = gw_ratelimit_key("1.2.3.4", a);
    nb = gw_ratelimit_key("102:304::", b);
    CHECK(na != nb || memcmp(a, b, na) != 0);
    CHECK_INT_EQ(gw_ratelimit_key("localhost", a), 0);
    CHECK_INT_EQ(gw_ratelimit_key("", a), 0);
    CHECK_INT_EQ(gw_ratelimit_key("1.2.3.4.5", a), 0);
}

int main(void)
{
    RUN(test_burst_then_refused);
    RUN(test_refill_at_rate);
    RUN(test_retry_hint_is_honest);
    RUN(test_idle_buckets_expire);
    RUN(test_hard_cap_evicts_oldest);
    RUN(test_keys);
    return TEST_REPORT();
}
