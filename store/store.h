/* SPDX-License-Identifier: MIT */
/*
 * store.h - durable state: the model's queues and works kept in an SQLite
 * database (WAL), so that a crash of the daemon loses no acknowledged
 * change.
 *
 * The store is the model's journal (model_set_journal()): every change
 * becomes a record, under the model lock; one writer thread commits the
 * records of many writers in one transaction (group commit); model_commit()
 * waits for the commit of everything changed so far, so a handler answers
 * only once its change is durable.  At start, store_restore() recreates
 * queues and works from the database (model/restore.c).
 *
 * Locking: s->mu guards the record queue and the commit counters; it is
 * taken under the model lock (journal) or alone, and takes nothing.
 */
#ifndef WQFS_STORE_H
#define WQFS_STORE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#define STORE_SCHEMA	7	/* PRAGMA user_version of this wqfs */

struct store;
struct workqueue_struct;

/*
 * Open (or create) the database at path for this daemon alone, with WAL
 * and synchronous=NORMAL (or FULL with sync_full), and migrate its schema.
 * On failure returns -errno and prints why, naming the file, on stderr:
 * another daemon holds it (-EBUSY), it is not a database or is damaged
 * (-EINVAL), it was written by a newer wqfs (-EPROTO).  Starts no thread.
 * node names this daemon in a cluster (PostgreSQL): one daemon per name.
 */
int store_open(const char *path, bool sync_full, const char *node, struct store **sp);
/* Recreate the kept queues and works in the model; no journal attached
 * yet.  Works that were running are marked lost.  0 or -errno. */
int store_restore(struct store *s);
/* Start the writer thread and attach the store as the model's journal. */
int store_start(struct store *s);
/* Answer the writes that wait for sync=full's write-out, and stop the
 * flusher that does it: once no request can come (the session loop
 * ended), before unmount, so that no answer goes to a closed device.
 * Later syncs write out on their own thread.  s may be NULL. */
void flusher_stop(struct store *s);
/* Detach from the model and commit what is left (before unmount's
 * teardown, which must not reach the database). */
void store_stop(struct store *s);
void store_close(struct store *s);
/* Whether state names a PostgreSQL database (a libpq URI). */
bool store_is_postgres(const char *state);
/* The counters of the queue that wq is (completed, failed, cancelled),
 * written down: called on the engine's finished and cancelled events. */
void store_counts(struct store *s, struct workqueue_struct *wq);
/* Commit to the database every change queued so far (a change is
 * acknowledged once it is in the log file; this puts it in the tables).
 * 0 or the errno of the failed commit. */
int store_checkpoint(struct store *s);
/* Transactions committed so far (many changes share one). */
uint64_t store_commits(struct store *s);

/* The default path for a mount point: /var/lib/wqfs/NAME.db for root,
 * $XDG_STATE_HOME/wqfs/NAME.db (else ~/.local/state/wqfs/) for others,
 * NAME the mount point escaped as systemd-escape --path does.  g_free. */
char *store_default_path(const char *mountpoint);

/* The text of the root file `nodes`: a header, then a row per node of the
 * cluster sorted by name (NODE LEASE RUNNING SLOTS STATE), this node's
 * load as it is now; with no cluster (SQLite, or s NULL: no state), the
 * header and this node's row.  Model lock held. */
void store_nodes_text(struct store *s, GString *out);

#endif /* WQFS_STORE_H */
