/* SPDX-License-Identifier: MIT */
/*
 * wqfs.h - the daemon's presentation of the model (model/model.h): the
 * options, the node table, open file handles and parked requests.
 *
 * LOCKING - the order of every lock of the program; a lock is taken only
 * while holding locks above it:
 *
 *   fh->jiq_mu            starts and cancels of one open file's jiq runs
 *   fh->mu                one open file: parked read, poll handle, waits,
 *                         parked FUSE_FLUSH requests, the stdio line
 *   model lock            queues, works, quotas, the journal (model.h)
 *   event_deliver_lock    one observer call at a time (engine/event.c)
 *   registry_lock         the observer's map of works and queues (rwlock)
 *   trace hub->lock       the list of trace readers (trace.c)
 *   trace reader->lock    one reader's ring
 *   follow_lock           the open follow files (output.c)
 * and the leaves, which take no other lock:
 *   wq_lock               the engine (engine/lock.c; its own rules are in
 *                         engine/internal.h)
 *   armed_mu              the count of armed waits (model/wait.c)
 *   wq_command lock       one running command (engine/command.c)
 *   lease mu              the nodes' rows read last (store/lease.c)
 *
 * Rules: no fuse_reply_*(), no fuse_req_interrupt_func(), no thread
 * create or join and no wait under any of these locks, except the model
 * lock's own condition waits at unmount (model/drain.c).  A callback from
 * the engine (a barrier fired, an event) may run under the model lock
 * (an engine call made under it delivers on its way out): it only
 * records, or hands work to the resumer thread (resumer_push()).  An interrupt callback (FUSE) runs with a libfuse lock
 * held: it takes at most fh->mu, and hands anything longer to the resumer.
 */
#ifndef WQFS_WQFS_H
#define WQFS_WQFS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "jiq.h"
#include "model.h"
#include "parse.h"
#include "store.h"
#include "trace.h"

/* ---- options (main.c) ---------------------------------------------------- */

struct wqfs_opts {
	struct model_config model;	/* hz, max_works, per-user limits, ... */
	size_t trace_buffer;		/* bytes per trace reader */
	unsigned int drain_timeout;	/* seconds at unmount */
	unsigned int worker_idle_ms;	/* an idle worker exits after this */
	char *state;			/* PATH, "none", or NULL: the default */
	char *sync;			/* "normal" or "full" */
	int show_help;
	int show_version;
};

extern struct wqfs_opts opts;
extern char *wqfs_root;			/* absolute mount point */
extern struct wqfs_trace *trace_hub;
extern struct fuse_session *wqfs_se;
extern time_t wqfs_mount_time;
/* The durable state, or NULL (state=none): the nodes file asks it. */
struct store *wqfs_store(void);

/* ---- nodes (nodes.c) ----------------------------------------------------- */

/* Every file of the tree; an inode number is id << 6 | kind. */
enum kind {
	K_NONE = 0,
	K_ROOT = 1,			/* must be 1: FUSE_ROOT_ID */
	K_STATUS, K_STATUS_JSON, K_TRACE, K_JIQWQ, K_JIQWQDELAY, K_HZ, K_NODES,
	K_QDIR,
	K_SUBMIT, K_DELAY, K_MODIFY, K_CANCEL, K_FLUSH, K_DRAIN,
	K_QSTATUS, K_QTRACE, K_QJIQWQ, K_QJIQWQDELAY,
	K_PER_CPU, K_MAX_ACTIVE, K_CPUMASK, K_NICE, K_FROZEN, K_REQUEUE_LOST,
	K_QLIST, K_QSTATUS_JSON, K_AFTER,
	K_WORKS,
	K_WDIR, K_WSTATUS, K_WOUTPUT, K_WFOLLOW,
	K_COUNT
};

enum node_class {
	NC_DIR,		/* directory */
	NC_TEXT,	/* text generated at open */
	NC_CTL,		/* control file: lines (after: read its text) */
	NC_ATTR,	/* queue attribute: read "N\n", write a value */
	NC_TRACE,	/* event stream */
	NC_JIQ,		/* the LDD3 demo */
	NC_OUTPUT,	/* a work's output: a file (arg 0) or a stream (1) */
};

struct node {
	const char *name;
	enum kind parent;		/* directory holding it */
	mode_t mode;			/* default mode, with type bits */
	enum node_class cls;
	int arg;			/* NC_CTL: enum wqfs_ctl; NC_ATTR: enum
				 * wqfs_attr; NC_JIQ: delay */
};

extern const struct node nodes[K_COUNT];
void nodes_queue_files(struct model_config *cfg);

#define INO_SHIFT 6
static inline fuse_ino_t mkino(uint64_t id, enum kind k)
{
	return (fuse_ino_t)(id << INO_SHIFT | (uint64_t)k);
}
static inline enum kind ino_kind(fuse_ino_t ino)
{
	return (enum kind)(ino & ((1U << INO_SHIFT) - 1));
}
static inline uint64_t ino_id(fuse_ino_t ino)
{
	return ino >> INO_SHIFT;
}

/* names.c: another node changed or removed a queue (the model's queue
 * watch) */
void names_queue_changed(uint64_t qid, const char *name);

/* The model's file index of a queue's file of kind k (K_QDIR..K_WORKS). */
static inline int qfile(enum kind k)
{
	return (int)k - K_QDIR;
}

/* The engine's observer: names an event (model_describe) for the trace. */
void wqfs_observer(const struct wq_event *ev, void *data);

/* ---- the system log (syslog.c) ----------------------------------------- */

/* A detached daemon: stderr's lines go to syslog(3).  0 or -errno. */
int syslog_start(void);
void syslog_stop(void);

/* ---- callers (caller.c) -------------------------------------------------- */

/* The submitter a request speaks for (cpu: its CPU, for its writes); or
 * only its credentials. */
struct submitter *caller_capture(fuse_req_t req, struct cpu_reader *cpu);
struct submitter *caller_capture_creds(fuse_req_t req);

/* ---- open files (ops.c) -------------------------------------------------- */

struct dirent_item {
	char *name;
	fuse_ino_t ino;
	mode_t mode;
};

enum jiq_state { JIQ_NONE, JIQ_RUNNING, JIQ_DONE };

struct fh {
	enum kind kind;
	int refs;			/* atomic: release + queued tasks */
	struct mqueue *q;		/* ref held, NULL for root files */
	uint64_t wid;
	char *text;			/* generated at open / jiq page */
	size_t len;
	GArray *dir;			/* struct dirent_item, at opendir */
	pthread_mutex_t mu;		/* guards the fields marked mu */
	GString *part;			/* mu: a line a stdio flush began */
	char *rb;			/* ids queued by the latest write */
	size_t rblen, rbpos;
	struct wqfs_trace_reader *tr;
	struct fuse_pollhandle *ph;
	fuse_req_t rreq;		/* parked read */
	fuse_req_t intr_req;		/* interrupted before it was parked */
	size_t rsize;
	struct wqfs_jiq *jiq;		/* mu, jiq_mu: the latest run (jiqfile.c) */
	enum jiq_state jiq_state;	/* mu */
	bool nonblock;
	uint64_t fpos;			/* mu: a follow file's next byte */
	unsigned long follow_run;	/* the run a follow file streams */
	bool parked;			/* follow_lock: a follower waits */
	GList *follow_link;		/* follow_lock: in the followers */
	GQueue waits;			/* mu: struct fwait, armed by writes */
	GSList *flushes;		/* mu: parked FUSE_FLUSH requests */
	GList *link;			/* model lock: in open_files */
	pthread_mutex_t jiq_mu;		/* starts and cancels of jiq runs */
	/* Control and attribute files opened for writing: the opener,
	 * captured at open and immutable (the kernel's f_cred): every line
	 * written on the file acts for it.  Root's views: the reader.  The
	 * writer's CPU (cpu: mu). */
	struct submitter *sub;
	struct cpu_reader cpu;
	uid_t uid;			/* the opener */
	int quota;			/* enum quota_kind charged at open, or -1 */
};

/* fh.c: the open-file lifecycle */
extern GList *open_files;		/* model lock */
struct fh *fh_new(enum kind k);
void fh_unref(struct fh *fh);
/* Take the parked read, to answer it; fh->mu held. */
fuse_req_t fh_take_read(struct fh *fh);
/* A read that may wait: try() (fh->mu held) returns the bytes it put in
 * buf, -EAGAIN when there are none yet, or -errno.  Without O_NONBLOCK
 * the read parks in fh->rreq, holding no thread, until fh_wake_read()
 * finds bytes or an error for it, an interrupt (EINTR) or the unmount. */
typedef ssize_t (*fh_try_fn)(struct fh *fh, char *buf, size_t size);
void fh_read(fuse_req_t req, struct fh *fh, size_t size, fh_try_fn try);
/* Answer fh's parked read if try() has something for it now; no lock
 * held. */
void fh_wake_read(struct fh *fh, fh_try_fn try);
/* Close what fh holds in other modules (release); no lock held. */
void fh_close(struct fh *fh);
/* At exit: answer parked reads, stop jiq runs, close every open file. */
void fh_shutdown_all(void);

/* ---- the operations (ops.c: the table and open files; names.c) ---------- */

extern const struct fuse_lowlevel_ops wqfs_ops;
#define CTL_BLKSIZE	(1024 * 1024)	/* control files: st_blksize, max_write */
bool is_queue_kind(enum kind k);
bool is_work_kind(enum kind k);
int stat_ino(fuse_ino_t ino, struct stat *st);		/* model lock */
/* The start of opendir and open: take the model lock and check that ino
 * exists and is a directory (want_dir) or is not.  Returns true with the
 * lock held, or replies the error and returns false without it. */
bool lock_node(fuse_req_t req, fuse_ino_t ino, bool want_dir);
void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		struct fuse_file_info *fi);
void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	      dev_t rdev);
void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags);

/* ---- trace reads (tracefile.c) ------------------------------------------ */

void tracefile_open(struct fh *fh);			/* model lock */
void tracefile_read(fuse_req_t req, struct fh *fh, size_t size);

/* ---- a work's output and follow files (output.c) ------------------------ */

/* The size of works/W/output: all its current or latest run wrote. */
uint64_t output_size(struct mwork *w);			/* model lock */
void output_read(fuse_req_t req, struct fh *fh, size_t size, off_t off);
void follow_open(struct fh *fh, struct mwork *w);	/* model lock */
void follow_close(struct fh *fh);			/* no lock held */
/* The model's work watch: wake the followers of work wid. */
void follow_watch(uint64_t wid);

/* ---- jiqwq reads (jiqfile.c) ------------------------------------------ */

void jiqfile_read(fuse_req_t req, struct fh *fh, size_t size, off_t off);
/* Stop fh's running jiq run; its parked read gets err.  Holds a ref. */
void jiqfile_stop(struct fh *fh, int err);
/* Stop every reader's run on q (rmdir).  No lock held. */
void jiqfile_stop_queue(struct mqueue *q);
void jiqfile_free(struct fh *fh);	/* from fh_free */

/* ---- waits at close (wait.c) ------------------------------------------- */

/* Record a wait (enum mwait_kind) on fh, answered at its close; 0 or
 * -errno.  w is held by the caller (NULL for the queue's flush and
 * drain).  The model's mwriter.arm. */
int fwait_arm(struct mwriter *m, struct mwork *w, int kind);
/* FUSE_FLUSH (every close(2)): wait for the waits fh's writes recorded. */
void waits_flush(fuse_req_t req, struct fh *fh);
/* fh is released (or the daemon exits): withdraw its waits. */
void waits_close(struct fh *fh);

/* ---- control lines (control.c) and attributes (attr.c) ------------------ */

void control_write(fuse_req_t req, struct fh *fh, const char *buf, size_t size);
/* At close: apply the line a stdio flush left.  0 or -errno. */
int control_apply_part(fuse_req_t req, struct fh *fh);
void attr_write(fuse_req_t req, struct fh *fh, const char *buf, size_t size);

/* ---- text (status.c) ----------------------------------------------------- */

/* The text of file k; the root views show reader only the queues it may
 * read.  Model lock held. */
char *gen_text(enum kind k, struct mqueue *q, uint64_t wid, const struct submitter *reader,
	       size_t *len);

#endif /* WQFS_WQFS_H */
