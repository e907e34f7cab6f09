/* hmap.h -- intrusive hash map from byte-string keys to embedded nodes.
 *
 * The node lives inside the caller's object and points at a key the object owns, so the map
 * itself never copies keys or allocates per entry; it only grows its bucket array (doubling at a
 * load factor of 1). Lookups, inserts and removals are O(1) on average. Keys are hashed with
 * a seeded FNV-1a variant; the seed is random per map so clients cannot aim collisions at it.
 *
 * Thread safety: none; a map belongs to one thread (the loop thread for sessions and users).
 */
#ifndef GW_HMAP_H
#define GW_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct gw_hmap_node {
    struct gw_hmap_node *next;
    uint64_t hash;
    const char *key; /* borrowed from the object that embeds the node */
    size_t keylen;
};

struct gw_hmap {
    struct gw_hmap_node **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    uint64_t seed;
};

void gw_hmap_init(struct gw_hmap *m);
/* Frees the bucket array; the nodes belong to their objects and are not touched. */
void gw_hmap_fini(struct gw_hmap *m);

/* Links node under key (borrowed: it must stay valid and unchanged while the node is linked).
 * The caller guarantees the key is not present yet. */
void gw_hmap_insert(struct gw_hmap *m, struct gw_hmap_node *node, const char *key, size_t keylen);
/* Returns the node for key, or NULL. */
struct gw_hmap_node *gw_hmap_find(const struct gw_hmap *m, const char *key, size_t keylen);
/* Unlinks a node that is in the map. */
void gw_hmap_remove(struct gw_hmap *m, struct gw_hmap_node *node);

#endif
