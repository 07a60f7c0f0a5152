/* SPDX-License-Identifier: MIT */
/*
 * fh.c - the open-file lifecycle: a struct fh per open(2) or opendir(2),
 * referenced by the open file and by tasks queued for it, freed with its
 * last reference; release and unmount close what it holds in the other
 * modules (trace reader, jiq run, waits).
 */
#include <errno.h>
#include <unistd.h>

#include "wqfs.h"

GList *open_files;

struct fh *fh_new(enum kind k)
{
	struct fh *fh = g_new0(struct fh, 1);
	fh->kind = k;
	fh->refs = 1;
	fh->quota = -1;
	fh->cpu = (struct cpu_reader)CPU_READER_INIT;
	pthread_mutex_init(&fh->mu, NULL);
	pthread_mutex_init(&fh->jiq_mu, NULL);
	return fh;
}

static void fh_free(struct fh *fh)
{
	g_warn_if_fail(g_queue_is_empty(&fh->waits) && !fh->flushes);
	if (fh->dir) {
		for (guint i = 0; i < fh->dir->len; i++)
			g_free(g_array_index(fh->dir, struct dirent_item, i).name);
		g_array_free(fh->dir, TRUE);
	}
	if (fh->ph)
		fuse_pollhandle_destroy(fh->ph);
	model_lock();
	if (fh->q)
		mqueue_unref(fh->q);
	if (fh->quota >= 0)
		quota_uncharge(fh->uid, fh->quota, 1);
	model_unlock();
	g_free(fh->text);
	g_free(fh->rb);
	submitter_unref(fh->sub);
	proc_cpu_close(&fh->cpu);
	if (fh->part)
		g_string_free(fh->part, TRUE);
	jiqfile_free(fh);
	pthread_mutex_destroy(&fh->mu);
	g_free(fh);
}

void fh_unref(struct fh *fh)
{
	if (__atomic_sub_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL) == 0)
		fh_free(fh);
}

fuse_req_t fh_take_read(struct fh *fh)
{
	fuse_req_t r = fh->rreq;
	fh->rreq = NULL;
	return r;
}

/* An interrupt of a read: answer the parked read EINTR, or, when it is
 * not parked yet, tell the reader to answer EINTR itself. */
static void fh_park_intr(fuse_req_t req, void *data)
{
	struct fh *fh = data;
	pthread_mutex_lock(&fh->mu);
	if (fh->rreq != req) {
		fh->intr_req = req;
		pthread_mutex_unlock(&fh->mu);
		return;
	}
	fuse_req_t r = fh_take_read(fh);
	pthread_mutex_unlock(&fh->mu);
	fuse_reply_err(r, EINTR);
}

/* What try() found for a read of size bytes: 0 (*n bytes), an errno, or
 * -1: parked.  fh->mu held. */
static int fh_try_read(fuse_req_t req, struct fh *fh, fh_try_fn try, char *buf,
		       size_t size, ssize_t *n)
{
	*n = try(fh, buf, size);
	if (*n != -EAGAIN)
		return *n < 0 ? (int)-*n : 0;
	if (fh->nonblock)
		return EAGAIN;
	if (fh->intr_req == req)
		return EINTR;
	if (fh->rreq)
		return EBUSY;		/* one parked read per open file */
	if (model_exiting) {
		*n = 0;
		return 0;
	}
	fh->rreq = req;
	fh->rsize = size;
	return -1;
}

void fh_read(fuse_req_t req, struct fh *fh, size_t size, fh_try_fn try)
{
	pthread_mutex_lock(&fh->mu);
	fh->intr_req = NULL;
	pthread_mutex_unlock(&fh->mu);
	if (!fh->nonblock)
		fuse_req_interrupt_func(req, fh_park_intr, fh);

	char *buf = g_malloc(size ? size : 1);
	ssize_t n;
	pthread_mutex_lock(&fh->mu);
	int err = fh_try_read(req, fh, try, buf, size, &n);
	pthread_mutex_unlock(&fh->mu);
	if (err >= 0 && !fh->nonblock)
		fuse_req_interrupt_func(req, NULL, NULL);
	if (err > 0)
		fuse_reply_err(req, err);
	else if (err == 0)
		fuse_reply_buf(req, buf, (size_t)n);
	g_free(buf);
}

void fh_wake_read(struct fh *fh, fh_try_fn try)
{
	fuse_req_t req = NULL;
	char *buf = NULL;
	ssize_t n = 0;

	pthread_mutex_lock(&fh->mu);
	if (fh->rreq) {
		buf = g_malloc(fh->rsize ? fh->rsize : 1);
		n = try(fh, buf, fh->rsize);
		if (n != -EAGAIN)
			req = fh_take_read(fh);
	}
	pthread_mutex_unlock(&fh->mu);
	if (req) {
		fuse_req_interrupt_func(req, NULL, NULL);
		if (n < 0)
			fuse_reply_err(req, (int)-n);
		else
			fuse_reply_buf(req, buf, (size_t)n);
	}
	g_free(buf);
}

/* Close what an open file holds in other modules; no lock held. */
void fh_close(struct fh *fh)
{
	/* Unpublish the reader before freeing it: a trace_wake queued by
	 * its notify may run at any time and reads fh->tr under fh->mu. */
	pthread_mutex_lock(&fh->mu);
	struct wqfs_trace_reader *tr = fh->tr;
	fh->tr = NULL;
	pthread_mutex_unlock(&fh->mu);
	wqfs_trace_close(tr);
	follow_close(fh);
	jiqfile_stop(fh, EINTR);
	waits_close(fh);
}

/* At exit: answer parked reads, stop jiq runs, close every open file. */
void fh_shutdown_all(void)
{
	for (;;) {
		model_lock();
		struct fh *fh = open_files ? open_files->data : NULL;
		if (fh) {
			open_files = g_list_delete_link(open_files, open_files);
			fh->link = NULL;
		}
		model_unlock();
		if (!fh)
			return;
		fh_close(fh);
		pthread_mutex_lock(&fh->mu);
		fuse_req_t req = fh_take_read(fh);
		pthread_mutex_unlock(&fh->mu);
		if (req)
			fuse_reply_err(req, EINTR);
		fh_unref(fh);
	}
}

