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

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

/* The queue of a row, created (or `events`, which exists already). */
static int restore_queue(sqlite3_stmt *st, struct submitter *root)
{
	struct fattr files[MQ_NFILES] = { 0 };
	struct mqueue *q;
	const char *name = col_text(st, 0);

	files_from_text(col_text(st, 2), files);
	int r = mqueue_create(name, (uid_t)sqlite3_column_int64(st, 1),
			      files[MQ_DIR].gid, files[MQ_DIR].mode, &q);
	if (r == -EEXIST && strcmp(name, "events") == 0 && events_q)
		q = events_q, r = 0;
	if (r < 0)
		return r;
	model_lock();
	q->ctime = (time_t)sqlite3_column_int64(st, 8);
	for (int i = 0; i < MQ_NFILES; i++)
		mqueue_set_file(q, i, &files[i]);
	model_unlock();
	struct wqfs_attr_value v[] = {
		{ .attr = WQFS_ATTR_PER_CPU, .on = !sqlite3_column_int(st, 3) },
		{ .attr = WQFS_ATTR_MAX_ACTIVE, .n = sqlite3_column_int(st, 4) },
		{ .attr = WQFS_ATTR_CPUMASK },
		{ .attr = WQFS_ATTR_NICE, .n = sqlite3_column_int(st, 6) },
		{ .attr = WQFS_ATTR_FROZEN, .on = sqlite3_column_int(st, 7) },
		{ .attr = WQFS_ATTR_REQUEUE_LOST, .on = sqlite3_column_int(st, 9) },
	};
	cpumask_from_text(col_text(st, 5), &v[2].mask);
	for (size_t i = 0; i < G_N_ELEMENTS(v); i++)
		if (i != 2 || CPU_COUNT(&v[2].mask))
			mqueue_set_attr(q, &v[i], root);
	return 0;
}

static GBytes *col_bytes(sqlite3_stmt *st, int i)
{
	const void *p = sqlite3_column_blob(st, i);
	return p ? g_bytes_new(p, (gsize)sqlite3_column_bytes(st, i)) : NULL;
}

/* SELECT id, uid, gid, groups, cwd, env, limits FROM submitters: one,
 * shared by the works it queued (its journal_id says it is written). */
static struct submitter *row_submitter(sqlite3_stmt *st)
{
	g_autoptr(GBytes) groups = col_bytes(st, 3);
	g_autoptr(GBytes) env = col_bytes(st, 5);
	g_autoptr(GBytes) limits = col_bytes(st, 6);
	gsize n = 0;
	const gid_t *g = groups ? g_bytes_get_data(groups, &n) : NULL;
	struct submitter *sub = submitter_new((uid_t)sqlite3_column_int64(st, 1),
					      (gid_t)sqlite3_column_int64(st, 2), 0,
					      g, n / sizeof(gid_t));
	const char *cwd = (const char *)sqlite3_column_text(st, 4);
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
	sub->journal_id = sqlite3_column_int64(st, 0);
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
static int restore_work(sqlite3_stmt *st, GHashTable *subs)
{
	struct mqueue *q = g_hash_table_lookup(queues_by_name, col_text(st, 0));
	struct submitter *sub = g_hash_table_lookup(subs, GINT_TO_POINTER(
							sqlite3_column_int64(st, 5)));
	int state = sqlite3_column_int(st, 6);
	if (!q || !sub || state < ROW_IDLE || state > ROW_BLOCKED)
		return 0;	/* a row without its queue: dropped */
	struct mwork_saved s = {
		.name = col_text(st, 1),
		.anon = sqlite3_column_int(st, 2),
		.owner = (uid_t)sqlite3_column_int64(st, 3),
		.command = col_text(st, 4),
		.sub = sub,
		.state = row_states[state],
		.due_in_ms = sqlite3_column_int64(st, 8) - model_now_ms(),
		.runs = (unsigned long)sqlite3_column_int64(st, 9),
		.has_exit = sqlite3_column_int(st, 10),
		.last_exit = sqlite3_column_int(st, 11),
		.lost = state == ROW_LOST,
		.output = sqlite3_column_blob(st, 12),
		.output_len = (size_t)sqlite3_column_bytes(st, 12),
		.ctime = (time_t)sqlite3_column_int64(st, 13),
		.queued_ms = sqlite3_column_int64(st, 14),
		.started_ms = sqlite3_column_int64(st, 15),
		.finished_ms = sqlite3_column_int64(st, 16),
		.cancelled = state == ROW_CANCELLED,
		.after = col_text(st, 17),
		.reason = (const char *)sqlite3_column_text(st, 18),
	};
	return mwork_restore(q, &s);
}

/* Run fn on every row of sql; 0 or the first error. */
static int each_row(struct store *s, const char *sql, int (*fn)(sqlite3_stmt *, void *),
		    void *arg)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	int r = db_errno(rc);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		r = fn(st, arg);
	if (r == 0)
		r = db_errno(rc);
	sqlite3_finalize(st);
	return r;
}

static int queue_row(sqlite3_stmt *st, void *root)
{
	return restore_queue(st, root);
}

static int work_row(sqlite3_stmt *st, void *subs)
{
	return restore_work(st, subs);
}

static int sub_row(sqlite3_stmt *st, void *subs)
{
	struct submitter *sub = row_submitter(st);
	g_hash_table_insert(subs, GINT_TO_POINTER(sub->journal_id), sub);
	return 0;
}

int store_restore(struct store *s)
{
	struct submitter *root = submitter_new(0, 0, 0, NULL, 0);
	GHashTable *subs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
						 (GDestroyNotify)submitter_unref);
	int r = db_connect(s);
	if (r == 0)	/* running when the daemon died: lost, or queued again */
		r = db_exec(s, "UPDATE works SET state = CASE (SELECT requeue_lost FROM"
			    " queues WHERE name = works.queue) WHEN 1 THEN 1 ELSE 4 END"
			    " WHERE state = 3;"
			    "DELETE FROM submitters WHERE id NOT IN (SELECT sub FROM works)");
	if (r == 0)
		r = each_row(s, "SELECT name, creator, files, unbound, max_active, cpumask,"
			     " nice, frozen, ctime, requeue_lost FROM queues ORDER BY ctime, name",
			     queue_row, root);
	if (r == 0)
		r = each_row(s, "SELECT id, uid, gid, groups, cwd, env, limits FROM submitters",
			     sub_row, subs);
	if (r == 0)
		r = each_row(s, "SELECT queue, name, anon, owner, command, sub, state, ord,"
			     " due_ms, runs, has_exit, last_exit, output, ctime, queued_ms,"
			     " started_ms, finished_ms, after, reason FROM works"
			     " ORDER BY ord", work_row, subs);
	s->order = db_int(s, "SELECT coalesce(max(ord), 0) FROM works", 0);
	s->sub_id = db_int(s, "SELECT coalesce(max(id), 0) FROM submitters", 0);
	g_hash_table_destroy(subs);
	submitter_unref(root);
	if (r < 0)
		fprintf(stderr, "wqfs: %s: cannot restore the state: %s\n", s->path,
			strerror(-r));
	return r;
}
