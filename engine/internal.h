/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what workqueue.c and timer.c share; not for engine users.
 *
 * Locking: ONE engine lock, wq_lock, guards every queue, pool, worker,
 * work, barrier and timer-heap field.  One lock is simple and obviously
 * correct; the engine's critical sections are short (list and heap
 * operations), and funcs, observer and barrier callbacks always run with
 * it released.
 */
#ifndef WQ_INTERNAL_H
#define WQ_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workqueue.h"

#define NSEC_PER_SEC	1000000000ULL

/* work->flags */
#define WORK_STRUCT_PENDING	(1U << 0)	/* on a worklist, scheduled list or timer */
#define WORK_STRUCT_TIMER	(1U << 1)	/* delayed work in the timer heap */

extern pthread_mutex_t wq_lock;

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* ---- circular lists with a sentinel head ---------------------------- */

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

/* Put new where old is; old leaves the list. */
static inline void list_replace(struct wq_node *old, struct wq_node *new_node)
{
	list_add_between(new_node, old->prev, old->next);
	old->prev = old->next = NULL;
}

/* ---- NULL-terminated lists headed by a pointer (zero-init friendly) --- */

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

/* ---- timer.c ------------------------------------------------------------ */

int wq_timer_start(void);
void wq_timer_stop(void);
/* Arm or re-key dwork for deadline_ns; wq_lock held.  0 or -ENOMEM. */
int wq_timer_arm(struct delayed_work *dwork, uint64_t deadline_ns);
/* Take an armed dwork out of the heap; wq_lock held. */
void wq_timer_disarm(struct delayed_work *dwork);

/* ---- workqueue.c, called by the timer thread ----------------------------- */

/* The timer of dwork expired (already out of the heap): queue it now. */
void wq_delayed_work_timer_fn(struct delayed_work *dwork);
/* Release wq_lock, then deliver this thread's events and barrier ends. */
void wq_unlock(void);

#endif /* WQ_INTERNAL_H */
