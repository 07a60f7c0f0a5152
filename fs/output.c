/* SPDX-License-Identifier: MIT */
/*
 * output.c - reads of a work's output and follow files, from the bytes its
 * command keeps (the last max_output, engine/command-output.c), at offsets
 * of all the run wrote.
 *
 * works/W/output is a file of the run's real size: its size grows while
 * the run prints (tail -f follows it) and starts again at 0 with the next
 * run (tail says the file was truncated).  Bytes the run wrote before the
 * kept ones read as NUL bytes ending in one line "wqfs: N bytes of output
 * before this were not kept", so that every kept byte stays at its offset.
 *
 * works/W/follow streams one run: the running one, else the one queued
 * (pending or delayed), else the latest; a read at the end of a running
 * run's output parks (fh.c's fh_read: no thread held) until more comes or
 * the run ends, then EOF.  A follower that fell behind the kept bytes
 * gets the "wqfs: ..." line and goes on at the oldest kept byte.
 *
 * Waking: every change of a work (model_changed) and every chunk of its
 * output call follow_watch(wid), which hands each parked follower of wid
 * to the resumer once (fh->parked, under follow_lock).  A reader sets
 * fh->parked before it looks for bytes, so none comes unnoticed between.
 */
#include <errno.h>
#include <string.h>

#include "wqfs.h"

static pthread_mutex_t follow_lock = PTHREAD_MUTEX_INITIALIZER;
static GQueue followers;		/* follow_lock: open follow files */

/* wq_command_output_at() of w's command; a work that never ran has none
 * (model/work.c makes it at the first run): no output. */
static size_t output_at(struct mwork *w, uint64_t off, char *buf, size_t size,
			uint64_t *start, uint64_t *total)
{
	if (!w->ran) {
		*start = *total = 0;
		return 0;
	}
	return wq_command_output_at(&w->ran->cmd, off, buf, size, start, total);
}

uint64_t output_size(struct mwork *w)
{
	uint64_t total = 0;
	if (w->ran)
		wq_command_output(&w->ran->cmd, NULL, 0, &total);
	return total;
}

/* The line that stands for the start bytes no longer kept. */
static int cut_note(char *note, size_t len, uint64_t start)
{
	return g_snprintf(note, len, "wqfs: %llu bytes of output before this were not kept\n",
			  (unsigned long long)start);
}

/* Bytes [off, off + len) of the part of the output no longer kept, [0,
 * start): NULs, then the note in its last bytes when it fits. */
static size_t cut_bytes(char *buf, uint64_t off, size_t len, uint64_t start)
{
	char note[96];
	uint64_t l = (uint64_t)cut_note(note, sizeof note, start);
	uint64_t note_at = start >= l ? start - l : start;
	size_t n = start - off < len ? (size_t)(start - off) : len;

	for (size_t i = 0; i < n; i++)
		buf[i] = off + i >= note_at ? note[off + i - note_at] : '\0';
	return n;
}

/* Output bytes of w from offset off into buf: kept ones, or those of the
 * cut part.  Model lock held. */
static size_t output_bytes(struct mwork *w, uint64_t off, char *buf, size_t size)
{
	uint64_t start, total;
	size_t n = output_at(w, off, buf, size, &start, &total);
	if (n == 0 && off < start)
		n = cut_bytes(buf, off, size, start);
	return n;
}

/* ---- follow ----------------------------------------------------------------- */

void follow_open(struct fh *fh, struct mwork *w)
{
	enum mwork_state s = mwork_state(w);
	fh->follow_run = mwork_nruns(w);
	/* queued, or taken by a worker but not started: the coming run;
	 * running, or a run that just ended: that run */
	if (!w->running && mwork_state_busy(s) && !(s == MW_RUNNING && w->finishing))
		fh->follow_run++;
	pthread_mutex_lock(&follow_lock);
	g_queue_push_tail(&followers, fh);
	fh->follow_link = followers.tail;
	pthread_mutex_unlock(&follow_lock);
}

void follow_close(struct fh *fh)
{
	pthread_mutex_lock(&follow_lock);
	if (fh->follow_link)
		g_queue_delete_link(&followers, fh->follow_link);
	fh->follow_link = NULL;
	fh->parked = false;
	pthread_mutex_unlock(&follow_lock);
}

/* The next bytes of fh's run from fh->fpos: a cut note when they are no
 * longer kept, 0 at its end (EOF), -EAGAIN while it has not started or
 * still runs.  Model lock held. */
static ssize_t follow_bytes(struct fh *fh, struct mwork *w, char *buf, size_t size)
{
	if (mwork_nruns(w) < fh->follow_run)	/* not started */
		return mwork_state_busy(mwork_state(w)) ? -EAGAIN : 0;
	if (mwork_nruns(w) > fh->follow_run)	/* a later run has replaced it */
		return 0;
	uint64_t start, total;
	size_t n = output_at(w, fh->fpos, buf, size, &start, &total);
	if (n == 0 && fh->fpos < start) {
		char note[96];
		n = (size_t)cut_note(note, sizeof note, start - fh->fpos);
		n = n < size ? n : size;
		memcpy(buf, note, n);
		fh->fpos = start;
		return (ssize_t)n;
	}
	fh->fpos += n;
	return n ? (ssize_t)n : w->running ? -EAGAIN : 0;
}

/* fh_try_fn of follow files; fh->mu held. */
static ssize_t follow_try(struct fh *fh, char *buf, size_t size)
{
	pthread_mutex_lock(&follow_lock);
	fh->parked = fh->follow_link != NULL;	/* before looking: see above */
	pthread_mutex_unlock(&follow_lock);
	model_lock();
	struct mwork *w = mwork_lookup_id(fh->wid);
	ssize_t n = w ? follow_bytes(fh, w, buf, size) : 0;
	model_unlock();
	return n;
}

static void follow_wake(void *arg, int unused)
{
	struct fh *fh = arg;
	fh_wake_read(fh, follow_try);
	fh_unref(fh);
}

void follow_watch(uint64_t wid)
{
	pthread_mutex_lock(&follow_lock);
	for (GList *l = followers.head; l; l = l->next) {
		struct fh *fh = l->data;
		if (fh->wid != wid || !fh->parked)
			continue;
		fh->parked = false;
		__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
		if (!resumer_push(follow_wake, fh, 0))
			__atomic_sub_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
	}
	pthread_mutex_unlock(&follow_lock);
}

/* ---- reads -------------------------------------------------------------------- */

void output_read(fuse_req_t req, struct fh *fh, size_t size, off_t off)
{
	if (nodes[fh->kind].arg) {
		fh_read(req, fh, size, follow_try);
		return;
	}
	char *buf = g_malloc(size ? size : 1);
	size_t n = 0;
	model_lock();
	struct mwork *w = mwork_lookup_id(fh->wid);
	if (w && off >= 0)
		n = output_bytes(w, (uint64_t)off, buf, size);
	model_unlock();
	fuse_reply_buf(req, buf, n);
	g_free(buf);
}
