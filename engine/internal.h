/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the workqueue engine's files share; not for its users.
 *
 * The files, by the kernel's concerns:
 *   workqueue.c	queue_work() and friends, alloc/destroy, wq_init/exit
 *   pool.c		pool_workqueues: their workers, busy table, kicks
 *   worker.c		the worker thread: process_one_work() and idling
 *   barrier.c		flush and cancel, sync and async (struct wq_barrier)
 *   event.c		events to the observer
 *   attrs.c		max_active, attributes, freezing, statistics
 *   timer.c, heap.c	the timer thread and its heap
 *   lock.c		wq_lock and wq_unlock()
 *
 * LOCKING
 *
 * Lock order (a lock is only taken while holding locks above it):
 *
 *	event_deliver_lock	(event.c) one observer call at a time, in order
 *	  wq_lock		(lock.c) the engine lock
 *
 * wq_lock guards every queue, pool, worker, work, barrier, event-FIFO and
 * timer field, unless a field's comment says otherwise.  One lock keeps
 * the engine simple and obviously correct; its critical sections are
 * short (list and heap operations).  Nothing else is ever taken under it:
 * no engine lock, no lock of a caller, of a sync wait or of a command.
 *
 * Rules:
 *  1. Take it with wq_lock(), drop it with wq_unlock(): nothing else.
 *     What the holder sets in motion -- workers reserved, events pushed,
 *     barriers fired -- is recorded in its thread's wq_owed, and carried
 *     out by wq_unlock() once the mutex is released.
 *  2. No callback under it: work funcs, the observer, barrier fns and GLib
 *     log handlers (g_warning() & co.) run with it released.  The only
 *     code called with it held is the engine's own: wq_timer fns.
 *  3. No thread is created, named or joined under it.  A worker is
 *     reserved under it (worker_reserve()) and its thread created by
 *     wq_unlock(); the thread names itself before it takes the lock; the
 *     timer thread is joined with it released.
 *  4. No waiting under it, but on a condition variable with
 *     wq_cond_wait()/wq_cond_timedwait(), which release it meanwhile, and
 *     only with nothing owed (else the wait could delay a barrier fn).
 *  5. It is not recursive.  A function that needs it held says so
 *     ("wq_lock held") and calls wq_lockdep_assert_held(); one that must
 *     be called without it ("wq_lock NOT held") wq_lockdep_assert_not_held().
 *  6. A thread handle is used under it only while its worker is on
 *     pwq->workers with a tid: a worker leaves that list under it just
 *     before its thread returns.
 */
#ifndef WQ_INTERNAL_H
#define WQ_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "list.h"
#include "lock.h"
#include "timer.h"
#include "workqueue.h"

#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MSEC	1000000ULL

/* work->flags */
#define WORK_STRUCT_PENDING	(1U << 0)	/* on a worklist, scheduled list or timer */
#define WORK_STRUCT_TIMER	(1U << 1)	/* delayed work with its timer armed */

/*
 * What a thread owes once it drops wq_lock; filled by the holder, taken
 * and emptied by wq_unlock().  Thread-local, so no lock.
 */
struct wq_owed {
	struct wq_node *starts;		/* reserved workers to create threads for */
	uint64_t events;		/* last event pushed, 0: none */
	struct wq_node *fired;		/* barriers whose fn is to be called */
};
extern __thread struct wq_owed wq_owed;

/*
 * A worker is reserved under wq_lock by worker_reserve(): it is then on
 * pwq->workers and counted in nr_workers (by max_active, by pwqs_free()
 * and in statistics) before its thread exists.  wq_unlock() creates the
 * thread, or undoes the reservation if it cannot.  The thread names
 * itself, takes wq_lock and records its id, so thread and tid are valid
 * once tid is non-zero.  It unlinks and frees itself under wq_lock just
 * before it returns.
 */
struct worker {
	struct pool_workqueue *pwq;	/* immutable */
	char name[16];			/* immutable: "NAME/CPU" or "NAME/u" */
	pthread_t thread;		/* wq_lock: valid once tid is set */
	pid_t tid;			/* wq_lock: 0 until the thread runs */
	struct wq_node node;		/* wq_lock: on pwq->workers */
	struct wq_node start_node;	/* reserving thread only: on its
					 * wq_owed.starts until created */
	struct wq_node idle_node;	/* wq_lock: on pwq->idle while idle */
	bool idle;			/* wq_lock: on pwq->idle, waiting to be
					 * woken; never set on a worker that
					 * decided to exit */
	bool stop;			/* wq_lock: exit the loop */
	bool active;			/* wq_lock: holds a max_active slot */
	bool retried;			/* worker thread only: starved pools
					 * retried since it last slept */
	pthread_cond_t wake;		/* CLOCK_MONOTONIC, set up before the
					 * thread is created; signalled, once
					 * tid is set, when idle clears, stop
					 * is set or the idle timeout changes */

	/* The running instance, all wq_lock: */
	struct work_struct *current_work; /* busy_hash key, never dereferenced */
	struct worker *busy_next;	/* next worker running the same work */
	struct wq_inflight inflight;	/* on wq->inflight while running */
	struct wq_node *waiters;	/* barriers ending when it finishes */
	unsigned int canceling;		/* cancel_*_sync waiting on this run */
	char current_name[WQ_EVENT_NAME_MAX]; /* the namer's, at its start: its
					       * func may free the work */
	struct wq_node scheduled;	/* works handed over by other workers */

	/* Worker thread only: */
	int result;			/* from wq_set_result() */
	uint64_t extra_cpu_ns;		/* from wq_set_result() */
};

/*
 * A pool_workqueue links a workqueue to a CPU, as in the kernel, but here
 * every pwq also has its own pool: it holds what the kernel keeps in a
 * worker_pool (worklist, workers, idle list) as well as the pwq's
 * nr_active.  Pools are not shared between queues.
 */
struct pool_workqueue {
	struct workqueue_struct *wq;	/* immutable */
	int cpu;			/* immutable: CPU, or WORK_CPU_UNBOUND */
	struct wq_node worklist;	/* wq_lock: pending works, FIFO */
	struct wq_node workers;		/* wq_lock: every worker, reserved too */
	struct wq_node idle;		/* wq_lock: idle workers */
	unsigned int nr_workers;	/* wq_lock: on workers */
	unsigned int nr_active;		/* wq_lock: workers holding a slot */
	struct wq_node starved_node;	/* wq_lock: on starved_pools, or NULLs */
};

struct workqueue_struct {
	char *name;			/* immutable */
	unsigned int flags;		/* wq_lock (WQ_UNBOUND may change) */
	int max_active;			/* wq_lock */
	struct workqueue_attrs attrs;	/* wq_lock */
	bool frozen;			/* wq_lock */
	bool dying;			/* wq_lock: refuse all new work */
	unsigned int draining;		/* wq_lock: refuse unchained work */
	struct pool_workqueue **pwqs;	/* wq_lock: by CPU, or [0] if unbound */
	unsigned int nr_pwqs;		/* wq_lock */
	struct wq_node inflight;	/* wq_lock: instances by sequence */
	uint64_t seq;			/* wq_lock: last sequence given */
	struct wq_node *flushers;	/* wq_lock: flush_workqueue barriers */
	unsigned int nr_pending;	/* wq_lock: on worklists/scheduled */
	unsigned int nr_delayed;	/* wq_lock: armed in the timer */
	unsigned int nr_running;	/* wq_lock */
	struct wq_stats counters;	/* wq_lock: started..cpu_ns */
	struct wq_node node;		/* wq_lock: on all_workqueues */
};

/* ---- workqueue.c ------------------------------------------------------- */

extern cpu_set_t online_mask;		/* set by wq_init only */
extern int nr_cpu_ids;			/* set by wq_init only */
extern struct wq_node all_workqueues;	/* wq_lock */

static inline bool wq_unbound(const struct workqueue_struct *wq)
{
	return wq->flags & WQ_UNBOUND;
}

/* The CPUs a work of wq may run on: its mask among online CPUs. */
static inline void wq_effective_mask(const struct workqueue_struct *wq,
				     cpu_set_t *mask)
{
	CPU_AND(mask, &wq->attrs.cpumask, &online_mask);
}

bool wq_busy(const struct workqueue_struct *wq);
struct workqueue_struct *grab_pending(struct work_struct *work);
void delayed_work_queue_now(struct delayed_work *dwork);

/* ---- pool.c ------------------------------------------------------------ */

void busy_init(void);
void busy_exit(void);
struct worker *busy_first(const struct work_struct *work);
struct worker *find_worker_executing_work(struct workqueue_struct *wq,
					  const struct work_struct *work);
void busy_insert(struct worker *worker, struct work_struct *work);
void busy_remove(struct worker *worker);
bool work_canceling(const struct work_struct *work);

void pwqs_alloc(struct workqueue_struct *wq);
void pwqs_free(struct pool_workqueue **pwqs, unsigned int nr_pwqs);
bool pwq_may_start(const struct pool_workqueue *pwq);
void pwq_kick(struct pool_workqueue *pwq);
void pwq_unstarve(struct pool_workqueue *pwq);
void wq_kick_all(struct workqueue_struct *wq);
void starved_pools_retry(void);
void worker_apply_attrs(struct worker *worker);
void worker_detach(struct worker *worker);
void workers_start(struct wq_node *starts);

/* ---- worker.c ---------------------------------------------------------- */

extern __thread struct worker *current_worker;
extern uint64_t idle_timeout_ns;	/* wq_lock */
#define WQ_DFL_IDLE_TIMEOUT_MS	5000U

void *worker_thread(void *arg);

/* True when the caller is a worker of wq. */
static inline bool current_on(const struct workqueue_struct *wq)
{
	return current_worker && current_worker->pwq->wq == wq;
}

/* ---- barrier.c --------------------------------------------------------- */

void barrier_wait_on(struct wq_barrier *b, struct wq_node **list);
void barriers_fire_all(struct wq_node **list, int result);
void barriers_complete(struct wq_node *fired);
void inflight_remove(struct workqueue_struct *wq, struct wq_inflight *inflight);

/* ---- event.c ----------------------------------------------------------- */

bool events_observed(void);
/* name: work's (event_name()), or NULL to ask the namer now, when work
 * is certainly there */
void event_name(struct work_struct *work, char name[WQ_EVENT_NAME_MAX]);
void event_push(enum wq_event_type type, struct workqueue_struct *wq,
		struct work_struct *work, const char *name, int result, uint64_t due_ns);
void events_deliver(uint64_t last);
void events_exit(void);

#endif /* WQ_INTERNAL_H */
