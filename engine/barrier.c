// SPDX-License-Identifier: MIT
/*
 * barrier.c - flush and cancel: the waits of struct wq_barrier.
 *
 * The kernel's wq_barrier is a work queued behind the one flushed; here a
 * barrier is a wait on a list (workqueue.h): wq->flushers for
 * flush_workqueue, work->waiters while the flushed work is pending, and
 * worker->waiters while it runs.  A barrier ends ("fires") under wq_lock:
 * it moves to this thread's wq_owed.fired, and wq_unlock() calls its fn
 * once the lock is released.  The sync calls are the async ones waiting
 * on a barrier on their stack.
 *
 * Flushing a queue waits for a sequence number: every pending or running
 * instance holds its place in wq->inflight, in queueing order, and a
 * flush_workqueue barrier fires once every instance up to its target has
 * left that list.
 */
#include <errno.h>
#include <pthread.h>

#include "internal.h"

enum barrier_kind {
	BARRIER_FLUSH_WQ,	/* flush_workqueue: waits for a sequence */
	BARRIER_FLUSH_WORK,	/* flush_work: waits for one instance */
	BARRIER_CANCEL,		/* cancel_*_sync: waits for the running one */
};

/* ---- barriers ---------------------------------------------------------- */

/* Make b wait on list; wq_lock held. */
void barrier_wait_on(struct wq_barrier *b, struct wq_node **list)
{
	wq_lockdep_assert_held();
	hlist_add(list, &b->node);
	b->list = list;
}

/* End b's wait: its fn runs in wq_unlock(); wq_lock held. */
static void barrier_fire(struct wq_barrier *b, int result)
{
	wq_lockdep_assert_held();
	if (b->list)
		hlist_del(b->list, &b->node);
	b->list = NULL;
	b->result = result;
	hlist_add(&wq_owed.fired, &b->node);
}

/* Fire every barrier on list; a cancel keeps its own result. */
void barriers_fire_all(struct wq_node **list, int result)
{
	while (*list) {
		struct wq_barrier *b = container_of(*list, struct wq_barrier, node);

		barrier_fire(b, b->kind == BARRIER_CANCEL ? b->result : result);
	}
}

/* Call the fns of fired barriers; wq_lock NOT held. */
void barriers_complete(struct wq_node *fired)
{
	wq_lockdep_assert_not_held();
	while (fired) {
		struct wq_barrier *b = container_of(fired, struct wq_barrier, node);

		fired = fired->next;	/* b may be freed by its fn */
		b->fn(b, b->result, b->data);
	}
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
 * Finish an async call and drop wq_lock.  A result of 0 cannot be told
 * apart from "fn later", so fn is called with it, by wq_unlock().
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

	wq_lock();
	if (b->list) {
		hlist_del(b->list, &b->node);
		b->list = NULL;
		if (b->kind == BARRIER_CANCEL)
			b->worker->canceling--;
		withdrawn = true;
	}
	wq_unlock();
	return withdrawn;
}

/* ---- sync calls wait for their barrier on the stack -------------------- */

struct sync_wait {
	struct wq_barrier barrier;
	pthread_mutex_t lock;	/* never under wq_lock */
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

/* ---- flush bookkeeping ------------------------------------------------- */

static uint64_t inflight_first_seq(const struct workqueue_struct *wq)
{
	if (list_empty(&wq->inflight))
		return UINT64_MAX;
	return container_of(wq->inflight.next, struct wq_inflight, node)->seq;
}

/* Fire flush_workqueue barriers whose works have all finished. */
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

/* An instance of wq finished or was cancelled; wq_lock held. */
void inflight_remove(struct workqueue_struct *wq, struct wq_inflight *inflight)
{
	bool was_first = wq->inflight.next == &inflight->node;

	wq_lockdep_assert_held();
	list_del(&inflight->node);
	if (was_first)
		flushers_check(wq);
}

/* ---- flush ------------------------------------------------------------- */

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
	wq_lock();
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

	wq_lockdep_assert_held();
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
	wq_lock();
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
	wq_lock();
	if (!current_runs(work)) {
		if (work->flags & WORK_STRUCT_TIMER)
			delayed_work_queue_now(dwork);
		waiting = flush_work_wait(work, b);
		ret = 0;
	}
	return barrier_return(b, ret, waiting);
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

void flush_scheduled_work(void)
{
	flush_workqueue(system_wq);
}

int drain_workqueue(struct workqueue_struct *wq)
{
	bool empty = false;
	int ret;

	if (current_on(wq))
		return -EDEADLK;
	wq_lock();
	wq->draining++;
	wq_unlock();
	while (!empty) {
		ret = flush_workqueue(wq);
		if (ret)
			break;
		wq_lock();
		empty = list_empty(&wq->inflight);
		wq_unlock();
	}
	wq_lock();
	wq->draining--;
	wq_unlock();
	return ret;
}

/* ---- cancel ------------------------------------------------------------ */

/* Count a cancelled pending instance of work; wq_lock held. */
static struct workqueue_struct *cancel_pending(struct work_struct *work)
{
	struct workqueue_struct *wq = grab_pending(work);

	if (wq) {
		wq->counters.cancelled++;
		event_push(WQ_EVENT_CANCELLED, wq, work, NULL, 0, 0);
	}
	return wq;
}

int wq_cancel_work_async(struct work_struct *work, struct wq_barrier *b,
			 wq_barrier_fn fn, void *data)
{
	struct worker *worker;
	bool waiting = false;
	int ret = -EDEADLK;

	barrier_init(b, BARRIER_CANCEL, fn, data);
	wq_lock();
	if (current_runs(work))
		return barrier_return(b, ret, false);
	ret = cancel_pending(work) != NULL;
	worker = find_worker_executing_work(NULL, work);
	if (worker) {
		/* the running instance is being stopped: a cancel row now, the
		 * end row (and the cancelled count) when it returns */
		if (!worker->canceling++)
			event_push(WQ_EVENT_CANCELLED, worker->pwq->wq, work,
				   worker->current_name, 0, 0);
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

	wq_lock();
	wq = cancel_pending(&dwork->work);
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
