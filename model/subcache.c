/* SPDX-License-Identifier: MIT */
/*
 * subcache.c - the submitter of an opener, without re-reading what cannot
 * have changed: a shell's thousandth `echo cmd > submit` shares the
 * submitter of its first.
 *
 * What a process may change between two opens is read afresh at every
 * open: its credentials and groups (the request, the caller's), its
 * working directory (`cd`) and its limits (setrlimit).  Only its
 * environment is kept: /proc/PID/environ is the environment the process
 * image started with, and an execve(2) (the one way to start another)
 * moves it, so it is kept for a process image, known by its pid, start
 * time and the place of its environment (proc_ident()).  A process whose
 * image we cannot tell is read in full every time.  When everything read
 * afresh equals the kept submitter's, that submitter is shared (the works
 * of one shell hold one); otherwise a new one copies its environment.
 *
 * The table holds a reference on the latest submitter of at most
 * SUBCACHE_MAX processes; past that it starts again empty.
 */
#include <string.h>

#include "internal.h"

#define SUBCACHE_MAX	64

struct subcache_entry {
	struct proc_ident id;
	struct submitter *sub;		/* ref */
};

static pthread_mutex_t subcache_mu = PTHREAD_MUTEX_INITIALIZER;	/* a leaf */
static GHashTable *subcache;	/* subcache_mu: pid -> struct subcache_entry */

static void subcache_entry_free(gpointer p)
{
	struct subcache_entry *e = p;
	submitter_unref(e->sub);
	g_free(e);
}

/* The kept submitter of process image id of pid (a reference), or NULL. */
static struct submitter *subcache_get(pid_t pid, const struct proc_ident *id)
{
	struct submitter *sub = NULL;
	pthread_mutex_lock(&subcache_mu);
	struct subcache_entry *e = subcache ?
		g_hash_table_lookup(subcache, GINT_TO_POINTER(pid)) : NULL;
	if (e && memcmp(&e->id, id, sizeof *id) == 0)
		sub = submitter_ref(e->sub);
	pthread_mutex_unlock(&subcache_mu);
	return sub;
}

static void subcache_put(pid_t pid, const struct proc_ident *id, struct submitter *sub)
{
	struct subcache_entry *e = g_new(struct subcache_entry, 1);
	e->id = *id;
	e->sub = submitter_ref(sub);
	pthread_mutex_lock(&subcache_mu);
	if (!subcache)
		subcache = g_hash_table_new_full(NULL, NULL, NULL, subcache_entry_free);
	if (g_hash_table_size(subcache) >= SUBCACHE_MAX)
		g_hash_table_remove_all(subcache);
	g_hash_table_replace(subcache, GINT_TO_POINTER(pid), e);
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

/* Whether c is what fresh says (fresh: no environment yet). */
static bool subcache_same(const struct submitter *c, const struct submitter *fresh)
{
	return c->uid == fresh->uid && c->gid == fresh->gid &&
	       c->ngroups == fresh->ngroups &&
	       (c->ngroups == 0 ||
		memcmp(c->groups, fresh->groups, sizeof(gid_t) * c->ngroups) == 0) &&
	       same_str(c->cwd, fresh->cwd) && same_limits(c->limits, fresh->limits);
}

struct submitter *subcache_capture(uid_t uid, gid_t gid, pid_t pid,
				   const gid_t *groups, size_t ngroups, struct cpu_reader *cpu)
{
	struct submitter *c = submitter_new(uid, gid, pid, groups, ngroups);
	struct proc_ident id;
	if (proc_ident(pid, &id, cpu) < 0) {
		submitter_read_process(c);
		return c;
	}
	c->cwd = submitter_read_cwd(pid);
	c->limits = submitter_read_limits(pid);
	struct submitter *kept = subcache_get(pid, &id);
	if (kept && subcache_same(kept, c)) {
		submitter_unref(c);
		return kept;
	}
	c->env = kept ? g_strdupv(kept->env) : submitter_read_env(pid);
	submitter_unref(kept);
	subcache_put(pid, &id, c);
	return c;
}

void subcache_fini(void)
{
	pthread_mutex_lock(&subcache_mu);
	g_clear_pointer(&subcache, g_hash_table_destroy);
	pthread_mutex_unlock(&subcache_mu);
}
