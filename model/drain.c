/* SPDX-License-Identifier: MIT */
/*
 * drain.c - the model's shutdown.  Without a durable journal, works already
 * queued are drained (up to a timeout), delayed works not yet due are
 * dropped, and what is dropped or killed is reported.  With one (keep),
 * nothing more starts, running works get the timeout, and what is queued
 * stays in the journal for the next mount.  Waits for idle queues are condition waits: every
 * work that finishes or is cancelled wakes them (model_wake_idle()).
 */
#include <time.h>

#include "internal.h"

static pthread_cond_t idle_cond;	/* the model lock's mutex, monotonic */
static bool idle_cond_ready;

void model_wake_idle(void)
{
	if (idle_cond_ready)
		pthread_cond_broadcast(&idle_cond);
}

/* Every live queue, referenced; model lock held. */
static GPtrArray *all_queues(void)
{
	GPtrArray *a = g_ptr_array_new();
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, queues_by_name);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		mqueue_ref(v);
		g_ptr_array_add(a, v);
	}
	return a;
}

/* Nothing of a runs (running_only) or nothing is queued either. */
static bool all_idle(GPtrArray *a, bool running_only)
{
	for (guint i = 0; i < a->len; i++) {
		struct mqueue *q = a->pdata[i];
		struct wq_stats st;
		wq_get_stats(q->wq, &st);
		if (st.running + (running_only ? 0 : st.pending + st.delayed))
			return false;
	}
	return true;
}

/* Wait until every queue of a is idle (or runs nothing) or the deadline
 * (CLOCK_MONOTONIC, NULL: none) passes; model lock held.  A jiq step or a
 * work the engine drops does not wake us: the wait is re-checked every
 * 100 ms as well. */
static void wait_idle(GPtrArray *a, bool running_only, const struct timespec *deadline)
{
	while (!all_idle(a, running_only)) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (deadline && (t.tv_sec > deadline->tv_sec ||
				 (t.tv_sec == deadline->tv_sec && t.tv_nsec >= deadline->tv_nsec)))
			return;
		t.tv_nsec += 100 * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		model_wait_cond(&idle_cond, &t);
	}
}

/* Call fn on every work of every queue of a; model lock held. */
static void for_each_work(GPtrArray *a, void (*fn)(struct mqueue *q, struct mwork *w))
{
	for (guint i = 0; i < a->len; i++) {
		struct mqueue *q = a->pdata[i];
		GHashTableIter it;
		gpointer k, v;

		g_hash_table_iter_init(&it, q->works);
		while (g_hash_table_iter_next(&it, &k, &v))
			fn(q, v);
	}
}

static void (*drain_report)(struct mqueue *q, struct mwork *w, const char *what);

static void drop_delayed(struct mqueue *q, struct mwork *w)
{
	if (mwork_state(w) == MW_DELAYED && cancel_delayed_work(&w->dwork))
		drain_report(q, w, "delayed work not yet due at unmount");
}

static void kill_or_drop(struct mqueue *q, struct mwork *w)
{
	if (w->running) {
		wq_command_kill(&w->ran->cmd);	/* running: it has one */
		drain_report(q, w, "killed after drain_timeout");
	}
	if (cancel_delayed_work(&w->dwork))
		drain_report(q, w, "not started before drain_timeout");
}

static void shutdown_queues(GPtrArray *a)
{
	for (guint i = 0; i < a->len; i++) {
		struct mqueue *q = a->pdata[i];
		if (!q->is_events)
			wq_shutdown(q->wq);
	}
}

/* Start nothing more (keep: what is queued stays for the next mount). */
static void freeze_queues(GPtrArray *a)
{
	for (guint i = 0; i < a->len; i++)
		wq_freeze(((struct mqueue *)a->pdata[i])->wq, true);
}

static void drop_queued(struct mqueue *q, struct mwork *w)
{
	cancel_delayed_work(&w->dwork);
}

/* Stop what runs and queues: with keep, the journal has what is queued
 * and what runs (lost at the next start); it records nothing more. */
static void stop_works(GPtrArray *a, bool keep, const struct timespec *deadline)
{
	if (keep) {
		freeze_queues(a);
		wait_idle(a, true, deadline);
		model_unlock();
		model_commit();
		model_set_journal(NULL);
		model_lock();
		for_each_work(a, drop_queued);
	} else {
		for_each_work(a, drop_delayed);
		shutdown_queues(a);
		wait_idle(a, false, deadline);
	}
	for_each_work(a, kill_or_drop);
	wait_idle(a, false, NULL);
}

static void remove_queues(GPtrArray *a)
{
	for (guint i = 0; i < a->len; i++) {
		struct mqueue *q = a->pdata[i];
		if (!q->dead)
			mqueue_remove(q);
	}
}

void model_drain(unsigned int timeout_s, bool keep, void (*stop_readers)(void),
		 void (*report)(struct mqueue *q, struct mwork *w, const char *what))
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	model_lock();
	pthread_cond_init(&idle_cond, &ca);
	idle_cond_ready = true;
	__atomic_store_n(&model_exiting, true, __ATOMIC_RELEASE);	/* read unlocked too */
	drain_report = report;
	GPtrArray *a = all_queues();
	model_unlock();
	pthread_condattr_destroy(&ca);

	/* jiq runs and parked reads first: their delayed steps would keep
	 * queues from shutting down */
	if (stop_readers)
		stop_readers();

	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;
	model_lock();
	stop_works(a, keep, &deadline);	/* they get timeout_s, then are killed */
	remove_queues(a);
	model_unlock();

	/* waits were answered by their barriers: let the resumer finish them
	 * before the queues go */
	mwait_wait_unarmed();
	resumer_stop();
	model_lock();
	for (guint i = 0; i < a->len; i++)
		mqueue_unref(a->pdata[i]);
	model_unlock();
	g_ptr_array_free(a, TRUE);
}
