// SPDX-License-Identifier: MIT
/*
 * timer.c - the one timer thread that arms delayed works.
 *
 * Armed delayed works sit in a binary min-heap of pointers keyed by their
 * absolute CLOCK_MONOTONIC deadline; each dwork remembers its slot
 * (1 + index, 0 = not armed), so insert, remove-anywhere and re-key are
 * O(log n) and the heap costs one pointer per armed work.  The thread
 * sleeps on a CLOCK_MONOTONIC condition until the earliest deadline, with
 * a 1 ns timer slack so it wakes at the deadline, and moves every due work
 * onto its pool's worklist in one pass.
 *
 * Everything here is guarded by wq_lock (see internal.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

#include "internal.h"

#define HEAP_MIN_CAP	64

static struct delayed_work **heap;	/* wq_lock */
static size_t heap_len;			/* wq_lock */
static size_t heap_cap;			/* wq_lock */
static pthread_cond_t timer_cond;	/* earliest deadline moved, or stop */
static bool timer_stop;			/* wq_lock */
static bool timer_running;		/* wq_init/wq_exit only */
static pthread_t timer_thread;

static void heap_set(size_t i, struct delayed_work *dwork)
{
	heap[i] = dwork;
	dwork->heap_slot = i + 1;
}

static bool heap_less(size_t a, size_t b)
{
	return heap[a]->deadline_ns < heap[b]->deadline_ns;
}

static void heap_swap(size_t a, size_t b)
{
	struct delayed_work *tmp = heap[a];

	heap_set(a, heap[b]);
	heap_set(b, tmp);
}

static size_t sift_up(size_t i)
{
	while (i > 0 && heap_less(i, (i - 1) / 2)) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return i;
}

static void sift_down(size_t i)
{
	for (;;) {
		size_t least = i, left = 2 * i + 1, right = left + 1;

		if (left < heap_len && heap_less(left, least))
			least = left;
		if (right < heap_len && heap_less(right, least))
			least = right;
		if (least == i)
			return;
		heap_swap(i, least);
		i = least;
	}
}

/* Restore order around slot i after its key changed; returns its index. */
static size_t heap_fix(size_t i)
{
	size_t j = sift_up(i);

	if (j == i)
		sift_down(i);
	return j;
}

static int heap_resize(size_t cap)
{
	struct delayed_work **grown = realloc(heap, cap * sizeof(*heap));

	if (!grown)
		return -ENOMEM;
	heap = grown;
	heap_cap = cap;
	return 0;
}

int wq_timer_arm(struct delayed_work *dwork, uint64_t deadline_ns)
{
	size_t i;

	dwork->deadline_ns = deadline_ns;
	if (dwork->heap_slot) {
		i = heap_fix(dwork->heap_slot - 1);
	} else {
		if (heap_len == heap_cap &&
		    heap_resize(heap_cap ? 2 * heap_cap : HEAP_MIN_CAP))
			return -ENOMEM;
		heap_set(heap_len++, dwork);
		i = sift_up(heap_len - 1);
	}
	if (i == 0)
		pthread_cond_signal(&timer_cond);
	return 0;
}

void wq_timer_disarm(struct delayed_work *dwork)
{
	size_t i = dwork->heap_slot - 1;

	dwork->heap_slot = 0;
	if (--heap_len != i) {
		heap_set(i, heap[heap_len]);
		heap_fix(i);
	}
	/* Give memory back after a burst, keeping room to grow again. */
	if (heap_cap > HEAP_MIN_CAP && heap_len < heap_cap / 4)
		heap_resize(heap_cap / 2);
	/* The timer thread may now sleep too early; it simply re-checks. */
}

static struct timespec ns_to_timespec(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / NSEC_PER_SEC),
		.tv_nsec = (long)(ns % NSEC_PER_SEC),
	};
	return ts;
}

/* Move every due work to its worklist; wq_lock held. */
static void timer_expire(uint64_t now)
{
	while (heap_len && heap[0]->deadline_ns <= now) {
		struct delayed_work *dwork = heap[0];

		wq_timer_disarm(dwork);
		wq_delayed_work_timer_fn(dwork);
	}
}

static void *timer_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	pthread_setname_np(pthread_self(), "wq/timer");

	pthread_mutex_lock(&wq_lock);
	while (!timer_stop) {
		uint64_t now = wq_now_ns();

		if (!heap_len) {
			pthread_cond_wait(&timer_cond, &wq_lock);
		} else if (heap[0]->deadline_ns > now) {
			struct timespec ts = ns_to_timespec(heap[0]->deadline_ns);

			pthread_cond_timedwait(&timer_cond, &wq_lock, &ts);
		} else {
			timer_expire(now);
			wq_unlock();	/* deliver QUEUED events */
			pthread_mutex_lock(&wq_lock);
		}
	}
	pthread_mutex_unlock(&wq_lock);
	return NULL;
}

int wq_timer_start(void)
{
	pthread_condattr_t attr;
	int err;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	err = pthread_cond_init(&timer_cond, &attr);
	pthread_condattr_destroy(&attr);
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
	if (!timer_running)
		return;
	pthread_mutex_lock(&wq_lock);
	timer_stop = true;
	pthread_cond_signal(&timer_cond);
	pthread_mutex_unlock(&wq_lock);
	pthread_join(timer_thread, NULL);
	pthread_cond_destroy(&timer_cond);
	timer_running = false;

	free(heap);
	heap = NULL;
	heap_len = heap_cap = 0;
}
