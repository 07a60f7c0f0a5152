/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - a node's cluster thread (PostgreSQL): the rows other nodes
 * wrote taken into the model, due works claimed, and the waits of flush
 * and cancel answered after each pass.
 *
 * It has a connection of its own, LISTENing on channel `wqfs` (every
 * node's writer NOTIFYs after a commit that changed works or queues, with
 * its node's name: a node's own are not a reason for a pass).  A
 * pass reads, in one REPEATABLE READ transaction, the snapshot's xmin and
 * the rows changed by transactions from the last pass's xmin on: a
 * transaction still open then has an id at least that xmin, so no change
 * is missed, and a row read twice is applied twice, harmlessly.  Rows this
 * node wrote are not read back: the model here made them.
 *
 * Claims (model/cluster.c says what they are): per queue with due works,
 * one transaction (one round trip) that takes the queue's claim lock,
 * counts the works claimed cluster-wide, and claims at most max_active
 * minus that (an unbound queue) with FOR UPDATE SKIP LOCKED, in queueing
 * order; a queue with max_active 1 does not skip a locked row, so its
 * order is strict.  A
 * per-CPU queue's works are claimed by the node they were queued on, no
 * more at once than its engine will run anyway.  Due times are the
 * database's clock.
 *
 * Then it sleeps until a NOTIFY, a poke (a commit here, a run's end), the
 * next due time or POLL_MS.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

#define POLL_MS		1000	/* a pass at least this often */
#define RETRY_MS	500	/* after the database could not be reached */
#define CLAIM_MAX	64	/* works claimed per queue and pass */
/* A row this node may claim now; node is its parameter. */
#define DUE(node)	"NOT gone AND running_on = '' AND home IN ('', " node ") AND" \
			" (state = 1 OR (state = 2 AND due_ms <= " DB_NOW_MS "))"

static struct store *poked;	/* the store model_poke() wakes; set once */

/* From any thread: the eventfd lives until store_close(), after every
 * thread that may wake it has stopped. */
void cluster_wake(struct store *s)
{
	uint64_t one = 1;
	if (__atomic_load_n(&s->cluster_started, __ATOMIC_ACQUIRE) &&
	    write(s->poke_fd, &one, sizeof one) < 0)
		return;		/* a wake is pending already */
}

static void poke(void)
{
	struct store *s = __atomic_load_n(&poked, __ATOMIC_ACQUIRE);
	if (s)
		cluster_wake(s);
}

/* ---- the connection --------------------------------------------------------------- */

static int cluster_connect(struct store *s)
{
	if (s->cpg && PQstatus(s->cpg) == CONNECTION_OK)
		return 0;
	if (s->cpg)
		PQfinish(s->cpg);
	s->cpg = PQconnectdb(s->path);
	if (PQstatus(s->cpg) != CONNECTION_OK)
		return -EIO;
	PGresult *res = PQexec(s->cpg, "SET client_min_messages = warning; LISTEN wqfs");
	int r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -EIO;
	PQclear(res);
	return r;
}

/* Run sql with params (text) and rows in binary; NULL or a result of
 * status ok. */
static PGresult *query(struct store *s, const char *sql, int n, const char *const *v,
		       ExecStatusType ok)
{
	PGresult *res = PQexecParams(s->cpg, sql, n, NULL, v, NULL, NULL, 1);
	if (PQresultStatus(res) == ok)
		return res;
	PQclear(res);
	return NULL;
}

static bool exec_ok(struct store *s, const char *sql)
{
	PGresult *res = query(s, sql, 0, NULL, PGRES_COMMAND_OK);
	PQclear(res);
	return res != NULL;
}

/* A statement of a pipeline, with its parameters (text). */
struct stmt {
	const char *sql;
	int n;
	const char *const *v;
};

/* The rows of each statement kept; whether all went through. */
struct results {
	PGresult **res;
	bool ok;
};

static void keep_result(void *arg, size_t i, PGresult *r)
{
	struct results *k = arg;
	ExecStatusType t = PQresultStatus(r);
	k->ok = k->ok && (t == PGRES_TUPLES_OK || t == PGRES_COMMAND_OK);
	if (t == PGRES_TUPLES_OK)
		k->res[i] = r;
	else
		PQclear(r);
}

/* Run n statements in one round trip (pipeline mode, one sync): the rows
 * of each in res[i] (NULL where none), true if all went through.  After a
 * failure the transaction they opened is rolled back; a connection that
 * lost its way in the pipeline is dropped. */
static bool pipeline(struct store *s, const struct stmt *st, int n, PGresult **res)
{
	struct results k = { .res = res, .ok = true };
	bool sound = PQenterPipelineMode(s->cpg);
	for (int i = 0; sound && i < n; i++)
		sound = PQsendQueryParams(s->cpg, st[i].sql, st[i].n, NULL, st[i].v, NULL,
					  NULL, 1);
	sound = sound && PQpipelineSync(s->cpg) &&
		pg_pipeline_read(s->cpg, (size_t)n, keep_result, &k);
	bool ok = sound && k.ok;
	if (!sound || !PQexitPipelineMode(s->cpg)) {
		PQfinish(s->cpg);
		s->cpg = NULL;
		return false;
	}
	if (!ok)
		exec_ok(s, "ROLLBACK");
	return ok;
}

static void each(struct store *s, PGresult *res, void (*fn)(const struct row *, void *),
		 void *arg)
{
	struct row row = { .s = s, .impl = res };
	for (row.n = 0; res && row.n < PQntuples(res); row.n++)
		fn(&row, arg);
}

/* ---- the mirror ----------------------------------------------------------------------- */

/* The id of the live queue name, or 0. */
static uint64_t queue_id(const char *name)
{
	model_lock();
	struct mqueue *q = g_hash_table_lookup(queues_by_name, name);
	uint64_t id = q ? q->id : 0;
	model_unlock();
	return id;
}

/* A queue another node made, changed or removed; what the kernel keeps of
 * its files here is dropped (of the one there was, and the one there is). */
static void mirror_queue(const struct row *st, void *unused)
{
	g_autofree char *name = g_strdup(st->s->be->col_text(st, 0));
	uint64_t before = queue_id(name);
	restore_queue_row(st, true);
	uint64_t after = queue_id(name);
	model_queue_watch(before, name);
	if (after != before)
		model_queue_watch(after, name);
}

static void mirror_work(const struct row *st, void *subs)
{
	restore_work_row(st, subs, false);
}

static void mirror_counts(const struct row *st, void *unused)
{
	restore_counts_row(st);
}

/* One pass: what changed since the last, in one snapshot and one round
 * trip, applied with the journal held off.  0 or -EIO. */
static int mirror_pass(struct store *s)
{
	char xmin[24];
	const char *v[] = { xmin, s->node };
	const struct stmt st[] = {
		{ "BEGIN ISOLATION LEVEL REPEATABLE READ" },
		{ "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint" },
		{ "SELECT " PG_QUEUES("$2") " WHERE queues.txid >= $1::xid8 AND wnode <> $2"
		  " ORDER BY ctime, name", 2, v },
		{ "SELECT " PG_WORK_COLS " FROM works WHERE txid >= $1::xid8 AND wnode <> $2"
		  " ORDER BY ord", 2, v },
		{ "SELECT " COUNTS_COLS " FROM queue_counts WHERE txid >= $1::xid8"
		  " AND node <> $2", 2, v },
		{ "COMMIT" },
	};
	PGresult *res[G_N_ELEMENTS(st)] = { NULL };

	snprintf(xmin, sizeof xmin, "%" PRIu64, s->xmin);
	bool ok = pipeline(s, st, G_N_ELEMENTS(st), res) && res[1] && PQntuples(res[1]) == 1;
	if (ok) {
		struct row first = { .s = s, .impl = res[1] };
		model_mirror_begin();
		each(s, res[2], mirror_queue, NULL);
		each(s, res[3], mirror_work, NULL);	/* no submitter: runs nothing */
		each(s, res[4], mirror_counts, NULL);
		model_mirror_end();
		s->xmin = (uint64_t)s->be->col_int(&first, 0);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(res); i++)
		PQclear(res[i]);
	return ok ? 0 : -EIO;
}

/* ---- claims ------------------------------------------------------------------------ */

/* How many works of queue $1 a node may claim now: max_active less the
 * works claimed by any node (an unbound queue), at most CLAIM_MAX; none
 * for a queue gone or frozen.  Read after the queue's claim lock is
 * taken, by a statement of its own: its snapshot sees every claim
 * committed before. */
#define ROOM	"coalesce((SELECT least(" G_STRINGIFY(CLAIM_MAX) ", CASE WHEN unbound <> 0" \
		" THEN greatest(0, max_active - (SELECT count(*) FROM works" \
		"  WHERE queue = $1 AND running_on <> '')) ELSE " G_STRINGIFY(CLAIM_MAX) " END)" \
		" FROM queues WHERE name = $1 AND NOT gone AND frozen = 0), 0)"

/* $1 queue, $2 node */
#define CLAIM(lock) \
	"UPDATE works AS w SET running_on = $2, wnode = $2, txid = pg_current_xact_id()" \
	" FROM (SELECT queue AS cq, name AS cn FROM works WHERE queue = $1 AND " DUE("$2") \
	"  ORDER BY ord LIMIT " ROOM " " lock ") AS c" \
	" WHERE w.queue = c.cq AND w.name = c.cn RETURNING " PG_WORK_COLS

static const char claim_any[] = CLAIM("FOR UPDATE SKIP LOCKED");
static const char claim_ordered[] = CLAIM("FOR UPDATE");

/* Whether queue runs one work at a time cluster-wide (unbound, max_active
 * 1), as this node knows it: its claims skip no row, not even one another
 * statement holds a moment. */
static bool ordered(const char *queue)
{
	model_lock();
	struct mqueue *q = g_hash_table_lookup(queues_by_name, queue);
	bool one = q && !mqueue_wants_cpu(q) && wq_max_active(q->wq) == 1;
	model_unlock();
	return one;
}

/* The submitter a claimed work names, read once. */
static void load_submitter(const struct row *st, void *subs)
{
	struct submitter *sub = row_submitter(st);
	g_hash_table_insert(subs, GINT_TO_POINTER(sub->journal_id), sub);
}

static void need_submitter(const struct row *st, void *arg)
{
	struct store *s = arg;
	int64_t id = s->be->col_int(st, 5);
	char ids[24];
	const char *v[] = { ids };
	if (g_hash_table_contains(s->subs, GINT_TO_POINTER(id)))
		return;
	snprintf(ids, sizeof ids, "%" PRId64, id);
	PGresult *res = query(s, "SELECT id, uid, gid, groups, cwd, env, limits"
			      " FROM submitters WHERE id = $1::bigint", 1, v, PGRES_TUPLES_OK);
	each(s, res, load_submitter, s->subs);
	PQclear(res);
}

/* A claimed work this node cannot run (its submitter unknown, the queue
 * gone here, no room): given back, failed, so that no node loops on it. */
static void claim_failed(struct store *s, const struct row *st, int err)
{
	g_autofree char *why = g_strdup_printf("cannot run on node %s: %s", s->node,
					       strerror(-err));
	const char *v[] = { s->be->col_text(st, 0), s->be->col_text(st, 1), s->node, why };
	PQclear(query(s, "UPDATE works SET state = 0, reason = $4, running_on = '',"
		      " finished_ms = " DB_NOW_MS ", wnode = '', txid = pg_current_xact_id()"
		      " WHERE queue = $1 AND name = $2 AND running_on = $3",
		      4, v, PGRES_COMMAND_OK));
}

static void run_claimed(const struct row *st, void *arg)
{
	struct store *s = arg;
	int r = restore_work_row(st, s->subs, true);
	if (r < 0)
		claim_failed(s, st, r);
}

/* Claim what queue has due, and queue it here: one transaction, one
 * round trip, claims of the queue by every node one at a time (an
 * advisory lock of the transaction). */
static int claim_queue(struct store *s, const char *queue)
{
	const char *v[] = { queue, s->node };
	const struct stmt st[] = {
		{ "BEGIN" },
		{ "SELECT pg_advisory_xact_lock(hashtext('wqfs-claim'), hashtext($1))", 1, v },
		{ ordered(queue) ? claim_ordered : claim_any, 2, v },
		{ "COMMIT" },
	};
	PGresult *res[G_N_ELEMENTS(st)] = { NULL };

	bool ok = pipeline(s, st, G_N_ELEMENTS(st), res);
	if (ok) {
		each(s, res[2], need_submitter, s);
		each(s, res[2], run_claimed, s);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(res); i++)
		PQclear(res[i]);
	return ok ? 0 : -EIO;
}

/* The unmount began: claim nothing more. */
static bool exiting(void)
{
	return __atomic_load_n(&model_exiting, __ATOMIC_ACQUIRE);
}

/* Every queue with due works this node may claim. */
static int claim_all(struct store *s)
{
	const char *v[] = { s->node };
	PGresult *res = query(s, "SELECT DISTINCT queue FROM works WHERE " DUE("$1"),
			      1, v, PGRES_TUPLES_OK);
	int r = res ? 0 : -EIO;
	for (int i = 0; res && i < PQntuples(res) && r == 0 && !exiting(); i++)
		r = claim_queue(s, PQgetvalue(res, i, 0));
	PQclear(res);
	if (g_hash_table_size(s->subs) > 4096)
		g_hash_table_remove_all(s->subs);
	return r;
}

/* ---- the thread ---------------------------------------------------------------------- */

/* How long until the next delayed work this node may claim is due. */
static int next_due_ms(struct store *s)
{
	const char *v[] = { s->node };
	PGresult *res = query(s, "SELECT coalesce(min(due_ms) - " DB_NOW_MS ", "
			      G_STRINGIFY(POLL_MS) ")"
			      " FROM works WHERE state = 2 AND running_on = '' AND NOT gone"
			      " AND home IN ('', $1)", 1, v, PGRES_TUPLES_OK);
	int64_t ms = POLL_MS;
	if (res && PQntuples(res) == 1) {
		struct row r = { .s = s, .impl = res };
		ms = s->be->col_int(&r, 0);
	}
	PQclear(res);
	return (int)CLAMP(ms, 0, POLL_MS);
}

/* Whether another node NOTIFYed (read, with the statements of the last
 * pass, into libpq's buffer, or still on the socket); all are taken.  A
 * NOTIFY names its node: this node's own commits poke it directly. */
static bool notified(struct store *s)
{
	PGnotify *note;
	bool any = false;
	if (!s->cpg || !PQconsumeInput(s->cpg))
		return false;
	while ((note = PQnotifies(s->cpg))) {
		any = any || strcmp(note->extra, s->node) != 0;
		PQfreemem(note);
	}
	return any;
}

static void sleep_until_woken(struct store *s, int ms)
{
	struct pollfd fds[] = {
		{ .fd = s->poke_fd, .events = POLLIN },
		{ .fd = s->cpg ? PQsocket(s->cpg) : -1, .events = POLLIN },
	};
	uint64_t n;
	if (notified(s))	/* during the pass: the socket says nothing more */
		return;
	if (poll(fds, G_N_ELEMENTS(fds), ms) > 0 && (fds[0].revents & POLLIN) &&
	    read(s->poke_fd, &n, sizeof n) < 0)
		return;
	notified(s);
}

static void *cluster_main(void *arg)
{
	struct store *s = arg;

	while (!__atomic_load_n(&s->cluster_stop, __ATOMIC_ACQUIRE)) {
		int wait = RETRY_MS;
		if (cluster_connect(s) == 0 && mirror_pass(s) == 0) {
			model_cluster_passed(++s->pass);
			if (!exiting() && !store_fenced(s))
				claim_all(s);
			wait = next_due_ms(s);
		}
		sleep_until_woken(s, wait);
	}
	return NULL;
}

/* At unmount: the works this node claimed and has not started (the drain
 * started nothing more) are the others' at once, not after its lease. */
static void release_claims(struct store *s)
{
	const char *v[] = { s->node };
	if (cluster_connect(s) < 0)
		return;
	PQclear(query(s, "UPDATE works SET running_on = '', wnode = '',"
		      " txid = pg_current_xact_id() WHERE running_on = $1 AND state IN (1, 2)",
		      1, v, PGRES_COMMAND_OK));
	PQclear(query(s, "SELECT pg_notify('wqfs', $1)", 1, v, PGRES_TUPLES_OK));
}

int cluster_start(struct store *s)
{
	if (s->poke_fd < 0)
		s->poke_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->poke_fd < 0)
		return -errno;
	s->subs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
					(GDestroyNotify)submitter_unref);
	if (pthread_create(&s->cluster, NULL, cluster_main, s) != 0)
		return -EAGAIN;
	pthread_setname_np(s->cluster, "wqfs-cluster");
	__atomic_store_n(&s->cluster_started, true, __ATOMIC_RELEASE);
	__atomic_store_n(&poked, s, __ATOMIC_RELEASE);
	model_set_cluster_poke(poke);
	return 0;
}

void cluster_stop(struct store *s)
{
	if (!__atomic_load_n(&s->cluster_started, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&poked, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&s->cluster_stop, 1, __ATOMIC_RELEASE);
	cluster_wake(s);
	pthread_join(s->cluster, NULL);
	__atomic_store_n(&s->cluster_started, false, __ATOMIC_RELEASE);
	release_claims(s);
	g_hash_table_destroy(s->subs);
	if (s->cpg)
		PQfinish(s->cpg);
	s->cpg = NULL;
}
