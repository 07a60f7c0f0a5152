/* SPDX-License-Identifier: MIT */
/*
 * heap.h - a binary min-heap of nodes embedded in their owners.
 *
 * As with the kernel's lists, the owner embeds a struct heap_node and the
 * heap holds pointers to those nodes; each node remembers where it is, so
 * insert, remove-anywhere and re-key after a key change are O(log n), and
 * the heap costs one pointer per node.  Order comes from a comparison
 * callback over two nodes (container_of() gets their owners).  A heap has
 * no lock: its user guards it.
 */
#ifndef WQ_HEAP_H
#define WQ_HEAP_H

#include <stdbool.h>
#include <stddef.h>

struct heap_node {
	size_t index;			/* 1 + position in its heap; 0: none,
					 * so a zeroed node is in no heap */
};

/* True if a should come out of the heap before b. */
typedef bool (*heap_less_fn)(const struct heap_node *a,
			     const struct heap_node *b);

struct heap {
	struct heap_node **nodes;	/* nodes[0] is the least */
	size_t len;
	size_t cap;
	heap_less_fn less;
};

#define HEAP_INIT(less_fn)	{ .less = (less_fn) }

static inline bool heap_node_queued(const struct heap_node *node)
{
	return node->index != 0;
}

static inline bool heap_empty(const struct heap *heap)
{
	return heap->len == 0;
}

/* The least node, or NULL when the heap is empty. */
static inline struct heap_node *heap_peek(const struct heap *heap)
{
	return heap->len ? heap->nodes[0] : NULL;
}

/* Add node (in no heap); 0, or -ENOMEM and the heap is unchanged. */
int heap_insert(struct heap *heap, struct heap_node *node);
/* Take node (in this heap) out. */
void heap_remove(struct heap *heap, struct heap_node *node);
/* Restore order after the key of node (in this heap) changed. */
void heap_update(struct heap *heap, struct heap_node *node);
/* Take the least node out and return it, or NULL when empty. */
struct heap_node *heap_pop(struct heap *heap);
/* Free the heap's array; the nodes still in it are left as they are. */
void heap_destroy(struct heap *heap);

#endif /* WQ_HEAP_H */
