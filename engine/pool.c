// SPDX-License-Identifier: MIT
/*
 * pool.c - pool_workqueues and their workers: creating and stopping
 * workers, kicking a pool when it has work, and the busy table.
 *
 * Life of a worker: an idle pool has no thread.  pwq_kick() reserves a
 * worker when a work may start and no idle worker is there, up to
 * max_active; the kicking thread's wq_unlock() creates its thread
 * (workers_start()), with no lock held.  If that fails the reservation
 * is undone and, when the pool has no worker at all, the pool "starves":
 * it is logged once, and the idle path of every worker retries it
 * (starved_pools_retry()).  A worker's thread leaves the pool by itself
 * (worker.c); pwqs_free() stops the workers of a pool and waits on
 * worker_exited until none is left.
 *
 * The busy table, the kernel's busy_hash, maps a running work's address
 * to the chain of workers running it (one per queue at most).
 */
#include <glib.h>
#include <stdio.h>
#include <sys/resource.h>

#include "internal.h"

/*
 * Workers run short C functions or wait for a child process; 512 KiB of
 * stack is plenty and keeps the reserved stacks small when many queues
 * are busy at once.
 */
#define WORKER_STACK_SIZE	(512 * 1024)

static GHashTable *busy_hash;		/* wq_lock: work -> worker chain */
/* Broadcast, under wq_lock, each time a worker leaves its pool. */
static pthread_cond_t worker_exited = PTHREAD_COND_INITIALIZER;
/* wq_lock: pools with a work they may start and no worker, because none
 * could be created; the idle path of every worker retries them. */
static struct wq_node starved_pools = WQ_LIST_HEAD_INIT(starved_pools);

/* ---- busy table -------------------------------------------------------- */

void busy_init(void)
{
	busy_hash = g_hash_table_new(g_direct_hash, g_direct_equal);
}

void busy_exit(void)
{
	g_hash_table_destroy(busy_hash);
	busy_hash = NULL;
}

/* The first worker running work, or NULL; wq_lock held. */
struct worker *busy_first(const struct work_struct *work)
{
	wq_lockdep_assert_held();
	return g_hash_table_lookup(busy_hash, work);
}

/* The worker of wq running work, or NULL; wq NULL: any queue. */
struct worker *find_worker_executing_work(struct workqueue_struct *wq,
					  const struct work_struct *work)
{
	struct worker *worker;

	for (worker = busy_first(work); worker; worker = worker->busy_next)
		if (!wq || worker->pwq->wq == wq)
			return worker;
	return NULL;
}

void busy_insert(struct worker *worker, struct work_struct *work)
{
	worker->current_work = work;
	worker->busy_next = busy_first(work);
	g_hash_table_insert(busy_hash, work, worker);
}

void busy_remove(struct worker *worker)
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

/* Is a cancel_*_sync waiting for a running instance of work? */
bool work_canceling(const struct work_struct *work)
{
	struct worker *worker;

	for (worker = busy_first(work); worker; worker = worker->busy_next)
		if (worker->canceling)
			return true;
	return false;
}

/* ---- workers ----------------------------------------------------------- */

/* Apply nice and affinity to a worker whose thread runs; wq_lock held. */
void worker_apply_attrs(struct worker *worker)
{
	struct pool_workqueue *pwq = worker->pwq;
	cpu_set_t mask;

	wq_lockdep_assert_held();
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

/*
 * Reserve one more worker for pwq; wq_lock held.  It counts as a worker
 * from now on; this thread's wq_unlock() creates its thread.
 */
static void worker_reserve(struct pool_workqueue *pwq)
{
	struct worker *worker = g_new0(struct worker, 1);

	wq_lockdep_assert_held();
	worker->pwq = pwq;
	if (pwq->cpu == WORK_CPU_UNBOUND)
		snprintf(worker->name, sizeof(worker->name), "%s/u", pwq->wq->name);
	else
		snprintf(worker->name, sizeof(worker->name), "%s/%d",
			 pwq->wq->name, pwq->cpu);
	list_init(&worker->scheduled);
	list_add_tail(&worker->node, &pwq->workers);
	pwq->nr_workers++;
	hlist_add(&wq_owed.starts, &worker->start_node);
}

/*
 * The worker leaves its pool and is freed, its wake condition destroyed
 * already (or never set up); wq_lock held.  pwqs_free() may free the pool
 * as soon as wq_lock is released.
 */
void worker_detach(struct worker *worker)
{
	struct pool_workqueue *pwq = worker->pwq;

	wq_lockdep_assert_held();
	list_del(&worker->node);
	pwq->nr_workers--;
	pthread_cond_broadcast(&worker_exited);
	g_free(worker);
}

static int worker_thread_create(struct worker *worker)
{
	pthread_attr_t attr;
	pthread_t thread;
	int err;

	err = wq_cond_init(&worker->wake);
	if (err)
		return err;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
	/* Nobody joins a worker: pwqs_free() waits for nr_workers == 0. */
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&thread, &attr, worker_thread, worker);
	pthread_attr_destroy(&attr);
	if (err)
		pthread_cond_destroy(&worker->wake);
	return err;
}

/*
 * pwq has a work it may start and no worker: put it on starved_pools;
 * wq_lock held.  Returns true the first time, when it is to be logged.
 */
static bool pwq_starve(struct pool_workqueue *pwq)
{
	wq_lockdep_assert_held();
	if (pwq->starved_node.next)
		return false;	/* logged when it first starved */
	list_add_tail(&pwq->starved_node, &starved_pools);
	return true;
}

void pwq_unstarve(struct pool_workqueue *pwq)
{
	wq_lockdep_assert_held();
	if (pwq->starved_node.next)
		list_del(&pwq->starved_node);
}

/*
 * No thread could be created for the reserved worker: undo the
 * reservation; wq_lock NOT held.  The work waits for a worker that
 * exists, or, if there is none, for the next kick or the idle path of any
 * worker.  A pool being freed is idle, so it never starves here.
 */
static void worker_unreserve(struct worker *worker, int err)
{
	struct pool_workqueue *pwq = worker->pwq;
	char *name = NULL;

	wq_lockdep_assert_not_held();
	wq_lock();
	worker_detach(worker);
	if (pwq_may_start(pwq) && !pwq->nr_workers && pwq_starve(pwq))
		name = g_strdup(pwq->wq->name);
	wq_unlock();
	if (name)
		g_warning("wq %s: no worker can be started (%s); the work waits",
			  name, g_strerror(err));
	g_free(name);
}

/*
 * Create the threads of the workers this thread reserved, from its
 * wq_owed.starts; wq_lock NOT held.  A created worker may run and free
 * itself at once: nothing of it is touched after its creation.
 */
void workers_start(struct wq_node *starts)
{
	wq_lockdep_assert_not_held();
	while (starts) {
		struct worker *worker = container_of(starts, struct worker,
						     start_node);
		int err;

		starts = starts->next;
		err = worker_thread_create(worker);
		if (err)
			worker_unreserve(worker, err);
	}
}

/* ---- kicking a pool ---------------------------------------------------- */

bool pwq_may_start(const struct pool_workqueue *pwq)
{
	return !pwq->wq->frozen && !list_empty(&pwq->worklist) &&
	       pwq->nr_active < (unsigned int)pwq->wq->max_active;
}

/*
 * Get a worker going if pwq has work it may start: wake an idle one, or
 * reserve one while fewer than max_active exist; wq_lock held.  A worker
 * that takes a work kicks again, so one kick per queued work is enough.
 * An idle worker is on pwq->idle and no exiting worker is, so the one
 * woken here runs the work.
 */
void pwq_kick(struct pool_workqueue *pwq)
{
	wq_lockdep_assert_held();
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
	if (pwq->nr_workers < (unsigned int)pwq->wq->max_active)
		worker_reserve(pwq);
}

void wq_kick_all(struct workqueue_struct *wq)
{
	for (unsigned int i = 0; i < wq->nr_pwqs; i++)
		if (wq->pwqs[i])
			pwq_kick(wq->pwqs[i]);
}

/*
 * Give pools starved of workers another try; wq_lock held.  Called on the
 * idle path, when a worker goes idle or exits.  A pool stays on the list
 * until a worker of it runs (worker_attach()) or it needs none any more;
 * one whose reserved worker cannot be created either stays first in line.
 */
void starved_pools_retry(void)
{
	struct wq_node *node, *next;

	wq_lockdep_assert_held();
	for (node = starved_pools.next; node != &starved_pools; node = next) {
		struct pool_workqueue *pwq = container_of(node,
							  struct pool_workqueue,
							  starved_node);

		next = node->next;
		if (!pwq_may_start(pwq))
			pwq_unstarve(pwq);
		else if (!pwq->nr_workers)
			worker_reserve(pwq);
	}
}

/* ---- pool_workqueues --------------------------------------------------- */

/*
 * A pool starts with no worker: the first is reserved by pwq_kick() when
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
void pwqs_alloc(struct workqueue_struct *wq)
{
	wq_lockdep_assert_held();
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

/* Tell every worker of pwq, reserved ones too, to exit; wq_lock held. */
static void pwq_stop_workers(struct pool_workqueue *pwq)
{
	struct wq_node *node;

	wq_lockdep_assert_held();
	list_for_each(node, &pwq->workers) {
		struct worker *worker = container_of(node, struct worker, node);

		worker->stop = true;
		if (worker->tid)
			pthread_cond_signal(&worker->wake);
	}
}

/*
 * Stop the workers, wait until each has left, and free the pools; wq_lock
 * NOT held.  The pools are detached from their queue and idle, so nothing
 * reserves a worker for them any more (they are off starved_pools too); a
 * worker still finishing its last run exits when it is done, a reserved
 * one as soon as its thread runs, or when its creation fails.
 */
void pwqs_free(struct pool_workqueue **pwqs, unsigned int nr_pwqs)
{
	wq_lockdep_assert_not_held();
	wq_lock();
	for (unsigned int i = 0; i < nr_pwqs; i++) {
		if (!pwqs[i])
			continue;
		pwq_unstarve(pwqs[i]);
		pwq_stop_workers(pwqs[i]);
		while (pwqs[i]->nr_workers)
			wq_cond_wait(&worker_exited);
	}
	wq_unlock();

	for (unsigned int i = 0; i < nr_pwqs; i++)
		g_free(pwqs[i]);
	g_free(pwqs);
}
