/* list.h -- intrusive doubly-linked list.
 *
 * A struct gw_list_node is embedded in the object that sits on the list, so linking and unlinking
 * are O(1) and allocate nothing. A list head is a node pointing at itself when empty.
 *
 * Thread safety: none; a list belongs to the thread that owns its objects.
 */
#ifndef GW_LIST_H
#define GW_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct gw_list_node {
    struct gw_list_node *prev, *next;
};

static inline void gw_list_init(struct gw_list_node *head)
{
    head->prev = head->next = head;
}

static inline bool gw_list_empty(const struct gw_list_node *head)
{
    return head->next == head;
}

/* A node that is on no list has NULL links (zeroed memory qualifies). */
static inline bool gw_list_linked(const struct gw_list_node *node)
{
    return node->next != NULL;
}

static inline void gw_list_insert_tail(struct gw_list_node *head, struct gw_list_node *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void gw_list_unlink(struct gw_list_node *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
}

#define gw_list_foreach_safe(pos, tmp, head)                                                       \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                               \
         (pos) = (tmp), (tmp) = (pos)->next)

#endif
