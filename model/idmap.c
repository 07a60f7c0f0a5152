/* SPDX-License-Identifier: MIT */
/*
 * idmap.c - the works by id.  Ids are handed out in order (work.c), so
 * the works live in pages of IDPAGE consecutive ids, the pages in a table
 * by page number; a page goes with its last work.  Where ids are dense
 * (a million works queued one after the other) that is 8 B a work, a
 * third of a hash table's slots for each; a page that keeps a single
 * work costs 520 B.
 *
 * Locking: the model lock.
 */
#include "internal.h"

#define IDPAGE_SHIFT	6
#define IDPAGE		(1u << IDPAGE_SHIFT)

struct idpage {
	unsigned int live;		/* slots not NULL */
	struct mwork *slot[IDPAGE];
};

static GHashTable *pages;		/* page number -> struct idpage */

void idmap_init(void)
{
	pages = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
}

void idmap_fini(void)
{
	g_hash_table_destroy(pages);
}

static gpointer page_key(uint64_t id)
{
	return GSIZE_TO_POINTER((gsize)(id >> IDPAGE_SHIFT));
}

struct mwork *mwork_by_id(uint64_t id)
{
	struct idpage *p = g_hash_table_lookup(pages, page_key(id));
	return p ? p->slot[id & (IDPAGE - 1)] : NULL;
}

void idmap_put(struct mwork *w)
{
	struct idpage *p = g_hash_table_lookup(pages, page_key(w->id));
	if (!p) {
		p = g_new0(struct idpage, 1);
		g_hash_table_insert(pages, page_key(w->id), p);
	}
	p->slot[w->id & (IDPAGE - 1)] = w;
	p->live++;
}

void idmap_remove(struct mwork *w)
{
	struct idpage *p = g_hash_table_lookup(pages, page_key(w->id));
	if (!p || p->slot[w->id & (IDPAGE - 1)] != w)
		return;
	p->slot[w->id & (IDPAGE - 1)] = NULL;
	if (--p->live == 0)
		g_hash_table_remove(pages, page_key(w->id));
}
