// SPDX-License-Identifier: MIT
/*
 * jiq.c - LDD3's jiq ("just in queue") demo on a wqfs workqueue.
 *
 * One run is one struct wqfs_jiq: a delayed work whose func prints a row
 * and queues itself again, as jiq_print_wq() does, until the page passes
 * WQFS_JIQ_LIMIT.  The step that finds the page full hands it to done.
 *
 * The page and the time of the previous row are touched only by the
 * work's func, which never runs twice at once, so they need no lock.
 * The end of a run is decided by one compare-and-swap on state: the
 * worker moves RUNNING to DONE before calling done, wqfs_jiq_cancel()
 * moves RUNNING to CANCELLED; whoever loses does nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <glib.h>

#include "jiq.h"

#define WQFS_JIQ_PAGE	(WQFS_JIQ_LIMIT + 256)	/* room for the last row */

enum wqfs_jiq_state {
	WQFS_JIQ_RUNNING,
	WQFS_JIQ_DONE,		/* done is being or has been called */
	WQFS_JIQ_CANCELLED,	/* done will never be called */
};

struct wqfs_jiq {
	struct delayed_work dwork;
	struct workqueue_struct *wq;	/* immutable */
	unsigned long delay;		/* immutable: jiffies between steps */
	wqfs_jiq_done_fn done;		/* immutable */
	void *data;			/* immutable */

	atomic_int state;		/* enum wqfs_jiq_state, CAS only */

	/* owned by the work's func (never concurrent with itself) */
	unsigned long jiffies;		/* time of the previous row */
	size_t len;			/* bytes in page */
	char page[WQFS_JIQ_PAGE];
};

static struct wqfs_jiq *wqfs_jiq_of(struct work_struct *work)
{
	return (struct wqfs_jiq *)((char *)to_delayed_work(work) -
				   offsetof(struct wqfs_jiq, dwork));
}

__attribute__((format(printf, 2, 3)))
static void wqfs_jiq_append(struct wqfs_jiq *jiq, const char *fmt, ...)
{
	size_t room = sizeof(jiq->page) - jiq->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(jiq->page + jiq->len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		jiq->len += MIN((size_t)n, room - 1);
}

/*
 * jiq_print(): print one row; returns false once the page is full.  As in
 * jiq.c, the header comes with the first row and the limit is checked
 * before printing, so the page ends a little past LIMIT.
 */
static bool wqfs_jiq_print(struct wqfs_jiq *jiq)
{
	unsigned long j = wq_jiffies();
	char comm[16] = "";

	if (jiq->len > WQFS_JIQ_LIMIT)
		return false;
	if (jiq->len == 0)
		wqfs_jiq_append(jiq, "    time  delta preempt   pid cpu command\n");
	pthread_getname_np(pthread_self(), comm, sizeof(comm));
	wqfs_jiq_append(jiq, "%9li  %4li     %3i %5i %3i %s\n",
			(long)j, (long)(j - jiq->jiffies), 0, (int)gettid(),
			sched_getcpu(), comm);
	jiq->jiffies = j;
	return true;
}

/*
 * Queue the next step as schedule_work() / schedule_delayed_work() do, on
 * the caller's CPU: at once, or delay jiffies from now.  0 or -errno.
 */
static int wqfs_jiq_queue(struct wqfs_jiq *jiq)
{
	if (jiq->delay)
		return wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, jiq->wq, &jiq->dwork,
						wq_jiffies_to_ns(jiq->delay));
	return wq_queue_work_on(WORK_CPU_UNBOUND, jiq->wq, &jiq->dwork.work);
}

/* Hand the page over, unless cancelled.  jiq may be freed once done runs. */
static void wqfs_jiq_finish(struct wqfs_jiq *jiq)
{
	int running = WQFS_JIQ_RUNNING;

	if (atomic_compare_exchange_strong(&jiq->state, &running, WQFS_JIQ_DONE))
		jiq->done(jiq->page, jiq->len, jiq->data);
}

/* jiq_print_wq(): the work's func. */
static void wqfs_jiq_step(struct work_struct *work)
{
	struct wqfs_jiq *jiq = wqfs_jiq_of(work);

	if (atomic_load(&jiq->state) != WQFS_JIQ_RUNNING)
		return;
	/* A step that cannot re-queue ends the run with what it has. */
	if (!wqfs_jiq_print(jiq) || wqfs_jiq_queue(jiq) < 0)
		wqfs_jiq_finish(jiq);
}

struct wqfs_jiq *wqfs_jiq_start(struct workqueue_struct *wq, unsigned long delay,
				wqfs_jiq_done_fn done, void *data)
{
	struct wqfs_jiq *jiq = g_new0(struct wqfs_jiq, 1);
	int err;

	INIT_DELAYED_WORK(&jiq->dwork, wqfs_jiq_step);
	jiq->wq = wq;
	jiq->delay = delay;
	jiq->done = done;
	jiq->data = data;
	atomic_init(&jiq->state, WQFS_JIQ_RUNNING);
	jiq->jiffies = wq_jiffies();	/* initial time */

	err = wqfs_jiq_queue(jiq);
	if (err < 0) {
		g_free(jiq);
		errno = -err;
		return NULL;
	}
	return jiq;
}

bool wqfs_jiq_cancel(struct wqfs_jiq *jiq)
{
	int running = WQFS_JIQ_RUNNING;

	if (!atomic_compare_exchange_strong(&jiq->state, &running,
					    WQFS_JIQ_CANCELLED))
		return false;
	/* Stop the chain and wait for a step that is running. */
	cancel_delayed_work_sync(&jiq->dwork);
	return true;
}

void wqfs_jiq_free(struct wqfs_jiq *jiq)
{
	g_free(jiq);
}
