/* SPDX-License-Identifier: MIT */
/*
 * tracefile.c - reads of the trace files: a read without O_NONBLOCK
 * parks until the reader's ring has rows (trace_notify -> the resumer ->
 * trace_wake), and poll(2) is told when it does.  A reader sees the
 * events of its queue, or (root's trace) of the queues it may read.
 *
 * Parked reads keep their request in fh->rreq under fh->mu; whoever takes
 * it from there answers it.  An interrupt that arrives before the read is
 * parked is remembered in fh->intr_req so the read answers EINTR instead
 * of parking.
 */
#include <errno.h>

#include "wqfs.h"

static void park_intr(fuse_req_t req, void *data);

static void trace_wake(void *arg, int unused)
{
	struct fh *fh = arg;
	fuse_req_t req = NULL;
	char *buf = NULL;
	ssize_t n = 0;

	pthread_mutex_lock(&fh->mu);
	if (fh->rreq && fh->tr) {
		buf = g_malloc(fh->rsize ? fh->rsize : 1);
		n = wqfs_trace_read(fh->tr, buf, fh->rsize);
		if (n > 0)
			req = fh_take_read(fh);
	}
	struct fuse_pollhandle *ph = fh->ph;
	fh->ph = NULL;
	pthread_mutex_unlock(&fh->mu);
	if (req) {
		fuse_req_interrupt_func(req, NULL, NULL);
		fuse_reply_buf(req, buf, (size_t)n);
	}
	if (ph) {
		fuse_lowlevel_notify_poll(ph);
		fuse_pollhandle_destroy(ph);
	}
	g_free(buf);
	fh_unref(fh);
}

static void trace_notify(void *data)
{
	struct fh *fh = data;
	__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
	resumer_push(trace_wake, fh, 0);
}

static void park_intr(fuse_req_t req, void *data)
{
	struct fh *fh = data;
	pthread_mutex_lock(&fh->mu);
	if (fh->rreq != req) {
		/* not parked yet: the reader answers EINTR itself */
		fh->intr_req = req;
		pthread_mutex_unlock(&fh->mu);
		return;
	}
	fuse_req_t r = fh_take_read(fh);
	pthread_mutex_unlock(&fh->mu);
	fuse_reply_err(r, EINTR);
}

void tracefile_read(fuse_req_t req, struct fh *fh, size_t size)
{
	pthread_mutex_lock(&fh->mu);
	fh->intr_req = NULL;
	pthread_mutex_unlock(&fh->mu);
	if (!fh->nonblock)
		fuse_req_interrupt_func(req, park_intr, fh);

	char *buf = g_malloc(size ? size : 1);
	pthread_mutex_lock(&fh->mu);
	ssize_t n = fh->tr ? wqfs_trace_read(fh->tr, buf, size) : 0;
	int err = 0;
	if (n == -EAGAIN) {
		if (fh->nonblock)
			err = EAGAIN;
		else if (fh->intr_req == req)
			err = EINTR;
		else if (fh->rreq)
			err = EBUSY;
		else if (model_exiting)
			n = 0;
		else {
			fh->rreq = req;
			fh->rsize = size;
			pthread_mutex_unlock(&fh->mu);
			g_free(buf);
			return;
		}
	} else if (n < 0) {
		err = (int)-n;
	}
	pthread_mutex_unlock(&fh->mu);
	if (!fh->nonblock)
		fuse_req_interrupt_func(req, NULL, NULL);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	g_free(buf);
}

/* Trace rows a reader gets: of the queue it opened (by identity, not by
 * name, so a new queue of the same name is not it), or of every queue
 * the reader may read. */
static bool trace_filter(const struct wqfs_trace_event *e, void *data)
{
	const struct fh *fh = data;
	const struct qview *v = e->tag;

	if (!v)
		return false;
	if (fh->q)
		return v->qid == fh->q->id;
	return submitter_may_read(fh->sub, v->mode, v->uid, v->gid);
}

/* Open fh's trace reader (at open, model lock held). */
void tracefile_open(struct fh *fh)
{
	fh->tr = wqfs_trace_open_filter(trace_hub, trace_filter, fh,
					opts.trace_buffer, trace_notify, fh);
}
