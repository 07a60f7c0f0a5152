/* SPDX-License-Identifier: MIT */
/*
 * pg-rows.c - records written as rows of PostgreSQL: one prepared
 * statement per kind of record (prepared once per connection), integers
 * sent as text, bytea in binary.  The statements mirror rows.c's for
 * SQLite, parameter for parameter.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const pg_sql[] = {
	[REC_QUEUE_PUT] =
		"INSERT INTO queues (name, creator, files, unbound, max_active,"
		" cpumask, nice, frozen, ctime, requeue_lost)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
		" ON CONFLICT (name) DO UPDATE SET creator = $2, files = $3,"
		" unbound = $4, max_active = $5, cpumask = $6, nice = $7, frozen = $8,"
		" ctime = $9, requeue_lost = $10",
	[REC_QUEUE_DEL] =	/* a removed queue takes its works along */
		"WITH w AS (DELETE FROM works WHERE queue = $1)"
		" DELETE FROM queues WHERE name = $1",
	[REC_WORK_PUT] =
		"INSERT INTO works (queue, name, anon, owner, command, sub, state, ord,"
		" due_ms, runs, has_exit, last_exit, ctime, queued_ms, started_ms,"
		" finished_ms, after, reason)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
		" $16, $17, $18)"
		" ON CONFLICT (queue, name) DO UPDATE SET anon = $3, owner = $4,"
		" command = $5, sub = $6, state = $7, ord = $8, due_ms = $9, runs = $10,"
		" has_exit = $11, last_exit = $12, ctime = $13, queued_ms = $14,"
		" started_ms = $15, finished_ms = $16, after = $17, reason = $18",
	[REC_WORK_RUN] =
		"UPDATE works SET state = $3, due_ms = $4, runs = $5, has_exit = $6,"
		" last_exit = $7, output = coalesce($8::bytea, output), queued_ms = $9,"
		" started_ms = $10, finished_ms = $11, after = $12, reason = $13"
		" WHERE queue = $1 AND name = $2",
	[REC_WORK_DEL] =
		"DELETE FROM works WHERE queue = $1 AND name = $2",
	[REC_QUEUE_COUNTS] =
		"UPDATE queues SET completed = greatest(completed, $2),"
		" failed = greatest(failed, $3), cancelled = greatest(cancelled, $4)"
		" WHERE name = $1",
	[REC_SUB_PUT] =
		"INSERT INTO submitters (id, uid, gid, groups, cwd, env, limits)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7)"
		" ON CONFLICT (id) DO UPDATE SET uid = $2, gid = $3, groups = $4,"
		" cwd = $5, env = $6, limits = $7",
};

#define PG_MAXP	18

/* The parameters of one statement. */
struct params {
	const char *v[PG_MAXP];
	int len[PG_MAXP];
	int fmt[PG_MAXP];
	char num[PG_MAXP][24];		/* integers, as text */
	int n;
};

static void p_text(struct params *p, const char *t)
{
	p->v[p->n++] = t;
}

static void p_ints(struct params *p, const int64_t *v, int n)
{
	for (int i = 0; i < n; i++, p->n++) {
		snprintf(p->num[p->n], sizeof p->num[p->n], "%" PRId64, v[i]);
		p->v[p->n] = p->num[p->n];
	}
}

static void p_bytes(struct params *p, GBytes *b)
{
	gsize n = 0;
	p->v[p->n] = b ? g_bytes_get_data(b, &n) : NULL;
	if (b && !p->v[p->n])
		p->v[p->n] = "";
	p->len[p->n] = (int)n;
	p->fmt[p->n++] = 1;
}

/* A work's times, DEPs and reason: the last parameters of both. */
static void p_times(struct params *p, const struct rec *r)
{
	const int64_t times[] = { r->queued_ms, r->started_ms, r->finished_ms };
	p_ints(p, times, 3);
	p_text(p, r->after ? r->after : "");
	p_text(p, r->reason);
}

static void params_of(struct params *p, const struct rec *r)
{
	if (r->op == REC_SUB_PUT) {
		const int64_t ids[] = { r->sub, r->uid, r->gid };
		p_ints(p, ids, 3);
		p_bytes(p, r->groups);
		p_text(p, r->cwd);
		p_bytes(p, r->env);
		p_bytes(p, r->limits);
		return;
	}
	p_text(p, r->queue);
	if (r->op == REC_QUEUE_PUT) {
		const int64_t v[] = { r->unbound, r->max_active };
		const int64_t w[] = { r->nice, r->frozen, r->ctime, r->requeue_lost };
		p_ints(p, &r->creator, 1);
		p_text(p, r->files);
		p_ints(p, v, 2);
		p_text(p, r->cpumask);
		p_ints(p, w, 4);
		return;
	}
	if (r->op == REC_QUEUE_DEL)
		return;
	if (r->op == REC_QUEUE_COUNTS) {
		p_ints(p, &r->completed, 3);
		return;
	}
	p_text(p, r->name);
	if (r->op == REC_WORK_PUT) {
		const int64_t head[] = { r->anon, r->owner };
		const int64_t run[] = { r->sub, r->state, r->order, r->due_ms, r->runs,
					r->has_exit, r->last_exit, r->ctime };
		p_ints(p, head, 2);
		p_text(p, r->command);
		p_ints(p, run, 8);
		p_times(p, r);
	} else if (r->op == REC_WORK_RUN) {
		const int64_t run[] = { r->state, r->due_ms, r->runs, r->has_exit,
					r->last_exit };
		p_ints(p, run, 5);
		p_bytes(p, r->output);
		p_times(p, r);
	}
}

/* Prepare every statement once per connection, named "wqfsN". */
static int prepare(struct store *s)
{
	for (size_t op = 0; !s->pg_prepared && op < G_N_ELEMENTS(pg_sql); op++) {
		char name[16];
		snprintf(name, sizeof name, "wqfs%zu", op);
		PGresult *res = PQprepare(s->pg, name, pg_sql[op], 0, NULL);
		int r = pg_check(s, res, PGRES_COMMAND_OK);
		PQclear(res);
		if (r < 0)
			return r;
	}
	s->pg_prepared = true;
	return 0;
}

/* Connected, with the statements prepared: 0 or -errno. */
static int ready(struct store *s)
{
	int err = s->be->connect(s);
	return err < 0 ? err : prepare(s);
}

/* Send r's statement (pipeline mode) or run it (then its result). */
static PGresult *send_rec(struct store *s, const struct rec *r, bool send)
{
	struct params p = { .n = 0 };
	char name[16];
	params_of(&p, r);
	snprintf(name, sizeof name, "wqfs%d", (int)r->op);
	if (!send)
		return PQexecPrepared(s->pg, name, p.n, p.v, p.len, p.fmt, 0);
	return PQsendQueryPrepared(s->pg, name, p.n, p.v, p.len, p.fmt, 0) ? NULL :
	       PQmakeEmptyPGresult(s->pg, PGRES_FATAL_ERROR);
}

int pg_apply(struct store *s, const struct rec *r)
{
	int err = ready(s);
	if (err < 0)
		return err;
	PGresult *res = send_rec(s, r, false);
	err = pg_check(s, res, PGRES_COMMAND_OK);
	PQclear(res);
	return err;
}

/* The results of n statements and the sync that ends them: 0 or the
 * first error.  false in *sound when the connection lost its way. */
static int pipeline_results(struct store *s, size_t n, bool *sound)
{
	int err = 0;
	for (size_t i = 0; i <= n; i++) {
		PGresult *res = PQgetResult(s->pg);
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (!res || (i == n) != (st == PGRES_PIPELINE_SYNC)) {
			*sound = false;
			PQclear(res);
			return err ? err : pg_check(s, NULL, PGRES_COMMAND_OK);
		}
		if (!err && st != PGRES_PIPELINE_SYNC && st != PGRES_PIPELINE_ABORTED)
			err = pg_check(s, res, PGRES_COMMAND_OK);
		PQclear(res);
		if (i < n && PQgetResult(s->pg) != NULL)	/* each ends with NULL */
			*sound = false;
	}
	return err;
}

/*
 * A batch as one pipeline: every record sent, one sync, then the results:
 * one round trip, and the statements between two syncs are one implicit
 * transaction, all or nothing.  A connection that lost its way in the
 * pipeline is closed; the next commit connects again.
 */
int pg_commit(struct store *s, GQueue *batch)
{
	int err = ready(s);
	if (err < 0)
		return err;
	if (!PQenterPipelineMode(s->pg))
		return pg_check(s, NULL, PGRES_COMMAND_OK);
	size_t n = 0;
	bool sound = true;
	for (GList *l = batch->head; l && !err; l = l->next, n++) {
		PGresult *res = send_rec(s, l->data, true);
		if (res)
			err = pg_check(s, res, PGRES_COMMAND_OK), PQclear(res), sound = false;
	}
	if (!err && !PQpipelineSync(s->pg))
		err = pg_check(s, NULL, PGRES_COMMAND_OK), sound = false;
	if (sound)
		err = pipeline_results(s, n, &sound);
	if (!sound || !PQexitPipelineMode(s->pg))
		s->be->disconnect(s);
	return err;
}
