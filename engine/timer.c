// SPDX-License-Identifier: MIT
/*
 * timer.c - the one timer thread that fires the engine's timers.
 *
 * Armed timers sit in a min-heap (heap.h) keyed by their absolute
 * CLOCK_MONOTONIC expiry.  The thread sleeps on a CLOCK_MONOTONIC
 * condition until the earliest expiry, with a 1 ns timer slack so it wakes
 * on time, then takes every due timer out of the heap and calls its fn,
 * all in one hold of wq_lock; what those fns set in motion (queued works'
 * events, workers to start) is carried out by wq_unlock().
 *
 * The heap and timer_stop are guarded by wq_lock; see internal.h.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <time.h>

#include "compiler.h"
#include "lock.h"
#include "timer.h"

static bool timer_less(const struct heap_node *a, const struct heap_node *b)
{
	return container_of(a, struct wq_timer, node)->expires_ns <
	       container_of(b, struct wq_timer, node)->expires_ns;
}

static struct heap timer_heap = HEAP_INIT(timer_less);	/* wq_lock */
static pthread_cond_t timer_cond;	/* earliest expiry moved, or stop */
static bool timer_stop;			/* wq_lock */
static bool timer_running;		/* wq_timer_start/stop only */
static pthread_t timer_thread;		/* wq_timer_start/stop only */

static uint64_t timer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct wq_timer *timer_first(void)
{
	struct heap_node *node = heap_peek(&timer_heap);

	return node ? container_of(node, struct wq_timer, node) : NULL;
}

int wq_timer_arm(struct wq_timer *timer, uint64_t expires_ns)
{
	wq_lockdep_assert_held();
	timer->expires_ns = expires_ns;
	if (wq_timer_armed(timer))
		heap_update(&timer_heap, &timer->node);
	else if (heap_insert(&timer_heap, &timer->node))
		return -ENOMEM;
	if (timer_first() == timer)
		pthread_cond_signal(&timer_cond);
	return 0;
}

void wq_timer_disarm(struct wq_timer *timer)
{
	wq_lockdep_assert_held();
	heap_remove(&timer_heap, &timer->node);
	/* The timer thread may now wake too early; it simply re-checks. */
}

/* Fire every due timer; wq_lock held. */
static void timer_expire(uint64_t now)
{
	struct wq_timer *timer;

	wq_lockdep_assert_held();
	while ((timer = timer_first()) && timer->expires_ns <= now) {
		heap_remove(&timer_heap, &timer->node);
		timer->fn(timer);
	}
}

static void *timer_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	pthread_setname_np(pthread_self(), "wq/timer");

	wq_lock();
	while (!timer_stop) {
		struct wq_timer *first = timer_first();
		uint64_t now = timer_now_ns();

		if (!first) {
			wq_cond_wait(&timer_cond);
		} else if (first->expires_ns > now) {
			wq_cond_timedwait(&timer_cond, first->expires_ns);
		} else {
			timer_expire(now);
			wq_unlock();	/* carry out what the fns set going */
			wq_lock();
		}
	}
	wq_unlock();
	return NULL;
}

int wq_timer_start(void)
{
	int err;

	wq_lockdep_assert_not_held();
	err = wq_cond_init(&timer_cond);
	if (err)
		return -err;
	timer_stop = false;
	err = pthread_create(&timer_thread, NULL, timer_main, NULL);
	if (err) {
		pthread_cond_destroy(&timer_cond);
		return -err;
	}
	timer_running = true;
	return 0;
}

void wq_timer_stop(void)
{
	wq_lockdep_assert_not_held();
	if (!timer_running)
		return;
	wq_lock();
	timer_stop = true;
	pthread_cond_signal(&timer_cond);
	wq_unlock();
	pthread_join(timer_thread, NULL);
	pthread_cond_destroy(&timer_cond);
	timer_running = false;
	heap_destroy(&timer_heap);
}
