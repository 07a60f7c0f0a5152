/* SPDX-License-Identifier: MIT */
/*
 * wait.c - the waits that flush, cancel and drain lines leave on their
 * open file, answered at close(2).
 *
 * A write never waits.  A line that must wait arms a model wait
 * (model/wait.c) and records it on the open file (struct fwait in
 * fh->waits); the write returns.  The FUSE_FLUSH of a close(2) on that
 * file (waits_flush) waits for every wait recorded there: it is parked,
 * holding no thread and no kernel inode lock, and answered when the last
 * wait is done.  An interrupt withdraws the waits left (mwait_abort) and
 * answers EINTR.  An fwait holds a reference on its fh.
 */
#include <errno.h>

#include "wqfs.h"

struct fwait {
	struct mwait mw;		/* first: done() gets it */
	struct fh *fh;			/* ref */
	GList link;			/* fh->mu: in fh->waits while listed */
	bool listed;			/* fh->mu */
};

static void fwait_free(struct fwait *fw)
{
	fh_unref(fw->fh);
	g_free(fw);
}

/* The parked FUSE_FLUSH requests, taken; fh->mu held. */
static GSList *take_flushes(struct fh *fh)
{
	GSList *l = fh->flushes;
	fh->flushes = NULL;
	return l;
}

/* Answer parked FUSE_FLUSH requests; no lock held, not from their own
 * interrupt callback. */
static void answer_flushes(GSList *reqs, int err)
{
	for (GSList *l = reqs; l; l = l->next) {
		fuse_req_t req = l->data;
		fuse_req_interrupt_func(req, NULL, NULL);
		fuse_reply_err(req, err);
	}
	g_slist_free(reqs);
}

/* Release waits withdrawn before they were done. */
static void free_waits(GSList *waits)
{
	for (GSList *l = waits; l; l = l->next) {
		mwait_release(l->data);
		fwait_free(l->data);
	}
	g_slist_free(waits);
}

/* Unlist fw; if it was the last wait, answer the parked flushes. */
static void fwait_unlist(struct fwait *fw)
{
	struct fh *fh = fw->fh;
	GSList *done = NULL;

	pthread_mutex_lock(&fh->mu);
	if (fw->listed) {
		g_queue_unlink(&fh->waits, &fw->link);
		fw->listed = false;
	}
	if (g_queue_is_empty(&fh->waits))
		done = take_flushes(fh);
	pthread_mutex_unlock(&fh->mu);
	answer_flushes(done, 0);
}

/* The model's wait is done (resumer thread, no lock held): released
 * before the close it held is answered, so that a drain's close returns
 * with the queue no longer draining. */
static void fwait_done(struct mwait *mw)
{
	struct fwait *fw = (struct fwait *)mw;
	mwait_release(mw);
	fwait_unlist(fw);
	fwait_free(fw);
}

/* Withdraw every wait of fh that has not fired; returns them, unlisted.
 * fh->mu held (the engine never takes it). */
static GSList *abort_waits(struct fh *fh)
{
	GSList *aborted = NULL;
	GList *l = fh->waits.head;
	while (l) {
		GList *next = l->next;
		struct fwait *fw = l->data;
		if (mwait_abort(&fw->mw)) {
			g_queue_unlink(&fh->waits, &fw->link);
			fw->listed = false;
			aborted = g_slist_prepend(aborted, fw);
		}
		l = next;
	}
	return aborted;
}

int fwait_arm(struct mwriter *m, struct mwork *w, int kind)
{
	struct fh *fh = m->data;
	struct fwait *fw = g_new0(struct fwait, 1);
	fw->mw = (struct mwait){ .kind = kind, .q = fh->q, .w = w, .done = fwait_done };
	__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
	fw->fh = fh;
	fw->link.data = fw;

	pthread_mutex_lock(&fh->mu);
	g_queue_push_tail_link(&fh->waits, &fw->link);
	fw->listed = true;
	pthread_mutex_unlock(&fh->mu);

	int r = mwait_arm(&fw->mw);
	if (r == 0)
		return 0;	/* fwait_done was or will be called */
	fwait_unlist(fw);
	fwait_free(fw);
	return r < 0 ? r : 0;
}

static void flush_intr(fuse_req_t req, void *data)
{
	struct fh *fh = data;

	pthread_mutex_lock(&fh->mu);
	GSList *l = g_slist_find(fh->flushes, req);
	if (!l) {
		/* not parked yet (waits_flush checks), or answered */
		pthread_mutex_unlock(&fh->mu);
		return;
	}
	fh->flushes = g_slist_delete_link(fh->flushes, l);
	GSList *aborted = abort_waits(fh);
	GSList *others = g_queue_is_empty(&fh->waits) ? take_flushes(fh) : NULL;
	pthread_mutex_unlock(&fh->mu);
	fuse_reply_err(req, EINTR);
	answer_flushes(others, 0);
	free_waits(aborted);
}

/* FUSE_FLUSH, sent at every close(2): wait for the waits writes on this
 * open file recorded. */
void waits_flush(fuse_req_t req, struct fh *fh)
{
	pthread_mutex_lock(&fh->mu);
	bool none = g_queue_is_empty(&fh->waits);
	pthread_mutex_unlock(&fh->mu);
	if (none) {
		fuse_reply_err(req, 0);
		return;
	}
	/* An interrupt before the request is parked calls flush_intr, which
	 * finds nothing: fuse_req_interrupted() below catches it. */
	fuse_req_interrupt_func(req, flush_intr, fh);
	GSList *aborted = NULL, *others = NULL;
	int err = 0;
	pthread_mutex_lock(&fh->mu);
	if (g_queue_is_empty(&fh->waits)) {
		err = 0;
	} else if (fuse_req_interrupted(req)) {
		err = EINTR;
		aborted = abort_waits(fh);
		if (g_queue_is_empty(&fh->waits))
			others = take_flushes(fh);
	} else {
		fh->flushes = g_slist_prepend(fh->flushes, req);
		pthread_mutex_unlock(&fh->mu);
		return;
	}
	pthread_mutex_unlock(&fh->mu);
	fuse_req_interrupt_func(req, NULL, NULL);
	fuse_reply_err(req, err);
	answer_flushes(others, 0);
	free_waits(aborted);
}

/* The file is closed (release) or the daemon exits: withdraw its waits
 * and answer flushes still parked. */
void waits_close(struct fh *fh)
{
	pthread_mutex_lock(&fh->mu);
	GSList *aborted = abort_waits(fh);
	GSList *reqs = take_flushes(fh);
	pthread_mutex_unlock(&fh->mu);
	answer_flushes(reqs, EINTR);
	free_waits(aborted);
}

