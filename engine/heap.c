// SPDX-License-Identifier: MIT
/*
 * heap.c - a binary min-heap of embedded nodes (see heap.h).
 *
 * nodes[i]->index == i + 1 for every node in the heap, always: every move
 * goes through heap_set().  The array grows by doubling and gives memory
 * back after a burst, keeping room to grow again.
 */
#include <errno.h>
#include <stdlib.h>

#include "heap.h"

#define HEAP_MIN_CAP	64

static void heap_set(struct heap *heap, size_t i, struct heap_node *node)
{
	heap->nodes[i] = node;
	node->index = i + 1;
}

static bool heap_less(const struct heap *heap, size_t a, size_t b)
{
	return heap->less(heap->nodes[a], heap->nodes[b]);
}

static void heap_swap(struct heap *heap, size_t a, size_t b)
{
	struct heap_node *tmp = heap->nodes[a];

	heap_set(heap, a, heap->nodes[b]);
	heap_set(heap, b, tmp);
}

static size_t heap_sift_up(struct heap *heap, size_t i)
{
	while (i > 0 && heap_less(heap, i, (i - 1) / 2)) {
		heap_swap(heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return i;
}

static void heap_sift_down(struct heap *heap, size_t i)
{
	for (;;) {
		size_t least = i, left = 2 * i + 1, right = left + 1;

		if (left < heap->len && heap_less(heap, left, least))
			least = left;
		if (right < heap->len && heap_less(heap, right, least))
			least = right;
		if (least == i)
			return;
		heap_swap(heap, i, least);
		i = least;
	}
}

/* Restore order around position i after its key changed. */
static void heap_fix(struct heap *heap, size_t i)
{
	if (heap_sift_up(heap, i) == i)
		heap_sift_down(heap, i);
}

static int heap_resize(struct heap *heap, size_t cap)
{
	struct heap_node **nodes = realloc(heap->nodes, cap * sizeof(*nodes));

	if (!nodes)
		return -ENOMEM;
	heap->nodes = nodes;
	heap->cap = cap;
	return 0;
}

int heap_insert(struct heap *heap, struct heap_node *node)
{
	if (heap->len == heap->cap &&
	    heap_resize(heap, heap->cap ? 2 * heap->cap : HEAP_MIN_CAP))
		return -ENOMEM;
	heap_set(heap, heap->len++, node);
	heap_sift_up(heap, heap->len - 1);
	return 0;
}

void heap_remove(struct heap *heap, struct heap_node *node)
{
	size_t i = node->index - 1;

	node->index = 0;
	if (--heap->len != i) {
		heap_set(heap, i, heap->nodes[heap->len]);
		heap_fix(heap, i);
	}
	/* A failed shrink keeps the bigger array: nothing is lost. */
	if (heap->cap > HEAP_MIN_CAP && heap->len < heap->cap / 4)
		heap_resize(heap, heap->cap / 2);
}

void heap_update(struct heap *heap, struct heap_node *node)
{
	heap_fix(heap, node->index - 1);
}

struct heap_node *heap_pop(struct heap *heap)
{
	struct heap_node *node = heap_peek(heap);

	if (node)
		heap_remove(heap, node);
	return node;
}

void heap_destroy(struct heap *heap)
{
	free(heap->nodes);
	heap->nodes = NULL;
	heap->len = heap->cap = 0;
}
