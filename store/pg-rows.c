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

/* A line's change of a work's state applies to a queued instance that
 * this node queued or knew (not to a newer one of another node's). */
#define LINE_OWNS	"(state IN (1, 2, 6) AND (inst = $9::bigint OR wnode = $7))"

/* The statements, one per kind of record, and (PG_LINE) a line's change
 * of a work's state, told from a run's start or end here.  Every
 * parameter is used, with its type named where its use does not say. */
enum { PG_LINE = REC_NOPS, PG_NSQL };

static const char *const pg_sql[PG_NSQL] = {
	[REC_QUEUE_PUT] =
		"INSERT INTO queues (name, creator, files, unbound, max_active,"
		" cpumask, nice, frozen, ctime, requeue_lost, wnode)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
		" ON CONFLICT (name) DO UPDATE SET creator = $2, files = $3,"
		" unbound = $4, max_active = $5, cpumask = $6, nice = $7, frozen = $8,"
		" ctime = $9, requeue_lost = $10, gone = false, gone_at = NULL,"
		" wnode = $11, txid = pg_current_xact_id()",
	[REC_QUEUE_DEL] =	/* a removed queue takes its works along */
		"WITH w AS (UPDATE works SET gone = true, gone_at = now(), wnode = $2,"
		"  txid = pg_current_xact_id() WHERE queue = $1),"
		" c AS (DELETE FROM queue_counts WHERE queue = $1)"
		" UPDATE queues SET gone = true, gone_at = now(), wnode = $2,"
		" txid = pg_current_xact_id() WHERE name = $1",
	/* a new instance, unless the work is queued (no row back: then
	 * EALREADY), or the line modifies it ($19: mod_delayed_work).  A
	 * work forgotten (gone) starts afresh. */
	[REC_WORK_PUT] =
		"INSERT INTO works AS w (queue, name, anon, owner, command, sub, state,"
		" ord, due_ms, runs, has_exit, last_exit, ctime, queued_ms, started_ms,"
		" finished_ms, after, reason, inst, wnode, home, cpu)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7::bigint, nextval('wqfs_ord'),"
		" CASE WHEN $7::bigint = 2 THEN " DB_NOW_MS " + $8::bigint ELSE 0 END,"
		" $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $20, $21, $22)"
		" ON CONFLICT (queue, name) DO UPDATE SET anon = $3, owner = $4,"
		" command = $5, sub = $6, state = $7::bigint, ord = excluded.ord,"
		" due_ms = excluded.due_ms, queued_ms = $13, after = $16, reason = $17,"
		" inst = $18, home = $21, cpu = $22, cancel_req = false,"
		" runs = CASE WHEN w.gone THEN $9 ELSE w.runs END,"
		" has_exit = CASE WHEN w.gone THEN $10 ELSE w.has_exit END,"
		" last_exit = CASE WHEN w.gone THEN $11 ELSE w.last_exit END,"
		" started_ms = CASE WHEN w.gone THEN $14 ELSE w.started_ms END,"
		" finished_ms = CASE WHEN w.gone THEN $15 ELSE w.finished_ms END,"
		" output = CASE WHEN w.gone THEN NULL ELSE w.output END,"
		" gone = false, gone_at = NULL, wnode = $20, txid = pg_current_xact_id()"
		" WHERE w.gone OR w.state NOT IN (1, 2, 6) OR $19::int = 1"
		" RETURNING 1",
	/* a run here started or ended: only while this node holds it; a run
	 * that ends leaves a newer instance queued meanwhile as it is */
	[REC_WORK_RUN] =
		"UPDATE works SET state = CASE WHEN $13::int = 0 THEN 3"
		"  WHEN state = 3 THEN $3::bigint ELSE state END,"
		" runs = $4, has_exit = $5, last_exit = $6,"
		" output = coalesce($7::bytea, output), started_ms = $8, finished_ms = $9,"
		" after = $10, reason = $11, node = $12::text,"
		" running_on = CASE WHEN $13::int = 0 THEN $12 ELSE '' END,"
		" cancel_req = cancel_req AND $13::int = 0,"
		" wnode = $12, txid = pg_current_xact_id()"
		" WHERE queue = $1 AND name = $2 AND running_on = $12",
	/* every statement that changes a row says who did, in which
	 * transaction (what the other nodes mirror) */
	[PG_LINE] =
		"UPDATE works SET state = CASE WHEN " LINE_OWNS " THEN $3::bigint ELSE state END,"
		" finished_ms = CASE WHEN " LINE_OWNS " THEN $4::bigint ELSE finished_ms END,"
		" reason = CASE WHEN " LINE_OWNS " THEN $5::text ELSE reason END,"
		" after = $6,"
		" cancel_req = cancel_req OR ($10::int = 1 AND running_on NOT IN ('', $7::text)),"
		" running_on = CASE WHEN running_on = $7 AND $8::int = 0 THEN '' ELSE running_on END,"
		" wnode = $7, txid = pg_current_xact_id()"
		" WHERE queue = $1 AND name = $2",
	[REC_WORK_DEL] =	/* not while another node has it queued or running */
		"UPDATE works SET gone = true, gone_at = now(), wnode = $3,"
		" txid = pg_current_xact_id() WHERE queue = $1 AND name = $2"
		" AND state NOT IN (1, 2, 3, 6) AND running_on = ''",
	[REC_QUEUE_COUNTS] =	/* this node's row (its records may pass
				 * each other: never lowered) */
		"INSERT INTO queue_counts AS c (queue, node, completed, failed, cancelled,"
		" started) VALUES ($1, $6, $2, $3, $4, $5)"
		" ON CONFLICT (queue, node) DO UPDATE SET"
		" completed = greatest(c.completed, $2), failed = greatest(c.failed, $3),"
		" cancelled = greatest(c.cancelled, $4), started = greatest(c.started, $5),"
		" txid = pg_current_xact_id()",
	[REC_SUB_PUT] =
		"INSERT INTO submitters (id, uid, gid, groups, cwd, env, limits)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7)"
		" ON CONFLICT (id) DO UPDATE SET uid = $2, gid = $3, groups = $4,"
		" cwd = $5, env = $6, limits = $7",
};

#define PG_MAXP	22

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

static void p_int(struct params *p, int64_t v)
{
	p_ints(p, &v, 1);
}

/* A work's DEPs and why it failed without a run. */
static void p_after_reason(struct params *p, const struct rec *r)
{
	p_text(p, r->after ? r->after : "");
	p_text(p, r->reason);
}

/* REC_WORK_PUT: $1 queue, $2 name, then these. */
static void params_put(struct params *p, const struct store *s, const struct rec *r)
{
	const int64_t head[] = { r->anon, r->owner };
	const int64_t run[] = { r->sub, r->state, r->due_ms - r->queued_ms, r->runs,
				r->has_exit, r->last_exit, r->ctime, r->queued_ms,
				r->started_ms, r->finished_ms };
	p_ints(p, head, 2);
	p_text(p, r->command);
	p_ints(p, run, 10);
	const int64_t instance[] = { r->inst, r->modify };
	p_after_reason(p, r);
	p_ints(p, instance, 2);
	p_text(p, s->node);
	p_text(p, r->home ? s->node : "");
	p_int(p, r->cpu);
}

/* REC_WORK_RUN: $1 queue, $2 name, then these. */
static void params_run(struct params *p, const struct store *s, const struct rec *r)
{
	const int64_t run[] = { r->state, r->runs, r->has_exit, r->last_exit };
	const int64_t times[] = { r->started_ms, r->finished_ms };
	p_ints(p, run, 4);
	p_bytes(p, r->output);
	p_ints(p, times, 2);
	p_after_reason(p, r);
	p_text(p, s->node);
	p_int(p, r->finished);
}

/* PG_LINE: $1 queue, $2 name, then these. */
static void params_line(struct params *p, const struct store *s, const struct rec *r)
{
	const int64_t head[] = { r->state, r->finished_ms };
	const int64_t tail[] = { r->held, r->inst, r->cancel };
	p_ints(p, head, 2);
	p_text(p, r->reason);
	p_text(p, r->after ? r->after : "");
	p_text(p, s->node);
	p_ints(p, tail, 3);
}

static void params_of(struct params *p, const struct store *s, const struct rec *r)
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
		p_text(p, s->node);
		return;
	}
	if (r->op == REC_QUEUE_DEL) {
		p_text(p, s->node);
		return;
	}
	if (r->op == REC_QUEUE_COUNTS) {
		p_ints(p, &r->completed, 4);
		p_text(p, s->node);
		return;
	}
	p_text(p, r->name);
	if (r->op == REC_WORK_PUT)
		params_put(p, s, r);
	else if (r->op == REC_WORK_RUN && r->engine)
		params_run(p, s, r);
	else if (r->op == REC_WORK_RUN)
		params_line(p, s, r);
	else
		p_text(p, s->node);
}

/* Which statement r is. */
static int sql_of(const struct rec *r)
{
	return r->op == REC_WORK_RUN && !r->engine ? PG_LINE : (int)r->op;
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
		if (r < 0) {	/* the next connection prepares them all */
			s->be->disconnect(s);
			return r;
		}
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
	params_of(&p, s, r);
	snprintf(name, sizeof name, "wqfs%d", sql_of(r));
	if (!send)
		return PQexecPrepared(s->pg, name, p.n, p.v, p.len, p.fmt, 0);
	return PQsendQueryPrepared(s->pg, name, p.n, p.v, p.len, p.fmt, 0) ? NULL :
	       PQmakeEmptyPGresult(s->pg, PGRES_FATAL_ERROR);
}

/* r's result: 0, or -errno; a queueing that brought no row back was
 * refused (another node has the work queued): r->refused says why. */
static int rec_result(struct store *s, struct rec *r, PGresult *res)
{
	if (r->op != REC_WORK_PUT)
		return pg_check(s, res, PGRES_COMMAND_OK);
	int err = pg_check(s, res, PGRES_TUPLES_OK);
	if (err == 0 && PQntuples(res) == 0)
		r->refused = r->anon ? -EAGAIN : -EALREADY;
	return err;
}

int pg_apply(struct store *s, const struct rec *r)
{
	int err = ready(s);
	if (err < 0)
		return err;
	PGresult *res = send_rec(s, r, false);
	err = rec_result(s, (struct rec *)r, res);
	PQclear(res);
	return err;
}

/* The batch's results as they come: the first error. */
struct batch_results {
	struct store *s;
	GList *rec;			/* the record of the next result */
	int err;
};

static void batch_result(void *arg, size_t i, PGresult *res)
{
	struct batch_results *b = arg;
	if (!b->err && PQresultStatus(res) != PGRES_PIPELINE_ABORTED)
		b->err = rec_result(b->s, b->rec->data, res);
	PQclear(res);
	b->rec = b->rec->next;
}

/* The results of the batch's statements and the sync that ends them: 0
 * or the first error.  false in *sound when the connection lost its way. */
static int pipeline_results(struct store *s, GQueue *batch, bool *sound)
{
	struct batch_results b = { .s = s, .rec = batch->head };
	*sound = pg_pipeline_read(s->pg, batch->length, batch_result, &b);
	if (!*sound && !b.err)
		b.err = pg_check(s, NULL, PGRES_COMMAND_OK);
	return b.err;
}

/* Whether the batch changed works: the other nodes are told. */
static bool wakes(GQueue *batch)
{
	for (GList *l = batch->head; l; l = l->next) {
		enum rec_op op = ((struct rec *)l->data)->op;
		if (op == REC_WORK_PUT || op == REC_WORK_RUN || op == REC_QUEUE_PUT ||
		    op == REC_QUEUE_DEL)
			return true;
	}
	return false;
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
	bool sound = true;
	for (GList *l = batch->head; l && !err; l = l->next) {
		PGresult *res = send_rec(s, l->data, true);
		if (res)
			err = pg_check(s, res, PGRES_COMMAND_OK), PQclear(res), sound = false;
	}
	if (!err && !PQpipelineSync(s->pg))
		err = pg_check(s, NULL, PGRES_COMMAND_OK), sound = false;
	if (sound)
		err = pipeline_results(s, batch, &sound);
	if (!sound || !PQexitPipelineMode(s->pg))
		s->be->disconnect(s);
	else if (err == 0 && wakes(batch))	/* after the commit, not in it:
						 * a NOTIFY in it would serialise
						 * every node's commits */
		PQclear(PQexecParams(s->pg, "SELECT pg_notify('wqfs', $1)", 1, NULL,
				     (const char *const *)&s->node, NULL, NULL, 0));
	return err;
}
