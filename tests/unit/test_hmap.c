/* test_hmap.c -- the intrusive hash map: many keys across several grows, keys that share
 * prefixes or differ only after a NUL byte, removal, and lookups on an empty map.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/hmap.h"
#include "test.h"

struct item {
    struct gw_hmap_node node;
    char key[32];
    size_t keylen;
    bool linked;
};

static struct item *item_of(struct gw_hmap_node *n)
{
    return n ? GW_CONTAINER_OF(n, struct item, node) : NULL;
}

static void test_empty_map(void)
{
    struct gw_hmap m;
    gw_hmap_init(&m);
    CHECK(gw_hmap_find(&m, "a", 1) == NULL);
    CHECK(gw_hmap_find(&m, "", 0) == NULL);
    CHECK(gw_hmap_find(&m, "\0", 1) == NULL);
    CHECK_INT_EQ(m.count, 0);
    gw_hmap_fini(&m);
}

/* 20000 keys force the 64 initial buckets to double many times; every key stays findable,
 * including after removals spread over the whole map. */
static void test_many_keys(void)
{
    enum { N = 20000 };
    struct item *items = gw_calloc(N, sizeof(*items));
    struct gw_hmap m;
    gw_hmap_init(&m);
    size_t initial_buckets = m.nbuckets;
    for (int i = 0; i < N; i++) {
        items[i].keylen = (size_t)snprintf(items[i].key, sizeof(items[i].key), "user-%d", i);
        gw_hmap_insert(&m, &items[i].node, items[i].key, items[i].keylen);
    }
    CHECK_INT_EQ(m.count, N);
    CHECK(m.nbuckets >= initial_buckets * 8);

    int missing = 0, wrong = 0;
    for (int i = 0; i < N; i++) {
        char key[32];
        size_t n = (size_t)snprintf(key, sizeof(key), "user-%d", i);
        struct item *it = item_of(gw_hmap_find(&m, key, n)); /* a different buffer, same bytes */
        missing += it == NULL;
        wrong += it && it != &items[i];
    }
    CHECK_INT_EQ(missing, 0);
    CHECK_INT_EQ(wrong, 0);
    CHECK(gw_hmap_find(&m, "user-20000", 10) == NULL);
    CHECK(gw_hmap_find(&m, "user-", 5) == NULL);

    /* remove every third key */
    for (int i = 0; i < N; i += 3)
        gw_hmap_remove(&m, &items[i].node);
    CHECK_INT_EQ(m.count, N - (N + 2) / 3);
    int found_removed = 0;
    missing = wrong = 0;
    for (int i = 0; i < N; i++) {
        struct item *it = item_of(gw_hmap_find(&m, items[i].key, items[i].keylen));
        if (i % 3 == 0) {
            found_removed += it != NULL;
        } else {
            missing += it == NULL;
            wrong += it && it != &items[i];
        }
    }
    CHECK_INT_EQ(found_removed, 0);
    CHECK_INT_EQ(missing, 0);
    CHECK_INT_EQ(wrong, 0);

    /* removed nodes can be inserted again */
    for (int i = 0; i < N; i += 3)
        gw_hmap_insert(&m, &items[i].node, items[i].key, items[i].keylen);
    CHECK_INT_EQ(m.count, N);
    missing = 0;
    for (int i = 0; i < N; i++)
        missing += item_of(gw_hmap_find(&m, items[i].key, items[i].keylen)) != &items[i];
    CHECK_INT_EQ(missing, 0);

    /* remove everything */
    for (int i = 0; i < N; i++)
        gw_hmap_remove(&m, &items[i].node);
    CHECK_INT_EQ(m.count, 0);
    int found = 0;
    for (int i = 0; i < N; i++)
        found += gw_hmap_find(&m, items[i].key, items[i].keylen) != NULL;
    CHECK_INT_EQ(found, 0);
    gw_hmap_fini(&m);
    free(items);
}

static void test_shared_prefixes(void)
{
    static const char *const keys[] = {"", "a", "ab", "abc", "abcd", "abcde", "b", "ba", "abd"};
    enum { N = GW_ARRAY_SIZE(keys) };
    struct item items[N];
    struct gw_hmap m;
    gw_hmap_init(&m);
    for (size_t i = 0; i < N; i++) {
        strcpy(items[i].key, keys[i]);
        items[i].keylen = strlen(keys[i]);
        gw_hmap_insert(&m, &items[i].node, items[i].key, items[i].keylen);
    }
    for (size_t i = 0; i < N; i++)
        CHECK(item_of(gw_hmap_find(&m, keys[i], strlen(keys[i]))) == &items[i]);
    /* keylen decides: a prefix of a stored key with the shorter length is that shorter key */
    CHECK(item_of(gw_hmap_find(&m, "abcdef", 3)) == &items[3]);
    CHECK(item_of(gw_hmap_find(&m, "abcdef", 0)) == &items[0]);
    CHECK(gw_hmap_find(&m, "abcdef", 6) == NULL);
    CHECK(gw_hmap_find(&m, "ac", 2) == NULL);

    gw_hmap_remove(&m, &items[3].node); /* "abc" */
    CHECK(gw_hmap_find(&m, "abc", 3) == NULL);
    CHECK(item_of(gw_hmap_find(&m, "ab", 2)) == &items[2]);
    CHECK(item_of(gw_hmap_find(&m, "abcd", 4)) == &items[4]);
    gw_hmap_remove(&m, &items[0].node); /* "" */
    CHECK(gw_hmap_find(&m, "", 0) == NULL);
    CHECK(item_of(gw_hmap_find(&m, "a", 1)) == &items[1]);
    gw_hmap_fini(&m);
}

static void test_embedded_nul(void)
{
    struct item items[5];
    static const struct {
        const char *key;
        size_t len;
    } keys[] = {
        {"a\0b", 3}, {"a\0c", 3}, {"a", 1}, {"a\0", 2}, {"\0\0\0", 3},
    };
    struct gw_hmap m;
    gw_hmap_init(&m);
    for (size_t i = 0; i < 5; i++) {
        memcpy(items[i].key, keys[i].key, keys[i].len);
        items[i].keylen = keys[i].len;
        gw_hmap_insert(&m, &items[i].node, items[i].key, items[i].keylen);
    }
    for (size_t i = 0; i < 5; i++)
        CHECK(item_of(gw_hmap_find(&m, keys[i].key, keys[i].len)) == &items[i]);
    CHECK(gw_hmap_find(&m, "a\0d", 3) == NULL);
    CHECK(gw_hmap_find(&m, "\0\0", 2) == NULL);
    CHECK(gw_hmap_find(&m, "\0", 1) == NULL);
    CHECK(gw_hmap_find(&m, "", 0) == NULL);

    gw_hmap_remove(&m, &items[0].node);
    CHECK(gw_hmap_find(&m, "a\0b", 3) == NULL);
    CHECK(item_of(gw_hmap_find(&m, "a\0c", 3)) == &items[1]);
    CHECK(item_of(gw_hmap_find(&m, "a\0", 2)) == &items[3]);
    CHECK_INT_EQ(m.count, 4);
    gw_hmap_fini(&m);
}

/* Random inserts and removals against a presence array, with binary keys. */
static void test_random_against_model(void)
{
    enum { N = 2000, OPS = 30000 };
    struct item *items = gw_calloc(N, sizeof(*items));
    struct gw_hmap m;
    gw_hmap_init(&m);
    uint64_t s = 0x853c49e6748fea9bull;
    for (int i = 0; i < N; i++) {
        /* distinct binary keys: the index in the first two bytes, random bytes after */
        items[i].keylen = 2 + (size_t)(i % 17);
        items[i].key[0] = (char)(i >> 8);
        items[i].key[1] = (char)i;
        for (size_t k = 2; k < items[i].keylen; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            items[i].key[k] = (char)(s >> 56);
        }
    }
    int bad = 0;
    size_t count = 0;
    for (int op = 0; op < OPS; op++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int i = (int)((s >> 33) % N);
        struct item *it = &items[i];
        struct item *found = item_of(gw_hmap_find(&m, it->key, it->keylen));
        bad += it->linked ? found != it : found != NULL;
        if (it->linked) {
            gw_hmap_remove(&m, &it->node);
            count--;
        } else {
            gw_hmap_insert(&m, &it->node, it->key, it->keylen);
            count++;
        }
        it->linked = !it->linked;
        bad += m.count != count;
    }
    CHECK_INT_EQ(bad, 0);
    gw_hmap_fini(&m);
    free(items);
}

/* Two maps have independent seeds and buckets; fini leaves the nodes alone. */
static void test_two_maps(void)
{
    struct item a, b;
    strcpy(a.key, "same");
    strcpy(b.key, "same");
    struct gw_hmap m1, m2;
    gw_hmap_init(&m1);
    gw_hmap_init(&m2);
    gw_hmap_insert(&m1, &a.node, a.key, 4);
    gw_hmap_insert(&m2, &b.node, b.key, 4);
    CHECK(item_of(gw_hmap_find(&m1, "same", 4)) == &a);
    CHECK(item_of(gw_hmap_find(&m2, "same", 4)) == &b);
    gw_hmap_remove(&m1, &a.node);
    CHECK(gw_hmap_find(&m1, "same", 4) == NULL);
    CHECK(item_of(gw_hmap_find(&m2, "same", 4)) == &b);
    gw_hmap_fini(&m1);
    gw_hmap_fini(&m2);
    CHECK_STR_EQ(b.key, "same");
}

int main(void)
{
    RUN(test_empty_map);
    RUN(test_many_keys);
    RUN(test_shared_prefixes);
    RUN(test_embedded_nul);
    RUN(test_random_against_model);
    RUN(test_two_maps);
    return TEST_REPORT();
}
