/* ratelimit.c -- GCRA token buckets in an LRU-ordered hash map.
 *
 * A bucket of `burst` tokens refilled every `interval` microseconds is the same thing as a
 * theoretical arrival time (tat): an event at `now` conforms when tat - (burst - 1) * interval
 * <= now, and then moves tat to max(tat, now) + interval. tat <= now means the bucket is full,
 * which is when an entry may be forgotten without changing any future answer.
 *
 * Entries sit on a list in the order they were last used, so the oldest is first: expiry and
 * eviction only ever look at the head.
 */
#include "gw/ratelimit.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/hmap.h"
#include "gw/list.h"

struct bucket {
    struct gw_hmap_node by_key;
    struct gw_list_node lru;
    uint64_t tat;
    unsigned char key[GW_RATELIMIT_KEY_MAX];
    size_t keylen;
};

struct gw_ratelimit {
    struct gw_hmap map;
    struct gw_list_node lru; /* least recently used first */
    uint64_t interval_us;
    uint64_t tolerance_us; /* (burst - 1) * interval */
    size_t max_entries;
};

struct gw_ratelimit *gw_ratelimit_new(uint32_t rate, uint32_t burst, size_t max_entries)
{
    GW_ASSERT(rate > 0 && burst > 0 && max_entries > 0);
    struct gw_ratelimit *rl = gw_calloc(1, sizeof(*rl));
    gw_hmap_init(&rl->map);
    gw_list_init(&rl->lru);
    rl->interval_us = GW_MAX(1000000u / rate, 1u);
    rl->tolerance_us = (uint64_t)(burst - 1) * rl->interval_us;
    rl->max_entries = max_entries;
    return rl;
}

static void drop(struct gw_ratelimit *rl, struct bucket *b)
{
    gw_hmap_remove(&rl->map, &b->by_key);
    gw_list_unlink(&b->lru);
    free(b);
}

static struct bucket *oldest(struct gw_ratelimit *rl)
{
    return gw_list_empty(&rl->lru) ? NULL : GW_CONTAINER_OF(rl->lru.next, struct bucket, lru);
}

void gw_ratelimit_free(struct gw_ratelimit *rl)
{
    struct bucket *b;
    if (!rl)
        return;
    while ((b = oldest(rl)) != NULL)
        drop(rl, b);
    gw_hmap_fini(&rl->map);
    free(rl);
}

size_t gw_ratelimit_sweep(struct gw_ratelimit *rl, uint64_t now_us)
{
    struct bucket *b;
    size_t n = 0;
    /* Buckets used later refill later too (their tat is at most burst intervals ahead of their
     * last use), so stopping at the first one still draining leaves little behind. */
    while ((b = oldest(rl)) != NULL && b->tat <= now_us) {
        drop(rl, b);
        n++;
    }
    return n;
}

static struct bucket *lookup(struct gw_ratelimit *rl, const void *key, size_t keylen,
                             uint64_t now_us)
{
    struct gw_hmap_node *n = gw_hmap_find(&rl->map, key, keylen);
    if (n)
        return GW_CONTAINER_OF(n, struct bucket, by_key);
    if (rl->map.count >= rl->max_entries)
        drop(rl, oldest(rl));
    struct bucket *b = gw_calloc(1, sizeof(*b));
    memcpy(b->key, key, keylen);
    b->keylen = keylen;
    b->tat = now_us;
    gw_hmap_insert(&rl->map, &b->by_key, (const char *)b->key, keylen);
    gw_list_insert_tail(&rl->lru, &b->lru);
    return b;
}

bool gw_ratelimit_take(struct gw_ratelimit *rl, const void *key, size_t keylen, uint64_t now_us,
                       uint64_t *retry_after_us)
{
    GW_ASSERT(keylen > 0 && keylen <= GW_RATELIMIT_KEY_MAX);
    gw_ratelimit_sweep(rl, now_us); /* first: it may free any bucket whose tat has passed */
    struct bucket *b = lookup(rl, key, keylen, now_us);
    gw_list_unlink(&b->lru);
    gw_list_insert_tail(&rl->lru, &b->lru);

    uint64_t tat = GW_MAX(b->tat, now_us);
    if (tat > now_us + rl->tolerance_us) {
        if (retry_after_us)
            *retry_after_us = tat - rl->tolerance_us - now_us;
        return false;
    }
    b->tat = tat + rl->interval_us;
    return true;
}

size_t gw_ratelimit_count(const struct gw_ratelimit *rl)
{
    return rl->map.count;
}

size_t gw_ratelimit_key(const char *addr, unsigned char key[GW_RATELIMIT_KEY_MAX])
{
    unsigned char a[16];
    if (inet_pton(AF_INET, addr, a) == 1) {
        key[0] = 4;
        memcpy(key + 1, a, 4);
        return 5;
    }
    if (inet_pton(AF_INET6, addr, a) != 1)
        return 0;
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
        key[0] = 4;
        memcpy(key + 1, a + 12, 4);
        return 5;
    }
    key[0] = 6;
    memcpy(key + 1, a, 8);
    return 9;
}
