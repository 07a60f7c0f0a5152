/* SPDX-License-Identifier: MIT */
/*
 * log.c - the journal file: each record, as it is queued, is copied into
 * a memory-mapped, preallocated file (PATH.log) beside the SQLite
 * database, so a change is as safe from a crash of the daemon as the page
 * cache once its copy is done; the writer thread applies the records to
 * SQLite later, many to a transaction.  With sync=full a waiter has the
 * log written to disk instead of waiting for SQLite's fsync.
 *
 * Record: { u32 len, u32 crc32 of seq and payload, u64 seq } then len bytes,
 * padded to 8.  Sequence numbers go up by one across the daemon's life and
 * its restarts; the database keeps the last one applied (table meta).
 *
 * With sync=full the records are put together in anonymous memory (a copy
 * of the file, from the start on) and the pages from the last one on disk
 * to the tail are written with one O_DIRECT|O_DSYNC pwrite at each sync.
 * An msync of a shared mapping costs more (the page cache's write-back,
 * write-protecting the pages with a TLB shootdown, and a fault at the
 * next store into each): about a fifth of the throughput of 16 writers
 * here.  What is not written is not acknowledged yet.  Where the file
 * system refuses O_DIRECT, the mapping and msync.
 *
 * The file is two halves, filled in turn: records go to one half from its
 * start, each following the previous one's seq (a chain), until the next
 * does not fit; then to the other half, once every record in it is
 * applied, from its start again.  So a writer that never pauses keeps
 * its records in the log (a single region could start again only when
 * everything logged was applied, and under load never is).  When all is
 * applied the log starts again at the first half.  Replay at start
 * applies the two chains in the order of their first records (each ends
 * at the first record that is torn (crc), empty, or out of sequence: what
 * an earlier lap left behind is older, hence out of sequence), the
 * records beyond the applied one and beyond those replayed already.
 *
 * Locking: s->mu guards the tail and the sequence (log_append is called
 * under it); the mapping and its size are set before any thread starts.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

#define LOG_SIZE	(8u << 20)	/* preallocated, at most an eighth of the free space */
#define LOG_MIN		(64u << 10)	/* below: no log, a commit per change */
#define LOG_RELEASE	(1u << 20)	/* a rewind from this far gives the pages back */

struct log_hdr {
	uint32_t len;
	uint32_t crc;
	uint64_t seq;
};

/* ---- records to bytes and back --------------------------------------------------- */

#define NIL	UINT32_MAX		/* the length of a NULL string or blob */

static void put(GByteArray *b, const void *p, size_t n)
{
	g_byte_array_append(b, p, (guint)n);
}

static void put_int(GByteArray *b, int64_t v)
{
	put(b, &v, sizeof v);
}

static void put_mem(GByteArray *b, const void *p, size_t n, bool null)
{
	uint32_t len = null ? NIL : (uint32_t)n;
	put(b, &len, sizeof len);
	if (!null)
		put(b, p, n);
}

static void put_str(GByteArray *b, const char *s)
{
	put_mem(b, s, s ? strlen(s) : 0, !s);
}

static void put_bytes(GByteArray *b, GBytes *g)
{
	gsize n = 0;
	const void *p = g ? g_bytes_get_data(g, &n) : NULL;
	put_mem(b, p, n, !g);
}

/* The integer fields of a record, in the order they are written. */
#define REC_INTS(r) { &(r)->creator, &(r)->ctime, &(r)->sub, &(r)->uid, &(r)->gid,	\
		      &(r)->owner, &(r)->order, &(r)->due_ms, &(r)->runs,		\
		      &(r)->queued_ms, &(r)->started_ms, &(r)->finished_ms,	\
		      &(r)->completed, &(r)->failed, &(r)->cancelled }
#define REC_SMALL(r) { &(r)->unbound, &(r)->max_active, &(r)->nice, &(r)->frozen,	\
		       &(r)->requeue_lost, &(r)->anon, &(r)->state, &(r)->has_exit,	\
		       &(r)->last_exit }

#define REC_BYTES(r) { &(r)->groups, &(r)->env, &(r)->limits, &(r)->output }

static void rec_encode(GByteArray *b, const struct rec *r)
{
	int64_t *ints[] = REC_INTS((struct rec *)r);
	int *small[] = REC_SMALL((struct rec *)r);
	put_int(b, r->op);
	for (size_t i = 0; i < G_N_ELEMENTS(ints); i++)
		put_int(b, *ints[i]);
	for (size_t i = 0; i < G_N_ELEMENTS(small); i++)
		put_int(b, *small[i]);
	char **strs[] = REC_STRS((struct rec *)r);
	GBytes **bytes[] = REC_BYTES((struct rec *)r);
	for (size_t i = 0; i < G_N_ELEMENTS(strs); i++)
		put_str(b, *strs[i]);
	for (size_t i = 0; i < G_N_ELEMENTS(bytes); i++)
		put_bytes(b, *bytes[i]);
}

/* A reader of bytes that fails (sets bad) rather than overruns. */
struct cursor {
	const char *p, *end;
	bool bad;
};

static const void *take(struct cursor *c, size_t n)
{
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return NULL;
	}
	const void *p = c->p;
	c->p += n;
	return p;
}

static int64_t take_int(struct cursor *c)
{
	int64_t v = 0;
	const void *p = take(c, sizeof v);
	if (p)
		memcpy(&v, p, sizeof v);
	return v;
}

static const void *take_mem(struct cursor *c, uint32_t *len)
{
	const void *p = take(c, sizeof *len);
	if (!p)
		return NULL;
	memcpy(len, p, sizeof *len);
	return *len == NIL ? NULL : take(c, *len);
}

static char *take_str(struct cursor *c)
{
	uint32_t len;
	const char *p = take_mem(c, &len);
	return p ? g_strndup(p, len) : NULL;
}

static GBytes *take_bytes(struct cursor *c)
{
	uint32_t len;
	const void *p = take_mem(c, &len);
	return p ? g_bytes_new(p, len) : NULL;
}

static struct rec *rec_decode(const char *p, size_t n)
{
	struct cursor c = { p, p + n, false };
	struct rec *r = g_new0(struct rec, 1);
	int64_t *ints[] = REC_INTS(r);
	int *small[] = REC_SMALL(r);
	r->op = (enum rec_op)take_int(&c);
	for (size_t i = 0; i < G_N_ELEMENTS(ints); i++)
		*ints[i] = take_int(&c);
	for (size_t i = 0; i < G_N_ELEMENTS(small); i++)
		*small[i] = (int)take_int(&c);
	char **strs[] = REC_STRS(r);
	GBytes **bytes[] = REC_BYTES(r);
	for (size_t i = 0; i < G_N_ELEMENTS(strs); i++)
		*strs[i] = take_str(&c);
	for (size_t i = 0; i < G_N_ELEMENTS(bytes); i++)
		*bytes[i] = take_bytes(&c);
	if (c.bad || r->op >= REC_NOPS || (r->op != REC_SUB_PUT && !r->queue)) {
		rec_free(r);
		return NULL;
	}
	return r;
}

/* ---- the file --------------------------------------------------------------------- */

static uint32_t hdr_crc(uint64_t seq, const void *payload, size_t len)
{
	uLong crc = crc32(0L, (const Bytef *)&seq, sizeof seq);
	return (uint32_t)crc32(crc, payload, (uInt)len);
}

static size_t page_down(size_t n)
{
	return n & ~(size_t)4095;
}

static size_t page_up(size_t n)
{
	return page_down(n + 4095);
}

/* A new log's size: LOG_SIZE, or an eighth of the free space if less. */
static size_t new_size(int fd)
{
	struct statvfs v;
	if (fstatvfs(fd, &v) < 0)
		return LOG_SIZE;
	uint64_t free8 = (uint64_t)v.f_bavail * v.f_frsize / 8;
	return free8 < LOG_SIZE ? page_down((size_t)free8) : LOG_SIZE;
}

/* Write size zero bytes into a new log: written blocks, unlike
 * fallocate's, need no journal commit of the file system when a write-out
 * (sync=full) writes them again.  0 or an errno. */
static int zero_fill(int fd, size_t size)
{
	static const char zeros[64 << 10];
	for (size_t off = 0; off < size; off += sizeof zeros) {
		size_t n = MIN(sizeof zeros, size - off);
		if (pwrite(fd, zeros, n, (off_t)off) != (ssize_t)n)
			return errno ? errno : ENOSPC;
	}
	return fdatasync(fd) < 0 ? errno : 0;
}

/* Map PATH.log, preallocated so that a store into it never faults on a
 * full disk; smaller while the disk refuses.  0, or -errno: no log. */
int log_open(struct store *s)
{
	g_autofree char *path = g_strconcat(s->path, ".log", NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	off_t have = lseek(fd, 0, SEEK_END);
	size_t size = have >= (off_t)LOG_MIN ? (size_t)have : new_size(fd);
	int err = size < LOG_MIN ? ENOSPC : have >= (off_t)LOG_MIN ? 0 : zero_fill(fd, size);
	void *map = err ? MAP_FAILED : mmap(NULL, size, PROT_READ | PROT_WRITE,
					    MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		int e = err ? err : errno;
		close(fd);
		if (e != ENOSPC)
			fprintf(stderr, "wqfs: %s: %s; committing each change instead\n",
				path, strerror(e));
		return -e;
	}
	s->log_fd = fd;
	s->log_dfd = -1;
	s->log = map;
	s->log_size = size;
	s->log_half = page_down(size / 2);
	s->log_buf = g_byte_array_sized_new(256);
	return 0;
}

void log_close(struct store *s)
{
	if (!s->log)
		return;
	munmap(s->log, s->log_size);
	free(s->log_bounce);
	if (s->log_dfd >= 0)
		close(s->log_dfd);
	close(s->log_fd);
	g_byte_array_unref(s->log_buf);
	s->log = NULL;
}

/* The pages [from, to) were filled: they leave the daemon's RSS (those of
 * the file stay in the page cache; the next records fault them back in). */
static void log_release(struct store *s, size_t from, size_t to)
{
	to = page_down(to);
	if (to > from && to - from >= LOG_RELEASE)
		madvise(s->log + from, to - from, MADV_DONTNEED);
}

/* The half that holds offset off, and where half h starts. */
static int half_of(const struct store *s, size_t off)
{
	return off >= s->log_half;
}

static size_t half_start(const struct store *s, int h)
{
	return h ? s->log_half : 0;
}

/* Whether need bytes fit in the half of the tail (and an empty header to
 * end the chain). */
static bool log_fits(const struct store *s, size_t need)
{
	size_t end = half_start(s, half_of(s, s->log_tail)) + s->log_half;
	return s->log_tail + need + sizeof(struct log_hdr) <= end;
}

/* Whether every record in the half the tail is not in is applied. */
static bool other_half_free(const struct store *s)
{
	return s->log_last[!half_of(s, s->log_tail)] <= s->applied_seq;
}

bool log_room(struct store *s, size_t need)
{
	return s->log && (log_fits(s, need) ||
			  (need + sizeof(struct log_hdr) <= s->log_half && other_half_free(s)));
}

/* Leave the half the tail is in for the other one (other_half_free()),
 * from its start.  A range of the half left that is not on disk yet goes
 * to the next write-out (sync=full).  s->mu held. */
static void log_switch(struct store *s)
{
	int from = half_of(s, s->log_tail), to = !from;
	s->log_old = s->log_synced < s->log_tail ?
		(struct log_range){ s->log_synced, s->log_tail } : (struct log_range){ 0, 0 };
	/* the anonymous copy's pages not on disk are records still */
	log_release(s, half_start(s, from), s->log_dfd < 0 ? s->log_tail : s->log_synced);
	s->log_tail = s->log_synced = half_start(s, to);
	s->log_last[to] = 0;
	s->log_lap++;
}

/* Copy r into the log as record seq; s->mu held.  false: no room (or no
 * log), and r is left to a commit of its own. */
bool log_append(struct store *s, const struct rec *r, uint64_t seq)
{
	if (!s->log)
		return false;
	GByteArray *b = s->log_buf;	/* one per store, reused: s->mu */
	g_byte_array_set_size(b, 0);
	rec_encode(b, r);
	size_t need = sizeof(struct log_hdr) + rec_align(b->len);
	if (!log_fits(s, need)) {
		if (!log_room(s, need))
			return false;
		log_switch(s);
	}
	struct log_hdr h = { (uint32_t)b->len, hdr_crc(seq, b->data, b->len), seq };
	char *at = s->log + s->log_tail;
	memcpy(at + sizeof h, b->data, b->len);
	memcpy(at, &h, sizeof h);
	s->log_tail += need;
	s->log_last[half_of(s, s->log_tail - need)] = seq;
	s->log_last_seq = seq;
	return true;
}

/* Everything logged is applied (with sync=full, to a database on disk):
 * start again at the first half, its pages released.  s->mu held. */
void log_rewind(struct store *s)
{
	log_release(s, half_start(s, half_of(s, s->log_tail)), s->log_tail);
	s->log_tail = 0;
	s->log_synced = 0;
	s->log_old = (struct log_range){ 0, 0 };
	s->log_last[0] = s->log_last[1] = 0;
	s->log_synced_seq = s->log_last_seq;
	s->log_lap++;
}

/* sync=full: records go to an anonymous copy of the file from now on,
 * written with O_DIRECT|O_DSYNC; else (or if refused) the mapping. */
static void log_shadow(struct store *s)
{
	if (s->log_size % 4096)
		return;		/* O_DIRECT writes whole pages */
	g_autofree char *path = g_strconcat(s->path, ".log", NULL);
	int dfd = open(path, O_WRONLY | O_DIRECT | O_DSYNC | O_CLOEXEC);
	if (dfd < 0)
		return;
	void *shadow = mmap(NULL, s->log_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shadow == MAP_FAILED) {
		close(dfd);
		return;
	}
	munmap(s->log, s->log_size);
	s->log = shadow;
	s->log_dfd = dfd;
}

void log_restarted(struct store *s)
{
	if (!s->log)
		return;
	madvise(s->log, s->log_size, MADV_DONTNEED);	/* what the replay read */
	if (s->sync_full)
		log_shadow(s);
	s->applied_seq = s->log_last_seq = s->seq_base;
	log_rewind(s);
}

/* Bytes of the log to write out: len from src (the bounce copy, or the
 * mapping itself) to offset at, in whole pages. */
struct log_out {
	const char *src;
	size_t at, len;
};

/* Room for n bytes in the bounce buffer; 0 or -ENOMEM.  s->mu held. */
static int bounce_room(struct store *s, size_t n)
{
	if (n <= s->log_bounce_size)
		return 0;
	size_t size = MAX(n, 2 * s->log_bounce_size);
	void *p;
	if (posix_memalign(&p, 4096, size) != 0)
		return -ENOMEM;
	free(s->log_bounce);
	s->log_bounce = p;
	s->log_bounce_size = size;
	return 0;
}

/*
 * The ranges r[0..n) of the log staged for a write-out, into out[], s->mu
 * held.  With O_DIRECT their pages are copied into the bounce buffer, the
 * end of each last page zero: the write reads nothing the appends that
 * follow meanwhile (past r.to, under s->mu) write into.  With msync the
 * kernel reads the mapping.  0 or -ENOMEM.
 */
static int log_stage(struct store *s, const struct log_range *r, struct log_out *out, int n)
{
	size_t need = 0, used = 0;
	for (int i = 0; i < n; i++)
		need += r[i].to > r[i].from ? page_up(r[i].to) - page_down(r[i].from) : 0;
	if (s->log_dfd >= 0 && bounce_room(s, need) < 0)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		size_t from = page_down(r[i].from);
		size_t len = r[i].to > r[i].from ? r[i].to - from : 0;
		out[i] = (struct log_out){ s->log + from, from, len };
		if (s->log_dfd < 0 || !len)
			continue;
		char *copy = s->log_bounce + used;
		memcpy(copy, out[i].src, len);
		out[i].src = copy;
		out[i].len = page_up(r[i].to) - from;
		memset(copy + len, 0, out[i].len - len);
		used += out[i].len;
	}
	return 0;
}

/* A staged range on disk.  0 or -errno. */
static int log_write_out(struct store *s, const struct log_out *o)
{
	if (!o->len)
		return 0;
	if (s->log_dfd < 0)
		return msync((void *)o->src, o->len, MS_SYNC) < 0 ? -errno : 0;
	for (size_t done = 0; done < o->len;) {
		ssize_t n = pwrite(s->log_dfd, o->src + done, o->len - done,
				   (off_t)(o->at + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/*
 * sync=full: the log on disk up to record want, by group commit: one
 * thread at a time writes out what is past what is on disk (the end of a
 * half left, then the half in use), up to the tail as it finds it; the
 * writers that appended meanwhile wait for it and then, if their records
 * are past what it wrote, one of them (or the flusher) leads the next
 * round.  (Each writer writing its own page or two makes every write
 * wait for the previous one's of the same page: a round per writer.)  A
 * rewind means all was committed to the database, which sync=full syncs.
 * s->mu held; dropped meanwhile.
 */
int log_sync(struct store *s, uint64_t want)
{
	while (s->log && s->log_synced_seq < want) {
		if (s->log_syncing) {
			pthread_cond_wait(&s->log_synced_cond, &s->mu);
			continue;
		}
		/* the end of a half left, then the half in use */
		struct log_range rs[2] = { s->log_old, { s->log_synced, s->log_tail } };
		struct log_out out[2];
		uint64_t upto = s->log_last_seq, lap = s->log_lap;
		int r = log_stage(s, rs, out, 2);
		if (r < 0)
			return r;
		s->log_old = (struct log_range){ 0, 0 };
		s->log_syncing = true;
		pthread_mutex_unlock(&s->mu);
		r = log_write_out(s, &out[0]);
		if (r == 0)
			r = log_write_out(s, &out[1]);
		pthread_mutex_lock(&s->mu);
		s->log_syncing = false;
		s->log_syncs++;
		pthread_cond_broadcast(&s->log_synced_cond);
		if (r < 0) {
			if (lap == s->log_lap && rs[0].to > rs[0].from)
				s->log_old = rs[0];	/* not on disk yet */
			return r;
		}
		s->log_synced_seq = MAX(s->log_synced_seq, upto);
		if (lap == s->log_lap)
			s->log_synced = MAX(s->log_synced, rs[1].to);
	}
	return 0;
}

/* The valid record at off below end, or NULL. */
static const struct log_hdr *record_at(const struct store *s, size_t off, size_t end)
{
	static_assert(sizeof(struct log_hdr) % 8 == 0, "records stay aligned");
	if (off + sizeof(struct log_hdr) > end)
		return NULL;
	const struct log_hdr *h = (const void *)(s->log + off);
	if (h->len == 0 || h->len > end - off - sizeof *h ||
	    hdr_crc(h->seq, h + 1, h->len) != h->crc)
		return NULL;
	return h;
}

/* Apply the chain of records at off past *last (the applied one, then
 * the last replayed); it may run on to the end of the file (a log of a
 * wqfs that had no halves).  0, or the first error of fn. */
static int chain_replay(struct store *s, size_t off, uint64_t *last,
			int (*fn)(struct store *, struct rec *), uint64_t *seen)
{
	const struct log_hdr *h;
	uint64_t prev = 0;
	int err = 0;
	while (!err && (h = record_at(s, off, s->log_size)) && (!prev || h->seq == prev + 1)) {
		struct rec *r = h->seq > *last ? rec_decode((const char *)(h + 1), h->len) : NULL;
		if (h->seq > *last && !r)
			break;
		if (r) {
			r->seq = h->seq;
			r->logged = true;
			err = fn(s, r);
			*last = h->seq;
		}
		prev = h->seq;
		*seen = MAX(*seen, prev);
		off += sizeof *h + rec_align(h->len);
	}
	return err;
}

/* The records of the log that follow seq applied, in order: fn on each
 * (it takes the record); *last is the last seq seen.  0, or the first
 * error of fn. */
int log_replay(struct store *s, uint64_t applied,
	       int (*fn)(struct store *, struct rec *), uint64_t *lastp)
{
	*lastp = 0;
	if (!s->log)
		return 0;
	const struct log_hdr *h0 = record_at(s, 0, s->log_half);
	const struct log_hdr *h1 = record_at(s, s->log_half, s->log_size);
	bool second_first = h1 && (!h0 || h1->seq < h0->seq);
	size_t first = second_first ? s->log_half : 0, then = second_first ? 0 : s->log_half;
	uint64_t last = applied;
	int err = chain_replay(s, first, &last, fn, lastp);
	if (!err)
		err = chain_replay(s, then, &last, fn, lastp);
	return err;
}
