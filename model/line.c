/* SPDX-License-Identifier: MIT */
/*
 * line.c - the operations of the control files: submit, delay and modify
 * (queue_work, queue_delayed_work, mod_delayed_work), cancel
 * (cancel_delayed_work_sync), flush (flush_workqueue, flush_delayed_work),
 * drain (drain_workqueue) and after (after.c), one parsed line at a time.
 *
 * A line acts for the writer's submitter (m->sub), fixed when the file was
 * opened, as the kernel binds f_cred at open.
 *
 * Ownership: a work belongs to the user whose line declared it (w->owner).
 * Only that user may redeclare, re-queue, delay or modify it (EPERM for
 * anyone else, root included: a work always runs as its owner); its
 * owner, the queue's owner and root may cancel it.
 *
 * A line that must wait (flush, cancel of a running work, drain) arms a
 * wait through m->arm; the writer's close waits for it (fs/wait.c).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int queue_cpu(const struct mwriter *m)
{
	return m->cpu >= 0 ? m->cpu : WORK_CPU_UNBOUND;
}

bool mqueue_wants_cpu(struct mqueue *q)
{
	return !(wq_flags(q->wq) & WQ_UNBOUND);
}

/* The writer is a work of this queue (or descends from one); its name in
 * work.  No lock held. */
static bool from_own_work(struct mwriter *m, char *work, size_t wlen)
{
	char qn[WQFS_NAME_MAX + 1], wn[WQFS_NAME_MAX + 1];

	if (!m->pid || !proc_work(m->pid, qn, sizeof qn, wn, sizeof wn) ||
	    strcmp(qn, m->q->name) != 0)
		return false;
	if (work)
		g_strlcpy(work, wn, wlen);
	return true;
}

/* The work a submit/delay/modify line names, created if it must be;
 * model lock held.  Sets *created. */
static int line_work(struct mwriter *m, enum wqfs_ctl ctl, const struct wqfs_line *l,
		     struct mwork **wp, bool *created)
{
	struct mwork *w = l->name[0] ? mqueue_work(m->q, l->name) : NULL;

	*created = false;
	if (ctl == WQFS_CTL_MODIFY && (!l->name[0] || !l->has_delay))
		return -EINVAL;
	if (w) {
		*wp = w;
		return w->owner == m->sub->uid ? 0 : -EPERM;
	}
	if (ctl == WQFS_CTL_MODIFY)
		return -ENOENT;
	if (!l->command)
		return l->name[0] ? -ENOENT : -EINVAL;
	if (ctl == WQFS_CTL_DELAY && !l->has_delay)
		return -EINVAL;
	int r = mwork_create(m->q, l->name[0] ? l->name : NULL, !l->name[0], m->sub->uid,
			     l->command_len + 1, wp);
	*created = r == 0;
	return r;
}

static int queue_engine(struct mwriter *m, enum wqfs_ctl ctl, struct mwork *w,
			const struct wqfs_line *l)
{
	struct workqueue_struct *wq = m->q->wq;
	int r;

	if (model_cluster) {	/* queued in the database, claimed there */
		r = cluster_queue(w, ctl == WQFS_CTL_MODIFY, l->has_delay ? l->delay_ns : 0,
				  queue_cpu(m));
		if (r <= 0)
			return r;
	}
	switch (ctl) {
	case WQFS_CTL_SUBMIT:
		return wq_queue_work_on(queue_cpu(m), wq, &w->dwork.work);
	case WQFS_CTL_DELAY:
		return wq_queue_delayed_work_ns(queue_cpu(m), wq, &w->dwork, l->delay_ns);
	default:
		r = wq_mod_delayed_work_ns(queue_cpu(m), wq, &w->dwork, l->delay_ns);
		return r > 0 ? 0 : r;
	}
}

/* Queue w, or block it while it has DEPs to wait for (after.c).  A work
 * already in the engine answers as the engine does. */
static int queue_or_block(struct mwriter *m, enum wqfs_ctl ctl, struct mwork *w,
			  const struct wqfs_line *l)
{
	bool pending = work_busy(&w->dwork.work) & WORK_BUSY_PENDING;
	if (w->blocked || (mwork_after(w) && !pending))
		return after_block(w, ctl == WQFS_CTL_MODIFY, l->has_delay ? l->delay_ns : 0);
	return queue_engine(m, ctl, w, l);
}

/* What a queueing line changes on a work, kept to undo it when the engine
 * refuses the line. */
struct undo {
	char *command;
	struct submitter *sub;
};

/* Give w the line's command and the writer's submitter: first, for the
 * work may start as soon as it is queued (its function waits for the
 * model lock, which we hold). */
static int line_set(struct mwriter *m, struct mwork *w, const struct wqfs_line *l,
		    struct undo *u)
{
	u->command = g_strdup(mwork_command(w));
	u->sub = w->sub;
	if (l->command && mwork_set_command(w, l->command, l->command_len, false) < 0) {
		g_free(u->command);
		return -EDQUOT;
	}
	w->sub = submitter_ref(m->sub);
	return 0;
}

static void line_undo(struct mwork *w, struct undo *u)
{
	mwork_set_command(w, u->command, u->command ? strlen(u->command) : 0, true);
	submitter_unref(w->sub);
	w->sub = u->sub;
	g_free(u->command);
}

static void line_done(struct mwork *w, const struct wqfs_line *l, struct undo *u)
{
	g_free(u->command);
	submitter_unref(u->sub);
	w->has_queued = true;
	w->queued_ms = model_now_ms();
	w->lost = false;
	w->cancelled = false;
	w->finishing = false;
	mwork_set_reason(w, NULL);
	w->has_due = l->has_delay && !w->blocked;	/* blocked: due once released */
	if (w->has_due)
		mwork_set_due(w, w->queued_ms, l->delay_ns);
	model_changed(MCHANGE_WORK_QUEUED, w->q, w);
}

/* What w is before a line changes it; model lock held. */
static void record(struct mqueued *e, struct mwork *w, enum mqueued_kind kind, bool created)
{
	*e = (struct mqueued){ .id = w->id, .kind = kind, .created = created,
			       .had_due = w->has_due, .due_at = w->due_at,
			       .due_ms = w->due_ms, .inst = w->inst };
}

/* submit, delay, modify: model lock held. */
static int queue_line(struct mwriter *m, enum wqfs_ctl ctl, const struct wqfs_line *l)
{
	struct mqueue *q = m->q;
	struct mwork *w = NULL;
	struct undo u = { 0 };
	bool created;

	if (q->dead || q->removing || model_exiting || (q->draining && m->own != 1))
		return -ESHUTDOWN;
	if (m->sub->uid != model_uid && !wq_command_can_switch_user())
		return -EPERM;
	int r = line_work(m, ctl, l, &w, &created);
	struct mqueued e = { 0 };
	if (r == 0)
		record(&e, w, ctl == WQFS_CTL_MODIFY ? MQ_MODIFIED : MQ_QUEUED, created);
	if (r == 0)
		r = line_set(m, w, l, &u);
	if (r == 0 && (r = queue_or_block(m, ctl, w, l)) < 0)
		line_undo(w, &u);
	if (r < 0) {
		if (created)
			mwork_free(w);
		return r == -ECANCELED ? -EBUSY : r;
	}
	line_done(w, l, &u);
	g_string_append_printf(m->ids, "%s\n", w->name);
	if (m->queued)
		g_array_append_val(m->queued, e);
	return 0;
}

/* A cluster's work queued in the database and not claimed here: no
 * longer queued (the journal writes it, for the instance it knows).
 * Model lock held. */
static bool unqueue_remote(struct mwork *w)
{
	if (w->remote != MW_PENDING && w->remote != MW_DELAYED)
		return false;
	w->remote = 0;
	return true;
}

/* A cancel of such a work counts as the engine's would. */
static bool cancel_remote(struct mwork *w)
{
	if (!unqueue_remote(w))
		return false;
	wq_stats_restore(w->q->wq, &(struct wq_stats){ .cancelled = 1 });
	return true;
}

/* w's instance back at the due time it had (queued now if it had none);
 * model lock held. */
static void requeue_as(struct mwork *w, const struct mqueued *e)
{
	long left = e->had_due ? (long)(e->due_at - wq_jiffies()) : 0;
	uint64_t ns = left > 0 ? wq_jiffies_to_ns((unsigned long)left) : 0;
	if (!model_cluster || cluster_queue(w, true, ns, mwork_qcpu(w)) > 0)
		wq_mod_delayed_work_ns(WORK_CPU_UNBOUND, w->q->wq, &w->dwork, ns);
	w->has_due = e->had_due;
	w->due_at = e->due_at;
	w->due_ms = e->due_ms;
	w->cancelled = false;
	model_changed(MCHANGE_WORK_QUEUED, w->q, w);
}

/* One work back as it was before a line; model lock held.  false if it
 * started meanwhile. */
static bool take_back(const struct mqueued *e)
{
	struct mwork *w = mwork_by_id(e->id);
	if (!w)
		return true;	/* gone already */
	enum mwork_state queued = mwork_queued_state(w);	/* here or in the cluster */
	bool pending = queued == MW_PENDING || queued == MW_DELAYED;
	if (e->kind == MQ_CANCELLED) {
		if (!pending)	/* not queued again meanwhile */
			requeue_as(w, e);
		return true;
	}
	if (e->kind == MQ_MODIFIED) {
		if (w->blocked)		/* its DELAY counts from its release */
			return true;
		if (!pending)
			return false;
		w->inst = e->inst;	/* a cluster's: the one the database has */
		requeue_as(w, e);
		return true;
	}
	if (w->blocked)
		after_unblock(w);
	else if (!cancel_delayed_work(&w->dwork) && !unqueue_remote(w) && mwork_runs(w))
		return false;
	w->has_due = false;
	if (e->created && mwork_removable(w)) {
		model_changed(MCHANGE_WORK_FORGOTTEN, w->q, w);
		mwork_free(w);
	} else {
		model_changed(MCHANGE_WORK_CANCELLED, w->q, w);
		w->inst = e->inst;	/* a cluster's: the one the database has */
	}
	return true;
}

int model_take_back(struct mwriter *m)
{
	int started = 0;
	model_lock();
	for (guint i = m->queued ? m->queued->len : 0; i-- > 0;)
		started += !take_back(&g_array_index(m->queued, struct mqueued, i));
	model_unlock();
	model_commit_put_back();
	return started;
}

/* ---- cancel, flush, drain ----------------------------------------------------- */

/* The writer descends from a work running on this queue (and would wait
 * for itself).  No lock held. */
static bool would_deadlock(struct mwriter *m)
{
	char wn[WQFS_NAME_MAX + 1];

	if (!from_own_work(m, wn, sizeof wn))
		return false;
	model_lock();
	struct mwork *self = mqueue_work(m->q, wn);
	bool dl = self && self->running;
	model_unlock();
	return dl;
}

/* Its owner, the queue's owner and root may cancel a work; model lock. */
static bool may_cancel(struct mwriter *m, struct mwork *w)
{
	uid_t uid = m->sub->uid;
	return uid == 0 || uid == w->owner || uid == m->q->files[MQ_DIR].uid;
}

/*
 * cancel_delayed_work_sync of w (held): the pending instance is grabbed
 * now; a running instance is stopped and the close waits for it.  Returns
 * 1 if there was something to cancel, 0 if not, or -errno.
 */
static int cancel_work(struct mwriter *m, struct mwork *w)
{
	bool pending = cancel_delayed_work(&w->dwork);
	model_lock();
	pending = cancel_remote(w) || pending;
	bool elsewhere = w->remote == MW_RUNNING;	/* on another node */
	bool blocked = w->blocked;
	if (blocked) {			/* queued, waiting for its DEPs */
		after_unblock(w);
		pending = true;
	}
	bool running = mwork_runs(w) || elsewhere;
	if (pending && !running && !blocked && m->queued) {	/* taken back: queued again */
		struct mqueued e;
		record(&e, w, MQ_CANCELLED, false);
		g_array_append_val(m->queued, e);
	}
	if (pending || running)
		w->cancelled = true;
	if (elsewhere && !pending)	/* its node is asked to stop it */
		model_changed(MCHANGE_WORK_CANCELLED, w->q, w);
	if (pending)
		w->has_due = false;	/* no instance is due any more */
	if (pending)
		model_changed(MCHANGE_WORK_CANCELLED, w->q, w);
	model_wake_idle();
	model_unlock();
	if (running) {
		int r = m->arm(m, w, MWAIT_CANCEL);
		if (r < 0)
			return r;
		model_lock();
		mwork_kill(w);
		model_unlock();
	}
	return pending || running;
}

/* Running works last: a run stopped first would let the work queued
 * behind it start before its own cancel.  Model lock held. */
static gint running_last(gconstpointer a, gconstpointer b)
{
	struct mwork *wa = *(struct mwork *const *)a, *wb = *(struct mwork *const *)b;
	return (mwork_state(wa) == MW_RUNNING) - (mwork_state(wb) == MW_RUNNING);
}

/* cancel *: every work of the queue the writer may cancel. */
static int cancel_all(struct mwriter *m)
{
	GPtrArray *a = g_ptr_array_new();
	GHashTableIter it;
	gpointer key, val;
	int r = 0;

	model_lock();
	g_hash_table_iter_init(&it, m->q->works);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		struct mwork *w = val;
		if (mwork_state_busy(mwork_state(w)) && may_cancel(m, w)) {
			w->holds++;
			g_ptr_array_add(a, w);
		}
	}
	g_ptr_array_sort(a, running_last);
	model_unlock();
	for (guint i = 0; i < a->len; i++) {
		if (r >= 0)
			r = cancel_work(m, a->pdata[i]);
		mwork_hold(a->pdata[i], -1);
	}
	g_ptr_array_free(a, TRUE);
	return r < 0 ? r : 0;
}

/* Look NAME up for cancel or flush and hold it; model lock held.  Returns
 * 1 when there is nothing to do (an idle work), 0 with *wp held (NULL for
 * the whole queue), or -errno. */
static int wait_target(struct mwriter *m, bool cancel, const struct wqfs_line *l,
		       struct mwork **wp)
{
	*wp = NULL;
	if (m->q->dead)
		return -ESHUTDOWN;
	if (!l->name[0])
		return cancel ? -EINVAL : 0;
	struct mwork *w = mqueue_work(m->q, l->name);
	if (!w)
		return -ENOENT;
	if (cancel && !may_cancel(m, w))
		return -EPERM;
	if (!mwork_state_busy(mwork_state(w)))
		return cancel ? -ESRCH : 1;
	w->holds++;
	*wp = w;
	return 0;
}

/* cancel NAME, flush: applied now; a wait is left for the writer's close.
 * cancel NAME with nothing to cancel is ESRCH (kill(2)'s "no such
 * process"); ENOENT is only for a NAME never declared. */
static int wait_line(struct mwriter *m, bool cancel, const struct wqfs_line *l)
{
	struct mwork *w;

	model_lock();
	int r = wait_target(m, cancel, l, &w);
	bool check = r == 0 && (!cancel || mwork_runs(w));
	model_unlock();
	if (r != 0)
		return r < 0 ? r : 0;
	if (check && would_deadlock(m))
		r = -EDEADLK;
	else if (cancel)
		r = (r = cancel_work(m, w)) < 0 ? r : r ? 0 : -ESRCH;
	else
		r = m->arm(m, w, w ? MWAIT_FLUSH_WORK : MWAIT_FLUSH_QUEUE);
	mwork_hold(w, -1);
	return r;
}

/* drain: drain_workqueue, waited for at close; from a work of the queue
 * it would wait for itself. */
static int drain_line(struct mwriter *m)
{
	model_lock();
	bool dead = m->q->dead || m->q->removing;
	model_unlock();
	if (dead)
		return -ESHUTDOWN;
	if (from_own_work(m, NULL, 0))
		return -EDEADLK;
	return m->arm(m, NULL, MWAIT_DRAIN);
}

int model_apply_line(struct mwriter *m, enum wqfs_ctl ctl, const struct wqfs_line *l)
{
	switch (ctl) {
	case WQFS_CTL_CANCEL:
		return l->all ? cancel_all(m) : wait_line(m, true, l);
	case WQFS_CTL_FLUSH:
		return wait_line(m, false, l);
	case WQFS_CTL_DRAIN:
		return drain_line(m);
	case WQFS_CTL_AFTER: {
		model_lock();
		int r = m->q->dead ? -ESHUTDOWN : mqueue_set_after(m->q, l, m->sub->uid);
		model_unlock();
		return r;
	}
	default:
		break;
	}
	/* while the queue drains, only its own works may queue work */
	if (m->own < 0 && __atomic_load_n(&m->q->draining, __ATOMIC_RELAXED))
		m->own = from_own_work(m, NULL, 0);
	model_lock();
	int r = queue_line(m, ctl, l);
	model_unlock();
	return r;
}
