/* SPDX-License-Identifier: MIT */
/*
 * writer.c - the journal: each change of the model becomes a record (under
 * the model lock), copied at once into the log file (log.c) where there is
 * one; whoever commits takes every record queued so far into one
 * transaction (group commit).  store_sync() returns at once for records in
 * the log (once on disk with sync=full), and otherwise commits them
 * itself or waits for the commit under way; a writer thread commits the
 * rest, the logged records among them.
 *
 * A logged record is acknowledged: if its commit fails it is kept and
 * tried again (first, to keep the order), and the log keeps it meanwhile.
 * So is what the engine did (a run's start or end, a queue's counts),
 * which no write waits for and none takes back.  Any other record with no
 * room in the log fails with its commit, and the write that waited for it
 * gets the errno (and takes its change back).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

void rec_free(struct rec *r)
{
	if (r->groups)
		g_bytes_unref(r->groups);
	if (r->env)
		g_bytes_unref(r->env);
	if (r->limits)
		g_bytes_unref(r->limits);
	if (r->output)
		g_bytes_unref(r->output);
	if (r->chunk) {
		recpool_free(r);
		return;
	}
	char **strs[] = REC_STRS(r);
	for (size_t i = 0; i < G_N_ELEMENTS(strs); i++)
		g_free(*strs[i]);
	g_free(r);
}

/* ---- records, under the model lock ---------------------------------------------- */

static void rec_queue(struct rec *r, struct mqueue *q)
{
	struct workqueue_attrs at;
	wq_get_attrs(q->wq, &at);
	r->creator = q->creator;
	r->ctime = q->ctime;
	r->files = files_to_text(q->files);
	r->unbound = (wq_flags(q->wq) & WQ_UNBOUND) != 0;
	r->max_active = wq_max_active(q->wq);
	r->nice = at.nice;
	r->frozen = wq_frozen(q->wq);
	r->requeue_lost = q->requeue_lost;
	r->cpumask = cpumask_to_text(&at.cpumask);
}

/* The environment as one blob of NUL-terminated strings. */
static GBytes *env_blob(char **env)
{
	GByteArray *a = g_byte_array_new();
	for (char **e = env; e && *e; e++)
		g_byte_array_append(a, (const guint8 *)*e, (guint)strlen(*e) + 1);
	return g_byte_array_free_to_bytes(a);
}

static void rec_submitter(struct rec *r, const struct submitter *sub)
{
	r->sub = sub->journal_id;
	r->uid = sub->uid;
	r->gid = sub->gid;
	r->cwd = g_strdup(sub->cwd);
	r->groups = g_bytes_new(sub->groups, sizeof(gid_t) * sub->ngroups);
	r->env = env_blob(sub->env);
	if (sub->limits)
		r->limits = g_bytes_new(sub->limits, sizeof(struct rlimit) * RLIM_NLIMITS);
}

/* The state a work's row keeps: pending or delayed if it is queued, else
 * running between its start and its end. */
static int row_state(enum mchange c, struct mwork *w)
{
	enum mwork_state s = mwork_queued_state(w);	/* running or not */
	if (s == MW_PENDING || s == MW_DELAYED)
		return s == MW_PENDING ? ROW_PENDING : ROW_DELAYED;
	if (s == MW_BLOCKED)
		return ROW_BLOCKED;
	if (c == MCHANGE_WORK_STARTED)
		return ROW_RUNNING;
	return w->lost ? ROW_LOST : w->cancelled ? ROW_CANCELLED : ROW_IDLE;
}

static void rec_run(struct rec *r, enum mchange c, struct mwork *w)
{
	r->state = row_state(c, w);
	r->runs = (int64_t)mwork_nruns(w);
	r->has_exit = w->has_exit;
	r->last_exit = mwork_last_exit(w);
	r->due_ms = r->state == ROW_DELAYED ? w->due_ms : 0;
	r->queued_ms = w->has_queued ? w->queued_ms : 0;
	r->started_ms = w->has_started ? mwork_started_ms(w) : 0;
	r->finished_ms = w->has_finished ? mwork_finished_ms(w) : 0;
	r->after = mwork_after_text(w);
	r->reason = g_strdup(mwork_reason(w));
	if (c == MCHANGE_WORK_FINISHED) {
		size_t n = mwork_output(w, NULL, 0);
		char *buf = g_malloc(n + 1);
		n = mwork_output(w, buf, n);
		r->output = g_bytes_new_take(buf, n);
	}
}

static void rec_work(struct rec *r, struct store *s, struct mwork *w)
{
	r->anon = w->anon;
	r->owner = w->owner;
	r->command = g_strdup(mwork_cmdline(w));
	r->order = ++s->order;
	r->ctime = w->ctime;
	r->sub = w->sub ? w->sub->journal_id : 0;
}

/* What a cluster's row needs besides: a queueing is a new instance of
 * the work (replacing the one the model knew); a run's start or end here
 * is told from a line's change.  Model lock held. */
static void rec_cluster(struct rec *r, struct store *s, enum mchange c, struct mwork *w)
{
	r->cpu = mwork_qcpu(w);
	r->home = mqueue_wants_cpu(w->q);
	r->modify = w->requeue;
	w->requeue = false;
	if (r->op == REC_WORK_PUT)
		w->inst = ++s->id_next;
	r->inst = w->inst;
	r->finished = c == MCHANGE_WORK_FINISHED;
	r->engine = c == MCHANGE_WORK_STARTED || (r->finished && w->finishing);
	r->held = w->running || work_busy(&w->dwork.work);
	r->cancel = c == MCHANGE_WORK_CANCELLED && w->cancelled;
}

/* The records this thread queued since its last store_sync(), counted as
 * s->queued counts: what its sync answers for. */
static __thread const struct store *mine_store;
static __thread uint64_t mine_from, mine_to;

static void push(struct store *s, struct rec *r)
{
	pthread_mutex_lock(&s->mu);
	r = recpool_pack(s, r);
	g_queue_push_tail(&s->recs, r);
	s->queued++;
	if (mine_store != s || !mine_from)
		mine_from = s->queued;
	mine_store = s;
	mine_to = s->queued;
	r->who = &mine_from;
	r->seq = s->seq_base + s->queued;
	r->logged = log_append(s, r, r->seq);
	if (!r->logged)
		s->unlogged_to = s->queued;
	pthread_cond_signal(&s->more);
	pthread_mutex_unlock(&s->mu);
}

void store_counts(struct store *s, struct workqueue_struct *wq)
{
	struct wq_stats st;
	struct rec *r = g_new0(struct rec, 1);
	wq_get_stats(wq, &st);
	r->op = REC_QUEUE_COUNTS;
	r->queue = g_strdup(wq_name(wq));
	r->completed = (int64_t)st.completed;
	r->failed = (int64_t)st.failed;
	r->cancelled = (int64_t)st.cancelled;
	r->started = (int64_t)st.started;
	r->fact = true;
	push(s, r);
}

/* A submitter is written once, before the first work that names it. */
static void journal_submitter(struct store *s, struct submitter *sub)
{
	if (!sub || sub->journal_id)
		return;
	sub->journal_id = model_cluster ? ++s->id_next : ++s->sub_id;
	struct rec *r = g_new0(struct rec, 1);
	r->op = REC_SUB_PUT;
	rec_submitter(r, sub);
	push(s, r);
}

static enum rec_op rec_op(enum mchange c)
{
	switch (c) {
	case MCHANGE_QUEUE_CREATED:
	case MCHANGE_QUEUE_ATTRS:	return REC_QUEUE_PUT;
	case MCHANGE_QUEUE_REMOVED:	return REC_QUEUE_DEL;
	case MCHANGE_WORK_QUEUED:
	case MCHANGE_WORK_RESTORED:	return REC_WORK_PUT;
	case MCHANGE_WORK_FORGOTTEN:	return REC_WORK_DEL;
	default:			return REC_WORK_RUN;
	}
}

void store_journal(enum mchange c, struct mqueue *q, struct mwork *w, void *data)
{
	struct store *s = data;
	struct rec *r = g_new0(struct rec, 1);

	r->op = rec_op(c);
	r->fact = c == MCHANGE_WORK_STARTED || c == MCHANGE_WORK_FINISHED;
	if (r->op == REC_WORK_PUT)
		journal_submitter(s, w->sub);
	r->queue = g_strdup(q->name);
	if (w)
		r->name = g_strdup(w->name);
	if (r->op == REC_QUEUE_PUT)
		rec_queue(r, q);
	if (r->op == REC_WORK_PUT)
		rec_work(r, s, w);
	if (r->op == REC_WORK_PUT || r->op == REC_WORK_RUN)
		rec_run(r, c, w);
	if (w && model_cluster)
		rec_cluster(r, s, c, w);
	push(s, r);
}

/* ---- the writer thread ------------------------------------------------------------ */

int store_set_applied(struct store *s, uint64_t seq)
{
	char sql[96];
	if (!s->be->set_applied)
		return 0;
	snprintf(sql, sizeof sql, "%s%" PRIu64, s->be->set_applied, seq);
	return s->be->exec(s, sql);
}

/* The last record's seq in the database, with the batch. */
static int set_applied(struct store *s, GQueue *batch)
{
	const struct rec *last = g_queue_peek_tail(batch);
	return last ? store_set_applied(s, last->seq) : 0;
}

/* Commit the records of batch in one transaction; 0 or -errno. */
static int commit_batch(struct store *s, GQueue *batch)
{
	if (s->be->commit)
		return s->be->commit(s, batch);
	int r = s->be->exec(s, s->be->begin);
	for (GList *l = batch->head; r == 0 && l; l = l->next)
		r = s->be->apply(s, l->data);
	if (r == 0)
		r = set_applied(s, batch);
	if (r == 0)
		r = s->be->exec(s, "COMMIT");
	if (r < 0)
		store_rollback(s);
	return r;
}

/* Whether a failed commit keeps r for the next one: acknowledged (in the
 * log), or what the engine did, which the database must learn (a run's
 * end lost there would leave the work running on this node for good, and
 * its queue's max_active taken). */
static bool kept(const struct rec *r)
{
	return r->logged || r->fact;
}

/* After a failed commit: the records kept wait for the next one, in order;
 * the others are gone (their writes get the errno).  s->mu held. */
static void keep_some(struct store *s, GQueue *batch)
{
	struct rec *r;
	while ((r = g_queue_pop_head(batch))) {
		if (kept(r))
			g_queue_push_tail(&s->retry, r);
		else
			rec_free(r);
	}
}

/* The waiters of the batch's records not in the log will get err: those
 * are dropped (the log keeps the others).  The oldest failures are
 * forgotten, their waiters long gone.  s->mu held. */
#define FAILURES_KEPT	64

/* Record r (counted as s->queued counts) failed with err, for who (NULL:
 * any writer); the oldest failure is forgotten.  s->mu held. */
static void add_failure(struct store *s, uint64_t i, int err, const void *who)
{
	struct store_failure f = { i, i, err, who };
	if (s->failed->len == FAILURES_KEPT)
		g_array_remove_index(s->failed, 0);
	g_array_append_val(s->failed, f);
}

static void note_failure(struct store *s, GQueue *batch, int err)
{
	s->fail_err = err;
	for (GList *l = batch->head; l; l = l->next) {
		const struct rec *r = l->data;
		uint64_t i = r->seq - s->seq_base;
		struct store_failure *last = s->failed->len ?
			&g_array_index(s->failed, struct store_failure, s->failed->len - 1) : NULL;
		if (kept(r))
			continue;
		if (last && last->to + 1 == i && last->err == err && !last->who)
			last->to = i;
		else
			add_failure(s, i, err, NULL);
	}
}

/* The first failure of records [from, to] queued by this thread. */
static int failure_in(struct store *s, uint64_t from, uint64_t to)
{
	for (guint i = 0; i < s->failed->len; i++) {
		const struct store_failure *f = &g_array_index(s->failed, struct store_failure, i);
		if (from <= f->to && to >= f->from && (!f->who || f->who == &mine_from))
			return f->err;
	}
	return 0;
}

static int failure_of(struct store *s, uint64_t rec)
{
	return failure_in(s, rec, rec);
}

/* A committed batch's records the database refused (a cluster's guarded
 * queueing): their writers get the errno.  s->mu held. */
static void note_refused(struct store *s, GQueue *batch)
{
	for (GList *l = batch->head; l; l = l->next) {
		const struct rec *r = l->data;
		if (r->refused)
			add_failure(s, r->seq - s->seq_base, r->refused, r->who);
	}
}

/*
 * Commit what is queued, as the leader: whoever finds records queued and
 * no commit under way (a handler in store_sync(), or the writer thread for
 * changes nobody waits for) takes them all, logged records whose commit
 * failed first, and commits them in one transaction on its own thread.
 * s->mu held; dropped meanwhile.
 */
static void commit_queued(struct store *s)
{
	GQueue batch = s->retry;
	uint64_t upto = s->queued;

	for (GList *l = s->recs.head; l; l = l->next)
		g_queue_push_tail(&batch, l->data);
	g_queue_clear(&s->recs);
	g_queue_init(&s->retry);
	s->committing = true;
	pthread_mutex_unlock(&s->mu);
	int err = commit_batch(s, &batch);
	pthread_mutex_lock(&s->mu);
	if (err < 0) {
		note_failure(s, &batch, err);
		keep_some(s, &batch);
	} else {
		const struct rec *last = g_queue_peek_tail(&batch);
		if (last)
			s->applied_seq = MAX(s->applied_seq, last->seq);
		note_refused(s, &batch);
		g_queue_clear_full(&batch, (GDestroyNotify)rec_free);
	}
	s->failing = err < 0;
	if (g_queue_is_empty(&s->recs) && g_queue_is_empty(&s->retry))
		log_rewind(s);
	s->committed = upto;
	s->commits++;
	s->committing = false;
	pthread_cond_broadcast(&s->committed_cond);
	if (err == 0 && model_cluster)
		cluster_wake(s);	/* what was queued can be claimed */
}

/* How long the writer thread leaves queued records to a handler that
 * will commit them itself (its store_sync() follows its change), and so
 * how many a commit of logged records gathers: 20 ms of them are one
 * transaction (2 ms cost a sixth of one writer's throughput in SQLite's
 * page writes, on two cores). */
#define WRITER_DELAY_NS	(20 * 1000 * 1000)

/* How often the writer tries again to commit logged records that failed. */
#define RETRY_NS	(100 * 1000 * 1000)

static void wait_ns(pthread_cond_t *cond, pthread_mutex_t *mu, long ns)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += ns;
	t.tv_sec += t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(cond, mu, &t);
}

/* Commits the changes no handler waits for (a work's start and end),
 * WRITER_DELAY_NS after they were queued, and what is left at stop. */
static void *writer_main(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->committing) {
			pthread_cond_wait(&s->committed_cond, &s->mu);
		} else if (g_queue_is_empty(&s->recs) && !g_queue_is_empty(&s->retry) &&
			   !s->stop) {
			wait_ns(&s->more, &s->mu, RETRY_NS);
			if (!s->committing)
				commit_queued(s);
		} else if (g_queue_is_empty(&s->recs)) {
			if (s->stop)
				break;
			pthread_cond_wait(&s->more, &s->mu);
		} else {
			uint64_t seen = s->committed;
			if (!s->stop)
				wait_ns(&s->committed_cond, &s->mu, WRITER_DELAY_NS);
			if (s->committed == seen && !s->committing && !g_queue_is_empty(&s->recs))
				commit_queued(s);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Whether every record queued so far that is not committed is in the
 * log: then it is acknowledged already (once on disk with sync=full). */
static bool all_logged(struct store *s)
{
	return s->unlogged_to <= s->committed;
}

/* Commit everything queued up to upto, as the leader or by waiting for
 * one; s->mu held.  The errno of a failed commit that took upto. */
static int commit_upto(struct store *s, uint64_t upto)
{
	while (s->committed < upto) {
		if (s->committing)
			pthread_cond_wait(&s->committed_cond, &s->mu);
		else
			commit_queued(s);
	}
	return failure_of(s, upto);
}

/* What this thread's records need before they are acknowledged: their
 * commit's errno, 0, or 1 if only writing the log out up to record *want is
 * left (sync=full).  s->mu held. */
static int sync_mine(struct store *s, uint64_t *want)
{
	bool mine = mine_store == s && mine_from;	/* records to answer for */
	uint64_t from = mine_from, to = mine_to;
	mine_from = 0;
	if (all_logged(s)) {	/* or committed */
		int r = mine ? failure_in(s, from, to) : 0;
		*want = mine ? s->seq_base + to : s->log_last_seq;
		return r == 0 && s->sync_full && s->log_synced_seq < *want ? 1 : r;
	}
	commit_upto(s, s->queued);
	return mine ? failure_in(s, from, to) : 0;
}

/* This thread's records acknowledged, or handed to the flusher (done
 * given): 0 or -errno, or 1 if done(arg, err) comes later from the
 * flusher.  s->mu held; dropped meanwhile. */
static int sync_or_hand(struct store *s, void (*done)(void *arg, int err), void *arg)
{
	uint64_t want;
	int r = sync_mine(s, &want);
	if (r != 1)
		return r;
	return done && flusher_wait(s, done, arg) ? 1 : log_sync(s, want);
}

int store_sync(void *data)
{
	struct store *s = data;
	pthread_mutex_lock(&s->mu);
	int r = sync_or_hand(s, NULL, NULL);
	pthread_mutex_unlock(&s->mu);
	return r;
}

void store_sync_then(void *data, void (*done)(void *arg, int err), void *arg)
{
	struct store *s = data;
	pthread_mutex_lock(&s->mu);
	int r = sync_or_hand(s, done, arg);
	pthread_mutex_unlock(&s->mu);
	if (r != 1)
		done(arg, r);
}

/* Room for a write's records in the log, whatever the tables say. */
#define LOG_SPARE	(64 << 10)

/* Try the store the way a commit would, as the leader: commit what waits
 * (a record the log has no room for, or one to retry), or else
 * reconnect.  s->mu held; dropped meanwhile. */
static void probe(struct store *s)
{
	if (!g_queue_is_empty(&s->recs) || !g_queue_is_empty(&s->retry)) {
		commit_queued(s);
		return;
	}
	s->committing = true;
	pthread_mutex_unlock(&s->mu);
	int r = s->be->connect(s);
	pthread_mutex_lock(&s->mu);
	s->committing = false;
	s->failing = r < 0;
	if (r < 0)
		s->fail_err = r;
	pthread_cond_broadcast(&s->committed_cond);
}

int store_ready(void *data)
{
	struct store *s = data;
	pthread_mutex_lock(&s->mu);
	bool logged = log_room(s, LOG_SPARE);
	if (s->failing && !logged) {
		while (s->committing)
			pthread_cond_wait(&s->committed_cond, &s->mu);
		if (s->failing)
			probe(s);
	}
	int r = s->failing && !logged ? s->fail_err : 0;
	pthread_mutex_unlock(&s->mu);
	return r;
}

int store_checkpoint(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	int r = commit_upto(s, s->queued);
	if (r == 0 && !g_queue_is_empty(&s->retry) && !s->committing) {
		commit_queued(s);
		r = g_queue_is_empty(&s->retry) ? 0 : s->fail_err;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

int store_start(struct store *s)
{
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
		return -EAGAIN;
	pthread_setname_np(s->writer, "wqfs-store");
	s->started = true;
	if (flusher_start(s) < 0)
		return -EAGAIN;
	struct model_journal j = { .changed = store_journal, .sync = store_sync,
				   .sync_then = store_sync_then,
				   .ready = store_ready, .data = s };
	model_set_journal(&j);
	int r = lease_start(s);	/* this node is known before it claims */
	if (r < 0 || !model_cluster)
		return r;
	model_lock();		/* every node has `events`: so has the database */
	model_changed(MCHANGE_QUEUE_CREATED, events_q, NULL);
	model_unlock();
	return cluster_start(s);
}

void store_stop(struct store *s)
{
	if (s)
		cluster_stop(s);	/* no claim once the lease is gone */
	lease_stop(s);
	if (!s || !s->started)
		return;
	model_set_journal(NULL);
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->more);
	pthread_mutex_unlock(&s->mu);
	flusher_stop(s);
	pthread_join(s->writer, NULL);
	s->started = false;
}

uint64_t store_commits(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t n = s->commits;
	pthread_mutex_unlock(&s->mu);
	return n;
}
