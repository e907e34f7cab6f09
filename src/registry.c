/* registry.c -- userId -> sockets index with a per-user cap. */
#include "gw/registry.h"

#include <stdlib.h>
#include <string.h>

#include "gw/common.h"
#include "gw/hmap.h"

struct gw_registry_user {
    struct gw_hmap_node by_id;
    struct gw_list_node sockets;
    size_t count;
    unsigned pins; /* iterations in progress: the entry must outlive them */
    size_t len;
    char id[]; /* the key, NUL-terminated */
};

struct gw_registry {
    struct gw_hmap users;
    size_t sockets;
    size_t max_per_user;
    gw_registry_fn *evict;
    void *ud;
};

struct gw_registry *gw_registry_new(int max_per_user, gw_registry_fn *evict, void *ud)
{
    struct gw_registry *r = gw_calloc(1, sizeof(*r));
    gw_hmap_init(&r->users);
    r->max_per_user = max_per_user > 0 ? (size_t)max_per_user : 1;
    r->evict = evict;
    r->ud = ud;
    return r;
}

void gw_registry_free(struct gw_registry *r)
{
    if (!r)
        return;
    GW_ASSERT(r->users.count == 0);
    gw_hmap_fini(&r->users);
    free(r);
}

static struct gw_registry_user *find_user(const struct gw_registry *r, const char *id, size_t len)
{
    struct gw_hmap_node *n = gw_hmap_find(&r->users, id, len);
    return n ? GW_CONTAINER_OF(n, struct gw_registry_user, by_id) : NULL;
}

static void drop_if_unused(struct gw_registry *r, struct gw_registry_user *u)
{
    if (u->count || u->pins)
        return;
    gw_hmap_remove(&r->users, &u->by_id);
    free(u);
}

void gw_registry_add(struct gw_registry *r, struct gw_registry_link *link, const char *user,
                     size_t len, void *owner)
{
    GW_ASSERT(!link->user);
    struct gw_registry_user *u = find_user(r, user, len);
    if (!u) {
        u = gw_calloc(1, sizeof(*u) + len + 1);
        memcpy(u->id, user, len);
        u->len = len;
        gw_list_init(&u->sockets);
        gw_hmap_insert(&r->users, &u->by_id, u->id, len);
    }
    link->owner = owner;
    link->user = u;
    gw_list_insert_tail(&u->sockets, &link->node);
    u->count++;
    r->sockets++;

    /* Over the cap: close the oldest sockets. Pinned, so the entry survives the evictions. */
    u->pins++;
    while (u->count > r->max_per_user) {
        struct gw_registry_link *oldest =
            GW_CONTAINER_OF(u->sockets.next, struct gw_registry_link, node);
        size_t before = u->count;
        r->evict(oldest->owner, r->ud);
        /* Closing the socket removed and freed its link: do not touch it again. If it did not
         * (the socket could not be closed), unlink it here so the loop ends. */
        if (u->count == before)
            gw_registry_remove(r, oldest);
    }
    u->pins--;
    drop_if_unused(r, u);
}

void gw_registry_remove(struct gw_registry *r, struct gw_registry_link *link)
{
    struct gw_registry_user *u = link->user;
    if (!u)
        return;
    gw_list_unlink(&link->node);
    link->user = NULL;
    u->count--;
    r->sockets--;
    drop_if_unused(r, u);
}

size_t gw_registry_foreach(struct gw_registry *r, const char *user, size_t len, gw_registry_fn *fn,
                           void *ud)
{
    struct gw_registry_user *u = find_user(r, user, len);
    if (!u)
        return 0;
    size_t n = 0;
    struct gw_list_node *pos, *next;
    u->pins++;
    gw_list_foreach_safe(pos, next, &u->sockets)
    {
        fn(GW_CONTAINER_OF(pos, struct gw_registry_link, node)->owner, ud);
        n++;
    }
    u->pins--;
    drop_if_unused(r, u);
    return n;
}

size_t gw_registry_user_count(const struct gw_registry *r)
{
    return r->users.count;
}

size_t gw_registry_socket_count(const struct gw_registry *r)
{
    return r->sockets;
}

size_t gw_registry_sockets_of(const struct gw_registry *r, const char *user, size_t len)
{
    struct gw_registry_user *u = find_user(r, user, len);
    return u ? u->count : 0;
}

const char *gw_registry_link_user(const struct gw_registry_link *link, size_t *len)
{
    if (!link->user)
        return NULL;
    *len = link->user->len;
    return link->user->id;
}
