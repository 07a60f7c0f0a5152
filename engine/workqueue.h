/* SPDX-License-Identifier: MIT */
/*
 * workqueue.h - the Linux kernel's workqueue API, in user space.
 *
 * This module owns workqueues, their pool_workqueues (one per CPU, or one
 * for an unbound queue), the worker threads that run works, the single
 * timer thread that arms delayed works, the barriers that flush and cancel
 * wait on, and the observer that is told of every event.
 *
 * Naming: a function with the kernel's name has the kernel's semantics and
 * return type (queue_work() returns false when the work was already
 * pending, and so on).  Functions the kernel does not have, or variants
 * that report *why* with a negative errno, carry the prefix wq_.
 *
 * Works are plain structs the caller owns and embeds, as in the kernel:
 *
 *	struct my_work { struct work_struct work; int data; };
 *	INIT_WORK(&w->work, my_wq_function);
 *	queue_work(my_wq, &w->work);
 *
 * A zero-initialised work_struct with .func set is a valid idle work, so
 * DECLARE_WORK() needs no run-time set-up.  As in the kernel, a work may
 * free itself in its func: once func has been called the engine tracks
 * the running instance by address in its busy table (the kernel's
 * busy_hash) and never dereferences the work again for that run.  The
 * engine touches a work only while it is pending, and reports it to the
 * observer only while work_busy() is non-zero, except for the CANCELLED
 * event of a cancel the caller itself started.  Everything below the "private"
 * marker of a struct belongs to the engine and is guarded by the engine
 * lock; callers read work state only through work_pending(), work_busy().
 *
 * Locking rules for callers: every function here may be called from any
 * thread, including from inside a running work, except where noted.
 * Observer and barrier callbacks are called without any engine lock held;
 * they must not block for long, and must not free the workqueue they are
 * told about.
 */
#ifndef WQ_WORKQUEUE_H
#define WQ_WORKQUEUE_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "compiler.h"
#include "timer.h"

/* cpu_set_t needs _GNU_SOURCE, which the build defines for every file. */
#ifndef CPU_SETSIZE
#error "workqueue.h needs _GNU_SOURCE defined before the first #include"
#endif

struct workqueue_struct;
struct pool_workqueue;
struct worker;
struct work_struct;

typedef void (*work_func_t)(struct work_struct *work);

/* Intrusive doubly linked list node; NULL pointers mean "not on a list". */
struct wq_node {
	struct wq_node *prev, *next;
};

/* A place in a workqueue's in-flight list, with its sequence number. */
struct wq_inflight {
	struct wq_node node;
	uint64_t seq;
};

struct work_struct {
	work_func_t func;

	/* private: guarded by the engine lock */
	unsigned int flags;		/* WORK_STRUCT_* bits */
	int cpu;			/* of a delayed_work: its timer's target
					 * CPU, or WORK_CPU_UNBOUND */
	/* A pending instance is on a worklist or (WORK_STRUCT_TIMER) on a
	 * delayed_work's timer, never both: they share their place. */
	union {
		struct {
			struct wq_node entry;	/* on a worklist or a worker's
						 * scheduled list while
						 * pending */
			struct wq_inflight inflight; /* on wq->inflight while
						      * pending */
		};
		struct wq_timer timer;	/* a delayed_work's: armed while the
					 * work is delayed */
	};
	union {				/* which one: WORK_STRUCT_TIMER */
		struct pool_workqueue *pwq;	/* clear: queued on, while
						 * on a worklist */
		struct workqueue_struct *timer_wq; /* set: a delayed_work's
						    * armed timer's target */
	};
	struct wq_node *waiters;	/* flush barriers on the pending
					 * instance (NULL-terminated) */
};

/* Its timer, and the timer's target queue and CPU, are in its work: in
 * places a delayed instance does not use (see struct work_struct). */
struct delayed_work {
	struct work_struct work;
};

#define WORK_CPU_UNBOUND	(-1)

/* work_busy() bits, as in the kernel. */
#define WORK_BUSY_PENDING	(1U << 0)
#define WORK_BUSY_RUNNING	(1U << 1)

/* alloc_workqueue() flags; values as in include/linux/workqueue.h. */
enum {
	WQ_UNBOUND		= 1 << 1,  /* not bound to any CPU */
	WQ_FREEZABLE		= 1 << 2,  /* frozen by freeze_workqueues_begin() */
	WQ_MEM_RECLAIM		= 1 << 3,  /* accepted, no effect here */
	WQ_HIGHPRI		= 1 << 4,  /* workers at nice -20 */
	WQ_CPU_INTENSIVE	= 1 << 5,  /* accepted, no effect here */
	__WQ_ORDERED		= 1 << 17, /* strictly FIFO, max_active 1 */

	WQ_MAX_ACTIVE		= 512,
	WQ_DFL_ACTIVE		= 1,	   /* wqfs: the tutorials' behaviour */
};

/* ---- engine lifetime ------------------------------------------------- */

/*
 * wq_init - start the engine: the timer thread and system_wq ("events",
 * per-CPU).  hz is the number of jiffies per second used by every
 * function that takes a delay in jiffies (0: 250).  Returns 0 or -errno.
 */
int wq_init(unsigned int hz);

/* wq_exit - destroy system_wq and stop the timer thread.  Every other
 * workqueue must have been destroyed first. */
void wq_exit(void);

extern struct workqueue_struct *system_wq;

/*
 * wq_set_worker_idle_timeout_ms - how long a worker of any queue stays
 * idle before its thread exits; 0 restores the default, 5000 ms.  Takes
 * effect at once, for sleeping workers too.  May be called before
 * wq_init().
 */
void wq_set_worker_idle_timeout_ms(unsigned int ms);

/* ---- time ------------------------------------------------------------ */

unsigned int wq_hz(void);
uint64_t wq_now_ns(void);			/* CLOCK_MONOTONIC */
unsigned long wq_jiffies(void);			/* ticks since wq_init() */
unsigned long wq_ns_to_jiffies(uint64_t ns);
uint64_t wq_jiffies_to_ns(unsigned long j);
unsigned long msecs_to_jiffies(unsigned int ms);

/* ---- workqueues -------------------------------------------------------- */

/*
 * alloc_workqueue - create a workqueue named by fmt.  A per-CPU queue has
 * one pool_workqueue per online CPU, its workers bound to that CPU and
 * named "NAME/CPU" (cut to 15 characters); an unbound one has a single
 * pool whose workers are named "NAME/u" and float over the cpumask.
 * max_active bounds how many works run at once per pool: 0 means
 * WQ_DFL_ACTIVE, other values are clamped to 1..WQ_MAX_ACTIVE.
 *
 * An idle queue holds no thread: a pool starts its first worker when its
 * first work is queued, more on demand up to max_active, and a worker
 * that stays idle for the idle timeout (wq_set_worker_idle_timeout_ms())
 * exits.  If no worker can be started for a queued work (out of threads),
 * queueing still succeeds: the work stays pending, a warning is logged,
 * and the pool tries again on its next queued work and whenever any
 * worker goes idle or exits.
 *
 * Returns NULL with errno set on failure: EAGAIN before wq_init().
 */
struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags,
					 int max_active, ...)
	__attribute__((format(printf, 1, 4)));

#define alloc_ordered_workqueue(fmt, flags, ...) \
	alloc_workqueue(fmt, WQ_UNBOUND | __WQ_ORDERED | (flags), 1, ##__VA_ARGS__)
#define create_workqueue(name) \
	alloc_workqueue("%s", WQ_MEM_RECLAIM, 1, (name))
#define create_singlethread_workqueue(name) \
	alloc_ordered_workqueue("%s", WQ_MEM_RECLAIM, (name))

/*
 * destroy_workqueue - refuse new work (-ESHUTDOWN from wq_queue_*), wait
 * for queued and running work to finish, then free the queue.  If delayed
 * works not yet due are armed on it, nothing is changed and -ENOTEMPTY is
 * returned: the kernel would lose them, we report them.  Must not be
 * called from a work running on wq (-EDEADLK).  Returns 0 or -errno.
 */
int destroy_workqueue(struct workqueue_struct *wq);

/*
 * The three steps of destroy_workqueue(), for a caller that must not
 * block (a filesystem answering rmdir, interruptibly):
 * wq_shutdown() checks for delayed works (-ENOTEMPTY) and then refuses new
 * work; wq_flush_workqueue_async() waits; wq_unshutdown() takes the queue
 * back into service if the wait is abandoned; wq_free() frees a queue that
 * is shut down and idle (no works queued, running or delayed).
 */
int wq_shutdown(struct workqueue_struct *wq);
void wq_unshutdown(struct workqueue_struct *wq);
void wq_free(struct workqueue_struct *wq);

/* ---- works --------------------------------------------------------------- */

void init_work(struct work_struct *work, work_func_t func);
void init_delayed_work(struct delayed_work *dwork, work_func_t func);

#define __WORK_INITIALIZER(n, f)	{ .func = (f) }
#define __DELAYED_WORK_INITIALIZER(n, f) \
	{ .work = { .func = (f), .cpu = WORK_CPU_UNBOUND } }
#define DECLARE_WORK(n, f) \
	struct work_struct n = __WORK_INITIALIZER(n, f)
#define DECLARE_DELAYED_WORK(n, f) \
	struct delayed_work n = __DELAYED_WORK_INITIALIZER(n, f)
#define INIT_WORK(w, f)			init_work((w), (f))
#define INIT_DELAYED_WORK(dw, f)	init_delayed_work((dw), (f))
#define to_delayed_work(w)	container_of((w), struct delayed_work, work)

bool work_pending(const struct work_struct *work);
bool delayed_work_pending(const struct delayed_work *dwork);
unsigned int work_busy(const struct work_struct *work);

/*
 * wq_set_result - called by a func before it returns: result 0 is success,
 * anything else is counted as failed and reported in WQ_EVENT_FINISHED;
 * cpu_ns adds CPU time spent outside the worker thread (a child process)
 * to the queue's CPUtime.  No effect outside a worker.
 */
void wq_set_result(int result, uint64_t cpu_ns);

/* The work the calling thread is running as a worker, or NULL. */
struct work_struct *current_work(void);
/* The workqueue of current_work(), or NULL. */
struct workqueue_struct *wq_current_workqueue(void);

/* ---- queueing: kernel API --------------------------------------------- */

/*
 * queue_work_on - queue work on wq, to run on cpu.  Returns false if the
 * work was already pending (nothing changes), true if it was queued.  A
 * work that is running may be queued again and runs again after; it never
 * runs twice at once on one queue (a re-queue goes to the pool where it
 * runs).  queue_work() uses the caller's CPU (sched_getcpu()); on an
 * unbound queue cpu is ignored.
 */
bool queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *work);
bool queue_work(struct workqueue_struct *wq, struct work_struct *work);
bool queue_delayed_work_on(int cpu, struct workqueue_struct *wq,
			   struct delayed_work *dwork, unsigned long delay);
bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
			unsigned long delay);
/* mod_delayed_work - (re)arm dwork to run delay jiffies from now, pending
 * or not.  Returns true if it was pending (and so was modified). */
bool mod_delayed_work_on(int cpu, struct workqueue_struct *wq,
			 struct delayed_work *dwork, unsigned long delay);
bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
		      unsigned long delay);

bool schedule_work(struct work_struct *work);
bool schedule_delayed_work(struct delayed_work *dwork, unsigned long delay);
void flush_scheduled_work(void);

/* ---- queueing: with the reason, and nanosecond delays ------------------ */

/*
 * 0 on success, or:
 *   -EALREADY	already pending (the kernel's false)
 *   -ESHUTDOWN	wq is being destroyed
 *   -ECANCELED	a cancel_*_sync of this work is in progress
 *   -EINVAL	cpu is not a possible CPU of a per-CPU queue
 */
int wq_queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *work);
int wq_queue_delayed_work_ns(int cpu, struct workqueue_struct *wq,
			     struct delayed_work *dwork, uint64_t delay_ns);
/* 1 if dwork was pending and was modified, 0 if it was idle and is now
 * armed, or a negative errno as above (never -EALREADY). */
int wq_mod_delayed_work_ns(int cpu, struct workqueue_struct *wq,
			   struct delayed_work *dwork, uint64_t delay_ns);

/* ---- cancel and flush: kernel API --------------------------------------- */

/* Return true if the work was pending.  The _sync ones return only when no
 * instance is running, and keep the work from being queued meanwhile (a
 * running work that re-queues itself is stopped).  cancel_delayed_work()
 * does not wait. */
bool cancel_work_sync(struct work_struct *work);
bool cancel_delayed_work(struct delayed_work *dwork);
bool cancel_delayed_work_sync(struct delayed_work *dwork);

/* flush_work - wait until the last queued instance of work has finished.
 * Returns false if it was idle.  flush_delayed_work() first queues a
 * pending delayed work at once. */
bool flush_work(struct work_struct *work);
bool flush_delayed_work(struct delayed_work *dwork);

/* flush_workqueue - wait for every work queued on wq before the call (not
 * delayed works whose timer has not fired, not works queued after).
 * Returns 0, or -EDEADLK when called from a work running on wq. */
int flush_workqueue(struct workqueue_struct *wq);

/* drain_workqueue - flush until empty, refusing new work from outside the
 * queue's own works meanwhile. */
int drain_workqueue(struct workqueue_struct *wq);

/* ---- cancel and flush: asynchronous -------------------------------------- */

/*
 * A barrier is a wait that ends with a callback instead of blocking a
 * thread, so a filesystem can answer a request later from the engine's
 * thread.  The caller owns the struct and keeps it alive until fn has been
 * called or wq_barrier_abort() returned true.  fn runs once, on the thread
 * that ended the wait (a worker, the timer, or the caller itself), with no
 * engine lock held; result is the value the sync call would have returned
 * (1 = true, 0 = false) or a negative errno.
 */
struct wq_barrier;
typedef void (*wq_barrier_fn)(struct wq_barrier *barrier, int result, void *data);

struct wq_barrier {
	wq_barrier_fn fn;
	void *data;

	/* private: guarded by the engine lock */
	struct wq_node node;		/* on *list while waiting */
	struct wq_node **list;		/* wq->flushers, work->waiters or
					 * worker->waiters; NULL once ended */
	int kind;			/* flush queue, flush work, cancel */
	int result;			/* passed to fn */
	uint64_t target;		/* flush queue: last sequence waited for */
	struct worker *worker;		/* cancel: whose run it waits for */
};

/*
 * Each returns 0 when fn has been or will be called, or 1 or a negative
 * errno when the answer is known at once and fn is not called (-EDEADLK
 * from a work waiting on itself or its own queue).  An immediate result
 * of 0 (flushing an idle queue, cancelling an idle work) is delivered by
 * calling fn on the caller's thread, after the engine lock is released,
 * before the function returns; so a caller must not hold a lock that fn
 * takes.
 */
int wq_flush_workqueue_async(struct workqueue_struct *wq, struct wq_barrier *b,
			     wq_barrier_fn fn, void *data);
int wq_flush_work_async(struct work_struct *work, struct wq_barrier *b,
			wq_barrier_fn fn, void *data);
int wq_flush_delayed_work_async(struct delayed_work *dwork, struct wq_barrier *b,
				wq_barrier_fn fn, void *data);
int wq_cancel_work_async(struct work_struct *work, struct wq_barrier *b,
			 wq_barrier_fn fn, void *data);
int wq_cancel_delayed_work_async(struct delayed_work *dwork, struct wq_barrier *b,
				 wq_barrier_fn fn, void *data);

/*
 * wq_barrier_abort - withdraw a barrier whose fn has not been called (an
 * interrupted waiter).  Returns true if withdrawn: fn will never be called
 * and the caller may free b; an aborted cancel lets the work be queued
 * again (whatever it had grabbed stays cancelled).  Returns false if fn
 * has been or is being called.
 */
bool wq_barrier_abort(struct wq_barrier *b);

/* ---- attributes ------------------------------------------------------------ */

/* Clamps to 1..WQ_MAX_ACTIVE, as the kernel does. */
void workqueue_set_max_active(struct workqueue_struct *wq, int max_active);
int wq_max_active(const struct workqueue_struct *wq);

struct workqueue_attrs {
	int nice;			/* -20..19, applied to every worker */
	cpu_set_t cpumask;		/* CPUs the workers may run on */
};

/* apply_workqueue_attrs - -EINVAL for a nice outside -20..19 or a mask
 * with no online CPU.  On a per-CPU queue a work bound to a CPU outside
 * the mask runs on the lowest CPU of the mask. */
int apply_workqueue_attrs(struct workqueue_struct *wq,
			  const struct workqueue_attrs *attrs);
void wq_get_attrs(const struct workqueue_struct *wq, struct workqueue_attrs *attrs);

/* wq_set_unbound - switch between per-CPU and unbound.  -EBUSY unless the
 * queue is idle (nothing pending, delayed or running).  The new pools
 * start without workers, as a new queue's do; the old workers exit. */
int wq_set_unbound(struct workqueue_struct *wq, bool unbound);

/* Freezing: a frozen queue starts no new work until thawed; running works
 * finish.  The kernel's global pair acts on WQ_FREEZABLE queues. */
void wq_freeze(struct workqueue_struct *wq, bool frozen);
bool wq_frozen(const struct workqueue_struct *wq);
void freeze_workqueues_begin(void);
void thaw_workqueues(void);

/* ---- introspection ------------------------------------------------------ */

const char *wq_name(const struct workqueue_struct *wq);
unsigned int wq_flags(const struct workqueue_struct *wq);

struct wq_stats {
	unsigned int workers;		/* threads alive (0 when idle long
					 * enough: see alloc_workqueue()) */
	unsigned int pending;		/* queued, not started */
	unsigned int delayed;		/* timer armed, not yet due */
	unsigned int running;		/* started, not finished */
	uint64_t started;		/* works started, ever */
	uint64_t completed;		/* works finished, ever */
	uint64_t failed;		/* finished with result != 0 */
	uint64_t cancelled;		/* pending instances cancelled */
	uint64_t cpu_ns;		/* worker thread CPU + work->cpu_ns */
};
void wq_get_stats(const struct workqueue_struct *wq, struct wq_stats *stats);
/* Add to wq's counters (started, completed, failed, cancelled, cpu_ns)
 * what an earlier life of the queue counted: a restart's. */
void wq_stats_restore(struct workqueue_struct *wq, const struct wq_stats *before);

/* ---- observer ------------------------------------------------------------ */

enum wq_event_type {
	WQ_EVENT_QUEUED,		/* put on a worklist */
	WQ_EVENT_DELAYED,		/* timer armed (or re-armed) */
	WQ_EVENT_STARTED,		/* a worker called func */
	WQ_EVENT_FINISHED,		/* func returned */
	WQ_EVENT_CANCELLED,		/* a pending instance was cancelled */
};

struct wq_event {
	enum wq_event_type type;
	uint64_t time_ns;		/* CLOCK_MONOTONIC */
	struct workqueue_struct *wq;
	struct work_struct *work;
	pid_t tid;			/* thread that caused the event */
	int cpu;			/* CPU it was on */
	const char *comm;		/* that thread's name ("NAME/CPU") */
	int result;			/* FINISHED: from wq_set_result() */
	uint64_t due_ns;		/* DELAYED: absolute deadline */
	const char *name;		/* the namer's name for work, or "" */
};

/*
 * The observer is told of every event of every queue, on the thread where
 * it happened, without the engine lock held; events of one work arrive in
 * order.  It must not block and must not call back into the engine.  One
 * observer at a time; NULL removes it.
 */
typedef void (*wq_observer_fn)(const struct wq_event *event, void *data);
void wq_set_observer(wq_observer_fn fn, void *data);

/*
 * The namer names the work of an event (wq_event.name) as the event is
 * made, under the engine lock, when the work is certainly there: the
 * observer is told later, when it can be gone.  A run's events (STARTED,
 * FINISHED, a cancel of the run) carry the name it had at its start,
 * since the kernel's func may free its own work.  func is work->func;
 * the namer copies at most len bytes, its NUL included, into name, or
 * leaves it empty.  It must not block for long nor call the engine.
 * NULL: none.
 */
#define WQ_EVENT_NAME_MAX	72
typedef void (*wq_namer_fn)(struct work_struct *work, work_func_t func, char *name,
			    size_t len);
void wq_set_namer(wq_namer_fn fn);

#endif /* WQ_WORKQUEUE_H */
