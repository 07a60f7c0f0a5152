/* SPDX-License-Identifier: MIT */
/*
 * fence.c - what a node of a cluster does when its lease ran out (the
 * others call it dead and run its works elsewhere): it kills every work
 * it runs.  And the load it reports in its lease: running works, slots.
 */
#include <stdio.h>

#include "internal.h"

/* Kill the works q runs on this node; how many.  Model lock held. */
static unsigned long fence_queue(struct mqueue *q)
{
	unsigned long n = 0;
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, q->works);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct mwork *w = v;
		if (mwork_runs(w)) {
			mwork_kill(w);
			n++;
		}
	}
	return n;
}

unsigned long model_fence(void)
{
	unsigned long n = 0;
	GHashTableIter it;
	gpointer k, v;
	model_lock();
	g_hash_table_iter_init(&it, queues_by_name);
	while (g_hash_table_iter_next(&it, &k, &v))
		n += fence_queue(v);
	model_unlock();
	fprintf(stderr, "wqfs: lost the database for 9 s: killed %lu running works\n", n);
	return n;
}

void model_node_load(uint64_t *running, uint64_t *slots)
{
	GHashTableIter it;
	gpointer k, v;
	model_assert_locked();
	*running = *slots = 0;
	g_hash_table_iter_init(&it, queues_by_name);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct mqueue *q = v;
		struct wq_stats st;
		wq_get_stats(q->wq, &st);
		*running += st.running;
		*slots += (uint64_t)wq_max_active(q->wq);
	}
}
