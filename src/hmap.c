/* hmap.c -- intrusive chained hash map. */
#include "gw/hmap.h"

#include <stdlib.h>
#include <string.h>

#include "gw/common.h"

static uint64_t hash_key(uint64_t seed, const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ull;
    }
    /* final avalanche so the low bits used for the bucket index depend on every byte */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

void gw_hmap_init(struct gw_hmap *m)
{
    m->nbuckets = 64;
    m->buckets = gw_calloc(m->nbuckets, sizeof(*m->buckets));
    m->count = 0;
    gw_random_bytes(&m->seed, sizeof(m->seed));
}

void gw_hmap_fini(struct gw_hmap *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = m->count = 0;
}

static void grow(struct gw_hmap *m)
{
    size_t n = m->nbuckets * 2;
    struct gw_hmap_node **b = gw_calloc(n, sizeof(*b));
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct gw_hmap_node *node = m->buckets[i];
        while (node) {
            struct gw_hmap_node *next = node->next;
            size_t idx = node->hash & (n - 1);
            node->next = b[idx];
            b[idx] = node;
            node = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void gw_hmap_insert(struct gw_hmap *m, struct gw_hmap_node *node, const char *key, size_t keylen)
{
    if (m->count >= m->nbuckets)
        grow(m);
    node->key = key;
    node->keylen = keylen;
    node->hash = hash_key(m->seed, key, keylen);
    size_t idx = node->hash & (m->nbuckets - 1);
    node->next = m->buckets[idx];
    m->buckets[idx] = node;
    m->count++;
}

struct gw_hmap_node *gw_hmap_find(const struct gw_hmap *m, const char *key, size_t keylen)
{
    uint64_t h = hash_key(m->seed, key, keylen);
    for (struct gw_hmap_node *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next) {
        if (n->hash == h && n->keylen == keylen && memcmp(n->key, key, keylen) == 0)
            return n;
    }
    return NULL;
}

void gw_hmap_remove(struct gw_hmap *m, struct gw_hmap_node *node)
{
    struct gw_hmap_node **pp = &m->buckets[node->hash & (m->nbuckets - 1)];
    while (*pp && *pp != node)
        pp = &(*pp)->next;
    GW_ASSERT(*pp == node);
    *pp = node->next;
    node->next = NULL;
    m->count--;
}
