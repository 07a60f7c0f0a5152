/* SPDX-License-Identifier: MIT */
/*
 * after.c - dependencies between works, as pueue's --after and
 * task-spooler's -D: a line "NAME: DEP..." of a queue's after file makes
 * every later queueing of NAME wait, blocked, until each DEP's latest run
 * has finished.  A DEP is WORK of NAME's queue or QUEUE/WORK, looked up
 * by name whenever it is needed.
 *
 * A blocked work is queued as far as a user can tell (state blocked,
 * cancel takes it, its queue is busy) but is not in the engine: it waits
 * in the blocked list.  Every change of a work (model_changed) marks the
 * list to be looked at again; model_unlock() does so before it drops the
 * lock (after_resolve), when no caller is in the middle of a walk of the
 * tables: a blocked work whose DEPs are all done is queued, one with a
 * DEP that failed, was cancelled or was lost fails without running.  A
 * DEP that does not exist (yet: a restart brings works back one by one)
 * or never ran is waited for.
 *
 * Locking: everything here is under the model lock.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static GQueue blocked;			/* struct mwork, oldest first */
static bool dirty;			/* blocked works to look at again */

/* The work DEP names, seen from a work of q; or NULL. */
static struct mwork *dep_lookup(struct mqueue *q, const char *dep)
{
	const char *slash = strchr(dep, '/');
	if (slash) {
		g_autofree char *qn = g_strndup(dep, (gsize)(slash - dep));
		q = g_hash_table_lookup(queues_by_name, qn);
		dep = slash + 1;
	}
	return q ? mqueue_work(q, dep) : NULL;
}

/* w's DEPs and place in the blocked list: made at first use, freed when
 * it has neither. */
static struct mwork_deps *deps_get(struct mwork *w)
{
	if (!w->deps)
		w->deps = g_new0(struct mwork_deps, 1);
	return w->deps;
}

static void deps_put(struct mwork *w)
{
	if (w->deps && !w->deps->after && !w->deps->blocked_link)
		g_clear_pointer(&w->deps, g_free);
}

void after_set(struct mwork *w, GPtrArray *deps)
{
	GPtrArray *old = mwork_after(w);
	if (old)
		g_ptr_array_free(old, TRUE);
	if (deps || w->deps)
		deps_get(w)->after = deps;
	deps_put(w);
}

/* Whether target is among the works from reaches through after lists
 * (from itself included): NAME: DEP would close a cycle. */
static bool reaches(struct mwork *from, struct mwork *target)
{
	GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);
	GPtrArray *todo = g_ptr_array_new();
	bool found = false;

	g_ptr_array_add(todo, from);
	while (todo->len && !found) {
		struct mwork *w = g_ptr_array_steal_index_fast(todo, todo->len - 1);
		found = w == target;
		GPtrArray *after = mwork_after(w);
		if (!g_hash_table_add(seen, w) || !after)
			continue;
		for (guint i = 0; i < after->len; i++) {
			struct mwork *d = dep_lookup(w->q, after->pdata[i]);
			if (d)
				g_ptr_array_add(todo, d);
		}
	}
	g_ptr_array_free(todo, TRUE);
	g_hash_table_destroy(seen);
	return found;
}

static char *dep_text(const struct wqfs_dep *d)
{
	if (!d->qlen)
		return g_strndup(d->work, d->wlen);
	return g_strdup_printf("%.*s/%.*s", (int)d->qlen, d->queue, (int)d->wlen, d->work);
}

/* A NAME not known yet is declared by its DEPs (state `new`), so that
 * they can be set before its first queueing (`wq -a`).  Model lock held. */
static int declare(struct mqueue *q, const struct wqfs_line *l, uid_t uid,
		   struct mwork **wp)
{
	for (size_t i = 0; i < l->ndeps; i++) {
		g_autofree char *text = dep_text(&l->deps[i]);
		if (!dep_lookup(q, text))
			return -ENOENT;
	}
	if (!l->ndeps)
		return -ENOENT;		/* nothing to clear */
	int r = mwork_create(q, l->name, false, uid, 0, wp);
	if (r == 0)
		model_changed(MCHANGE_WORK_QUEUED, q, *wp);
	return r;
}

int mqueue_set_after(struct mqueue *q, const struct wqfs_line *l, uid_t uid)
{
	struct mwork *w = mqueue_work(q, l->name);
	int err = w ? 0 : declare(q, l, uid, &w);
	if (err < 0)
		return err;
	if (w->owner != uid)
		return -EPERM;
	GPtrArray *deps = g_ptr_array_new_with_free_func(g_free);
	int r = 0;
	for (size_t i = 0; i < l->ndeps && r == 0; i++) {
		char *text = dep_text(&l->deps[i]);
		struct mwork *d = dep_lookup(q, text);
		g_ptr_array_add(deps, text);
		r = !d ? -ENOENT : reaches(d, w) ? -EDEADLK : 0;
	}
	if (r < 0 || deps->len == 0) {
		g_ptr_array_free(deps, TRUE);
		deps = NULL;
	}
	if (r < 0)
		return r;
	after_set(w, deps);
	model_changed(MCHANGE_WORK_AFTER, q, w);
	return 0;
}

void after_set_text(struct mwork *w, const char *text)
{
	g_auto(GStrv) deps = g_strsplit(text ? text : "", " ", -1);
	GPtrArray *after = NULL;
	for (char **d = deps; *d; d++) {
		if (!**d)
			continue;
		if (!after)
			after = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(after, g_strdup(*d));
	}
	after_set(w, after);
}

char *mwork_after_text(struct mwork *w)
{
	GString *s = g_string_new(NULL);
	GPtrArray *after = mwork_after(w);
	for (guint i = 0; after && i < after->len; i++)
		g_string_append_printf(s, "%s%s", i ? " " : "", (char *)after->pdata[i]);
	return g_string_free(s, FALSE);
}

static gint by_name(gconstpointer a, gconstpointer b)
{
	const struct mwork *wa = *(struct mwork *const *)a, *wb = *(struct mwork *const *)b;
	return strcmp(wa->name, wb->name);
}

void mqueue_after_text(struct mqueue *q, GString *s)
{
	GPtrArray *a = g_ptr_array_new();
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, q->works);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (mwork_after(v))
			g_ptr_array_add(a, v);
	g_ptr_array_sort(a, by_name);
	for (guint i = 0; i < a->len; i++) {
		struct mwork *w = a->pdata[i];
		g_autofree char *deps = mwork_after_text(w);
		g_string_append_printf(s, "%s: %s\n", w->name, deps);
	}
	g_ptr_array_free(a, TRUE);
}

/* ---- blocking and releasing -------------------------------------------------- */

int after_block(struct mwork *w, bool modify, uint64_t delay_ns)
{
	if (w->blocked && !modify)
		return -EALREADY;	/* queued already, as queue_work says */
	w->blocked_delay_ns = delay_ns;
	if (!w->blocked) {
		w->blocked = true;
		g_queue_push_tail(&blocked, w);
		deps_get(w)->blocked_link = blocked.tail;
	}
	dirty = true;
	return 0;
}

void after_unblock(struct mwork *w)
{
	if (!w->blocked)
		return;
	g_queue_delete_link(&blocked, w->deps->blocked_link);
	w->deps->blocked_link = NULL;
	deps_put(w);
	w->blocked = false;
}

void after_changed(void)
{
	if (blocked.length)
		dirty = true;
}

/* Queue w in the engine, as the line that blocked it asked. */
static void after_release(struct mwork *w)
{
	uint64_t ns = w->blocked_delay_ns;
	after_unblock(w);
	w->finishing = false;
	if (ns) {
		w->has_due = true;
		mwork_set_due(w, model_now_ms(), ns);
	}
	if (model_cluster && cluster_queue(w, true, ns, WORK_CPU_UNBOUND) <= 0) {
		/* its blocked instance, queued in the database */
	} else if (ns) {
		wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, w->q->wq, &w->dwork, ns);
	} else {
		wq_queue_work_on(WORK_CPU_UNBOUND, w->q->wq, &w->dwork.work);
	}
	model_changed(MCHANGE_WORK_QUEUED, w->q, w);
}

/* w does not run: it ends failed, for why. */
static void after_fail(struct mwork *w, const char *why)
{
	after_unblock(w);
	mwork_set_reason(w, why);
	w->has_exit = false;
	w->has_due = false;
	w->has_started = false;		/* this time it did not start */
	w->has_finished = true;
	w->ran->finished_ms = model_now_ms();
	mwork_ended(w);
	model_changed(MCHANGE_WORK_FINISHED, w->q, w);
}

/* What a DEP is for its dependents: a run that just ended counts as ended
 * although the engine still shows its function returning. */
static enum mwork_state dep_state(struct mwork *d)
{
	if (!d)
		return MW_NEW;
	bool pending = work_busy(&d->dwork.work) & WORK_BUSY_PENDING;
	if (d->finishing && !pending && !d->running && !d->blocked)
		return mwork_idle_state(d);
	return mwork_state(d);
}

/* Release or fail w if its DEPs say so. */
static void after_check(struct mwork *w)
{
	GPtrArray *after = mwork_after(w);
	for (guint i = 0; after && i < after->len; i++) {
		const char *dep = after->pdata[i];
		enum mwork_state s = dep_state(dep_lookup(w->q, dep));
		if (s == MW_FAILED || s == MW_CANCELLED || s == MW_LOST) {
			g_autofree char *why = g_strdup_printf("dependency %s %s", dep,
							       mwork_state_name(s));
			after_fail(w, why);
			return;
		}
		if (s != MW_DONE)
			return;
	}
	after_release(w);
}

void after_resolve(void)
{
	while (dirty && !model_exiting) {
		dirty = false;
		GPtrArray *a = g_ptr_array_new();
		for (GList *l = blocked.head; l; l = l->next)
			g_ptr_array_add(a, l->data);
		for (guint i = 0; i < a->len; i++) {
			struct mwork *w = a->pdata[i];
			if (w->blocked && !mwork_runs(w))
				after_check(w);
		}
		g_ptr_array_free(a, TRUE);
	}
}

bool after_pending(void)
{
	return dirty;
}
