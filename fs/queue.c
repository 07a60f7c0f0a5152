/* SPDX-License-Identifier: MIT */
/*
 * queue.c - the daemon's queues and works: the objects behind NAME/ and
 * NAME/works/WORK/, the function every work runs, the engine observer that
 * feeds the trace hub, and the resumer thread that finishes parked
 * requests away from the engine's threads.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wqfs.h"

pthread_mutex_t fs_lock = PTHREAD_MUTEX_INITIALIZER;
GHashTable *queues_by_name;
GHashTable *queues_by_id;
GHashTable *works_by_id;
struct fsq *events_q;

/* Work pointer -> struct fsw, read by the observer (which must not take
 * fs_lock: it runs inside engine calls made under fs_lock). */
static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static GHashTable *registry;
static GHashTable *qviews;	/* registry_lock: wq -> struct qview */

static uint64_t last_queue_id;
static uint64_t last_work_id;
static unsigned long last_anon;

unsigned long next_anon_id(void)
{
	return ++last_anon;
}

static void fsw_func(struct work_struct *work);

void fs_init(void)
{
	queues_by_name = g_hash_table_new(g_str_hash, g_str_equal);
	queues_by_id = g_hash_table_new(g_direct_hash, g_direct_equal);
	works_by_id = g_hash_table_new(g_direct_hash, g_direct_equal);
	registry = g_hash_table_new(g_direct_hash, g_direct_equal);
	qviews = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
}

void fs_fini(void)
{
	g_hash_table_destroy(queues_by_name);
	g_hash_table_destroy(queues_by_id);
	g_hash_table_destroy(works_by_id);
	g_hash_table_destroy(registry);
	g_hash_table_destroy(qviews);
}

void fsq_publish(struct fsq *q)
{
	struct qview *v = g_new(struct qview, 1);
	v->qid = q->id;
	v->mode = q->attr[K_QDIR].mode;
	v->uid = q->attr[K_QDIR].uid;
	v->gid = q->attr[K_QDIR].gid;
	pthread_rwlock_wrlock(&registry_lock);
	g_hash_table_insert(qviews, q->wq, v);
	pthread_rwlock_unlock(&registry_lock);
}

static void fsq_unpublish(struct fsq *q)
{
	pthread_rwlock_wrlock(&registry_lock);
	struct qview *v = g_hash_table_lookup(qviews, q->wq);
	if (v && v->qid == q->id)
		g_hash_table_remove(qviews, q->wq);
	pthread_rwlock_unlock(&registry_lock);
}

static void fsq_init_attrs(struct fsq *q, uid_t uid, gid_t gid)
{
	for (int k = K_QDIR; k <= K_WORKS; k++) {
		q->attr[k].mode = nodes[k].mode;
		q->attr[k].uid = uid;
		q->attr[k].gid = gid;
	}
}

struct fsq *fsq_create(const char *name, uid_t uid, gid_t gid, int *err)
{
	struct workqueue_struct *wq;
	bool events = strcmp(name, "events") == 0 && !events_q;

	if (quota_charge(uid, QUOTA_QUEUES, 1) < 0) {
		*err = -EDQUOT;
		return NULL;
	}
	if (events) {
		wq = system_wq;
	} else {
		wq = create_workqueue(name);
		if (!wq) {
			*err = errno ? -errno : -ENOMEM;
			quota_uncharge(uid, QUOTA_QUEUES, 1);
			return NULL;
		}
	}
	struct fsq *q = g_new0(struct fsq, 1);
	q->id = ++last_queue_id;
	q->name = g_strdup(name);
	q->wq = wq;
	q->is_events = events;
	q->refs = 1;			/* the tree's */
	q->creator = uid;
	q->works = g_hash_table_new(g_str_hash, g_str_equal);
	q->ctime = time(NULL);
	g_queue_init(&q->anon_done);
	fsq_init_attrs(q, uid, gid);
	g_hash_table_insert(queues_by_name, q->name, q);
	g_hash_table_insert(queues_by_id, GSIZE_TO_POINTER(q->id), q);
	if (events)
		events_q = q;
	fsq_publish(q);
	*err = 0;
	return q;
}

void fsq_ref(struct fsq *q)
{
	q->refs++;
}

static void fsq_free(struct fsq *q)
{
	GHashTableIter it;
	gpointer key, val;
	g_hash_table_iter_init(&it, q->works);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		struct fsw *w = val;
		g_hash_table_iter_remove(&it);
		if (w->done_link) {
			g_queue_delete_link(&q->anon_done, w->done_link);
			w->done_link = NULL;
		}
		fsw_free(w);
	}
	g_hash_table_destroy(q->works);
	fsq_unpublish(q);
	if (!q->is_events && q->wq)
		wq_free(q->wq);
	if (q == events_q)
		events_q = NULL;
	g_free(q->name);
	g_free(q);
}

void fsq_unref(struct fsq *q)
{
	if (--q->refs == 0)
		fsq_free(q);
}

void fsq_remove(struct fsq *q)
{
	g_hash_table_remove(queues_by_name, q->name);
	g_hash_table_remove(queues_by_id, GSIZE_TO_POINTER(q->id));
	quota_uncharge(q->creator, QUOTA_QUEUES, 1);
	q->dead = true;
	q->removing = false;
	fsq_unref(q);	/* the tree's reference */
}

/* A work of q is queued, delayed or running (jiq runs are not works). */
static bool fsq_has_work(struct fsq *q)
{
	GHashTableIter it;
	gpointer key, val;

	g_hash_table_iter_init(&it, q->works);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		struct fsw *w = val;
		if (w->running || work_busy(&w->dwork.work))
			return true;
	}
	return false;
}

/*
 * rmdir never waits for works: the kernel holds the root directory's lock
 * for the whole rmdir(2), and a wait here would stall every other user's
 * lookup and mkdir.  A queue with works is EBUSY (drain or cancel * first).
 * Readers' jiq runs do not keep it: they are stopped (their reads get
 * ENOENT) and the wait for the step that may be running is one step long.
 */
int queue_rmdir(struct fsq *q)
{
	pthread_mutex_lock(&fs_lock);
	int r = 0;
	if (q->dead)
		r = -ENOENT;
	else if (q->removing || q->draining || fsq_has_work(q))
		r = -EBUSY;
	else
		q->removing = true;	/* no new work, no new jiq run */
	pthread_mutex_unlock(&fs_lock);
	if (r)
		return r;

	jiqfile_stop_queue(q);
	flush_workqueue(q->wq);		/* a jiq step that was finishing */

	pthread_mutex_lock(&fs_lock);
	struct wq_stats st;
	wq_get_stats(q->wq, &st);
	if (st.pending + st.running + st.delayed || wq_shutdown(q->wq) < 0) {
		q->removing = false;
		r = -EBUSY;
	} else {
		fsq_remove(q);
	}
	pthread_mutex_unlock(&fs_lock);
	return r;
}

struct fsq *fsq_lookup_id(uint64_t id)
{
	return g_hash_table_lookup(queues_by_id, GSIZE_TO_POINTER(id));
}

struct fsw *fsw_lookup_id(uint64_t id)
{
	struct fsw *w = g_hash_table_lookup(works_by_id, GSIZE_TO_POINTER(id));
	if (!w || w->q->dead)
		return NULL;
	return w;
}

struct fsw *fsw_new(struct fsq *q, const char *name, bool anon, uid_t owner)
{
	struct fsw *w = g_new0(struct fsw, 1);
	init_delayed_work(&w->dwork, fsw_func);
	w->id = ++last_work_id;
	w->name = g_strdup(name);
	w->anon = anon;
	w->owner = owner;
	w->q = q;
	w->ctime = time(NULL);
	w->last_cpu = -1;
	wq_command_init(&w->cmd);
	g_hash_table_insert(q->works, w->name, w);
	g_hash_table_insert(works_by_id, GSIZE_TO_POINTER(w->id), w);
	q->nworks++;
	pthread_rwlock_wrlock(&registry_lock);
	g_hash_table_insert(registry, &w->dwork.work, w);
	pthread_rwlock_unlock(&registry_lock);
	return w;
}

void fsw_unlist(struct fsw *w)
{
	struct fsq *q = w->q;
	if (g_hash_table_lookup(q->works, w->name) == w) {
		g_hash_table_remove(q->works, w->name);
		q->nworks--;
	}
	if (w->done_link) {
		g_queue_delete_link(&q->anon_done, w->done_link);
		w->done_link = NULL;
	}
}

void fsw_free(struct fsw *w)
{
	pthread_rwlock_wrlock(&registry_lock);
	g_hash_table_remove(registry, &w->dwork.work);
	pthread_rwlock_unlock(&registry_lock);
	g_hash_table_remove(works_by_id, GSIZE_TO_POINTER(w->id));
	wq_command_destroy(&w->cmd);
	wctx_unref(w->ctx);
	fsw_set_command(w, NULL);
	quota_uncharge(w->owner, QUOTA_WORKS, 1);
	g_free(w->name);
	g_free(w);
}

int fsw_set_command_len(struct fsw *w, const char *cmd, size_t len)
{
	size_t old = w->command ? strlen(w->command) : 0;

	if (len > old && quota_charge(w->owner, QUOTA_BYTES, len - old) < 0)
		return -EDQUOT;
	if (len < old)
		quota_uncharge(w->owner, QUOTA_BYTES, old - len);
	g_free(w->command);
	w->command = cmd ? g_strndup(cmd, len) : NULL;
	return 0;
}

void fsw_set_command(struct fsw *w, const char *cmd)
{
	size_t len = cmd ? strlen(cmd) : 0;
	size_t old = w->command ? strlen(w->command) : 0;

	if (len > old)
		quota_force(w->owner, QUOTA_BYTES, len - old);
	fsw_set_command_len(w, cmd, len);
}

void fsw_hold(struct fsw *w, int delta)
{
	if (!w)
		return;
	pthread_mutex_lock(&fs_lock);
	w->holds += delta;
	pthread_mutex_unlock(&fs_lock);
}

bool fsw_removable(struct fsw *w)
{
	return w->holds == 0 && !w->running && work_busy(&w->dwork.work) == 0;
}

/* Forget the oldest finished anonymous works until at most keep remain
 * (those a request still holds stay). */
void fsq_gc_anon(struct fsq *q, unsigned int keep)
{
	GList *l = q->anon_done.head;
	while (l && q->anon_done.length > keep) {
		GList *next = l->next;
		struct fsw *w = l->data;
		if (fsw_removable(w)) {
			fsw_unlist(w);
			fsw_free(w);
		}
		l = next;
	}
}

/* Forget owner's finished anonymous works in q (its limit is reached). */
void fsq_gc_anon_of(struct fsq *q, uid_t owner)
{
	GList *l = q->anon_done.head;
	while (l) {
		GList *next = l->next;
		struct fsw *w = l->data;
		if (w->owner == owner && fsw_removable(w)) {
			fsw_unlist(w);
			fsw_free(w);
		}
		l = next;
	}
}

const char *fsw_state(struct fsw *w)
{
	unsigned int b = work_busy(&w->dwork.work);
	if (w->running || (b & WORK_BUSY_RUNNING))
		return "running";
	if (b & WORK_BUSY_PENDING) {
		if (w->has_due && (long)(w->due_at - wq_jiffies()) > 0 &&
		    delayed_work_pending(&w->dwork))
			return "delayed";
		return "pending";
	}
	return "idle";
}

/* ---- the work function -------------------------------------------------- */

static void fsw_func(struct work_struct *work)
{
	struct fsw *w = container_of(to_delayed_work(work), struct fsw, dwork);
	int cpu = sched_getcpu();

	pthread_mutex_lock(&fs_lock);
	struct wctx *ctx = w->ctx ? wctx_ref(w->ctx) : NULL;
	char *cmdline = g_strdup(w->command ? w->command : "");
	char *qname = g_strdup(w->q->name);
	char *wname = g_strdup(w->name);
	w->running = true;
	w->runs++;
	w->has_started = true;
	w->started_at = wq_jiffies();
	w->has_finished = false;
	w->has_exit = false;
	w->last_cpu = cpu;
	w->has_due = false;
	pthread_mutex_unlock(&fs_lock);

	GPtrArray *env = g_ptr_array_new_with_free_func(NULL);
	if (ctx)
		for (char **e = ctx->env; *e; e++)
			g_ptr_array_add(env, *e);
	char *extra[4] = {
		g_strdup_printf("WQ_QUEUE=%s", qname),
		g_strdup_printf("WQ_WORK=%s", wname),
		g_strdup_printf("WQ_CPU=%d", cpu),
		g_strdup_printf("WQ_ROOT=%s", wqfs_root ? wqfs_root : "/"),
	};
	for (int i = 0; i < 4; i++)
		g_ptr_array_add(env, extra[i]);
	g_ptr_array_add(env, NULL);

	/* As at(1): the groups the owner has now; a deleted owner's work
	 * does not run.  The limits are the submitter's. */
	struct wq_cred cred = { .current_groups = true };
	if (ctx) {
		cred.uid = ctx->uid;
		cred.gid = ctx->gid;
		cred.groups = ctx->groups;
		cred.ngroups = ctx->ngroups;
		cred.rlimits = ctx->limits;
	}
	w->cmd.cmdline = cmdline;
	w->cmd.envp = (char *const *)env->pdata;
	w->cmd.cwd = ctx ? ctx->cwd : "/";
	w->cmd.cred = ctx ? &cred : NULL;
	w->cmd.output_limit = opts.max_output;
	w->cmd.kill_grace_ms = 2000;

	int rc = wq_command_run(&w->cmd);
	int exit_code = rc < 0 ? 127 : w->cmd.exit_code;
	uint64_t cpu_ns = rc < 0 ? 0 : w->cmd.cpu_ns;
	pid_t pid = rc < 0 ? 0 : w->cmd.pid;

	pthread_mutex_lock(&fs_lock);
	w->running = false;
	w->has_exit = true;
	w->last_exit = exit_code;
	w->last_pid = pid;
	w->has_finished = true;
	w->finished_at = wq_jiffies();
	w->cmd.cmdline = NULL;
	w->cmd.envp = NULL;
	w->cmd.cwd = NULL;
	w->cmd.cred = NULL;
	struct fsq *q = w->q;
	if (w->anon && !q->dead) {
		if (w->done_link)
			g_queue_unlink(&q->anon_done, w->done_link);
		else
			w->done_link = g_list_alloc();
		w->done_link->data = w;
		g_queue_push_tail_link(&q->anon_done, w->done_link);
		fsq_gc_anon(q, opts.keep_anon);
	}
	pthread_mutex_unlock(&fs_lock);

	for (int i = 0; i < 4; i++)
		g_free(extra[i]);
	g_ptr_array_free(env, TRUE);
	wctx_unref(ctx);
	g_free(cmdline);
	g_free(qname);
	g_free(wname);
	wq_set_result(exit_code, cpu_ns);
}

/* ---- observer ----------------------------------------------------------- */

void wqfs_observer(const struct wq_event *ev, void *data)
{
	struct wqfs_trace *hub = data;
	const char *qname = ev->wq ? wq_name(ev->wq) : "-";
	char wname[WQFS_NAME_MAX + 1];

	struct qview view = { 0 };

	pthread_rwlock_rdlock(&registry_lock);
	struct fsw *w = ev->work ? g_hash_table_lookup(registry, ev->work) : NULL;
	g_strlcpy(wname, w ? w->name : ev->work ? "jiq" : "-", sizeof wname);
	struct qview *v = ev->wq ? g_hash_table_lookup(qviews, ev->wq) : NULL;
	if (v)
		view = *v;
	pthread_rwlock_unlock(&registry_lock);

	struct wqfs_trace_event te = { .ev = ev, .queue = qname, .work = wname,
				       .tag = v ? &view : NULL };
	wqfs_trace_emit(hub, &te);
}

/* ---- resumer ------------------------------------------------------------ */

struct task {
	void (*fn)(void *arg, int result);
	void *arg;
	int result;
};

static GAsyncQueue *tasks;
static GThread *resumer;

static gpointer resumer_main(gpointer unused)
{
	for (;;) {
		struct task *t = g_async_queue_pop(tasks);
		if (!t->fn) {
			g_free(t);
			return NULL;
		}
		t->fn(t->arg, t->result);
		g_free(t);
	}
}

int resumer_start(void)
{
	tasks = g_async_queue_new();
	/* g_thread_try_new, not g_thread_new: out of threads is an error to
	 * report, not an abort. */
	resumer = g_thread_try_new("wqfs-resume", resumer_main, NULL, NULL);
	if (!resumer) {
		g_async_queue_unref(tasks);
		return -EAGAIN;
	}
	return 0;
}

void resumer_push(void (*fn)(void *arg, int result), void *arg, int result)
{
	struct task *t = g_new(struct task, 1);
	t->fn = fn;
	t->arg = arg;
	t->result = result;
	g_async_queue_push(tasks, t);
}

void resumer_stop(void)
{
	struct task *t = g_new0(struct task, 1);
	g_async_queue_push(tasks, t);
	g_thread_join(resumer);
	g_async_queue_unref(tasks);
}
