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

/* The live queue name, referenced, or NULL. */
static struct mqueue *queue_get(const char *name)
{
	model_lock();
	struct mqueue *q = g_hash_table_lookup(queues_by_name, name);
	if (q)
		mqueue_ref(q);
	model_unlock();
	return q;
}

static void queue_put(struct mqueue *q)
{
	model_lock();
	mqueue_unref(q);
	model_unlock();
}

/* Another node removed the queue: here too, once it is idle here. */
static int queue_gone(const char *name)
{
	struct mqueue *q = queue_get(name);
	if (!q || q->is_events) {
		if (q)
			queue_put(q);
		return 0;
	}
	int r = mqueue_rmdir(q, NULL);
	queue_put(q);
	return r == -EBUSY ? 0 : r;
}

/* The queue of a row, referenced: made, or the one there is (`events`,
 * or a queue another node changed). */
static int queue_of_row(const struct row *st, const struct fattr *files, bool mirror,
			struct mqueue **qp)
{
	const char *name = col_text(st, 0);
	int r = mqueue_create(name, (uid_t)col_int(st, 1),
			      files[MQ_DIR].gid, files[MQ_DIR].mode, qp);
	if (r == 0) {		/* the tree's reference, and ours */
		model_lock();
		mqueue_ref(*qp);
		model_unlock();
	}
	if (r == -EEXIST && (mirror || strcmp(name, "events") == 0))
		r = (*qp = queue_get(name)) ? 0 : -ENOENT;
	return r;
}

static void queue_set_row(struct mqueue *q, const struct row *st, const struct fattr *files,
			  struct submitter *root, bool mirror)
{
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
	if (mirror)
		return;
	struct wq_stats before = {	/* nothing runs across a restart */
		.started = (uint64_t)col_int(st, 10),
		.completed = (uint64_t)col_int(st, 10),
		.failed = (uint64_t)col_int(st, 11),
		.cancelled = (uint64_t)col_int(st, 12),
	};
	wq_stats_restore(q->wq, &before);
}

/* The queue of a row, made or updated (mirror: a row another node wrote;
 * its counters are that node's). */
int restore_queue_row(const struct row *st, bool mirror)
{
	struct fattr files[MQ_NFILES] = { 0 };
	struct mqueue *q;

	if (st->s->be == &store_pg && col_int(st, 13))
		return mirror ? queue_gone(col_text(st, 0)) : 0;
	struct submitter *root = submitter_new(0, 0, 0, NULL, 0);
	files_from_text(col_text(st, 2), files);
	int r = queue_of_row(st, files, mirror, &q);
	if (r == 0)
		queue_set_row(q, st, files, root, mirror);
	if (r == 0)
		queue_put(q);
	submitter_unref(root);
	return r;
}

/* SELECT COUNTS_COLS FROM queue_counts: another node's counters. */
void restore_counts_row(const struct row *st)
{
	struct mqueue *q = queue_get(col_text(st, 0));
	struct wq_stats c = {
		.completed = (uint64_t)col_int(st, 2),
		.failed = (uint64_t)col_int(st, 3),
		.cancelled = (uint64_t)col_int(st, 4),
		.started = (uint64_t)col_int(st, 5),
	};
	if (!q)
		return;
	mqueue_set_node_counts(q, col_text(st, 1), &c);
	queue_put(q);
}

static int counts_row(const struct row *st, void *unused)
{
	restore_counts_row(st);
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
struct submitter *row_submitter(const struct row *st)
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

static int work_of_row(const struct row *st, struct mqueue *q, struct submitter *sub,
		       bool claimed)
{
	bool pg = st->s->be == &store_pg;
	int state = (int)col_int(st, 6);
	size_t output_len = 0;
	struct mwork_saved s = {
		.name = col_text(st, 1),
		.anon = (int)col_int(st, 2),
		.owner = (uid_t)col_int(st, 3),
		.command = col_text(st, 4),
		.sub = sub,
		.state = row_states[state],
		.due_in_ms = col_int(st, 8) - (pg ? 0 : model_now_ms()),
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
	if (!pg)
		return mwork_restore(q, &s);
	struct mwork_cluster c = {
		.inst = col_int(st, 19),
		.node = col_text(st, 20),
		.running_on = col_text(st, 21),
		.cpu = (int)col_int(st, 22),
		.cancel_req = col_int(st, 23),
	};
	return claimed ? mwork_claimed(q, &s, &c) : mwork_mirror(q, &s, &c);
}

/* SELECT WORK_COLS (PG_WORK_COLS) FROM works: the work of a row,
 * restored, or (a cluster's) mirrored or claimed; its submitter from subs
 * (NULL: none known).  A row without its queue is dropped; one without
 * its submitter too, but in a mirror, which runs nothing. */
int restore_work_row(const struct row *st, GHashTable *subs, bool claimed)
{
	bool pg = st->s->be == &store_pg;
	struct submitter *sub = subs ? g_hash_table_lookup(subs, GINT_TO_POINTER(
							col_int(st, 5))) : NULL;
	int state = (int)col_int(st, 6);
	if ((!sub && (!pg || claimed)) || state < ROW_IDLE || state > ROW_BLOCKED)
		return claimed ? -ENOENT : 0;
	struct mqueue *q = queue_get(col_text(st, 0));
	if (!q)
		return claimed ? -ENOENT : 0;
	int r = pg && col_int(st, 24) ? (mwork_gone(q, col_text(st, 1)), 0)
				      : work_of_row(st, q, sub, claimed);
	queue_put(q);
	return r;
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

static int queue_row(const struct row *st, void *unused)
{
	return restore_queue_row(st, false);
}

static int work_row(const struct row *st, void *subs)
{
	return restore_work_row(st, subs, false);
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
	log_restarted(s);
	return r;
}

/* A cluster's start: the runs this node's last life left are lost (or
 * queued again), then every row is mirrored; the cluster thread goes on
 * from the snapshot taken before the rows were read. */
static int restore_cluster(struct store *s)
{
	char *node = PQescapeLiteral(s->pg, s->node, strlen(s->node));
	if (!node)
		return -ENOMEM;
	g_autofree char *sql = g_strdup_printf(
		"BEGIN;"
		"INSERT INTO queue_counts AS c (queue, node, completed, failed, cancelled,"
		"  started) SELECT l.queue, %s, l.n, l.n, 0, l.n"
		" FROM (SELECT queue, count(*) AS n FROM works WHERE running_on = %s"
		"  AND state = 3 GROUP BY queue) AS l"
		" JOIN queues ON queues.name = l.queue AND requeue_lost = 0"
		" ON CONFLICT (queue, node) DO UPDATE SET"
		" completed = c.completed + excluded.completed,"
		" failed = c.failed + excluded.failed, started = c.started + excluded.started,"
		" txid = pg_current_xact_id();"
		"UPDATE works SET state = CASE WHEN state <> 3 THEN state"
		"  WHEN (SELECT requeue_lost FROM queues WHERE name = works.queue) = 1"
		"  THEN 1 ELSE 4 END, running_on = '', wnode = '',"
		"  txid = pg_current_xact_id() WHERE running_on = %s;"
		"COMMIT", node, node, node);
	g_autofree char *queues = g_strdup_printf("SELECT " PG_QUEUES("%s")
		" WHERE NOT gone ORDER BY ctime, name", node);
	g_autofree char *counts = g_strdup_printf("SELECT " COUNTS_COLS
		" FROM queue_counts WHERE node <> %s", node);
	PQfreemem(node);
	model_cluster = true;
	int r = s->be->exec(s, sql);
	if (r < 0)
		store_rollback(s);
	s->xmin = (uint64_t)store_int(s, "SELECT pg_snapshot_xmin(pg_current_snapshot())"
				      "::text::bigint", 0);
	if (r == 0)
		r = s->be->each_row(s, queues, queue_row, NULL);
	if (r == 0)
		r = s->be->each_row(s, "SELECT " PG_WORK_COLS " FROM works WHERE NOT gone"
				    " ORDER BY ord", work_row, NULL);	/* mirrored */
	if (r == 0)
		r = s->be->each_row(s, counts, counts_row, NULL);
	s->id_next = store_int(s, "SELECT nextval('wqfs_ord')", 0) << 24;
	return r;
}

static int restore_single(struct store *s)
{
	GHashTable *subs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
						 (GDestroyNotify)submitter_unref);
	int r = replay_log(s);
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
		r = s->be->each_row(s, "SELECT " QUEUE_COLS " FROM queues ORDER BY ctime, name",
				    queue_row, NULL);
	if (r == 0)
		r = s->be->each_row(s, "SELECT id, uid, gid, groups, cwd, env, limits FROM submitters",
			     sub_row, subs);
	if (r == 0)
		r = s->be->each_row(s, "SELECT " WORK_COLS " FROM works ORDER BY ord",
				    work_row, subs);
	s->order = store_int(s, "SELECT coalesce(max(ord), 0) FROM works", 0);
	s->sub_id = store_int(s, "SELECT coalesce(max(id), 0) FROM submitters", 0);
	g_hash_table_destroy(subs);
	return r;
}

int store_restore(struct store *s)
{
	int r = s->be->connect(s);
	if (r == 0)
		r = s->be == &store_pg ? restore_cluster(s) : restore_single(s);
	if (r < 0)
		fprintf(stderr, "wqfs: %s: cannot restore the state: %s\n", s->path,
			strerror(-r));
	return r;
}
