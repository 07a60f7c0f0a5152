/* SPDX-License-Identifier: MIT */
/*
 * wqfs.h - the daemon's shared types: options, the node table, queues,
 * works, open file handles and parked requests.
 *
 * Locking (one lock to know):
 *   fs_lock guards the queue tables (by name, by id), the work table (by
 *   id), and every field of struct fsq and struct fsw except the wq_command
 *   (its own lock) and the dwork (the engine's lock).  It is never held
 *   while calling an engine function that waits; engine calls that only
 *   queue or inspect (wq_queue_*, work_busy, wq_get_stats) are made under
 *   it, which is safe because the observer never takes fs_lock.
 *   registry_lock (a rwlock) guards the work-pointer -> name map that the
 *   engine observer reads; it is only taken inside fs_lock or alone.
 *   Each open file (struct fh) has its own mutex for its parked read, poll
 *   handle, recorded waits and parked FUSE_FLUSH requests; a waiting rmdir
 *   (struct rop) has one for its request.  fh->mu is never held while
 *   taking fs_lock, nor while calling fuse_req_interrupt_func().
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

#include "command.h"
#include "jiq.h"
#include "parse.h"
#include "trace.h"
#include "workqueue.h"

#ifndef container_of
#define container_of(p, type, member) \
	((type *)(void *)((char *)(p) - offsetof(type, member)))
#endif

/* ---- options (main.c) ---------------------------------------------------- */

struct wqfs_opts {
	unsigned int hz;		/* jiffies per second */
	unsigned long max_works;	/* works per queue */
	size_t max_output;		/* output bytes kept per work */
	unsigned int keep_anon;		/* finished anonymous works listed */
	size_t trace_buffer;		/* bytes per trace reader */
	unsigned int drain_timeout;	/* seconds at unmount */
	/* per-user limits (quota.c); root is not limited */
	unsigned long user_queues;	/* queues a user owns */
	unsigned long user_works;	/* works a user has in all queues */
	size_t user_bytes;		/* bytes of their command lines */
	unsigned long user_readers;	/* open trace and jiq files */
	unsigned long user_files;	/* open control files */
	unsigned int worker_idle_ms;	/* an idle worker exits after this */
	int show_help;
	int show_version;
};

extern struct wqfs_opts opts;
extern char *wqfs_root;			/* absolute mount point */
extern struct wqfs_trace *trace_hub;
extern struct fuse_session *wqfs_se;
extern volatile bool wqfs_exiting;	/* unmount started: refuse new work */
extern time_t wqfs_mount_time;

/* ---- nodes (nodes.c) ----------------------------------------------------- */

/* Every file of the tree; an inode number is id << 6 | kind. */
enum kind {
	K_NONE = 0,
	K_ROOT = 1,			/* must be 1: FUSE_ROOT_ID */
	K_STATUS, K_STATUS_JSON, K_TRACE, K_JIQWQ, K_JIQWQDELAY,
	K_QDIR,
	K_SUBMIT, K_DELAY, K_MODIFY, K_CANCEL, K_FLUSH, K_DRAIN,
	K_QSTATUS, K_QTRACE, K_QJIQWQ, K_QJIQWQDELAY,
	K_PER_CPU, K_MAX_ACTIVE, K_CPUMASK, K_NICE, K_FROZEN,
	K_WORKS,
	K_WDIR, K_WSTATUS, K_WOUTPUT,
	K_COUNT
};

enum node_class {
	NC_DIR,		/* directory */
	NC_TEXT,	/* text generated at open */
	NC_CTL,		/* control file: lines */
	NC_ATTR,	/* queue attribute: read "N\n", write a value */
	NC_TRACE,	/* event stream */
	NC_JIQ,		/* the LDD3 demo */
};

struct node {
	const char *name;
	enum kind parent;		/* directory holding it */
	mode_t mode;			/* default mode, with type bits */
	enum node_class cls;
	int arg;			/* NC_CTL: enum wqfs_ctl; NC_JIQ: delay */
};

extern const struct node nodes[K_COUNT];

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

/* ---- queues and works (queue.c) ------------------------------------------ */

struct fattr {
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

/* What a submitter's request gives its works: creds, cwd, environment. */
struct wctx {
	int refs;			/* atomic */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	char *cwd;
	char **env;			/* NULL-terminated, WQ_* removed */
	pid_t pid;
	struct rlimit *limits;		/* RLIM_NLIMITS entries, or NULL */
};

struct fsq {
	uint64_t id;
	char *name;
	struct workqueue_struct *wq;
	bool is_events;
	bool removing;			/* rmdir under way: no new work */
	int draining;			/* drain waits recorded (wait.c) */
	uid_t creator;			/* charged for the queue (quota.c) */
	bool dead;			/* removed from the tree */
	int refs;			/* the tree, open files, requests */
	struct fattr attr[K_COUNT];	/* K_QDIR .. K_WORKS */
	GHashTable *works;		/* name -> struct fsw */
	unsigned long nworks;
	GQueue anon_done;		/* finished anonymous works, oldest first */
	time_t ctime;
};

struct fsw {
	struct delayed_work dwork;	/* every work can be queued or delayed */
	uint64_t id;
	char *name;
	bool anon;
	uid_t owner;			/* who declared it: it runs as owner */
	struct fsq *q;
	char *command;			/* charged to owner (QUOTA_BYTES) */
	struct wctx *ctx;		/* captured at the latest queueing line */
	unsigned long runs;
	bool running;
	int last_exit;			/* valid when runs > 0 and finished */
	bool has_exit;
	pid_t last_pid;
	int last_cpu;
	unsigned long queued_at, due_at, started_at, finished_at;
	bool has_queued, has_due, has_started, has_finished;
	struct wq_command cmd;
	int holds;			/* parked requests waiting on it */
	GList *done_link;		/* in q->anon_done */
	time_t ctime;
};

extern pthread_mutex_t fs_lock;
extern GHashTable *queues_by_name;	/* name -> fsq (live only) */
extern GHashTable *queues_by_id;	/* id -> fsq (live only) */
extern GHashTable *works_by_id;		/* id -> fsw */
extern struct fsq *events_q;

void fs_init(void);
void fs_fini(void);
struct fsq *fsq_create(const char *name, uid_t uid, gid_t gid, int *err);
void fsq_ref(struct fsq *q);		/* under fs_lock */
void fsq_unref(struct fsq *q);		/* under fs_lock */
/* fs_lock held.  The caller has charged owner for the work. */
struct fsw *fsw_new(struct fsq *q, const char *name, bool anon, uid_t owner);
/* Set w's command, charging its owner; -EDQUOT past the limit. */
int fsw_set_command_len(struct fsw *w, const char *cmd, size_t len);
void fsw_set_command(struct fsw *w, const char *cmd);	/* never refused */
void fsw_hold(struct fsw *w, int delta);	/* takes fs_lock; w may be NULL */
void fsw_free(struct fsw *w);		/* fs_lock; idle, unlisted */
bool fsw_removable(struct fsw *w);	/* fs_lock */
void fsw_unlist(struct fsw *w);		/* fs_lock: remove from its queue */
void fsq_gc_anon(struct fsq *q, unsigned int keep);	/* fs_lock */
void fsq_gc_anon_of(struct fsq *q, uid_t owner);	/* fs_lock */
/* Take q out of the tree (rmdir, unmount); fs_lock held. */
void fsq_remove(struct fsq *q);
/* rmdir: destroy_workqueue of an idle queue, at once; else -EBUSY.  The
 * caller holds a reference on q and no lock. */
int queue_rmdir(struct fsq *q);
const char *fsw_state(struct fsw *w);	/* fs_lock */
struct fsq *fsq_lookup_id(uint64_t id);	/* fs_lock; live */
struct fsw *fsw_lookup_id(uint64_t id);	/* fs_lock; listed, queue live */
void wqfs_observer(const struct wq_event *ev, void *data);

/* What trace filters know of a queue: its identity and who may read it
 * (the tag of its trace events).  fsq_publish() (re)publishes q's after
 * a chmod or chown of its directory; fs_lock held. */
struct qview {
	uint64_t qid;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};
void fsq_publish(struct fsq *q);
unsigned long next_anon_id(void);	/* fs_lock */

/* ---- per-user limits (quota.c) ------------------------------------------ */

enum quota_kind { QUOTA_QUEUES, QUOTA_WORKS, QUOTA_BYTES, QUOTA_READERS,
		  QUOTA_FILES, QUOTA_COUNT };

/* All with fs_lock held; uid 0 is never limited nor counted. */
int quota_charge(uid_t uid, enum quota_kind k, uint64_t n);	/* 0, -EDQUOT */
void quota_force(uid_t uid, enum quota_kind k, uint64_t n);	/* no limit */
void quota_uncharge(uid_t uid, enum quota_kind k, uint64_t n);
void quota_fini(void);

/* ---- callers (caller.c) -------------------------------------------------- */

/* Everything a submitter gives its works; or only its credentials. */
struct wctx *wctx_capture(fuse_req_t req);
struct wctx *wctx_capture_creds(fuse_req_t req);
bool wctx_in_group(const struct wctx *c, gid_t gid);
/* Whether c may read a file of this mode and owner (c NULL: yes). */
bool wctx_may_read(const struct wctx *c, mode_t mode, uid_t uid, gid_t gid);
/* The CPU pid was last on (/proc/PID/stat), or -1.  *fd caches that file
 * open for *fdpid (-1: none); reopened when pid differs. */
int caller_cpu(pid_t pid, int *fd, pid_t *fdpid);
struct wctx *wctx_ref(struct wctx *c);
void wctx_unref(struct wctx *c);
/* If pid descends from a work's command (a child of this daemon), copy
 * that command's WQ_QUEUE and WQ_WORK and return true. */
bool caller_work(pid_t pid, char *queue, size_t qlen, char *work, size_t wlen);

/* ---- deferred tasks (queue.c) -------------------------------------------- */

/* One thread runs tasks that must not run on a worker or in a callback. */
int resumer_start(void);		/* 0 or -EAGAIN */
void resumer_stop(void);
void resumer_push(void (*fn)(void *arg, int result), void *arg, int result);

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
	struct fsq *q;			/* ref held, NULL for root files */
	uint64_t wid;
	char *text;			/* generated at open / jiq page */
	size_t len;
	GArray *dir;			/* struct dirent_item, at opendir */
	pthread_mutex_t mu;		/* guards everything below */
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
	GQueue waits;			/* mu: struct fwait, armed by writes */
	GSList *flushes;		/* mu: parked FUSE_FLUSH requests */
	GList *link;			/* fs_lock: in open_files */
	pthread_mutex_t jiq_mu;		/* starts and cancels of jiq runs */
	/* Control and attribute files opened for writing: the opener's
	 * context, captured at open and immutable (the kernel's f_cred):
	 * every line written on the file acts for it.  The writer's
	 * /proc/PID/stat kept open for its CPU (statfd, statpid: mu). */
	struct wctx *ctx;
	int statfd;
	pid_t statpid;
	uid_t uid;			/* the opener */
	int quota;			/* enum quota_kind charged at open, or -1 */
};

extern GList *open_files;		/* fs_lock */
extern const struct fuse_lowlevel_ops wqfs_ops;
void fh_unref(struct fh *fh);
void fh_shutdown_all(void);

/* ---- jiqwq reads (jiqfile.c) ------------------------------------------ */

void jiqfile_read(fuse_req_t req, struct fh *fh, size_t size, off_t off);
/* Stop fh's running jiq run; its parked read gets err.  Holds a ref. */
void jiqfile_stop(struct fh *fh, int err);
/* Stop every reader's run on q (rmdir).  No lock held. */
void jiqfile_stop_queue(struct fsq *q);
void jiqfile_free(struct fh *fh);	/* from fh_free */

/* ---- waits at close (wait.c) ------------------------------------------- */

enum wait_kind { WAIT_FLUSH_QUEUE, WAIT_FLUSH_WORK, WAIT_CANCEL, WAIT_DRAIN };

/* Record a wait on fh, answered at its close; 0 or -errno.  w is held by
 * the caller (NULL for the queue's flush and drain). */
int fwait_arm(struct fh *fh, struct fsw *w, enum wait_kind kind);
/* FUSE_FLUSH (every close(2)): wait for the waits fh's writes recorded. */
void waits_flush(fuse_req_t req, struct fh *fh);
/* fh is released (or the daemon exits): withdraw its waits. */
void waits_close(struct fh *fh);
/* Wait until no barrier is armed and no resumption is queued. */
void waits_wait_unarmed(void);

/* ---- control lines (control.c) and attributes (attr.c) ------------------ */

void control_write(fuse_req_t req, struct fh *fh, const char *buf, size_t size);
/* At close: apply the line a stdio flush left.  0 or -errno. */
int control_apply_part(fuse_req_t req, struct fh *fh);
void attr_write(fuse_req_t req, struct fh *fh, const char *buf, size_t size);

/* ---- text (status.c) ----------------------------------------------------- */

/* The text of file k; the root views show reader only the queues it may
 * read.  fs_lock held. */
char *gen_text(enum kind k, struct fsq *q, uint64_t wid, const struct wctx *reader,
	       size_t *len);

/* ---- shutdown (main.c) --------------------------------------------------- */

void wqfs_drain(void);

#endif /* WQFS_WQFS_H */
