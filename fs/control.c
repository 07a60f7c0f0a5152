/* SPDX-License-Identifier: MIT */
/*
 * control.c - writes to the control files (submit, delay, modify, cancel,
 * flush), the waits they leave on their open file, writes to the
 * attribute files, and rmdir of a queue.
 *
 * A write is a set of whole lines applied at once, in order; it never
 * waits.  A flush or cancel line that must wait (flush of the queue, flush
 * NAME, cancel of a running instance) arms an engine barrier and records
 * it on the open file (struct fwait in fh->waits); the write returns.  The
 * FUSE_FLUSH of a close(2) on that file (control_flush) waits for every
 * barrier recorded there: it is parked, holding no thread and no kernel
 * inode lock, and answered when the last barrier fires.  An interrupt
 * withdraws the barriers left (wq_barrier_abort) and answers EINTR.
 *
 * A barrier's callback runs on whatever thread ended the wait, possibly
 * with fs_lock held, so it only hands the wait to the resumer thread.
 * References: an fwait holds its fh and a hold on its work.
 *
 * rmdir still waits in its request (struct rop): the barrier flushes the
 * queue until it is idle, and an interrupt takes the queue back.  The rop's
 * mutex guards req, phase, gen and interrupted; everything else is touched
 * by one thread at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wqfs.h"

static int n_armed;			/* atomic: barriers armed or resuming */

void control_wait_unarmed(void)
{
	for (int i = 0; i < 5000 && __atomic_load_n(&n_armed, __ATOMIC_ACQUIRE); i++)
		g_usleep(1000);
}

static void hold_work(struct fsw *w, int delta)
{
	if (!w)
		return;
	pthread_mutex_lock(&fs_lock);
	w->holds += delta;
	pthread_mutex_unlock(&fs_lock);
}

/* ---- waits recorded on an open file --------------------------------------- */

enum wait_kind { WAIT_FLUSH_QUEUE, WAIT_FLUSH_WORK, WAIT_CANCEL };

struct fwait {
	struct wq_barrier bar;
	struct fh *fh;			/* ref */
	struct fsw *w;			/* a hold; NULL for the queue's flush */
	GList link;			/* fh->mu: in fh->waits while listed */
	bool listed;			/* fh->mu */
};

static void fwait_free(struct fwait *fw)
{
	hold_work(fw->w, -1);
	fh_unref(fw->fh);
	g_free(fw);
	__atomic_sub_fetch(&n_armed, 1, __ATOMIC_ACQ_REL);
}

/* The parked FUSE_FLUSH requests, taken; fh->mu held. */
static GSList *take_flushes(struct fh *fh)
{
	GSList *l = fh->flushes;
	fh->flushes = NULL;
	return l;
}

/* Answer parked FUSE_FLUSH requests; no lock held, not from their own
 * interrupt callback. */
static void answer_flushes(GSList *reqs, int err)
{
	for (GSList *l = reqs; l; l = l->next) {
		fuse_req_t req = l->data;
		fuse_req_interrupt_func(req, NULL, NULL);
		fuse_reply_err(req, err);
	}
	g_slist_free(reqs);
}

static void free_waits(GSList *waits)
{
	g_slist_free_full(waits, (GDestroyNotify)fwait_free);
}

/* Unlist fw; if it was the last wait, answer the parked flushes. */
static void fwait_unlist(struct fwait *fw)
{
	struct fh *fh = fw->fh;
	GSList *done = NULL;

	pthread_mutex_lock(&fh->mu);
	if (fw->listed) {
		g_queue_unlink(&fh->waits, &fw->link);
		fw->listed = false;
	}
	if (g_queue_is_empty(&fh->waits))
		done = take_flushes(fh);
	pthread_mutex_unlock(&fh->mu);
	answer_flushes(done, 0);
}

static void fwait_resume(void *arg, int result)
{
	struct fwait *fw = arg;
	fwait_unlist(fw);
	fwait_free(fw);
}

static void fwait_fired(struct wq_barrier *b, int result, void *data)
{
	resumer_push(fwait_resume, data, result);
}

/* Withdraw every wait of fh that has not fired; returns them, unlisted.
 * fh->mu held (the engine never takes it). */
static GSList *abort_waits(struct fh *fh)
{
	GSList *aborted = NULL;
	GList *l = fh->waits.head;
	while (l) {
		GList *next = l->next;
		struct fwait *fw = l->data;
		if (wq_barrier_abort(&fw->bar)) {
			g_queue_unlink(&fh->waits, &fw->link);
			fw->listed = false;
			aborted = g_slist_prepend(aborted, fw);
		}
		l = next;
	}
	return aborted;
}

/*
 * Record a wait of kind on fh and arm its barrier.  Returns 0 (recorded,
 * or nothing to wait for) or -errno.
 */
static int fwait_arm(struct fh *fh, struct fsw *w, enum wait_kind kind)
{
	struct fwait *fw = g_new0(struct fwait, 1);
	__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&n_armed, 1, __ATOMIC_ACQ_REL);
	fw->fh = fh;
	fw->w = w;
	fw->link.data = fw;
	hold_work(w, 1);

	pthread_mutex_lock(&fh->mu);
	g_queue_push_tail_link(&fh->waits, &fw->link);
	fw->listed = true;
	pthread_mutex_unlock(&fh->mu);

	int r;
	switch (kind) {
	case WAIT_FLUSH_QUEUE:
		r = wq_flush_workqueue_async(fh->q->wq, &fw->bar, fwait_fired, fw);
		break;
	case WAIT_FLUSH_WORK:
		r = wq_flush_delayed_work_async(&w->dwork, &fw->bar, fwait_fired, fw);
		break;
	default:
		r = wq_cancel_delayed_work_async(&w->dwork, &fw->bar, fwait_fired, fw);
		break;
	}
	if (r == 0)
		return 0;	/* fwait_fired was or will be called */
	fwait_unlist(fw);
	fwait_free(fw);
	return r < 0 ? (r == -ECANCELED ? -EBUSY : r) : 0;
}

static int apply_part(fuse_req_t req, struct fh *fh);

static void flush_intr(fuse_req_t req, void *data)
{
	struct fh *fh = data;

	pthread_mutex_lock(&fh->mu);
	GSList *l = g_slist_find(fh->flushes, req);
	if (!l) {
		/* not parked yet (control_flush checks), or answered */
		pthread_mutex_unlock(&fh->mu);
		return;
	}
	fh->flushes = g_slist_delete_link(fh->flushes, l);
	GSList *aborted = abort_waits(fh);
	GSList *others = g_queue_is_empty(&fh->waits) ? take_flushes(fh) : NULL;
	pthread_mutex_unlock(&fh->mu);
	fuse_reply_err(req, EINTR);
	answer_flushes(others, 0);
	free_waits(aborted);
}

/* FUSE_FLUSH, sent at every close(2): wait for the waits writes on this
 * open file recorded. */
void control_flush(fuse_req_t req, struct fh *fh)
{
	int perr = nodes[fh->kind].cls == NC_CTL ? apply_part(req, fh) : 0;
	if (perr < 0) {
		fuse_reply_err(req, -perr);
		return;
	}
	pthread_mutex_lock(&fh->mu);
	bool none = g_queue_is_empty(&fh->waits);
	pthread_mutex_unlock(&fh->mu);
	if (none) {
		fuse_reply_err(req, 0);
		return;
	}
	/* An interrupt before the request is parked calls flush_intr, which
	 * finds nothing: fuse_req_interrupted() below catches it. */
	fuse_req_interrupt_func(req, flush_intr, fh);
	GSList *aborted = NULL, *others = NULL;
	int err = 0;
	pthread_mutex_lock(&fh->mu);
	if (g_queue_is_empty(&fh->waits)) {
		err = 0;
	} else if (fuse_req_interrupted(req)) {
		err = EINTR;
		aborted = abort_waits(fh);
		if (g_queue_is_empty(&fh->waits))
			others = take_flushes(fh);
	} else {
		fh->flushes = g_slist_prepend(fh->flushes, req);
		pthread_mutex_unlock(&fh->mu);
		return;
	}
	pthread_mutex_unlock(&fh->mu);
	fuse_req_interrupt_func(req, NULL, NULL);
	fuse_reply_err(req, err);
	answer_flushes(others, 0);
	free_waits(aborted);
}

/* The file is closed (release) or the daemon exits: withdraw its waits
 * and answer flushes still parked. */
void control_close(struct fh *fh)
{
	pthread_mutex_lock(&fh->mu);
	GSList *aborted = abort_waits(fh);
	GSList *reqs = take_flushes(fh);
	pthread_mutex_unlock(&fh->mu);
	answer_flushes(reqs, EINTR);
	free_waits(aborted);
}

/* ---- rmdir ---------------------------------------------------------------- */

enum phase { PH_RUNNING, PH_ARMING, PH_ARMED, PH_ABORTING };

struct rop {
	pthread_mutex_t mu;
	fuse_req_t req;			/* mu: NULL once answered */
	unsigned int gen;		/* mu: barrier generation */
	enum phase phase;		/* mu */
	bool interrupted;		/* mu */
	int refs;			/* atomic: the running thread, the barrier */
	struct wq_barrier bar;
	struct fsq *q;			/* ref */
	unsigned int spins;
};

#define PARKED 1000		/* rop_arm: the callback will resume */

static void rmdir_step(struct rop *op);

static void rop_unref(struct rop *op)
{
	if (__atomic_sub_fetch(&op->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_mutex_lock(&fs_lock);
	fsq_unref(op->q);
	pthread_mutex_unlock(&fs_lock);
	pthread_mutex_destroy(&op->mu);
	g_free(op);
}

/* Answer the rmdir.  in_intr: called from the interrupt callback. */
static void rop_reply(struct rop *op, int res, bool in_intr)
{
	pthread_mutex_lock(&op->mu);
	fuse_req_t req = op->req;
	op->req = NULL;
	pthread_mutex_unlock(&op->mu);
	if (!req)
		return;
	if (!in_intr)
		fuse_req_interrupt_func(req, NULL, NULL);
	fuse_reply_err(req, -res);
}

/* The wait is abandoned: take the queue back into service. */
static void rmdir_undo(struct rop *op, int res, bool in_intr)
{
	pthread_mutex_lock(&fs_lock);
	wq_unshutdown(op->q->wq);
	op->q->removing = false;
	pthread_mutex_unlock(&fs_lock);
	rop_reply(op, res, in_intr);
}

/* Withdraw an armed barrier; on success answer EINTR and drop the
 * barrier's reference. */
static void try_abort(struct rop *op, bool in_intr)
{
	pthread_mutex_lock(&op->mu);
	if (op->phase != PH_ARMED) {
		pthread_mutex_unlock(&op->mu);
		return;
	}
	op->phase = PH_ABORTING;
	pthread_mutex_unlock(&op->mu);
	if (!wq_barrier_abort(&op->bar))
		return;		/* the callback is coming: the resumer answers */
	pthread_mutex_lock(&op->mu);
	op->phase = PH_RUNNING;
	pthread_mutex_unlock(&op->mu);
	rmdir_undo(op, -EINTR, in_intr);
	rop_unref(op);
	__atomic_sub_fetch(&n_armed, 1, __ATOMIC_ACQ_REL);
}

static void rop_intr(fuse_req_t req, void *data)
{
	struct rop *op = data;
	pthread_mutex_lock(&op->mu);
	op->interrupted = true;
	bool armed = op->phase == PH_ARMED && op->req;
	pthread_mutex_unlock(&op->mu);
	if (armed)
		try_abort(op, true);
}

static bool rop_interrupted(struct rop *op)
{
	pthread_mutex_lock(&op->mu);
	bool i = op->interrupted;
	pthread_mutex_unlock(&op->mu);
	return i;
}

static void rop_resumed(void *arg, int result)
{
	struct rop *op = arg;
	pthread_mutex_lock(&op->mu);
	op->phase = PH_RUNNING;
	pthread_mutex_unlock(&op->mu);
	rmdir_step(op);
	rop_unref(op);
	__atomic_sub_fetch(&n_armed, 1, __ATOMIC_ACQ_REL);
}

static void rop_fired(struct wq_barrier *b, int result, void *data)
{
	resumer_push(rop_resumed, data, result);
}

/* Arm the queue's flush.  Returns PARKED (the callback will resume op),
 * or the immediate result (1) or -errno. */
static int rop_arm(struct rop *op)
{
	pthread_mutex_lock(&op->mu);
	unsigned int gen = ++op->gen;
	op->phase = PH_ARMING;
	pthread_mutex_unlock(&op->mu);
	__atomic_add_fetch(&op->refs, 1, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&n_armed, 1, __ATOMIC_ACQ_REL);
	int r = wq_flush_workqueue_async(op->q->wq, &op->bar, rop_fired, op);
	if (r != 0) {
		/* known at once: the callback will not be called */
		__atomic_sub_fetch(&n_armed, 1, __ATOMIC_ACQ_REL);
		__atomic_sub_fetch(&op->refs, 1, __ATOMIC_ACQ_REL);
		pthread_mutex_lock(&op->mu);
		op->phase = PH_RUNNING;
		pthread_mutex_unlock(&op->mu);
		return r;
	}
	bool intr = false;
	pthread_mutex_lock(&op->mu);
	if (op->gen == gen && op->phase == PH_ARMING) {
		op->phase = PH_ARMED;
		intr = op->interrupted;
	}
	pthread_mutex_unlock(&op->mu);
	if (intr)
		try_abort(op, false);
	return PARKED;
}

/* Remove the queue if it is idle; fs_lock held. */
static bool rmdir_finish(struct fsq *q)
{
	struct wq_stats st;
	wq_get_stats(q->wq, &st);
	if (st.pending + st.running + st.delayed)
		return false;
	g_hash_table_remove(queues_by_name, q->name);
	g_hash_table_remove(queues_by_id, GSIZE_TO_POINTER(q->id));
	q->dead = true;
	q->removing = false;
	fsq_unref(q);	/* the tree's reference */
	return true;
}

static void rmdir_step(struct rop *op)
{
	for (;;) {
		pthread_mutex_lock(&fs_lock);
		bool done = rmdir_finish(op->q);
		pthread_mutex_unlock(&fs_lock);
		if (done) {
			rop_reply(op, 0, false);
			return;
		}
		if (rop_interrupted(op)) {
			rmdir_undo(op, -EINTR, false);
			return;
		}
		int r = rop_arm(op);
		if (r == PARKED)
			return;
		if (r < 0) {
			rmdir_undo(op, r, false);
			return;
		}
		/* flushed at once but not idle yet (a work is finishing) */
		if (++op->spins > 10)
			g_usleep(1000);
	}
}

void queue_rmdir(fuse_req_t req, struct fsq *q)
{
	struct rop *op = g_new0(struct rop, 1);
	pthread_mutex_init(&op->mu, NULL);
	op->req = req;
	op->refs = 1;
	op->q = q;
	fuse_req_interrupt_func(req, rop_intr, op);
	pthread_mutex_lock(&fs_lock);
	int r = 0;
	if (q->removing || q->dead)
		r = q->dead ? -ENOENT : -EBUSY;
	else if ((r = wq_shutdown(q->wq)) == 0)
		q->removing = true;
	pthread_mutex_unlock(&fs_lock);
	if (r < 0)
		rop_reply(op, r, false);
	else
		rmdir_step(op);
	rop_unref(op);
}

/* ---- control lines -------------------------------------------------------- */

/* One write to a control file. */
struct wctl {
	struct fh *fh;
	struct fsq *q;			/* fh->q */
	enum wqfs_ctl ctl;
	struct wctx *ctx;		/* the writer */
	int cpu;			/* the writer's CPU (per-CPU queue), or -1 */
	GString *ids;			/* names queued by this write */
};

static int queue_cpu(const struct wctl *c)
{
	return c->cpu >= 0 ? c->cpu : WORK_CPU_UNBOUND;
}

/* The work a submit/delay line names, created if it must be; fs_lock
 * held.  Sets *created. */
static int line_work(struct wctl *c, const struct wqfs_line *l, struct fsw **wp,
		     bool *created)
{
	struct fsq *q = c->q;
	struct fsw *w = l->name[0] ? g_hash_table_lookup(q->works, l->name) : NULL;
	char anon[32];

	*created = false;
	if (c->ctl == WQFS_CTL_MODIFY) {
		if (!l->name[0] || !l->has_delay)
			return -EINVAL;
		if (!w)
			return -ENOENT;
	} else if (!w) {
		if (!l->command)
			return l->name[0] ? -ENOENT : -EINVAL;
		if (c->ctl == WQFS_CTL_DELAY && !l->has_delay)
			return -EINVAL;
		/* At the limit, a finished anonymous work kept for works/ gives
		 * way: only pending, running and named works fill a queue. */
		if (q->nworks >= opts.max_works && q->anon_done.length)
			fsq_gc_anon(q, q->anon_done.length - 1);
		if (q->nworks >= opts.max_works)
			return -ENOSPC;
		const char *name = l->name;
		if (!name[0]) {
			do
				snprintf(anon, sizeof anon, "w%lu", next_anon_id());
			while (g_hash_table_lookup(q->works, anon));
			name = anon;
		}
		w = fsw_new(q, name, !l->name[0]);
		*created = true;
	}
	*wp = w;
	return 0;
}

static int queue_engine(struct wctl *c, struct fsw *w, const struct wqfs_line *l)
{
	int r;
	switch (c->ctl) {
	case WQFS_CTL_SUBMIT:
		return wq_queue_work_on(queue_cpu(c), c->q->wq, &w->dwork.work);
	case WQFS_CTL_DELAY:
		return wq_queue_delayed_work_ns(queue_cpu(c), c->q->wq, &w->dwork,
						l->delay_ns);
	default:
		r = wq_mod_delayed_work_ns(queue_cpu(c), c->q->wq, &w->dwork, l->delay_ns);
		return r > 0 ? 0 : r;
	}
}

/* submit, delay, modify: fs_lock held. */
static int queue_line(struct wctl *c, const struct wqfs_line *l)
{
	struct fsq *q = c->q;
	struct fsw *w = NULL;
	bool created;

	if (q->dead || q->removing || wqfs_exiting)
		return -ESHUTDOWN;
	if (c->ctx->uid != getuid() && !wq_command_can_switch_user())
		return -EPERM;
	int r = line_work(c, l, &w, &created);
	if (r < 0)
		return r;

	/* Set the new command and creds first: the work may start as soon as
	 * it is queued (its func waits for fs_lock, which we hold). */
	char *old_cmd = w->command;
	struct wctx *old_ctx = w->ctx;
	w->command = l->command ? g_strndup(l->command, l->command_len) : g_strdup(old_cmd);
	w->ctx = wctx_ref(c->ctx);

	r = queue_engine(c, w, l);
	if (r < 0) {
		g_free(w->command);
		wctx_unref(w->ctx);
		w->command = old_cmd;
		w->ctx = old_ctx;
		if (created) {
			fsw_unlist(w);
			fsw_free(w);
		}
		return r == -ECANCELED ? -EBUSY : r;
	}
	g_free(old_cmd);
	wctx_unref(old_ctx);
	unsigned long now = wq_jiffies();
	w->has_queued = true;
	w->queued_at = now;
	w->has_due = l->has_delay;
	if (l->has_delay)
		w->due_at = now + wq_ns_to_jiffies(l->delay_ns);
	g_string_append_printf(c->ids, "%s\n", w->name);
	return 0;
}

/* The writer descends from a work running on this queue (and would wait
 * for itself).  No lock held. */
static bool would_deadlock(struct wctl *c)
{
	char qn[WQFS_NAME_MAX + 1], wn[WQFS_NAME_MAX + 1];

	if (!c->ctx || !caller_work(c->ctx->pid, qn, sizeof qn, wn, sizeof wn) ||
	    strcmp(qn, c->q->name) != 0)
		return false;
	pthread_mutex_lock(&fs_lock);
	struct fsw *self = g_hash_table_lookup(c->q->works, wn);
	bool dl = self && self->running;
	pthread_mutex_unlock(&fs_lock);
	return dl;
}

static bool work_runs(struct fsw *w)
{
	return w->running || (work_busy(&w->dwork.work) & WORK_BUSY_RUNNING);
}

/*
 * cancel NAME: cancel_delayed_work_sync.  The pending instance is grabbed
 * now (the line's result: ENOENT if there was none); a running instance
 * is stopped and the close waits for it, the work kept from being queued
 * again meanwhile.  w is held.
 */
static int cancel_line(struct wctl *c, struct fsw *w)
{
	bool pending = cancel_delayed_work(&w->dwork);
	pthread_mutex_lock(&fs_lock);
	bool running = work_runs(w);
	pthread_mutex_unlock(&fs_lock);
	if (running) {
		int r = fwait_arm(c->fh, w, WAIT_CANCEL);
		if (r < 0)
			return r;
		pthread_mutex_lock(&fs_lock);
		if (work_runs(w))
			wq_command_kill(&w->cmd);
		pthread_mutex_unlock(&fs_lock);
	}
	return pending ? 0 : -ENOENT;
}

/* Look NAME up for cancel or flush and hold it; fs_lock held.  Returns
 * 1 when there is nothing to do (an idle work: *res is the line's
 * result), 0 with *wp held, or -errno. */
static int wait_target(struct wctl *c, const struct wqfs_line *l, struct fsw **wp)
{
	bool cancel = c->ctl == WQFS_CTL_CANCEL;

	*wp = NULL;
	if (c->q->dead)
		return -ESHUTDOWN;
	if (!l->name[0])
		return cancel ? -EINVAL : 0;
	struct fsw *w = g_hash_table_lookup(c->q->works, l->name);
	if (!w)
		return -ENOENT;
	if (!work_busy(&w->dwork.work) && !w->running)
		return cancel ? -ENOENT : 1;
	w->holds++;
	*wp = w;
	return 0;
}

/* cancel, flush: applied now; a wait is left on the file for its close. */
static int wait_line(struct wctl *c, const struct wqfs_line *l)
{
	bool cancel = c->ctl == WQFS_CTL_CANCEL;
	struct fsw *w;

	pthread_mutex_lock(&fs_lock);
	int r = wait_target(c, l, &w);
	bool check = r == 0 && (!cancel || work_runs(w));
	pthread_mutex_unlock(&fs_lock);
	if (r != 0)
		return r < 0 ? r : 0;
	if (check && would_deadlock(c))
		r = -EDEADLK;
	else if (cancel)
		r = cancel_line(c, w);
	else
		r = fwait_arm(c->fh, w, w ? WAIT_FLUSH_WORK : WAIT_FLUSH_QUEUE);
	hold_work(w, -1);
	return r;
}

static bool queues_works(enum wqfs_ctl ctl)
{
	return ctl == WQFS_CTL_SUBMIT || ctl == WQFS_CTL_DELAY || ctl == WQFS_CTL_MODIFY;
}

static int apply_line(struct wctl *c, const char *line, size_t len)
{
	struct wqfs_line l;
	int r = wqfs_parse_line(c->ctl, line, len, opts.hz, &l);
	if (r < 0)
		return r;
	if (c->ctl == WQFS_CTL_CANCEL || c->ctl == WQFS_CTL_FLUSH)
		return wait_line(c, &l);
	pthread_mutex_lock(&fs_lock);
	r = queue_line(c, &l);
	pthread_mutex_unlock(&fs_lock);
	return r;
}

/* Apply the lines of data[0, len) in order.  Returns 0, or the errno of
 * the first failing line with its offset in *fail: nothing after it is
 * applied. */
static int apply_lines(struct wctl *c, const char *data, size_t len, size_t *fail)
{
	size_t pos = 0, start;
	const char *line;
	size_t l;

	while (start = pos, wqfs_next_line(data, len, &pos, &line, &l)) {
		int err = apply_line(c, line, l);
		if (err < 0) {
			*fail = start;
			return err;
		}
	}
	return 0;
}

/* The writer's context: the one fh keeps while the same pid, uid and gid
 * write on it, else captured now (and kept). */
static struct wctx *writer_ctx(fuse_req_t req, struct fh *fh)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);

	pthread_mutex_lock(&fh->mu);
	struct wctx *x = fh->ctx;
	if (x && x->pid == fc->pid && x->uid == fc->uid && x->gid == fc->gid) {
		wctx_ref(x);
		pthread_mutex_unlock(&fh->mu);
		return x;
	}
	pthread_mutex_unlock(&fh->mu);
	x = wctx_capture(req);
	pthread_mutex_lock(&fh->mu);
	struct wctx *old = fh->ctx;
	fh->ctx = wctx_ref(x);
	pthread_mutex_unlock(&fh->mu);
	wctx_unref(old);
	return x;
}

static void wctl_init(struct wctl *c, fuse_req_t req, struct fh *fh)
{
	c->fh = fh;
	c->q = fh->q;
	c->ctl = (enum wqfs_ctl)nodes[fh->kind].arg;
	c->ctx = writer_ctx(req, fh);
	c->cpu = -1;
	/* only a per-CPU queue needs the submitter's CPU */
	if (queues_works(c->ctl) && !(wq_flags(c->q->wq) & WQ_UNBOUND)) {
		pthread_mutex_lock(&fh->mu);
		c->cpu = caller_cpu(c->ctx->pid, &fh->statfd, &fh->statpid);
		pthread_mutex_unlock(&fh->mu);
	}
	c->ids = g_string_new(NULL);
}

/* Keep the names the write queued for reads on the same descriptor. */
static void wctl_done(struct wctl *c)
{
	struct fh *fh = c->fh;
	if (c->ctl == WQFS_CTL_SUBMIT || c->ctl == WQFS_CTL_DELAY) {
		pthread_mutex_lock(&fh->mu);
		g_free(fh->rb);
		fh->rblen = c->ids->len;
		fh->rb = g_string_free(c->ids, FALSE);
		fh->rbpos = 0;
		pthread_mutex_unlock(&fh->mu);
	} else {
		g_string_free(c->ids, TRUE);
	}
	wctx_unref(c->ctx);
}

/*
 * Where the lines of a write end.  A write is a set of whole lines and its
 * last line ends with it (sysfs), except for a stdio buffer's flush: glibc
 * caps stdio buffers at BUFSIZ (8 KiB) whatever st_blksize says, so bash's
 * printf of a long line comes as writes of whole buffers.  A write whose
 * size is a multiple of STDIO_CHUNK and whose data does not end in '\n'
 * leaves its last line to the next write on the descriptor, or to close.
 */
#define STDIO_CHUNK	4096

static size_t lines_end(const char *data, size_t len, size_t size)
{
	if (size % STDIO_CHUNK || data[len - 1] == '\n')
		return len;
	const char *nl = memrchr(data, '\n', len);
	return nl ? (size_t)(nl - data) + 1 : 0;
}

/* The line a stdio flush left on fh, taken; NULL if none. */
static GString *take_part(struct fh *fh)
{
	pthread_mutex_lock(&fh->mu);
	GString *part = fh->part;
	fh->part = NULL;
	pthread_mutex_unlock(&fh->mu);
	return part;
}

static void keep_part(struct fh *fh, const char *data, size_t len)
{
	pthread_mutex_lock(&fh->mu);
	fh->part = g_string_new_len(data, (gssize)len);
	pthread_mutex_unlock(&fh->mu);
}

/*
 * Apply the lines of a write, after the start of a line an earlier write
 * left.  When a line fails the write returns the bytes before it (a short
 * write), or its errno if it is the first: nothing after a failing line is
 * applied, and a retry that starts at it fails again.
 */
void control_write(fuse_req_t req, struct fh *fh, const char *buf, size_t size)
{
	GString *part = take_part(fh);
	size_t off = part ? part->len : 0;
	if (part)
		g_string_append_len(part, buf, (gssize)size);
	const char *data = part ? part->str : buf;
	size_t len = off + size, end = lines_end(data, len, size), fail = 0;
	struct wctl c;

	wctl_init(&c, req, fh);
	int err = apply_lines(&c, data, end, &fail);
	if (!err && len - end > WQFS_LINE_MAX) {
		err = -E2BIG;
		fail = end;
	} else if (!err && end < len) {
		keep_part(fh, data + end, len - end);
	}
	wctl_done(&c);
	if (part)
		g_string_free(part, TRUE);
	/* a line that fails at fail > 0 starts in this write: fail > off */
	if (err < 0 && fail == 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, err < 0 ? fail - off : size);
}

/* At close: apply the line a stdio flush left.  Returns 0 or -errno. */
static int apply_part(fuse_req_t req, struct fh *fh)
{
	GString *part = take_part(fh);
	if (!part)
		return 0;
	struct wctl c;
	size_t fail;
	wctl_init(&c, req, fh);
	int err = part->len > WQFS_LINE_MAX ? -E2BIG :
		  apply_lines(&c, part->str, part->len, &fail);
	wctl_done(&c);
	g_string_free(part, TRUE);
	return err;
}

/* ---- attributes ------------------------------------------------------------- */

void attr_write(fuse_req_t req, struct fh *fh, const char *buf, size_t size)
{
	struct fsq *q = fh->q;
	int r = 0;

	pthread_mutex_lock(&fs_lock);
	bool dead = q->dead;
	pthread_mutex_unlock(&fs_lock);
	if (dead) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (fh->kind) {
	case K_PER_CPU: {
		bool v;
		r = wqfs_parse_bool(buf, size, &v);
		if (r == 0)
			r = wq_set_unbound(q->wq, !v);
		break;
	}
	case K_MAX_ACTIVE: {
		int v;
		r = wqfs_parse_max_active(buf, size, &v);
		if (r == 0)
			workqueue_set_max_active(q->wq, v);
		break;
	}
	case K_CPUMASK: {
		struct workqueue_attrs at;
		long n = sysconf(_SC_NPROCESSORS_CONF);
		wq_get_attrs(q->wq, &at);
		r = wqfs_parse_cpumask(buf, size, n > 0 && n <= CPU_SETSIZE ? (int)n : 1,
				       &at.cpumask);
		if (r == 0)
			r = apply_workqueue_attrs(q->wq, &at);
		break;
	}
	case K_NICE: {
		struct workqueue_attrs at;
		int v;
		r = wqfs_parse_nice(buf, size, &v);
		if (r == 0) {
			wq_get_attrs(q->wq, &at);
			at.nice = v;
			r = apply_workqueue_attrs(q->wq, &at);
		}
		break;
	}
	case K_FROZEN: {
		bool v;
		r = wqfs_parse_bool(buf, size, &v);
		if (r == 0)
			wq_freeze(q->wq, v);
		break;
	}
	default:
		r = -EINVAL;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}
