// SPDX-License-Identifier: MIT
/*
 * attrs.c - what a workqueue's owner may change and read: max_active,
 * nice and cpumask, bound or unbound, frozen, the workers' idle timeout,
 * and the statistics.
 *
 * Locking: see internal.h (LOCKING).  A change that lets more works
 * start kicks the pools; the workers those kicks reserve are started by
 * wq_unlock().
 */
#include <errno.h>
#include <glib.h>

#include "internal.h"

/* ---- max_active -------------------------------------------------------- */

void workqueue_set_max_active(struct workqueue_struct *wq, int max_active)
{
	wq_lock();
	if (!(wq->flags & __WQ_ORDERED)) {	/* ordered stays at 1 */
		wq->max_active = CLAMP(max_active, 1, WQ_MAX_ACTIVE);
		wq_kick_all(wq);
	}
	wq_unlock();
}

int wq_max_active(const struct workqueue_struct *wq)
{
	int max_active;

	wq_lock();
	max_active = wq->max_active;
	wq_unlock();
	return max_active;
}

/* ---- nice, cpumask, bound or unbound ----------------------------------- */

static void wq_apply_attrs_to_workers(struct workqueue_struct *wq)
{
	for (unsigned int i = 0; i < wq->nr_pwqs; i++) {
		struct wq_node *node;

		if (!wq->pwqs[i])
			continue;
		list_for_each(node, &wq->pwqs[i]->workers)
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
	wq_lock();
	wq->attrs = *attrs;
	wq_apply_attrs_to_workers(wq);
	wq_unlock();
	return 0;
}

void wq_get_attrs(const struct workqueue_struct *wq, struct workqueue_attrs *attrs)
{
	wq_lock();
	*attrs = wq->attrs;
	wq_unlock();
}

/* The new pools start without workers, like a new queue's: a change
 * while no worker exists, or to an idle queue, starts no thread. */
int wq_set_unbound(struct workqueue_struct *wq, bool unbound)
{
	struct pool_workqueue **old;
	unsigned int nr_old;
	int ret = 0;

	wq_lock();
	if (wq_unbound(wq) == unbound)
		goto out;
	ret = -EBUSY;
	if (wq_busy(wq))
		goto out;
	old = wq->pwqs;
	nr_old = wq->nr_pwqs;
	wq->flags ^= WQ_UNBOUND;
	pwqs_alloc(wq);
	wq_unlock();

	pwqs_free(old, nr_old);
	return 0;
out:
	wq_unlock();
	return ret;
}

/* ---- freezing ---------------------------------------------------------- */

void wq_freeze(struct workqueue_struct *wq, bool frozen)
{
	wq_lock();
	wq->frozen = frozen;
	if (!frozen)
		wq_kick_all(wq);
	wq_unlock();
}

bool wq_frozen(const struct workqueue_struct *wq)
{
	bool frozen;

	wq_lock();
	frozen = wq->frozen;
	wq_unlock();
	return frozen;
}

static void freeze_all(bool frozen)
{
	struct wq_node *node;

	wq_lock();
	list_for_each(node, &all_workqueues) {
		struct workqueue_struct *wq = container_of(node, struct workqueue_struct, node);

		if (!(wq->flags & WQ_FREEZABLE))
			continue;
		wq->frozen = frozen;
		if (!frozen)
			wq_kick_all(wq);
	}
	wq_unlock();
}

void freeze_workqueues_begin(void)
{
	freeze_all(true);
}

void thaw_workqueues(void)
{
	freeze_all(false);
}

/* ---- worker idle timeout ----------------------------------------------- */

/* Wake the idle workers of wq without handing them work; wq_lock held. */
static void wq_wake_idle(struct workqueue_struct *wq)
{
	wq_lockdep_assert_held();
	for (unsigned int i = 0; i < wq->nr_pwqs; i++) {
		struct pool_workqueue *pwq = wq->pwqs[i];
		struct wq_node *node;

		if (!pwq)
			continue;
		list_for_each(node, &pwq->idle)
			pthread_cond_signal(&container_of(node, struct worker,
							  idle_node)->wake);
	}
}

void wq_set_worker_idle_timeout_ms(unsigned int ms)
{
	struct wq_node *node;

	wq_lock();
	idle_timeout_ns = (uint64_t)(ms ? ms : WQ_DFL_IDLE_TIMEOUT_MS) * NSEC_PER_MSEC;
	/* Idle workers stay idle but measure their wait again. */
	list_for_each(node, &all_workqueues)
		wq_wake_idle(container_of(node, struct workqueue_struct, node));
	wq_unlock();
}

/* ---- introspection ----------------------------------------------------- */

/* Immutable: no lock. */
const char *wq_name(const struct workqueue_struct *wq)
{
	return wq->name;
}

unsigned int wq_flags(const struct workqueue_struct *wq)
{
	unsigned int flags;

	wq_lock();
	flags = wq->flags;
	wq_unlock();
	return flags;
}

void wq_get_stats(const struct workqueue_struct *wq, struct wq_stats *stats)
{
	wq_lock();
	*stats = wq->counters;
	stats->workers = 0;
	for (unsigned int i = 0; i < wq->nr_pwqs; i++)
		if (wq->pwqs[i])
			stats->workers += wq->pwqs[i]->nr_workers;
	stats->pending = wq->nr_pending;
	stats->delayed = wq->nr_delayed;
	stats->running = wq->nr_running;
	wq_unlock();
}

void wq_stats_restore(struct workqueue_struct *wq, const struct wq_stats *before)
{
	wq_lock();
	wq->counters.started += before->started;
	wq->counters.completed += before->completed;
	wq->counters.failed += before->failed;
	wq->counters.cancelled += before->cancelled;
	wq->counters.cpu_ns += before->cpu_ns;
	wq_unlock();
}
