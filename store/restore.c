/* SPDX-License-Identifier: MIT */
/*
 * restore.c - the kept queues and works recreated in the model at start:
 * queues with their owners, modes and attributes, then works in the order
 * they were queued (model/restore.c queues them again).  Works that were
 * running when the daemon died are marked lost, in the model and in the
 * database.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const char *col_text(const struct row *st, int i)
{
	const char *t = st->s->be->col_text(st, i);
	return t ? t : "";
}

static int64_t col_int(const struct row *st, int i)
{
	return st->s->be->col_int(st, i);
}

static const void *col_blob(const struct row *st, int i, size_t *len)
{
	return st->s->be->col_blob(st, i, len);
}

/* The queue of a row, created (or `events`, which exists already). */
static int restore_queue(const struct row *st, struct submitter *root)
{
	struct fattr files[MQ_NFILES] = { 0 };
	struct mqueue *q;
	const char *name = col_text(st, 0);

	files_from_text(col_text(st, 2), files);
	int r = mqueue_create(name, (uid_t)col_int(st, 1),
			      files[MQ_DIR].gid, files[MQ_DIR].mode, &q);
	if (r == -EEXIST && strcmp(name, "events") == 0 && events_q)
		q = events_q, r = 0;
	if (r < 0)
		return r;
	model_lock();
	q->ctime = (time_t)col_int(st, 8);
	for (int i = 0; i < MQ_NFILES; i++)
		mqueue_set_file(q, i, &files[i]);
	model_unlock();
	struct wqfs_attr_value v[] = {
		{ .attr = WQFS_ATTR_PER_CPU, .on = !(int)col_int(st, 3) },
		{ .attr = WQFS_ATTR_MAX_ACTIVE, .n = (int)col_int(st, 4) },
		{ .attr = WQFS_ATTR_CPUMASK },
		{ .attr = WQFS_ATTR_NICE, .n = (int)col_int(st, 6) },
		{ .attr = WQFS_ATTR_FROZEN, .on = (int)col_int(st, 7) },
		{ .attr = WQFS_ATTR_REQUEUE_LOST, .on = (int)col_int(st, 9) },
	};
	cpumask_from_text(col_text(st, 5), &v[2].mask);
	for (size_t i = 0; i < G_N_ELEMENTS(v); i++)
		if (i != 2 || CPU_COUNT(&v[2].mask))
			mqueue_set_attr(q, &v[i], root);
	struct wq_stats before = {	/* nothing runs across a restart */
		.started = (uint64_t)col_int(st, 10),
		.completed = (uint64_t)col_int(st, 10),
		.failed = (uint64_t)col_int(st, 11),
		.cancelled = (uint64_t)col_int(st, 12),
	};
	wq_stats_restore(q->wq, &before);
	return 0;
}

static GBytes *col_bytes(const struct row *st, int i)
{
	size_t len;
	const void *p = col_blob(st, i, &len);
	return p ? g_bytes_new(p, len) : NULL;
}

/* SELECT id, uid, gid, groups, cwd, env, limits FROM submitters: one,
 * shared by the works it queued (its journal_id says it is written). */
static struct submitter *row_submitter(const struct row *st)
{
	g_autoptr(GBytes) groups = col_bytes(st, 3);
	g_autoptr(GBytes) env = col_bytes(st, 5);
	g_autoptr(GBytes) limits = col_bytes(st, 6);
	gsize n = 0;
	const gid_t *g = groups ? g_bytes_get_data(groups, &n) : NULL;
	struct submitter *sub = submitter_new((uid_t)col_int(st, 1),
					      (gid_t)col_int(st, 2), 0,
					      g, n / sizeof(gid_t));
	const char *cwd = st->s->be->col_text(st, 4);
	sub->cwd = cwd ? g_strdup(cwd) : NULL;
	GPtrArray *a = g_ptr_array_new();
	gsize len = 0;
	const char *e = env ? g_bytes_get_data(env, &len) : NULL;
	for (gsize i = 0; e && i < len; i += strnlen(e + i, len - i) + 1)
		g_ptr_array_add(a, g_strndup(e + i, len - i));
	g_ptr_array_add(a, NULL);
	sub->env = (char **)g_ptr_array_free(a, FALSE);
	if (limits && g_bytes_get_size(limits) == sizeof(struct rlimit) * RLIM_NLIMITS)
		sub->limits = g_memdup2(g_bytes_get_data(limits, NULL),
					g_bytes_get_size(limits));
	sub->journal_id = col_int(st, 0);
	return sub;
}

static const enum mwork_state row_states[] = {
	[ROW_IDLE] = MW_DONE, [ROW_PENDING] = MW_PENDING, [ROW_DELAYED] = MW_DELAYED,
	[ROW_RUNNING] = MW_RUNNING, [ROW_LOST] = MW_LOST, [ROW_CANCELLED] = MW_CANCELLED,
	[ROW_BLOCKED] = MW_BLOCKED,
};

/* SELECT queue, name, anon, owner, command, sub, state, ord, due_ms, runs,
 *        has_exit, last_exit, output, ctime, queued_ms, started_ms,
 *        finished_ms, after, reason FROM works */
static int restore_work(const struct row *st, GHashTable *subs)
{
	struct mqueue *q = g_hash_table_lookup(queues_by_name, col_text(st, 0));
	struct submitter *sub = g_hash_table_lookup(subs, GINT_TO_POINTER(
							col_int(st, 5)));
	int state = (int)col_int(st, 6);
	size_t output_len = 0;
	if (!q || !sub || state < ROW_IDLE || state > ROW_BLOCKED)
		return 0;	/* a row without its queue: dropped */
	struct mwork_saved s = {
		.name = col_text(st, 1),
		.anon = (int)col_int(st, 2),
		.owner = (uid_t)col_int(st, 3),
		.command = col_text(st, 4),
		.sub = sub,
		.state = row_states[state],
		.due_in_ms = col_int(st, 8) - model_now_ms(),
		.runs = (unsigned long)col_int(st, 9),
		.has_exit = (int)col_int(st, 10),
		.last_exit = (int)col_int(st, 11),
		.lost = state == ROW_LOST,
		.output = col_blob(st, 12, &output_len),
		.output_len = output_len,
		.ctime = (time_t)col_int(st, 13),
		.queued_ms = col_int(st, 14),
		.started_ms = col_int(st, 15),
		.finished_ms = col_int(st, 16),
		.cancelled = state == ROW_CANCELLED,
		.after = col_text(st, 17),
		.reason = st->s->be->col_text(st, 18),
	};
	return mwork_restore(q, &s);
}

static int first_int(const struct row *st, void *v)
{
	*(int64_t *)v = col_int(st, 0);
	return 1;	/* stop */
}

int64_t store_int(struct store *s, const char *sql, int64_t none)
{
	int64_t v = none;
	s->be->each_row(s, sql, first_int, &v);
	return v;
}

static int queue_row(const struct row *st, void *root)
{
	return restore_queue(st, root);
}

static int work_row(const struct row *st, void *subs)
{
	return restore_work(st, subs);
}

static int sub_row(const struct row *st, void *subs)
{
	struct submitter *sub = row_submitter(st);
	g_hash_table_insert(subs, GINT_TO_POINTER(sub->journal_id), sub);
	return 0;
}

static int replay_one(struct store *s, struct rec *r)
{
	int err = s->be->apply(s, r);
	rec_free(r);
	return err;
}

/* The log's records that the database lacks (the daemon died before the
 * writer applied them), applied in one transaction; then the log starts
 * again at offset 0 and sequence numbers go on from the last. */
static int replay_log(struct store *s)
{
	if (!s->be->set_applied || log_open(s) < 0)
		return 0;
	int64_t applied = store_int(s, "SELECT applied FROM meta", 0);
	uint64_t last = 0;
	int r = s->be->exec(s, s->be->begin);
	if (r == 0)
		r = log_replay(s, (uint64_t)applied, replay_one, &last);
	s->seq_base = MAX(last, (uint64_t)applied);
	if (r == 0)
		r = store_set_applied(s, s->seq_base);
	if (r == 0)
		r = s->be->exec(s, "COMMIT");
	if (r < 0)
		store_rollback(s);
	s->log_tail = 0;
	return r;
}

int store_restore(struct store *s)
{
	struct submitter *root = submitter_new(0, 0, 0, NULL, 0);
	GHashTable *subs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
						 (GDestroyNotify)submitter_unref);
	int r = s->be->connect(s);
	if (r == 0)
		r = replay_log(s);
	if (r == 0)	/* running when the daemon died: lost, counted failed;
			 * or queued again */
		r = s->be->exec(s, "BEGIN;"
			    "UPDATE queues SET"
			    " completed = completed + (SELECT count(*) FROM works"
			    "  WHERE works.queue = queues.name AND works.state = 3),"
			    " failed = failed + (SELECT count(*) FROM works"
			    "  WHERE works.queue = queues.name AND works.state = 3)"
			    " WHERE requeue_lost = 0;"
			    "UPDATE works SET state = CASE (SELECT requeue_lost FROM"
			    " queues WHERE name = works.queue) WHEN 1 THEN 1 ELSE 4 END"
			    " WHERE state = 3;"
			    "DELETE FROM submitters WHERE id NOT IN (SELECT sub FROM works);"
			    "COMMIT");
	if (r < 0)
		store_rollback(s);
	if (r == 0)
		r = s->be->each_row(s, "SELECT name, creator, files, unbound, max_active, cpumask,"
			     " nice, frozen, ctime, requeue_lost, completed, failed, cancelled"
			     " FROM queues ORDER BY ctime, name",
			     queue_row, root);
	if (r == 0)
		r = s->be->each_row(s, "SELECT id, uid, gid, groups, cwd, env, limits FROM submitters",
			     sub_row, subs);
	if (r == 0)
		r = s->be->each_row(s, "SELECT queue, name, anon, owner, command, sub, state, ord,"
			     " due_ms, runs, has_exit, last_exit, output, ctime, queued_ms,"
			     " started_ms, finished_ms, after, reason FROM works"
			     " ORDER BY ord", work_row, subs);
	s->order = store_int(s, "SELECT coalesce(max(ord), 0) FROM works", 0);
	s->sub_id = store_int(s, "SELECT coalesce(max(id), 0) FROM submitters", 0);
	g_hash_table_destroy(subs);
	submitter_unref(root);
	if (r < 0)
		fprintf(stderr, "wqfs: %s: cannot restore the state: %s\n", s->path,
			strerror(-r));
	return r;
}
