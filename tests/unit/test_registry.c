/* Unit tests for the user registry: counts, O(1) removal, the per-user cap evicting the oldest
 * (whose link the eviction frees, as the gateway's does), and iteration that closes sockets. */
#include <stdlib.h>
#include <string.h>

#include "gw/registry.h"
#include "test.h"

/* A socket of the test: owns its link, like the gateway's member struct. */
struct sock {
    struct gw_registry_link link;
    int id;
    int evicted;
};

struct world {
    struct gw_registry *r;
    int evictions;
    int last_evicted;
};

/* Eviction closes the socket: it leaves the registry and its memory is freed. */
static void evict(void *owner, void *ud)
{
    struct world *w = ud;
    struct sock *s = owner;
    w->evictions++;
    w->last_evicted = s->id;
    gw_registry_remove(w->r, &s->link);
    free(s);
}

static struct sock *add(struct world *w, const char *user, int id)
{
    struct sock *s = calloc(1, sizeof(*s));
    s->id = id;
    gw_registry_add(w->r, &s->link, user, strlen(user), s);
    return s;
}

static void record(void *owner, void *ud)
{
    int *ids = ud;
    struct sock *s = owner;
    ids[++ids[0]] = s->id;
}

static void test_counts_and_removal(void)
{
    struct world w = {0};
    w.r = gw_registry_new(32, evict, &w);
    struct sock *a1 = add(&w, "alice", 1), *a2 = add(&w, "alice", 2), *b1 = add(&w, "bob", 3);
    CHECK_INT_EQ(gw_registry_user_count(w.r), 2);
    CHECK_INT_EQ(gw_registry_socket_count(w.r), 3);
    CHECK_INT_EQ(gw_registry_sockets_of(w.r, "alice", 5), 2);
    CHECK_INT_EQ(gw_registry_sockets_of(w.r, "alic", 4), 0); /* length matters */

    gw_registry_remove(w.r, &a1->link);
    gw_registry_remove(w.r, &a1->link); /* idempotent */
    CHECK_INT_EQ(gw_registry_sockets_of(w.r, "alice", 5), 1);
    gw_registry_remove(w.r, &a2->link);
    CHECK_INT_EQ(gw_registry_user_count(w.r), 1); /* alice is gone entirely */
    gw_registry_remove(w.r, &b1->link);
    CHECK_INT_EQ(gw_registry_socket_count(w.r), 0);
    CHECK_INT_EQ(w.evictions, 0);
    free(a1), free(a2), free(b1);
    gw_registry_free(w.r);
}

static void test_cap_evicts_oldest_only(void)
{
    struct world w = {0};
    w.r = gw_registry_new(3, evict, &w);
    struct sock *other = add(&w, "bob", 100);
    for (int i = 1; i <= 3; i++)
        add(&w, "carol", i);
    CHECK_INT_EQ(w.evictions, 0);
    for (int i = 4; i <= 10; i++) {
        add(&w, "carol", i);
        CHECK_INT_EQ(w.evictions, i - 3);
        CHECK_INT_EQ(w.last_evicted, i - 3); /* always the oldest */
        CHECK_INT_EQ(gw_registry_sockets_of(w.r, "carol", 5), 3);
    }
    CHECK_INT_EQ(gw_registry_sockets_of(w.r, "bob", 3), 1);
    int ids[8] = {0};
    gw_registry_foreach(w.r, "carol", 5, record, ids);
    CHECK_INT_EQ(ids[0], 3);
    CHECK_INT_EQ(ids[1], 8);
    CHECK_INT_EQ(ids[2], 9);
    CHECK_INT_EQ(ids[3], 10);
    /* drain carol through eviction-like closes during iteration */
    gw_registry_foreach(w.r, "carol", 5, evict, &w);
    CHECK_INT_EQ(gw_registry_sockets_of(w.r, "carol", 5), 0);
    CHECK_INT_EQ(gw_registry_user_count(w.r), 1);
    gw_registry_remove(w.r, &other->link);
    free(other);
    gw_registry_free(w.r);
}

/* A cap of one: every new socket evicts the previous one, and the user entry survives the
 * moment its count touches zero inside gw_registry_add. */
static void test_cap_of_one(void)
{
    struct world w = {0};
    w.r = gw_registry_new(1, evict, &w);
    struct sock *last = NULL;
    for (int i = 1; i <= 50; i++)
        last = add(&w, "dave", i);
    CHECK_INT_EQ(w.evictions, 49);
    CHECK_INT_EQ(gw_registry_socket_count(w.r), 1);
    CHECK_INT_EQ(gw_registry_user_count(w.r), 1);
    gw_registry_remove(w.r, &last->link);
    free(last);
    gw_registry_free(w.r);
}

static void test_foreach_unknown_user(void)
{
    struct world w = {0};
    w.r = gw_registry_new(2, evict, &w);
    int ids[4] = {0};
    CHECK_INT_EQ(gw_registry_foreach(w.r, "nobody", 6, record, ids), 0);
    CHECK_INT_EQ(ids[0], 0);
    gw_registry_free(w.r);
}

int main(void)
{
    RUN(test_counts_and_removal);
    RUN(test_cap_evicts_oldest_only);
    RUN(test_cap_of_one);
    RUN(test_foreach_unknown_user);
    return TEST_REPORT();
}
