/* SPDX-License-Identifier: MIT */
/*
 * submitter.c - who queues a work: credentials, working directory,
 * environment and resource limits, captured once (when a control file is
 * opened) and shared, immutable, by every work it queues.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct submitter *submitter_new(uid_t uid, gid_t gid, pid_t pid,
				const gid_t *groups, size_t ngroups)
{
	struct submitter *c = g_new0(struct submitter, 1);
	c->refs = 1;
	c->uid = uid;
	c->gid = gid;
	c->pid = pid;
	if (ngroups) {
		c->groups = g_memdup2(groups, sizeof(gid_t) * ngroups);
		c->ngroups = ngroups;
	}
	return c;
}

static bool is_wq_var(const char *s)
{
	return g_str_has_prefix(s, "WQ_QUEUE=") || g_str_has_prefix(s, "WQ_WORK=") ||
	       g_str_has_prefix(s, "WQ_CPU=") || g_str_has_prefix(s, "WQ_ROOT=") ||
	       g_str_has_prefix(s, "WQ_NODE=");
}

/* pid's environment without our WQ_* variables, NULL-terminated. */
char **submitter_read_env(pid_t pid)
{
	size_t len = 0;
	char *env = proc_read(pid, "environ", ENVIRON_MAX, &len);
	GPtrArray *a = g_ptr_array_new();
	for (size_t i = 0; env && i < len;) {
		size_t k = strnlen(env + i, len - i);
		if (k > 0 && memchr(env + i, '=', k) && !is_wq_var(env + i))
			g_ptr_array_add(a, g_strndup(env + i, k));
		i += k + 1;
	}
	g_free(env);
	g_ptr_array_add(a, NULL);
	return (char **)g_ptr_array_free(a, FALSE);
}

char *submitter_read_cwd(pid_t pid)
{
	char path[64], cwd[PATH_MAX];
	snprintf(path, sizeof path, "/proc/%ld/cwd", (long)pid);
	ssize_t l = readlink(path, cwd, sizeof cwd - 1);
	if (l <= 0)
		return NULL;
	cwd[l] = '\0';
	return g_strdup(cwd);
}

struct rlimit *submitter_read_limits(pid_t pid)
{
	/* the limits its works run under (a non-root daemon may not read
	 * another user's: they keep the daemon's, as they run as it) */
	struct rlimit *limits = g_new(struct rlimit, RLIM_NLIMITS);
	if (proc_limits(pid, limits) < 0)
		g_clear_pointer(&limits, g_free);
	return limits;
}

void submitter_read_process(struct submitter *c)
{
	c->cwd = submitter_read_cwd(c->pid);
	c->env = submitter_read_env(c->pid);
	c->limits = submitter_read_limits(c->pid);
}

struct submitter *submitter_ref(struct submitter *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void submitter_unref(struct submitter *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	g_free(c->groups);
	g_free(c->limits);
	g_free(c->cwd);
	g_strfreev(c->env);
	g_free(c);
}

bool submitter_in_group(const struct submitter *c, gid_t gid)
{
	if (c->gid == gid)
		return true;
	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

bool submitter_may_read(const struct submitter *c, mode_t mode, uid_t uid, gid_t gid)
{
	if (!c || c->uid == 0)
		return true;
	if (c->uid == uid)
		return mode & S_IRUSR;
	if (submitter_in_group(c, gid))
		return mode & S_IRGRP;
	return mode & S_IROTH;
}
