/* SPDX-License-Identifier: MIT */
/*
 * status.c - the text of every file generated at open: root status (the
 * wq_monitor.py table) and status.json, queue status, list and
 * status.json, attribute values, and a work's status.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wqfs.h"

static int ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);
	return n > 0 && n <= CPU_SETSIZE ? (int)n : 1;
}

static gint by_name(gconstpointer a, gconstpointer b)
{
	const struct mqueue *qa = *(struct mqueue *const *)a, *qb = *(struct mqueue *const *)b;
	return strcmp(qa->name, qb->name);
}

/* Live queues reader may read, sorted by name; model_lock held. */
static GPtrArray *sorted_queues(const struct submitter *reader)
{
	GPtrArray *a = g_ptr_array_new();
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, queues_by_name);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct fattr *at = &((struct mqueue *)v)->files[MQ_DIR];
		if (submitter_may_read(reader, at->mode, at->uid, at->gid))
			g_ptr_array_add(a, v);
	}
	g_ptr_array_sort(a, by_name);
	return a;
}

/* Append str as a JSON string: quotes, backslashes and control characters
 * escaped, bytes that are not UTF-8 (a command is any bytes) as U+FFFD.
 * Every string of every JSON file goes through here. */
static void json_string(GString *s, const char *str)
{
	const char *p = str, *end = str + strlen(str);

	g_string_append_c(s, '"');
	while (p < end) {
		const gchar *valid;
		g_utf8_validate(p, end - p, &valid);
		for (; p < valid; p++) {
			unsigned char c = (unsigned char)*p;
			switch (c) {
			case '"':  g_string_append(s, "\\\""); break;
			case '\\': g_string_append(s, "\\\\"); break;
			case '\b': g_string_append(s, "\\b"); break;
			case '\f': g_string_append(s, "\\f"); break;
			case '\n': g_string_append(s, "\\n"); break;
			case '\r': g_string_append(s, "\\r"); break;
			case '\t': g_string_append(s, "\\t"); break;
			default:
				if (c < 0x20 || c == 0x7f)
					g_string_append_printf(s, "\\u%04x", c);
				else
					g_string_append_c(s, (char)c);
				break;
			}
		}
		if (p < end) {		/* a byte that starts no UTF-8 character */
			g_string_append(s, "\\ufffd");
			p++;
		}
	}
	g_string_append_c(s, '"');
}

static void root_status(GString *s, const struct submitter *reader)
{
	g_string_append_printf(s, "%24s %8s %5s %8s %7s %7s %7s %7s %7s %7s\n", "",
			       "total", "infl", "CPUtime", "CPUitsv", "CMW/RPR",
			       "mayday", "rescued", "delayed", "failed");
	GPtrArray *a = sorted_queues(reader);
	for (guint i = 0; i < a->len; i++) {
		struct mqueue *q = a->pdata[i];
		struct wq_stats st;
		mqueue_get_stats(q, &st);
		size_t l = strlen(q->name);
		const char *name = l > 24 ? q->name + l - 24 : q->name;
		g_string_append_printf(s, "%24s %8lu %5lu %8.1f %7s %7s %7s %7s %7u %7lu\n",
				       name, (unsigned long)st.started,
				       (unsigned long)(st.started - st.completed),
				       (double)st.cpu_ns / 1e9, "-", "-", "-", "-",
				       st.delayed, (unsigned long)st.failed);
	}
	g_ptr_array_free(a, TRUE);
}

static void root_json(GString *s, const struct submitter *reader)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	GPtrArray *a = sorted_queues(reader);
	g_string_append(s, "[");
	for (guint i = 0; i < a->len; i++) {
		struct mqueue *q = a->pdata[i];
		struct wq_stats st;
		mqueue_get_stats(q, &st);
		g_string_append_printf(s, "%s{\"timestamp\": %.6f, \"name\": ",
				       i ? ",\n " : "", now);
		json_string(s, q->name);
		g_string_append_printf(s,
			", \"total\": %lu, "
			"\"infl\": %lu, \"cpu_time\": %lu, \"cpu_intensive\": null, "
			"\"cmw\": null, \"repatriated\": null, \"mayday\": null, "
			"\"rescued\": null, \"delayed\": %u, \"failed\": %lu, "
			"\"pending\": %u, \"running\": %u}",
			(unsigned long)st.started,
			(unsigned long)(st.started - st.completed),
			(unsigned long)(st.cpu_ns / 1000), st.delayed,
			(unsigned long)st.failed, st.pending, st.running);
	}
	g_string_append(s, "]\n");
	g_ptr_array_free(a, TRUE);
}

static void mask_text(struct mqueue *q, char *buf, size_t size)
{
	struct workqueue_attrs at;
	wq_get_attrs(q->wq, &at);
	wqfs_format_cpumask(&at.cpumask, ncpus(), buf, size);
}

/* One field of a queue's status: "key: value\n", or in JSON "\"key\":
 * value, " (str: value is a string). */
static void qfield(GString *s, bool json, const char *key, const char *val, bool str)
{
	if (!json) {
		g_string_append_printf(s, "%s: %s\n", key, val);
		return;
	}
	g_string_append_printf(s, "\"%s\": ", key);
	if (str)
		json_string(s, val);
	else
		g_string_append(s, val);
	g_string_append(s, ", ");
}

/* The queue's fields, in the order of its status file: the lines of the
 * status file, or the members of its status.json. */
static void queue_fields(GString *s, struct mqueue *q, bool json)
{
	struct wq_stats st;
	struct workqueue_attrs at;
	char mask[1024], v[32];
	mqueue_get_stats(q, &st);
	wq_get_attrs(q->wq, &at);
	wqfs_format_cpumask(&at.cpumask, ncpus(), mask, sizeof mask);
	g_strchomp(mask);
#define QNUM(key, fmt, x) \
	(g_snprintf(v, sizeof v, fmt, x), qfield(s, json, key, v, false))
	qfield(s, json, "name", q->name, true);
	QNUM("per_cpu", "%d", !(wq_flags(q->wq) & WQ_UNBOUND));
	QNUM("max_active", "%d", wq_max_active(q->wq));
	QNUM("workers", "%u", st.workers);
	QNUM("pending", "%u", st.pending);
	QNUM("delayed", "%u", st.delayed);
	QNUM("running", "%u", st.running);
	QNUM("completed", "%lu", (unsigned long)st.completed);
	QNUM("failed", "%lu", (unsigned long)st.failed);
	QNUM("cancelled", "%lu", (unsigned long)st.cancelled);
	QNUM("started", "%lu", (unsigned long)st.started);
	QNUM("frozen", "%d", wq_frozen(q->wq) ? 1 : 0);
	QNUM("nice", "%d", at.nice);
#undef QNUM
	qfield(s, json, "cpumask", mask, true);
}

static void queue_status(GString *s, struct mqueue *q)
{
	queue_fields(s, q, false);
}

/* A time of a work as ISO 8601 UTC with milliseconds
 * (2026-12-01T08:30:00.123Z); "" when unset.  size >= TIME_LEN. */
#define TIME_LEN 32
static void time_text(char *buf, size_t size, bool has, int64_t ms)
{
	buf[0] = '\0';
	if (!has)
		return;
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&sec, &tm))
		return;
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	g_snprintf(buf + n, size - n, ".%03dZ", (int)(ms % 1000));
}

static void time_field(GString *s, const char *key, bool has, int64_t ms)
{
	char t[TIME_LEN];
	time_text(t, sizeof t, has, ms);
	g_string_append_printf(s, "%s: %s\n", key, *t ? t : "-");
}

/* The running command's pid from the moment it is spawned, else the
 * latest run's; model_lock held. */
static pid_t work_pid(struct mwork *w)
{
	pid_t pid = w->running ? wq_command_pid(&w->ran->cmd) : 0;
	if (pid > 0)
		return pid;
	return w->has_exit && w->ran ? w->ran->last_pid : 0;
}

/* The node w last ran on (a cluster's, or this daemon's), or "". */
static const char *work_node(struct mwork *w)
{
	return w->ran && w->ran->node ? w->ran->node : "";
}

static void work_status(GString *s, struct mwork *w)
{
	g_string_append_printf(s, "name: %s\nstate: %s\ncommand: %s\nruns: %u\n",
			       w->name, mwork_state_name(mwork_state(w)), mwork_cmdline(w),
			       mwork_nruns(w));
	if (w->has_exit)
		g_string_append_printf(s, "last_exit: %d\n", mwork_last_exit(w));
	else
		g_string_append(s, "last_exit: -\n");
	pid_t pid = work_pid(w);
	if (pid > 0)
		g_string_append_printf(s, "last_pid: %ld\n", (long)pid);
	else
		g_string_append(s, "last_pid: -\n");
	if (w->has_started && w->ran && w->ran->last_cpu >= 0)
		g_string_append_printf(s, "last_cpu: %d\n", w->ran->last_cpu);
	else
		g_string_append(s, "last_cpu: -\n");
	const char *node = work_node(w);
	if (*node)		/* where it last ran, once it ran */
		g_string_append_printf(s, "node: %s\n", node);
	time_field(s, "queued_at", w->has_queued, w->queued_ms);
	time_field(s, "due_at", w->has_due, w->due_ms);
	time_field(s, "started_at", w->has_started, mwork_started_ms(w));
	time_field(s, "finished_at", w->has_finished, mwork_finished_ms(w));
	const char *why = mwork_reason(w);
	g_string_append_printf(s, "reason: %s\n", why ? why : "-");
}

/* Work names in natural order: runs of digits compare as numbers (w2
 * before w10), anything else byte by byte; equal ones (w01, w1) by bytes. */
static int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (g_ascii_isdigit(*a) && g_ascii_isdigit(*b)) {
			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			size_t na = 0, nb = 0;
			while (g_ascii_isdigit(a[na]))
				na++;
			while (g_ascii_isdigit(b[nb]))
				nb++;
			if (na != nb)
				return na < nb ? -1 : 1;
			int c = strncmp(a, b, na);
			if (c)
				return c;
			a += na;
			b += nb;
		} else if (*a != *b) {
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		} else {
			a++;
			b++;
		}
	}
	return *a ? 1 : *b ? -1 : 0;
}

static gint by_work_name(gconstpointer a, gconstpointer b)
{
	const struct mwork *wa = *(struct mwork *const *)a, *wb = *(struct mwork *const *)b;
	int c = natural_cmp(wa->name, wb->name);
	return c ? c : strcmp(wa->name, wb->name);
}

/* One work as list and status.json show it: numbers as text, "" when
 * unset (list: -, JSON: null).  model_lock held. */
struct work_row {
	struct mwork *w;
	const char *state;
	const char *command;
	const char *node;		/* where it last ran, or "" */
	char exit[16], runs[24], queued[TIME_LEN], started[TIME_LEN], finished[TIME_LEN];
	char duration[32];
};

static void work_row(struct work_row *r, struct mwork *w, int64_t now)
{
	r->w = w;
	r->state = mwork_state_name(mwork_state(w));
	r->command = mwork_cmdline(w);
	r->node = work_node(w);
	if (w->has_exit)
		g_snprintf(r->exit, sizeof r->exit, "%d", mwork_last_exit(w));
	else
		r->exit[0] = '\0';
	g_snprintf(r->runs, sizeof r->runs, "%u", mwork_nruns(w));
	time_text(r->queued, sizeof r->queued, w->has_queued, w->queued_ms);
	time_text(r->started, sizeof r->started, w->has_started, mwork_started_ms(w));
	time_text(r->finished, sizeof r->finished, w->has_finished, mwork_finished_ms(w));
	/* the latest run: the running one so far, or the one that ended */
	r->duration[0] = '\0';
	if (w->has_started && (w->running || w->has_finished)) {
		int64_t ms = (w->running ? now : mwork_finished_ms(w)) - mwork_started_ms(w);
		ms = ms > 0 ? ms : 0;	/* the wall clock was set back */
		g_snprintf(r->duration, sizeof r->duration, "%lld.%03lld",
			   (long long)(ms / 1000), (long long)(ms % 1000));
	}
}

/* Whether reader may see w: as its works/W files say (its owner's, 0400,
 * and the queue's group's when the queue's directory lets its group
 * read), so that a table shows no command a reader could not read. */
static bool may_see_work(const struct submitter *reader, struct mwork *w)
{
	const struct fattr *dir = &w->q->files[MQ_DIR];
	return submitter_may_read(reader, 0400 | (dir->mode & 0040), w->owner, dir->gid);
}

/* q's works reader may see, in natural order of their names, as rows.
 * g_free. */
static struct work_row *work_rows(struct mqueue *q, const struct submitter *reader,
				  guint *n)
{
	GPtrArray *a = g_ptr_array_new();
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, q->works);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (may_see_work(reader, v))
			g_ptr_array_add(a, v);
	g_ptr_array_sort(a, by_work_name);
	int64_t now = model_now_ms();
	struct work_row *rows = g_new0(struct work_row, a->len ? a->len : 1);
	for (guint i = 0; i < a->len; i++)
		work_row(&rows[i], a->pdata[i], now);
	*n = a->len;
	g_ptr_array_free(a, TRUE);
	return rows;
}

enum { LC_NAME, LC_STATE, LC_EXIT, LC_RUNS, LC_QUEUED, LC_STARTED, LC_DURATION,
       LC_COMMAND, LC_N };

static const char *row_cell(const struct work_row *r, int c)
{
	const char *t = "";
	switch (c) {
	case LC_NAME:	  t = r->w->name; break;
	case LC_STATE:	  t = r->state; break;
	case LC_EXIT:	  t = r->exit; break;
	case LC_RUNS:	  t = r->runs; break;
	case LC_QUEUED:	  t = r->queued; break;
	case LC_STARTED:  t = r->started; break;
	case LC_DURATION: t = r->duration; break;
	case LC_COMMAND:  t = r->command; break;
	}
	return *t ? t : "-";
}

/* The table of q's works, as ps prints: a header, a row per work, columns
 * as wide as their widest cell (STATE as its longest value, so an empty
 * queue's header is the same), two blanks apart; names and states to the
 * left, numbers to the right, the command last and whole. */
static void queue_list(GString *s, struct mqueue *q, const struct submitter *reader)
{
	static const char *const head[LC_N] = {
		"NAME", "STATE", "EXIT", "RUNS", "QUEUED", "STARTED", "DURATION", "COMMAND",
	};
	guint n;
	struct work_row *rows = work_rows(q, reader, &n);
	int width[LC_N];
	for (int c = 0; c < LC_N; c++) {
		width[c] = (int)strlen(head[c]);
		if (c == LC_STATE)
			width[c] = (int)strlen("cancelled");
		for (guint i = 0; i < n; i++) {
			int l = (int)strlen(row_cell(&rows[i], c));
			if (l > width[c])
				width[c] = l;
		}
	}
	for (guint i = 0; i <= n; i++) {
		size_t start = s->len;
		for (int c = 0; c < LC_N; c++) {
			const char *t = i ? row_cell(&rows[i - 1], c) : head[c];
			if (c == LC_COMMAND)
				g_string_append(s, t);
			else
				g_string_append_printf(s, c <= LC_STATE ? "%-*s  " : "%*s  ",
						       width[c], t);
		}
		/* no blanks at the end (an empty command) */
		while (s->len > start && s->str[s->len - 1] == ' ')
			g_string_truncate(s, s->len - 1);
		g_string_append_c(s, '\n');
	}
	g_free(rows);
}

/* A number, or null when unset. */
static void json_num(GString *s, const char *key, const char *v)
{
	g_string_append_printf(s, ", \"%s\": %s", key, *v ? v : "null");
}

/* A string (a time, a node), or null when unset. */
static void json_text(GString *s, const char *key, const char *v)
{
	g_string_append_printf(s, ", \"%s\": ", key);
	if (*v)
		json_string(s, v);
	else
		g_string_append(s, "null");
}

/* The queue's status fields and its works, as one JSON object. */
static void queue_json(GString *s, struct mqueue *q, const struct submitter *reader)
{
	guint n;
	struct work_row *rows = work_rows(q, reader, &n);
	g_string_append_c(s, '{');
	queue_fields(s, q, true);
	g_string_append(s, "\"works\": [");
	for (guint i = 0; i < n; i++) {
		const struct work_row *r = &rows[i];
		g_string_append(s, i ? ",\n {\"name\": " : "\n {\"name\": ");
		json_string(s, r->w->name);
		g_string_append(s, ", \"state\": ");
		json_string(s, r->state);
		json_num(s, "exit", r->exit);
		json_num(s, "runs", r->runs);
		json_text(s, "queued_at", r->queued);
		json_text(s, "started_at", r->started);
		json_text(s, "finished_at", r->finished);
		json_num(s, "duration", r->duration);
		json_text(s, "node", r->node);
		g_string_append(s, ", \"command\": ");
		json_string(s, r->command);
		g_string_append_c(s, '}');
	}
	g_string_append(s, n ? "\n]}\n" : "]}\n");
	g_free(rows);
}

/* The text of file k, generated now; model_lock held. NULL: the object is
 * gone. */
/* An attribute file's value, as sysfs prints it. */
static void attr_text(GString *s, enum kind k, struct mqueue *q)
{
	struct workqueue_attrs at;
	char mask[1024];

	switch (k) {
	case K_PER_CPU:
		g_string_append_printf(s, "%d\n", !(wq_flags(q->wq) & WQ_UNBOUND));
		break;
	case K_MAX_ACTIVE:
		g_string_append_printf(s, "%d\n", wq_max_active(q->wq));
		break;
	case K_CPUMASK:
		mask_text(q, mask, sizeof mask);
		g_string_append(s, mask);
		break;
	case K_NICE:
		wq_get_attrs(q->wq, &at);
		g_string_append_printf(s, "%d\n", at.nice);
		break;
	case K_FROZEN:
		g_string_append_printf(s, "%d\n", wq_frozen(q->wq) ? 1 : 0);
		break;
	case K_REQUEUE_LOST:
		g_string_append_printf(s, "%d\n", q->requeue_lost ? 1 : 0);
		break;
	default:
		break;
	}
}

/* The text of a root, queue or work file (not an attribute). */
static void file_text(GString *s, enum kind k, struct mqueue *q, struct mwork *w,
		      const struct submitter *reader)
{
	switch (k) {
	case K_STATUS:
		root_status(s, reader);
		break;
	case K_STATUS_JSON:
		root_json(s, reader);
		break;
	case K_HZ:		/* what a bare-integer DELAY and the jiffies mean */
		g_string_append_printf(s, "%u\n", opts.model.hz);
		break;
	case K_NODES:		/* the cluster's nodes, or this daemon alone */
		store_nodes_text(wqfs_store(), s);
		break;
	case K_QSTATUS:
		queue_status(s, q);
		break;
	case K_QLIST:
		queue_list(s, q, reader);
		break;
	case K_QSTATUS_JSON:
		queue_json(s, q, reader);
		break;
	case K_AFTER:
		mqueue_after_text(q, s);
		break;
	case K_WSTATUS:
		work_status(s, w);
		break;
	default:
		break;
	}
}

char *gen_text(enum kind k, struct mqueue *q, uint64_t wid, const struct submitter *reader,
	       size_t *len)
{
	struct mwork *w = NULL;

	if (k == K_WSTATUS) {
		w = mwork_lookup_id(wid);
		if (!w)
			return NULL;
	}
	GString *s = g_string_new(NULL);
	if (nodes[k].cls == NC_ATTR)
		attr_text(s, k, q);
	else
		file_text(s, k, q, w, reader);
	*len = s->len;
	return g_string_free(s, FALSE);
}
