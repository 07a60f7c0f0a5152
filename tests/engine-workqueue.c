// SPDX-License-Identifier: MIT
/*
 * Unit tests of the workqueue engine (engine/workqueue.h).  No timing
 * assertions: waits use gates, flushes and condition variables; sleeps
 * only give a wrong behaviour the chance to show.
 */
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "workqueue.h"

#define MS	1000000ULL

/* ---- helpers ------------------------------------------------------------ */

/* A gate a work can block on, and a count of waiters the test can await. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	int arrived;
};

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->open = false;
	g->arrived = 0;
}

static void gate_clear(struct gate *g)
{
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

static void gate_pass(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->arrived++;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_await(struct gate *g, int arrived)
{
	pthread_mutex_lock(&g->lock);
	while (g->arrived < arrived)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* A work with a run counter and an optional gate. */
struct test_work {
	struct delayed_work dwork;
	struct gate *gate;
	gint runs;
	gint concurrent;
	gint max_concurrent;
	int result;
	struct workqueue_struct *requeue_on;	/* re-queue itself there */
	int requeue_results[4];			/* wq_queue_work_on results */
	int order;
	int *log;				/* append order here ... */
	gint *log_len;				/* ... at this index */
};

static void test_work_fn(struct work_struct *work)
{
	struct test_work *tw = (struct test_work *)to_delayed_work(work);
	int now = g_atomic_int_add(&tw->concurrent, 1) + 1;
	int max = g_atomic_int_get(&tw->max_concurrent);

	while (now > max && !g_atomic_int_compare_and_exchange(&tw->max_concurrent, max, now))
		max = g_atomic_int_get(&tw->max_concurrent);
	if (tw->log)
		tw->log[g_atomic_int_add(tw->log_len, 1)] = tw->order;
	if (tw->gate)
		gate_pass(tw->gate);
	g_atomic_int_add(&tw->concurrent, -1);
	if (tw->requeue_on)
		wq_queue_work_on(WORK_CPU_UNBOUND, tw->requeue_on, work);
	wq_set_result(tw->result, 0);
	g_atomic_int_inc(&tw->runs);
}

static void test_work_init(struct test_work *tw)
{
	memset(tw, 0, sizeof(*tw));
	INIT_DELAYED_WORK(&tw->dwork, test_work_fn);
}

#define W(tw)	(&(tw)->dwork.work)

/* An async barrier the test can wait for. */
struct async_done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;
	int result;
};

static void async_done_fn(struct wq_barrier *b, int result, void *data)
{
	struct async_done *d = data;

	pthread_mutex_lock(&d->lock);
	d->calls++;
	d->result = result;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static int async_done_wait(struct async_done *d)
{
	int result;

	pthread_mutex_lock(&d->lock);
	while (!d->calls)
		pthread_cond_wait(&d->cond, &d->lock);
	result = d->result;
	pthread_mutex_unlock(&d->lock);
	return result;
}

static int async_done_calls(struct async_done *d)
{
	int calls;

	pthread_mutex_lock(&d->lock);
	calls = d->calls;
	pthread_mutex_unlock(&d->lock);
	return calls;
}

static struct workqueue_struct *unbound_wq(const char *name, int max_active)
{
	struct workqueue_struct *wq = alloc_workqueue("%s", WQ_UNBOUND, max_active, name);

	g_assert_nonnull(wq);
	return wq;
}

static void destroy(struct workqueue_struct *wq)
{
	g_assert_cmpint(destroy_workqueue(wq), ==, 0);
}

/* ---- observer recording ------------------------------------------------- */

struct recorded {
	enum wq_event_type type;
	struct work_struct *work;
	int result;
	int cpu;
	char comm[16];
	char name[WQ_EVENT_NAME_MAX];
};

static struct {
	pthread_mutex_t lock;
	struct workqueue_struct *wq;	/* only this queue */
	GArray *events;
} rec;

static void record_fn(const struct wq_event *ev, void *data)
{
	struct recorded r = { .type = ev->type, .work = ev->work,
			      .result = ev->result, .cpu = ev->cpu };

	g_assert_true(data == &rec);
	g_assert_nonnull(ev->comm);
	g_strlcpy(r.comm, ev->comm, sizeof(r.comm));
	g_assert_nonnull(ev->name);
	g_strlcpy(r.name, ev->name, sizeof(r.name));
	pthread_mutex_lock(&rec.lock);
	if (ev->wq == rec.wq)
		g_array_append_val(rec.events, r);
	pthread_mutex_unlock(&rec.lock);
}

static void record_start(struct workqueue_struct *wq)
{
	rec.wq = wq;
	rec.events = g_array_new(false, true, sizeof(struct recorded));
	wq_set_observer(record_fn, &rec);
}

static GArray *record_stop(void)
{
	GArray *events;

	wq_set_observer(NULL, NULL);
	events = rec.events;
	rec.events = NULL;
	return events;
}

/* ---- time --------------------------------------------------------------- */

static void test_time_jiffies(void)
{
	unsigned long j = wq_jiffies();

	g_assert_cmpuint(wq_hz(), ==, 250);
	g_assert_cmpuint(msecs_to_jiffies(1000), ==, 250);
	g_assert_cmpuint(msecs_to_jiffies(1), ==, 1);	/* rounds up */
	g_assert_cmpuint(wq_jiffies_to_ns(250), ==, 1000000000ULL);
	g_assert_cmpuint(wq_ns_to_jiffies(4 * MS), ==, 1);
	g_assert_cmpuint(wq_jiffies_to_ns(ULONG_MAX), ==, UINT64_MAX);
	g_usleep(10000);
	g_assert_cmpuint(wq_jiffies(), >, j);
	g_assert_cmpuint(wq_now_ns(), >, 0);
}

/* ---- queueing ---------------------------------------------------------- */

static void test_queue_already_pending(void)
{
	struct workqueue_struct *wq = unbound_wq("pending", 1);
	struct async_done done = { 0 };
	struct test_work tw;
	struct wq_barrier b;
	struct wq_stats st;

	test_work_init(&tw);
	wq_freeze(wq, true);
	g_assert_true(wq_frozen(wq));
	g_assert_true(queue_work(wq, W(&tw)));
	g_assert_false(queue_work(wq, W(&tw)));
	g_assert_cmpint(wq_queue_work_on(0, wq, W(&tw)), ==, -EALREADY);
	g_assert_true(work_pending(W(&tw)));
	g_assert_cmpuint(work_busy(W(&tw)), ==, WORK_BUSY_PENDING);
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.pending, ==, 1);
	g_assert_cmpuint(st.started, ==, 0);
	/* Waiting on a pending instance: true once it ran. */
	g_assert_cmpint(wq_flush_work_async(W(&tw), &b, async_done_fn, &done), ==, 0);
	wq_freeze(wq, false);
	g_assert_cmpint(async_done_wait(&done), ==, 1);
	g_assert_cmpint(tw.runs, ==, 1);
	g_assert_false(work_pending(W(&tw)));
	g_assert_cmpuint(work_busy(W(&tw)), ==, 0);
	g_assert_false(flush_work(W(&tw)));	/* idle */
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.started, ==, 1);
	g_assert_cmpuint(st.completed, ==, 1);
	g_assert_cmpuint(st.pending, ==, 0);
	g_assert_cmpuint(st.workers, ==, 1);
	destroy(wq);
}

static void test_queue_einval_cpu(void)
{
	struct workqueue_struct *wq = create_workqueue("einval");
	struct workqueue_struct *uwq = unbound_wq("einval-u", 1);
	struct test_work tw;

	test_work_init(&tw);
	g_assert_cmpint(wq_queue_work_on(CPU_SETSIZE + 1, wq, W(&tw)), ==, -EINVAL);
	g_assert_cmpint(wq_queue_work_on(-7, wq, W(&tw)), ==, -EINVAL);
	g_assert_cmpint(wq_queue_delayed_work_ns(-7, wq, &tw.dwork, MS), ==, -EINVAL);
	g_assert_cmpint(wq_mod_delayed_work_ns(-7, wq, &tw.dwork, MS), ==, -EINVAL);
	g_assert_false(work_pending(W(&tw)));
	/* An unbound queue ignores the CPU. */
	g_assert_cmpint(wq_queue_work_on(CPU_SETSIZE + 1, uwq, W(&tw)), ==, 0);
	flush_work(W(&tw));
	g_assert_cmpint(tw.runs, ==, 1);
	destroy(wq);
	destroy(uwq);
}

static void test_queue_requeue_while_running(void)
{
	struct workqueue_struct *wq = unbound_wq("requeue", 4);
	struct async_done done = { 0 };
	struct test_work tw;
	struct wq_barrier b;
	struct gate gate;

	gate_init(&gate);
	test_work_init(&tw);
	tw.gate = &gate;
	g_assert_true(queue_work(wq, W(&tw)));
	gate_await(&gate, 1);
	g_assert_cmpuint(work_busy(W(&tw)), ==, WORK_BUSY_RUNNING);
	g_assert_true(queue_work(wq, W(&tw)));
	g_assert_cmpuint(work_busy(W(&tw)), ==, WORK_BUSY_RUNNING | WORK_BUSY_PENDING);
	/* Other workers are free: they must not start the second instance. */
	g_usleep(20000);
	g_assert_cmpint(gate.arrived, ==, 1);
	/* flush_work waits for the last instance: the pending one. */
	g_assert_cmpint(wq_flush_work_async(W(&tw), &b, async_done_fn, &done), ==, 0);
	gate_open(&gate);
	g_assert_cmpint(async_done_wait(&done), ==, 1);
	g_assert_cmpint(tw.runs, ==, 2);
	g_assert_cmpint(tw.max_concurrent, ==, 1);
	destroy(wq);
	gate_clear(&gate);
}

/* The LDD pattern: a work embedded in a struct with its data, freed by
 * its own func; the data arrives and no event touches the freed work. */
struct my_work {
	struct work_struct work;
	int data;
};

static gint embedded_data_seen;

static void my_wq_function(struct work_struct *work)
{
	struct my_work *my_work = (struct my_work *)work;

	g_atomic_int_set(&embedded_data_seen, my_work->data);
	g_free(work);
}

static void test_embedded_work_frees_itself(void)
{
	struct workqueue_struct *my_wq = create_workqueue("my_queue");
	struct my_work *work = g_new(struct my_work, 1);
	struct wq_stats st;

	INIT_WORK((struct work_struct *)work, my_wq_function);
	work->data = 42;
	record_start(my_wq);	/* events must not touch the freed work */
	g_assert_true(queue_work(my_wq, (struct work_struct *)work));
	g_assert_cmpint(flush_workqueue(my_wq), ==, 0);
	g_array_unref(record_stop());
	g_assert_cmpint(g_atomic_int_get(&embedded_data_seen), ==, 42);
	wq_get_stats(my_wq, &st);
	g_assert_cmpuint(st.completed, ==, 1);
	g_assert_cmpint(destroy_workqueue(my_wq), ==, 0);
}

/* ---- flush -------------------------------------------------------------- */

static void test_flush_not_later_work(void)
{
	struct workqueue_struct *wq = unbound_wq("flushwq", 1);
	struct test_work w1, w2, w3;
	struct gate g1, g3;
	struct async_done done = { 0 };
	struct wq_barrier b;

	gate_init(&g1);
	gate_init(&g3);
	test_work_init(&w1);
	test_work_init(&w2);
	test_work_init(&w3);
	w1.gate = &g1;
	w3.gate = &g3;
	g_assert_true(queue_work(wq, W(&w1)));
	g_assert_true(queue_work(wq, W(&w2)));
	gate_await(&g1, 1);
	g_assert_cmpint(wq_flush_workqueue_async(wq, &b, async_done_fn, &done), ==, 0);
	g_assert_true(queue_work(wq, W(&w3)));
	g_assert_cmpint(async_done_calls(&done), ==, 0);
	gate_open(&g1);
	g_assert_cmpint(async_done_wait(&done), ==, 0);
	/* The flush ended while the later w3 is still blocked or pending. */
	g_assert_cmpint(w1.runs, ==, 1);
	g_assert_cmpint(w2.runs, ==, 1);
	g_assert_cmpint(w3.runs, ==, 0);
	gate_open(&g3);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	g_assert_cmpint(w3.runs, ==, 1);
	g_assert_cmpint(async_done_calls(&done), ==, 1);
	destroy(wq);
	gate_clear(&g1);
	gate_clear(&g3);
}

static void test_flush_idle_async(void)
{
	struct workqueue_struct *wq = unbound_wq("flushidle", 1);
	struct async_done done = { 0 };
	struct test_work tw;
	struct wq_barrier b;

	test_work_init(&tw);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	/* A result of 0 known at once is given through fn, on this thread. */
	g_assert_cmpint(wq_flush_workqueue_async(wq, &b, async_done_fn, &done), ==, 0);
	g_assert_cmpint(async_done_calls(&done), ==, 1);
	g_assert_cmpint(wq_flush_work_async(W(&tw), &b, async_done_fn, &done), ==, 0);
	g_assert_cmpint(async_done_calls(&done), ==, 2);
	g_assert_cmpint(done.result, ==, 0);
	g_assert_false(wq_barrier_abort(&b));
	destroy(wq);
}

struct self_calls {
	struct work_struct work;
	struct workqueue_struct *wq;
	int flush_wq, flush_work, cancel, destroy, drain;
	bool cur_ok;
};

static void noop_barrier(struct wq_barrier *b, int result, void *data)
{
	g_assert_not_reached();
}

static void self_calls_fn(struct work_struct *work)
{
	struct self_calls *sc = (struct self_calls *)work;
	struct wq_barrier b;

	sc->cur_ok = current_work() == work && wq_current_workqueue() == sc->wq;
	sc->flush_wq = flush_workqueue(sc->wq);
	sc->flush_work = wq_flush_work_async(work, &b, noop_barrier, NULL);
	sc->cancel = wq_cancel_work_async(work, &b, noop_barrier, NULL);
	sc->destroy = destroy_workqueue(sc->wq);
	sc->drain = drain_workqueue(sc->wq);
}

static void test_flush_edeadlk(void)
{
	struct self_calls sc = { .wq = create_workqueue("deadlk") };

	INIT_WORK(&sc.work, self_calls_fn);
	g_assert_null(current_work());
	g_assert_null(wq_current_workqueue());
	g_assert_true(queue_work(sc.wq, &sc.work));
	g_assert_cmpint(flush_workqueue(sc.wq), ==, 0);
	g_assert_true(sc.cur_ok);
	g_assert_cmpint(sc.flush_wq, ==, -EDEADLK);
	g_assert_cmpint(sc.flush_work, ==, -EDEADLK);
	g_assert_cmpint(sc.cancel, ==, -EDEADLK);
	g_assert_cmpint(sc.destroy, ==, -EDEADLK);
	g_assert_cmpint(sc.drain, ==, -EDEADLK);
	destroy(sc.wq);
}

/* ---- cancel ------------------------------------------------------------- */

struct cancel_thread {
	struct work_struct *work;
	bool result;
	gint done;
};

static gpointer cancel_thread_fn(gpointer data)
{
	struct cancel_thread *ct = data;

	ct->result = cancel_work_sync(ct->work);
	g_atomic_int_set(&ct->done, 1);
	return NULL;
}

static void test_cancel_sync_returns_pending(void)
{
	struct workqueue_struct *wq = unbound_wq("cancel", 2);
	struct cancel_thread ct = { 0 };
	struct test_work tw;
	struct gate gate;
	struct wq_stats st;
	GThread *thread;

	gate_init(&gate);
	test_work_init(&tw);
	wq_freeze(wq, true);
	g_assert_true(queue_work(wq, W(&tw)));
	g_assert_true(cancel_work_sync(W(&tw)));
	g_assert_false(cancel_work_sync(W(&tw)));
	g_assert_false(work_pending(W(&tw)));
	wq_freeze(wq, false);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	g_assert_cmpint(tw.runs, ==, 0);
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.cancelled, ==, 1);
	g_assert_cmpuint(st.pending, ==, 0);

	/* Running, not pending: false, after the run ended. */
	tw.gate = &gate;
	g_assert_true(queue_work(wq, W(&tw)));
	gate_await(&gate, 1);
	ct.work = W(&tw);
	thread = g_thread_new("canceller", cancel_thread_fn, &ct);
	g_usleep(10000);
	g_assert_cmpint(g_atomic_int_get(&ct.done), ==, 0);
	gate_open(&gate);
	g_thread_join(thread);
	g_assert_false(ct.result);
	g_assert_cmpint(tw.runs, ==, 1);
	g_assert_cmpuint(work_busy(W(&tw)), ==, 0);
	destroy(wq);
	gate_clear(&gate);
}

static void test_cancel_stops_self_requeue(void)
{
	struct workqueue_struct *wq = unbound_wq("selfrequeue", 1);
	struct test_work tw;
	int runs;

	test_work_init(&tw);
	tw.requeue_on = wq;
	g_assert_true(queue_work(wq, W(&tw)));
	while (g_atomic_int_get(&tw.runs) < 5)
		g_usleep(100);
	cancel_work_sync(W(&tw));
	g_assert_cmpuint(work_busy(W(&tw)), ==, 0);
	runs = g_atomic_int_get(&tw.runs);
	g_usleep(20000);
	g_assert_cmpint(g_atomic_int_get(&tw.runs), ==, runs);
	destroy(wq);
}

static void test_cancel_delayed(void)
{
	struct workqueue_struct *wq = unbound_wq("canceldelayed", 1);
	struct test_work tw;
	struct wq_stats st;

	test_work_init(&tw);
	g_assert_true(queue_delayed_work(wq, &tw.dwork, 250 * 3600));
	g_assert_true(delayed_work_pending(&tw.dwork));
	g_assert_false(queue_delayed_work(wq, &tw.dwork, 1));
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.delayed, ==, 1);
	g_assert_cmpuint(st.pending, ==, 0);
	g_assert_true(cancel_delayed_work(&tw.dwork));
	g_assert_false(cancel_delayed_work(&tw.dwork));
	g_assert_false(delayed_work_pending(&tw.dwork));
	g_assert_true(queue_delayed_work(wq, &tw.dwork, 250 * 3600));
	g_assert_true(cancel_delayed_work_sync(&tw.dwork));
	g_assert_false(cancel_delayed_work_sync(&tw.dwork));
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.delayed, ==, 0);
	g_assert_cmpuint(st.cancelled, ==, 2);
	g_assert_cmpint(tw.runs, ==, 0);
	destroy(wq);
}

/* ---- delayed ------------------------------------------------------------ */

static void test_delayed_order(void)
{
	struct workqueue_struct *wq = alloc_ordered_workqueue("delayorder", 0);
	static const int delays_ms[] = { 30, 10, 20, 1, 15 };
	struct test_work tw[G_N_ELEMENTS(delays_ms)];
	int log[G_N_ELEMENTS(delays_ms)];
	gint log_len = 0;
	uint64_t start = wq_now_ns();

	for (unsigned int i = 0; i < G_N_ELEMENTS(tw); i++) {
		test_work_init(&tw[i]);
		tw[i].order = delays_ms[i];
		tw[i].log = log;
		tw[i].log_len = &log_len;
		g_assert_cmpint(wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, wq, &tw[i].dwork,
							 delays_ms[i] * MS), ==, 0);
	}
	for (unsigned int i = 0; i < G_N_ELEMENTS(tw); i++)
		while (g_atomic_int_get(&tw[i].runs) == 0)
			g_usleep(500);
	g_assert_cmpuint(wq_now_ns() - start, >=, 30 * MS);
	g_assert_cmpint(log_len, ==, 5);
	g_assert_cmpint(log[0], ==, 1);
	g_assert_cmpint(log[1], ==, 10);
	g_assert_cmpint(log[2], ==, 15);
	g_assert_cmpint(log[3], ==, 20);
	g_assert_cmpint(log[4], ==, 30);
	destroy(wq);
}

static void test_delayed_million(void)
{
	enum { N = 1000000 };
	struct workqueue_struct *wq = unbound_wq("million", 1);
	struct delayed_work *dw = g_new(struct delayed_work, N);
	GRand *rand = g_rand_new_with_seed(42);
	guint32 *perm = g_new(guint32, N);
	struct wq_stats st;

	for (guint32 i = 0; i < N; i++) {
		INIT_DELAYED_WORK(&dw[i], (work_func_t)abort);
		perm[i] = i;
		/* Hours away, in random order. */
		g_assert_cmpint(wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, wq, &dw[i],
				3600 * 1000 * MS + g_rand_int_range(rand, 0, 1000000) * MS), ==, 0);
	}
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.delayed, ==, N);
	for (guint32 i = N - 1; i > 0; i--) {
		guint32 j = (guint32)g_rand_int_range(rand, 0, (gint32)i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	/* Re-key a few, then cancel all in random order. */
	for (guint32 i = 0; i < 1000; i++)
		g_assert_cmpint(wq_mod_delayed_work_ns(WORK_CPU_UNBOUND, wq, &dw[perm[i]],
						       7200 * 1000 * MS), ==, 1);
	for (guint32 i = 0; i < N; i++)
		g_assert_true(cancel_delayed_work(&dw[perm[i]]));
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.delayed, ==, 0);
	g_assert_cmpuint(st.cancelled, ==, N);
	destroy(wq);
	g_free(perm);
	g_rand_free(rand);
	g_free(dw);
}

static void test_delayed_mod(void)
{
	struct workqueue_struct *wq = unbound_wq("mod", 1);
	struct test_work tw;
	struct wq_stats st;

	test_work_init(&tw);
	/* Idle: armed, false. */
	g_assert_false(mod_delayed_work(wq, &tw.dwork, 250 * 3600));
	/* Armed: re-armed, true. */
	g_assert_true(mod_delayed_work(wq, &tw.dwork, 250 * 7200));
	g_assert_cmpint(wq_mod_delayed_work_ns(WORK_CPU_UNBOUND, wq, &tw.dwork, 3600 * 1000 * MS), ==, 1);
	/* Delay 0: queued now. */
	g_assert_true(mod_delayed_work(wq, &tw.dwork, 0));
	flush_work(W(&tw));
	g_assert_cmpint(tw.runs, ==, 1);

	/* Pending on a worklist (timer fired): taken off and re-armed. */
	wq_freeze(wq, true);
	g_assert_true(queue_delayed_work(wq, &tw.dwork, 0));
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.pending, ==, 1);
	g_assert_true(mod_delayed_work(wq, &tw.dwork, 250 * 3600));
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.pending, ==, 0);
	g_assert_cmpuint(st.delayed, ==, 1);
	wq_freeze(wq, false);

	/* flush_delayed_work runs an armed work now. */
	g_assert_true(flush_delayed_work(&tw.dwork));
	g_assert_cmpint(tw.runs, ==, 2);
	g_assert_false(flush_delayed_work(&tw.dwork));
	/* A short real delay fires. */
	g_assert_false(mod_delayed_work(wq, &tw.dwork, 1));
	while (g_atomic_int_get(&tw.runs) < 3)
		g_usleep(500);
	destroy(wq);
}

/* ---- pools ---------------------------------------------------------------- */

static void test_pool_names_and_binding(void)
{
	struct workqueue_struct *wq = alloc_workqueue("bind", 0, 1);
	struct workqueue_struct *lwq = alloc_workqueue("averyveryverylongname", WQ_UNBOUND, 1);
	int ncpu = 0, cpus[CPU_SETSIZE];
	struct test_work *tw;
	cpu_set_t online;
	GArray *events;
	char name[32];

	g_assert_cmpint(sched_getaffinity(0, sizeof(online), &online), ==, 0);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &online))
			cpus[ncpu++] = cpu;
	tw = g_new(struct test_work, ncpu + 1);
	record_start(wq);
	for (int i = 0; i < ncpu; i++) {
		test_work_init(&tw[i]);
		g_assert_true(queue_work_on(cpus[i], wq, W(&tw[i])));
	}
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	events = record_stop();
	g_assert_cmpuint(events->len, ==, 3 * ncpu);
	for (guint i = 0; i < events->len; i++) {
		struct recorded *r = &g_array_index(events, struct recorded, i);
		int k = (int)((struct test_work *)to_delayed_work(r->work) - tw);

		if (r->type != WQ_EVENT_STARTED && r->type != WQ_EVENT_FINISHED)
			continue;
		g_snprintf(name, sizeof(name), "bind/%d", cpus[k]);
		g_assert_cmpstr(r->comm, ==, name);
		g_assert_cmpint(r->cpu, ==, cpus[k]);
	}
	g_array_unref(events);

	record_start(lwq);
	test_work_init(&tw[ncpu]);
	g_assert_true(queue_work(lwq, W(&tw[ncpu])));
	g_assert_cmpint(flush_workqueue(lwq), ==, 0);
	events = record_stop();
	g_assert_cmpuint(events->len, ==, 3);
	g_assert_cmpstr(g_array_index(events, struct recorded, 1).comm, ==, "averyveryverylo");
	g_array_unref(events);
	destroy(wq);
	destroy(lwq);
	g_free(tw);
}

static void sleepy_fn(struct work_struct *work)
{
	struct test_work *tw = (struct test_work *)to_delayed_work(work);
	gint *concurrent = (gint *)tw->log_len;
	int now = g_atomic_int_add(concurrent, 1) + 1;
	int max = g_atomic_int_get(&tw->max_concurrent);

	while (now > max && !g_atomic_int_compare_and_exchange(&tw->max_concurrent, max, now))
		max = g_atomic_int_get(&tw->max_concurrent);
	g_usleep(2000);
	g_atomic_int_add(concurrent, -1);
}

/* Largest number of the works seen running at once. */
static int run_sleepy(struct workqueue_struct *wq, int n)
{
	struct test_work *tw = g_new(struct test_work, n);
	gint concurrent = 0;
	int max = 0;

	for (int i = 0; i < n; i++) {
		test_work_init(&tw[i]);
		INIT_DELAYED_WORK(&tw[i].dwork, sleepy_fn);
		tw[i].log_len = &concurrent;
		g_assert_true(queue_work(wq, W(&tw[i])));
	}
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	for (int i = 0; i < n; i++)
		max = MAX(max, tw[i].max_concurrent);
	g_free(tw);
	return max;
}

static void test_pool_max_active(void)
{
	struct workqueue_struct *wq = unbound_wq("maxactive", 3);
	struct wq_stats st;
	int max;

	g_assert_cmpint(wq_max_active(wq), ==, 3);
	max = run_sleepy(wq, 30);
	g_assert_cmpint(max, >=, 1);
	g_assert_cmpint(max, <=, 3);
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.workers, <=, 3);
	workqueue_set_max_active(wq, 1);
	g_assert_cmpint(wq_max_active(wq), ==, 1);
	g_assert_cmpint(run_sleepy(wq, 10), ==, 1);
	workqueue_set_max_active(wq, 100000);
	g_assert_cmpint(wq_max_active(wq), ==, WQ_MAX_ACTIVE);
	workqueue_set_max_active(wq, -3);
	g_assert_cmpint(wq_max_active(wq), ==, 1);
	destroy(wq);

	wq = unbound_wq("maxactive0", 0);
	g_assert_cmpint(wq_max_active(wq), ==, WQ_DFL_ACTIVE);
	destroy(wq);
}

static void test_ordered_fifo(void)
{
	enum { N = 300 };
	struct workqueue_struct *wq = create_singlethread_workqueue("ordered");
	struct test_work *tw = g_new(struct test_work, N);
	int log[N];
	gint log_len = 0;

	g_assert_cmpuint(wq_flags(wq) & (WQ_UNBOUND | __WQ_ORDERED), ==, WQ_UNBOUND | __WQ_ORDERED);
	workqueue_set_max_active(wq, 8);	/* ignored: ordered */
	g_assert_cmpint(wq_max_active(wq), ==, 1);
	for (int i = 0; i < N; i++) {
		test_work_init(&tw[i]);
		tw[i].order = i;
		tw[i].log = log;
		tw[i].log_len = &log_len;
		g_assert_true(queue_work(wq, W(&tw[i])));
	}
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	g_assert_cmpint(log_len, ==, N);
	for (int i = 0; i < N; i++)
		g_assert_cmpint(log[i], ==, i);
	destroy(wq);
	g_free(tw);
}

/* ---- freeze ------------------------------------------------------------------ */

static void test_freeze_thaw(void)
{
	struct workqueue_struct *fwq = alloc_workqueue("freezable", WQ_FREEZABLE | WQ_UNBOUND, 1);
	struct workqueue_struct *wq = unbound_wq("notfreezable", 1);
	struct test_work a, b;

	test_work_init(&a);
	test_work_init(&b);
	freeze_workqueues_begin();
	g_assert_true(wq_frozen(fwq));
	g_assert_false(wq_frozen(wq));
	g_assert_true(queue_work(fwq, W(&a)));
	g_assert_true(queue_work(wq, W(&b)));
	flush_work(W(&b));
	g_usleep(20000);
	g_assert_cmpint(a.runs, ==, 0);
	g_assert_true(work_pending(W(&a)));
	thaw_workqueues();
	g_assert_false(wq_frozen(fwq));
	flush_work(W(&a));
	g_assert_cmpint(a.runs, ==, 1);
	destroy(fwq);
	destroy(wq);
}

/* ---- destroy ------------------------------------------------------------------ */

static void test_destroy_enotempty(void)
{
	struct workqueue_struct *wq = unbound_wq("enotempty", 1);
	struct test_work tw;

	test_work_init(&tw);
	g_assert_true(queue_delayed_work(wq, &tw.dwork, 250 * 3600));
	g_assert_cmpint(destroy_workqueue(wq), ==, -ENOTEMPTY);
	g_assert_cmpint(wq_shutdown(wq), ==, -ENOTEMPTY);
	/* Nothing changed: the work is still armed, the queue open. */
	g_assert_cmpint(wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, wq, &tw.dwork, 0), ==, -EALREADY);
	g_assert_true(cancel_delayed_work_sync(&tw.dwork));
	destroy(wq);
}

static void test_destroy_drains(void)
{
	struct workqueue_struct *wq = unbound_wq("drains", 2);
	struct test_work tw[8];
	gint concurrent = 0;

	for (int i = 0; i < 8; i++) {
		test_work_init(&tw[i]);
		INIT_DELAYED_WORK(&tw[i].dwork, sleepy_fn);
		tw[i].log_len = &concurrent;
		g_assert_true(queue_work(wq, W(&tw[i])));
	}
	destroy(wq);
	for (int i = 0; i < 8; i++)
		g_assert_cmpint(tw[i].max_concurrent, >=, 1);	/* it ran */
}

static void test_destroy_eshutdown(void)
{
	struct workqueue_struct *wq = unbound_wq("eshutdown", 1);
	struct test_work tw;

	test_work_init(&tw);
	g_assert_cmpint(wq_shutdown(wq), ==, 0);
	g_assert_cmpint(wq_queue_work_on(WORK_CPU_UNBOUND, wq, W(&tw)), ==, -ESHUTDOWN);
	g_assert_false(queue_work(wq, W(&tw)));
	g_assert_cmpint(wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, wq, &tw.dwork, MS), ==, -ESHUTDOWN);
	g_assert_cmpint(wq_mod_delayed_work_ns(WORK_CPU_UNBOUND, wq, &tw.dwork, MS), ==, -ESHUTDOWN);
	wq_unshutdown(wq);
	g_assert_true(queue_work(wq, W(&tw)));
	g_assert_cmpint(wq_shutdown(wq), ==, 0);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	g_assert_cmpint(tw.runs, ==, 1);
	wq_free(wq);
}

struct chain {
	struct work_struct work;
	struct workqueue_struct *wq;
	gint runs;
	int limit;
	struct gate *gate;
};

static void chain_fn(struct work_struct *work)
{
	struct chain *c = (struct chain *)work;

	if (c->gate && g_atomic_int_get(&c->runs) == 0)
		gate_pass(c->gate);
	if (g_atomic_int_add(&c->runs, 1) + 1 < c->limit)
		g_assert_cmpint(wq_queue_work_on(WORK_CPU_UNBOUND, c->wq, work), ==, 0);
}

static gpointer drain_thread_fn(gpointer data)
{
	return GINT_TO_POINTER(drain_workqueue(data));
}

static void test_drain_chained(void)
{
	struct workqueue_struct *wq = unbound_wq("drain", 2);
	struct chain c = { .wq = wq, .limit = 50 };
	struct test_work tw;
	struct gate gate;
	GThread *thread;
	int ret;

	gate_init(&gate);
	test_work_init(&tw);
	c.gate = &gate;
	INIT_WORK(&c.work, chain_fn);
	g_assert_true(queue_work(wq, &c.work));
	gate_await(&gate, 1);
	thread = g_thread_new("drain", drain_thread_fn, wq);
	/* Outside work is refused while draining. */
	while ((ret = wq_queue_work_on(WORK_CPU_UNBOUND, wq, W(&tw))) == 0) {
		flush_work(W(&tw));
		g_usleep(100);
	}
	g_assert_cmpint(ret, ==, -ESHUTDOWN);
	gate_open(&gate);
	g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(thread)), ==, 0);
	g_assert_cmpint(c.runs, ==, 50);
	g_assert_cmpuint(work_busy(&c.work), ==, 0);
	g_assert_true(queue_work(wq, W(&tw)));
	destroy(wq);
	gate_clear(&gate);
}

/* ---- barriers ------------------------------------------------------------ */

static void test_barrier_abort(void)
{
	struct workqueue_struct *wq = unbound_wq("abort", 1);
	struct async_done done = { 0 };
	struct test_work tw;
	struct wq_barrier b;
	struct gate gate;

	gate_init(&gate);
	test_work_init(&tw);
	wq_freeze(wq, true);
	g_assert_true(queue_work(wq, W(&tw)));
	g_assert_cmpint(wq_flush_work_async(W(&tw), &b, async_done_fn, &done), ==, 0);
	g_assert_true(wq_barrier_abort(&b));
	g_assert_false(wq_barrier_abort(&b));
	g_assert_cmpint(wq_flush_workqueue_async(wq, &b, async_done_fn, &done), ==, 0);
	g_assert_true(wq_barrier_abort(&b));
	wq_freeze(wq, false);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	g_assert_cmpint(tw.runs, ==, 1);
	g_assert_cmpint(async_done_calls(&done), ==, 0);

	/* A cancel waiting on a running instance blocks queueing until it ends
	 * or is aborted. */
	tw.gate = &gate;
	g_assert_true(queue_work(wq, W(&tw)));
	gate_await(&gate, 1);
	g_assert_cmpint(wq_cancel_work_async(W(&tw), &b, async_done_fn, &done), ==, 0);
	g_assert_cmpint(wq_queue_work_on(WORK_CPU_UNBOUND, wq, W(&tw)), ==, -ECANCELED);
	g_assert_true(wq_barrier_abort(&b));
	g_assert_true(queue_work(wq, W(&tw)));

	/* A cancel that grabbed the pending instance: result 1, after the run. */
	g_assert_cmpint(wq_cancel_work_async(W(&tw), &b, async_done_fn, &done), ==, 0);
	g_assert_cmpint(async_done_calls(&done), ==, 0);
	gate_open(&gate);
	g_assert_cmpint(async_done_wait(&done), ==, 1);
	g_assert_false(wq_barrier_abort(&b));
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	g_assert_cmpint(tw.runs, ==, 2);
	/* A finished wait cannot be aborted; a known answer comes at once. */
	g_assert_true(queue_work(wq, W(&tw)));
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	wq_freeze(wq, true);
	g_assert_true(queue_work(wq, W(&tw)));
	g_assert_cmpint(wq_cancel_work_async(W(&tw), &b, noop_barrier, NULL), ==, 1);
	wq_freeze(wq, false);
	destroy(wq);
	gate_clear(&gate);
}

/* ---- observer --------------------------------------------------------- */

static void test_observer_events_order(void)
{
	struct workqueue_struct *wq = unbound_wq("observer", 1);
	static const enum wq_event_type expect[] = {
		WQ_EVENT_QUEUED, WQ_EVENT_STARTED, WQ_EVENT_FINISHED,
		WQ_EVENT_DELAYED, WQ_EVENT_QUEUED, WQ_EVENT_STARTED, WQ_EVENT_FINISHED,
		WQ_EVENT_DELAYED, WQ_EVENT_CANCELLED,
	};
	struct test_work tw;
	struct wq_stats st;
	GArray *events;

	test_work_init(&tw);
	tw.result = 7;
	record_start(wq);
	g_assert_true(queue_work(wq, W(&tw)));
	flush_work(W(&tw));
	tw.result = 0;
	g_assert_true(queue_delayed_work(wq, &tw.dwork, 1));
	while (g_atomic_int_get(&tw.runs) < 2)
		g_usleep(500);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	g_assert_true(queue_delayed_work(wq, &tw.dwork, 250 * 3600));
	g_assert_true(cancel_delayed_work_sync(&tw.dwork));
	events = record_stop();
	g_assert_cmpuint(events->len, ==, G_N_ELEMENTS(expect));
	for (guint i = 0; i < events->len; i++) {
		struct recorded *r = &g_array_index(events, struct recorded, i);

		g_assert_cmpint(r->type, ==, expect[i]);
		g_assert_true(r->work == W(&tw));
		if (r->type == WQ_EVENT_STARTED || r->type == WQ_EVENT_FINISHED)
			g_assert_cmpstr(r->comm, ==, "observer/u");
	}
	g_assert_cmpint(g_array_index(events, struct recorded, 2).result, ==, 7);
	g_assert_cmpint(g_array_index(events, struct recorded, 6).result, ==, 0);
	g_array_unref(events);
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.started, ==, 2);
	g_assert_cmpuint(st.completed, ==, 2);
	g_assert_cmpuint(st.failed, ==, 1);
	g_assert_cmpuint(st.cancelled, ==, 1);
	destroy(wq);
}

/* A work that frees itself, as the kernel allows, and says so first. */
struct self_freeing {
	struct work_struct work;
	char name[16];
};

static void self_freeing_fn(struct work_struct *work)
{
	g_free(container_of(work, struct self_freeing, work));
}

static void name_self_freeing(struct work_struct *work, work_func_t func, char *name,
			      size_t len)
{
	if (func == self_freeing_fn)
		g_strlcpy(name, container_of(work, struct self_freeing, work)->name, len);
}

/* The namer names a work at each event as it is made; a run's FINISHED
 * carries the name of its start, its work being gone by then (the
 * sanitizers see any read of it). */
static void test_observer_namer(void)
{
	struct workqueue_struct *wq = unbound_wq("namer", 1);
	struct self_freeing *s = g_new0(struct self_freeing, 1);
	GArray *events;

	INIT_WORK(&s->work, self_freeing_fn);
	g_strlcpy(s->name, "selfie", sizeof(s->name));
	wq_set_namer(name_self_freeing);
	record_start(wq);
	g_assert_true(queue_work(wq, &s->work));
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	events = record_stop();
	wq_set_namer(NULL);
	g_assert_cmpuint(events->len, ==, 3);
	for (guint i = 0; i < events->len; i++)
		g_assert_cmpstr(g_array_index(events, struct recorded, i).name, ==, "selfie");
	g_assert_cmpint(g_array_index(events, struct recorded, 2).type, ==, WQ_EVENT_FINISHED);
	g_array_unref(events);
	destroy(wq);
}

static void cpu_result_fn(struct work_struct *work)
{
	wq_set_result(0, 5 * 1000000000ULL);
}

static void test_stats_cpu_time(void)
{
	struct workqueue_struct *wq = unbound_wq("cputime", 1);
	struct work_struct work;
	struct wq_stats st;

	INIT_WORK(&work, cpu_result_fn);
	wq_set_result(1, 1);	/* no effect outside a worker */
	g_assert_true(queue_work(wq, &work));
	flush_work(&work);
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.cpu_ns, >=, 5 * 1000000000ULL);
	g_assert_cmpuint(st.failed, ==, 0);
	destroy(wq);
}

/* ---- attributes ----------------------------------------------------------- */

struct attr_work {
	struct work_struct work;
	int nice;
	int cpu;
};

static void attr_work_fn(struct work_struct *work)
{
	struct attr_work *aw = (struct attr_work *)work;

	errno = 0;
	aw->nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	aw->cpu = sched_getcpu();
}

static void test_attrs(void)
{
	struct workqueue_struct *wq = create_workqueue("attrs");
	struct workqueue_attrs attrs, got;
	struct attr_work aw;
	int lowest = -1, highest = -1;

	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		cpu_set_t online;

		sched_getaffinity(0, sizeof(online), &online);
		if (CPU_ISSET(cpu, &online)) {
			if (lowest < 0)
				lowest = cpu;
			highest = cpu;
		}
	}
	INIT_WORK(&aw.work, attr_work_fn);
	wq_get_attrs(wq, &attrs);
	g_assert_cmpint(attrs.nice, ==, 0);
	attrs.nice = 20;
	g_assert_cmpint(apply_workqueue_attrs(wq, &attrs), ==, -EINVAL);
	attrs.nice = -21;
	g_assert_cmpint(apply_workqueue_attrs(wq, &attrs), ==, -EINVAL);
	attrs.nice = 5;
	CPU_ZERO(&attrs.cpumask);
	g_assert_cmpint(apply_workqueue_attrs(wq, &attrs), ==, -EINVAL);
	CPU_SET(lowest, &attrs.cpumask);
	g_assert_cmpint(apply_workqueue_attrs(wq, &attrs), ==, 0);
	wq_get_attrs(wq, &got);
	g_assert_cmpint(got.nice, ==, 5);
	g_assert_true(CPU_EQUAL(&got.cpumask, &attrs.cpumask));
	/* A work for a CPU outside the mask runs on the lowest of the mask. */
	g_assert_true(queue_work_on(highest, wq, &aw.work));
	flush_work(&aw.work);
	g_assert_cmpint(aw.nice, ==, 5);
	g_assert_cmpint(aw.cpu, ==, lowest);
	/* Re-applied to a live worker. */
	attrs.nice = 7;
	g_assert_cmpint(apply_workqueue_attrs(wq, &attrs), ==, 0);
	g_assert_true(queue_work_on(lowest, wq, &aw.work));
	flush_work(&aw.work);
	g_assert_cmpint(aw.nice, ==, 7);
	destroy(wq);
}

static void test_set_unbound(void)
{
	struct workqueue_struct *wq = create_workqueue("setunbound");
	struct test_work tw;
	GArray *events;

	test_work_init(&tw);
	g_assert_cmpuint(wq_flags(wq) & WQ_UNBOUND, ==, 0);
	g_assert_cmpint(wq_set_unbound(wq, true), ==, 0);
	g_assert_cmpuint(wq_flags(wq) & WQ_UNBOUND, ==, WQ_UNBOUND);
	g_assert_cmpint(wq_set_unbound(wq, true), ==, 0);
	record_start(wq);
	g_assert_true(queue_work(wq, W(&tw)));
	flush_work(W(&tw));
	events = record_stop();
	g_assert_cmpstr(g_array_index(events, struct recorded, 1).comm, ==, "setunbound/u");
	g_array_unref(events);
	wq_freeze(wq, true);
	g_assert_true(queue_work(wq, W(&tw)));
	g_assert_cmpint(wq_set_unbound(wq, false), ==, -EBUSY);
	wq_freeze(wq, false);
	flush_work(W(&tw));
	g_assert_cmpint(wq_set_unbound(wq, false), ==, 0);
	g_assert_true(queue_work(wq, W(&tw)));
	flush_work(W(&tw));
	g_assert_cmpint(tw.runs, ==, 3);
	destroy(wq);
}

/* ---- system_wq -------------------------------------------------------- */

static void test_system_schedule(void)
{
	struct test_work a, b;

	g_assert_nonnull(system_wq);
	g_assert_cmpstr(wq_name(system_wq), ==, "events");
	g_assert_cmpuint(wq_flags(system_wq) & WQ_UNBOUND, ==, 0);
	g_assert_cmpint(wq_max_active(system_wq), ==, 1);
	test_work_init(&a);
	test_work_init(&b);
	g_assert_true(schedule_work(W(&a)));
	flush_scheduled_work();
	g_assert_cmpint(a.runs, ==, 1);
	g_assert_true(schedule_delayed_work(&b.dwork, 1));
	flush_delayed_work(&b.dwork);
	g_assert_cmpint(b.runs, ==, 1);
	g_assert_true(schedule_delayed_work(&b.dwork, 1));
	while (g_atomic_int_get(&b.runs) < 2)
		g_usleep(500);
	flush_scheduled_work();
}

/* True if a thread of this process is named name (its /proc comm). */
static bool thread_named(const char *name)
{
	GDir *dir = g_dir_open("/proc/self/task", 0, NULL);
	const char *tid;
	bool found = false;

	g_assert_nonnull(dir);
	while (!found && (tid = g_dir_read_name(dir))) {
		g_autofree char *path = g_strdup_printf("/proc/self/task/%s/comm", tid);
		g_autofree char *comm = NULL;

		if (g_file_get_contents(path, &comm, NULL, NULL))
			found = strcmp(g_strstrip(comm), name) == 0;
	}
	g_dir_close(dir);
	return found;
}

/* ---- workers: lazy start, idle exit --------------------------------------- */

static unsigned int nr_workers(struct workqueue_struct *wq)
{
	struct wq_stats st;

	wq_get_stats(wq, &st);
	return st.workers;
}

/* Wait until wq has n workers; fails after 60 s rather than hang. */
static void await_workers(struct workqueue_struct *wq, unsigned int n)
{
	for (int i = 0; nr_workers(wq) != n; i++) {
		g_assert_cmpint(i, <, 60000);
		g_usleep(1000);
	}
}

/* Wait until no thread of this process is named name (an exited worker
 * may linger in /proc for a moment after it left its pool). */
static void await_no_thread_named(const char *name)
{
	for (int i = 0; thread_named(name); i++) {
		g_assert_cmpint(i, <, 60000);
		g_usleep(1000);
	}
}

static int online_cpus(int *cpus)
{
	cpu_set_t online;
	int n = 0;

	g_assert_cmpint(sched_getaffinity(0, sizeof(online), &online), ==, 0);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &online))
			cpus[n++] = cpu;
	return n;
}

/* A new queue has no thread; a pool starts its first worker, named
 * NAME/CPU or NAME/u, when its first work is queued. */
static void test_workers_lazy_start(void)
{
	struct workqueue_struct *wq = create_workqueue("lazy");
	struct workqueue_struct *uwq = unbound_wq("lazy-u", 4);
	int cpus[CPU_SETSIZE], ncpu = online_cpus(cpus);
	struct test_work *tw = g_new(struct test_work, ncpu + 1);
	struct gate gate;
	char name[32];

	gate_init(&gate);
	g_assert_cmpuint(nr_workers(wq), ==, 0);
	g_assert_cmpuint(nr_workers(uwq), ==, 0);
	for (int i = 0; i < ncpu; i++) {
		g_snprintf(name, sizeof(name), "lazy/%d", cpus[i]);
		g_assert_false(thread_named(name));
	}
	g_assert_false(thread_named("lazy-u/u"));

	/* One work per CPU, held at the gate: one worker per pool. */
	for (int i = 0; i <= ncpu; i++) {
		test_work_init(&tw[i]);
		tw[i].gate = &gate;
	}
	for (int i = 0; i < ncpu; i++)
		g_assert_true(queue_work_on(cpus[i], wq, W(&tw[i])));
	g_assert_true(queue_work(uwq, W(&tw[ncpu])));
	gate_await(&gate, ncpu + 1);
	g_assert_cmpuint(nr_workers(wq), ==, (unsigned int)ncpu);
	g_assert_cmpuint(nr_workers(uwq), ==, 1);
	for (int i = 0; i < ncpu; i++) {
		g_snprintf(name, sizeof(name), "lazy/%d", cpus[i]);
		g_assert_true(thread_named(name));
	}
	g_assert_true(thread_named("lazy-u/u"));
	gate_open(&gate);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	g_assert_cmpint(flush_workqueue(uwq), ==, 0);
	for (int i = 0; i <= ncpu; i++)
		g_assert_cmpint(tw[i].runs, ==, 1);
	g_assert_cmpuint(nr_workers(wq), >=, 1);
	destroy(wq);
	destroy(uwq);
	for (int i = 0; i < ncpu; i++) {
		g_snprintf(name, sizeof(name), "lazy/%d", cpus[i]);
		await_no_thread_named(name);
	}
	await_no_thread_named("lazy-u/u");
	gate_clear(&gate);
	g_free(tw);
}

/* Workers idle for the idle timeout exit, down to none; a later work
 * starts a worker again and runs. */
static void test_workers_idle_exit(void)
{
	struct workqueue_struct *uwq = unbound_wq("idle-u", 3);
	struct workqueue_struct *wq = create_workqueue("idle");
	struct test_work tw[4];
	struct gate gate;

	wq_set_worker_idle_timeout_ms(100);
	gate_init(&gate);
	for (int i = 0; i < 4; i++) {
		test_work_init(&tw[i]);
		tw[i].gate = &gate;
	}
	for (int i = 0; i < 3; i++)
		g_assert_true(queue_work(uwq, W(&tw[i])));
	g_assert_true(queue_work(wq, W(&tw[3])));
	gate_await(&gate, 4);
	g_assert_cmpuint(nr_workers(uwq), ==, 3);
	g_assert_cmpuint(nr_workers(wq), ==, 1);
	gate_open(&gate);
	g_assert_cmpint(flush_workqueue(uwq), ==, 0);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);

	await_workers(uwq, 0);
	await_workers(wq, 0);
	await_no_thread_named("idle-u/u");

	/* Again, from nothing. */
	for (int i = 0; i < 4; i++)
		tw[i].gate = NULL;
	g_assert_true(queue_work(uwq, W(&tw[0])));
	g_assert_true(queue_work(wq, W(&tw[3])));
	g_assert_cmpint(flush_workqueue(uwq), ==, 0);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	g_assert_cmpint(tw[0].runs, ==, 2);
	g_assert_cmpint(tw[3].runs, ==, 2);
	await_workers(uwq, 0);

	/* A shorter timeout reaches workers already asleep on the default. */
	wq_set_worker_idle_timeout_ms(0);
	g_assert_true(queue_work(uwq, W(&tw[0])));
	flush_work(W(&tw[0]));
	g_assert_cmpuint(nr_workers(uwq), ==, 1);
	wq_set_worker_idle_timeout_ms(20);
	await_workers(uwq, 0);

	wq_set_worker_idle_timeout_ms(0);
	destroy(uwq);
	destroy(wq);
	gate_clear(&gate);
}

/* A frozen queue starts no worker; its idle workers exit all the same,
 * and thawing starts one for the pending work. */
static void test_workers_frozen(void)
{
	struct workqueue_struct *wq = unbound_wq("frozen", 2);
	struct test_work a, b;

	wq_set_worker_idle_timeout_ms(20);
	test_work_init(&a);
	test_work_init(&b);
	wq_freeze(wq, true);
	g_assert_true(queue_work(wq, W(&a)));
	g_usleep(20000);
	g_assert_cmpuint(nr_workers(wq), ==, 0);
	g_assert_cmpint(a.runs, ==, 0);
	wq_freeze(wq, false);
	flush_work(W(&a));
	g_assert_cmpint(a.runs, ==, 1);

	/* The worker of a frozen queue with a pending work times out. */
	wq_freeze(wq, true);
	g_assert_true(queue_work(wq, W(&b)));
	await_workers(wq, 0);
	g_assert_true(work_pending(W(&b)));
	wq_freeze(wq, false);
	flush_work(W(&b));
	g_assert_cmpint(b.runs, ==, 1);

	wq_set_worker_idle_timeout_ms(0);
	destroy(wq);
}

/* max_active still bounds the workers a pool starts on demand. */
static void test_workers_max_active(void)
{
	struct workqueue_struct *wq = unbound_wq("lazy-max", 2);
	struct test_work tw[5];
	struct gate gate;

	gate_init(&gate);
	for (int i = 0; i < 5; i++) {
		test_work_init(&tw[i]);
		tw[i].gate = &gate;
		g_assert_true(queue_work(wq, W(&tw[i])));
	}
	gate_await(&gate, 2);
	g_usleep(20000);
	g_assert_cmpint(gate.arrived, ==, 2);
	g_assert_cmpuint(nr_workers(wq), ==, 2);
	workqueue_set_max_active(wq, 4);
	gate_await(&gate, 4);
	g_assert_cmpuint(nr_workers(wq), ==, 4);
	gate_open(&gate);
	g_assert_cmpint(flush_workqueue(wq), ==, 0);
	for (int i = 0; i < 5; i++)
		g_assert_cmpint(tw[i].runs, ==, 1);
	g_assert_cmpuint(nr_workers(wq), <=, 4);
	destroy(wq);
	gate_clear(&gate);
}

/* Switching a queue with no worker, or setting its attributes, starts no
 * thread; the first work then runs with them. */
static void test_workers_attrs_without_workers(void)
{
	struct workqueue_struct *wq = create_workqueue("noworker");
	struct workqueue_attrs attrs;
	struct test_work tw;
	GArray *events;

	test_work_init(&tw);
	g_assert_cmpint(wq_set_unbound(wq, true), ==, 0);
	g_assert_cmpuint(nr_workers(wq), ==, 0);
	wq_get_attrs(wq, &attrs);
	attrs.nice = 3;
	g_assert_cmpint(apply_workqueue_attrs(wq, &attrs), ==, 0);
	g_assert_cmpuint(nr_workers(wq), ==, 0);
	record_start(wq);
	g_assert_true(queue_work(wq, W(&tw)));
	flush_work(W(&tw));
	events = record_stop();
	g_assert_cmpuint(events->len, ==, 3);
	g_assert_cmpstr(g_array_index(events, struct recorded, 1).comm, ==, "noworker/u");
	g_array_unref(events);
	g_assert_cmpuint(nr_workers(wq), ==, 1);
	/* The old pool's worker goes; the new pools start empty. */
	g_assert_cmpint(wq_set_unbound(wq, false), ==, 0);
	g_assert_cmpuint(nr_workers(wq), ==, 0);
	await_no_thread_named("noworker/u");
	g_assert_true(queue_work(wq, W(&tw)));
	flush_work(W(&tw));
	g_assert_cmpint(tw.runs, ==, 2);
	destroy(wq);
}

/*
 * Works queued just as the workers time out (1 ms) all run, from several
 * threads on several queues; and queues are destroyed while their workers
 * are exiting.
 */
enum { EXPIRY_THREADS = 3, EXPIRY_ROUNDS = 400 };

struct expiry_thread {
	GThread *thread;
	struct workqueue_struct *wq;
	struct test_work tw[2];
	int queued;
};

static gpointer expiry_thread_fn(gpointer data)
{
	struct expiry_thread *et = data;
	GRand *rand = g_rand_new_with_seed(g_test_rand_int());

	for (int i = 0; i < EXPIRY_ROUNDS; i++) {
		struct test_work *tw = &et->tw[i % 2];

		if (queue_work(et->wq, W(tw)))
			et->queued++;
		if (i % 2)
			flush_work(W(tw));
		/* Around the 1 ms timeout of the worker that just ran. */
		g_usleep((gulong)g_rand_int_range(rand, 500, 1500));
	}
	g_rand_free(rand);
	return NULL;
}

static void test_workers_queue_while_exiting(void)
{
	struct expiry_thread et[EXPIRY_THREADS];
	struct wq_stats st;

	wq_set_worker_idle_timeout_ms(1);
	for (int t = 0; t < EXPIRY_THREADS; t++) {
		et[t].wq = t ? unbound_wq("expiry-u", t) : create_workqueue("expiry");
		et[t].queued = 0;
		test_work_init(&et[t].tw[0]);
		test_work_init(&et[t].tw[1]);
		et[t].thread = g_thread_new("expiry", expiry_thread_fn, &et[t]);
	}
	for (int t = 0; t < EXPIRY_THREADS; t++) {
		g_thread_join(et[t].thread);
		g_assert_cmpint(flush_workqueue(et[t].wq), ==, 0);
		g_assert_cmpint(et[t].tw[0].runs + et[t].tw[1].runs, ==, et[t].queued);
		wq_get_stats(et[t].wq, &st);
		g_assert_cmpuint(st.completed, ==, (unsigned int)et[t].queued);
		g_assert_cmpuint(st.pending + st.running, ==, 0);
		await_workers(et[t].wq, 0);
		destroy(et[t].wq);
	}

	/* Destroy while the workers are timing out. */
	for (int i = 0; i < 100; i++) {
		struct workqueue_struct *wq = unbound_wq("expiry-d", 2);
		struct test_work tw;

		test_work_init(&tw);
		g_assert_true(queue_work(wq, W(&tw)));
		flush_work(W(&tw));
		g_assert_cmpint(tw.runs, ==, 1);
		g_usleep((gulong)(i % 20) * 100);
		destroy(wq);
	}
	wq_set_worker_idle_timeout_ms(0);
}

/*
 * When no worker can be started (a subprocess past its RLIMIT_NPROC) a
 * queue is still created, and a queued work stays pending, logged once;
 * it runs once threads are back, when its pool is kicked again or when
 * any worker goes idle.
 */
static void eagain_subprocess(void)
{
	struct workqueue_struct *wq = create_workqueue("eagain");
	struct workqueue_struct *uwq = unbound_wq("eagain-u", 1);
	struct test_work a, b, c;
	struct rlimit lim;
	struct wq_stats st;

	test_work_init(&a);
	test_work_init(&b);
	test_work_init(&c);
	g_assert_cmpint(getrlimit(RLIMIT_NPROC, &lim), ==, 0);
	if (geteuid() == 0) {	/* root is not limited: be nobody */
		g_assert_cmpint(setgid(65534), ==, 0);
		g_assert_cmpint(setuid(65534), ==, 0);
	}
	lim.rlim_cur = 1;
	g_assert_cmpint(setrlimit(RLIMIT_NPROC, &lim), ==, 0);

	g_assert_cmpuint(nr_workers(wq), ==, 0);
	g_test_expect_message(NULL, G_LOG_LEVEL_WARNING,
			      "wq eagain: no worker can be started*");
	g_test_expect_message(NULL, G_LOG_LEVEL_WARNING,
			      "wq eagain-u: no worker can be started*");
	g_assert_true(queue_work_on(0, wq, W(&a)));
	g_assert_true(queue_work(uwq, W(&c)));
	g_assert_true(queue_work_on(0, wq, W(&b)));	/* no second warning */
	g_test_assert_expected_messages();
	wq_get_stats(wq, &st);
	g_assert_cmpuint(st.workers, ==, 0);
	g_assert_cmpuint(st.pending, ==, 2);

	/* Threads again: a later queue on the pool starts its worker ... */
	lim.rlim_cur = lim.rlim_max;
	g_assert_cmpint(setrlimit(RLIMIT_NPROC, &lim), ==, 0);
	g_assert_true(cancel_work_sync(W(&b)));
	g_assert_true(queue_work_on(0, wq, W(&b)));
	flush_work(W(&a));
	flush_work(W(&b));
	g_assert_cmpint(a.runs + b.runs, ==, 2);
	/* ... and nothing kicks uwq again: the idle path of wq's worker
	 * retries its pool. */
	flush_work(W(&c));
	g_assert_cmpint(c.runs, ==, 1);
	destroy(wq);
	destroy(uwq);
}

static void test_workers_eagain(void)
{
	if (g_test_subprocess()) {
		eagain_subprocess();
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
}

int main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);
	pthread_mutex_init(&rec.lock, NULL);
	g_assert_cmpint(wq_init(250), ==, 0);

	g_test_add_func("/engine/time/jiffies", test_time_jiffies);
	g_test_add_func("/engine/queue/already-pending", test_queue_already_pending);
	g_test_add_func("/engine/queue/einval-cpu", test_queue_einval_cpu);
	g_test_add_func("/engine/queue/requeue-while-running", test_queue_requeue_while_running);
	g_test_add_func("/engine/flush/workqueue-not-later-work", test_flush_not_later_work);
	g_test_add_func("/engine/flush/idle-async", test_flush_idle_async);
	g_test_add_func("/engine/flush/edeadlk", test_flush_edeadlk);
	g_test_add_func("/engine/cancel/sync-returns-pending", test_cancel_sync_returns_pending);
	g_test_add_func("/engine/cancel/stops-self-requeue", test_cancel_stops_self_requeue);
	g_test_add_func("/engine/cancel/delayed", test_cancel_delayed);
	g_test_add_func("/engine/delayed/order", test_delayed_order);
	g_test_add_func("/engine/delayed/million", test_delayed_million);
	g_test_add_func("/engine/delayed/mod", test_delayed_mod);
	g_test_add_func("/engine/pool/per-cpu-names-and-binding", test_pool_names_and_binding);
	g_test_add_func("/engine/pool/max-active", test_pool_max_active);
	g_test_add_func("/engine/workers/lazy-start", test_workers_lazy_start);
	g_test_add_func("/engine/workers/idle-exit", test_workers_idle_exit);
	g_test_add_func("/engine/workers/frozen", test_workers_frozen);
	g_test_add_func("/engine/workers/max-active", test_workers_max_active);
	g_test_add_func("/engine/workers/attrs-without-workers",
			test_workers_attrs_without_workers);
	g_test_add_func("/engine/workers/queue-while-exiting",
			test_workers_queue_while_exiting);
	g_test_add_func("/engine/workers/eagain", test_workers_eagain);
	g_test_add_func("/engine/ordered/fifo", test_ordered_fifo);
	g_test_add_func("/engine/freeze/thaw", test_freeze_thaw);
	g_test_add_func("/engine/destroy/enotempty-with-delayed", test_destroy_enotempty);
	g_test_add_func("/engine/destroy/drains", test_destroy_drains);
	g_test_add_func("/engine/destroy/eshutdown", test_destroy_eshutdown);
	g_test_add_func("/engine/drain/chained", test_drain_chained);
	g_test_add_func("/engine/barrier/abort", test_barrier_abort);
	g_test_add_func("/engine/observer/events-order", test_observer_events_order);
	g_test_add_func("/engine/observer/namer", test_observer_namer);
	g_test_add_func("/engine/stats/cpu-time", test_stats_cpu_time);
	g_test_add_func("/engine/attrs/apply", test_attrs);
	g_test_add_func("/engine/attrs/set-unbound", test_set_unbound);
	g_test_add_func("/engine/queue/embedded-work-frees-itself", test_embedded_work_frees_itself);
	g_test_add_func("/engine/system/schedule-work", test_system_schedule);

	ret = g_test_run();
	wq_exit();
	return ret;
}
