/* SPDX-License-Identifier: MIT */
/*
 * caller.c - what a request tells about the process that made it: its
 * credentials, working directory, environment and CPU (captured for the
 * works it queues), and whether it descends from one of our works (for
 * EDEADLK).  Everything is read from /proc/PID, bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wqfs.h"

#define ENVIRON_MAX	(256 * 1024)
#define ANCESTORS_MAX	64

/* Read at most max bytes of a /proc file; returns a NUL-terminated
 * buffer (g_free) and its length, or NULL. */
static char *read_proc(pid_t pid, const char *what, size_t max, size_t *len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = g_malloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap >= max)
				break;
			cap = cap * 2 > max ? max : cap * 2;
			buf = g_realloc(buf, cap + 1);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Fields of /proc/PID/stat after the command name: index 0 is field 3
 * (state), 1 is ppid, 36 is processor. */
static bool stat_fields(pid_t pid, long *ppid, int *cpu)
{
	size_t len;
	char *s = read_proc(pid, "stat", 4096, &len);
	if (!s)
		return false;
	char *p = strrchr(s, ')');
	bool ok = false;
	if (p) {
		p++;
		int idx = 0;
		char *save = NULL;
		for (char *tok = strtok_r(p, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save), idx++) {
			if (idx == 1 && ppid) {
				*ppid = strtol(tok, NULL, 10);
				ok = true;
			}
			if (idx == 36 && cpu)
				*cpu = (int)strtol(tok, NULL, 10);
		}
	}
	g_free(s);
	return ok;
}

static bool is_wq_var(const char *s)
{
	return g_str_has_prefix(s, "WQ_QUEUE=") || g_str_has_prefix(s, "WQ_WORK=") ||
	       g_str_has_prefix(s, "WQ_CPU=") || g_str_has_prefix(s, "WQ_ROOT=");
}

struct wctx *wctx_capture_creds(fuse_req_t req)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	struct wctx *c = g_new0(struct wctx, 1);
	c->refs = 1;
	c->uid = fc->uid;
	c->gid = fc->gid;
	c->pid = fc->pid;

	gid_t small[64];
	int n = fuse_req_getgroups(req, 64, small);
	if (n > 64 && n <= 65536) {
		c->groups = g_new(gid_t, (size_t)n);
		int m = fuse_req_getgroups(req, n, c->groups);
		c->ngroups = m > 0 && m <= n ? (size_t)m : 0;
	} else if (n > 0) {
		c->groups = g_memdup2(small, sizeof(gid_t) * (size_t)n);
		c->ngroups = (size_t)n;
	}
	return c;
}

bool wctx_in_group(const struct wctx *c, gid_t gid)
{
	if (c->gid == gid)
		return true;
	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return true;
	return false;
}

bool wctx_may_read(const struct wctx *c, mode_t mode, uid_t uid, gid_t gid)
{
	if (!c || c->uid == 0)
		return true;
	if (c->uid == uid)
		return mode & S_IRUSR;
	if (wctx_in_group(c, gid))
		return mode & S_IRGRP;
	return mode & S_IROTH;
}

/* One limit of a /proc/PID/limits column: a number or "unlimited". */
static rlim_t limit_value(const char *s)
{
	return strncmp(s, "unlimited", 9) == 0 ? RLIM_INFINITY :
						 (rlim_t)strtoull(s, NULL, 10);
}

/*
 * The resource limits of pid.  prlimit(2) of another user's process needs
 * CAP_SYS_RESOURCE, which a root daemon in a container may lack;
 * /proc/PID/limits is readable by all, one line per RLIMIT_* in order,
 * "%-25s %-20s %-20s %-10s".
 */
static int read_limits(pid_t pid, struct rlimit out[RLIM_NLIMITS])
{
	if (wq_command_read_limits(pid, out) == 0)
		return 0;
	size_t len;
	char *text = read_proc(pid, "limits", 8192, &len);
	if (!text)
		return -ESRCH;
	char *save = NULL, *line = strtok_r(text, "\n", &save);
	int n = 0;
	while (n < RLIM_NLIMITS && (line = strtok_r(NULL, "\n", &save))) {
		if (strlen(line) < 47)
			break;
		out[n].rlim_cur = limit_value(line + 26);
		out[n].rlim_max = limit_value(line + 47);
		n++;
	}
	g_free(text);
	return n == RLIM_NLIMITS ? 0 : -EIO;
}

struct wctx *wctx_capture(fuse_req_t req)
{
	struct wctx *c = wctx_capture_creds(req);

	char path[64], cwd[PATH_MAX];
	snprintf(path, sizeof path, "/proc/%ld/cwd", (long)c->pid);
	ssize_t l = readlink(path, cwd, sizeof cwd - 1);
	if (l > 0) {
		cwd[l] = '\0';
		c->cwd = g_strdup(cwd);
	} else {
		c->cwd = g_strdup("/");
	}

	size_t elen = 0;
	char *env = read_proc(c->pid, "environ", ENVIRON_MAX, &elen);
	GPtrArray *a = g_ptr_array_new();
	if (env) {
		for (size_t i = 0; i < elen;) {
			size_t k = strnlen(env + i, elen - i);
			if (k > 0 && memchr(env + i, '=', k) && !is_wq_var(env + i))
				g_ptr_array_add(a, g_strndup(env + i, k));
			i += k + 1;
		}
		g_free(env);
	}
	g_ptr_array_add(a, NULL);
	c->env = (char **)g_ptr_array_free(a, FALSE);

	/* the limits its works run under (a non-root daemon may not read
	 * another user's: they keep the daemon's, as they run as it) */
	c->limits = g_new(struct rlimit, RLIM_NLIMITS);
	if (read_limits(c->pid, c->limits) < 0)
		g_clear_pointer(&c->limits, g_free);
	return c;
}

/* The CPU field of a /proc/PID/stat text. */
static int stat_cpu(char *s)
{
	char *p = strrchr(s, ')');
	if (!p)
		return -1;
	int idx = -1;	/* the blank before field 3 (state) makes it index 0 */
	for (p++; *p; p++) {
		if (*p != ' ')
			continue;
		if (++idx == 36)
			return (int)strtol(p + 1, NULL, 10);
	}
	return -1;
}

int caller_cpu(pid_t pid, int *fd, pid_t *fdpid)
{
	char buf[2048];

	if (*fd >= 0 && *fdpid != pid) {
		close(*fd);
		*fd = -1;
	}
	if (*fd < 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		*fdpid = pid;
		if (*fd < 0)
			return -1;
	}
	/* a seq_file: a read at offset 0 generates the text afresh */
	ssize_t n = pread(*fd, buf, sizeof buf - 1, 0);
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return -1;
	}
	buf[n] = '\0';
	return stat_cpu(buf);
}

struct wctx *wctx_ref(struct wctx *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void wctx_unref(struct wctx *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	g_free(c->groups);
	g_free(c->limits);
	g_free(c->cwd);
	g_strfreev(c->env);
	g_free(c);
}

static void env_value(const char *env, size_t len, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i < len;) {
		size_t k = strnlen(env + i, len - i);
		if (k > klen && !memcmp(env + i, key, klen) && env[i + klen] == '=') {
			g_strlcpy(out, env + i + klen + 1, outlen);
			return;
		}
		i += k + 1;
	}
}

bool caller_work(pid_t pid, char *queue, size_t qlen, char *work, size_t wlen)
{
	pid_t self = getpid();
	long p = pid;
	for (int depth = 0; depth < ANCESTORS_MAX && p > 1; depth++) {
		long ppid = 0;
		if (!stat_fields((pid_t)p, &ppid, NULL))
			return false;
		if (ppid == self) {
			/* p is the shell of one of our works: its initial
			 * environment names the queue and the work. */
			size_t len;
			char *env = read_proc((pid_t)p, "environ", ENVIRON_MAX, &len);
			if (!env)
				return false;
			queue[0] = work[0] = '\0';
			env_value(env, len, "WQ_QUEUE", queue, qlen);
			env_value(env, len, "WQ_WORK", work, wlen);
			g_free(env);
			return queue[0] != '\0';
		}
		p = ppid;
	}
	return false;
}
