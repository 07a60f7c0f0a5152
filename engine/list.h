/* SPDX-License-Identifier: MIT */
/*
 * list.h - the engine's intrusive lists, over struct wq_node (workqueue.h):
 * circular lists with a sentinel head, as the kernel's list_head, and
 * NULL-terminated lists headed by a pointer, as its hlist, for heads that
 * must be valid when zeroed (in a caller's work_struct).  A node whose
 * pointers are NULL is on no list.  No lock: the lists' owners guard them.
 */
#ifndef WQ_LIST_H
#define WQ_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "workqueue.h"

#define WQ_LIST_HEAD_INIT(name)	{ &(name), &(name) }

/* ---- circular lists with a sentinel head ------------------------------- */

static inline void list_init(struct wq_node *head)
{
	head->prev = head->next = head;
}

static inline bool list_empty(const struct wq_node *head)
{
	return head->next == head;
}

static inline void list_add_between(struct wq_node *node, struct wq_node *prev,
				    struct wq_node *next)
{
	node->prev = prev;
	node->next = next;
	prev->next = node;
	next->prev = node;
}

static inline void list_add_tail(struct wq_node *node, struct wq_node *head)
{
	list_add_between(node, head->prev, head);
}

static inline void list_add_head(struct wq_node *node, struct wq_node *head)
{
	list_add_between(node, head, head->next);
}

static inline void list_del(struct wq_node *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->prev = node->next = NULL;
}

/* Put new_node where old is; old leaves the list. */
static inline void list_replace(struct wq_node *old, struct wq_node *new_node)
{
	list_add_between(new_node, old->prev, old->next);
	old->prev = old->next = NULL;
}

#define list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* ---- NULL-terminated lists headed by a pointer (zero-init friendly) ---- */

static inline void hlist_add(struct wq_node **head, struct wq_node *node)
{
	node->prev = NULL;
	node->next = *head;
	if (*head)
		(*head)->prev = node;
	*head = node;
}

static inline void hlist_del(struct wq_node **head, struct wq_node *node)
{
	if (node->prev)
		node->prev->next = node->next;
	else
		*head = node->next;
	if (node->next)
		node->next->prev = node->prev;
	node->prev = node->next = NULL;
}

#endif /* WQ_LIST_H */
