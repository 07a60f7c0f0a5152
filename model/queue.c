/* SPDX-License-Identifier: MIT */
/*
 * queue.c - the queues: the tables that name them, their lifetime (mkdir,
 * rmdir, unmount), the model lock, and the registry the engine's observer
 * reads to name a work and a queue without that lock.
 *
 * A queue is referenced by the tree (until removed), open files and
 * requests; the last reference frees it under the model lock, but its
 * workqueue is destroyed by model_unlock() once the lock is dropped
 * (destroy_workqueue joins worker threads).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "internal.h"

struct model_config model_cfg;
uid_t model_uid;			/* the daemon's; set by model_init */
GHashTable *queues_by_name;
GHashTable *queues_by_id;
struct mqueue *events_q;
volatile bool model_exiting;

static pthread_mutex_t model_mutex = PTHREAD_MUTEX_INITIALIZER;
#ifndef NDEBUG
static pthread_t model_owner;		/* atomic: the holder */
#endif
static GSList *doomed;			/* model_mutex: workqueues to destroy */
static uint64_t last_queue_id;		/* model_mutex */

/* What the engine's namer and observer read (they must not take the
 * model lock: they run inside engine calls made under it): the works'
 * names, and workqueue -> struct qview.  registry_lock nests inside the
 * model lock and inside the engine's. */
static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static GHashTable *qviews;	/* registry_lock: wq -> struct qview */

static void set_owner(pthread_t t)
{
#ifndef NDEBUG
	__atomic_store_n(&model_owner, t, __ATOMIC_RELAXED);
#endif
}

void model_lock(void)
{
	pthread_mutex_lock(&model_mutex);
	set_owner(pthread_self());
}

static void free_wq(void *wq, int unused)
{
	wq_free(wq);
}

/* destroy_workqueue joins the queue's workers: never on one of them (the
 * last reference may drop inside a jiq step), so on the resumer while it
 * runs, else (unmount, after it stopped) here. */
void model_unlock(void)
{
	if (after_pending())	/* no caller is inside a walk of the tables */
		after_resolve();
	GSList *wqs = doomed;
	doomed = NULL;
	set_owner(0);
	pthread_mutex_unlock(&model_mutex);
	for (GSList *l = wqs; l; l = l->next) {
		if (!resumer_push(free_wq, l->data, 0))
			wq_free(l->data);
	}
	g_slist_free(wqs);
}

void model_wait_cond(pthread_cond_t *cond, const struct timespec *until)
{
	set_owner(0);
	pthread_cond_timedwait(cond, &model_mutex, until);
	set_owner(pthread_self());
}

void model_assert_locked(void)
{
#ifndef NDEBUG
	g_assert(pthread_equal(__atomic_load_n(&model_owner, __ATOMIC_RELAXED),
			       pthread_self()));
#endif
}

/* The engine's namer: a work of ours is named by its event as the event
 * is made, when it is certainly there (wq_set_namer). */
static void model_name_work(struct work_struct *work, work_func_t func, char *name,
			    size_t len)
{
	if (func != mwork_func)
		return;
	struct mwork *w = container_of(work, struct mwork, dwork.work);
	pthread_rwlock_rdlock(&registry_lock);
	g_strlcpy(name, w->name, len);
	pthread_rwlock_unlock(&registry_lock);
}

void model_init(const struct model_config *cfg)
{
	model_cfg = *cfg;
	model_uid = getuid();
	queues_by_name = g_hash_table_new(g_str_hash, g_str_equal);
	queues_by_id = g_hash_table_new(g_direct_hash, g_direct_equal);
	qviews = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	idmap_init();
	wq_set_namer(model_name_work);
}

void model_fini(void)
{
	wq_set_namer(NULL);
	idmap_fini();
	g_hash_table_destroy(queues_by_name);
	g_hash_table_destroy(queues_by_id);
	g_hash_table_destroy(qviews);
	quota_fini();
	subcache_fini();
}

/* ---- what the observer reads -------------------------------------------------- */

/* w's name (its n bytes, NUL included) moves to block: the namer reads
 * it under registry_lock.  model_lock held; the caller frees the old
 * block. */
void model_move_name(struct mwork *w, char *block, size_t n)
{
	pthread_rwlock_wrlock(&registry_lock);
	memcpy(block, w->name, n);
	w->name = block;
	pthread_rwlock_unlock(&registry_lock);
}

/* (Re)publish q's identity and directory mode: the tag of its events. */
static void mqueue_publish(struct mqueue *q)
{
	struct qview *v = g_new(struct qview, 1);
	v->qid = q->id;
	v->mode = q->files[MQ_DIR].mode;
	v->uid = q->files[MQ_DIR].uid;
	v->gid = q->files[MQ_DIR].gid;
	pthread_rwlock_wrlock(&registry_lock);
	g_hash_table_insert(qviews, q->wq, v);
	pthread_rwlock_unlock(&registry_lock);
}

static void mqueue_unpublish(struct mqueue *q)
{
	pthread_rwlock_wrlock(&registry_lock);
	struct qview *v = g_hash_table_lookup(qviews, q->wq);
	if (v && v->qid == q->id)
		g_hash_table_remove(qviews, q->wq);
	pthread_rwlock_unlock(&registry_lock);
}

bool model_describe(const struct wq_event *ev, char *work, size_t len,
		    struct qview *view)
{
	g_strlcpy(work, ev->name && ev->name[0] ? ev->name : ev->work ? "jiq" : "-", len);
	pthread_rwlock_rdlock(&registry_lock);
	struct qview *v = ev->wq ? g_hash_table_lookup(qviews, ev->wq) : NULL;
	if (v)
		*view = *v;
	pthread_rwlock_unlock(&registry_lock);
	return v != NULL;
}

/* ---- lifetime -------------------------------------------------------------------- */

static struct mqueue *mqueue_new(const char *name, struct workqueue_struct *wq,
				 uid_t uid, gid_t gid, mode_t mode)
{
	struct mqueue *q = g_new0(struct mqueue, 1);
	q->id = ++last_queue_id;
	q->name = g_strdup(name);
	q->wq = wq;
	q->is_events = wq == system_wq;
	q->refs = 1;			/* the tree's */
	q->creator = uid;
	q->works = mwork_name_table_new();
	q->ctime = time(NULL);
	g_queue_init(&q->anon_done);
	for (int i = 0; i < MQ_NFILES; i++)
		q->files[i] = (struct fattr){ model_cfg.file_modes[i], uid, gid };
	q->files[MQ_DIR].mode = mode & 07777;
	return q;
}

/* The checks of mkdir, then the charge; model lock held. */
static int may_create(const char *name, uid_t uid)
{
	if (model_exiting)
		return -ESHUTDOWN;
	if (g_hash_table_lookup(queues_by_name, name))
		return -EEXIST;
	return quota_charge(uid, QUOTA_QUEUES, 1);
}

int mqueue_create(const char *name, uid_t uid, gid_t gid, mode_t mode,
		  struct mqueue **qp)
{
	bool events = strcmp(name, "events") == 0;
	struct workqueue_struct *wq = system_wq;

	/* made before taking the lock: a workqueue may start threads */
	if (!events && !(wq = create_workqueue(name)))
		return errno ? -errno : -ENOMEM;
	model_lock();
	int r = may_create(name, uid);
	if (r == 0 && events && events_q)
		r = -EEXIST;
	if (r < 0) {
		if (!events)
			doomed = g_slist_prepend(doomed, wq);
		model_unlock();
		return r;
	}
	struct mqueue *q = mqueue_new(name, wq, uid, gid, mode);
	g_hash_table_insert(queues_by_name, q->name, q);
	g_hash_table_insert(queues_by_id, GSIZE_TO_POINTER(q->id), q);
	if (events)
		events_q = q;
	mqueue_publish(q);
	model_changed(MCHANGE_QUEUE_CREATED, q, NULL);
	*qp = q;
	model_unlock();
	return 0;
}

void mqueue_ref(struct mqueue *q)
{
	q->refs++;
}

static void mqueue_free(struct mqueue *q)
{
	GHashTableIter it;
	gpointer key, val;
	g_hash_table_iter_init(&it, q->works);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		g_hash_table_iter_remove(&it);
		mwork_free(val);
	}
	g_hash_table_destroy(q->works);
	if (q->others)
		g_hash_table_destroy(q->others);
	mqueue_unpublish(q);
	if (!q->is_events && q->wq)
		doomed = g_slist_prepend(doomed, q->wq);
	if (q == events_q)
		events_q = NULL;
	g_free(q->name);
	g_free(q);
}

void mqueue_unref(struct mqueue *q)
{
	model_assert_locked();
	if (--q->refs == 0)
		mqueue_free(q);
}

/* q out of the tree, its removal journaled already; model_lock held. */
static void mqueue_unlink(struct mqueue *q)
{
	g_hash_table_remove(queues_by_name, q->name);
	g_hash_table_remove(queues_by_id, GSIZE_TO_POINTER(q->id));
	quota_uncharge(q->creator, QUOTA_QUEUES, 1);
	q->dead = true;
	q->removing = false;
	mqueue_unref(q);	/* the tree's reference */
}

void mqueue_remove(struct mqueue *q)
{
	model_changed(MCHANGE_QUEUE_REMOVED, q, NULL);
	mqueue_unlink(q);
}

bool mqueue_busy(struct mqueue *q)
{
	GHashTableIter it;
	gpointer key, val;

	g_hash_table_iter_init(&it, q->works);
	while (g_hash_table_iter_next(&it, &key, &val))
		if (mwork_state_busy(mwork_state(val)))
			return true;
	return false;
}

/* The other nodes' counters of q, added to st. */
static void add_others(struct mqueue *q, struct wq_stats *st)
{
	GHashTableIter it;
	gpointer key, val;

	if (!q->others)
		return;
	g_hash_table_iter_init(&it, q->others);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		const struct wq_stats *o = val;
		st->started += o->started;
		st->completed += o->completed;
		st->failed += o->failed;
		st->cancelled += o->cancelled;
	}
}

void mqueue_set_node_counts(struct mqueue *q, const char *node, const struct wq_stats *st)
{
	model_lock();
	if (!q->others)
		q->others = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_hash_table_replace(q->others, g_strdup(node), g_memdup2(st, sizeof *st));
	model_unlock();
}

void mqueue_get_stats(struct mqueue *q, struct wq_stats *st)
{
	GHashTableIter it;
	gpointer key, val;

	model_assert_locked();
	wq_get_stats(q->wq, st);
	if (!model_cluster)
		return;
	add_others(q, st);
	st->pending = st->delayed = st->running = 0;
	g_hash_table_iter_init(&it, q->works);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		enum mwork_state ws = mwork_state(val);
		st->pending += ws == MW_PENDING;
		st->delayed += ws == MW_DELAYED;
		st->running += ws == MW_RUNNING;
	}
}

/*
 * rmdir never waits for works: the kernel holds the root directory's lock
 * for the whole rmdir(2), and a wait here would stall every other user's
 * lookup and mkdir.  A queue with works is EBUSY (drain or cancel * first).
 * Readers' jiq runs do not keep it: they are stopped (their reads get
 * ENOENT) and the wait for the step that may be running is one step long.
 */
static int rmdir_begin(struct mqueue *q, void (*stop_readers)(struct mqueue *q))
{
	model_lock();
	int r = 0;
	if (q->dead)
		r = -ENOENT;
	else if (q->is_events || q->removing || q->draining || mqueue_busy(q))
		r = -EBUSY;
	else
		q->removing = true;	/* no new work, no new jiq run */
	model_unlock();
	if (r)
		return r;

	if (stop_readers)
		stop_readers(q);
	flush_workqueue(q->wq);		/* a jiq step that was finishing */
	return 0;
}

/* Whether q, removing, has nothing in its engine; model_lock held. */
static bool rmdir_idle(struct mqueue *q)
{
	struct wq_stats st;
	wq_get_stats(q->wq, &st);
	return st.pending + st.running + st.delayed == 0;
}

int mqueue_rmdir(struct mqueue *q, void (*stop_readers)(struct mqueue *q))
{
	int r = rmdir_begin(q, stop_readers);
	if (r)
		return r;
	model_lock();
	if (!rmdir_idle(q) || wq_shutdown(q->wq) < 0) {
		q->removing = false;
		r = -EBUSY;
	} else {
		mqueue_remove(q);
	}
	model_unlock();
	return r;
}

/* q and its works journaled as they are: the removal a failed commit
 * refused (but which a log may still apply) is undone.  model_lock held. */
static void rmdir_put_back(struct mqueue *q)
{
	GHashTableIter it;
	gpointer key, val;

	q->removing = false;
	model_changed(MCHANGE_QUEUE_CREATED, q, NULL);
	g_hash_table_iter_init(&it, q->works);
	while (g_hash_table_iter_next(&it, &key, &val))
		model_changed(MCHANGE_WORK_RESTORED, q, val);
}

int mqueue_rmdir_committed(struct mqueue *q, void (*stop_readers)(struct mqueue *q))
{
	int r = rmdir_begin(q, stop_readers);
	if (r)
		return r;
	model_lock();
	if (!rmdir_idle(q)) {
		q->removing = false;
		model_unlock();
		return -EBUSY;
	}
	model_changed(MCHANGE_QUEUE_REMOVED, q, NULL);
	model_unlock();
	r = model_commit();
	model_lock();
	bool gone = r == 0 && wq_shutdown(q->wq) == 0;
	if (gone)
		mqueue_unlink(q);
	else
		rmdir_put_back(q);
	model_unlock();
	if (!gone)
		model_commit_put_back();
	return gone ? 0 : r < 0 ? r : -EBUSY;
}

struct mqueue *mqueue_lookup_id(uint64_t id)
{
	return g_hash_table_lookup(queues_by_id, GSIZE_TO_POINTER(id));
}

void mqueue_set_file(struct mqueue *q, int i, const struct fattr *a)
{
	q->files[i] = *a;
	if (i == MQ_DIR)
		mqueue_publish(q);
	model_changed(MCHANGE_QUEUE_ATTRS, q, NULL);
}
