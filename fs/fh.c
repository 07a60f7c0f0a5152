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
	fh->statfd = -1;
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
	if (fh->statfd >= 0)
		close(fh->statfd);
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

