/* SPDX-License-Identifier: MIT */
/*
 * journal.c - the one place every change of the model passes: the durable
 * store (or a test) sees each change of a queue or a work, in order,
 * under the model lock, and may write it down before the line that made
 * it is acknowledged.
 */
#include "internal.h"

static struct model_journal journal;	/* the model lock; set before use */
static void (*work_watch)(uint64_t wid);	/* set once, before any work */

void model_set_work_watch(void (*fn)(uint64_t wid))
{
	work_watch = fn;
}

static void (*queue_watch)(uint64_t qid, const char *name);	/* set once */

void model_set_queue_watch(void (*fn)(uint64_t qid, const char *name))
{
	queue_watch = fn;
}

void model_queue_watch(uint64_t qid, const char *name)
{
	if (queue_watch && qid)
		queue_watch(qid, name);
}

/* A running work's output grew (its command's output_notify). */
void model_output_grew(void *data)
{
	struct mwork *w = data;		/* running: not freed meanwhile */
	if (work_watch)
		work_watch(w->id);
}

void model_set_journal(const struct model_journal *j)
{
	model_lock();
	journal = j ? *j : (struct model_journal){ 0 };
	model_unlock();
}

void model_changed(enum mchange c, struct mqueue *q, struct mwork *w)
{
	model_assert_locked();
	if (journal.changed && !model_mirroring())
		journal.changed(c, q, w, journal.data);
	if (w && work_watch)
		work_watch(w->id);
	if (w)
		after_changed();
}

int model_ready(void)
{
	model_lock();
	struct model_journal j = journal;
	model_unlock();
	return j.ready ? j.ready(j.data) : 0;
}

int model_commit(void)
{
	model_lock();
	struct model_journal j = journal;
	model_unlock();
	return j.sync ? j.sync(j.data) : 0;
}

void model_commit_then(void (*done)(void *arg, int err), void *arg)
{
	model_lock();
	struct model_journal j = journal;
	model_unlock();
	if (j.sync_then)
		j.sync_then(j.data, done, arg);
	else
		done(arg, j.sync ? j.sync(j.data) : 0);
}

void model_commit_put_back(void)
{
	(void)model_commit();
}
