/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - works of a cluster (state=postgresql://): queued in the
 * shared database, run by the node that claims them.
 *
 * A queueing line marks its work queued in the model (w->remote) rather
 * than in the engine; the journal writes it to the database, guarded so
 * that a work is pending once in the whole cluster.  A node's claimer
 * (store/cluster.c) takes due works and hands them to mwork_claimed(),
 * which queues them in its engine; from then on the engine's state wins
 * over w->remote, and the run is this node's.  Rows other nodes wrote
 * come back through mwork_mirror(), with the journal held off
 * (model_mirror_begin()), so that nothing is written back.
 *
 * Waits (flush, a cancel of a run on another node) are answered from the
 * model as the mirror keeps it: a wait takes, after a mirror pass that
 * began after it was armed, the instances it waits for (struct
 * cluster_inst), and ends once none of them is queued or running.
 *
 * Locking: the model lock guards every field here, and `waits`; the
 * mirroring count is per thread.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

bool model_cluster;

static __thread int mirroring;		/* this thread applies the database's */
static GQueue waits = G_QUEUE_INIT;	/* model lock: struct mwait armed here */
static uint64_t passes;			/* model lock: mirror passes done */
static void (*poke)(void);		/* atomic: set at the store's start */

/* An instance a wait waits for. */
struct cluster_inst {
	uint64_t wid;
	int64_t inst;
};

void model_mirror_begin(void)
{
	mirroring++;
}

void model_mirror_end(void)
{
	mirroring--;
}

bool model_mirroring(void)
{
	return mirroring > 0;
}

void model_set_cluster_poke(void (*fn)(void))
{
	__atomic_store_n(&poke, fn, __ATOMIC_RELEASE);
}

void cluster_poke(void)
{
	void (*fn)(void) = __atomic_load_n(&poke, __ATOMIC_ACQUIRE);
	if (model_cluster && fn)
		fn();
}

/* Whether the engine here holds w: claimed by this node, queued or
 * running. */
static bool held_here(struct mwork *w)
{
	return w->running || work_busy(&w->dwork.work);
}

int cluster_queue(struct mwork *w, bool modify, uint64_t delay_ns, int cpu)
{
	if (work_busy(&w->dwork.work) & WORK_BUSY_PENDING)
		return 1;
	bool queued = w->remote && w->remote != MW_RUNNING;
	if (queued && !modify)
		return -EALREADY;
	w->requeue = modify;	/* mod_delayed_work: whoever queued it */
	w->remote = delay_ns ? MW_DELAYED : MW_PENDING;
	mwork_set_qcpu(w, cpu);
	return 0;
}

/* ---- rows of other nodes ---------------------------------------------------------- */

/* q's work for s, made if it is new here. */
static int mirror_find(struct mqueue *q, const struct mwork_saved *s, struct mwork **wp)
{
	*wp = mqueue_work(q, s->name);
	if (!*wp)
		return mwork_recreate(q, s, wp);
	if (strcmp(mwork_cmdline(*wp), s->command) != 0)
		mwork_set_command(*wp, s->command, strlen(s->command), true);
	return 0;
}

/* Another node cancelled a work this one claimed: its run is stopped, or
 * its instance taken out of the engine here, and the row told that this
 * node holds it no more (which the mirror would not write back). */
static void cancel_here(struct mwork *w)
{
	w->cancelled = true;
	if (mwork_runs(w)) {
		mwork_kill(w);
		return;
	}
	if (!cancel_delayed_work(&w->dwork))
		return;
	w->has_due = false;
	model_mirror_end();
	model_changed(MCHANGE_WORK_CANCELLED, w->q, w);
	model_mirror_begin();
}

/* The database's state of w, shown while the engine here does not hold
 * it.  A run of this node's is known here better than in any row. */
static void mirror_state(struct mwork *w, const struct mwork_saved *s,
			 const struct mwork_cluster *c)
{
	bool ours = strcmp(c->running_on, model_cfg.node) == 0;
	w->inst = c->inst;
	w->remote = 0;
	if (s->state == MW_PENDING || s->state == MW_BLOCKED ||
	    (s->state == MW_RUNNING && !ours))
		w->remote = s->state;
	if (s->state == MW_DELAYED) {
		w->remote = MW_DELAYED;
		w->has_due = true;
		mwork_set_due(w, model_now_ms(),
			      s->due_in_ms > 0 ? (uint64_t)s->due_in_ms * 1000000 : 0);
	}
	if (held_here(w)) {		/* its run's facts are ours */
		if (c->cancel_req && ours)
			cancel_here(w);
		return;
	}
	mwork_restore_fields(w, s);
	if (c->node[0]) {
		mwork_cmd(w);
		w->ran->node = g_intern_string(c->node);
	}
}

int mwork_mirror(struct mqueue *q, const struct mwork_saved *s, const struct mwork_cluster *c)
{
	struct mwork *w;

	model_lock();
	model_mirror_begin();
	int r = mirror_find(q, s, &w);
	if (r == 0) {
		mirror_state(w, s, c);
		model_changed(MCHANGE_WORK_RESTORED, q, w);
		model_wake_idle();
	}
	model_mirror_end();
	model_unlock();
	return r;
}

int mwork_claimed(struct mqueue *q, const struct mwork_saved *s, const struct mwork_cluster *c)
{
	struct mwork *w;

	model_lock();
	model_mirror_begin();
	int r = s->sub ? mirror_find(q, s, &w) : -EINVAL;
	/* the engine may still show its last run here ending (its end is
	 * committed before its function returns): queued behind it */
	if (r == 0 && (w->running || (work_busy(&w->dwork.work) & WORK_BUSY_PENDING)))
		r = -EBUSY;
	if (r == 0) {
		mwork_restore_fields(w, s);
		w->inst = c->inst;
		w->remote = 0;
		w->has_due = false;
		w->lost = w->cancelled = w->finishing = false;
		int cpu = mqueue_wants_cpu(q) && c->cpu >= 0 ? c->cpu : WORK_CPU_UNBOUND;
		r = wq_queue_work_on(cpu, q->wq, &w->dwork.work);
		if (r == -EINVAL)	/* no such CPU here */
			r = wq_queue_work_on(WORK_CPU_UNBOUND, q->wq, &w->dwork.work);
		model_changed(MCHANGE_WORK_RESTORED, q, w);
	}
	model_mirror_end();
	model_unlock();
	return r;
}

void mwork_gone(struct mqueue *q, const char *name)
{
	model_lock();
	struct mwork *w = mqueue_work(q, name);
	if (w && !held_here(w))
		w->remote = 0;
	if (w && mwork_removable(w)) {
		model_mirror_begin();
		model_changed(MCHANGE_WORK_FORGOTTEN, q, w);
		mwork_free(w);
		model_mirror_end();
	}
	model_unlock();
}

/* ---- waits -------------------------------------------------------------------------- */

/* A drain, and a wait for a work the engine here holds, are the
 * engine's; model lock held. */
static bool wanted(struct mwait *mw)
{
	if (!model_cluster || mw->kind == MWAIT_DRAIN)
		return false;
	return mw->kind == MWAIT_FLUSH_QUEUE || !held_here(mw->w);
}

int cluster_wait_arm(struct mwait *mw)
{
	model_lock();
	if (!wanted(mw)) {
		model_unlock();
		return 1;
	}
	mw->cluster = true;
	mw->pass = passes + 2;	/* the pass under way began before */
	mw->armed_ms = model_now_ms();
	if (mw->kind == MWAIT_FLUSH_WORK && mw->w->remote == MW_DELAYED) {
		/* flush_delayed_work: due now */
		cluster_queue(mw->w, true, 0, mwork_qcpu(mw->w));
		mw->w->has_due = false;
		model_changed(MCHANGE_WORK_QUEUED, mw->q, mw->w);
	}
	g_queue_push_tail(&waits, mw);
	model_unlock();
	cluster_poke();
	return 0;
}

bool cluster_wait_abort(struct mwait *mw)
{
	model_lock();
	bool taken = g_queue_remove(&waits, mw);
	model_unlock();
	return taken;
}

/* Whether a wait of this kind waits for a work in state st. */
static bool waits_for(const struct mwait *mw, enum mwork_state st)
{
	if (mw->kind == MWAIT_CANCEL)
		return st == MW_RUNNING;
	if (mw->kind == MWAIT_FLUSH_WORK && st == MW_DELAYED)
		return true;	/* flush_delayed_work: until it ran */
	return st == MW_PENDING || st == MW_RUNNING;
}

/* A flush waits for what was queued before it (on any node's clock). */
static void take(struct mwait *mw, struct mwork *w)
{
	if (!waits_for(mw, mwork_state(w)) ||
	    (mw->kind != MWAIT_CANCEL && w->queued_ms > mw->armed_ms))
		return;
	struct cluster_inst ci = { w->id, w->inst };
	g_array_append_val(mw->set, ci);
}

/* The instances mw waits for, as the model shows them now. */
static void take_set(struct mwait *mw)
{
	GHashTableIter it;
	gpointer k, v;

	mw->set = g_array_new(FALSE, FALSE, sizeof(struct cluster_inst));
	if (mw->w) {
		take(mw, mw->w);
		return;
	}
	g_hash_table_iter_init(&it, mw->q->works);
	while (g_hash_table_iter_next(&it, &k, &v))
		take(mw, v);
}

static bool ended(const struct mwait *mw)
{
	for (guint i = 0; i < mw->set->len; i++) {
		const struct cluster_inst *ci = &g_array_index(mw->set, struct cluster_inst, i);
		struct mwork *w = mwork_by_id(ci->wid);
		if (w && w->inst == ci->inst && waits_for(mw, mwork_state(w)))
			return false;
	}
	return true;
}

void model_cluster_passed(uint64_t pass)
{
	GQueue done = G_QUEUE_INIT;

	model_lock();
	passes = pass;
	for (GList *l = waits.head, *next; l; l = next) {
		struct mwait *mw = l->data;
		next = l->next;
		if (mw->pass > pass)
			continue;
		if (!mw->set)
			take_set(mw);
		if (ended(mw)) {
			g_queue_unlink(&waits, l);
			g_queue_push_tail_link(&done, l);
		}
	}
	model_unlock();
	struct mwait *mw;
	while ((mw = g_queue_pop_head(&done)))
		mwait_fire(mw);
}
