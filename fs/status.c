/* SPDX-License-Identifier: MIT */
/*
 * status.c - the text of every file generated at open: root status (the
 * wq_monitor.py table) and status.json, queue status, attribute values,
 * and a work's status and output.
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

static void root_status(GString *s, const struct submitter *reader)
{
	g_string_append_printf(s, "%24s %8s %5s %8s %7s %7s %7s %7s %7s %7s\n", "",
			       "total", "infl", "CPUtime", "CPUitsv", "CMW/RPR",
			       "mayday", "rescued", "delayed", "failed");
	GPtrArray *a = sorted_queues(reader);
	for (guint i = 0; i < a->len; i++) {
		struct mqueue *q = a->pdata[i];
		struct wq_stats st;
		wq_get_stats(q->wq, &st);
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
		wq_get_stats(q->wq, &st);
		/* names are [A-Za-z0-9_.-]: nothing to escape */
		g_string_append_printf(s,
			"%s{\"timestamp\": %.6f, \"name\": \"%s\", \"total\": %lu, "
			"\"infl\": %lu, \"cpu_time\": %lu, \"cpu_intensive\": null, "
			"\"cmw\": null, \"repatriated\": null, \"mayday\": null, "
			"\"rescued\": null, \"delayed\": %u, \"failed\": %lu, "
			"\"pending\": %u, \"running\": %u}",
			i ? ",\n " : "", now, q->name, (unsigned long)st.started,
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

static void queue_status(GString *s, struct mqueue *q)
{
	struct wq_stats st;
	struct workqueue_attrs at;
	char mask[1024];
	wq_get_stats(q->wq, &st);
	wq_get_attrs(q->wq, &at);
	wqfs_format_cpumask(&at.cpumask, ncpus(), mask, sizeof mask);
	g_strchomp(mask);
	g_string_append_printf(s,
		"name: %s\nper_cpu: %d\nmax_active: %d\nworkers: %u\npending: %u\n"
		"delayed: %u\nrunning: %u\ncompleted: %lu\nfailed: %lu\ncancelled: %lu\n"
		"started: %lu\nfrozen: %d\nnice: %d\ncpumask: %s\n",
		q->name, !(wq_flags(q->wq) & WQ_UNBOUND), wq_max_active(q->wq),
		st.workers, st.pending, st.delayed, st.running,
		(unsigned long)st.completed, (unsigned long)st.failed,
		(unsigned long)st.cancelled, (unsigned long)st.started,
		wq_frozen(q->wq) ? 1 : 0, at.nice, mask);
}

static void jiffies_field(GString *s, const char *key, bool has, unsigned long v)
{
	if (has)
		g_string_append_printf(s, "%s: %lu\n", key, v);
	else
		g_string_append_printf(s, "%s: -\n", key);
}

/* The running command's pid from the moment it is spawned, else the
 * latest run's; model_lock held. */
static pid_t work_pid(struct mwork *w)
{
	pid_t pid = w->running ? wq_command_pid(&w->cmd) : 0;
	if (pid > 0)
		return pid;
	return w->has_exit ? w->last_pid : 0;
}

static void work_status(GString *s, struct mwork *w)
{
	g_string_append_printf(s, "name: %s\nstate: %s\ncommand: %s\nruns: %lu\n",
			       w->name, mwork_state_name(mwork_state(w)), w->command ? w->command : "",
			       w->runs);
	if (w->has_exit)
		g_string_append_printf(s, "last_exit: %d\n", w->last_exit);
	else
		g_string_append(s, "last_exit: -\n");
	pid_t pid = work_pid(w);
	if (pid > 0)
		g_string_append_printf(s, "last_pid: %ld\n", (long)pid);
	else
		g_string_append(s, "last_pid: -\n");
	if (w->has_started && w->last_cpu >= 0)
		g_string_append_printf(s, "last_cpu: %d\n", w->last_cpu);
	else
		g_string_append(s, "last_cpu: -\n");
	jiffies_field(s, "queued_at", w->has_queued, w->queued_at);
	jiffies_field(s, "due_at", w->has_due, w->due_at);
	jiffies_field(s, "started_at", w->has_started, w->started_at);
	jiffies_field(s, "finished_at", w->has_finished, w->finished_at);
}

/* The text of file k, generated now; model_lock held. NULL: the object is
 * gone. */
char *gen_text(enum kind k, struct mqueue *q, uint64_t wid, const struct submitter *reader,
	       size_t *len)
{
	GString *s = g_string_new(NULL);
	struct mwork *w = NULL;

	if (k == K_WSTATUS || k == K_WOUTPUT) {
		w = mwork_lookup_id(wid);
		if (!w) {
			g_string_free(s, TRUE);
			return NULL;
		}
	}
	switch (k) {
	case K_STATUS:
		root_status(s, reader);
		break;
	case K_STATUS_JSON:
		root_json(s, reader);
		break;
	case K_QSTATUS:
		queue_status(s, q);
		break;
	case K_PER_CPU:
		g_string_append_printf(s, "%d\n", !(wq_flags(q->wq) & WQ_UNBOUND));
		break;
	case K_MAX_ACTIVE:
		g_string_append_printf(s, "%d\n", wq_max_active(q->wq));
		break;
	case K_CPUMASK: {
		char mask[1024];
		mask_text(q, mask, sizeof mask);
		g_string_append(s, mask);
		break;
	}
	case K_NICE: {
		struct workqueue_attrs at;
		wq_get_attrs(q->wq, &at);
		g_string_append_printf(s, "%d\n", at.nice);
		break;
	}
	case K_FROZEN:
		g_string_append_printf(s, "%d\n", wq_frozen(q->wq) ? 1 : 0);
		break;
	case K_WSTATUS:
		work_status(s, w);
		break;
	case K_WOUTPUT: {
		size_t n = wq_command_output(&w->cmd, NULL, 0, NULL);
		g_string_set_size(s, n);
		n = wq_command_output(&w->cmd, s->str, n, NULL);
		g_string_truncate(s, n);
		break;
	}
	default:
		break;
	}
	*len = s->len;
	return g_string_free(s, FALSE);
}
