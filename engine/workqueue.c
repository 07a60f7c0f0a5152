// SPDX-License-Identifier: MIT
/*
 * workqueue.c - workqueues: creating and destroying them, queueing works
 * and delayed works, and the engine's lifetime and clock.
 *
 * Locking: see internal.h (LOCKING).  Every function here that touches
 * shared state takes wq_lock with wq_lock() and drops it with
 * wq_unlock(), which then delivers the events it pushed and starts the
 * workers its kicks reserved.
 */
#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

struct workqueue_struct *system_wq;

static unsigned int wq_hz_value = 250;	/* set by wq_init only */
static uint64_t wq_start_ns;		/* set by wq_init only */
cpu_set_t online_mask;			/* set by wq_init only */
int nr_cpu_ids;				/* set by wq_init only */
struct wq_node all_workqueues = WQ_LIST_HEAD_INIT(all_workqueues); /* wq_lock */

/* ---- time -------------------------------------------------------------- */

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

/* ---- workqueues -------------------------------------------------------- */

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

	wq_lock();
	pwqs_alloc(wq);
	list_add_tail(&wq->node, &all_workqueues);
	wq_unlock();
	return wq;
}

/* Has wq anything queued, delayed or running?  wq_lock held. */
bool wq_busy(const struct workqueue_struct *wq)
{
	wq_lockdep_assert_held();
	return wq->nr_pending || wq->nr_delayed || wq->nr_running ||
	       !list_empty(&wq->inflight);
}

int wq_shutdown(struct workqueue_struct *wq)
{
	int ret = 0;

	wq_lock();
	if (wq->nr_delayed)
		ret = -ENOTEMPTY;
	else
		wq->dying = true;
	wq_unlock();
	return ret;
}

void wq_unshutdown(struct workqueue_struct *wq)
{
	wq_lock();
	wq->dying = false;
	wq_unlock();
}

void wq_free(struct workqueue_struct *wq)
{
	struct pool_workqueue **pwqs;
	unsigned int nr_pwqs;

	wq_lock();
	if (wq_busy(wq) || wq->flushers) {
		wq_unlock();
		g_critical("wq_free(%s): the queue is not idle", wq->name);
		return;
	}
	list_del(&wq->node);
	pwqs = wq->pwqs;
	nr_pwqs = wq->nr_pwqs;
	wq->pwqs = NULL;
	wq->nr_pwqs = 0;
	wq_unlock();

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

/* ---- works ------------------------------------------------------------- */

void init_work(struct work_struct *work, work_func_t func)
{
	memset(work, 0, sizeof(*work));
	work->func = func;
}

void init_delayed_work(struct delayed_work *dwork, work_func_t func)
{
	memset(dwork, 0, sizeof(*dwork));
	dwork->work.func = func;
	dwork->work.cpu = WORK_CPU_UNBOUND;
}

bool work_pending(const struct work_struct *work)
{
	bool pending;

	wq_lock();
	pending = work->flags & WORK_STRUCT_PENDING;
	wq_unlock();
	return pending;
}

bool delayed_work_pending(const struct delayed_work *dwork)
{
	return work_pending(&dwork->work);
}

unsigned int work_busy(const struct work_struct *work)
{
	unsigned int busy = 0;

	wq_lock();
	if (work->flags & WORK_STRUCT_PENDING)
		busy |= WORK_BUSY_PENDING;
	if (busy_first(work))
		busy |= WORK_BUSY_RUNNING;
	wq_unlock();
	return busy;
}

/* Worker thread only: current_worker's result fields are its own. */
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
	wq_lock();
	work = current_worker->current_work;
	wq_unlock();
	return work;
}

struct workqueue_struct *wq_current_workqueue(void)
{
	return current_work() ? current_worker->pwq->wq : NULL;
}

/* ---- queueing ---------------------------------------------------------- */

static bool cpu_possible(int cpu)
{
	return cpu >= 0 && cpu < nr_cpu_ids && CPU_ISSET(cpu, &online_mask);
}

/* The CPU a per-CPU queue runs a work for cpu on; wq_lock held. */
static int wq_resolve_cpu(const struct workqueue_struct *wq, int cpu)
{
	cpu_set_t mask;

	wq_lockdep_assert_held();
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

	wq_lockdep_assert_held();
	work->flags |= WORK_STRUCT_PENDING;
	work->pwq = pwq;
	list_add_tail(&work->entry, &pwq->worklist);
	work->inflight.seq = ++wq->seq;
	list_add_tail(&work->inflight.node, &wq->inflight);
	wq->nr_pending++;
	event_push(WQ_EVENT_QUEUED, wq, work, NULL, 0, 0);
	pwq_kick(pwq);
}

/* Why work may not be queued on wq now (but for EALREADY); wq_lock held. */
static int queue_check(int cpu, struct workqueue_struct *wq,
		       const struct work_struct *work)
{
	wq_lockdep_assert_held();
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

	wq_lock();
	ret = queue_check(cpu, wq, work);
	if (!ret && (work->flags & WORK_STRUCT_PENDING))
		ret = -EALREADY;
	if (!ret)
		insert_work(select_pwq(wq, cpu, work), work);
	wq_unlock();
	return ret;
}

/* The timer of a delayed work expired (it is out of the heap): queue it
 * now.  The kernel's delayed_work_timer_fn(); wq_lock held. */
static void delayed_work_timer_fn(struct wq_timer *timer)
{
	struct delayed_work *dwork = container_of(timer, struct delayed_work,
						  work.timer);
	struct workqueue_struct *wq = dwork->work.timer_wq;

	wq_lockdep_assert_held();
	dwork->work.flags &= ~WORK_STRUCT_TIMER;
	wq->nr_delayed--;
	insert_work(select_pwq(wq, dwork->work.cpu, &dwork->work), &dwork->work);
}

/* Queue a dwork whose timer is armed at once; wq_lock held. */
void delayed_work_queue_now(struct delayed_work *dwork)
{
	wq_lockdep_assert_held();
	wq_timer_disarm(&dwork->work.timer);
	delayed_work_timer_fn(&dwork->work.timer);
}

/* Arm dwork's timer, or queue it now for delay 0; wq_lock held. */
static int delayed_work_arm(int cpu, struct workqueue_struct *wq,
			    struct delayed_work *dwork, uint64_t delay_ns)
{
	struct work_struct *work = &dwork->work;
	bool armed = work->flags & WORK_STRUCT_TIMER;
	int ret;

	wq_lockdep_assert_held();
	if (!delay_ns) {
		insert_work(select_pwq(wq, cpu, work), work);
		return 0;
	}
	if (!armed)			/* the place of its worklist nodes */
		work->timer = (struct wq_timer){ .fn = NULL };
	dwork->work.timer.fn = delayed_work_timer_fn;
	ret = wq_timer_arm(&dwork->work.timer, deadline_after(delay_ns));
	if (ret)
		return ret;
	if (armed)
		dwork->work.timer_wq->nr_delayed--;
	dwork->work.timer_wq = wq;
	dwork->work.cpu = wq_unbound(wq) ? WORK_CPU_UNBOUND : wq_resolve_cpu(wq, cpu);
	work->flags |= WORK_STRUCT_PENDING | WORK_STRUCT_TIMER;
	wq->nr_delayed++;
	event_push(WQ_EVENT_DELAYED, wq, work, NULL, 0, dwork->work.timer.expires_ns);
	return 0;
}

int wq_queue_delayed_work_ns(int cpu, struct workqueue_struct *wq,
			     struct delayed_work *dwork, uint64_t delay_ns)
{
	int ret;

	wq_lock();
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
struct workqueue_struct *grab_pending(struct work_struct *work)
{
	struct workqueue_struct *wq;

	wq_lockdep_assert_held();
	if (!(work->flags & WORK_STRUCT_PENDING))
		return NULL;
	if (work->flags & WORK_STRUCT_TIMER) {
		struct delayed_work *dwork = to_delayed_work(work);

		wq_timer_disarm(&dwork->work.timer);
		work->timer = (struct wq_timer){ .fn = NULL };	/* no list */
		wq = dwork->work.timer_wq;
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

	wq_lock();
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

/* ---- queueing: the kernel's names -------------------------------------- */

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

/* ---- engine lifetime --------------------------------------------------- */

static void online_cpus_init(void)
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
}

int wq_init(unsigned int hz)
{
	int ret;

	wq_hz_value = hz ? hz : 250;
	wq_start_ns = wq_now_ns();
	online_cpus_init();
	busy_init();
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
	busy_exit();
	nr_cpu_ids = 0;
	return ret;
}

void wq_exit(void)
{
	if (system_wq && destroy_workqueue(system_wq) == 0)
		system_wq = NULL;
	wq_timer_stop();
	wq_set_observer(NULL, NULL);
	events_exit();
	busy_exit();
	nr_cpu_ids = 0;
}
