/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the store's files share: the store, its records, the
 * backend interface (SQLite in db.c/rows.c, PostgreSQL in pg.c/pg-rows.c)
 * and the row format of the schema.
 *
 * The backend-neutral parts are writer.c (records and group commit) and
 * restore.c (rows back into the model); each backend provides the
 * operations of struct store_backend, over the same tables and the same
 * SELECT statements.
 */
#ifndef WQFS_STORE_INTERNAL_H
#define WQFS_STORE_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "model.h"
#include "store.h"

/* The state column of works. */
enum { ROW_IDLE, ROW_PENDING, ROW_DELAYED, ROW_RUNNING, ROW_LOST, ROW_CANCELLED,
       ROW_BLOCKED };

/* One change to write: a queue's row, a work's row or its run fields, or
 * a row to delete.  Copied under the model lock; owns its strings. */
enum rec_op { REC_QUEUE_PUT, REC_QUEUE_DEL, REC_WORK_PUT, REC_WORK_RUN, REC_WORK_DEL,
	      REC_SUB_PUT, REC_QUEUE_COUNTS, REC_NOPS };

struct rec {
	enum rec_op op;
	char *queue;
	char *name;			/* the work's */
	/* REC_QUEUE_PUT */
	int64_t creator, ctime;
	char *files;			/* "mode:uid:gid," per file */
	int unbound, max_active, nice, frozen, requeue_lost;
	char *cpumask;			/* "0,1,3" */
	/* REC_QUEUE_COUNTS: its counters, never lowered (records of them may
	 * pass each other: they come from the engine's events) */
	int64_t completed, failed, cancelled, started;
	/* REC_SUB_PUT: a submitter's row (sub is its id) */
	int64_t sub, uid, gid;
	char *cwd;
	GBytes *groups, *env, *limits;	/* NULL: none */
	/* REC_WORK_PUT (all, sub), REC_WORK_RUN (state .. output) */
	int anon;
	int64_t owner;
	char *command;
	int state;
	int64_t order;			/* pending works run in this order */
	int64_t due_ms;			/* wall clock, ms since the epoch */
	int64_t queued_ms, started_ms, finished_ms;	/* the same; 0: unset */
	char *after;			/* its DEPs, blank-separated */
	char *reason;			/* NULL: none */
	int64_t runs;
	int has_exit, last_exit;
	GBytes *output;			/* REC_WORK_RUN: NULL keeps the row's */
	uint64_t seq;			/* its number, across restarts */
	bool logged;			/* copied into the log file */
	bool fact;			/* what the engine here did (a run's start
					 * or end, its counts): no write waits for
					 * it, none takes it back, so a failed
					 * commit keeps it as it keeps a logged one */
	/* a cluster's (PostgreSQL): REC_WORK_PUT gives the work a new
	 * instance, guarded unless it modifies a queued one: refused when
	 * the row is queued already (refused: EALREADY, or EAGAIN for an
	 * anonymous work's name taken meanwhile) */
	int64_t inst;
	bool modify;
	int cpu;			/* a per-CPU queue's CPU, or -1 */
	bool home;			/* it must run on this node (per-CPU) */
	bool engine;			/* REC_WORK_RUN: a run here started or
					 * ended; else a line's change */
	bool finished;			/* ... it ended */
	bool held;			/* a line's: the engine here holds it */
	bool cancel;			/* a line's: a cancel (of its run too) */
	int refused;			/* set by the commit: -errno */
	const void *who;		/* the thread that queued it */
	struct recchunk *chunk;		/* packed with its strings (recpool.c),
					 * or NULL: each made with malloc */
};

/* n rounded up to 8: where the log's records and the pool's start. */
static inline size_t rec_align(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* A record's strings, in the order the log writes them. */
#define REC_STRS(r) { &(r)->queue, &(r)->name, &(r)->files, &(r)->cpumask,		\
		      &(r)->command, &(r)->cwd, &(r)->after, &(r)->reason }

struct store;

/* One row of a SELECT, read through its backend's accessors. */
struct row {
	const struct store *s;
	void *impl;			/* sqlite3_stmt, or PGresult */
	int n;				/* its row number (PostgreSQL) */
};

/* Records [from, to] (counted as s->queued counts) failed to commit: a
 * write that waited for one of them gets err. */
struct store_failure {
	uint64_t from, to;
	int err;
	const void *who;		/* only this thread's write, or NULL */
};

struct store_backend {
	const char *name;
	/* store_open(): take the database for this daemon, check it, bring its
	 * schema to this wqfs's, and disconnect (the fork comes next). */
	int (*open)(struct store *s);
	int (*connect)(struct store *s);	/* 0 or -errno; no-op if connected */
	void (*disconnect)(struct store *s);
	void (*close)(struct store *s);		/* what open took */
	int (*exec)(struct store *s, const char *sql);	/* no rows */
	int (*apply)(struct store *s, const struct rec *r);
	/* Optional: commit a batch of records at once, all or nothing (else
	 * begin, apply each, commit).  0 or -errno. */
	int (*commit)(struct store *s, GQueue *batch);
	/* Run fn on every row of sql; 0 or the first error. */
	int (*each_row)(struct store *s, const char *sql,
			int (*fn)(const struct row *, void *), void *arg);
	int64_t (*col_int)(const struct row *r, int i);
	const char *(*col_text)(const struct row *r, int i);	/* NULL: null */
	const void *(*col_blob)(const struct row *r, int i, size_t *len);
	const char *begin;		/* the statement that opens a commit */
	const char *set_applied;	/* ... followed by the last seq applied,
					 * or NULL: no log file */
};

extern const struct store_backend store_sqlite, store_pg;

/* Bytes [from, to) of the log. */
struct log_range {
	size_t from, to;
};

struct store {
	const struct store_backend *be;
	char *path;			/* as the user named it */
	char *label;			/* what messages call it */
	char *node;			/* this daemon's node name (a cluster's) */
	sqlite3 *db;
	int lock_fd;			/* flock'ed: this daemon's alone */
	bool sync_full;
	pthread_t writer;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t more;		/* mu: records queued, or stop */
	pthread_cond_t committed_cond;	/* mu: a commit ended */
	GQueue recs;			/* mu: struct rec, in order */
	GQueue retry;			/* mu: logged records whose commit failed */
	uint64_t seq_base;		/* records applied before this start */
	uint64_t unlogged_to;		/* mu: the last record not in the log */
	char *log;			/* the log file's mapping (log.c) */
	int log_fd;
	int log_dfd;			/* sync=full: O_DIRECT|O_DSYNC, or -1 */
	char *log_bounce;		/* mu: a write-out's copy (O_DIRECT) */
	size_t log_bounce_size;
	size_t log_size;
	size_t log_half;		/* the second half's offset (log.c) */
	size_t log_tail;		/* mu: where the next record goes */
	uint64_t log_last[2];		/* mu: each half's last record, or 0 */
	uint64_t log_last_seq;		/* mu: the last record logged */
	uint64_t applied_seq;		/* mu: the last record committed */
	uint64_t log_lap;		/* mu: switches and rewinds, ever */
	GByteArray *log_buf;		/* mu: a record being encoded */
	struct recchunk *recchunk;	/* mu: the records' chunk being filled */
	/* sync=full: the log is on disk up to record log_synced_seq; of the
	 * half in use, up to offset log_synced; log_old is the end of the
	 * half left that is not */
	uint64_t log_synced_seq;	/* mu */
	size_t log_synced;		/* mu */
	struct log_range log_old;	/* mu */
	bool log_syncing;		/* mu: a thread writes the log out */
	uint64_t log_syncs;		/* mu: write-outs of the log, ever */
	pthread_cond_t log_synced_cond;	/* mu: a write-out ended */
	bool flushing;			/* mu: the flusher runs (flusher.c) */
	bool flush_stop;		/* mu: it stops once nothing waits */
	pthread_t flusher;
	GQueue flush_waits;		/* mu: writes waiting for a write-out */
	pthread_cond_t flush_more;	/* mu: flush_waits got one, or stop */
	void *log_test;			/* for tests/store.c */
	uint64_t queued;		/* mu: records queued, ever */
	uint64_t committed;		/* mu: records committed (or failed) */
	uint64_t commits;		/* mu: transactions, ever */
	GArray *failed;			/* mu: struct store_failure, the latest */
	int fail_err;			/* mu: the errno of the last failed commit */
	bool quiet;			/* a rollback under way reports nothing */
	bool failing;			/* mu: the last commit failed (its
					 * retries report nothing) */
	bool stop;			/* mu */
	bool committing;		/* mu: a leader commits (writer.c) */
	int64_t order;			/* model lock: the last order given */
	int64_t sub_id;			/* model lock: the last submitter row */
	sqlite3_stmt *stmts[REC_NOPS];	/* the writer's (rows.c) */
	PGconn *pg;			/* PostgreSQL's connection */
	bool pg_prepared;		/* its statements are prepared */
	/* a cluster's (PostgreSQL; cluster.c) */
	int64_t id_next;		/* model lock: the last instance or
					 * submitter id given (a block of its own) */
	PGconn *cpg;			/* the cluster thread's connection */
	pthread_t cluster;
	bool cluster_started;		/* atomic: its thread runs */
	int poke_fd;			/* eventfd: wake the cluster thread;
					 * closed by store_close() */
	int cluster_stop;		/* atomic */
	uint64_t xmin;			/* cluster thread: rows of transactions
					 * from this one on are mirrored next */
	uint64_t pass;			/* cluster thread: passes done */
	GHashTable *subs;		/* cluster thread: id -> submitter */
	/* lease.c */
	struct lease *lease;		/* this node's lease (PostgreSQL), or
					 * NULL; set and cleared with no reader */
	bool fenced;			/* atomic (__atomic_*): the lease ran out
					 * unrenewed: claim nothing */
};

/* db.c (SQLite) */
int db_errno(int rc);			/* SQLITE_FULL -> -ENOSPC, ... */
int db_apply(struct store *s, const struct rec *r);	/* rows.c */
/* pg.c, pg-rows.c (PostgreSQL) */
int pg_errno(const PGresult *res);
int pg_check(struct store *s, PGresult *res, ExecStatusType ok);
/* The results of n statements sent on c in pipeline mode and of the sync
 * that ends them: each statement's handed to got(arg, i, res), which
 * keeps or clears it.  false when the connection lost its way (the
 * caller drops it). */
bool pg_pipeline_read(PGconn *c, size_t n,
		      void (*got)(void *arg, size_t i, PGresult *res), void *arg);
/* The database's clock, in ms since the epoch: due times are by it. */
#define DB_NOW_MS	"(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
int pg_apply(struct store *s, const struct rec *r);
int pg_commit(struct store *s, GQueue *batch);
/* store.c: the schema from version v to n, one transaction per
 * migration; set_version followed by a number records it.  -EPROTO if
 * v > n. */
int store_migrate(struct store *s, int v, int n, const char *const *migrations,
		  const char *set_version);
/* log.c */
int log_open(struct store *s);
void log_close(struct store *s);
bool log_append(struct store *s, const struct rec *r, uint64_t seq);
/* Whether a record of need bytes would be logged now. */
bool log_room(struct store *s, size_t need);
void log_rewind(struct store *s);
/* After the replay at start: all is applied, up to s->seq_base. */
void log_restarted(struct store *s);
int log_sync(struct store *s, uint64_t want);
int log_replay(struct store *s, uint64_t applied,
	       int (*fn)(struct store *, struct rec *), uint64_t *last);
void store_rollback(struct store *s);	/* reports nothing */
/* Whether an error of the statement under way goes unreported: a
 * rollback, or a retry of a commit that failed (its error was told). */
static inline bool store_silent(const struct store *s)
{
	return s->quiet || s->failing;
}
/* restore.c: the first column of the first row of sql, or none */
int64_t store_int(struct store *s, const char *sql, int64_t none);
/* cluster.c: the cluster thread (PostgreSQL) */
int cluster_start(struct store *s);
void cluster_stop(struct store *s);
void cluster_wake(struct store *s);
/* restore.c: rows into the model, for the restore and the mirror */
int restore_queue_row(const struct row *st, bool mirror);
void restore_counts_row(const struct row *st);
int restore_work_row(const struct row *st, GHashTable *subs, bool claimed);
struct submitter *row_submitter(const struct row *st);
/* The columns restore_work_row() reads, and restore_queue_row(). */
#define WORK_COLS	"queue, name, anon, owner, command, sub, state, ord," \
			" due_ms, runs, has_exit, last_exit, output, ctime, queued_ms," \
			" started_ms, finished_ms, after, reason"
#define PG_WORK_COLS	"queue, name, anon, owner, command, sub, state, ord," \
			" due_ms - " DB_NOW_MS "," \
			" runs, has_exit, last_exit, output, ctime, queued_ms," \
			" started_ms, finished_ms, after, reason, inst, node, running_on," \
			" cpu, cancel_req::int, gone::int, wnode"
#define QUEUE_COLS	"name, creator, files, unbound, max_active, cpumask," \
			" nice, frozen, ctime, requeue_lost, completed, failed, cancelled"
/* SELECT PG_QUEUES(node): queues with the counters of node (an SQL
 * expression), in QUEUE_COLS's order, then gone and wnode */
#define PG_QUEUES(node)	"name, creator, files, unbound, max_active, cpumask," \
			" nice, frozen, ctime, requeue_lost, coalesce(c.completed, 0)," \
			" coalesce(c.failed, 0), coalesce(c.cancelled, 0), gone::int, wnode" \
			" FROM queues LEFT JOIN queue_counts AS c ON c.queue = name" \
			" AND c.node = " node
/* SELECT COUNTS_COLS FROM queue_counts: a node's counters of a queue */
#define COUNTS_COLS	"queue, node, completed, failed, cancelled, started"

/* writer.c */
void rec_free(struct rec *r);
struct rec *recpool_pack(struct store *s, struct rec *r);
void recpool_free(struct rec *r);
void recpool_close(struct store *s);
int recpool_chunks(void);		/* mapped now, for tests */
void store_journal(enum mchange c, struct mqueue *q, struct mwork *w, void *data);
int store_sync(void *data);
/* The last log record the tables have (SQLite's meta), inside the
 * transaction under way; 0 with no log. */
int store_set_applied(struct store *s, uint64_t seq);
int store_ready(void *data);
/* store_sync(), answered by done(arg, 0 or -errno): on this thread before
 * it returns, or later on the flusher's if only the log's write-out is
 * left. */
void store_sync_then(void *data, void (*done)(void *arg, int err), void *arg);
/* flusher.c: sync=full's flusher thread, if the store has a log.
 * flusher_wait() hands it done(arg, err) for the log up to its tail
 * (s->mu held); false if there is no flusher. */
int flusher_start(struct store *s);
bool flusher_wait(struct store *s, void (*done)(void *arg, int err), void *arg);
/* rows.c: the text forms of a queue's files and cpumask */
char *files_to_text(const struct fattr *files);
void files_from_text(const char *text, struct fattr *files);
char *cpumask_to_text(const cpu_set_t *mask);
void cpumask_from_text(const char *text, cpu_set_t *mask);

/* lease.c: this node's lease, the reaper and the nodes' rows, on a
 * connection and a thread of their own (PostgreSQL; else nothing).
 * lease_start() registers the node before it returns: 0 or -errno. */
int lease_start(struct store *s);
void lease_stop(struct store *s);	/* joins the thread; s may be NULL */
/* Whether this node's lease ran out unrenewed (see lease.c): it claims
 * nothing until it renews again. */
static inline bool store_fenced(const struct store *s)
{
	return __atomic_load_n(&s->fenced, __ATOMIC_ACQUIRE);
}

#endif /* WQFS_STORE_INTERNAL_H */
