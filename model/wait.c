/* SPDX-License-Identifier: MIT */
/*
 * wait.c - the waits that flush, cancel and drain lines leave, and the
 * resumer thread that completes them.
 *
 * A wait arms an engine barrier and never blocks the line that armed it.
 * A barrier's callback runs on whatever thread ended the wait, possibly
 * under the engine's or the model's lock, so it only hands the wait to
 * the resumer thread, which calls mw->done() with no lock held.  A drain
 * flushes its queue again until nothing is pending or running; while it
 * is armed, q->draining counts it (model lock).
 *
 * References: a wait holds its queue and a hold on its work until
 * mwait_release().  n_armed counts waits armed or resuming; shutdown
 * waits for it to reach 0 (armed_cond).
 */
#include <errno.h>

#include "internal.h"

static pthread_mutex_t armed_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t armed_cond = PTHREAD_COND_INITIALIZER;
static unsigned long n_armed;		/* armed_mu */

static void armed_add(int delta)
{
	pthread_mutex_lock(&armed_mu);
	n_armed += delta;
	if (n_armed == 0)
		pthread_cond_broadcast(&armed_cond);
	pthread_mutex_unlock(&armed_mu);
}

void mwait_wait_unarmed(void)
{
	pthread_mutex_lock(&armed_mu);
	while (n_armed)
		pthread_cond_wait(&armed_cond, &armed_mu);
	pthread_mutex_unlock(&armed_mu);
}

/* drain_workqueue: nothing pending or running (delayed works stay). */
static bool drained(struct workqueue_struct *wq)
{
	struct wq_stats st;
	wq_get_stats(wq, &st);
	return st.pending + st.running == 0;
}

static void mwait_fired(struct wq_barrier *b, int result, void *data);

/* Arm mw's barrier: 0 (the callback comes), 1 (nothing to wait for) or
 * -errno.  A drain flushes until the queue is drained: works its running
 * works queued meanwhile are flushed too. */
static int arm_barrier(struct mwait *mw)
{
	struct workqueue_struct *wq = mw->q->wq;
	int r = cluster_wait_arm(mw);

	if (r <= 0)
		return r;
	switch (mw->kind) {
	case MWAIT_FLUSH_QUEUE:
		return wq_flush_workqueue_async(wq, &mw->bar, mwait_fired, mw);
	case MWAIT_FLUSH_WORK:
		return wq_flush_delayed_work_async(&mw->w->dwork, &mw->bar, mwait_fired, mw);
	case MWAIT_CANCEL:
		return wq_cancel_delayed_work_async(&mw->w->dwork, &mw->bar, mwait_fired, mw);
	case MWAIT_DRAIN:
		do
			r = wq_flush_workqueue_async(wq, &mw->bar, mwait_fired, mw);
		while (r > 0 && !drained(wq));
		return r;
	}
	return -EINVAL;
}

static void mwait_resume(void *arg, int result)
{
	struct mwait *mw = arg;
	if (mw->kind == MWAIT_DRAIN && !drained(mw->q->wq) && arm_barrier(mw) == 0)
		return;		/* flushed again: the callback comes */
	mw->done(mw);
}

static void mwait_fired(struct wq_barrier *b, int result, void *data)
{
	resumer_push(mwait_resume, data, result);
}

void mwait_fire(struct mwait *mw)
{
	resumer_push(mwait_resume, mw, 0);
}

int mwait_arm(struct mwait *mw)
{
	armed_add(1);
	model_lock();
	mqueue_ref(mw->q);
	if (mw->w)
		mw->w->holds++;
	if (mw->kind == MWAIT_DRAIN)
		mw->q->draining++;
	model_unlock();
	int r = arm_barrier(mw);
	if (r == 0)
		return 0;	/* mwait_fired was or will be called */
	mwait_release(mw);
	return r < 0 ? (r == -ECANCELED ? -EBUSY : r) : 1;
}

bool mwait_abort(struct mwait *mw)
{
	return mw->cluster ? cluster_wait_abort(mw) : wq_barrier_abort(&mw->bar);
}

void mwait_release(struct mwait *mw)
{
	model_lock();
	if (mw->kind == MWAIT_DRAIN)
		mw->q->draining--;
	if (mw->w)
		mw->w->holds--;
	mqueue_unref(mw->q);
	if (mw->set)
		g_array_unref(mw->set);
	mw->set = NULL;
	model_unlock();
	armed_add(-1);
}

/* ---- the resumer ---------------------------------------------------------------- */

/* The resumer's queue is a mutex, a condition and a GQueue rather than a
 * GAsyncQueue: ThreadSanitizer sees through pthread, not through GLib. */
struct task {
	void (*fn)(void *arg, int result);	/* NULL: stop */
	void *arg;
	int result;
};

static pthread_mutex_t tasks_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tasks_cond = PTHREAD_COND_INITIALIZER;
static GQueue tasks = G_QUEUE_INIT;	/* tasks_mu: struct task */
static bool resumer_up;			/* tasks_mu: pushes are taken */
static pthread_t resumer;

static void *resumer_main(void *unused)
{
	for (;;) {
		pthread_mutex_lock(&tasks_mu);
		while (g_queue_is_empty(&tasks))
			pthread_cond_wait(&tasks_cond, &tasks_mu);
		struct task *t = g_queue_pop_head(&tasks);
		pthread_mutex_unlock(&tasks_mu);
		if (!t->fn) {
			g_free(t);
			return NULL;
		}
		t->fn(t->arg, t->result);
		g_free(t);
	}
}

int resumer_start(void)
{
	/* out of threads is an error to report, not an abort */
	if (pthread_create(&resumer, NULL, resumer_main, NULL) != 0)
		return -EAGAIN;
	pthread_setname_np(resumer, "wqfs-resume");
	pthread_mutex_lock(&tasks_mu);
	resumer_up = true;
	pthread_mutex_unlock(&tasks_mu);
	return 0;
}

static void tasks_push(struct task *t)
{
	g_queue_push_tail(&tasks, t);
	pthread_cond_signal(&tasks_cond);
}

bool resumer_push(void (*fn)(void *arg, int result), void *arg, int result)
{
	struct task *t = g_new(struct task, 1);
	*t = (struct task){ fn, arg, result };
	pthread_mutex_lock(&tasks_mu);
	bool up = resumer_up;
	if (up)
		tasks_push(t);
	pthread_mutex_unlock(&tasks_mu);
	if (!up)
		g_free(t);
	return up;
}

void resumer_stop(void)
{
	pthread_mutex_lock(&tasks_mu);
	resumer_up = false;
	tasks_push(g_new0(struct task, 1));
	pthread_mutex_unlock(&tasks_mu);
	pthread_join(resumer, NULL);
}
