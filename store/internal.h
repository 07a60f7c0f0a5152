/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the store's files share: the store, its records, and
 * the row format of the schema (db.c).
 */
#ifndef WQFS_STORE_INTERNAL_H
#define WQFS_STORE_INTERNAL_H

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
	      REC_SUB_PUT };

struct rec {
	enum rec_op op;
	char *queue;
	char *name;			/* the work's */
	/* REC_QUEUE_PUT */
	int64_t creator, ctime;
	char *files;			/* "mode:uid:gid," per file */
	int unbound, max_active, nice, frozen, requeue_lost;
	char *cpumask;			/* "0,1,3" */
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
};

struct store {
	char *path;
	sqlite3 *db;
	int lock_fd;			/* flock'ed: this daemon's alone */
	bool sync_full;
	pthread_t writer;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t more;		/* mu: records queued, or stop */
	pthread_cond_t committed_cond;	/* mu: a commit ended */
	GQueue recs;			/* mu: struct rec, in order */
	uint64_t queued;		/* mu: records queued, ever */
	uint64_t committed;		/* mu: records committed (or failed) */
	uint64_t commits;		/* mu: transactions, ever */
	uint64_t fail_from, fail_to;	/* mu: the last failed batch */
	int fail_err;			/* mu: its errno */
	bool stop;			/* mu */
	bool committing;		/* mu: a leader commits (writer.c) */
	int64_t order;			/* model lock: the last order given */
	int64_t sub_id;			/* model lock: the last submitter row */
	sqlite3_stmt *stmts[REC_SUB_PUT + 1];	/* the writer's (rows.c) */
};

/* db.c */
int db_connect(struct store *s);		/* 0 or -errno; a no-op if connected */
/* The first column of the first row of sql, or none. */
int64_t db_int(struct store *s, const char *sql, int64_t none);
int db_exec(struct store *s, const char *sql);
int db_errno(int rc);			/* SQLITE_FULL -> -ENOSPC, ... */
/* writer.c */
void rec_free(struct rec *r);
int db_apply(struct store *s, const struct rec *r);
void store_journal(enum mchange c, struct mqueue *q, struct mwork *w, void *data);
int store_sync(void *data);
/* rows.c: the text forms of a queue's files and cpumask */
char *files_to_text(const struct fattr *files);
void files_from_text(const char *text, struct fattr *files);
char *cpumask_to_text(const cpu_set_t *mask);
void cpumask_from_text(const char *text, cpu_set_t *mask);

#endif /* WQFS_STORE_INTERNAL_H */
