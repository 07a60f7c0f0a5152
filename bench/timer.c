/* SPDX-License-Identifier: MIT */
/*
 * timer - lateness of the engine's delayed works, against the lateness of
 * a raw clock_nanosleep(TIMER_ABSTIME) in the same process and the same
 * run.
 *
 *   timer [-p PENDING] [-n SAMPLES] [-d MIN_US] [-D MAX_US]
 *
 * PENDING delayed works (default 100000) are armed an hour or more in the
 * future, so the timer heap is big while the samples run.  Then, SAMPLES
 * times (default 1000), alternately:
 *   raw:    deadline = now + delay; clock_nanosleep(CLOCK_MONOTONIC,
 *           TIMER_ABSTIME, deadline); lateness = now - deadline
 *   engine: deadline = now + delay; wq_queue_delayed_work_ns(delay); the
 *           work's func reads the clock first thing; lateness = that -
 *           deadline (the engine computes its own deadline a little later
 *           than ours, so this errs on the late side)
 * with delay drawn uniformly from MIN_US..MAX_US (default 1000..3000 µs).
 * The raw sleep is measured twice: with the default timer slack of a
 * thread (50 µs: what a plain program gets) and with a 1 ns slack, as the
 * engine's timer thread sets for itself: that one is the fair baseline.
 * The queue is unbound with max_active 4; one sample runs at a time.
 *
 * Prints one line of key=value: the p50, p99 and max of each in µs, and
 * the cost of arming and of cancelling one work in the big heap (ns).
 */
#include <errno.h>
#include <inttypes.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "workqueue.h"

struct sample {
	struct delayed_work dw;
	uint64_t started;
	sem_t done;
};

static void sample_func(struct work_struct *work)
{
	uint64_t t = wq_now_ns();
	struct sample *s = (struct sample *)to_delayed_work(work);

	s->started = t;
	sem_post(&s->done);
}

static void idle_func(struct work_struct *work)
{
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double pct(const int64_t *sorted, size_t n, double p)
{
	size_t k = (size_t)(p * (double)(n - 1) + 0.5);

	return (double)sorted[k] / 1000.0;
}

int main(int argc, char **argv)
{
	size_t pending = 100000, samples = 1000;
	unsigned long min_us = 1000, max_us = 3000;
	struct workqueue_struct *wq;
	struct delayed_work *far;
	struct sample s;
	int64_t *raw, *fine, *eng;
	unsigned long slack0;
	uint64_t t0, arm_ns, cancel_ns;
	unsigned int seed = 12345;
	int opt, r;

	while ((opt = getopt(argc, argv, "p:n:d:D:")) != -1) {
		switch (opt) {
		case 'p': pending = strtoul(optarg, NULL, 0); break;
		case 'n': samples = strtoul(optarg, NULL, 0); break;
		case 'd': min_us = strtoul(optarg, NULL, 0); break;
		case 'D': max_us = strtoul(optarg, NULL, 0); break;
		default:
			fputs("usage: timer [-p PENDING] [-n SAMPLES] [-d MIN_US] [-D MAX_US]\n",
			      stderr);
			return 2;
		}
	}
	if (samples == 0 || max_us < min_us)
		return 2;

	r = wq_init(250);
	if (r < 0) {
		fprintf(stderr, "timer: wq_init: %s\n", strerror(-r));
		return 1;
	}
	wq = alloc_workqueue("bench", WQ_UNBOUND, 4);
	if (wq == NULL) {
		perror("timer: alloc_workqueue");
		return 1;
	}

	far = calloc(pending ? pending : 1, sizeof(*far));
	raw = calloc(samples, sizeof(*raw));
	fine = calloc(samples, sizeof(*fine));
	eng = calloc(samples, sizeof(*eng));
	if (far == NULL || raw == NULL || fine == NULL || eng == NULL) {
		perror("timer");
		return 1;
	}
	t0 = mono_ns();
	for (size_t i = 0; i < pending; i++) {
		INIT_DELAYED_WORK(&far[i], idle_func);
		/* An hour, plus a spread so the heap is not degenerate. */
		r = wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, wq, &far[i],
					     3600ULL * 1000000000ULL +
					     (uint64_t)(rand_r(&seed) % 1000000) * 1000ULL);
		if (r < 0) {
			fprintf(stderr, "timer: queue far %zu: %s\n", i, strerror(-r));
			return 1;
		}
	}
	arm_ns = pending ? (mono_ns() - t0) / pending : 0;

	memset(&s, 0, sizeof(s));
	INIT_DELAYED_WORK(&s.dw, sample_func);
	sem_init(&s.done, 0, 0);

	slack0 = (unsigned long)prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL);
	for (size_t i = 0; i < samples; i++) {
		uint64_t delay = (min_us + (unsigned long)rand_r(&seed) %
				  (max_us - min_us + 1)) * 1000ULL;
		uint64_t deadline, t;
		struct timespec ts;

		/* raw */
		deadline = mono_ns() + delay;
		ts.tv_sec = (time_t)(deadline / 1000000000ULL);
		ts.tv_nsec = (long)(deadline % 1000000000ULL);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		t = mono_ns();
		raw[i] = (int64_t)(t - deadline);

		/* raw, 1 ns slack */
		prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
		deadline = mono_ns() + delay;
		ts.tv_sec = (time_t)(deadline / 1000000000ULL);
		ts.tv_nsec = (long)(deadline % 1000000000ULL);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		t = mono_ns();
		fine[i] = (int64_t)(t - deadline);
		prctl(PR_SET_TIMERSLACK, slack0, 0UL, 0UL, 0UL);

		/* engine */
		deadline = wq_now_ns() + delay;
		r = wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, wq, &s.dw, delay);
		if (r < 0) {
			fprintf(stderr, "timer: queue sample: %s\n", strerror(-r));
			return 1;
		}
		while (sem_wait(&s.done) != 0)
			;
		/* Let the worker return from func before the work is reused. */
		flush_work(&s.dw.work);
		eng[i] = (int64_t)(s.started - deadline);
	}

	t0 = mono_ns();
	for (size_t i = 0; i < pending; i++)
		cancel_delayed_work(&far[i]);
	cancel_ns = pending ? (mono_ns() - t0) / pending : 0;

	qsort(raw, samples, sizeof(*raw), cmp_i64);
	qsort(fine, samples, sizeof(*fine), cmp_i64);
	qsort(eng, samples, sizeof(*eng), cmp_i64);
	printf("pending=%zu samples=%zu engine_p50_us=%.1f engine_p99_us=%.1f "
	       "engine_max_us=%.1f raw_p50_us=%.1f raw_p99_us=%.1f raw_max_us=%.1f "
	       "fine_p50_us=%.1f fine_p99_us=%.1f fine_max_us=%.1f slack_ns=%lu "
	       "arm_ns=%" PRIu64 " cancel_ns=%" PRIu64 "\n",
	       pending, samples, pct(eng, samples, 0.5), pct(eng, samples, 0.99),
	       (double)eng[samples - 1] / 1000.0, pct(raw, samples, 0.5),
	       pct(raw, samples, 0.99), (double)raw[samples - 1] / 1000.0,
	       pct(fine, samples, 0.5), pct(fine, samples, 0.99),
	       (double)fine[samples - 1] / 1000.0, slack0,
	       arm_ns, cancel_ns);

	destroy_workqueue(wq);
	wq_exit();
	sem_destroy(&s.done);
	free(far);
	free(raw);
	free(fine);
	free(eng);
	return 0;
}
