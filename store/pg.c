/* SPDX-License-Identifier: MIT */
/*
 * pg.c - the PostgreSQL backend: a libpq connection to the database a
 * `state=postgresql://...` URI names, its schema created or migrated
 * forward (table wqfs_schema holds the version), statements and rows.
 * Its rows are written by pg-rows.c.
 *
 * Several daemons share a database, one per node name: a session advisory
 * lock on the name, taken at open and again at each connect, refuses a
 * second daemon with the same name (-EBUSY), as the SQLite file's lock
 * does.  A lost connection is reset at the next statement; the statement
 * that found it broken fails with -EIO.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PG_SCHEMA	5		/* wqfs_schema.version of this wqfs */

/* Each migration takes the schema from version i to i + 1. */
static const char *const pg_migrations[PG_SCHEMA] = {
	"CREATE TABLE queues ("
	"  name text PRIMARY KEY, creator bigint NOT NULL, files text NOT NULL,"
	"  unbound bigint NOT NULL, max_active bigint NOT NULL,"
	"  cpumask text NOT NULL, nice bigint NOT NULL, frozen bigint NOT NULL,"
	"  ctime bigint NOT NULL, requeue_lost bigint NOT NULL DEFAULT 0);"
	"CREATE TABLE submitters ("
	"  id bigint PRIMARY KEY, uid bigint NOT NULL, gid bigint NOT NULL,"
	"  groups bytea, cwd text, env bytea, limits bytea);"
	"CREATE TABLE works ("
	"  queue text NOT NULL, name text NOT NULL, anon bigint NOT NULL,"
	"  owner bigint NOT NULL, command text NOT NULL, sub bigint NOT NULL,"
	"  state bigint NOT NULL, ord bigint NOT NULL, due_ms bigint NOT NULL,"
	"  runs bigint NOT NULL, has_exit bigint NOT NULL,"
	"  last_exit bigint NOT NULL, output bytea, ctime bigint NOT NULL,"
	"  queued_ms bigint NOT NULL DEFAULT 0, started_ms bigint NOT NULL DEFAULT 0,"
	"  finished_ms bigint NOT NULL DEFAULT 0, after text NOT NULL DEFAULT '',"
	"  reason text, PRIMARY KEY (queue, name));",
	/* 2: the queue's counters */
	"ALTER TABLE queues ADD COLUMN completed bigint NOT NULL DEFAULT 0,"
	"  ADD COLUMN failed bigint NOT NULL DEFAULT 0,"
	"  ADD COLUMN cancelled bigint NOT NULL DEFAULT 0;",
	/* 3: the cluster.  A row says which node wrote it last (wnode), in
	 * which transaction (txid: what nodes mirror), and whether it is gone
	 * (a tombstone the others see, purged later).  A work's instance
	 * (inst) names one queueing; ord orders them cluster-wide; running_on
	 * is the node that claimed it (a running work may be pending again);
	 * home, the node a per-CPU work must run on ('' any). */
	"CREATE SEQUENCE wqfs_ord;"
	"CREATE TABLE nodes ("
	"  name text PRIMARY KEY, started timestamptz NOT NULL DEFAULT now(),"
	"  lease timestamptz NOT NULL DEFAULT now(), slots bigint NOT NULL DEFAULT 0,"
	"  running bigint NOT NULL DEFAULT 0, dead boolean NOT NULL DEFAULT false);"
	"ALTER TABLE queues ADD COLUMN wnode text NOT NULL DEFAULT '',"
	"  ADD COLUMN gone boolean NOT NULL DEFAULT false,"
	"  ADD COLUMN gone_at timestamptz,"
	"  ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();"
	"ALTER TABLE works ADD COLUMN inst bigint NOT NULL DEFAULT 0,"
	"  ADD COLUMN node text NOT NULL DEFAULT '',"
	"  ADD COLUMN running_on text NOT NULL DEFAULT '',"
	"  ADD COLUMN wnode text NOT NULL DEFAULT '',"
	"  ADD COLUMN home text NOT NULL DEFAULT '',"
	"  ADD COLUMN cpu bigint NOT NULL DEFAULT -1,"
	"  ADD COLUMN cancel_req boolean NOT NULL DEFAULT false,"
	"  ADD COLUMN gone boolean NOT NULL DEFAULT false,"
	"  ADD COLUMN gone_at timestamptz,"
	"  ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();"
	"CREATE INDEX queues_txid ON queues (txid);"
	"CREATE INDEX works_txid ON works (txid);"
	"CREATE INDEX works_claim ON works (queue, ord) WHERE state IN (1, 2);",
	/* 4: what the reaper and the claims look for, without a scan of every
	 * work: claimed rows, per-CPU rows, tombstones */
	"CREATE INDEX works_claimed ON works (running_on) WHERE running_on <> '';"
	"CREATE INDEX works_home ON works (home) WHERE home <> '';"
	"CREATE INDEX works_gone ON works (gone_at) WHERE gone;"
	"CREATE INDEX queues_gone ON queues (gone_at) WHERE gone;",
	/* 5: each node's counters of a queue (its engine's, never lowered):
	 * status shows their sum */
	"CREATE TABLE queue_counts ("
	"  queue text NOT NULL, node text NOT NULL, completed bigint NOT NULL,"
	"  failed bigint NOT NULL, cancelled bigint NOT NULL, started bigint NOT NULL,"
	"  txid xid8 NOT NULL DEFAULT pg_current_xact_id(), PRIMARY KEY (queue, node));"
	"CREATE INDEX queue_counts_txid ON queue_counts (txid);"
	"INSERT INTO queue_counts SELECT name, '', completed, failed, cancelled, completed"
	"  FROM queues;",
};

/* A failed result's errno: a full disk is ENOSPC, as SQLite's. */
int pg_errno(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!state)
		return -EIO;
	if (strcmp(state, "53100") == 0)
		return -ENOSPC;
	if (strcmp(state, "53200") == 0)
		return -ENOMEM;
	if (strncmp(state, "42501", 5) == 0 || strncmp(state, "28", 2) == 0)
		return -EACCES;
	return -EIO;
}

/* 0 if res is what status says a success is; else report, -errno. */
int pg_check(struct store *s, PGresult *res, ExecStatusType ok)
{
	if (res && PQresultStatus(res) == ok)
		return 0;
	int err = pg_errno(res);
	if (!store_silent(s))
		fprintf(stderr, "wqfs: %s: %s", s->label, PQerrorMessage(s->pg));
	return err;
}

bool pg_pipeline_read(PGconn *c, size_t n,
		      void (*got)(void *arg, size_t i, PGresult *res), void *arg)
{
	for (size_t i = 0; i <= n; i++) {
		PGresult *res = PQgetResult(c);
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (!res || (i == n) != (st == PGRES_PIPELINE_SYNC)) {
			PQclear(res);
			return false;
		}
		if (i == n) {
			PQclear(res);
			break;
		}
		got(arg, i, res);
		if (PQgetResult(c) != NULL)	/* each ends with NULL */
			return false;
	}
	return true;
}

/* 1 if this session took the advisory lock, 0 if another holds it. */
static int pg_try_lock(struct store *s)
{
	const char *node = s->node;
	PGresult *res = PQexecParams(s->pg, "SELECT pg_try_advisory_lock(hashtext('wqfs'),"
				     " hashtext($1))", 1, NULL, &node, NULL, NULL, 0);
	int r = pg_check(s, res, PGRES_TUPLES_OK);
	if (r == 0)
		r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return r;
}

/* The server frees a lock when the session that held it ends, which it
 * notices a moment after a daemon dies: ask again for a while. */
#define PG_LOCK_TRIES	20
#define PG_LOCK_WAIT_US	100000

static int pg_lock(struct store *s)
{
	for (int i = 0; i < PG_LOCK_TRIES; i++) {
		int r = pg_try_lock(s);
		if (r != 0)
			return r < 0 ? r : 0;
		g_usleep(PG_LOCK_WAIT_US);
	}
	fprintf(stderr, "wqfs: %s is in use by another wqfs daemon as node %s; "
		"not opened\n", s->label, s->node);
	return -EBUSY;
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, 0) > 0;
}

/* Whether the connection is still up, as far as can be told without a
 * round trip: a server that ended the session while it was idle (a
 * restart, an administrator's command) sent its FATAL message and closed
 * the socket.  Reading them (the message, then the end: two reads; never
 * blocking) spares the next commit an EIO. */
static bool pg_up(struct store *s)
{
	for (int i = 0; s->pg && i < 3 && readable(PQsocket(s->pg)); i++)
		if (!PQconsumeInput(s->pg))
			break;
	return s->pg && PQstatus(s->pg) == CONNECTION_OK;
}

static int pg_connect(struct store *s)
{
	if (pg_up(s))
		return 0;
	if (s->pg)
		PQfinish(s->pg);
	s->pg_prepared = false;
	s->pg = PQconnectdb(s->path);
	if (PQstatus(s->pg) != CONNECTION_OK) {
		fprintf(stderr, "wqfs: cannot connect to PostgreSQL: %s",
			PQerrorMessage(s->pg));
		return -EIO;
	}
	PQclear(PQexec(s->pg, "SET client_min_messages = warning"));
	g_free(s->label);
	s->label = g_strdup_printf("PostgreSQL database %s", PQdb(s->pg));
	return pg_lock(s);
}

/* The lock is given back before the session ends, so that the daemon's
 * next connection (after the fork) finds it free at once. */
static void pg_disconnect(struct store *s)
{
	if (s->pg && PQstatus(s->pg) == CONNECTION_OK)
		PQclear(PQexec(s->pg, "SELECT pg_advisory_unlock_all()"));
	if (s->pg)
		PQfinish(s->pg);
	s->pg = NULL;
	s->pg_prepared = false;
}

static int pg_exec(struct store *s, const char *sql)
{
	int r = pg_connect(s);
	if (r < 0)
		return r;
	PGresult *res = PQexec(s->pg, sql);
	r = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : pg_check(s, res, PGRES_COMMAND_OK);
	PQclear(res);
	return r;
}

static int pg_version(struct store *s)
{
	int r = pg_exec(s, "CREATE TABLE IF NOT EXISTS wqfs_schema (version integer NOT NULL);"
			   "INSERT INTO wqfs_schema SELECT 0 WHERE NOT EXISTS"
			   " (SELECT 1 FROM wqfs_schema)");
	return r < 0 ? r : (int)store_int(s, "SELECT version::bigint FROM wqfs_schema", -1);
}

/* Nodes starting together migrate one at a time: the others find the
 * schema made when they get the lock. */
static int pg_migrate(struct store *s)
{
	int r = pg_exec(s, "SELECT pg_advisory_lock(hashtext('wqfs-schema'))");
	int v = r < 0 ? r : pg_version(s);
	if (v >= 0)
		r = store_migrate(s, v, PG_SCHEMA, pg_migrations,
				  "UPDATE wqfs_schema SET version = ");
	pg_exec(s, "SELECT pg_advisory_unlock(hashtext('wqfs-schema'))");
	return v < 0 ? v : r;
}

static int pg_open(struct store *s)
{
	int r = pg_connect(s);
	if (r == 0)
		r = pg_migrate(s);
	pg_disconnect(s);	/* store_restore() connects, after the fork */
	return r;
}

/* ---- rows ----------------------------------------------------------------------- */

/* Rows come in binary: integers big-endian, text and bytea as they are. */
static int pg_each_row(struct store *s, const char *sql,
		       int (*fn)(const struct row *, void *), void *arg)
{
	int r = pg_connect(s);
	if (r < 0)
		return r;
	PGresult *res = PQexecParams(s->pg, sql, 0, NULL, NULL, NULL, NULL, 1);
	r = pg_check(s, res, PGRES_TUPLES_OK);
	struct row row = { .s = s, .impl = res };
	for (row.n = 0; r == 0 && row.n < PQntuples(res); row.n++)
		r = fn(&row, arg);
	PQclear(res);
	return r;
}

static int64_t pg_col_int(const struct row *r, int i)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(r->impl, r->n, i);
	int len = PQgetlength(r->impl, r->n, i);
	if (PQgetisnull(r->impl, r->n, i) || len > 8)
		return 0;
	uint64_t v = (len && (p[0] & 0x80)) ? UINT64_MAX : 0;	/* sign */
	for (int k = 0; k < len; k++)
		v = v << 8 | p[k];
	return (int64_t)v;
}

static const char *pg_col_text(const struct row *r, int i)
{
	return PQgetisnull(r->impl, r->n, i) ? NULL : PQgetvalue(r->impl, r->n, i);
}

static const void *pg_col_blob(const struct row *r, int i, size_t *len)
{
	*len = (size_t)PQgetlength(r->impl, r->n, i);
	return pg_col_text(r, i);
}

static void pg_close(struct store *s)
{
	pg_disconnect(s);
}

const struct store_backend store_pg = {
	.name		= "PostgreSQL",
	.open		= pg_open,
	.connect	= pg_connect,
	.disconnect	= pg_disconnect,
	.close		= pg_close,
	.exec		= pg_exec,
	.apply		= pg_apply,
	.commit		= pg_commit,
	.each_row	= pg_each_row,
	.col_int	= pg_col_int,
	.col_text	= pg_col_text,
	.col_blob	= pg_col_blob,
	.begin		= "BEGIN",
};
