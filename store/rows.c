/* SPDX-License-Identifier: MIT */
/*
 * rows.c - records written as rows (one prepared statement per kind of
 * record, kept for the connection's life), and the text forms of a
 * queue's files and cpumask.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const char *const sql[] = {
	[REC_QUEUE_PUT] =
		"INSERT INTO queues (name, creator, files, unbound, max_active,"
		" cpumask, nice, frozen, ctime, requeue_lost)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
		" ON CONFLICT (name) DO UPDATE SET creator = ?2, files = ?3, unbound = ?4,"
		" max_active = ?5, cpumask = ?6, nice = ?7, frozen = ?8, ctime = ?9,"
		" requeue_lost = ?10",	/* the counters stay */
	[REC_QUEUE_DEL] =
		"DELETE FROM queues WHERE name = ?1",
	[REC_WORK_PUT] =
		"INSERT INTO works (queue, name, anon, owner, command, sub, state, ord,"
		" due_ms, runs, has_exit, last_exit, ctime, queued_ms, started_ms,"
		" finished_ms, after, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		" ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
		" ON CONFLICT (queue, name) DO UPDATE SET anon = ?3, owner = ?4,"
		" command = ?5, sub = ?6, state = ?7, ord = ?8, due_ms = ?9, runs = ?10,"
		" has_exit = ?11, last_exit = ?12, ctime = ?13, queued_ms = ?14,"
		" started_ms = ?15, finished_ms = ?16, after = ?17, reason = ?18",
		/* the output stays */
	[REC_WORK_RUN] =
		"UPDATE works SET state = ?3, due_ms = ?4, runs = ?5, has_exit = ?6,"
		" last_exit = ?7, output = coalesce(?8, output), queued_ms = ?9,"
		" started_ms = ?10, finished_ms = ?11, after = ?12, reason = ?13"
		" WHERE queue = ?1 AND name = ?2",
	[REC_WORK_DEL] =
		"DELETE FROM works WHERE queue = ?1 AND name = ?2",
	[REC_SUB_PUT] =
		"INSERT OR REPLACE INTO submitters (id, uid, gid, groups, cwd, env, limits)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[REC_QUEUE_COUNTS] =
		"UPDATE queues SET completed = max(completed, ?2), failed = max(failed, ?3),"
		" cancelled = max(cancelled, ?4) WHERE name = ?1",
};

static void bind_bytes(sqlite3_stmt *st, int i, GBytes *b)
{
	gsize n = 0;
	const void *p = b ? g_bytes_get_data(b, &n) : NULL;
	if (b)
		sqlite3_bind_blob(st, i, n ? p : "", (int)n, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Bind n integers to parameters first, first + 1, ... */
static void bind_ints(sqlite3_stmt *st, int first, const int64_t *v, int n)
{
	for (int i = 0; i < n; i++)
		sqlite3_bind_int64(st, first + i, v[i]);
}

static void bind_queue(sqlite3_stmt *st, const struct rec *r)
{
	const int64_t v[] = { r->unbound, r->max_active };
	const int64_t w[] = { r->nice, r->frozen, r->ctime, r->requeue_lost };
	sqlite3_bind_int64(st, 2, r->creator);
	sqlite3_bind_text(st, 3, r->files, -1, SQLITE_STATIC);
	bind_ints(st, 4, v, 2);
	sqlite3_bind_text(st, 6, r->cpumask, -1, SQLITE_STATIC);
	bind_ints(st, 7, w, 4);
}

static void bind_work(sqlite3_stmt *st, const struct rec *r)
{
	const int64_t head[] = { r->anon, r->owner };
	const int64_t run[] = { r->sub, r->state, r->order, r->due_ms, r->runs,
				r->has_exit, r->last_exit, r->ctime };
	const int64_t times[] = { r->queued_ms, r->started_ms, r->finished_ms };
	bind_ints(st, 3, head, 2);
	sqlite3_bind_text(st, 5, r->command, -1, SQLITE_STATIC);
	bind_ints(st, 6, run, 8);
	bind_ints(st, 14, times, 3);
	sqlite3_bind_text(st, 17, r->after, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 18, r->reason, -1, SQLITE_STATIC);
}

/* A submitter's row: its id is parameter 1 (in place of a queue). */
static void bind_sub(sqlite3_stmt *st, const struct rec *r)
{
	const int64_t ids[] = { r->sub, r->uid, r->gid };
	bind_ints(st, 1, ids, 3);
	bind_bytes(st, 4, r->groups);
	sqlite3_bind_text(st, 5, r->cwd, -1, SQLITE_STATIC);
	bind_bytes(st, 6, r->env);
	bind_bytes(st, 7, r->limits);
}

static void bind_run(sqlite3_stmt *st, const struct rec *r)
{
	const int64_t run[] = { r->state, r->due_ms, r->runs, r->has_exit, r->last_exit };
	const int64_t times[] = { r->queued_ms, r->started_ms, r->finished_ms };
	bind_ints(st, 3, run, 5);
	bind_bytes(st, 8, r->output);
	bind_ints(st, 9, times, 3);
	sqlite3_bind_text(st, 12, r->after, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, r->reason, -1, SQLITE_STATIC);
}

static sqlite3_stmt *statement(struct store *s, enum rec_op op)
{
	if (!s->stmts[op] &&
	    sqlite3_prepare_v3(s->db, sql[op], -1, SQLITE_PREPARE_PERSISTENT,
			       &s->stmts[op], NULL) != SQLITE_OK)
		return NULL;
	return s->stmts[op];
}

/* A removed queue takes its works along. */
static int delete_works_of(struct store *s, const char *queue)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, "DELETE FROM works WHERE queue = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, queue, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	return db_errno(rc);
}

int db_apply(struct store *s, const struct rec *r)
{
	sqlite3_stmt *st = statement(s, r->op);
	if (!st)
		return db_errno(sqlite3_errcode(s->db));
	if (r->op == REC_SUB_PUT)
		bind_sub(st, r);
	else
		sqlite3_bind_text(st, 1, r->queue, -1, SQLITE_STATIC);
	if (r->op == REC_QUEUE_PUT)
		bind_queue(st, r);
	else if (r->op == REC_QUEUE_COUNTS)
		bind_ints(st, 2, &r->completed, 3);
	else if (r->op != REC_QUEUE_DEL && r->op != REC_SUB_PUT)
		sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
	if (r->op == REC_WORK_PUT)
		bind_work(st, r);
	if (r->op == REC_WORK_RUN)
		bind_run(st, r);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	int err = db_errno(rc);
	if (err == 0 && r->op == REC_QUEUE_DEL)
		err = delete_works_of(s, r->queue);
	if (err < 0 && !store_silent(s))
		fprintf(stderr, "wqfs: %s: %s\n", s->path, sqlite3_errmsg(s->db));
	return err;
}

/* ---- text forms --------------------------------------------------------------------- */

/* Files are kept by name ("submit=600:0:0,"), so that a wqfs with more
 * files reads an older row right; a file the row lacks keeps the mode a
 * new queue's has, and the directory's owner. */
char *files_to_text(const struct fattr *files)
{
	GString *t = g_string_new(NULL);
	for (int i = 0; i < MQ_NFILES; i++)
		g_string_append_printf(t, "%s=%o:%u:%u,",
				       model_cfg.file_names[i] ? model_cfg.file_names[i] : "?",
				       (unsigned)files[i].mode, (unsigned)files[i].uid,
				       (unsigned)files[i].gid);
	return g_string_free(t, FALSE);
}

static int file_index(const char *name, size_t len)
{
	for (int i = 0; i < MQ_NFILES; i++)
		if (model_cfg.file_names[i] && strlen(model_cfg.file_names[i]) == len &&
		    memcmp(model_cfg.file_names[i], name, len) == 0)
			return i;
	return -1;
}

/* Schema 1 kept the files by position, in this order. */
static const char *const files_v1[] = {
	".", "submit", "delay", "modify", "cancel", "flush", "drain", "status",
	"trace", "jiqwq", "jiqwqdelay", "per_cpu", "max_active", "cpumask",
	"nice", "frozen", "works",
};

/* The file a "name=mode:uid:gid" (or schema 1's n-th "mode:uid:gid") is
 * of, or -1; *fields is set to where mode begins. */
static int file_of(const char *p, unsigned n, const char **fields)
{
	const char *eq = strchr(p, '=');
	const char *end = strchr(p, ',');
	if (eq && (!end || eq < end)) {
		*fields = eq + 1;
		return file_index(p, (size_t)(eq - p));
	}
	*fields = p;
	if (n >= G_N_ELEMENTS(files_v1))
		return -1;
	return file_index(files_v1[n], strlen(files_v1[n]));
}

void files_from_text(const char *text, struct fattr *files)
{
	bool seen[MQ_NFILES] = { false };
	unsigned n = 0;
	for (const char *p = text; p && *p; p = strchr(p, ','), p = p ? p + 1 : NULL, n++) {
		const char *fields;
		unsigned mode, uid, gid;
		int i = file_of(p, n, &fields);
		if (i >= 0 && sscanf(fields, "%o:%u:%u", &mode, &uid, &gid) == 3) {
			files[i] = (struct fattr){ mode, uid, gid };
			seen[i] = true;
		}
	}
	for (int i = 0; i < MQ_NFILES; i++)
		if (!seen[i])
			files[i] = (struct fattr){ model_cfg.file_modes[i], files[MQ_DIR].uid,
						   files[MQ_DIR].gid };
}

char *cpumask_to_text(const cpu_set_t *mask)
{
	GString *t = g_string_new(NULL);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, mask))
			g_string_append_printf(t, "%s%d", t->len ? "," : "", c);
	return g_string_free(t, FALSE);
}

void cpumask_from_text(const char *text, cpu_set_t *mask)
{
	CPU_ZERO(mask);
	for (const char *p = text; p && *p;) {
		char *end;
		long c = strtol(p, &end, 10);
		if (end == p)
			break;
		if (c >= 0 && c < CPU_SETSIZE)
			CPU_SET((int)c, mask);
		p = *end == ',' ? end + 1 : NULL;
	}
}
