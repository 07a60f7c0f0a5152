/* SPDX-License-Identifier: MIT */
/*
 * model.h - queues and works as users see them, with no FUSE in it.
 *
 * The model owns: the queues (name, owner, the modes of their files, the
 * engine workqueue behind them), their works (name, owner, command, the
 * submitter's credentials, state, counters, output), the per-user limits,
 * and the operations of the control and attribute files, as functions
 * that return 0 or -errno.  fs/ presents it: path table -> handler ->
 * parse -> model -> reply.  Every change of a work's or a queue's state
 * passes model_changed() (journal.c), where a durable store attaches.
 *
 * Locking: the model lock (model_lock()) guards the queue and work tables and every field of
 * struct mqueue and struct mwork, except a work's wq_command (its own
 * lock) and its delayed_work (the engine's).  Engine calls that only
 * queue or inspect (queue_work, work_busy, wq_get_stats) are made under
 * it; nothing that waits, creates or joins a thread is.  See the program's
 * lock order in fs/wqfs.h (LOCKING).
 */
#ifndef WQFS_MODEL_H
#define WQFS_MODEL_H

#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "command.h"
#include "request.h"
#include "workqueue.h"

/* ---- configuration ---------------------------------------------------------- */

/* A queue's files, the directory first: fs/nodes.c names them. */
#define MQ_DIR		0
#define MQ_NFILES	21

struct model_config {
	unsigned int hz;		/* jiffies per second */
	unsigned long max_works;	/* works per queue */
	size_t max_output;		/* output bytes kept per work */
	unsigned int keep_anon;		/* finished anonymous works listed */
	unsigned long user_queues;	/* per user; root is not limited */
	unsigned long user_works;
	size_t user_bytes;		/* bytes of command text */
	unsigned long user_readers;	/* open trace and jiq files */
	unsigned long user_files;	/* open control files */
	const char *root;		/* WQ_ROOT of every work */
	const char *node;		/* WQ_NODE of every work: this daemon's
					 * name in a cluster (the host name) */
	mode_t file_modes[MQ_NFILES];	/* a new queue's files */
	const char *file_names[MQ_NFILES];	/* their names ("." the directory):
						 * how the store keeps them */
};

extern struct model_config model_cfg;	/* set once by model_init() */

/* ---- submitters (submitter.c) ----------------------------------------------- */

/* Who queued a work: creds, cwd, environment, limits (the kernel's
 * f_cred, captured when a control file is opened).  Immutable. */
struct submitter {
	int refs;			/* atomic */
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	char *cwd;			/* NULL: "/" */
	char **env;			/* NULL-terminated, WQ_* removed; or NULL */
	pid_t pid;
	struct rlimit *limits;		/* RLIM_NLIMITS entries, or NULL */
	int64_t journal_id;		/* model lock: its row in the durable
					 * store, 0 while it has none */
};

struct submitter *submitter_new(uid_t uid, gid_t gid, pid_t pid,
				const gid_t *groups, size_t ngroups);
/* Read pid's cwd, environment and limits from /proc into c. */
void submitter_read_process(struct submitter *c);
struct cpu_reader;
/* The submitter of an opener pid with these credentials (subcache.c): its
 * cwd and limits read afresh, its environment read once per process
 * image, no supplementary groups (a work gets its user's when it runs);
 * the submitter of its previous open when nothing differs.  cpu gets
 * pid's CPU, read with its process image, for the writes that follow. */
struct submitter *subcache_capture(uid_t uid, gid_t gid, pid_t pid, struct cpu_reader *cpu);
struct submitter *submitter_ref(struct submitter *c);
void submitter_unref(struct submitter *c);
bool submitter_in_group(const struct submitter *c, gid_t gid);
/* Whether c may read a file of this mode and owner (c NULL: yes). */
bool submitter_may_read(const struct submitter *c, mode_t mode, uid_t uid, gid_t gid);

/* ---- processes (proc.c) ----------------------------------------------------- */

/*
 * Where a writer's CPU comes from: its /proc/PID/stat, kept open, and
 * the last value read.  A read costs about 3 us (the kernel formats all 52
 * fields), as much as the rest of a one-line write, so a value serves the
 * same pid for CPU_FRESH_NS; a writer moves between CPUs far less often
 * (tens of ms apart, in a loop of writes).  The open of a control file
 * reads the same text for the process image (subcache_capture), and its
 * value serves the write that follows: a shell's `echo > submit` reads
 * it once.  Its owner serializes calls.
 */
#define CPU_FRESH_NS	1000000ULL
struct cpu_reader {
	int fd;			/* /proc/<pid>/stat, or -1 */
	pid_t pid;
	int cpu;		/* read at read_ns */
	uint64_t read_ns;	/* wq_now_ns() */
};
#define CPU_READER_INIT	{ .fd = -1, .pid = 0, .cpu = -1, .read_ns = 0 }

/* The CPU pid was last on (as of at most CPU_FRESH_NS ago), or -1. */
int proc_cpu(struct cpu_reader *r, pid_t pid);
/* Close r's file. */
void proc_cpu_close(struct cpu_reader *r);
/* If pid descends from a work's command (a child of this process), copy
 * that command's WQ_QUEUE and WQ_WORK and return true. */
bool proc_work(pid_t pid, char *queue, size_t qlen, char *work, size_t wlen);
/* The resource limits of pid (prlimit, else /proc/PID/limits). */
int proc_limits(pid_t pid, struct rlimit out[RLIM_NLIMITS]);
/* The supplementary groups of thread tid (/proc, as fuse_req_getgroups()
 * reads them, in one read), at most PROC_GROUPS_MAX, into *groups
 * (g_free).  Their count, or -errno. */
#define PROC_GROUPS_MAX	65536
int proc_groups(pid_t tid, gid_t **groups);
/* At most max bytes of /proc/PID/what, NUL-terminated (g_free), or NULL. */
char *proc_read(pid_t pid, const char *what, size_t max, size_t *len);

/* ---- queues and works (queue.c, work.c) ------------------------------------- */

struct fattr {
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct mqueue {
	uint64_t id;
	char *name;
	struct workqueue_struct *wq;
	bool is_events;			/* system_wq: never removed */
	bool removing;			/* rmdir under way: no new work */
	int draining;			/* drain waits armed (wait.c) */
	uid_t creator;			/* charged for the queue (quota.c) */
	bool dead;			/* removed from the tree */
	bool requeue_lost;		/* works lost in a crash are queued again */
	int refs;			/* the tree, open files, requests */
	struct fattr files[MQ_NFILES];	/* [MQ_DIR]: the owner and mode */
	GHashTable *works;		/* its works by name: a set of &w->name,
					 * which is w; see mqueue_work() */
	unsigned long nworks;
	GQueue anon_done;		/* finished anonymous works, oldest first */
	GHashTable *others;		/* a cluster's: the other nodes' counters
					 * of it, node name -> struct wq_stats */
	time_t ctime;
};

/* What a work is doing, as status shows it: queued (pending, delayed,
 * blocked), running, or the kernel's idle, told apart by how it got there
 * (new: never queued; done, failed: its latest run's exit; cancelled: a
 * cancel took it; lost: running when the daemon died). */
enum mwork_state { MW_NEW, MW_PENDING, MW_DELAYED, MW_BLOCKED, MW_RUNNING, MW_DONE,
		   MW_FAILED, MW_CANCELLED, MW_LOST };

/* Queued, delayed or running: what cancel and flush act on. */
static inline bool mwork_state_busy(enum mwork_state s)
{
	return s == MW_PENDING || s == MW_DELAYED || s == MW_BLOCKED || s == MW_RUNNING;
}

/* The wall clock, in ms since the epoch: how a work's times are kept. */
int64_t model_now_ms(void);

/* What a work keeps of its runs, once it has run or failed (struct
 * mwork's ran, see mwork_ran()): a pending work that never ran pays for
 * none of it.  model_lock, but cmd (its own lock). */
struct mwork_ran {
	struct wq_command cmd;		/* the command, and its output */
	int64_t started_ms, finished_ms; /* wall clock; valid when has_started,
					  * has_finished */
	uint32_t runs;
	int last_exit;			/* valid when has_exit */
	pid_t last_pid;			/* valid when has_exit */
	int last_cpu;			/* valid when has_started; -1: none */
	const char *node;		/* where it last ran (interned), or NULL */
	char *reason;			/* why it failed without a run, or NULL */
	GList *done_link;		/* an anonymous work's, in q->anon_done */
};

/* A work's DEPs, and its place in the blocked list while it waits for
 * them (after.c): made for the works that have either.  model_lock. */
struct mwork_deps {
	GPtrArray *after;		/* its DEPs ("WORK", "QUEUE/WORK"), or NULL */
	GList *blocked_link;		/* in after.c's blocked list, or NULL */
};

struct mwork {
	char *name;			/* first: q->works holds &w->name, which
					 * is w (see mqueue_work()).  One block:
					 * the name, then (has_command) the
					 * command, see mwork_command(); replaced
					 * under the registry lock too (the
					 * trace reads the name), see work.c */
	struct delayed_work dwork;	/* every work can be queued or delayed */
	uint64_t id;
	struct mqueue *q;
	struct submitter *sub;		/* captured at the latest queueing line */
	struct mwork_ran *ran;		/* model lock: made at its first run (or
					 * kill, failure without a run, restore
					 * of a work that ran), then kept with
					 * the output; NULL until then */
	struct mwork_deps *deps;	/* after.c's: its DEPs, its place in the
					 * blocked list; NULL: neither */
	union {				/* a blocked work is not in the engine */
		unsigned long due_at;	/* has_due: jiffies when the delayed
					 * instance fires */
		uint64_t blocked_delay_ns; /* blocked: the DELAY it was queued
					    * with (after.c) */
	};
	int64_t queued_ms, due_ms;	/* wall clock */
	int64_t inst;			/* a cluster's: its latest queueing, as
					 * the database names it (cluster.c) */
	uint32_t ctime;			/* seconds since the epoch (to 2106) */
	uid_t owner;			/* who declared it: it runs as owner */
	int holds;			/* waits and requests holding it */
	/* flags, packed: a million pending works each pay for this struct */
	bool anon : 1;
	bool running : 1;
	bool has_exit : 1;
	bool has_queued : 1, has_due : 1, has_started : 1, has_finished : 1;
	bool cancelled : 1;		/* a cancel took it; until queued again */
	bool finishing : 1;		/* its run ended, the engine may still
					 * show it running; until queued again */
	bool blocked : 1;		/* queued, waiting for its DEPs (after.c) */
	bool lost : 1;			/* was running when the daemon died */
	bool has_command : 1;		/* name's block holds one */
	bool requeue : 1;		/* a cluster's: its latest queueing
					 * modified a queued instance */
	unsigned int remote : 3;	/* a cluster's: its state in the database
					 * (MW_PENDING, MW_DELAYED, MW_BLOCKED,
					 * MW_RUNNING on another node), while the
					 * engine here does not hold it; 0 none */
	unsigned int qcpu1 : 11;	/* a cluster's: 1 + the CPU it was queued
					 * on (mwork_qcpu()), 0 any */
};

/* What struct mwork_ran keeps, as a work that never ran has it. */
static inline uint32_t mwork_nruns(const struct mwork *w)
{
	return w->ran ? w->ran->runs : 0;
}

static inline int mwork_last_exit(const struct mwork *w)
{
	return w->ran ? w->ran->last_exit : 0;
}

static inline int64_t mwork_started_ms(const struct mwork *w)
{
	return w->ran ? w->ran->started_ms : 0;
}

static inline int64_t mwork_finished_ms(const struct mwork *w)
{
	return w->ran ? w->ran->finished_ms : 0;
}

static inline const char *mwork_reason(const struct mwork *w)
{
	return w->ran ? w->ran->reason : NULL;
}

static inline GPtrArray *mwork_after(const struct mwork *w)	/* or NULL */
{
	return w->deps ? w->deps->after : NULL;
}

/* w's struct mwork_ran, made at its first use.  model_lock. */
struct mwork_ran *mwork_ran(struct mwork *w);
/* Set or clear (NULL) why w failed without a run.  model_lock. */
void mwork_set_reason(struct mwork *w, const char *why);

/* A cluster's work: the CPU its latest queueing was for, or -1 (any). */
static inline int mwork_qcpu(const struct mwork *w)
{
	return (int)w->qcpu1 - 1;
}

static inline void mwork_set_qcpu(struct mwork *w, int cpu)
{
	w->qcpu1 = cpu >= 0 && cpu < 2047 ? (unsigned int)cpu + 1 : 0;
}

/* w's command, charged to its owner (QUOTA_BYTES), or NULL.  model_lock. */
static inline const char *mwork_command(const struct mwork *w)
{
	return w->has_command ? w->name + strlen(w->name) + 1 : NULL;
}

static inline const char *mwork_cmdline(const struct mwork *w)	/* or "" */
{
	const char *c = mwork_command(w);
	return c ? c : "";
}

/* Take and drop the model's lock.  model_unlock() is the one way to drop
 * it: it then destroys, with no lock held, the workqueues of the queues
 * freed under it (destroy_workqueue joins threads). */
void model_lock(void);
void model_unlock(void);
void model_assert_locked(void);		/* debug builds: abort if not held */
extern GHashTable *queues_by_name;	/* name -> mqueue (live only) */
extern GHashTable *queues_by_id;	/* id -> mqueue (live only) */
extern struct mqueue *events_q;
extern volatile bool model_exiting;	/* unmount started: refuse new work */

void model_init(const struct model_config *cfg);
void model_fini(void);

/* Create queue name for uid:gid with directory mode; -EEXIST, -EDQUOT,
 * -ESHUTDOWN, -ENOMEM.  No lock held: the workqueue is made outside it. */
int mqueue_create(const char *name, uid_t uid, gid_t gid, mode_t mode,
		  struct mqueue **qp);
void mqueue_ref(struct mqueue *q);		/* model_lock */
/* Drop a reference; the last frees q (its workqueue is destroyed on the
 * resumer thread, never under the lock).  model_lock held. */
void mqueue_unref(struct mqueue *q);
void mqueue_remove(struct mqueue *q);		/* model_lock: out of the tree */
/* rmdir: destroy_workqueue of an idle queue, at once; else -EBUSY.  The
 * caller holds a reference on q and no lock; stop_readers (may be NULL)
 * stops what reads q's jiq files first. */
int mqueue_rmdir(struct mqueue *q, void (*stop_readers)(struct mqueue *q));
/* rmdir(2)'s: the same, the removal committed before the queue goes; a
 * commit that fails (its errno) leaves the queue and its works as they
 * were. */
int mqueue_rmdir_committed(struct mqueue *q, void (*stop_readers)(struct mqueue *q));
struct mqueue *mqueue_lookup_id(uint64_t id);	/* model_lock; live */
/* chmod or chown of file i of q (MQ_DIR: the directory).  model_lock. */
void mqueue_set_file(struct mqueue *q, int i, const struct fattr *a);
/* Whether q has a pending, delayed or running work.  model_lock. */
bool mqueue_busy(struct mqueue *q);
/* q's engine counters; in a cluster, its pending, delayed and running
 * works counted cluster-wide, as the model knows them, and the other
 * nodes' started, completed, failed and cancelled added.  model_lock. */
void mqueue_get_stats(struct mqueue *q, struct wq_stats *st);
/* Node's counters of q (another node's, as the database has them). */
void mqueue_set_node_counts(struct mqueue *q, const char *node, const struct wq_stats *st);

struct mwork *mwork_lookup_id(uint64_t id);	/* model_lock; queue live */
struct mwork *mqueue_work(struct mqueue *q, const char *name);	/* model_lock */
enum mwork_state mwork_state(struct mwork *w);	/* model_lock */
/* What queues w (pending, delayed, blocked), whether or not an earlier
 * instance runs; MW_NEW: nothing.  model_lock. */
enum mwork_state mwork_queued_state(struct mwork *w);
const char *mwork_state_name(enum mwork_state s);
void mwork_hold(struct mwork *w, int delta);	/* takes model_lock; w may be NULL */
/* rmdir of works/NAME: forget an idle work; -ENOENT, -EBUSY, -EPERM. */
int mwork_forget(struct mqueue *q, const char *name, uid_t uid);	/* model_lock */
/* Kill a running work's command (SIGTERM, then SIGKILL). model_lock. */
void mwork_kill(struct mwork *w);
/* Copy up to len bytes of the output kept (the newest); with buf NULL,
 * how many there are.  model_lock. */
size_t mwork_output(struct mwork *w, char *buf, size_t len);

/* The names behind an engine event, for the trace: the work's name (or
 * "jiq", "-") and the queue's identity.  Takes no model_lock (the
 * observer runs inside engine calls made under it).  Returns false when
 * the queue is not ours. */
struct qview {
	uint64_t qid;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};
bool model_describe(const struct wq_event *ev, char *work, size_t len,
		    struct qview *view);

/* ---- control lines (line.c) and attributes (attr.c) ------------------------- */

struct mwait;

/* Who writes lines to a queue's control file, and how its waits are kept. */
struct mwriter {
	struct mqueue *q;		/* held by the caller */
	struct submitter *sub;		/* the opener: every line acts for it */
	pid_t pid;			/* the writing process, 0 if not known */
	int cpu;			/* the writer's CPU, or -1 */
	int own;			/* the writer descends from a work of q:
					 * -1 not known yet (pid asked), 0, 1 */
	GString *ids;			/* names queued, one per line */
	GArray *queued;			/* struct mqueued: what submit and delay
					 * lines queued, to take back (or NULL) */
	/* Record a wait a flush, cancel or drain line leaves; 0 or -errno. */
	int (*arm)(struct mwriter *m, struct mwork *w, int kind);
	void *data;			/* for arm */
};

/* What a line did to a work, to take it back: queued it (and declared
 * it, or not), moved its due time (modify) or cancelled its pending
 * instance; the due time it had before. */
enum mqueued_kind { MQ_QUEUED, MQ_MODIFIED, MQ_CANCELLED };

struct mqueued {
	uint64_t id;
	enum mqueued_kind kind;
	bool created;			/* MQ_QUEUED: the line declared it */
	bool had_due;			/* else pending, not delayed */
	unsigned long due_at;		/* jiffies, when had_due */
	int64_t due_ms;
	int64_t inst;			/* a cluster's: the instance it had */
};

/* Apply one parsed line of control file ctl; 0 or -errno. */
int model_apply_line(struct mwriter *m, enum wqfs_ctl ctl, const struct wqfs_line *l);
/* Take back what m's lines did, after their commit failed, last first:
 * an instance queued and not started yet is cancelled (a work they
 * declared forgotten), a modified one gets its due time back, a cancelled
 * pending one is queued again.  A started one cannot be: returns how
 * many.  (A cancelled running instance is not recorded: it was killed.) */
int model_take_back(struct mwriter *m);
/* Whether the queue asks its writers' CPU (it is per-CPU). */
bool mqueue_wants_cpu(struct mqueue *q);

/* after: "NAME: DEP..." sets NAME's DEPs, "NAME:" clears them; ENOENT
 * for an unknown NAME or DEP, EDEADLK for a cycle, EPERM unless uid owns
 * NAME.  Model lock held. */
int mqueue_set_after(struct mqueue *q, const struct wqfs_line *l, uid_t uid);
/* The after file's text: "NAME: DEP DEP\n" per work with DEPs, by name.
 * Model lock held. */
void mqueue_after_text(struct mqueue *q, GString *s);
/* w's DEPs, blank-separated (g_free). */
char *mwork_after_text(struct mwork *w);

/* Set an attribute of q (for sub: a negative nice needs root; NULL: the
 * daemon, putting back a value); 0 or -errno. */
int mqueue_set_attr(struct mqueue *q, const struct wqfs_attr_value *v,
		    const struct submitter *sub);
/* Its value now, as mqueue_set_attr() takes it. */
void mqueue_get_attr(struct mqueue *q, enum wqfs_attr attr, struct wqfs_attr_value *v);

/* ---- waits (wait.c) --------------------------------------------------------- */

enum mwait_kind { MWAIT_FLUSH_QUEUE, MWAIT_FLUSH_WORK, MWAIT_CANCEL, MWAIT_DRAIN };

/* A flush, cancel or drain to wait for: done() is called once, on the
 * resumer thread with no lock held, unless mwait_abort() took it back. */
struct mwait {
	struct wq_barrier bar;
	bool cluster;			/* waited for through the database's
					 * rows (cluster.c), not the engine */
	uint64_t pass;			/* cluster: the mirror pass it needs */
	int64_t armed_ms;		/* cluster: when (the wall clock) */
	GArray *set;			/* cluster: struct cluster_inst waited
					 * for, or NULL until taken */
	enum mwait_kind kind;
	struct mqueue *q;		/* a reference */
	struct mwork *w;		/* a hold; NULL for the queue's flush, drain */
	void (*done)(struct mwait *mw);
};

/* Arm mw (kind, q, w and done set; q and w are referenced here).
 * Returns 0 (done comes), 1 (nothing to wait for: released) or -errno. */
int mwait_arm(struct mwait *mw);
/* Withdraw mw before it fired: true if done() will not be called. */
bool mwait_abort(struct mwait *mw);
/* Drop mw's references (after done() or a successful abort). */
void mwait_release(struct mwait *mw);
/* Wait until no wait is armed or resuming. */
void mwait_wait_unarmed(void);

/* One thread runs what must not run on a worker or in a callback: waits'
 * completions, frees that join threads, FUSE answers. */
int resumer_start(void);		/* 0 or -EAGAIN */
void resumer_stop(void);		/* runs what was pushed, then ends */
/* Queue fn(arg, result) on the resumer; false if it is not running. */
bool resumer_push(void (*fn)(void *arg, int result), void *arg, int result);

/* ---- per-user limits (quota.c) ---------------------------------------------- */

enum quota_kind { QUOTA_QUEUES, QUOTA_WORKS, QUOTA_BYTES, QUOTA_READERS,
		  QUOTA_FILES, QUOTA_COUNT };

/* All with model_lock held; uid 0 is never limited nor counted. */
int quota_charge(uid_t uid, enum quota_kind k, uint64_t n);	/* 0, -EDQUOT */
void quota_force(uid_t uid, enum quota_kind k, uint64_t n);	/* no limit */
void quota_uncharge(uid_t uid, enum quota_kind k, uint64_t n);
/* An open past its limit (QUOTA_READERS, QUOTA_FILES) may be racing the
 * release of a file its user just closed: wait for a release until the
 * deadline quota_release_deadline() gives (the model lock is dropped
 * meanwhile); false once the deadline has passed. */
void quota_release_deadline(struct timespec *until);
bool quota_wait_release(const struct timespec *until);
void quota_fini(void);

/* ---- the journal of changes (journal.c) ------------------------------------- */

enum mchange {
	MCHANGE_QUEUE_CREATED, MCHANGE_QUEUE_REMOVED, MCHANGE_QUEUE_ATTRS,
	MCHANGE_WORK_QUEUED,	/* submit, delay, modify: command, due time */
	MCHANGE_WORK_STARTED, MCHANGE_WORK_FINISHED,
	MCHANGE_WORK_CANCELLED, MCHANGE_WORK_FORGOTTEN,
	MCHANGE_WORK_RESTORED,	/* recreated at start (restore.c) */
	MCHANGE_WORK_AFTER,	/* its DEPs were set or cleared (after.c) */
};

/* Where changes go: changed() is called under the model lock for every
 * change, in order (w NULL for the queue's own); sync() is called with no
 * lock held and returns once every change so far is durable (0), or the
 * errno of a failed commit.  One journal (the durable store, or a test). */
struct model_journal {
	void (*changed)(enum mchange c, struct mqueue *q, struct mwork *w, void *data);
	int (*sync)(void *data);
	/* Optional: sync, answered by done(arg, err) now or later on a thread
	 * of the journal's (else sync, then done). */
	void (*sync_then)(void *data, void (*done)(void *arg, int err), void *arg);
	/* Before a change: 0, or the errno its commit would fail with (the
	 * last commit failed and the store still cannot take one). */
	int (*ready)(void *data);
	void *data;
};
void model_set_journal(const struct model_journal *j);	/* NULL: none */
void model_changed(enum mchange c, struct mqueue *q, struct mwork *w);
/* Whether a change made now could be committed: 0, or the errno a write
 * fails with before anything of it is applied.  No lock held. */
int model_ready(void);
/* Who watches works (fs/output.c, the follow files): fn(wid) is called
 * at every change of a work (model lock held) and each time a running
 * work's output grew (no lock held, on its worker).  It only records, or
 * hands work to the resumer.  Set once, before the first work. */
void model_set_work_watch(void (*fn)(uint64_t wid));
/* Who is told that another node changed or removed queue qid named name
 * (fs drops what the kernel keeps of its files): fn is called with no
 * lock held.  Set once, before the first queue. */
void model_set_queue_watch(void (*fn)(uint64_t qid, const char *name));
void model_queue_watch(uint64_t qid, const char *name);	/* no lock held */
/* Acknowledged means committed: a handler calls this after its changes
 * and before its reply.  No lock held; 0, -EIO or -ENOSPC. */
int model_commit(void);
/* model_commit(), for a handler that answers later: done(arg, err) is
 * called once the changes are committed, on this thread before this
 * returns, or on the journal's (sync=full's flusher), with no lock held.
 * The handler's thread goes on meanwhile. */
void model_commit_then(void (*done)(void *arg, int err), void *arg);
/* After a failed commit, what put the model back as it was is committed
 * in turn (or fails too, and the database never had the change): it is
 * not left to the next change of the same thread to answer for. */
void model_commit_put_back(void);

/* ---- restore (restore.c) ------------------------------------------------------ */

/* A work as the store kept it. */
struct mwork_saved {
	const char *name;
	bool anon;
	uid_t owner;
	const char *command;
	struct submitter *sub;		/* the caller's reference is kept */
	enum mwork_state state;		/* MW_RUNNING: it was running: lost */
	int64_t due_in_ms;		/* MW_DELAYED: from now (<= 0: overdue) */
	int64_t queued_ms, started_ms, finished_ms;	/* wall clock; 0: unset */
	bool cancelled;
	const char *after;		/* its DEPs, blank-separated; or NULL */
	const char *reason;		/* why it failed without a run; or NULL */
	unsigned long runs;
	bool has_exit;
	int last_exit;
	bool lost;
	const char *output;
	size_t output_len;
	time_t ctime;
};
/* Recreate a work of q and queue it as it was (pending works in the order
 * of the calls); one that was running is lost.  The journal sees it.  No
 * lock held; 0 or -errno. */
int mwork_restore(struct mqueue *q, const struct mwork_saved *s);

/* ---- the cluster (cluster.c) ----------------------------------------------- */

/* With a shared database (state=postgresql://), works are not queued in
 * this daemon's engine by the lines that queue them: the model marks them
 * queued (w->remote) and the journal writes them to the database, where
 * the node with a free slot claims them (store/cluster.c) and queues them
 * in its engine through mwork_claimed().  What other nodes did comes back
 * as rows through mwork_mirror() and mqueue_mirror().  Set once, before
 * the store restores. */
extern bool model_cluster;

/* What the database adds to a work's row. */
struct mwork_cluster {
	int64_t inst;			/* its latest queueing */
	const char *node;		/* where it last ran, or "" */
	const char *running_on;		/* the node that claimed it, or "" */
	int cpu;			/* a per-CPU queue's CPU, or -1 */
	bool cancel_req;		/* a node asked its runner to stop it */
};

/* Changes made between these two, on this thread, are the database's own
 * (a mirrored row, a claim): the journal does not write them back. */
void model_mirror_begin(void);
void model_mirror_end(void);
bool model_mirroring(void);
/* Take s (a row another node wrote) into the model: the work created or
 * updated, its state in the database shown while the engine here does not
 * hold it; a cancel asked of a run here kills it.  No lock held; 0 or
 * -errno. */
int mwork_mirror(struct mqueue *q, const struct mwork_saved *s, const struct mwork_cluster *c);
/* The same for a work this node just claimed, then queued in its engine
 * (on c->cpu for a per-CPU queue).  s->sub must be set. */
int mwork_claimed(struct mqueue *q, const struct mwork_saved *s, const struct mwork_cluster *c);
/* Another node forgot the work: forgotten here too, unless it runs here. */
void mwork_gone(struct mqueue *q, const char *name);
/* Who to wake when a work ended or a wait was armed (the claimer). */
void model_set_cluster_poke(void (*fn)(void));
/* After each mirror pass (numbered pass): complete the cluster waits it
 * satisfies.  No lock held. */
void model_cluster_passed(uint64_t pass);

/* ---- shutdown (drain.c) ----------------------------------------------------- */

/* Unmount: refuse new work, stop_readers(), drop delayed works not yet
 * due, give queued and running ones timeout_s seconds, kill or drop the
 * rest, remove every queue and stop the resumer.  With keep (a durable
 * journal), start nothing more, give running works timeout_s seconds, and
 * detach the journal with what is queued in it before the teardown.
 * report() tells what was dropped or killed (model lock held). */
void model_drain(unsigned int timeout_s, bool keep, void (*stop_readers)(void),
		 void (*report)(struct mqueue *q, struct mwork *w, const char *what));

/* ---- a node of a cluster (fence.c) ----------------------------------------- */

/* This node's lease ran out unrenewed: kill every work running here (the
 * others count them lost), and say so on stderr.  No lock held; returns
 * how many. */
unsigned long model_fence(void);
/* What this node runs now (works running in every queue) and its slots
 * (the sum of its queues' max_active).  Model lock held. */
void model_node_load(uint64_t *running, uint64_t *slots);

#endif /* WQFS_MODEL_H */
