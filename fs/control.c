/* SPDX-License-Identifier: MIT */
/*
 * control.c - the lines written to a queue's control files (submit,
 * delay, modify, cancel, flush, drain), applied in order at write(2).
 *
 * Who a line acts for is fixed when the file is opened (fh->ctx, as the
 * kernel binds f_cred at open): whoever writes or closes the descriptor
 * later, a setuid program among them, acts for the opener.
 *
 * Ownership: a work belongs to the user whose line declared it (w->owner).
 * Only that user may redeclare, re-queue, delay or modify it (EPERM for
 * anyone else, root included: a work always runs as its owner); its
 * owner, the queue's owner and root may cancel it.
 *
 * A line that must wait (flush, cancel of a running work, drain) leaves a
 * wait on the open file (wait.c), answered at close(2).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wqfs.h"

/* One write to a control file. */
struct wctl {
	struct fh *fh;
	struct fsq *q;			/* fh->q */
	enum wqfs_ctl ctl;
	struct wctx *ctx;		/* the opener: every line acts for it */
	pid_t pid;			/* the process writing (or closing) now */
	int cpu;			/* the writer's CPU (per-CPU queue), or -1 */
	int own;			/* the writer descends from a work of q:
					 * -1 not known yet, 0 no, 1 yes */
	GString *ids;			/* names queued by this write */
};

static int queue_cpu(const struct wctl *c)
{
	return c->cpu >= 0 ? c->cpu : WORK_CPU_UNBOUND;
}

/* The writer is a work of this queue (or descends from one).  No lock
 * held; asked once per write, and only where it matters. */
static bool from_own_work(struct wctl *c, char *work, size_t wlen)
{
	char qn[WQFS_NAME_MAX + 1], wn[WQFS_NAME_MAX + 1];

	if (!c->pid || !caller_work(c->pid, qn, sizeof qn, wn, sizeof wn) ||
	    strcmp(qn, c->q->name) != 0)
		return false;
	if (work)
		g_strlcpy(work, wn, wlen);
	return true;
}

/* A new work for a submit/delay line, charged to its owner; fs_lock
 * held.  At the limits, finished anonymous works kept for works/ give
 * way: only pending, running and named works fill a queue. */
static int new_work(struct wctl *c, const struct wqfs_line *l, struct fsw **wp)
{
	struct fsq *q = c->q;
	uid_t uid = c->ctx->uid;
	char anon[32];

	if (q->nworks >= opts.max_works && q->anon_done.length)
		fsq_gc_anon(q, q->anon_done.length - 1);
	if (q->nworks >= opts.max_works)
		return -ENOSPC;
	if (quota_charge(uid, QUOTA_WORKS, 1) < 0) {
		fsq_gc_anon_of(q, uid);
		if (quota_charge(uid, QUOTA_WORKS, 1) < 0)
			return -EDQUOT;
	}
	const char *name = l->name;
	if (!name[0]) {
		do
			snprintf(anon, sizeof anon, "w%lu", next_anon_id());
		while (g_hash_table_lookup(q->works, anon));
		name = anon;
	}
	*wp = fsw_new(q, name, !l->name[0], uid);
	return 0;
}

/* The work a submit/delay/modify line names, created if it must be;
 * fs_lock held.  Sets *created. */
static int line_work(struct wctl *c, const struct wqfs_line *l, struct fsw **wp,
		     bool *created)
{
	struct fsw *w = l->name[0] ? g_hash_table_lookup(c->q->works, l->name) : NULL;

	*created = false;
	if (c->ctl == WQFS_CTL_MODIFY && (!l->name[0] || !l->has_delay))
		return -EINVAL;
	if (w) {
		*wp = w;
		return w->owner == c->ctx->uid ? 0 : -EPERM;
	}
	if (c->ctl == WQFS_CTL_MODIFY)
		return -ENOENT;
	if (!l->command)
		return l->name[0] ? -ENOENT : -EINVAL;
	if (c->ctl == WQFS_CTL_DELAY && !l->has_delay)
		return -EINVAL;
	*created = true;
	return new_work(c, l, wp);
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

/* Undo what queue_line set on w when the engine refused it. */
static void unset_line(struct fsw *w, bool created, char *old_cmd, struct wctx *old_ctx)
{
	fsw_set_command(w, old_cmd);
	wctx_unref(w->ctx);
	w->ctx = old_ctx;
	if (created) {
		fsw_unlist(w);
		fsw_free(w);
	}
}

/* submit, delay, modify: fs_lock held. */
static int queue_line(struct wctl *c, const struct wqfs_line *l)
{
	struct fsq *q = c->q;
	struct fsw *w = NULL;
	bool created;

	if (q->dead || q->removing || wqfs_exiting || (q->draining && c->own != 1))
		return -ESHUTDOWN;
	if (c->ctx->uid != getuid() && !wq_command_can_switch_user())
		return -EPERM;
	int r = line_work(c, l, &w, &created);
	if (r < 0)
		return r;

	/* Set the new command and creds first: the work may start as soon as
	 * it is queued (its func waits for fs_lock, which we hold). */
	char *old_cmd = w->command ? g_strdup(w->command) : NULL;
	struct wctx *old_ctx = w->ctx;
	if (l->command && fsw_set_command_len(w, l->command, l->command_len) < 0) {
		g_free(old_cmd);
		if (created) {
			fsw_unlist(w);
			fsw_free(w);
		}
		return -EDQUOT;
	}
	w->ctx = wctx_ref(c->ctx);

	r = queue_engine(c, w, l);
	if (r < 0) {
		unset_line(w, created, old_cmd, old_ctx);
		g_free(old_cmd);
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
	char wn[WQFS_NAME_MAX + 1];

	if (!from_own_work(c, wn, sizeof wn))
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

/* Its owner, the queue's owner and root may cancel a work; fs_lock. */
static bool may_cancel(struct wctl *c, struct fsw *w)
{
	uid_t uid = c->ctx->uid;
	return uid == 0 || uid == w->owner || uid == c->q->attr[K_QDIR].uid;
}

/*
 * cancel_delayed_work_sync of w (held): the pending instance is grabbed
 * now; a running instance is stopped and the close waits for it.  Returns
 * 1 if there was something to cancel, 0 if not, or -errno.
 */
static int cancel_work(struct wctl *c, struct fsw *w)
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
	return pending || running;
}

/* cancel *: every work of the queue the writer may cancel. */
static int cancel_all(struct wctl *c)
{
	GPtrArray *a = g_ptr_array_new();
	GHashTableIter it;
	gpointer key, val;
	int r = 0;

	pthread_mutex_lock(&fs_lock);
	g_hash_table_iter_init(&it, c->q->works);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		struct fsw *w = val;
		if ((work_busy(&w->dwork.work) || w->running) && may_cancel(c, w)) {
			w->holds++;
			g_ptr_array_add(a, w);
		}
	}
	pthread_mutex_unlock(&fs_lock);
	for (guint i = 0; i < a->len; i++) {
		if (r >= 0)
			r = cancel_work(c, a->pdata[i]);
		fsw_hold(a->pdata[i], -1);
	}
	g_ptr_array_free(a, TRUE);
	return r < 0 ? r : 0;
}

/* Look NAME up for cancel or flush and hold it; fs_lock held.  Returns
 * 1 when there is nothing to do (an idle work), 0 with *wp held (NULL for
 * the whole queue), or -errno. */
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
	if (cancel && !may_cancel(c, w))
		return -EPERM;
	if (!work_busy(&w->dwork.work) && !w->running)
		return cancel ? -ENOENT : 1;
	w->holds++;
	*wp = w;
	return 0;
}

/* cancel NAME, flush: applied now; a wait is left on the file for its
 * close.  cancel NAME with nothing to cancel is ENOENT. */
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
		r = (r = cancel_work(c, w)) < 0 ? r : r ? 0 : -ENOENT;
	else
		r = fwait_arm(c->fh, w, w ? WAIT_FLUSH_WORK : WAIT_FLUSH_QUEUE);
	fsw_hold(w, -1);
	return r;
}

/* drain: drain_workqueue, waiting at close; from a work of the queue it
 * would wait for itself. */
static int drain_line(struct wctl *c)
{
	pthread_mutex_lock(&fs_lock);
	bool dead = c->q->dead || c->q->removing;
	pthread_mutex_unlock(&fs_lock);
	if (dead)
		return -ESHUTDOWN;
	if (from_own_work(c, NULL, 0))
		return -EDEADLK;
	return fwait_arm(c->fh, NULL, WAIT_DRAIN);
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
	switch (c->ctl) {
	case WQFS_CTL_CANCEL:
		return l.all ? cancel_all(c) : wait_line(c, &l);
	case WQFS_CTL_FLUSH:
		return wait_line(c, &l);
	case WQFS_CTL_DRAIN:
		return drain_line(c);
	default:
		break;
	}
	/* while the queue drains, only its own works may queue work */
	if (c->own < 0 && __atomic_load_n(&c->q->draining, __ATOMIC_RELAXED))
		c->own = from_own_work(c, NULL, 0);
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

/*
 * at_close: the lines a close applies read nothing of the closer's /proc:
 * a close inside execve(2) (an O_CLOEXEC descriptor) comes from a process
 * whose /proc files wait for its exec to end, which waits for this close.
 * Its works run on the daemon's CPU, and it counts as no work of ours.
 */
static void wctl_init(struct wctl *c, fuse_req_t req, struct fh *fh, bool at_close)
{
	c->fh = fh;
	c->q = fh->q;
	c->ctl = (enum wqfs_ctl)nodes[fh->kind].arg;
	c->ctx = wctx_ref(fh->ctx);
	c->pid = at_close ? 0 : fuse_req_ctx(req)->pid;
	c->cpu = -1;
	c->own = at_close ? 0 : -1;
	/* only a per-CPU queue needs the submitter's CPU */
	if (c->pid && queues_works(c->ctl) && !(wq_flags(c->q->wq) & WQ_UNBOUND)) {
		pthread_mutex_lock(&fh->mu);
		c->cpu = caller_cpu(c->pid, &fh->statfd, &fh->statpid);
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

	wctl_init(&c, req, fh, false);
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
int control_apply_part(fuse_req_t req, struct fh *fh)
{
	GString *part = take_part(fh);
	if (!part)
		return 0;
	struct wctl c;
	size_t fail;
	wctl_init(&c, req, fh, true);
	int err = part->len > WQFS_LINE_MAX ? -E2BIG :
		  apply_lines(&c, part->str, part->len, &fail);
	wctl_done(&c);
	g_string_free(part, TRUE);
	return err;
}

