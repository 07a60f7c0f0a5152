/* SPDX-License-Identifier: MIT */
/*
 * proc.c - what /proc tells of a process: its parent and CPU (one parser
 * of /proc/PID/stat), its resource limits, and whether it descends from
 * one of our works (for EDEADLK).  Every read is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define ANCESTORS_MAX	64

/* Fields of /proc/PID/stat after the command name: index 0 is field 3
 * (state), 1 is ppid, 36 is processor. */
#define STAT_PPID	1
#define STAT_CPU	36
#define STAT_START	19
#define STAT_ENV_START	45
#define STAT_ENV_END	46
#define STAT_TEXT_MAX	2048	/* 52 numbers and a 16-byte name fit */

char *proc_read(pid_t pid, const char *what, size_t max, size_t *len)
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

/* Field idx (see STAT_*) of a /proc/PID/stat text, or -1. */
static long stat_field(const char *s, int idx)
{
	const char *p = strrchr(s, ')');
	if (!p)
		return -1;
	int i = -1;	/* the blank before field 3 (state) makes it index 0 */
	for (p++; *p; p++) {
		if (*p != ' ')
			continue;
		if (++i == idx)
			return strtol(p + 1, NULL, 10);
	}
	return -1;
}

/* Fields idx[0] < idx[1] < ... < idx[n-1] of a /proc/PID/stat text into
 * out[]; false if the text ends before the last. */
static bool stat_fields(const char *s, const int *idx, unsigned long long *out, int n)
{
	const char *p = strrchr(s, ')');
	int i = -1, k = 0;
	for (p = p ? p + 1 : ""; *p && k < n; p++)
		if (*p == ' ' && ++i == idx[k])
			out[k++] = strtoull(p + 1, NULL, 10);
	return k == n;
}

void proc_cpu_close(struct cpu_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* pid's /proc/PID/stat read afresh into buf (NUL-terminated) through
 * r's file, opened at first use and kept; opened again when the task it
 * was of is gone (whoever has the pid now).  Its length, or -1 with the
 * file closed. */
static ssize_t stat_text(struct cpu_reader *r, pid_t pid, char *buf, size_t size)
{
	if (r->pid != pid)
		proc_cpu_close(r);
	r->pid = pid;
	for (bool fresh = r->fd < 0;; fresh = true) {
		if (r->fd < 0) {
			char path[64];
			snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
			r->fd = open(path, O_RDONLY | O_CLOEXEC);
			if (r->fd < 0)
				return -1;
		}
		/* a seq_file: a read at offset 0 generates the text afresh */
		ssize_t n = pread(r->fd, buf, size - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			return n;
		}
		proc_cpu_close(r);
		if (fresh)
			return -1;
	}
}

int proc_ident(pid_t pid, struct proc_ident *id, struct cpu_reader *r)
{
	static const int idx[] = { STAT_START, STAT_CPU, STAT_ENV_START, STAT_ENV_END };
	unsigned long long v[4];
	char buf[STAT_TEXT_MAX];
	if (stat_text(r, pid, buf, sizeof buf) < 0)
		return -ESRCH;
	if (!stat_fields(buf, idx, v, 4))
		return -EIO;
	r->cpu = (int)v[1];	/* what the first write asks, a moment later */
	r->read_ns = wq_now_ns();
	*id = (struct proc_ident){ .start = v[0], .env_start = v[2], .env_end = v[3] };
	/* without ptrace access the kernel shows 0: an exec would go unseen */
	return id->env_end ? 0 : -EPERM;
}

/* The numbers of a "Groups:" line (NUL-terminated at its end) into a. */
static void parse_groups(const char *p, GArray *a)
{
	for (char *end; a->len < PROC_GROUPS_MAX; p = end) {
		unsigned long g = strtoul(p, &end, 10);
		if (end == p)
			return;
		gid_t gid = (gid_t)g;
		g_array_append_val(a, gid);
	}
}

int proc_groups(pid_t tid, gid_t **out)
{
	char what[64];
	size_t len;
	snprintf(what, sizeof what, "task/%ld/status", (long)tid);
	/* a group is at most 11 bytes of the line */
	char *text = proc_read(tid, what, 8192 + 11 * PROC_GROUPS_MAX, &len);
	if (!text)
		return -ESRCH;
	char *p = strstr(text, "\nGroups:");
	char *eol = p ? strchr(p + 1, '\n') : NULL;
	if (!eol) {
		g_free(text);
		return -EIO;
	}
	*eol = '\0';
	GArray *a = g_array_new(FALSE, FALSE, sizeof(gid_t));
	parse_groups(p + 8, a);
	g_free(text);
	int n = (int)a->len;
	*out = (gid_t *)g_array_free(a, FALSE);
	return n;
}

static long proc_ppid(pid_t pid)
{
	size_t len;
	char *s = proc_read(pid, "stat", 4096, &len);
	long ppid = s ? stat_field(s, STAT_PPID) : -1;
	g_free(s);
	return ppid;
}

int proc_cpu(struct cpu_reader *r, pid_t pid)
{
	uint64_t now = wq_now_ns();
	char buf[STAT_TEXT_MAX];
	if (r->pid == pid && r->cpu >= 0 && now - r->read_ns < CPU_FRESH_NS)
		return r->cpu;
	r->cpu = stat_text(r, pid, buf, sizeof buf) < 0 ? -1 : (int)stat_field(buf, STAT_CPU);
	r->read_ns = now;
	return r->cpu;
}

/* One limit of a /proc/PID/limits column: a number or "unlimited". */
static rlim_t limit_value(const char *s)
{
	return strncmp(s, "unlimited", 9) == 0 ? RLIM_INFINITY :
						 (rlim_t)strtoull(s, NULL, 10);
}

/*
 * prlimit(2) of another user's process needs CAP_SYS_RESOURCE, which a
 * root daemon in a container may lack; /proc/PID/limits is readable by
 * all, one line per RLIMIT_* in order, "%-25s %-20s %-20s %-10s".
 */
int proc_limits(pid_t pid, struct rlimit out[RLIM_NLIMITS])
{
	if (wq_command_read_limits(pid, out) == 0)
		return 0;
	size_t len;
	char *text = proc_read(pid, "limits", 8192, &len);
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

bool proc_work(pid_t pid, char *queue, size_t qlen, char *work, size_t wlen)
{
	pid_t self = getpid();
	long p = pid;
	for (int depth = 0; depth < ANCESTORS_MAX && p > 1; depth++) {
		long ppid = proc_ppid((pid_t)p);
		if (ppid < 0)
			return false;
		if (ppid == self) {
			/* p is the shell of one of our works: its initial
			 * environment names the queue and the work. */
			size_t len;
			char *env = proc_read((pid_t)p, "environ", ENVIRON_MAX, &len);
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
