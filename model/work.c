/* SPDX-License-Identifier: MIT */
/*
 * work.c - the works: their table, what each is charged, their state, the
 * finished anonymous works kept for works/, and the function every work
 * runs on a worker (its command, as its owner).
 *
 * A work lives in its queue's table from its first line until rmdir of
 * works/NAME, the queue's removal, or (anonymous ones) until keep_anon
 * newer finished ones push it out.  A work with holds (a wait, a request)
 * or an engine instance is never freed.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* A queue's table is a set of pointers into its works, no value array:
 * a million pending works each pay for their slots.  q->works holds
 * &w->name, which is w itself, so iterating it gives the works.  The
 * works by id are idmap.c's. */
G_STATIC_ASSERT(offsetof(struct mwork, name) == 0);
static uint64_t last_work_id;		/* model lock */
static unsigned long last_anon;		/* model lock */

static guint name_hash(gconstpointer k)
{
	return g_str_hash(*(char *const *)k);
}

static gboolean name_equal(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b) == 0;
}

GHashTable *mwork_name_table_new(void)
{
	return g_hash_table_new(name_hash, name_equal);
}

struct mwork *mqueue_work(struct mqueue *q, const char *name)
{
	char **k = g_hash_table_lookup(q->works, &name);
	return k ? container_of(k, struct mwork, name) : NULL;
}

static void mwork_list(struct mqueue *q, struct mwork *w)
{
	g_hash_table_add(q->works, &w->name);
	idmap_put(w);
	q->nworks++;
}

static void mwork_unlist(struct mwork *w)
{
	struct mqueue *q = w->q;
	if (mqueue_work(q, w->name) == w) {
		g_hash_table_remove(q->works, &w->name);
		q->nworks--;
	}
	if (w->ran && w->ran->done_link) {
		g_queue_delete_link(&q->anon_done, w->ran->done_link);
		w->ran->done_link = NULL;
	}
}

/* Forget the oldest finished anonymous works until at most keep remain
 * (those a request still holds stay); only owner's unless owner is -1. */
static void gc_anon(struct mqueue *q, unsigned int keep, uid_t owner)
{
	GList *l = q->anon_done.head;
	while (l && q->anon_done.length > keep) {
		GList *next = l->next;
		struct mwork *w = l->data;
		if ((owner == (uid_t)-1 || w->owner == owner) && mwork_removable(w)) {
			model_changed(MCHANGE_WORK_FORGOTTEN, q, w);
			mwork_free(w);
		}
		l = next;
	}
}

/* Room for one more work of owner in q: finished anonymous works kept for
 * works/ give way, only pending, running and named works fill a queue. */
static int charge_work(struct mqueue *q, uid_t owner)
{
	if (q->nworks >= model_cfg.max_works && q->anon_done.length)
		gc_anon(q, q->anon_done.length - 1, (uid_t)-1);
	if (q->nworks >= model_cfg.max_works)
		return -ENOSPC;
	if (quota_charge(owner, QUOTA_WORKS, 1) == 0)
		return 0;
	gc_anon(q, 0, owner);
	return quota_charge(owner, QUOTA_WORKS, 1);
}

int mwork_create(struct mqueue *q, const char *name, bool anon, uid_t owner,
		 size_t room, struct mwork **wp)
{
	char made[32];
	int r = charge_work(q, owner);
	if (r < 0)
		return r;
	if (!name) {
		do
			snprintf(made, sizeof made, "w%lu", ++last_anon);
		while (mqueue_work(q, made));
	} else if (anon) {	/* restored: later ones come after it */
		unsigned long k = strtoul(name + 1, NULL, 10);
		last_anon = MAX(last_anon, k);
	}
	const char *s = name ? name : made;
	size_t n = strlen(s) + 1;
	struct mwork *w = g_malloc0(sizeof *w + n + room);
	init_delayed_work(&w->dwork, mwork_func);
	w->id = ++last_work_id;
	w->name = memcpy(w + 1, s, n);
	w->anon = anon;
	w->owner = owner;
	w->q = q;
	w->ctime = time(NULL);
	mwork_list(q, w);
	*wp = w;
	return 0;
}

/* The block of w's name and command in w's own allocation (after the
 * struct, made with the room its creator asked for), and its size. */
static char *inline_block(struct mwork *w)
{
	return (char *)(w + 1);
}

static size_t inline_size(struct mwork *w)
{
	return malloc_usable_size(w) - sizeof *w;
}

/* Give w command cmd (len bytes, or none if NULL), after its name in one
 * block: in w's own allocation if both fit, else in a block of their own.
 * cmd is never in w's block.  The name moves only with its block, under
 * the namer's lock; the command's bytes follow its NUL. */
static void mwork_set_strings(struct mwork *w, const char *cmd, size_t len)
{
	size_t n = strlen(w->name) + 1, size = n + (cmd ? len + 1 : 0);
	char *old = w->name;
	char *block = size <= inline_size(w) ? inline_block(w) : g_malloc(size);

	if (block != old)
		model_move_name(w, block, n);
	if (cmd) {
		memcpy(block + n, cmd, len);
		block[n + len] = '\0';
	}
	w->has_command = cmd != NULL;
	if (old != block && old != inline_block(w))
		g_free(old);
}

void mwork_free(struct mwork *w)
{
	mwork_unlist(w);
	after_unblock(w);
	idmap_remove(w);
	if (w->ran) {
		wq_command_destroy(&w->ran->cmd);
		g_free(w->ran->reason);
		g_free(w->ran);
	}
	submitter_unref(w->sub);
	quota_uncharge(w->owner, QUOTA_BYTES, strlen(mwork_cmdline(w)));
	quota_uncharge(w->owner, QUOTA_WORKS, 1);
	after_set(w, NULL);
	if (w->name != inline_block(w))
		g_free(w->name);
	g_free(w);
}

int mwork_set_command(struct mwork *w, const char *cmd, size_t len, bool force)
{
	size_t old = strlen(mwork_cmdline(w));

	if (len > old && force)
		quota_force(w->owner, QUOTA_BYTES, len - old);
	else if (len > old && quota_charge(w->owner, QUOTA_BYTES, len - old) < 0)
		return -EDQUOT;
	if (len < old)
		quota_uncharge(w->owner, QUOTA_BYTES, old - len);
	mwork_set_strings(w, cmd, len);
	return 0;
}

int64_t model_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void mwork_set_due(struct mwork *w, int64_t now_ms, uint64_t delay_ns)
{
	unsigned long j = wq_ns_to_jiffies(delay_ns);
	w->due_at = wq_jiffies() + j;
	w->due_ms = now_ms + (int64_t)(wq_jiffies_to_ns(j) / 1000000);
}

void mwork_hold(struct mwork *w, int delta)
{
	if (!w)
		return;
	model_lock();
	w->holds += delta;
	model_unlock();
}

bool mwork_runs(struct mwork *w)
{
	return w->running || (work_busy(&w->dwork.work) & WORK_BUSY_RUNNING);
}

bool mwork_removable(struct mwork *w)
{
	return w->holds == 0 && !w->running && !w->blocked && !w->remote &&
	       work_busy(&w->dwork.work) == 0;
}

struct mwork *mwork_lookup_id(uint64_t id)
{
	struct mwork *w = mwork_by_id(id);
	return w && !w->q->dead ? w : NULL;
}

enum mwork_state mwork_idle_state(struct mwork *w)
{
	return w->lost ? MW_LOST : w->cancelled ? MW_CANCELLED :
	       mwork_reason(w) ? MW_FAILED : !w->has_exit ? MW_NEW :
	       mwork_last_exit(w) ? MW_FAILED : MW_DONE;
}

enum mwork_state mwork_queued_state(struct mwork *w)
{
	if (w->remote)
		return w->remote == MW_RUNNING ? MW_NEW : w->remote;
	if (w->blocked)
		return MW_BLOCKED;
	if (!(work_busy(&w->dwork.work) & WORK_BUSY_PENDING))
		return MW_NEW;
	if (w->has_due && (long)(w->due_at - wq_jiffies()) > 0 &&
	    delayed_work_pending(&w->dwork))
		return MW_DELAYED;
	return MW_PENDING;
}

enum mwork_state mwork_state(struct mwork *w)
{
	unsigned int b = work_busy(&w->dwork.work);
	if (w->running || (b & WORK_BUSY_RUNNING))
		return MW_RUNNING;
	if (w->remote == MW_RUNNING)
		return MW_RUNNING;
	enum mwork_state q = mwork_queued_state(w);
	return q == MW_NEW ? mwork_idle_state(w) : q;
}

const char *mwork_state_name(enum mwork_state s)
{
	static const char *const names[] = {
		[MW_NEW] = "new", [MW_PENDING] = "pending",
		[MW_DELAYED] = "delayed", [MW_BLOCKED] = "blocked",
		[MW_RUNNING] = "running", [MW_DONE] = "done",
		[MW_FAILED] = "failed", [MW_CANCELLED] = "cancelled",
		[MW_LOST] = "lost",
	};
	return names[s];
}

int mwork_forget(struct mqueue *q, const char *name, uid_t uid)
{
	struct mwork *w = mqueue_work(q, name);
	if (!w)
		return -ENOENT;
	if (uid != 0 && uid != w->owner && uid != q->files[MQ_DIR].uid)
		return -EPERM;
	if (!mwork_removable(w))
		return -EBUSY;
	model_changed(MCHANGE_WORK_FORGOTTEN, q, w);
	mwork_free(w);
	return 0;
}

struct mwork_ran *mwork_ran(struct mwork *w)
{
	if (!w->ran) {
		w->ran = g_new0(struct mwork_ran, 1);
		wq_command_init(&w->ran->cmd);
		w->ran->last_cpu = -1;
	}
	return w->ran;
}

void mwork_set_reason(struct mwork *w, const char *why)
{
	if (!why && !w->ran)
		return;
	struct mwork_ran *ran = mwork_ran(w);
	g_free(ran->reason);
	ran->reason = g_strdup(why);
}

struct wq_command *mwork_cmd(struct mwork *w)
{
	return &mwork_ran(w)->cmd;
}

size_t mwork_output(struct mwork *w, char *buf, size_t len)
{
	return w->ran ? wq_command_output(&w->ran->cmd, buf, len, NULL) : 0;
}

/* A kill between the engine's start of the work and its command's spawn
 * is kept on the command, which honours it when it spawns. */
void mwork_kill(struct mwork *w)
{
	if (mwork_runs(w))
		wq_command_kill(mwork_cmd(w));
}

/* ---- the work function -------------------------------------------------------- */

/* What a run needs, copied under the model lock: the work may be
 * redeclared while its command runs. */
struct run {
	struct submitter *sub;
	char *cmdline;
	char *extra[5];			/* WQ_QUEUE, WQ_WORK, WQ_CPU, WQ_ROOT,
					 * WQ_NODE */
	GPtrArray *env;
	struct wq_cred cred;
};

static void run_start(struct mwork *w, struct run *r, int cpu)
{
	model_lock();
	r->sub = w->sub ? submitter_ref(w->sub) : NULL;
	struct mwork_ran *ran = mwork_ran(w);
	r->cmdline = g_strdup(mwork_cmdline(w));
	r->extra[0] = g_strdup_printf("WQ_QUEUE=%s", w->q->name);
	r->extra[1] = g_strdup_printf("WQ_WORK=%s", w->name);
	w->running = true;
	ran->runs++;
	w->has_started = true;
	ran->started_ms = model_now_ms();
	w->has_finished = false;
	w->has_exit = false;
	ran->last_cpu = cpu;
	ran->node = g_intern_string(model_cfg.node ? model_cfg.node : "");
	w->has_due = false;
	mwork_set_reason(w, NULL);
	wq_command_clear_output(mwork_cmd(w));	/* a follower sees this run's */
	model_changed(MCHANGE_WORK_STARTED, w->q, w);
	model_unlock();
	r->extra[2] = g_strdup_printf("WQ_CPU=%d", cpu);
	r->extra[3] = g_strdup_printf("WQ_ROOT=%s", model_cfg.root ? model_cfg.root : "/");
	r->extra[4] = g_strdup_printf("WQ_NODE=%s", model_cfg.node ? model_cfg.node : "");
}

/* The environment and credentials of r's command.  As at(1): the groups
 * the owner has now (a deleted owner's work does not run); the limits
 * are the submitter's. */
static void run_prepare(struct mwork *w, struct run *r, struct wq_command *cmd)
{
	struct submitter *s = r->sub;
	r->env = g_ptr_array_new();
	for (char **e = s && s->env ? s->env : NULL; e && *e; e++)
		g_ptr_array_add(r->env, *e);
	for (size_t i = 0; i < G_N_ELEMENTS(r->extra); i++)
		g_ptr_array_add(r->env, r->extra[i]);
	g_ptr_array_add(r->env, NULL);
	r->cred = (struct wq_cred){ .current_groups = true };
	if (s) {
		r->cred.uid = s->uid;
		r->cred.gid = s->gid;
		r->cred.groups = s->groups;
		r->cred.ngroups = s->ngroups;
		r->cred.rlimits = s->limits;
	}
	cmd->cmdline = r->cmdline;
	cmd->envp = (char *const *)r->env->pdata;
	cmd->cwd = s && s->cwd ? s->cwd : "/";
	cmd->cred = s ? &r->cred : NULL;
	cmd->output_limit = model_cfg.max_output;
	cmd->kill_grace_ms = 0;		/* the engine's default */
	cmd->output_notify = model_output_grew;
	cmd->output_data = w;
}

void mwork_ended(struct mwork *w)
{
	struct mqueue *q = w->q;
	if (w->anon && !q->dead) {
		struct mwork_ran *ran = mwork_ran(w);
		if (ran->done_link)
			g_queue_unlink(&q->anon_done, ran->done_link);
		else
			ran->done_link = g_list_alloc();
		ran->done_link->data = w;
		g_queue_push_tail_link(&q->anon_done, ran->done_link);
		gc_anon(q, model_cfg.keep_anon, (uid_t)-1);
	}
	model_wake_idle();
}

static void run_end(struct mwork *w, struct run *r, int exit_code, pid_t pid)
{
	struct wq_command *cmd = &w->ran->cmd;

	model_lock();
	w->running = false;
	w->finishing = true;
	w->has_exit = true;
	w->ran->last_exit = exit_code;
	w->ran->last_pid = pid;
	w->has_finished = true;
	w->ran->finished_ms = model_now_ms();
	cmd->cmdline = NULL;
	cmd->envp = NULL;
	cmd->cwd = NULL;
	cmd->cred = NULL;
	model_changed(MCHANGE_WORK_FINISHED, w->q, w);
	mwork_ended(w);
	model_unlock();
	if (model_cluster) {	/* its slot is free for every node now */
		model_commit();
		cluster_poke();
	}
	for (size_t i = 0; i < G_N_ELEMENTS(r->extra); i++)
		g_free(r->extra[i]);
	g_ptr_array_free(r->env, TRUE);
	submitter_unref(r->sub);
	g_free(r->cmdline);
}

void mwork_func(struct work_struct *work)
{
	struct mwork *w = container_of(to_delayed_work(work), struct mwork, dwork);
	struct run r = { 0 };

	run_start(w, &r, sched_getcpu());
	/* durable before the command starts: after a crash the work is lost,
	 * never run a second time as if it had been pending */
	model_commit();
	struct wq_command *cmd = &w->ran->cmd;	/* made by run_start, kept
						 * until the free */
	run_prepare(w, &r, cmd);
	int rc = wq_command_run(cmd);
	int exit_code = rc < 0 ? 127 : cmd->exit_code;
	uint64_t cpu_ns = rc < 0 ? 0 : cmd->cpu_ns;
	run_end(w, &r, exit_code, rc < 0 ? 0 : cmd->pid);
	wq_set_result(exit_code, cpu_ns);
}
