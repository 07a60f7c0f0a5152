// SPDX-License-Identifier: MIT
/*
 * fs-jiq.c - unit tests of fs/jiq.c on the real engine.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "jiq.h"

static const char header[] = "    time  delta preempt   pid cpu command\n";

/* What the done callback got. */
struct result {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;		/* lock */
	char *text;		/* lock */
	size_t len;		/* lock */
};

static void result_init(struct result *res)
{
	*res = (struct result){ .calls = 0 };
	pthread_mutex_init(&res->lock, NULL);
	pthread_cond_init(&res->cond, NULL);
}

static void result_clear(struct result *res)
{
	g_free(res->text);
	pthread_cond_destroy(&res->cond);
	pthread_mutex_destroy(&res->lock);
}

static void on_done(const char *text, size_t len, void *data)
{
	struct result *res = data;

	pthread_mutex_lock(&res->lock);
	res->calls++;
	g_free(res->text);
	res->text = g_strndup(text, len);
	res->len = len;
	pthread_cond_broadcast(&res->cond);
	pthread_mutex_unlock(&res->lock);
}

static void result_wait(struct result *res)
{
	pthread_mutex_lock(&res->lock);
	while (!res->calls)
		pthread_cond_wait(&res->cond, &res->lock);
	pthread_mutex_unlock(&res->lock);
}

static int result_calls(struct result *res)
{
	int calls;

	pthread_mutex_lock(&res->lock);
	calls = res->calls;
	pthread_mutex_unlock(&res->lock);
	return calls;
}

/* One run to the end; returns the page (free it). */
static char *run(struct workqueue_struct *wq, unsigned long delay)
{
	struct result res;
	struct wqfs_jiq *jiq;
	char *text;

	result_init(&res);
	jiq = wqfs_jiq_start(wq, delay, on_done, &res);
	g_assert_nonnull(jiq);
	result_wait(&res);
	g_assert_false(wqfs_jiq_cancel(jiq));
	wqfs_jiq_free(jiq);
	g_assert_cmpint(res.calls, ==, 1);
	g_assert_cmpuint(strlen(res.text), ==, res.len);
	text = g_steal_pointer(&res.text);
	result_clear(&res);
	return text;
}

struct row {
	long time, delta;
	int preempt, pid, cpu;
	char command[16];
};

/* Parse page into rows, checking the header and each row byte for byte. */
static GArray *parse(const char *text)
{
	GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct row));
	size_t last = 0;
	char **lines;

	g_assert_true(g_str_has_prefix(text, header));
	g_assert_true(g_str_has_suffix(text, "\n"));
	lines = g_strsplit(text + strlen(header), "\n", -1);
	for (char **l = lines; *l && **l; l++) {
		struct row r;
		char *again;

		g_assert_cmpint(sscanf(*l, "%ld %ld %d %d %d %15s", &r.time, &r.delta,
				       &r.preempt, &r.pid, &r.cpu, r.command), ==, 6);
		again = g_strdup_printf("%9li  %4li     %3i %5i %3i %s", r.time, r.delta,
					r.preempt, r.pid, r.cpu, r.command);
		g_assert_cmpstr(*l, ==, again);
		g_free(again);
		last = strlen(*l) + 1;
		g_array_append_val(rows, r);
	}
	g_strfreev(lines);
	g_assert_cmpuint(rows->len, >, 1);
	/* jiq.c stops once the page passes LIMIT: the last row crossed it. */
	g_assert_cmpuint(strlen(text), >, WQFS_JIQ_LIMIT);
	g_assert_cmpuint(strlen(text) - last, <=, WQFS_JIQ_LIMIT);
	return rows;
}

#define ROW(rows, i)	g_array_index((rows), struct row, (i))

/* Check the common columns; returns how many rows had delta == want. */
static unsigned int check_rows(GArray *rows, long min_delta, long want)
{
	unsigned int hits = 0;

	for (unsigned int i = 0; i < rows->len; i++) {
		const struct row *r = &ROW(rows, i);

		g_assert_cmpint(r->preempt, ==, 0);
		g_assert_cmpint(r->delta, >=, min_delta);
		if (i) {
			g_assert_cmpint(r->time, >=, ROW(rows, i - 1).time);
			g_assert_cmpint(r->delta, ==, r->time - ROW(rows, i - 1).time);
		}
		hits += r->delta == want;
	}
	return hits;
}

static void test_rows_jiqwq(void)
{
	struct workqueue_struct *wq = alloc_workqueue("jiqwq", 0, 1);
	char *text = run(wq, 0);
	GArray *rows = parse(text);

	g_assert_cmpuint(check_rows(rows, 0, 0), >, rows->len / 2);
	g_array_free(rows, TRUE);
	g_free(text);
	g_assert_cmpint(destroy_workqueue(wq), ==, 0);
}

static void test_rows_jiqwqdelay(void)
{
	struct workqueue_struct *wq = alloc_workqueue("jiqdelay", 0, 1);
	unsigned long j0 = wq_jiffies();
	char *text = run(wq, 1);
	GArray *rows = parse(text);

	g_assert_cmpuint(check_rows(rows, 1, 1), >, rows->len / 2);
	g_assert_cmpint(ROW(rows, 0).time, >, (long)j0);
	g_array_free(rows, TRUE);
	g_free(text);
	g_assert_cmpint(destroy_workqueue(wq), ==, 0);
}

/* The observer's view of who ran works of one queue. */
struct seen {
	pthread_mutex_t lock;
	struct workqueue_struct *wq;	/* immutable while observed */
	GHashTable *comm_of_tid;	/* lock: tid -> comm */
};

static void observe(const struct wq_event *ev, void *data)
{
	struct seen *seen = data;

	if (ev->type != WQ_EVENT_STARTED || ev->wq != seen->wq)
		return;
	pthread_mutex_lock(&seen->lock);
	g_hash_table_insert(seen->comm_of_tid, GINT_TO_POINTER(ev->tid),
			    g_strdup(ev->comm));
	pthread_mutex_unlock(&seen->lock);
}

/* Rows are signed by the worker that ran them: its tid, name and CPU. */
static void check_workers(struct workqueue_struct *wq, const char *name, bool observed)
{
	struct seen seen = { .wq = wq };
	GArray *rows;
	char *text;

	pthread_mutex_init(&seen.lock, NULL);
	seen.comm_of_tid = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	if (observed)
		wq_set_observer(observe, &seen);
	text = run(wq, 0);
	if (observed)
		wq_set_observer(NULL, NULL);
	rows = parse(text);
	for (unsigned int i = 0; i < rows->len; i++) {
		const struct row *r = &ROW(rows, i);
		char *want = g_strdup_printf("%s/%d", name, r->cpu);

		g_assert_cmpstr(r->command, ==, want);
		if (observed)
			g_assert_cmpstr(g_hash_table_lookup(seen.comm_of_tid,
							    GINT_TO_POINTER(r->pid)), ==, want);
		g_free(want);
	}
	g_array_free(rows, TRUE);
	g_free(text);
	g_hash_table_destroy(seen.comm_of_tid);
	pthread_mutex_destroy(&seen.lock);
}

static void test_pid_and_command(void)
{
	struct workqueue_struct *wq = alloc_workqueue("jiqpid", 0, 1);

	check_workers(wq, "jiqpid", true);
	g_assert_cmpint(destroy_workqueue(wq), ==, 0);
}

static void test_events_queue(void)
{
	check_workers(system_wq, "events", false);
}

/* Cancel while the run is under way: true, and done is never called. */
static void cancel_after(struct workqueue_struct *wq, unsigned long delay,
			 unsigned int wait_ms)
{
	struct result res;
	struct wqfs_jiq *jiq;

	result_init(&res);
	jiq = wqfs_jiq_start(wq, delay, on_done, &res);
	g_assert_nonnull(jiq);
	g_usleep(wait_ms * 1000);
	g_assert_true(wqfs_jiq_cancel(jiq));
	wqfs_jiq_free(jiq);
	g_usleep(wq_jiffies_to_ns(2 * delay) / 1000);
	g_assert_cmpint(result_calls(&res), ==, 0);
	result_clear(&res);
}

static void test_cancel(void)
{
	struct workqueue_struct *wq = alloc_workqueue("jiqcancel", 0, 1);

	cancel_after(wq, 50, 10);	/* first step not yet due */
	cancel_after(wq, 5, 100);	/* a few rows printed */
	g_assert_cmpint(destroy_workqueue(wq), ==, 0);
}

/* Cancel racing the end of a run: done is called once or never. */
static void test_cancel_race(void)
{
	struct workqueue_struct *wq = alloc_workqueue("jiqrace", 0, 1);
	unsigned int cancelled = 0;

	for (unsigned int i = 0; i < 200; i++) {
		struct result res;
		struct wqfs_jiq *jiq;
		bool stopped;

		result_init(&res);
		jiq = wqfs_jiq_start(wq, 0, on_done, &res);
		g_assert_nonnull(jiq);
		g_usleep(g_random_int_range(0, 300));
		stopped = wqfs_jiq_cancel(jiq);
		if (!stopped)
			result_wait(&res);
		wqfs_jiq_free(jiq);
		g_assert_cmpint(flush_workqueue(wq), ==, 0);
		g_assert_cmpint(result_calls(&res), ==, stopped ? 0 : 1);
		cancelled += stopped;
		result_clear(&res);
	}
	g_test_message("%u of 200 runs cancelled", cancelled);
	g_assert_cmpint(destroy_workqueue(wq), ==, 0);
}

static void test_refused(void)
{
	struct workqueue_struct *wq = alloc_workqueue("jiqdead", 0, 1);
	struct result res;

	result_init(&res);
	g_assert_cmpint(wq_shutdown(wq), ==, 0);
	errno = 0;
	g_assert_null(wqfs_jiq_start(wq, 0, on_done, &res));
	g_assert_cmpint(errno, ==, ESHUTDOWN);
	g_assert_null(wqfs_jiq_start(wq, 1, on_done, &res));
	g_assert_cmpint(errno, ==, ESHUTDOWN);
	wq_free(wq);
	result_clear(&res);
}

int main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(wq_init(250), ==, 0);
	g_test_add_func("/fs/jiq/rows-jiqwq", test_rows_jiqwq);
	g_test_add_func("/fs/jiq/rows-jiqwqdelay", test_rows_jiqwqdelay);
	g_test_add_func("/fs/jiq/pid-and-command", test_pid_and_command);
	g_test_add_func("/fs/jiq/events-queue", test_events_queue);
	g_test_add_func("/fs/jiq/cancel", test_cancel);
	g_test_add_func("/fs/jiq/cancel-race", test_cancel_race);
	g_test_add_func("/fs/jiq/refused", test_refused);
	ret = g_test_run();
	wq_exit();
	return ret;
}
