/* registry.h -- which sockets belong to which user.
 *
 * Each socket embeds a struct gw_registry_link, so adding and removing are O(1) and allocate
 * only for a user's first socket. A user may hold at most max_per_user sockets (tabs and
 * devices); adding one more evicts the oldest through the evict callback, which must close that
 * socket (and so remove it).
 *
 * Iteration is safe against the removal of the socket being visited: a callback may close the
 * socket it is given (a slow consumer, say), but no other socket of that user.
 *
 * Thread safety: the loop thread only.
 */
#ifndef GW_REGISTRY_H
#define GW_REGISTRY_H

#include <stddef.h>

#include "gw/list.h"

struct gw_registry;
struct gw_registry_user;

struct gw_registry_link {
    struct gw_list_node node;      /* in the user's socket list, oldest first */
    struct gw_registry_user *user; /* NULL when not registered */
    void *owner;                   /* the socket this link belongs to (borrowed) */
};

typedef void gw_registry_fn(void *owner, void *ud);

/* Returns a new registry. evict (called with the evicted link's owner) must close it. */
struct gw_registry *gw_registry_new(int max_per_user, gw_registry_fn *evict, void *ud);
/* Frees the registry; every link must have been removed. */
void gw_registry_free(struct gw_registry *r);

/* Registers owner under user[0..len) through its link (borrowed until removed). */
void gw_registry_add(struct gw_registry *r, struct gw_registry_link *link, const char *user,
                     size_t len, void *owner);
/* Unregisters the link; a no-op when it is not registered. */
void gw_registry_remove(struct gw_registry *r, struct gw_registry_link *link);

/* Calls fn(owner, ud) for every socket of the user, oldest first; returns how many. */
size_t gw_registry_foreach(struct gw_registry *r, const char *user, size_t len, gw_registry_fn *fn,
                           void *ud);

size_t gw_registry_user_count(const struct gw_registry *r);
size_t gw_registry_socket_count(const struct gw_registry *r);
/* The user id a registered link is under (borrowed, NUL-terminated, valid while it stays
 * registered), its length in *len; NULL when the link is not registered. */
const char *gw_registry_link_user(const struct gw_registry_link *link, size_t *len);
/* How many sockets the user has (0 when unknown). */
size_t gw_registry_sockets_of(const struct gw_registry *r, const char *user, size_t len);

#endif
