/* SPDX-License-Identifier: MIT */
/*
 * jiqfile.c - reads of `jiqwq` and `jiqwqdelay`: one jiq run (jiq.c) per
 * read at offset 0, whose page answers the parked read.
 *
 * Lifetime rules (each one closes a use-after-free):
 * - A run holds a reference on its fh from its start until jiq_done()
 *   returns or a cancel succeeds, so the callback never sees a freed fh.
 * - The struct wqfs_jiq belongs to the fh: it is freed by the cancel that
 *   stopped it, by the next run, or by fh_free(); never by jiq_done(),
 *   which runs inside the run's own step.
 * - fh->jiq_mu serialises starting and cancelling runs, so a canceller
 *   never touches a run that the next read has freed.  jiq_done() does
 *   not take it (a canceller waits for the running step while holding
 *   it), only fh->mu.
 * - A canceller holds its own fh reference.  Nothing here calls
 *   fuse_req_interrupt_func() with a lock held (libfuse calls the
 *   interrupt callback with the request's lock held).
 */
#include <errno.h>
#include <string.h>

#include "wqfs.h"

/* The run's page is ready: keep it for reads at offset > 0 and answer the
 * parked read.  On the worker, inside the run's last step. */
static void jiq_done(const char *text, size_t len, void *data)
{
	struct fh *fh = data;

	pthread_mutex_lock(&fh->mu);
	g_free(fh->text);
	fh->text = g_memdup2(text, len);
	fh->len = len;
	fh->jiq_state = JIQ_DONE;
	fuse_req_t req = fh_take_read(fh);
	size_t n = fh->rsize < len ? fh->rsize : len;
	char *copy = req ? g_memdup2(text, n) : NULL;
	pthread_mutex_unlock(&fh->mu);
	if (req)
		fuse_reply_buf(req, copy, n);
	g_free(copy);
	fh_unref(fh);		/* the run's reference */
}

/*
 * Stop fh's run, if one is running, and answer its parked read with err.
 * If the run is finishing instead, jiq_done() answers.  No lock held; the
 * caller holds a reference on fh.
 */
void jiqfile_stop(struct fh *fh, int err)
{
	pthread_mutex_lock(&fh->jiq_mu);
	pthread_mutex_lock(&fh->mu);
	struct wqfs_jiq *jiq = fh->jiq_state == JIQ_RUNNING ? fh->jiq : NULL;
	pthread_mutex_unlock(&fh->mu);
	if (jiq && wqfs_jiq_cancel(jiq)) {
		pthread_mutex_lock(&fh->mu);
		fh->jiq = NULL;
		fh->jiq_state = JIQ_NONE;
		fuse_req_t req = fh_take_read(fh);
		pthread_mutex_unlock(&fh->mu);
		wqfs_jiq_free(jiq);
		if (req)
			fuse_reply_err(req, err);
		fh_unref(fh);	/* the run's reference */
	}
	pthread_mutex_unlock(&fh->jiq_mu);
}

void jiqfile_free(struct fh *fh)
{
	wqfs_jiq_free(fh->jiq);
	pthread_mutex_destroy(&fh->jiq_mu);
}

static void jiq_intr_stop(void *arg, int err)
{
	jiqfile_stop(arg, err);
	fh_unref(arg);
}

/* Interrupt of a parked read (Ctrl-C): cancel the run, answer EINTR.
 * The cancel waits for a step that may be running: the resumer does it,
 * not this callback (libfuse calls it with its own lock held). */
static void jiq_intr(fuse_req_t req, void *data)
{
	struct fh *fh = data;

	pthread_mutex_lock(&fh->mu);
	bool parked = fh->rreq == req;
	if (!parked)
		fh->intr_req = req;	/* the read answers EINTR itself */
	else
		__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&fh->mu);
	if (parked)
		resumer_push(jiq_intr_stop, fh, EINTR);
}

/* Readers' runs on q stop: q is being removed.  No lock held. */
void jiqfile_stop_queue(struct mqueue *q)
{
	GPtrArray *a = g_ptr_array_new();

	model_lock();
	for (GList *l = open_files; l; l = l->next) {
		struct fh *fh = l->data;
		if (fh->q == q && nodes[fh->kind].cls == NC_JIQ) {
			__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
			g_ptr_array_add(a, fh);
		}
	}
	model_unlock();
	for (guint i = 0; i < a->len; i++) {
		jiqfile_stop(a->pdata[i], ENOENT);
		fh_unref(a->pdata[i]);
	}
	g_ptr_array_free(a, TRUE);
}

/* A read past offset 0: the rest of the finished page. */
static void read_page(fuse_req_t req, struct fh *fh, size_t size, off_t off)
{
	pthread_mutex_lock(&fh->mu);
	size_t n = 0;
	const char *p = NULL;
	if (fh->jiq_state == JIQ_DONE && (size_t)off < fh->len) {
		p = fh->text + off;
		n = fh->len - (size_t)off < size ? fh->len - (size_t)off : size;
	}
	char *copy = n ? g_memdup2(p, n) : NULL;
	pthread_mutex_unlock(&fh->mu);
	fuse_reply_buf(req, copy, n);
	g_free(copy);
}

/*
 * Start a run for req and park it; fh->jiq_mu held.  Returns 0 (parked:
 * the run answers) or an errno to answer now.  model_lock is held across the
 * start, so rmdir (which stops a queue's runs under it) sees the run.
 */
static int start_run(fuse_req_t req, struct fh *fh, size_t size)
{
	model_lock();
	struct mqueue *q = fh->q;
	struct workqueue_struct *wq = q ? (q->dead || q->removing ? NULL : q->wq) : system_wq;
	if (!wq || model_exiting) {
		model_unlock();
		return ESHUTDOWN;
	}
	pthread_mutex_lock(&fh->mu);
	int err = 0;
	if (fh->jiq_state == JIQ_RUNNING) {
		err = EBUSY;
	} else if (fh->intr_req == req) {
		err = EINTR;
	} else {
		wqfs_jiq_free(fh->jiq);
		fh->jiq = NULL;
		fh->jiq_state = JIQ_RUNNING;
		fh->rreq = req;
		fh->rsize = size;
		__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);	/* the run's */
		errno = 0;
		/* jiq_done() waits for fh->mu: fh->jiq is set before it runs */
		fh->jiq = wqfs_jiq_start(wq, (unsigned long)nodes[fh->kind].arg, jiq_done, fh);
		if (!fh->jiq) {
			err = errno ? errno : ENOMEM;
			fh->jiq_state = JIQ_NONE;
			fh->rreq = NULL;
			__atomic_sub_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);	/* not the last */
		}
	}
	pthread_mutex_unlock(&fh->mu);
	model_unlock();
	return err;
}

/* The read holds its own reference: once the run answers it, the reader
 * may close and release fh while this function still runs. */
void jiqfile_read(fuse_req_t req, struct fh *fh, size_t size, off_t off)
{
	if (off > 0) {
		read_page(req, fh, size, off);
		return;
	}
	__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&fh->mu);
	fh->intr_req = NULL;
	pthread_mutex_unlock(&fh->mu);
	fuse_req_interrupt_func(req, jiq_intr, fh);

	pthread_mutex_lock(&fh->jiq_mu);
	int err = start_run(req, fh, size);
	pthread_mutex_unlock(&fh->jiq_mu);
	/* An interrupt before the park set intr_req (start_run answers
	 * EINTR); one after it finds the read parked and stops the run. */
	if (err) {
		fuse_req_interrupt_func(req, NULL, NULL);
		fuse_reply_err(req, err);
	}
	fh_unref(fh);
}
