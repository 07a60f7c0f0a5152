/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the model's files share and fs/ does not see.
 */
#ifndef WQFS_MODEL_INTERNAL_H
#define WQFS_MODEL_INTERNAL_H

#include "model.h"

/* idmap.c: the works by id; model lock */
void idmap_init(void);
void idmap_fini(void);
struct mwork *mwork_by_id(uint64_t id);	/* or NULL */
void idmap_put(struct mwork *w);
void idmap_remove(struct mwork *w);

/* work.c; all with the model lock held unless said */
GHashTable *mwork_name_table_new(void);	/* for q->works */
/* A new work named name owned by owner, charged for it; -ENOSPC at
 * max_works, -EDQUOT at the owner's limit.  Anonymous: name NULL (the
 * next "wN"), or the "wN" it had (restored: later ones come after it).
 * room: bytes for its command (and NUL) in the work's own allocation. */
int mwork_create(struct mqueue *q, const char *name, bool anon, uid_t owner,
		 size_t room, struct mwork **wp);
void mwork_free(struct mwork *w);		/* idle; unlists it first */
/* Set w's command, charging its owner; -EDQUOT past the limit unless
 * force.  A NULL or shorter command is never refused. */
int mwork_set_command(struct mwork *w, const char *cmd, size_t len, bool force);
bool mwork_removable(struct mwork *w);
/* w is due delay_ns from now (now_ms on the wall clock), as the engine's
 * timer fires it: in whole jiffies. */
void mwork_set_due(struct mwork *w, int64_t now_ms, uint64_t delay_ns);
bool mwork_runs(struct mwork *w);		/* running, or about to */
/* Which of the idle states w is in, when it is neither queued nor
 * running. */
enum mwork_state mwork_idle_state(struct mwork *w);
/* w's command, made at its first use; kept until w is freed. */
struct wq_command *mwork_cmd(struct mwork *w);

/* queue.c: what the engine's namer reads (registry_lock, not the model's) */
extern uid_t model_uid;			/* the daemon's, set by model_init() */
void mwork_func(struct work_struct *work);	/* work.c: every work's */
void model_move_name(struct mwork *w, char *block, size_t n);

/* proc.c: the most of a process's environment read */
#define ENVIRON_MAX	(256 * 1024)

/* submitter.c: what /proc tells of pid now, for a submitter (cwd NULL:
 * unreadable; env without our WQ_* variables; limits NULL: unreadable) */
char *submitter_read_cwd(pid_t pid);
char **submitter_read_env(pid_t pid);
struct rlimit *submitter_read_limits(pid_t pid);

/* proc.c: which process image pid is: its start time (field 22 of
 * /proc/PID/stat) and the place of its environment (fields 48 and 49),
 * which an execve(2) moves.  0, or -errno (-EPERM: the place is hidden
 * from us). */
struct proc_ident {
	unsigned long long start, env_start, env_end;
};
int proc_ident(pid_t pid, struct proc_ident *id, struct cpu_reader *r);

/* subcache.c: forget every process (model_fini) */
void subcache_fini(void);

/* queue.c: wait on cond with the model lock held, until *until */
void model_wait_cond(pthread_cond_t *cond, const struct timespec *until);

/* journal.c: a running work's output grew (wq_command.output_notify) */
void model_output_grew(void *data);

/* after.c: dependencies; model lock held */
/* Block w (queued by a submit, delay or modify line with delay_ns) until
 * its DEPs are done; -EALREADY if it is blocked and not modify. */
int after_block(struct mwork *w, bool modify, uint64_t delay_ns);
void after_unblock(struct mwork *w);		/* out of the blocked list */
void after_changed(void);			/* a work changed */
bool after_pending(void);			/* blocked works to look at */
void after_resolve(void);			/* release or fail them */
void after_set_text(struct mwork *w, const char *text);	/* restore */
void after_set(struct mwork *w, GPtrArray *deps);	/* takes deps; NULL: none */

/* work.c: w ended (a run, or failed without one): keep an anonymous
 * work for works/, wake who waits for idle queues */
void mwork_ended(struct mwork *w);

/* restore.c: a kept work made again (its name, owner and command), and
 * its kept fields set (a work made, or one mirrored again) */
int mwork_recreate(struct mqueue *q, const struct mwork_saved *s, struct mwork **wp);
void mwork_restore_fields(struct mwork *w, const struct mwork_saved *s);

/* cluster.c: a queueing line on a cluster's work w: marked queued (delayed
 * when delay_ns), for cpu; -EALREADY if it is queued already and not
 * modify (which changes the queued instance, whoever queued it); 1 if
 * the engine here holds it (claimed, not started): the engine answers.
 * Model lock held. */
int cluster_queue(struct mwork *w, bool modify, uint64_t delay_ns, int cpu);
/* cluster.c: arm a wait through the database's rows: 0, or 1 if it is
 * the engine's to wait for (not a cluster's, a drain, a work held here);
 * abort it (true: its done() will not come) */
int cluster_wait_arm(struct mwait *mw);
bool cluster_wait_abort(struct mwait *mw);
void cluster_poke(void);		/* wake the claimer */
/* wait.c: a wait ended: its done() is called on the resumer */
void mwait_fire(struct mwait *mw);

/* drain.c: wake whoever waits for queues to go idle; model lock held */
void model_wake_idle(void);

#endif /* WQFS_MODEL_INTERNAL_H */
