/* SPDX-License-Identifier: MIT */
/*
 * recpool.c - the memory of the records that wait for their commit.
 *
 * In a burst (a million delayed works written in 64 KiB writes) records
 * are queued faster than SQLite applies them, and hundreds of thousands
 * wait at once.  Made with malloc, each record and its strings would sit
 * between the new works' allocations of the same thread, and once freed
 * leave holes that stay in the daemon's RSS (about 40 B a work at 1M).
 * So a queued record is packed, with its strings, into chunks of its own:
 * records go in in queueing order and mostly leave in it, and a chunk is
 * unmapped when the last record in it is freed.
 *
 * Locking: s->mu guards the chunk being filled (recpool_pack is called
 * under it); a chunk's count of records is atomic, since rec_free runs
 * under s->mu or alone at close.  The chunk being filled holds one count
 * itself, so it is never unmapped while records still go into it.
 */
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define CHUNK_SIZE	(256u << 10)
#define PACK_MAX	(CHUNK_SIZE / 8)	/* larger records stay as made */

static int mapped;		/* atomic: chunks, every store's */

struct recchunk {
	int live;		/* atomic: records in it, + 1 while filled */
	size_t used;		/* s->mu: bytes given, the header included */
};

static void chunk_put(struct recchunk *c)
{
	if (__atomic_sub_fetch(&c->live, 1, __ATOMIC_ACQ_REL) == 0) {
		munmap(c, CHUNK_SIZE);
		__atomic_sub_fetch(&mapped, 1, __ATOMIC_RELAXED);
	}
}

static struct recchunk *chunk_new(void)
{
	void *p = mmap(NULL, CHUNK_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	struct recchunk *c = p;
	__atomic_add_fetch(&mapped, 1, __ATOMIC_RELAXED);
	c->live = 1;
	c->used = rec_align(sizeof *c);
	return c;
}

/* n bytes of the chunk being filled, or NULL.  s->mu held. */
static void *chunk_take(struct store *s, size_t n)
{
	struct recchunk *c = s->recchunk;
	if (!c || c->used + n > CHUNK_SIZE) {
		struct recchunk *next = chunk_new();
		if (!next)
			return NULL;
		if (c)
			chunk_put(c);
		s->recchunk = c = next;
	}
	void *p = (char *)c + c->used;
	c->used += rec_align(n);
	__atomic_add_fetch(&c->live, 1, __ATOMIC_RELAXED);
	return p;
}

/* r in the pool, its strings after it; r itself is freed (its GBytes move
 * to the copy).  r again if it is too large or no chunk can be had.
 * s->mu held. */
struct rec *recpool_pack(struct store *s, struct rec *r)
{
	char **strs[] = REC_STRS(r);
	size_t n = sizeof *r;
	for (size_t i = 0; i < G_N_ELEMENTS(strs); i++)
		n += *strs[i] ? strlen(*strs[i]) + 1 : 0;
	char *p = n <= PACK_MAX ? chunk_take(s, n) : NULL;
	if (!p)
		return r;
	struct rec *copy = memcpy(p, r, sizeof *r);
	char **to[] = REC_STRS(copy);
	p += sizeof *r;
	for (size_t i = 0; i < G_N_ELEMENTS(strs); i++) {
		if (!*strs[i])
			continue;
		size_t len = strlen(*strs[i]) + 1;
		*to[i] = memcpy(p, *strs[i], len);
		p += len;
		g_free(*strs[i]);
	}
	copy->chunk = s->recchunk;
	g_free(r);
	return copy;
}

void recpool_free(struct rec *r)
{
	chunk_put(r->chunk);
}

int recpool_chunks(void)
{
	return __atomic_load_n(&mapped, __ATOMIC_RELAXED);
}

/* The chunk being filled, at close.  s->mu held or alone. */
void recpool_close(struct store *s)
{
	if (s->recchunk)
		chunk_put(s->recchunk);
	s->recchunk = NULL;
}
