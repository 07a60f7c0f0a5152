// SPDX-License-Identifier: MIT
/*
 * worker.c - the worker thread: take works off its pool, run them, idle,
 * and exit after the idle timeout.
 *
 * Life of a work instance:
 *   idle --queue--> pending on a worklist (PENDING, work->pwq, on
 *   wq->inflight) --worker takes it--> running (in busy_hash, the worker's
 *   inflight node replaces the work's in place) --func returns--> idle.
 *   A delayed work is first armed in the timer heap (PENDING|TIMER, not on
 *   wq->inflight); its timer moves it to a worklist.
 * Once func has been called the engine never dereferences the work for
 * that run: the running instance is known by address only.
 *
 * A worker idle for idle_timeout_ns leaves: under wq_lock, off the idle
 * list (so pwq_kick() cannot pick it) and after finding no work it may
 * start, it unlinks and frees itself, and its detached thread returns
 * without touching that pool again.
 */
#include <time.h>
#include <unistd.h>

#include "internal.h"

__thread struct worker *current_worker;	/* this thread's, or NULL */
/* wq_lock: how long a worker stays idle before it exits */
uint64_t idle_timeout_ns = WQ_DFL_IDLE_TIMEOUT_MS * NSEC_PER_MSEC;

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* ---- taking and running works ------------------------------------------ */

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

	wq_lockdep_assert_held();
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

/* Give back the slot, unless handed-over works wait and may run; wq_lock
 * held. */
static void worker_release_slot(struct worker *worker)
{
	struct pool_workqueue *pwq = worker->pwq;

	wq_lockdep_assert_held();
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

	wq_lockdep_assert_held();
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
	event_name(work, worker->current_name);
	event_push(WQ_EVENT_STARTED, wq, work, worker->current_name, 0, 0);
}

/* The running instance has finished; wq_lock held. */
static void worker_done(struct worker *worker, uint64_t cpu_ns)
{
	struct workqueue_struct *wq = worker->pwq->wq;

	wq_lockdep_assert_held();
	busy_remove(worker);
	barriers_fire_all(&worker->waiters, 1);
	inflight_remove(wq, &worker->inflight);
	wq->nr_running--;
	wq->counters.completed++;
	if (worker->canceling)		/* stopped by a cancel: not a failure */
		wq->counters.cancelled++;
	else if (worker->result)
		wq->counters.failed++;
	worker->canceling = 0;
	wq->counters.cpu_ns += cpu_ns + worker->extra_cpu_ns;
}

/* Run one work; called and returns with wq_lock held. */
static void process_one_work(struct worker *worker, struct work_struct *work)
{
	struct workqueue_struct *wq = worker->pwq->wq;
	work_func_t func = work->func;
	uint64_t cpu_ns;

	wq_lockdep_assert_held();
	worker_take(worker, work);
	pwq_kick(worker->pwq);
	wq_unlock();	/* STARTED event, and a worker for the next work */

	cpu_ns = thread_cpu_ns();
	func(work);	/* from here on, work may be gone */
	cpu_ns = thread_cpu_ns() - cpu_ns;

	wq_lock();
	/* counted before it is reported: an observer of FINISHED reads the
	 * counters with it (the durable store keeps them) */
	worker_done(worker, cpu_ns);
	event_push(WQ_EVENT_FINISHED, wq, work, worker->current_name, worker->result, 0);
	wq_unlock();	/* the event, then barrier fns */
	wq_lock();
}

/* ---- idling ------------------------------------------------------------ */

/*
 * Wait on worker->wake, at most until since + idle_timeout_ns; wq_lock
 * held.  Returns true, without waiting, once that time has passed; the
 * timeout is read again after every wake-up, so a new one takes effect.
 */
static bool worker_idle_wait(struct worker *worker, uint64_t since)
{
	uint64_t deadline = since + idle_timeout_ns;

	if (wq_now_ns() >= deadline)
		return true;
	wq_cond_timedwait(&worker->wake, deadline);
	return false;
}

/*
 * Going idle, retry starved pools, once per sleep; and if this thread
 * owes anything (workers it reserved, here or by a kick), drop wq_lock to
 * carry it out.  Returns true if wq_lock was dropped.
 */
static bool worker_before_sleep(struct worker *worker)
{
	if (!worker->retried) {
		starved_pools_retry();
		worker->retried = true;
	}
	if (!wq_owes())
		return false;
	wq_unlock();
	wq_lock();
	return true;
}

/*
 * Sleep on pwq->idle until pwq_kick() wakes the worker, it is stopped, or
 * the idle timeout passes; wq_lock held.  Returns true in the last case:
 * the worker is then off the idle list, so no kick can pick it, and the
 * caller, without releasing wq_lock, looks for work once more before it
 * exits.  Returns false at once if wq_lock had to be dropped first: the
 * caller looks for work again, as some may have come meanwhile.
 */
static bool worker_sleep(struct worker *worker)
{
	uint64_t since = wq_now_ns();
	bool expired = false;

	wq_lockdep_assert_held();
	if (worker_before_sleep(worker))
		return false;
	worker->retried = false;
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

/* ---- the thread -------------------------------------------------------- */

/*
 * The thread's first steps: it names itself (no lock held), then records
 * its id and applies its attributes under wq_lock, which it returns with.
 * Its pool has a worker now: it starves no more.
 */
static void worker_attach(struct worker *worker)
{
	pthread_setname_np(pthread_self(), worker->name);
	current_worker = worker;
	wq_lock();
	worker->thread = pthread_self();
	worker->tid = gettid();
	worker_apply_attrs(worker);
	pwq_unstarve(worker->pwq);
}

/*
 * The worker leaves its pool and is freed; wq_lock held.  Its thread then
 * only carries out, in wq_unlock(), workers it reserved for starved
 * pools, and returns.
 */
static void worker_exit(struct worker *worker)
{
	wq_lockdep_assert_held();
	pthread_cond_destroy(&worker->wake);
	worker_detach(worker);
	current_worker = NULL;
	starved_pools_retry();
}

/*
 * A worker exits when stopped, or when it stayed idle for the idle
 * timeout and then, with wq_lock held all along since the timeout, found
 * no work it may start: a work queued meanwhile is run, not lost.
 */
void *worker_thread(void *arg)
{
	struct worker *worker = arg;
	bool expired = false;

	worker_attach(worker);
	while (!worker->stop) {
		struct work_struct *work = worker_next_work(worker);

		if (!work) {
			if (expired)
				break;
			expired = worker_sleep(worker);
			continue;
		}
		expired = false;
		worker->retried = false;
		process_one_work(worker, work);
		worker_release_slot(worker);
	}
	worker_exit(worker);
	wq_unlock();
	return NULL;
}
