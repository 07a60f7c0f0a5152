// SPDX-License-Identifier: MIT
/*
 * Stress test of the workqueue engine: threads hammer a shared set of
 * works across three queues with random queue / delay / modify / cancel /
 * flush calls, and some works re-queue themselves.  Every call that made
 * a new pending instance is counted, every cancel that removed one too;
 * at the end, when everything has run, each work must have run exactly
 * (instances made - instances cancelled) times.
 */
#include <glib.h>
#include <string.h>

#include "workqueue.h"

#define US	1000ULL

enum { NR_WQS = 3, NR_WORKS = 48, NR_THREADS = 4 };

enum op {
	OP_QUEUE, OP_QUEUE_ON, OP_DELAY, OP_MOD, OP_CANCEL_SYNC, OP_CANCEL,
	OP_FLUSH_WORK, OP_FLUSH_DELAYED, OP_FLUSH_WQ, NR_OPS,
};

struct stress_work {
	struct delayed_work dwork;
	struct workqueue_struct *home;	/* where it re-queues itself */
	gint ran;			/* func calls */
	gint made;			/* pending instances made */
	gint cancelled;			/* pending instances cancelled */
};

static struct workqueue_struct *wqs[NR_WQS];
static struct stress_work works[NR_WORKS];
static gint stopping;
static unsigned int pause_us;	/* set between runs: a pause every 16 ops */

static void stress_fn(struct work_struct *work)
{
	struct stress_work *sw = (struct stress_work *)to_delayed_work(work);
	int ran = g_atomic_int_add(&sw->ran, 1) + 1;

	/* Every seventh run chains itself, as a self-rearming driver does. */
	if (ran % 7 == 0 && !g_atomic_int_get(&stopping) &&
	    wq_queue_work_on(WORK_CPU_UNBOUND, sw->home, work) == 0)
		g_atomic_int_inc(&sw->made);
}

static void do_op(GRand *rand, const unsigned int *weights, unsigned int total)
{
	struct stress_work *sw = &works[g_rand_int_range(rand, 0, NR_WORKS)];
	struct workqueue_struct *wq = wqs[g_rand_int_range(rand, 0, NR_WQS)];
	uint64_t delay = (uint64_t)g_rand_int_range(rand, 0, 2000) * US;
	unsigned int pick = (unsigned int)g_rand_int_range(rand, 0, (gint32)total);
	enum op op = 0;

	while (pick >= weights[op])
		pick -= weights[op++];
	switch (op) {
	case OP_QUEUE:
		if (queue_work(wq, &sw->dwork.work))
			g_atomic_int_inc(&sw->made);
		break;
	case OP_QUEUE_ON:
		if (queue_work_on(0, wq, &sw->dwork.work))
			g_atomic_int_inc(&sw->made);
		break;
	case OP_DELAY:
		if (wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, wq, &sw->dwork, delay) == 0)
			g_atomic_int_inc(&sw->made);
		break;
	case OP_MOD:
		if (wq_mod_delayed_work_ns(WORK_CPU_UNBOUND, wq, &sw->dwork, delay) == 0)
			g_atomic_int_inc(&sw->made);
		break;
	case OP_CANCEL_SYNC:
		if (cancel_delayed_work_sync(&sw->dwork))
			g_atomic_int_inc(&sw->cancelled);
		break;
	case OP_CANCEL:
		if (cancel_delayed_work(&sw->dwork))
			g_atomic_int_inc(&sw->cancelled);
		break;
	case OP_FLUSH_WORK:
		flush_work(&sw->dwork.work);
		break;
	case OP_FLUSH_DELAYED:
		flush_delayed_work(&sw->dwork);
		break;
	case OP_FLUSH_WQ:
		g_assert_cmpint(flush_workqueue(wq), ==, 0);
		break;
	case NR_OPS:
		g_assert_not_reached();
	}
}

struct stress_thread {
	GThread *thread;
	guint32 seed;
	unsigned int ops;
	const unsigned int *weights;
};

static gpointer stress_thread_fn(gpointer data)
{
	struct stress_thread *st = data;
	GRand *rand = g_rand_new_with_seed(st->seed);
	unsigned int total = 0;

	for (int op = 0; op < NR_OPS; op++)
		total += st->weights[op];
	for (unsigned int i = 0; i < st->ops; i++) {
		do_op(rand, st->weights, total);
		if (pause_us && i % 16 == 15)
			g_usleep((gulong)g_rand_int_range(rand, 0, 2 * (gint32)pause_us));
	}
	g_rand_free(rand);
	return NULL;
}

static bool all_idle(void)
{
	for (int i = 0; i < NR_WORKS; i++)
		if (work_busy(&works[i].dwork.work))
			return false;
	return true;
}

static void run_stress(const unsigned int *weights, unsigned int ops)
{
	struct stress_thread threads[NR_THREADS];
	guint32 seed = g_test_rand_int();
	long ran = 0, cancelled = 0;

	g_test_message("seed %u", seed);
	wqs[0] = alloc_workqueue("stress-u", WQ_UNBOUND, 4);
	wqs[1] = alloc_workqueue("stress-pcpu", 0, 1);
	wqs[2] = alloc_ordered_workqueue("stress-ord", 0);
	g_atomic_int_set(&stopping, 0);
	for (int i = 0; i < NR_WORKS; i++) {
		memset(&works[i], 0, sizeof(works[i]));
		INIT_DELAYED_WORK(&works[i].dwork, stress_fn);
		works[i].home = wqs[i % NR_WQS];
	}
	for (int t = 0; t < NR_THREADS; t++) {
		threads[t].seed = seed + (guint32)t;
		threads[t].ops = ops;
		threads[t].weights = weights;
		threads[t].thread = g_thread_new("stress", stress_thread_fn, &threads[t]);
	}
	for (int t = 0; t < NR_THREADS; t++)
		g_thread_join(threads[t].thread);

	/* Stop the chains, then run every armed work now and wait. */
	g_atomic_int_set(&stopping, 1);
	do {
		for (int i = 0; i < NR_WORKS; i++)
			flush_delayed_work(&works[i].dwork);
		for (int q = 0; q < NR_WQS; q++)
			g_assert_cmpint(flush_workqueue(wqs[q]), ==, 0);
	} while (!all_idle());

	for (int i = 0; i < NR_WORKS; i++) {
		struct stress_work *sw = &works[i];

		g_assert_cmpint(sw->ran, ==, sw->made - sw->cancelled);
		ran += sw->ran;
		cancelled += sw->cancelled;
	}
	g_test_message("%ld runs, %ld cancelled", ran, cancelled);
	g_assert_cmpint(ran, >, 0);
	for (int q = 0; q < NR_WQS; q++) {
		struct wq_stats st;

		wq_get_stats(wqs[q], &st);
		g_assert_cmpuint(st.pending + st.delayed + st.running, ==, 0);
		g_assert_cmpuint(st.started, ==, st.completed);
		g_assert_cmpint(destroy_workqueue(wqs[q]), ==, 0);
	}
}

static void test_exact_counts(void)
{
	/* queue, queue_on, delay, mod, cancel_sync, cancel, flush_work,
	 * flush_delayed, flush_wq */
	static const unsigned int weights[NR_OPS] = { 30, 10, 15, 10, 8, 8, 6, 4, 1 };

	run_stress(weights, 20000);
}

/* Workers time out after 1 ms idle: queueing races their exit all along. */
static void test_idle_expiry(void)
{
	static const unsigned int weights[NR_OPS] = { 30, 10, 15, 10, 8, 8, 6, 4, 1 };

	wq_set_worker_idle_timeout_ms(1);
	pause_us = 1000;	/* let the workers go idle now and then */
	run_stress(weights, 10000);
	pause_us = 0;
	wq_set_worker_idle_timeout_ms(0);
}

/* Every run is observed starting and finishing. */
static gint observed_started, observed_finished;

static void count_events(const struct wq_event *ev, void *data)
{
	if (ev->type == WQ_EVENT_STARTED)
		g_atomic_int_inc(&observed_started);
	else if (ev->type == WQ_EVENT_FINISHED)
		g_atomic_int_inc(&observed_finished);
}

static void test_delayed_mix(void)
{
	static const unsigned int weights[NR_OPS] = { 5, 0, 30, 30, 10, 15, 2, 5, 1 };

	wq_set_observer(count_events, NULL);
	run_stress(weights, 20000);
	wq_set_observer(NULL, NULL);
	g_assert_cmpint(observed_started, >, 0);
	g_assert_cmpint(observed_started, ==, observed_finished);
}

int main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(wq_init(250), ==, 0);
	g_test_add_func("/engine/stress/exact-counts", test_exact_counts);
	g_test_add_func("/engine/stress/delayed-mix-observed", test_delayed_mix);
	g_test_add_func("/engine/stress/idle-expiry", test_idle_expiry);
	ret = g_test_run();
	wq_exit();
	return ret;
}
