/* SPDX-License-Identifier: MIT */
/*
 * lease.c - this node's lease in a cluster on PostgreSQL, the reaper of
 * dead nodes' works, fencing, and the rows of the `nodes` file.
 *
 * A thread ("wqfs-lease") on a connection of its own renews this node's
 * row of `nodes` every LEASE_PERIOD against the database's clock, then
 * (one node at a time: a transaction-scoped advisory lock) reaps: a node
 * whose lease is older than LEASE_DEAD is marked dead, the runs claimed
 * by a dead or unknown node are lost (or pending again with requeue_lost),
 * the per-CPU works queued for one may run anywhere, and tombstones older
 * than a minute are purged.  Then it reads every node's row for the
 * `nodes` file.
 *
 * Fencing: while it cannot renew, the others will call this node dead
 * LEASE_DEAD after its last renewal; at LEASE_FENCE (before that) it sets
 * s->fenced, so that it claims nothing more, and kills its running works
 * (model_fence()).  A renewal clears s->fenced.
 *
 * Every statement runs with a deadline (no statement may hold the thread
 * past the fence): one that passes it drops the connection, and the next
 * pass connects again.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define LEASE_PERIOD	(2 * G_USEC_PER_SEC)	/* a renewal, a reap, a read */
#define LEASE_FENCE	(9 * G_USEC_PER_SEC)	/* after the last renewal */
#define LEASE_DEAD_MS	10000			/* the others' verdict */
#define LEASE_STEP	G_USEC_PER_SEC		/* the most one statement takes */

/* A node's row, as the last read saw it. */
struct lease_row {
	char *name;
	int64_t age_ms;			/* since its renewal, by the database */
	int64_t running, slots;
	bool dead;
};

struct lease {
	PGconn *pg;			/* thread: NULL until connected */
	pthread_t thread;
	bool started;			/* thread runs */
	pthread_mutex_t mu;
	pthread_cond_t cond;		/* mu: stop was set */
	bool stop;			/* mu */
	GArray *rows;			/* mu: struct lease_row, sorted by name */
	int64_t read_us;		/* mu: when rows were read (monotonic) */
	int64_t ok_us;			/* thread: the last renewal (monotonic) */
	char label[128];		/* thread: what messages call the database
					 * (not s->label: the writer's to change) */
	char why[256];			/* thread: the last statement's failure */
	bool failing;			/* thread: a failure was told (no more
					 * until a whole pass goes through) */
};

/* ---- statements with a deadline --------------------------------------------------- */

static void lease_drop(struct lease *l)
{
	if (l->pg)
		PQfinish(l->pg);
	l->pg = NULL;
}

/* Wait until fd is ready for events, or the deadline (false). */
static bool lease_poll(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - g_get_monotonic_time();
		if (left <= 0 || fd < 0)
			return false;
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, (int)((left + 999) / 1000));
		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return false;
	}
}

/* A statement's deadline: LEASE_STEP from now, and never past the fence
 * while there is none. */
static int64_t lease_deadline(struct store *s)
{
	int64_t deadline = g_get_monotonic_time() + LEASE_STEP;
	int64_t fence = s->lease->ok_us + LEASE_FENCE;
	return !store_fenced(s) && fence < deadline ? fence : deadline;
}

static void lease_notice(void *arg, const char *message)
{
	/* a WARNING of ours (a ROLLBACK after a failure) is nothing to tell */
}

static bool lease_connect(struct store *s)
{
	struct lease *l = s->lease;
	int64_t deadline = lease_deadline(s);
	if (l->pg && PQstatus(l->pg) == CONNECTION_OK)
		return true;
	lease_drop(l);
	l->pg = PQconnectStart(s->path);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	while (l->pg && PQstatus(l->pg) != CONNECTION_BAD && st != PGRES_POLLING_FAILED) {
		if (st == PGRES_POLLING_OK) {
			PQsetNoticeProcessor(l->pg, lease_notice, NULL);
			g_snprintf(l->label, sizeof l->label, "PostgreSQL database %s",
				   PQdb(l->pg));
			return true;
		}
		if (!lease_poll(PQsocket(l->pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
				deadline)) {
			g_strlcpy(l->why, "no answer in time\n", sizeof l->why);
			return false;
		}
		st = PQconnectPoll(l->pg);
	}
	g_strlcpy(l->why, l->pg ? PQerrorMessage(l->pg) : "out of memory\n", sizeof l->why);
	return false;
}

/* The result of sql (its last), or NULL: broken or past the deadline
 * (l->why says which). */
static PGresult *lease_query(struct lease *l, int64_t deadline, const char *sql,
			     int n, const char *const *params)
{
	PGresult *res = NULL, *r;
	if (!PQsendQueryParams(l->pg, sql, n, NULL, params, NULL, NULL, 0)) {
		g_strlcpy(l->why, PQerrorMessage(l->pg), sizeof l->why);
		return NULL;
	}
	for (;;) {
		while (PQisBusy(l->pg)) {
			bool ready = lease_poll(PQsocket(l->pg), POLLIN, deadline);
			if (!ready || !PQconsumeInput(l->pg)) {
				g_strlcpy(l->why, ready ? PQerrorMessage(l->pg) :
					  "no answer in time\n", sizeof l->why);
				PQclear(res);
				lease_drop(l);	/* a statement may still run there */
				return NULL;
			}
		}
		if (!(r = PQgetResult(l->pg)))
			return res;
		PQclear(res);
		res = r;
	}
}

/* Run sql; 0, or -1 (broken, late, or an error: told once). */
static int lease_exec(struct store *s, const char *sql, int n, const char *const *params,
		      ExecStatusType ok, PGresult **out)
{
	struct lease *l = s->lease;
	PGresult *res = lease_query(l, lease_deadline(s), sql, n, params);
	if (res && PQresultStatus(res) == ok) {
		if (out)
			*out = res;
		else
			PQclear(res);
		return 0;
	}
	if (!l->failing)
		fprintf(stderr, "wqfs: %s: this node's lease: %s", l->label,
			res ? PQresultErrorMessage(res) : l->why);
	l->failing = true;
	PQclear(res);
	return -1;
}

/* ---- renew, reap, read ------------------------------------------------------------ */

/* Insert or renew this node's row.  At start, a new row: started now. */
static int lease_renew(struct store *s, bool start)
{
	uint64_t running, slots;
	model_lock();
	model_node_load(&running, &slots);
	model_unlock();
	char r[24], n[24];
	g_snprintf(r, sizeof r, "%" PRIu64, running);
	g_snprintf(n, sizeof n, "%" PRIu64, slots);
	const char *p[] = { s->node, r, n };
	return lease_exec(s, start ?
		"INSERT INTO nodes (name, started, lease, running, slots, dead)"
		" VALUES ($1, now(), now(), $2, $3, false) ON CONFLICT (name) DO UPDATE"
		" SET started = now(), lease = now(), running = $2, slots = $3, dead = false" :
		"INSERT INTO nodes (name, lease, running, slots) VALUES ($1, now(), $2, $3)"
		" ON CONFLICT (name) DO UPDATE"
		" SET lease = now(), running = $2, slots = $3, dead = false",
		3, p, PGRES_COMMAND_OK, NULL);
}

/* A node that runs nothing any more: dead (now or before), or unknown. */
#define ORPHAN(col) "(" col " <> '' AND (" col " IN (SELECT name FROM gone)" \
	" OR " col " NOT IN (SELECT name FROM nodes)))"

/* Mark the nodes whose lease ended dead; the runs they claimed are lost
 * (pending again, last in the order, where requeue_lost says so), the
 * per-CPU works queued for them may run on any node.  Rows changed. */
static const char lease_reap_sql[] =
	"WITH dead AS (UPDATE nodes SET dead = true WHERE NOT dead AND"
	"  lease < now() - interval '10 seconds' RETURNING name),"
	" gone AS (SELECT name FROM dead UNION SELECT name FROM nodes WHERE dead),"
	" f AS (SELECT queue, name, " ORPHAN("running_on") " AS lost,"
	"  state IN (1, 2) AND " ORPHAN("home") " AS homeless,"
	"  queue IN (SELECT name FROM queues WHERE requeue_lost <> 0) AS rq"
	"  FROM works WHERE " ORPHAN("running_on") " OR"
	"  (state IN (1, 2) AND " ORPHAN("home") ")),"
	" reaped AS (UPDATE works w SET"
	"  state = CASE WHEN f.lost AND w.state = 3 THEN"
	"   CASE WHEN f.rq THEN 1 ELSE 4 END ELSE w.state END,"
	"  ord = CASE WHEN f.lost AND w.state = 3 AND f.rq THEN nextval('wqfs_ord')"
	"   ELSE w.ord END,"
	"  finished_ms = CASE WHEN f.lost THEN"
	"   (extract(epoch FROM now()) * 1000)::bigint ELSE w.finished_ms END,"
	"  running_on = CASE WHEN f.lost THEN '' ELSE w.running_on END,"
	"  home = CASE WHEN f.homeless THEN '' ELSE w.home END,"
	"  wnode = '', txid = pg_current_xact_id()"
	"  FROM f WHERE w.queue = f.queue AND w.name = f.name RETURNING 1)"
	" SELECT (SELECT count(*) FROM dead) + (SELECT count(*) FROM reaped)";

/* The reaper's steps after its lock, in its transaction; -1 on a failure. */
static int lease_reap_locked(struct store *s, bool *changed)
{
	PGresult *res;
	if (lease_exec(s, lease_reap_sql, 0, NULL, PGRES_TUPLES_OK, &res) < 0)
		return -1;
	*changed = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	if (lease_exec(s, "DELETE FROM works WHERE gone AND"
		       " gone_at < now() - interval '1 minute'", 0, NULL,
		       PGRES_COMMAND_OK, NULL) < 0 ||
	    lease_exec(s, "DELETE FROM queues WHERE gone AND"
		       " gone_at < now() - interval '1 minute'", 0, NULL,
		       PGRES_COMMAND_OK, NULL) < 0)
		return -1;
	return 0;
}

/* One node reaps at a time: the others find the lock taken and skip. */
static int lease_reap(struct store *s)
{
	PGresult *res;
	bool changed = false;
	if (lease_exec(s, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL) < 0)
		return -1;
	int r = lease_exec(s, "SELECT pg_try_advisory_xact_lock(hashtext('wqfs-reaper'), 0)",
			   0, NULL, PGRES_TUPLES_OK, &res);
	bool mine = r == 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (r == 0)
		PQclear(res);
	if (mine)
		r = lease_reap_locked(s, &changed);
	if (r == 0)
		r = lease_exec(s, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL);
	else if (s->lease->pg)	/* after a failure, which was told */
		lease_exec(s, "ROLLBACK", 0, NULL, PGRES_COMMAND_OK, NULL);
	if (r == 0 && changed)	/* the others mirror what changed */
		r = lease_exec(s, "NOTIFY wqfs", 0, NULL, PGRES_COMMAND_OK, NULL);
	return r;
}

static void lease_rows_clear(GArray *rows)
{
	for (guint i = 0; i < rows->len; i++)
		g_free(g_array_index(rows, struct lease_row, i).name);
	g_array_set_size(rows, 0);
}

/* Every node's row into the cache. */
static int lease_read(struct store *s)
{
	struct lease *l = s->lease;
	PGresult *res;
	if (lease_exec(s, "SELECT name, (extract(epoch FROM now() - lease) * 1000)::bigint,"
		       " running, slots, dead FROM nodes ORDER BY name COLLATE \"C\"",
		       0, NULL, PGRES_TUPLES_OK, &res) < 0)
		return -1;
	pthread_mutex_lock(&l->mu);
	lease_rows_clear(l->rows);
	for (int i = 0; i < PQntuples(res); i++) {
		struct lease_row row = {
			.name = g_strdup(PQgetvalue(res, i, 0)),
			.age_ms = g_ascii_strtoll(PQgetvalue(res, i, 1), NULL, 10),
			.running = g_ascii_strtoll(PQgetvalue(res, i, 2), NULL, 10),
			.slots = g_ascii_strtoll(PQgetvalue(res, i, 3), NULL, 10),
			.dead = strcmp(PQgetvalue(res, i, 4), "t") == 0,
		};
		g_array_append_val(l->rows, row);
	}
	l->read_us = g_get_monotonic_time();
	pthread_mutex_unlock(&l->mu);
	PQclear(res);
	return 0;
}

/* ---- the thread ------------------------------------------------------------------- */

/* Renew (start: register), then reap and read.  A renewal lifts the
 * fence. */
static void lease_pass(struct store *s, bool start)
{
	struct lease *l = s->lease;
	if (!lease_connect(s)) {
		if (!l->failing)
			fprintf(stderr, "wqfs: %s: this node's lease: cannot connect: %s",
				l->label, l->why);
		l->failing = true;
		return;
	}
	if (lease_renew(s, start) < 0)
		return;
	l->ok_us = g_get_monotonic_time();
	if (store_fenced(s))
		fprintf(stderr, "wqfs: %s: this node's lease is renewed again\n", l->label);
	__atomic_store_n(&s->fenced, false, __ATOMIC_RELEASE);
	if (lease_reap(s) == 0 && lease_read(s) == 0)
		l->failing = false;
}

/* Past the fence with no renewal: claim nothing, kill what runs. */
static void lease_fence(struct store *s)
{
	if (store_fenced(s) || g_get_monotonic_time() < s->lease->ok_us + LEASE_FENCE)
		return;
	__atomic_store_n(&s->fenced, true, __ATOMIC_RELEASE);
	model_fence();
}

/* Sleep until the monotonic time until; true if told to stop. */
static bool lease_sleep(struct lease *l, int64_t until)
{
	pthread_mutex_lock(&l->mu);
	while (!l->stop && g_get_monotonic_time() < until) {
		struct timespec ts = { .tv_sec = until / G_USEC_PER_SEC,
				       .tv_nsec = until % G_USEC_PER_SEC * 1000 };
		pthread_cond_timedwait(&l->cond, &l->mu, &ts);
	}
	bool stop = l->stop;
	pthread_mutex_unlock(&l->mu);
	return stop;
}

static void *lease_main(void *arg)
{
	struct store *s = arg;
	struct lease *l = s->lease;
	int64_t next = g_get_monotonic_time() + LEASE_PERIOD;
	for (;;) {
		int64_t until = next;
		if (!store_fenced(s) && l->ok_us + LEASE_FENCE < until)
			until = l->ok_us + LEASE_FENCE;
		if (lease_sleep(l, until))
			break;
		if (g_get_monotonic_time() >= next) {
			next = g_get_monotonic_time() + LEASE_PERIOD;
			lease_pass(s, false);
		}
		lease_fence(s);
	}
	return NULL;
}

int lease_start(struct store *s)
{
	if (s->be != &store_pg || s->lease)
		return 0;
	struct lease *l = g_new0(struct lease, 1);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* g_get_monotonic_time */
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&l->mu, NULL);
	l->rows = g_array_new(FALSE, FALSE, sizeof(struct lease_row));
	l->ok_us = g_get_monotonic_time();
	g_strlcpy(l->label, "PostgreSQL", sizeof l->label);
	s->lease = l;
	lease_pass(s, true);	/* the row is there once the mount answers */
	if (pthread_create(&l->thread, NULL, lease_main, s) != 0) {
		lease_stop(s);
		return -EAGAIN;
	}
	pthread_setname_np(l->thread, "wqfs-lease");
	l->started = true;
	return 0;
}

void lease_stop(struct store *s)
{
	struct lease *l = s ? s->lease : NULL;
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mu);
	if (l->started)
		pthread_join(l->thread, NULL);
	s->lease = NULL;
	lease_drop(l);
	lease_rows_clear(l->rows);
	g_array_unref(l->rows);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	g_free(l);
}

/* ---- the nodes file --------------------------------------------------------------- */

enum { NC_NODE, NC_LEASE, NC_RUNNING, NC_SLOTS, NC_STATE, NC_N };

/* The cells of each row, the header first: a GPtrArray of char *[NC_N]. */
static void lease_cell_row(GPtrArray *a, const char *name, int64_t age_ms,
			   uint64_t running, uint64_t slots, bool dead)
{
	char **c = g_new0(char *, NC_N + 1);
	c[NC_NODE] = g_strdup(name);
	c[NC_LEASE] = g_strdup_printf("%" PRId64 ".%" PRId64, age_ms / 1000,
				      age_ms % 1000 / 100);
	c[NC_RUNNING] = g_strdup_printf("%" PRIu64, running);
	c[NC_SLOTS] = g_strdup_printf("%" PRIu64, slots);
	c[NC_STATE] = g_strdup(dead ? "dead" : "alive");
	g_ptr_array_add(a, c);
}

/* The cached rows, this node's load as it is now. */
static void lease_cells(struct store *s, GPtrArray *a, uint64_t running, uint64_t slots)
{
	struct lease *l = s->lease;
	pthread_mutex_lock(&l->mu);
	int64_t since = (g_get_monotonic_time() - l->read_us) / 1000;
	for (guint i = 0; i < l->rows->len; i++) {
		struct lease_row *r = &g_array_index(l->rows, struct lease_row, i);
		bool me = strcmp(r->name, s->node) == 0;
		int64_t age = MAX(r->age_ms, 0) + since;
		lease_cell_row(a, r->name, age, me ? running : (uint64_t)MAX(r->running, 0),
			       me ? slots : (uint64_t)MAX(r->slots, 0),
			       r->dead || age > LEASE_DEAD_MS);
	}
	pthread_mutex_unlock(&l->mu);
}

/* Columns as wide as their widest cell, two blanks apart; the node's
 * name and the state to the left, numbers to the right. */
static void lease_table(GString *out, GPtrArray *a)
{
	int width[NC_N] = { 0 };
	for (guint i = 0; i < a->len; i++)
		for (int c = 0; c < NC_N; c++)
			width[c] = MAX(width[c], (int)strlen(((char **)a->pdata[i])[c]));
	for (guint i = 0; i < a->len; i++) {
		char **row = a->pdata[i];
		for (int c = 0; c < NC_STATE; c++)
			g_string_append_printf(out, c == NC_NODE ? "%-*s  " : "%*s  ",
					       width[c], row[c]);
		g_string_append_printf(out, "%s\n", row[NC_STATE]);
	}
}

void store_nodes_text(struct store *s, GString *out)
{
	static const char *const head[NC_N + 1] = { "NODE", "LEASE", "RUNNING", "SLOTS",
						    "STATE", NULL };
	GPtrArray *a = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	g_ptr_array_add(a, g_strdupv((char **)head));
	uint64_t running, slots;
	model_node_load(&running, &slots);
	if (s && s->lease)
		lease_cells(s, a, running, slots);
	if (a->len == 1)	/* no cluster, or no row read yet */
		lease_cell_row(a, model_cfg.node ? model_cfg.node : "", 0, running,
			       slots, false);
	lease_table(out, a);
	g_ptr_array_free(a, TRUE);
}
