/* SPDX-License-Identifier: MIT */
/*
 * control.c - writes to a queue's control files (submit, delay, modify,
 * cancel, flush, drain): split into lines, parsed, applied in order by
 * the model (model/line.c), answered.
 *
 * Who a line acts for is fixed when the file is opened (fh->sub, as the
 * kernel binds f_cred at open): whoever writes or closes the descriptor
 * later, a setuid program among them, acts for the opener.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wqfs.h"

static bool queues_works(enum wqfs_ctl ctl)
{
	return ctl == WQFS_CTL_SUBMIT || ctl == WQFS_CTL_DELAY || ctl == WQFS_CTL_MODIFY;
}

static enum wqfs_ctl fh_ctl(const struct fh *fh)
{
	return (enum wqfs_ctl)nodes[fh->kind].arg;
}

/*
 * at_close: the lines a close applies read nothing of the closer's /proc:
 * a close inside execve(2) (an O_CLOEXEC descriptor) comes from a process
 * whose /proc files wait for its exec to end, which waits for this close.
 * Its works run on the daemon's CPU, and it counts as no work of ours.
 */
static void writer_init(struct mwriter *m, fuse_req_t req, struct fh *fh, bool at_close)
{
	*m = (struct mwriter){
		.q = fh->q,
		.sub = submitter_ref(fh->sub),
		.pid = at_close ? 0 : fuse_req_ctx(req)->pid,
		.cpu = -1,
		.own = at_close ? 0 : -1,
		.ids = g_string_new(NULL),
		.queued = g_array_new(FALSE, FALSE, sizeof(struct mqueued)),
		.arm = fwait_arm,
		.data = fh,
	};
	/* only a per-CPU queue needs the submitter's CPU */
	if (m->pid && queues_works(fh_ctl(fh)) && mqueue_wants_cpu(fh->q)) {
		pthread_mutex_lock(&fh->mu);
		m->cpu = proc_cpu(&fh->cpu, m->pid);
		pthread_mutex_unlock(&fh->mu);
	}
}

/* After a failed commit (err) of what m's lines changed: take back what
 * they queued (a work that started meanwhile cannot be: the report says
 * so) and forget their names.  Returns err. */
static int take_back(struct mwriter *m, int err)
{
	int started = model_take_back(m);
	if (started)
		fprintf(stderr, "wqfs: %s: %d work(s) of a write whose commit failed "
			"(%s) had started already; they were not taken back\n",
			m->q->name, started, strerror(-err));
	g_string_truncate(m->ids, 0);
	return err;
}

/* Commit what m's lines changed, or take it back.  0 or -errno. */
static int commit_or_take_back(struct mwriter *m)
{
	int err = model_commit();
	return err == 0 ? 0 : take_back(m, err);
}

/* Keep the names the write queued for reads on the same descriptor. */
static void writer_done(struct mwriter *m, struct fh *fh)
{
	enum wqfs_ctl ctl = fh_ctl(fh);
	if (ctl == WQFS_CTL_SUBMIT || ctl == WQFS_CTL_DELAY) {
		pthread_mutex_lock(&fh->mu);
		g_free(fh->rb);
		fh->rblen = m->ids->len;
		fh->rb = g_string_free(m->ids, FALSE);
		fh->rbpos = 0;
		pthread_mutex_unlock(&fh->mu);
	} else {
		g_string_free(m->ids, TRUE);
	}
	g_array_unref(m->queued);
	submitter_unref(m->sub);
}

/* Apply the lines of data[0, len) in order.  Returns 0, or the errno of
 * the first failing line with its offset in *fail: nothing after it is
 * applied. */
static int apply_lines(struct mwriter *m, enum wqfs_ctl ctl, const char *data,
		       size_t len, size_t *fail)
{
	size_t pos = 0, start;
	const char *line;
	size_t n;

	while (start = pos, wqfs_next_line(data, len, &pos, &line, &n)) {
		struct wqfs_line l;
		int err = wqfs_parse_line(ctl, line, n, opts.model.hz, &l);
		if (err == 0)
			err = model_apply_line(m, ctl, &l);
		if (err < 0) {
			*fail = start;
			return err;
		}
	}
	return 0;
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

/* A write between its lines and its answer, which waits for their
 * commit.  The kernel keeps the file open until the answer: fh stays. */
struct ctl_write {
	fuse_req_t req;
	struct fh *fh;
	struct mwriter m;
	int err;		/* the first failing line's, or 0 */
	size_t fail;		/* where it starts in the lines */
	size_t off;		/* where this write starts in them */
	size_t size;		/* this write's bytes */
};

/* Answer a write once its lines are committed (cerr 0) or not: on the
 * handler's thread, or on sync=full's flusher (model_commit_then). */
static void write_committed(void *arg, int cerr)
{
	struct ctl_write *cw = arg;
	int err = cw->err;
	size_t fail = cw->fail;

	if (cerr < 0)
		err = take_back(&cw->m, cerr), fail = 0;
	writer_done(&cw->m, cw->fh);
	/* a line that fails at fail > 0 starts in this write: fail > off */
	if (err < 0 && fail == 0)
		fuse_reply_err(cw->req, -err);
	else
		fuse_reply_write(cw->req, err < 0 ? fail - cw->off : cw->size);
	g_free(cw);
}

/*
 * Apply the lines of a write, after the start of a line an earlier write
 * left (wqfs_lines_end() says where a write's lines end).  When a line
 * fails the write returns the bytes before it (a short write), or its
 * errno if it is the first: nothing after a failing line is applied, and
 * a retry that starts at it fails again.  Acknowledged means committed:
 * a failed commit fails the write, and what it queued is taken back.
 */
void control_write(fuse_req_t req, struct fh *fh, const char *buf, size_t size)
{
	GString *part = take_part(fh);
	size_t off = part ? part->len : 0;
	if (part)
		g_string_append_len(part, buf, (gssize)size);
	const char *data = part ? part->str : buf;
	size_t len = off + size, end = wqfs_lines_end(data, len, size);
	struct ctl_write *cw = g_new(struct ctl_write, 1);

	*cw = (struct ctl_write){ .req = req, .fh = fh, .off = off, .size = size };
	writer_init(&cw->m, req, fh, false);
	/* a store that cannot commit fails the write before it is applied */
	cw->err = model_ready();
	if (cw->err == 0)
		cw->err = apply_lines(&cw->m, fh_ctl(fh), data, end, &cw->fail);
	if (!cw->err && len - end > WQFS_LINE_MAX) {
		cw->err = -E2BIG;
		cw->fail = end;
	} else if (!cw->err && end < len) {
		keep_part(fh, data + end, len - end);
	}
	if (part)
		g_string_free(part, TRUE);
	model_commit_then(write_committed, cw);
}

/* At close: apply the line a stdio flush left.  Returns 0 or -errno. */
int control_apply_part(fuse_req_t req, struct fh *fh)
{
	GString *part = take_part(fh);
	if (!part)
		return 0;
	struct mwriter m;
	size_t fail;
	writer_init(&m, req, fh, true);
	int err = part->len > WQFS_LINE_MAX ? -E2BIG : model_ready();
	if (err == 0)
		err = apply_lines(&m, fh_ctl(fh), part->str, part->len, &fail);
	g_string_free(part, TRUE);
	int cerr = commit_or_take_back(&m);
	writer_done(&m, fh);
	return err < 0 ? err : cerr;
}
