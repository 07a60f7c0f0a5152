// SPDX-License-Identifier: MIT
/*
 * workqueue.c - workqueues, pool_workqueues, workers, barriers, observer.
 *
 * Locking: every shared field below is guarded by the one engine lock,
 * wq_lock (internal.h), unless its comment says otherwise.  Funcs,
 * observer and barrier callbacks run with it released.  Lock order:
 * event_deliver_lock -> wq_lock; the timer thread is joined only with
 * wq_lock released.
 *
 * Life of a worker: an idle pool has no thread.  pwq_kick() creates a
 * worker when a work may start and no idle worker is there, up to
 * max_active.  A worker idle for idle_timeout_ns leaves: under wq_lock,
 * off the idle list (so pwq_kick() cannot pick it) and after finding no
 * work it may start, it unlinks and frees itself, and its detached thread
 * returns without touching engine state again.  pwqs_free() stops the
 * workers of a pool and waits on worker_exited until none is left.
 *
 * Life of a work instance:
 *   idle --queue--> pending on a worklist (PENDING, work->pwq, on
 *   wq->inflight) --worker takes it--> running (in busy_hash, the worker's
 *   inflight node replaces the work's in place) --func returns--> idle.
 *   A delayed work is first armed in the timer heap (PENDING|TIMER, not on
 *   wq->inflight); the timer moves it to a worklist.
 * Once func has been called the engine never dereferences the work for
 * that run: the running instance is known by address only.
 *
 * Events are pushed under wq_lock onto one FIFO and delivered by the
 * thread that pushed them, after it dropped wq_lock and before it goes
 * on, under event_deliver_lock: so events of one work reach the observer
 * in the order the engine state changed, and a FINISHED event is
 * delivered while the work still counts as running.
 */
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

enum barrier_kind {
	BARRIER_FLUSH_WQ,	/* flush_workqueue: waits for a sequence */
	BARRIER_FLUSH_WORK,	/* flush_work: waits for one instance */
	BARRIER_CANCEL,		/* cancel_*_sync: waits for the running one */
};

/*
 * A worker lives while it is on pwq->workers: it unlinks and frees itself
 * under wq_lock just before its detached thread returns, so its thread
 * handle may be used, under wq_lock, only while it is on that list.
 */
struct worker {
	struct pool_workqueue *pwq;	/* immutable */
	pthread_t thread;		/* immutable once created */
	pid_t tid;			/* wq_lock; 0 until the thread runs */
	char name[16];			/* immutable: "NAME/CPU" or "NAME/u" */
	struct wq_node node;		/* wq_lock: on pwq->workers */
	struct wq_node idle_node;	/* wq_lock: on pwq->idle while idle */
	bool idle;			/* wq_lock: on pwq->idle, waiting to be
					 * woken; never set on a worker that
					 * decided to exit */
	bool stop;			/* wq_lock: exit the loop */
	bool active;			/* wq_lock: holds a max_active slot */
	pthread_cond_t wake;		/* CLOCK_MONOTONIC; signalled when idle
					 * clears, stop is set or the idle
					 * timeout changes */

	/* The running instance, all wq_lock: */
	struct work_struct *current_work; /* busy_hash key, never dereferenced */
	struct worker *busy_next;	/* next worker running the same work */
	struct wq_inflight inflight;	/* on wq->inflight while running */
	struct wq_node *waiters;	/* barriers ending when it finishes */
	unsigned int canceling;		/* cancel_*_sync waiting on this run */
	struct wq_node scheduled;	/* works handed over by other workers */

	/* Worker thread only: */
	int result;			/* from wq_set_result() */
	uint64_t extra_cpu_ns;		/* from wq_set_result() */
};

struct pool_workqueue {
	struct workqueue_struct *wq;	/* immutable */
	int cpu;			/* immutable: CPU, or WORK_CPU_UNBOUND */
	struct wq_node worklist;	/* wq_lock: pending works, FIFO */
	struct wq_node workers;		/* wq_lock: every worker */
	struct wq_node idle;		/* wq_lock: idle workers */
	unsigned int nr_workers;	/* wq_lock: on workers: live threads */
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

struct event_rec {
	struct wq_node node;		/* on event_fifo */
	uint64_t seq;
	struct wq_event ev;
	char comm[16];
};

pthread_mutex_t wq_lock = PTHREAD_MUTEX_INITIALIZER;
struct workqueue_struct *system_wq;

static unsigned int wq_hz_value = 250;	/* set by wq_init only */
static uint64_t wq_start_ns;		/* set by wq_init only */
static cpu_set_t online_mask;		/* set by wq_init only */
static int nr_cpu_ids;			/* set by wq_init only */

static struct wq_node all_workqueues = { &all_workqueues, &all_workqueues };
static GHashTable *busy_hash;		/* wq_lock: work -> worker chain */

#define WQ_DFL_IDLE_TIMEOUT_MS	5000U
/* wq_lock: how long a worker stays idle before it exits */
static uint64_t idle_timeout_ns = WQ_DFL_IDLE_TIMEOUT_MS * 1000000ULL;
/* Broadcast, under wq_lock, each time a worker leaves its pool. */
static pthread_cond_t worker_exited = PTHREAD_COND_INITIALIZER;
/* wq_lock: pools with a work they may start and no worker, because none
 * could be created; the idle path of every worker retries them. */
static struct wq_node starved_pools = { &starved_pools, &starved_pools };

static wq_observer_fn observer_fn;	/* atomic; written under wq_lock */
static void *observer_data;		/* wq_lock */
static struct wq_node event_fifo = { &event_fifo, &event_fifo }; /* wq_lock */
static uint64_t event_seq;		/* wq_lock: last pushed */
static uint64_t event_delivered;	/* wq_lock: last delivered */
static pthread_mutex_t event_deliver_lock = PTHREAD_MUTEX_INITIALIZER;

static __thread struct worker *current_worker;
static __thread uint64_t tls_event_seq;	/* last event this thread pushed */
static __thread struct wq_node *tls_fired; /* barriers to end after unlock */

/* ---- time ------------------------------------------------------------ */

uint64_t wq_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

unsigned int wq_hz(void)
{
	return wq_hz_value;
}

unsigned long wq_ns_to_jiffies(uint64_t ns)
{
	return (unsigned long)((unsigned __int128)ns * wq_hz_value / NSEC_PER_SEC);
}

uint64_t wq_jiffies_to_ns(unsigned long j)
{
	unsigned __int128 ns = (unsigned __int128)j * NSEC_PER_SEC / wq_hz_value;

	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

unsigned long wq_jiffies(void)
{
	return wq_ns_to_jiffies(wq_now_ns() - wq_start_ns);
}

/* Rounds up, as the kernel's does. */
unsigned long msecs_to_jiffies(unsigned int ms)
{
	return (unsigned long)(((uint64_t)ms * wq_hz_value + 999) / 1000);
}

static uint64_t deadline_after(uint64_t delay_ns)
{
	uint64_t now = wq_now_ns();

	return delay_ns > UINT64_MAX - now ? UINT64_MAX : now + delay_ns;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- observer events ------------------------------------------------- */

/* Queue an event for delivery after unlock; wq_lock held. */
static void event_push(enum wq_event_type type, struct workqueue_struct *wq,
		       struct work_struct *work, int result, uint64_t due_ns)
{
	struct event_rec *rec;

	if (!__atomic_load_n(&observer_fn, __ATOMIC_RELAXED))
		return;
	rec = g_new0(struct event_rec, 1);
	rec->seq = ++event_seq;
	rec->ev = (struct wq_event){
		.type = type, .time_ns = wq_now_ns(), .wq = wq, .work = work,
		.tid = gettid(), .cpu = sched_getcpu(), .comm = rec->comm,
		.result = result, .due_ns = due_ns,
	};
	if (current_worker)
		memcpy(rec->comm, current_worker->name, sizeof(rec->comm));
	else if (prctl(PR_GET_NAME, rec->comm, 0UL, 0UL, 0UL))
		strcpy(rec->comm, "-");
	list_add_tail(&rec->node, &event_fifo);
	tls_event_seq = rec->seq;
}

/* Deliver events in FIFO order until this thread's own are out. */
static void events_deliver(void)
{
	uint64_t mine = tls_event_seq;

	tls_event_seq = 0;
	pthread_mutex_lock(&event_deliver_lock);
	pthread_mutex_lock(&wq_lock);
	while (event_delivered < mine && !list_empty(&event_fifo)) {
		struct event_rec *rec = container_of(event_fifo.next,
						     struct event_rec, node);
		wq_observer_fn fn = observer_fn;
		void *data = observer_data;

		list_del(&rec->node);
		event_delivered = rec->seq;
		pthread_mutex_unlock(&wq_lock);
		if (fn)
			fn(&rec->ev, data);
		g_free(rec);
		pthread_mutex_lock(&wq_lock);
	}
	pthread_mutex_unlock(&wq_lock);
	pthread_mutex_unlock(&event_deliver_lock);
}

void wq_set_observer(wq_observer_fn fn, void *data)
{
	pthread_mutex_lock(&wq_lock);
	__atomic_store_n(&observer_fn, fn, __ATOMIC_RELAXED);
	observer_data = data;
	pthread_mutex_unlock(&wq_lock);
	/* Wait for a callback of the old observer still running. */
	pthread_mutex_lock(&event_deliver_lock);
	pthread_mutex_unlock(&event_deliver_lock);
}

/* ---- barriers -------------------------------------------------------- */

static void barrier_wait_on(struct wq_barrier *b, struct wq_node **list)
{
	hlist_add(list, &b->node);
	b->list = list;
}

/* End b's wait: its fn runs after wq_unlock(); wq_lock held. */
static void barrier_fire(struct wq_barrier *b, int result)
{
	if (b->list)
		hlist_del(b->list, &b->node);
	b->list = NULL;
	b->result = result;
	hlist_add(&tls_fired, &b->node);
}

static void barriers_fire_all(struct wq_node **list, int result)
{
	while (*list) {
		struct wq_barrier *b = container_of(*list, struct wq_barrier, node);

		barrier_fire(b, b->kind == BARRIER_CANCEL ? b->result : result);
	}
}

static void barriers_complete(struct wq_node *fired)
{
	while (fired) {
		struct wq_barrier *b = container_of(fired, struct wq_barrier, node);

		fired = fired->next;	/* b may be freed by its fn */
		b->fn(b, b->result, b->data);
	}
}

void wq_unlock(void)
{
	struct wq_node *fired = tls_fired;
	bool events = tls_event_seq != 0;

	tls_fired = NULL;
	pthread_mutex_unlock(&wq_lock);
	if (events)
		events_deliver();
	barriers_complete(fired);
}

static void barrier_init(struct wq_barrier *b, enum barrier_kind kind,
			 wq_barrier_fn fn, void *data)
{
	b->fn = fn;
	b->data = data;
	b->node.prev = b->node.next = NULL;
	b->list = NULL;
	b->kind = kind;
	b->result = 0;
	b->target = 0;
	b->worker = NULL;
}

/*
 * Finish an async call; wq_lock held.  A result of 0 cannot be told apart
 * from "fn later", so fn is called with it on this thread (after unlock).
 */
static int barrier_return(struct wq_barrier *b, int ret, bool waiting)
{
	if (!waiting && ret == 0)
		barrier_fire(b, 0);
	wq_unlock();
	return waiting ? 0 : ret;
}

bool wq_barrier_abort(struct wq_barrier *b)
{
	bool withdrawn = false;

	pthread_mutex_lock(&wq_lock);
	if (b->list) {
		hlist_del(b->list, &b->node);
		b->list = NULL;
		if (b->kind == BARRIER_CANCEL)
			b->worker->canceling--;
		withdrawn = true;
	}
	pthread_mutex_unlock(&wq_lock);
	return withdrawn;
}

/* Sync calls wait for their barrier on the stack. */
struct sync_wait {
	struct wq_barrier barrier;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;		/* lock */
	int result;		/* lock */
};

static void sync_wait_fn(struct wq_barrier *b, int result, void *data)
{
	struct sync_wait *s = data;

	pthread_mutex_lock(&s->lock);
	s->result = result;
	s->done = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void sync_wait_init(struct sync_wait *s)
{
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->done = false;
	s->result = 0;
}

/* ret is what the async call returned. */
static int sync_wait_end(struct sync_wait *s, int ret)
{
	pthread_mutex_lock(&s->lock);
	if (ret == 0) {
		while (!s->done)
			pthread_cond_wait(&s->cond, &s->lock);
		ret = s->result;
	}
	pthread_mutex_unlock(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	return ret;
}

/* ---- busy table -------------------------------------------------------- */

static struct worker *busy_first(const struct work_struct *work)
{
	return g_hash_table_lookup(busy_hash, work);
}

/* The worker of wq running work, or NULL; wq NULL: any queue. */
static struct worker *find_worker_executing_work(struct workqueue_struct *wq,
						 const struct work_struct *work)
{
	struct worker *worker;

	for (worker = busy_first(work); worker; worker = worker->busy_next)
		if (!wq || worker->pwq->wq == wq)
			return worker;
	return NULL;
}

static void busy_insert(struct worker *worker, struct work_struct *work)
{
	worker->current_work = work;
	worker->busy_next = busy_first(work);
	g_hash_table_insert(busy_hash, work, worker);
}

static void busy_remove(struct worker *worker)
{
	struct work_struct *work = worker->current_work;
	struct worker *first = busy_first(work), **link = &first;

	while (*link != worker)
		link = &(*link)->busy_next;
	*link = worker->busy_next;
	if (first)
		g_hash_table_insert(busy_hash, work, first);
	else
		g_hash_table_remove(busy_hash, work);
	worker->current_work = NULL;
	worker->busy_next = NULL;
}

static bool work_canceling(const struct work_struct *work)
{
	struct worker *worker;

	for (worker = busy_first(work); worker; worker = worker->busy_next)
		if (worker->canceling)
			return true;
	return false;
}

/* ---- flush bookkeeping ------------------------------------------------- */

static uint64_t inflight_first_seq(const struct workqueue_struct *wq)
{
	if (list_empty(&wq->inflight))
		return UINT64_MAX;
	return container_of(wq->inflight.next, struct wq_inflight, node)->seq;
}

/* End flush_workqueue barriers whose works have all finished. */
static void flushers_check(struct workqueue_struct *wq)
{
	uint64_t first = inflight_first_seq(wq);
	struct wq_node *node = wq->flushers;

	while (node) {
		struct wq_barrier *b = container_of(node, struct wq_barrier, node);

		node = node->next;
		if (b->target < first)
			barrier_fire(b, 0);
	}
}

static void inflight_remove(struct workqueue_struct *wq, struct wq_inflight *inflight)
{
	bool was_first = wq->inflight.next == &inflight->node;

	list_del(&inflight->node);
	if (was_first)
		flushers_check(wq);
}

/* ---- workers -------------------------------------------------------------- */

static bool wq_unbound(const struct workqueue_struct *wq)
{
	return wq->flags & WQ_UNBOUND;
}

/* The CPUs a work may run on: the queue's mask among online CPUs. */
static void wq_effective_mask(const struct workqueue_struct *wq, cpu_set_t *mask)
{
	CPU_AND(mask, &wq->attrs.cpumask, &online_mask);
}

/* Apply nice and affinity to worker; wq_lock held. */
static void worker_apply_attrs(struct worker *worker)
{
	struct pool_workqueue *pwq = worker->pwq;
	cpu_set_t mask;

	if (!worker->tid)
		return;		/* the thread applies them when it starts */
	if (pwq->cpu == WORK_CPU_UNBOUND) {
		wq_effective_mask(pwq->wq, &mask);
	} else {
		CPU_ZERO(&mask);
		CPU_SET(pwq->cpu, &mask);
	}
	pthread_setaffinity_np(worker->thread, sizeof(mask), &mask);
	/* Raising priority needs CAP_SYS_NICE: best effort. */
	setpriority(PRIO_PROCESS, (id_t)worker->tid, pwq->wq->attrs.nice);
}

static bool pwq_may_start(const struct pool_workqueue *pwq)
{
	return !pwq->wq->frozen && !list_empty(&pwq->worklist) &&
	       pwq->nr_active < (unsigned int)pwq->wq->max_active;
}

static void *worker_thread(void *arg);

/*
 * Workers run short C functions or wait for a child process; 512 KiB of
 * stack is plenty and keeps the reserved stacks small when many queues
 * are busy at once.
 */
#define WORKER_STACK_SIZE	(512 * 1024)

static int worker_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int err;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	err = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return err;
}

static int worker_thread_create(struct worker *worker)
{
	pthread_attr_t attr;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
	/* Nobody joins a worker: pwqs_free() waits for nr_workers == 0. */
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&worker->thread, &attr, worker_thread, worker);
	pthread_attr_destroy(&attr);
	return err;
}

/* Start one more worker for pwq; wq_lock held.  Returns 0 or -errno. */
static int worker_create(struct pool_workqueue *pwq)
{
	struct worker *worker = g_new0(struct worker, 1);
	int err;

	worker->pwq = pwq;
	if (pwq->cpu == WORK_CPU_UNBOUND)
		snprintf(worker->name, sizeof(worker->name), "%s/u", pwq->wq->name);
	else
		snprintf(worker->name, sizeof(worker->name), "%s/%d",
			 pwq->wq->name, pwq->cpu);
	list_init(&worker->scheduled);
	err = worker_cond_init(&worker->wake);
	if (err) {
		g_free(worker);
		return -err;
	}
	err = worker_thread_create(worker);
	if (err) {
		pthread_cond_destroy(&worker->wake);
		g_free(worker);
		return -err;
	}
	/* The thread needs wq_lock to exit, so it is still alive here. */
	pthread_setname_np(worker->thread, worker->name);
	list_add_tail(&worker->node, &pwq->workers);
	pwq->nr_workers++;
	return 0;
}

/* pwq has a work it may start and no worker could be created for it. */
static void pwq_starve(struct pool_workqueue *pwq, int err)
{
	if (pwq->starved_node.next)
		return;		/* logged when it first starved */
	g_warning("wq %s: no worker can be started (%s); the work waits",
		  pwq->wq->name, g_strerror(err));
	list_add_tail(&pwq->starved_node, &starved_pools);
}

static void pwq_unstarve(struct pool_workqueue *pwq)
{
	if (pwq->starved_node.next)
		list_del(&pwq->starved_node);
}

/*
 * Get a worker going if pwq has work it may start: wake an idle one, or
 * create one while fewer than max_active exist.  A worker that takes a
 * work kicks again, so one kick per queued work is enough.  An idle
 * worker is on pwq->idle and no exiting worker is, so the one woken here
 * runs the work.
 */
static void pwq_kick(struct pool_workqueue *pwq)
{
	int err;

	if (!pwq_may_start(pwq))
		return;
	if (!list_empty(&pwq->idle)) {
		struct worker *worker = container_of(pwq->idle.next,
						     struct worker, idle_node);

		list_del(&worker->idle_node);
		worker->idle = false;
		pthread_cond_signal(&worker->wake);
		return;
	}
	if (pwq->nr_workers >= (unsigned int)pwq->wq->max_active)
		return;
	/* On failure the work waits for a worker that exists, or, if there
	 * is none, for the next kick or the idle path of any worker. */
	err = worker_create(pwq);
	if (!err)
		pwq_unstarve(pwq);
	else if (!pwq->nr_workers)
		pwq_starve(pwq, -err);
}

/*
 * Give pools starved of workers another try; wq_lock held.  Called on the
 * idle path, when a worker goes idle or exits; stops at the first failure
 * (threads are still short) and leaves that pool first in line.
 */
static void starved_pools_retry(void)
{
	while (!list_empty(&starved_pools)) {
		struct pool_workqueue *pwq = container_of(starved_pools.next,
							  struct pool_workqueue,
							  starved_node);

		if (pwq_may_start(pwq) && !pwq->nr_workers &&
		    worker_create(pwq))
			return;
		pwq_unstarve(pwq);
	}
}

static void wq_kick_all(struct workqueue_struct *wq)
{
	for (unsigned int i = 0; i < wq->nr_pwqs; i++)
		if (wq->pwqs[i])
			pwq_kick(wq->pwqs[i]);
}

/*
 * Wait on worker->wake, at most until since + idle_timeout_ns; wq_lock
 * held.  Returns true, without waiting, once that time has passed; the
 * timeout is read again after every wake-up, so a new one takes effect.
 */
static bool worker_idle_wait(struct worker *worker, uint64_t since)
{
	uint64_t deadline = since + idle_timeout_ns;
	struct timespec ts;

	if (wq_now_ns() >= deadline)
		return true;
	ts.tv_sec = (time_t)(deadline / NSEC_PER_SEC);
	ts.tv_nsec = (long)(deadline % NSEC_PER_SEC);
	pthread_cond_timedwait(&worker->wake, &wq_lock, &ts);
	return false;
}

/*
 * Sleep on pwq->idle until pwq_kick() wakes the worker, it is stopped, or
 * the idle timeout passes; wq_lock held.  Returns true in the last case:
 * the worker is then off the idle list, so no kick can pick it, and the
 * caller, without releasing wq_lock, looks for work once more before it
 * exits.
 */
static bool worker_sleep(struct worker *worker)
{
	uint64_t since = wq_now_ns();
	bool expired = false;

	starved_pools_retry();
	worker->idle = true;
	list_add_tail(&worker->idle_node, &worker->pwq->idle);
	while (worker->idle && !worker->stop && !expired)
		expired = worker_idle_wait(worker, since);
	if (!worker->idle)
		return false;	/* woken by pwq_kick(): there is work */
	list_del(&worker->idle_node);
	worker->idle = false;
	return expired;
}

/*
 * The worker leaves its pool and is freed; wq_lock held.  Its thread
 * returns right after releasing wq_lock and touches nothing shared.
 */
static void worker_exit(struct worker *worker)
{
	struct pool_workqueue *pwq = worker->pwq;

	list_del(&worker->node);
	pwq->nr_workers--;
	pthread_cond_broadcast(&worker_exited);
	pthread_cond_destroy(&worker->wake);
	g_free(worker);
	current_worker = NULL;
	starved_pools_retry();
}

/*
 * The next work this worker runs, or NULL; wq_lock held.  A work that
 * another worker of the queue is running is handed to that worker, so it
 * never runs twice at once on one queue.
 */
static struct work_struct *worker_next_work(struct worker *worker)
{
	struct pool_workqueue *pwq = worker->pwq;
	struct work_struct *work;
	struct worker *owner;

	if (pwq->wq->frozen)
		return NULL;
	if (!list_empty(&worker->scheduled)) {
		work = container_of(worker->scheduled.next, struct work_struct, entry);
		list_del(&work->entry);
		return work;	/* worker->active already */
	}
	while (pwq_may_start(pwq)) {
		work = container_of(pwq->worklist.next, struct work_struct, entry);
		list_del(&work->entry);
		owner = find_worker_executing_work(pwq->wq, work);
		if (owner) {
			list_add_tail(&work->entry, &owner->scheduled);
			continue;
		}
		pwq->nr_active++;
		worker->active = true;
		return work;
	}
	return NULL;
}

/* Give back the slot, unless handed-over works wait and may run. */
static void worker_release_slot(struct worker *worker)
{
	struct pool_workqueue *pwq = worker->pwq;

	if (!list_empty(&worker->scheduled) && !pwq->wq->frozen)
		return;
	while (!list_empty(&worker->scheduled)) {
		struct wq_node *node = worker->scheduled.prev;

		list_del(node);
		list_add_head(node, &pwq->worklist);
	}
	pwq->nr_active--;
	worker->active = false;
	pwq_kick(pwq);
}

/* The pending instance becomes the running one; wq_lock held. */
static void worker_take(struct worker *worker, struct work_struct *work)
{
	struct workqueue_struct *wq = worker->pwq->wq;

	work->flags &= ~WORK_STRUCT_PENDING;
	work->pwq = NULL;
	worker->inflight.seq = work->inflight.seq;
	list_replace(&work->inflight.node, &worker->inflight.node);
	while (work->waiters) {
		struct wq_node *node = work->waiters;

		hlist_del(&work->waiters, node);
		barrier_wait_on(container_of(node, struct wq_barrier, node),
				&worker->waiters);
	}
	busy_insert(worker, work);
	wq->nr_pending--;
	wq->nr_running++;
	wq->counters.started++;
	worker->result = 0;
	worker->extra_cpu_ns = 0;
	event_push(WQ_EVENT_STARTED, wq, work, 0, 0);
}

/* The running instance has finished; wq_lock held. */
static void worker_done(struct worker *worker, uint64_t cpu_ns)
{
	struct workqueue_struct *wq = worker->pwq->wq;

	busy_remove(worker);
	worker->canceling = 0;
	barriers_fire_all(&worker->waiters, 1);
	inflight_remove(wq, &worker->inflight);
	wq->nr_running--;
	wq->counters.completed++;
	if (worker->result)
		wq->counters.failed++;
	wq->counters.cpu_ns += cpu_ns + worker->extra_cpu_ns;
}

/* Run one work; called and returns with wq_lock held. */
static void process_one_work(struct worker *worker, struct work_struct *work)
{
	struct workqueue_struct *wq = worker->pwq->wq;
	work_func_t func = work->func;
	uint64_t cpu_start;

	worker_take(worker, work);
	pwq_kick(worker->pwq);
	wq_unlock();

	cpu_start = thread_cpu_ns();
	func(work);	/* from here on, work may be gone */
	cpu_start = thread_cpu_ns() - cpu_start;

	if (__atomic_load_n(&observer_fn, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&wq_lock);
		event_push(WQ_EVENT_FINISHED, wq, work, worker->result, 0);
		wq_unlock();
	}

	pthread_mutex_lock(&wq_lock);
	worker_done(worker, cpu_start);
	wq_unlock();	/* barrier callbacks */
	pthread_mutex_lock(&wq_lock);
}

/*
 * A worker exits when stopped, or when it stayed idle for the idle
 * timeout and then, with wq_lock held all along since the timeout, found
 * no work it may start: a work queued meanwhile is run, not lost.
 */
static void *worker_thread(void *arg)
{
	struct worker *worker = arg;
	bool expired = false;

	current_worker = worker;

	pthread_mutex_lock(&wq_lock);
	worker->tid = gettid();
	worker_apply_attrs(worker);
	while (!worker->stop) {
		struct work_struct *work = worker_next_work(worker);

		if (!work) {
			if (expired)
				break;
			expired = worker_sleep(worker);
			continue;
		}
		expired = false;
		process_one_work(worker, work);
		worker_release_slot(worker);
	}
	worker_exit(worker);
	pthread_mutex_unlock(&wq_lock);
	return NULL;
}

/* ---- pool_workqueues ---------------------------------------------------- */

/*
 * A pool starts with no worker: the first is created by pwq_kick() when
 * its first work is queued, more on demand up to max_active, and idle
 * ones exit after the idle timeout.  So an idle queue holds no thread.
 */
static struct pool_workqueue *pwq_alloc(struct workqueue_struct *wq, int cpu)
{
	struct pool_workqueue *pwq = g_new0(struct pool_workqueue, 1);

	pwq->wq = wq;
	pwq->cpu = cpu;
	list_init(&pwq->worklist);
	list_init(&pwq->workers);
	list_init(&pwq->idle);
	return pwq;
}

/* Allocate wq's pools, by its WQ_UNBOUND flag; wq_lock held. */
static void pwqs_alloc(struct workqueue_struct *wq)
{
	if (wq_unbound(wq)) {
		wq->nr_pwqs = 1;
		wq->pwqs = g_new0(struct pool_workqueue *, 1);
		wq->pwqs[0] = pwq_alloc(wq, WORK_CPU_UNBOUND);
		return;
	}
	wq->nr_pwqs = (unsigned int)nr_cpu_ids;
	wq->pwqs = g_new0(struct pool_workqueue *, wq->nr_pwqs);
	for (int cpu = 0; cpu < nr_cpu_ids; cpu++)
		if (CPU_ISSET(cpu, &online_mask))
			wq->pwqs[cpu] = pwq_alloc(wq, cpu);
}

/* Tell every worker of pwq to exit; wq_lock held. */
static void pwq_stop_workers(struct pool_workqueue *pwq)
{
	struct wq_node *node;

	for (node = pwq->workers.next; node != &pwq->workers; node = node->next) {
		struct worker *worker = container_of(node, struct worker, node);

		worker->stop = true;
		pthread_cond_signal(&worker->wake);
	}
}

/*
 * Stop the workers, wait until each has left, and free the pools; wq_lock
 * NOT held.  The pools are detached from their queue and idle, so nothing
 * creates a worker for them any more (they are off starved_pools too); a
 * worker still finishing its last run exits when it is done.
 */
static void pwqs_free(struct pool_workqueue **pwqs, unsigned int nr_pwqs)
{
	pthread_mutex_lock(&wq_lock);
	for (unsigned int i = 0; i < nr_pwqs; i++) {
		if (!pwqs[i])
			continue;
		pwq_unstarve(pwqs[i]);
		pwq_stop_workers(pwqs[i]);
		while (pwqs[i]->nr_workers)
			pthread_cond_wait(&worker_exited, &wq_lock);
	}
	pthread_mutex_unlock(&wq_lock);

	for (unsigned int i = 0; i < nr_pwqs; i++)
		g_free(pwqs[i]);
	g_free(pwqs);
}

/* ---- workqueues ------------------------------------------------------------ */

static int clamp_max_active(int max_active)
{
	if (max_active == 0)
		return WQ_DFL_ACTIVE;
	return CLAMP(max_active, 1, WQ_MAX_ACTIVE);
}

struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags,
					 int max_active, ...)
{
	struct workqueue_struct *wq;
	va_list ap;

	if (!nr_cpu_ids) {
		errno = EAGAIN;		/* wq_init() not called */
		return NULL;
	}
	wq = g_new0(struct workqueue_struct, 1);
	va_start(ap, max_active);
	wq->name = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (flags & __WQ_ORDERED) {
		flags |= WQ_UNBOUND;
		max_active = 1;
	}
	wq->flags = flags;
	wq->max_active = clamp_max_active(max_active);
	wq->attrs.nice = (flags & WQ_HIGHPRI) ? -20 : 0;
	wq->attrs.cpumask = online_mask;
	list_init(&wq->inflight);

	pthread_mutex_lock(&wq_lock);
	pwqs_alloc(wq);
	list_add_tail(&wq->node, &all_workqueues);
	pthread_mutex_unlock(&wq_lock);
	return wq;
}

static bool wq_busy(const struct workqueue_struct *wq)
{
	return wq->nr_pending || wq->nr_delayed || wq->nr_running ||
	       !list_empty(&wq->inflight);
}

static bool current_on(const struct workqueue_struct *wq)
{
	return current_worker && current_worker->pwq->wq == wq;
}

int wq_shutdown(struct workqueue_struct *wq)
{
	int ret = 0;

	pthread_mutex_lock(&wq_lock);
	if (wq->nr_delayed)
		ret = -ENOTEMPTY;
	else
		wq->dying = true;
	pthread_mutex_unlock(&wq_lock);
	return ret;
}

void wq_unshutdown(struct workqueue_struct *wq)
{
	pthread_mutex_lock(&wq_lock);
	wq->dying = false;
	pthread_mutex_unlock(&wq_lock);
}

void wq_free(struct workqueue_struct *wq)
{
	struct pool_workqueue **pwqs;
	unsigned int nr_pwqs;

	pthread_mutex_lock(&wq_lock);
	if (wq_busy(wq) || wq->flushers) {
		pthread_mutex_unlock(&wq_lock);
		g_critical("wq_free(%s): the queue is not idle", wq->name);
		return;
	}
	list_del(&wq->node);
	pwqs = wq->pwqs;
	nr_pwqs = wq->nr_pwqs;
	wq->pwqs = NULL;
	wq->nr_pwqs = 0;
	pthread_mutex_unlock(&wq_lock);

	pwqs_free(pwqs, nr_pwqs);
	g_free(wq->name);
	g_free(wq);
}

int destroy_workqueue(struct workqueue_struct *wq)
{
	int ret;

	if (current_on(wq))
		return -EDEADLK;
	ret = wq_shutdown(wq);
	if (ret)
		return ret;
	ret = flush_workqueue(wq);
	if (ret)
		return ret;
	wq_free(wq);
	return 0;
}

/* ---- works ------------------------------------------------------------------ */

void init_work(struct work_struct *work, work_func_t func)
{
	memset(work, 0, sizeof(*work));
	work->func = func;
}

void init_delayed_work(struct delayed_work *dwork, work_func_t func)
{
	memset(dwork, 0, sizeof(*dwork));
	dwork->work.func = func;
	dwork->cpu = WORK_CPU_UNBOUND;
}

bool work_pending(const struct work_struct *work)
{
	bool pending;

	pthread_mutex_lock(&wq_lock);
	pending = work->flags & WORK_STRUCT_PENDING;
	pthread_mutex_unlock(&wq_lock);
	return pending;
}

bool delayed_work_pending(const struct delayed_work *dwork)
{
	return work_pending(&dwork->work);
}

unsigned int work_busy(const struct work_struct *work)
{
	unsigned int busy = 0;

	pthread_mutex_lock(&wq_lock);
	if (work->flags & WORK_STRUCT_PENDING)
		busy |= WORK_BUSY_PENDING;
	if (busy_first(work))
		busy |= WORK_BUSY_RUNNING;
	pthread_mutex_unlock(&wq_lock);
	return busy;
}

void wq_set_result(int result, uint64_t cpu_ns)
{
	if (!current_worker)
		return;
	current_worker->result = result;
	current_worker->extra_cpu_ns += cpu_ns;
}

struct work_struct *current_work(void)
{
	struct work_struct *work;

	if (!current_worker)
		return NULL;
	pthread_mutex_lock(&wq_lock);
	work = current_worker->current_work;
	pthread_mutex_unlock(&wq_lock);
	return work;
}

struct workqueue_struct *wq_current_workqueue(void)
{
	return current_work() ? current_worker->pwq->wq : NULL;
}

/* ---- queueing --------------------------------------------------------------- */

static bool cpu_possible(int cpu)
{
	return cpu >= 0 && cpu < nr_cpu_ids && CPU_ISSET(cpu, &online_mask);
}

/* The CPU a per-CPU queue runs a work for cpu on; wq_lock held. */
static int wq_resolve_cpu(const struct workqueue_struct *wq, int cpu)
{
	cpu_set_t mask;

	if (cpu == WORK_CPU_UNBOUND)
		cpu = sched_getcpu();
	wq_effective_mask(wq, &mask);
	if (cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &mask))
		return cpu;
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		if (CPU_ISSET(cpu, &mask))
			break;
	return cpu;
}

/* Where a work for cpu goes: where it runs on wq, else by CPU. */
static struct pool_workqueue *select_pwq(struct workqueue_struct *wq, int cpu,
					 const struct work_struct *work)
{
	struct worker *owner = find_worker_executing_work(wq, work);

	if (owner)
		return owner->pwq;
	if (wq_unbound(wq))
		return wq->pwqs[0];
	return wq->pwqs[wq_resolve_cpu(wq, cpu)];
}

/* Put work on pwq's worklist as a new pending instance; wq_lock held. */
static void insert_work(struct pool_workqueue *pwq, struct work_struct *work)
{
	struct workqueue_struct *wq = pwq->wq;

	work->flags |= WORK_STRUCT_PENDING;
	work->pwq = pwq;
	list_add_tail(&work->entry, &pwq->worklist);
	work->inflight.seq = ++wq->seq;
	list_add_tail(&work->inflight.node, &wq->inflight);
	wq->nr_pending++;
	event_push(WQ_EVENT_QUEUED, wq, work, 0, 0);
	pwq_kick(pwq);
}

/* Why work may not be queued on wq now (but for EALREADY); wq_lock held. */
static int queue_check(int cpu, struct workqueue_struct *wq,
		       const struct work_struct *work)
{
	if (!wq_unbound(wq) && cpu != WORK_CPU_UNBOUND && !cpu_possible(cpu))
		return -EINVAL;
	if (wq->dying || (wq->draining && !current_on(wq)))
		return -ESHUTDOWN;
	if (work_canceling(work))
		return -ECANCELED;
	return 0;
}

int wq_queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *work)
{
	int ret;

	pthread_mutex_lock(&wq_lock);
	ret = queue_check(cpu, wq, work);
	if (!ret && (work->flags & WORK_STRUCT_PENDING))
		ret = -EALREADY;
	if (!ret)
		insert_work(select_pwq(wq, cpu, work), work);
	wq_unlock();
	return ret;
}

void wq_delayed_work_timer_fn(struct delayed_work *dwork)
{
	struct workqueue_struct *wq = dwork->wq;

	dwork->work.flags &= ~WORK_STRUCT_TIMER;
	wq->nr_delayed--;
	insert_work(select_pwq(wq, dwork->cpu, &dwork->work), &dwork->work);
}

/* Arm dwork's timer, or queue it now for delay 0; wq_lock held. */
static int delayed_work_arm(int cpu, struct workqueue_struct *wq,
			    struct delayed_work *dwork, uint64_t delay_ns)
{
	struct work_struct *work = &dwork->work;
	bool armed = work->flags & WORK_STRUCT_TIMER;
	int ret;

	if (!delay_ns) {
		insert_work(select_pwq(wq, cpu, work), work);
		return 0;
	}
	ret = wq_timer_arm(dwork, deadline_after(delay_ns));
	if (ret)
		return ret;
	if (armed)
		dwork->wq->nr_delayed--;
	dwork->wq = wq;
	dwork->cpu = wq_unbound(wq) ? WORK_CPU_UNBOUND : wq_resolve_cpu(wq, cpu);
	work->flags |= WORK_STRUCT_PENDING | WORK_STRUCT_TIMER;
	wq->nr_delayed++;
	event_push(WQ_EVENT_DELAYED, wq, work, 0, dwork->deadline_ns);
	return 0;
}

int wq_queue_delayed_work_ns(int cpu, struct workqueue_struct *wq,
			     struct delayed_work *dwork, uint64_t delay_ns)
{
	int ret;

	pthread_mutex_lock(&wq_lock);
	ret = queue_check(cpu, wq, &dwork->work);
	if (!ret && (dwork->work.flags & WORK_STRUCT_PENDING))
		ret = -EALREADY;
	if (!ret)
		ret = delayed_work_arm(cpu, wq, dwork, delay_ns);
	wq_unlock();
	return ret;
}

/*
 * Take the pending instance of work off its worklist or the timer, as
 * the kernel's try_to_grab_pending(); flush_work waiters of it end.
 * Returns the queue it was pending on, or NULL; wq_lock held.
 */
static struct workqueue_struct *grab_pending(struct work_struct *work)
{
	struct workqueue_struct *wq;

	if (!(work->flags & WORK_STRUCT_PENDING))
		return NULL;
	if (work->flags & WORK_STRUCT_TIMER) {
		struct delayed_work *dwork = to_delayed_work(work);

		wq_timer_disarm(dwork);
		wq = dwork->wq;
		wq->nr_delayed--;
	} else {
		wq = work->pwq->wq;
		list_del(&work->entry);
		wq->nr_pending--;
		barriers_fire_all(&work->waiters, 1);
		inflight_remove(wq, &work->inflight);
	}
	work->flags &= ~(WORK_STRUCT_PENDING | WORK_STRUCT_TIMER);
	work->pwq = NULL;
	return wq;
}

int wq_mod_delayed_work_ns(int cpu, struct workqueue_struct *wq,
			   struct delayed_work *dwork, uint64_t delay_ns)
{
	struct work_struct *work = &dwork->work;
	bool armed, pending;
	int ret;

	pthread_mutex_lock(&wq_lock);
	ret = queue_check(cpu, wq, work);
	if (ret)
		goto out;
	armed = work->flags & WORK_STRUCT_TIMER;
	/* An armed timer is re-keyed in place; anything else is re-queued. */
	pending = (armed && delay_ns) || grab_pending(work);
	ret = delayed_work_arm(cpu, wq, dwork, delay_ns);
	if (!ret)
		ret = pending;
out:
	wq_unlock();
	return ret;
}

bool queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *work)
{
	return wq_queue_work_on(cpu, wq, work) == 0;
}

bool queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	return queue_work_on(WORK_CPU_UNBOUND, wq, work);
}

bool queue_delayed_work_on(int cpu, struct workqueue_struct *wq,
			   struct delayed_work *dwork, unsigned long delay)
{
	return wq_queue_delayed_work_ns(cpu, wq, dwork,
					wq_jiffies_to_ns(delay)) == 0;
}

bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
			unsigned long delay)
{
	return queue_delayed_work_on(WORK_CPU_UNBOUND, wq, dwork, delay);
}

bool mod_delayed_work_on(int cpu, struct workqueue_struct *wq,
			 struct delayed_work *dwork, unsigned long delay)
{
	return wq_mod_delayed_work_ns(cpu, wq, dwork, wq_jiffies_to_ns(delay)) == 1;
}

bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dwork,
		      unsigned long delay)
{
	return mod_delayed_work_on(WORK_CPU_UNBOUND, wq, dwork, delay);
}

bool schedule_work(struct work_struct *work)
{
	return queue_work(system_wq, work);
}

bool schedule_delayed_work(struct delayed_work *dwork, unsigned long delay)
{
	return queue_delayed_work(system_wq, dwork, delay);
}

void flush_scheduled_work(void)
{
	flush_workqueue(system_wq);
}

/* ---- cancel and flush ------------------------------------------------------- */

static bool current_runs(const struct work_struct *work)
{
	return current_worker && current_worker->current_work == work;
}

int wq_flush_workqueue_async(struct workqueue_struct *wq, struct wq_barrier *b,
			     wq_barrier_fn fn, void *data)
{
	bool waiting = false;
	int ret = 0;

	barrier_init(b, BARRIER_FLUSH_WQ, fn, data);
	pthread_mutex_lock(&wq_lock);
	if (current_on(wq)) {
		ret = -EDEADLK;
	} else if (!list_empty(&wq->inflight)) {
		b->target = wq->seq;
		barrier_wait_on(b, &wq->flushers);
		waiting = true;
	}
	return barrier_return(b, ret, waiting);
}

/* Wait for the last instance of work; returns whether b waits; wq_lock held. */
static bool flush_work_wait(struct work_struct *work, struct wq_barrier *b)
{
	struct worker *worker;

	if ((work->flags & WORK_STRUCT_PENDING) && !(work->flags & WORK_STRUCT_TIMER)) {
		barrier_wait_on(b, &work->waiters);
		return true;
	}
	worker = find_worker_executing_work(NULL, work);
	if (!worker)
		return false;
	barrier_wait_on(b, &worker->waiters);
	return true;
}

int wq_flush_work_async(struct work_struct *work, struct wq_barrier *b,
			wq_barrier_fn fn, void *data)
{
	bool waiting = false;
	int ret = -EDEADLK;

	barrier_init(b, BARRIER_FLUSH_WORK, fn, data);
	pthread_mutex_lock(&wq_lock);
	if (!current_runs(work)) {
		waiting = flush_work_wait(work, b);
		ret = 0;
	}
	return barrier_return(b, ret, waiting);
}

int wq_flush_delayed_work_async(struct delayed_work *dwork, struct wq_barrier *b,
				wq_barrier_fn fn, void *data)
{
	struct work_struct *work = &dwork->work;
	bool waiting = false;
	int ret = -EDEADLK;

	barrier_init(b, BARRIER_FLUSH_WORK, fn, data);
	pthread_mutex_lock(&wq_lock);
	if (!current_runs(work)) {
		if (work->flags & WORK_STRUCT_TIMER) {
			wq_timer_disarm(dwork);
			wq_delayed_work_timer_fn(dwork);
		}
		waiting = flush_work_wait(work, b);
		ret = 0;
	}
	return barrier_return(b, ret, waiting);
}

int wq_cancel_work_async(struct work_struct *work, struct wq_barrier *b,
			 wq_barrier_fn fn, void *data)
{
	struct workqueue_struct *wq;
	struct worker *worker;
	bool waiting = false;
	int ret = -EDEADLK;

	barrier_init(b, BARRIER_CANCEL, fn, data);
	pthread_mutex_lock(&wq_lock);
	if (current_runs(work))
		return barrier_return(b, ret, false);
	wq = grab_pending(work);
	if (wq) {
		wq->counters.cancelled++;
		event_push(WQ_EVENT_CANCELLED, wq, work, 0, 0);
	}
	ret = wq != NULL;
	worker = find_worker_executing_work(NULL, work);
	if (worker) {
		worker->canceling++;
		b->worker = worker;
		b->result = ret;
		barrier_wait_on(b, &worker->waiters);
		waiting = true;
	}
	return barrier_return(b, ret, waiting);
}

int wq_cancel_delayed_work_async(struct delayed_work *dwork, struct wq_barrier *b,
				 wq_barrier_fn fn, void *data)
{
	return wq_cancel_work_async(&dwork->work, b, fn, data);
}

bool cancel_delayed_work(struct delayed_work *dwork)
{
	struct workqueue_struct *wq;

	pthread_mutex_lock(&wq_lock);
	wq = grab_pending(&dwork->work);
	if (wq) {
		wq->counters.cancelled++;
		event_push(WQ_EVENT_CANCELLED, wq, &dwork->work, 0, 0);
	}
	wq_unlock();
	return wq != NULL;
}

bool cancel_work_sync(struct work_struct *work)
{
	struct sync_wait s;

	sync_wait_init(&s);
	return sync_wait_end(&s, wq_cancel_work_async(work, &s.barrier,
							 sync_wait_fn, &s)) > 0;
}

bool cancel_delayed_work_sync(struct delayed_work *dwork)
{
	return cancel_work_sync(&dwork->work);
}

bool flush_work(struct work_struct *work)
{
	struct sync_wait s;

	sync_wait_init(&s);
	return sync_wait_end(&s, wq_flush_work_async(work, &s.barrier,
							sync_wait_fn, &s)) > 0;
}

bool flush_delayed_work(struct delayed_work *dwork)
{
	struct sync_wait s;

	sync_wait_init(&s);
	return sync_wait_end(&s, wq_flush_delayed_work_async(dwork, &s.barrier,
								sync_wait_fn, &s)) > 0;
}

int flush_workqueue(struct workqueue_struct *wq)
{
	struct sync_wait s;

	sync_wait_init(&s);
	return sync_wait_end(&s, wq_flush_workqueue_async(wq, &s.barrier,
							     sync_wait_fn, &s));
}

int drain_workqueue(struct workqueue_struct *wq)
{
	bool empty = false;
	int ret;

	if (current_on(wq))
		return -EDEADLK;
	pthread_mutex_lock(&wq_lock);
	wq->draining++;
	pthread_mutex_unlock(&wq_lock);
	while (!empty) {
		ret = flush_workqueue(wq);
		if (ret)
			break;
		pthread_mutex_lock(&wq_lock);
		empty = list_empty(&wq->inflight);
		pthread_mutex_unlock(&wq_lock);
	}
	pthread_mutex_lock(&wq_lock);
	wq->draining--;
	pthread_mutex_unlock(&wq_lock);
	return ret;
}

/* ---- attributes ----------------------------------------------------------- */

void workqueue_set_max_active(struct workqueue_struct *wq, int max_active)
{
	pthread_mutex_lock(&wq_lock);
	if (!(wq->flags & __WQ_ORDERED)) {	/* ordered stays at 1 */
		wq->max_active = CLAMP(max_active, 1, WQ_MAX_ACTIVE);
		wq_kick_all(wq);
	}
	pthread_mutex_unlock(&wq_lock);
}

int wq_max_active(const struct workqueue_struct *wq)
{
	int max_active;

	pthread_mutex_lock(&wq_lock);
	max_active = wq->max_active;
	pthread_mutex_unlock(&wq_lock);
	return max_active;
}

static void wq_apply_attrs_to_workers(struct workqueue_struct *wq)
{
	for (unsigned int i = 0; i < wq->nr_pwqs; i++) {
		struct wq_node *node;

		if (!wq->pwqs[i])
			continue;
		for (node = wq->pwqs[i]->workers.next;
		     node != &wq->pwqs[i]->workers; node = node->next)
			worker_apply_attrs(container_of(node, struct worker, node));
	}
}

int apply_workqueue_attrs(struct workqueue_struct *wq,
			  const struct workqueue_attrs *attrs)
{
	cpu_set_t mask;

	if (attrs->nice < -20 || attrs->nice > 19)
		return -EINVAL;
	CPU_AND(&mask, &attrs->cpumask, &online_mask);
	if (!CPU_COUNT(&mask))
		return -EINVAL;
	pthread_mutex_lock(&wq_lock);
	wq->attrs = *attrs;
	wq_apply_attrs_to_workers(wq);
	pthread_mutex_unlock(&wq_lock);
	return 0;
}

void wq_get_attrs(const struct workqueue_struct *wq, struct workqueue_attrs *attrs)
{
	pthread_mutex_lock(&wq_lock);
	*attrs = wq->attrs;
	pthread_mutex_unlock(&wq_lock);
}

/* The new pools start without workers, like a new queue's: a change
 * while no worker exists, or to an idle queue, starts no thread. */
int wq_set_unbound(struct workqueue_struct *wq, bool unbound)
{
	struct pool_workqueue **old;
	unsigned int nr_old;

	pthread_mutex_lock(&wq_lock);
	if (wq_unbound(wq) == unbound) {
		pthread_mutex_unlock(&wq_lock);
		return 0;
	}
	if (wq_busy(wq)) {
		pthread_mutex_unlock(&wq_lock);
		return -EBUSY;
	}
	old = wq->pwqs;
	nr_old = wq->nr_pwqs;
	wq->flags ^= WQ_UNBOUND;
	pwqs_alloc(wq);
	pthread_mutex_unlock(&wq_lock);

	pwqs_free(old, nr_old);
	return 0;
}

void wq_freeze(struct workqueue_struct *wq, bool frozen)
{
	pthread_mutex_lock(&wq_lock);
	wq->frozen = frozen;
	if (!frozen)
		wq_kick_all(wq);
	pthread_mutex_unlock(&wq_lock);
}

bool wq_frozen(const struct workqueue_struct *wq)
{
	bool frozen;

	pthread_mutex_lock(&wq_lock);
	frozen = wq->frozen;
	pthread_mutex_unlock(&wq_lock);
	return frozen;
}

static void freeze_all(bool frozen)
{
	struct wq_node *node;

	pthread_mutex_lock(&wq_lock);
	for (node = all_workqueues.next; node != &all_workqueues; node = node->next) {
		struct workqueue_struct *wq = container_of(node, struct workqueue_struct, node);

		if (!(wq->flags & WQ_FREEZABLE))
			continue;
		wq->frozen = frozen;
		if (!frozen)
			wq_kick_all(wq);
	}
	pthread_mutex_unlock(&wq_lock);
}

void freeze_workqueues_begin(void)
{
	freeze_all(true);
}

void thaw_workqueues(void)
{
	freeze_all(false);
}

/* ---- worker idle timeout ------------------------------------------------- */

/* Wake the idle workers of wq without handing them work; wq_lock held. */
static void wq_wake_idle(struct workqueue_struct *wq)
{
	for (unsigned int i = 0; i < wq->nr_pwqs; i++) {
		struct pool_workqueue *pwq = wq->pwqs[i];
		struct wq_node *node;

		if (!pwq)
			continue;
		for (node = pwq->idle.next; node != &pwq->idle; node = node->next)
			pthread_cond_signal(&container_of(node, struct worker,
							  idle_node)->wake);
	}
}

void wq_set_worker_idle_timeout_ms(unsigned int ms)
{
	struct wq_node *node;

	pthread_mutex_lock(&wq_lock);
	idle_timeout_ns = (uint64_t)(ms ? ms : WQ_DFL_IDLE_TIMEOUT_MS) * 1000000ULL;
	/* Idle workers stay idle but measure their wait again. */
	for (node = all_workqueues.next; node != &all_workqueues; node = node->next)
		wq_wake_idle(container_of(node, struct workqueue_struct, node));
	pthread_mutex_unlock(&wq_lock);
}

/* ---- introspection ---------------------------------------------------------- */

const char *wq_name(const struct workqueue_struct *wq)
{
	return wq->name;
}

unsigned int wq_flags(const struct workqueue_struct *wq)
{
	unsigned int flags;

	pthread_mutex_lock(&wq_lock);
	flags = wq->flags;
	pthread_mutex_unlock(&wq_lock);
	return flags;
}

void wq_get_stats(const struct workqueue_struct *wq, struct wq_stats *stats)
{
	pthread_mutex_lock(&wq_lock);
	*stats = wq->counters;
	stats->workers = 0;
	for (unsigned int i = 0; i < wq->nr_pwqs; i++)
		if (wq->pwqs[i])
			stats->workers += wq->pwqs[i]->nr_workers;
	stats->pending = wq->nr_pending;
	stats->delayed = wq->nr_delayed;
	stats->running = wq->nr_running;
	pthread_mutex_unlock(&wq_lock);
}

/* ---- engine lifetime -------------------------------------------------------- */

static int online_cpus_init(void)
{
	if (sched_getaffinity(0, sizeof(online_mask), &online_mask) ||
	    !CPU_COUNT(&online_mask)) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		CPU_ZERO(&online_mask);
		for (long cpu = 0; cpu < (n > 0 ? n : 1) && cpu < CPU_SETSIZE; cpu++)
			CPU_SET((int)cpu, &online_mask);
	}
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &online_mask))
			nr_cpu_ids = cpu + 1;
	return 0;
}

int wq_init(unsigned int hz)
{
	int ret;

	wq_hz_value = hz ? hz : 250;
	wq_start_ns = wq_now_ns();
	online_cpus_init();
	busy_hash = g_hash_table_new(g_direct_hash, g_direct_equal);
	ret = wq_timer_start();
	if (ret)
		goto err_busy;
	system_wq = alloc_workqueue("events", 0, 1);
	if (!system_wq) {
		ret = -errno;
		goto err_timer;
	}
	return 0;

err_timer:
	wq_timer_stop();
err_busy:
	g_hash_table_destroy(busy_hash);
	busy_hash = NULL;
	nr_cpu_ids = 0;
	return ret;
}

void wq_exit(void)
{
	if (system_wq && destroy_workqueue(system_wq) == 0)
		system_wq = NULL;
	wq_timer_stop();
	wq_set_observer(NULL, NULL);
	while (!list_empty(&event_fifo)) {
		struct wq_node *node = event_fifo.next;

		list_del(node);
		g_free(container_of(node, struct event_rec, node));
	}
	g_hash_table_destroy(busy_hash);
	busy_hash = NULL;
	nr_cpu_ids = 0;
}
