/* SPDX-License-Identifier: MIT */
/*
 * wait.c - the waits that flush, cancel and drain lines leave on their
 * open file, answered at close(2).
 *
 * A write never waits.  A line that must wait (flush of the queue, flush
 * NAME, cancel of a running instance, drain) arms an engine barrier and
 * records it on the open file (struct fwait in fh->waits); the write
 * returns.  The FUSE_FLUSH of a close(2) on that file (waits_flush) waits
 * for every barrier recorded there: it is parked, holding no thread and no
 * kernel inode lock, and answered when the last barrier fires.  An
 * interrupt withdraws the barriers left (wq_barrier_abort) and answers
 * EINTR.
 *
 * A barrier's callback runs on whatever thread ended the wait, possibly
 * with fs_lock held, so it only hands the wait to the resumer thread.
 * References: an fwait holds its fh and a hold on its work.  A drain wait
 * flushes its queue again until nothing is pending or running; while it
 * is recorded, q->draining counts it (fs_lock).
 */
#include <errno.h>

#include "wqfs.h"

static int n_armed;			/* atomic: barriers armed or resuming */

void waits_wait_unarmed(void)
{
	for (int i = 0; i < 5000 && __atomic_load_n(&n_armed, __ATOMIC_ACQUIRE); i++)
		g_usleep(1000);
}

/* ---- waits recorded on an open file --------------------------------------- */

struct fwait {
	struct wq_barrier bar;
	enum wait_kind kind;
	struct fh *fh;			/* ref */
	struct fsw *w;			/* a hold; NULL for the queue's flush */
	GList link;			/* fh->mu: in fh->waits while listed */
	bool listed;			/* fh->mu */
};

static void fwait_free(struct fwait *fw)
{
	if (fw->kind == WAIT_DRAIN) {
		pthread_mutex_lock(&fs_lock);
		fw->fh->q->draining--;
		pthread_mutex_unlock(&fs_lock);
	}
	fsw_hold(fw->w, -1);
	fh_unref(fw->fh);
	g_free(fw);
	__atomic_sub_fetch(&n_armed, 1, __ATOMIC_ACQ_REL);
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

static void free_waits(GSList *waits)
{
	g_slist_free_full(waits, (GDestroyNotify)fwait_free);
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

static void fwait_fired(struct wq_barrier *b, int result, void *data);

/* drain_workqueue: nothing pending or running (delayed works stay). */
static bool drained(struct workqueue_struct *wq)
{
	struct wq_stats st;
	wq_get_stats(wq, &st);
	return st.pending + st.running == 0;
}

/*
 * Arm fw's barrier.  A drain flushes until the queue is drained: works
 * its running works queued meanwhile are flushed too.  Returns 0 (the
 * callback comes), 1 (nothing to wait for) or -errno.
 */
static int fwait_arm_barrier(struct fwait *fw)
{
	struct fsw *w = fw->w;
	int r;

	switch (fw->kind) {
	case WAIT_FLUSH_QUEUE:
		return wq_flush_workqueue_async(fw->fh->q->wq, &fw->bar, fwait_fired, fw);
	case WAIT_FLUSH_WORK:
		return wq_flush_delayed_work_async(&w->dwork, &fw->bar, fwait_fired, fw);
	case WAIT_CANCEL:
		return wq_cancel_delayed_work_async(&w->dwork, &fw->bar, fwait_fired, fw);
	case WAIT_DRAIN:
		do
			r = wq_flush_workqueue_async(fw->fh->q->wq, &fw->bar, fwait_fired, fw);
		while (r > 0 && !drained(fw->fh->q->wq));
		return r;
	}
	return -EINVAL;
}

static void fwait_resume(void *arg, int result)
{
	struct fwait *fw = arg;
	if (fw->kind == WAIT_DRAIN && !drained(fw->fh->q->wq) &&
	    fwait_arm_barrier(fw) == 0)
		return;		/* flushed again: the callback comes */
	fwait_unlist(fw);
	fwait_free(fw);
}

static void fwait_fired(struct wq_barrier *b, int result, void *data)
{
	resumer_push(fwait_resume, data, result);
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
		if (wq_barrier_abort(&fw->bar)) {
			g_queue_unlink(&fh->waits, &fw->link);
			fw->listed = false;
			aborted = g_slist_prepend(aborted, fw);
		}
		l = next;
	}
	return aborted;
}

/*
 * Record a wait of kind on fh and arm its barrier.  Returns 0 (recorded,
 * or nothing to wait for) or -errno.
 */
int fwait_arm(struct fh *fh, struct fsw *w, enum wait_kind kind)
{
	struct fwait *fw = g_new0(struct fwait, 1);
	fw->kind = kind;
	__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&n_armed, 1, __ATOMIC_ACQ_REL);
	fw->fh = fh;
	fw->w = w;
	fw->link.data = fw;
	fsw_hold(w, 1);

	pthread_mutex_lock(&fh->mu);
	g_queue_push_tail_link(&fh->waits, &fw->link);
	fw->listed = true;
	pthread_mutex_unlock(&fh->mu);

	if (kind == WAIT_DRAIN) {
		pthread_mutex_lock(&fs_lock);
		fh->q->draining++;
		pthread_mutex_unlock(&fs_lock);
	}
	int r = fwait_arm_barrier(fw);
	if (r == 0)
		return 0;	/* fwait_fired was or will be called */
	fwait_unlist(fw);
	fwait_free(fw);
	return r < 0 ? (r == -ECANCELED ? -EBUSY : r) : 0;
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

