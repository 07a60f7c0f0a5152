/* SPDX-License-Identifier: MIT */
/*
 * subcache.c - the submitter of an opener, without re-reading what cannot
 * have changed: a shell's thousandth `echo cmd > submit` shares the
 * submitter of its first.
 *
 * What a process may change between two opens is read afresh at every
 * open: its credentials (the request's), its working directory (`cd`)
 * and its limits (setrlimit).  Not its supplementary groups: a work runs
 * with the groups its user has when it runs (as at(1); engine's
 * current_groups), so the opener's would decide nothing.  Only its
 * environment is kept: /proc/PID/environ is the environment the process
 * image started with, and an execve(2) (the one way to start another)
 * moves it, so it is kept for a process image, known by its pid, start
 * time and the place of its environment (proc_ident()).  A process whose
 * image we cannot tell is read in full every time.  When everything read
 * afresh equals the kept submitter's, that submitter is shared (the works
 * of one shell hold one); otherwise a new one copies its environment.
 *
 * The table holds a reference on the latest submitter of at most
 * SUBCACHE_MAX processes; past that it starts again empty.  It keeps each
 * process's /proc/PID/stat open too: opening it costs as much as reading
 * it (a path walk in /proc).  The file of a process that is gone fails
 * its read, and is opened again for whoever has the pid then.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define SUBCACHE_MAX	64

struct subcache_entry {
	int refs;			/* subcache_mu: the table's, the capture's */
	bool busy;			/* subcache_mu: a capture reads its file */
	bool known;			/* subcache_mu: id and sub are set */
	struct proc_ident id;		/* subcache_mu */
	struct submitter *sub;		/* subcache_mu: ref, or NULL */
	struct cpu_reader stat;		/* the busy capture's: /proc/PID/stat */
};

static pthread_mutex_t subcache_mu = PTHREAD_MUTEX_INITIALIZER;	/* a leaf */
static GHashTable *subcache;	/* subcache_mu: pid -> struct subcache_entry */

/* subcache_mu held */
static void entry_unref(gpointer p)
{
	struct subcache_entry *e = p;
	if (--e->refs > 0)
		return;
	submitter_unref(e->sub);
	proc_cpu_close(&e->stat);
	g_free(e);
}

/* pid's entry, made if there is none, for this capture alone (busy); or
 * NULL if another capture has it. */
static struct subcache_entry *entry_take(pid_t pid)
{
	pthread_mutex_lock(&subcache_mu);
	if (!subcache)
		subcache = g_hash_table_new_full(NULL, NULL, NULL, entry_unref);
	struct subcache_entry *e = g_hash_table_lookup(subcache, GINT_TO_POINTER(pid));
	if (!e) {
		if (g_hash_table_size(subcache) >= SUBCACHE_MAX)
			g_hash_table_remove_all(subcache);
		e = g_new0(struct subcache_entry, 1);
		*e = (struct subcache_entry){ .refs = 1, .stat = CPU_READER_INIT };
		g_hash_table_insert(subcache, GINT_TO_POINTER(pid), e);
	}
	if (e->busy) {
		e = NULL;
	} else {
		e->busy = true;
		e->refs++;
	}
	pthread_mutex_unlock(&subcache_mu);
	return e;
}

static void entry_give_back(struct subcache_entry *e)
{
	pthread_mutex_lock(&subcache_mu);
	e->busy = false;
	entry_unref(e);
	pthread_mutex_unlock(&subcache_mu);
}

/* The submitter e keeps for process image id (a reference), or NULL. */
static struct submitter *entry_get(struct subcache_entry *e, const struct proc_ident *id)
{
	struct submitter *sub = NULL;
	pthread_mutex_lock(&subcache_mu);
	if (e->known && memcmp(&e->id, id, sizeof *id) == 0)
		sub = submitter_ref(e->sub);
	pthread_mutex_unlock(&subcache_mu);
	return sub;
}

static void entry_put(struct subcache_entry *e, const struct proc_ident *id,
		      struct submitter *sub)
{
	pthread_mutex_lock(&subcache_mu);
	submitter_unref(e->sub);
	e->sub = submitter_ref(sub);
	e->id = *id;
	e->known = true;
	pthread_mutex_unlock(&subcache_mu);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_limits(const struct rlimit *a, const struct rlimit *b)
{
	return a == b || (a && b && memcmp(a, b, sizeof *a * RLIM_NLIMITS) == 0);
}

/* Whether c is what fresh says (fresh: no environment yet; neither has
 * groups). */
static bool subcache_same(const struct submitter *c, const struct submitter *fresh)
{
	return c->uid == fresh->uid && c->gid == fresh->gid &&
	       same_str(c->cwd, fresh->cwd) && same_limits(c->limits, fresh->limits);
}

/* c (with its credentials) completed for process image id of pid: the
 * submitter e keeps if nothing differs, else c, kept in e (NULL: none). */
static struct submitter *share_or_keep(struct subcache_entry *e, pid_t pid,
				       const struct proc_ident *id, struct submitter *c)
{
	c->cwd = submitter_read_cwd(pid);
	c->limits = submitter_read_limits(pid);
	struct submitter *kept = e ? entry_get(e, id) : NULL;
	if (kept && subcache_same(kept, c)) {
		submitter_unref(c);
		return kept;
	}
	c->env = kept ? g_strdupv(kept->env) : submitter_read_env(pid);
	submitter_unref(kept);
	if (e)
		entry_put(e, id, c);
	return c;
}

struct submitter *subcache_capture(uid_t uid, gid_t gid, pid_t pid, struct cpu_reader *cpu)
{
	struct subcache_entry *e = entry_take(pid);
	struct cpu_reader mine = CPU_READER_INIT, *stat = e ? &e->stat : &mine;
	struct submitter *c = submitter_new(uid, gid, pid, NULL, 0);
	struct proc_ident id;
	int r = proc_ident(pid, &id, stat);
	if (r == 0 || r == -EPERM)	/* the CPU is there: the file of the opener */
		*cpu = (struct cpu_reader){ .fd = -1, .pid = pid, .cpu = stat->cpu,
					    .read_ns = stat->read_ns };
	if (r < 0)
		submitter_read_process(c);
	else
		c = share_or_keep(e, pid, &id, c);
	proc_cpu_close(&mine);
	if (e)
		entry_give_back(e);
	return c;
}

void subcache_fini(void)
{
	pthread_mutex_lock(&subcache_mu);
	g_clear_pointer(&subcache, g_hash_table_destroy);
	pthread_mutex_unlock(&subcache_mu);
}
