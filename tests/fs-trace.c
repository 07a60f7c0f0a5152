// SPDX-License-Identifier: MIT
/*
 * fs-trace.c - unit tests of fs/trace.c, fed with synthetic engine events.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "trace.h"

static const char header[] =
	"    time  delta preempt   pid cpu command queue work event exit\n";

#define BIG	(1 << 20)

/* Emit one event of queue/work; result is the exit column of "end". */
static void emit(struct wqfs_trace *hub, const char *queue, const char *work,
		 enum wq_event_type type, int result)
{
	struct wq_event ev = {
		.type = type,
		.time_ns = wq_now_ns(),
		.tid = 1234,
		.cpu = 1,
		.comm = "events/1",
		.result = result,
	};
	struct wqfs_trace_event e = { .ev = &ev, .queue = queue, .work = work };

	wqfs_trace_emit(hub, &e);
}

/* Read everything r has into a new string (NULL if -EAGAIN). */
static char *read_all(struct wqfs_trace_reader *r)
{
	GString *s = g_string_new(NULL);
	char *buf = g_malloc(BIG);
	ssize_t n;

	while ((n = wqfs_trace_read(r, buf, BIG)) > 0)
		g_string_append_len(s, buf, n);
	g_assert_cmpint(n, ==, -EAGAIN);
	g_free(buf);
	if (!s->len) {
		g_string_free(s, TRUE);
		return NULL;
	}
	return g_string_free(s, FALSE);
}

static void test_row_format(void)
{
	struct wqfs_trace *hub = wqfs_trace_new();
	static const struct {
		enum wq_event_type type;
		const char *tail;
	} rows[] = {
		{ WQ_EVENT_QUEUED,    "queued -\n" },
		{ WQ_EVENT_DELAYED,   "delayed -\n" },
		{ WQ_EVENT_STARTED,   "start -\n" },
		{ WQ_EVENT_FINISHED,  "end 3\n" },
		{ WQ_EVENT_CANCELLED, "cancel -\n" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		struct wqfs_trace_reader *r;
		unsigned long j0, j1;
		char *got, *want;

		do {	/* retry if a jiffy ticks in between */
			r = wqfs_trace_open(hub, NULL, 0, NULL, NULL);
			j0 = wq_jiffies();
			emit(hub, "q", "w42", rows[i].type, 3);
			j1 = wq_jiffies();
			got = read_all(r);
			wqfs_trace_close(r);
			if (j0 != j1)
				g_free(got);
		} while (j0 != j1);
		want = g_strdup_printf("%s%9lu     0       0  1234   1 events/1 q w42 %s",
				       header, j0, rows[i].tail);
		g_assert_cmpstr(got, ==, want);
		g_free(got);
		g_free(want);
	}
	wqfs_trace_free(hub);
}

/* Synthetic times: delta is per reader, 0 for its first row. */
static void test_delta(void)
{
	struct wqfs_trace *hub = wqfs_trace_new();
	struct wqfs_trace_reader *a = wqfs_trace_open(hub, NULL, 0, NULL, NULL);
	struct wqfs_trace_reader *b;
	uint64_t tick = wq_jiffies_to_ns(1), now = wq_now_ns();
	struct wq_event ev = { .type = WQ_EVENT_STARTED, .comm = "x" };
	struct wqfs_trace_event e = { .ev = &ev, .queue = "q", .work = "w" };
	unsigned long t[3], d[3];
	char *text, *line;

	while (wq_jiffies() < 10)
		g_usleep(1000);
	now = wq_now_ns();
	ev.time_ns = now - 7 * tick;
	wqfs_trace_emit(hub, &e);
	g_free(read_all(a));
	b = wqfs_trace_open(hub, NULL, 0, NULL, NULL);
	ev.time_ns = now - 4 * tick;
	wqfs_trace_emit(hub, &e);
	ev.time_ns = now;
	wqfs_trace_emit(hub, &e);

	text = read_all(a);		/* the header came with the first read */
	line = text;
	g_assert_cmpint(sscanf(line, "%lu %lu", &t[0], &d[0]), ==, 2);
	g_assert_cmpint(sscanf(strchr(line, '\n') + 1, "%lu %lu", &t[1], &d[1]), ==, 2);
	g_assert_cmpuint(d[0], >=, 2);	/* 3 jiffies, give or take a tick */
	g_assert_cmpuint(d[0], <=, 4);
	g_assert_cmpuint(d[1], >=, 3);
	g_assert_cmpuint(d[1], <=, 5);
	g_assert_cmpuint(t[1] - t[0], ==, d[1]);
	g_free(text);

	text = read_all(b);
	g_assert_cmpint(sscanf(strchr(text, '\n') + 1, "%lu %lu", &t[2], &d[2]), ==, 2);
	g_assert_cmpuint(d[2], ==, 0);
	g_free(text);

	wqfs_trace_close(a);
	wqfs_trace_close(b);
	wqfs_trace_free(hub);
}

static void test_header_first(void)
{
	struct wqfs_trace *hub = wqfs_trace_new();
	struct wqfs_trace_reader *r = wqfs_trace_open(hub, NULL, 0, NULL, NULL);
	char *text;

	emit(hub, "q", "a", WQ_EVENT_QUEUED, 0);
	text = read_all(r);
	g_assert_true(g_str_has_prefix(text, header));
	g_assert_null(strstr(text + 1, "    time"));
	g_assert_true(g_str_has_suffix(text, " q a queued -\n"));
	g_free(text);

	emit(hub, "q", "b", WQ_EVENT_QUEUED, 0);
	text = read_all(r);
	g_assert_null(strstr(text, "    time"));
	g_assert_true(g_str_has_suffix(text, " q b queued -\n"));
	g_free(text);

	wqfs_trace_close(r);
	wqfs_trace_free(hub);
}

/* Reads return whole rows; a lone row longer than the buffer is cut. */
static void test_whole_rows(void)
{
	struct wqfs_trace *hub = wqfs_trace_new();
	struct wqfs_trace_reader *r = wqfs_trace_open(hub, NULL, 0, NULL, NULL);
	size_t hlen = sizeof(header) - 1, rlen;
	char buf[1024];
	ssize_t n;

	emit(hub, "q", "a", WQ_EVENT_QUEUED, 0);
	emit(hub, "q", "b", WQ_EVENT_QUEUED, 0);
	n = wqfs_trace_read(r, buf, hlen + 10);
	g_assert_cmpint(n, ==, hlen);
	g_assert_true(memcmp(buf, header, hlen) == 0);

	n = wqfs_trace_read(r, buf, sizeof(buf));
	g_assert_cmpint(n, >, 0);
	rlen = (size_t)n / 2;			/* two rows of equal length */
	g_assert_cmpint(buf[rlen - 1], ==, '\n');
	g_assert_cmpint(buf[n - 1], ==, '\n');

	emit(hub, "q", "c", WQ_EVENT_QUEUED, 0);
	emit(hub, "q", "d", WQ_EVENT_QUEUED, 0);
	n = wqfs_trace_read(r, buf, 2 * rlen - 1);
	g_assert_cmpint(n, ==, rlen);			/* one row, not 1.9 */
	n = wqfs_trace_read(r, buf, 5);			/* cut */
	g_assert_cmpint(n, ==, 5);
	g_assert_cmpint(wqfs_trace_read(r, buf, sizeof(buf)), ==, -EAGAIN);
	g_assert_cmpint(wqfs_trace_read(r, buf, 0), ==, -EAGAIN);

	wqfs_trace_close(r);
	wqfs_trace_free(hub);
}

static void test_filter_queue(void)
{
	struct wqfs_trace *hub = wqfs_trace_new();
	struct wqfs_trace_reader *a = wqfs_trace_open(hub, "qa", 0, NULL, NULL);
	struct wqfs_trace_reader *all = wqfs_trace_open(hub, NULL, 0, NULL, NULL);
	struct wqfs_trace_reader *none = wqfs_trace_open(hub, "q", 0, NULL, NULL);
	char *text;

	emit(hub, "qa", "w1", WQ_EVENT_STARTED, 0);
	emit(hub, "qb", "w2", WQ_EVENT_STARTED, 0);
	emit(hub, "qa", "w3", WQ_EVENT_FINISHED, 0);

	text = read_all(a);
	g_assert_nonnull(strstr(text, " qa w1 start -\n"));
	g_assert_nonnull(strstr(text, " qa w3 end 0\n"));
	g_assert_null(strstr(text, " qb "));
	g_free(text);

	text = read_all(all);
	g_assert_nonnull(strstr(text, " qa w1 "));
	g_assert_nonnull(strstr(text, " qb w2 "));
	g_assert_nonnull(strstr(text, " qa w3 "));
	g_free(text);

	g_assert_null(read_all(none));
	g_assert_false(wqfs_trace_readable(none));

	wqfs_trace_close(a);
	wqfs_trace_close(all);
	wqfs_trace_close(none);
	wqfs_trace_free(hub);
}

static void test_eagain_when_empty(void)
{
	struct wqfs_trace *hub = wqfs_trace_new();
	struct wqfs_trace_reader *r;
	char buf[4096];

	emit(hub, "q", "before", WQ_EVENT_QUEUED, 0);	/* nobody listens */
	r = wqfs_trace_open(hub, NULL, 0, NULL, NULL);
	g_assert_false(wqfs_trace_readable(r));
	g_assert_cmpint(wqfs_trace_read(r, buf, sizeof(buf)), ==, -EAGAIN);

	emit(hub, "q", "w", WQ_EVENT_QUEUED, 0);
	g_assert_true(wqfs_trace_readable(r));
	g_assert_cmpint(wqfs_trace_read(r, buf, sizeof(buf)), >, 0);
	g_assert_false(wqfs_trace_readable(r));
	g_assert_cmpint(wqfs_trace_read(r, buf, sizeof(buf)), ==, -EAGAIN);

	wqfs_trace_close(r);
	wqfs_trace_free(hub);
}

/* Emit n rows of queue q, works "w<base>".."w<base+n-1>". */
static void emit_numbered(struct wqfs_trace *hub, unsigned int base, unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		char work[16];

		snprintf(work, sizeof(work), "w%u", base + k);
		emit(hub, "q", work, WQ_EVENT_QUEUED, 0);
	}
}

/*
 * Read back what emit_numbered() left in r: "# lost L rows" with
 * L + kept == n, and the kept rows are the newest, in order.  Returns
 * how many were kept.
 */
static unsigned int check_lost(struct wqfs_trace_reader *r, unsigned int base,
			       unsigned int n, bool first)
{
	unsigned long long lost = 0;
	unsigned int kept;
	char *text = read_all(r), **lines;
	size_t i = 0;

	g_assert_nonnull(text);
	lines = g_strsplit(text, "\n", -1);
	if (first)
		g_assert_cmpstr(lines[i++], ==, "    time  delta preempt   pid cpu command queue work event exit");
	if (g_str_has_prefix(lines[i], "# lost "))
		g_assert_cmpint(sscanf(lines[i++], "# lost %llu rows", &lost), ==, 1);
	kept = g_strv_length(lines + i) - 1;		/* "" after the last \n */
	g_assert_cmpuint(kept, >=, 1);
	g_assert_cmpuint(lost + kept, ==, n);
	for (unsigned int k = 0; k < kept; k++) {
		char *want = g_strdup_printf(" q w%llu queued -", base + lost + k);

		g_assert_true(g_str_has_suffix(lines[i + k], want));
		g_free(want);
	}
	g_strfreev(lines);
	g_free(text);
	return kept;
}

static unsigned int lose_rows(struct wqfs_trace *hub, struct wqfs_trace_reader *r,
			      unsigned int base, unsigned int n, bool first)
{
	emit_numbered(hub, base, n);
	return check_lost(r, base, n, first);
}

static void test_lost_rows(void)
{
	struct wqfs_trace *hub = wqfs_trace_new();
	struct wqfs_trace_reader *one = wqfs_trace_open(hub, NULL, 1, NULL, NULL);
	struct wqfs_trace_reader *small = wqfs_trace_open(hub, "q", 2048, NULL, NULL);
	unsigned int kept;
	char *text;

	/* The smallest ring keeps one row: the newest. */
	g_assert_cmpuint(lose_rows(hub, one, 0, 100, true), ==, 1);
	emit(hub, "q", "x", WQ_EVENT_QUEUED, 0);
	emit(hub, "q", "y", WQ_EVENT_QUEUED, 0);
	text = read_all(one);
	g_assert_true(g_str_has_prefix(text, "# lost 1 rows\n"));
	g_assert_true(g_str_has_suffix(text, " q y queued -\n"));
	g_free(text);

	g_free(read_all(small));
	kept = lose_rows(hub, small, 1000, 500, false);
	g_assert_cmpuint(kept, <, 500);
	g_assert_cmpuint(kept, <=, 2048 / 64);
	/* Nothing lost this time: no "# lost" line. */
	g_assert_cmpuint(lose_rows(hub, small, 2000, kept, false), ==, kept);

	wqfs_trace_close(one);
	wqfs_trace_close(small);
	wqfs_trace_free(hub);
}

static void count_notify(void *data)
{
	atomic_fetch_add((atomic_uint *)data, 1);
}

static void test_notify_on_readable(void)
{
	struct wqfs_trace *hub = wqfs_trace_new();
	atomic_uint calls = 0, other = 0;
	struct wqfs_trace_reader *r = wqfs_trace_open(hub, "q", 0, count_notify, &calls);
	struct wqfs_trace_reader *o = wqfs_trace_open(hub, "z", 0, count_notify, &other);

	emit(hub, "q", "a", WQ_EVENT_QUEUED, 0);
	g_assert_cmpuint(atomic_load(&calls), ==, 1);
	emit(hub, "q", "b", WQ_EVENT_QUEUED, 0);
	g_assert_cmpuint(atomic_load(&calls), ==, 1);	/* was not empty */
	g_free(read_all(r));
	g_assert_cmpuint(atomic_load(&calls), ==, 1);
	emit(hub, "q", "c", WQ_EVENT_QUEUED, 0);
	g_assert_cmpuint(atomic_load(&calls), ==, 2);
	g_assert_cmpuint(atomic_load(&other), ==, 0);	/* filtered out */

	wqfs_trace_close(r);
	wqfs_trace_close(o);
	wqfs_trace_free(hub);
}

/* ---- concurrency ------------------------------------------------------- */

#define EMITTERS	4
#define READERS		4
#define PER_EMITTER	20000

struct conc {
	struct wqfs_trace *hub;
	atomic_int emitters_left;
	atomic_uint churn_notified;
};

struct conc_emitter {
	struct conc *c;
	int id;
};

struct conc_reader {
	struct conc *c;
	struct wqfs_trace_reader *r;
	atomic_uint notified;
	unsigned long long rows, lost;
	int bad;
};

static void *conc_emit(void *arg)
{
	struct conc_emitter *me = arg;
	char work[16];

	snprintf(work, sizeof(work), "t%d", me->id);
	for (int seq = 0; seq < PER_EMITTER; seq++)
		emit(me->c->hub, "q", work, WQ_EVENT_FINISHED, seq);
	atomic_fetch_sub(&me->c->emitters_left, 1);
	return NULL;
}

/* Check one line: rows of each emitter arrive in order, once. */
static void conc_line(struct conc_reader *me, const char *line, int *next)
{
	unsigned long long lost;
	char work[16];
	int id, seq;

	if (sscanf(line, "# lost %llu rows", &lost) == 1) {
		me->lost += lost;
		return;
	}
	if (g_str_has_prefix(line, "    time"))
		return;
	if (sscanf(line, "%*u %*u %*d %*d %*d %*s q %15s end %d", work, &seq) != 2 ||
	    sscanf(work, "t%d", &id) != 1 || id < 0 || id >= EMITTERS ||
	    seq < next[id]) {
		me->bad++;
		return;
	}
	next[id] = seq + 1;
	me->rows++;
}

static void *conc_read(void *arg)
{
	struct conc_reader *me = arg;
	int next[EMITTERS] = { 0 };
	char *buf = g_malloc(8192);
	ssize_t n;

	for (;;) {
		bool last = atomic_load(&me->c->emitters_left) == 0;
		char *line, *end;

		n = wqfs_trace_read(me->r, buf, 8192);
		if (n == -EAGAIN) {
			if (last)
				break;
			usleep(50);
			continue;
		}
		g_assert_cmpint(n, >, 0);
		g_assert_cmpint(buf[n - 1], ==, '\n');
		for (line = buf; line < buf + n; line = end + 1) {
			end = memchr(line, '\n', (size_t)(buf + n - line));
			*end = '\0';
			conc_line(me, line, next);
		}
	}
	g_free(buf);
	return NULL;
}

/* Readers that come and go while events flow. */
static void *conc_churn(void *arg)
{
	struct conc *c = arg;

	while (atomic_load(&c->emitters_left)) {
		struct wqfs_trace_reader *r =
			wqfs_trace_open(c->hub, NULL, 512, count_notify, &c->churn_notified);
		char buf[256];

		wqfs_trace_read(r, buf, sizeof(buf));
		wqfs_trace_close(r);
	}
	return NULL;
}

static void test_many_readers_concurrent(void)
{
	struct conc c = { .hub = wqfs_trace_new(), .emitters_left = EMITTERS };
	struct conc_emitter em[EMITTERS];
	struct conc_reader rd[READERS];
	pthread_t et[EMITTERS], rt[READERS], churn;

	for (int i = 0; i < READERS; i++) {
		rd[i] = (struct conc_reader){ .c = &c };
		/* Reader 0 has a tiny ring and loses rows; the others may too. */
		rd[i].r = wqfs_trace_open(c.hub, NULL, i ? 0 : 1024,
					  count_notify, &rd[i].notified);
		g_assert_cmpint(pthread_create(&rt[i], NULL, conc_read, &rd[i]), ==, 0);
	}
	g_assert_cmpint(pthread_create(&churn, NULL, conc_churn, &c), ==, 0);
	for (int i = 0; i < EMITTERS; i++) {
		em[i] = (struct conc_emitter){ .c = &c, .id = i };
		g_assert_cmpint(pthread_create(&et[i], NULL, conc_emit, &em[i]), ==, 0);
	}
	for (int i = 0; i < EMITTERS; i++)
		pthread_join(et[i], NULL);
	pthread_join(churn, NULL);
	for (int i = 0; i < READERS; i++) {
		pthread_join(rt[i], NULL);
		g_test_message("reader %d: %llu rows, %llu lost", i, rd[i].rows, rd[i].lost);
		g_assert_cmpint(rd[i].bad, ==, 0);
		g_assert_cmpuint(rd[i].rows + rd[i].lost, ==, EMITTERS * PER_EMITTER);
		g_assert_cmpuint(atomic_load(&rd[i].notified), >=, 1);
		wqfs_trace_close(rd[i].r);
	}
	wqfs_trace_free(c.hub);
}

/* A reader that never reads: its ring stays within capacity, emit goes on. */
static void test_stalled_reader_bounded(void)
{
	struct wqfs_trace *hub = wqfs_trace_new();
	struct wqfs_trace_reader *stalled = wqfs_trace_open(hub, NULL, 4096, NULL, NULL);
	struct wqfs_trace_reader *dfl = wqfs_trace_open(hub, NULL, 0, NULL, NULL);
	const unsigned int n = 1000000;

	emit_numbered(hub, 0, n);
	g_assert_cmpuint(check_lost(stalled, 0, n, true), <=, 4096 / 64);
	g_assert_cmpuint(check_lost(dfl, 0, n, true), <=, 64 * 1024 / 64);
	wqfs_trace_close(stalled);
	wqfs_trace_close(dfl);
	wqfs_trace_free(hub);
}

int main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(wq_init(250), ==, 0);
	g_test_add_func("/fs/trace/row-format", test_row_format);
	g_test_add_func("/fs/trace/delta", test_delta);
	g_test_add_func("/fs/trace/header-first", test_header_first);
	g_test_add_func("/fs/trace/whole-rows", test_whole_rows);
	g_test_add_func("/fs/trace/filter-queue", test_filter_queue);
	g_test_add_func("/fs/trace/eagain-when-empty", test_eagain_when_empty);
	g_test_add_func("/fs/trace/lost-rows", test_lost_rows);
	g_test_add_func("/fs/trace/notify-on-readable", test_notify_on_readable);
	g_test_add_func("/fs/trace/many-readers-concurrent", test_many_readers_concurrent);
	g_test_add_func("/fs/trace/stalled-reader-bounded", test_stalled_reader_bounded);
	ret = g_test_run();
	wq_exit();
	return ret;
}
