/* SPDX-License-Identifier: MIT */
/*
 * tracefile.c - reads of the trace files: a read without O_NONBLOCK
 * parks until the reader's ring has rows (trace_notify -> the resumer ->
 * trace_wake), and poll(2) is told when it does.  A reader sees the
 * events of its queue, or (root's trace) of the queues it may read.
 * The parking is fh.c's (fh_read).
 */
#include <errno.h>

#include "wqfs.h"

/* A trace read's bytes: the rows in the reader's ring; fh->mu held. */
static ssize_t trace_try(struct fh *fh, char *buf, size_t size)
{
	return fh->tr ? wqfs_trace_read(fh->tr, buf, size) : 0;
}

static void trace_wake(void *arg, int unused)
{
	struct fh *fh = arg;

	fh_wake_read(fh, trace_try);
	pthread_mutex_lock(&fh->mu);
	struct fuse_pollhandle *ph = fh->ph;
	fh->ph = NULL;
	pthread_mutex_unlock(&fh->mu);
	if (ph) {
		fuse_lowlevel_notify_poll(ph);
		fuse_pollhandle_destroy(ph);
	}
	fh_unref(fh);
}

static void trace_notify(void *data)
{
	struct fh *fh = data;
	__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
	resumer_push(trace_wake, fh, 0);
}

void tracefile_read(fuse_req_t req, struct fh *fh, size_t size)
{
	fh_read(req, fh, size, trace_try);
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
