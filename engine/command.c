// SPDX-License-Identifier: MIT
/*
 * command.c - run one work's command line as its submitter.
 *
 * The child is started with vfork()+execve(): the daemon is multithreaded
 * and may be large, so it is never fork()ed, and posix_spawn() cannot
 * switch users.  The vfork child shares the daemon's memory, so it only
 * makes async-signal-safe calls, changes its identity with raw syscalls
 * (glibc's setuid() family would broadcast to the daemon's threads) and
 * reports a failure to start through one shared int.
 *
 * Before vfork() the parent does all that is not async-signal-safe: it
 * looks the user up when the groups are to be current (NSS may take locks
 * and allocate) and converts the resource limits to the kernel's layout.
 * The child then, in this order: resets signals, sets up stdio, starts a
 * session of its own, sets the limits (while still root: hard limits may
 * go up), changes identity, changes directory, and execs.
 *
 * The runner thread then waits for its own child only: poll() on the
 * output pipe, a pidfd of the child and an eventfd that wq_command_kill()
 * uses to wake it.  Once the child exited it is reaped with wait4() on its
 * pid, what it left in the pipe is read, and the run ends even if
 * grandchildren still hold the pipe open.
 */
#include "command.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* 32-bit ABIs keep the 16-bit id syscalls under the plain names. */
#ifdef SYS_setgroups32
#define WQ_COMMAND_SYS_SETGROUPS SYS_setgroups32
#define WQ_COMMAND_SYS_SETRESGID SYS_setresgid32
#define WQ_COMMAND_SYS_SETRESUID SYS_setresuid32
#else
#define WQ_COMMAND_SYS_SETGROUPS SYS_setgroups
#define WQ_COMMAND_SYS_SETRESGID SYS_setresgid
#define WQ_COMMAND_SYS_SETRESUID SYS_setresuid
#endif

#define WQ_COMMAND_SHELL	"/bin/sh"
#define WQ_COMMAND_CHUNK	(64 * 1024)	/* bytes per read() of output */
#define WQ_COMMAND_BURST	16		/* read()s between two poll()s */
#define WQ_COMMAND_GRACE_MS	2000u
#define WQ_COMMAND_PW_BUF_MAX	(1024 * 1024)	/* getpwuid_r() buffer cap */
#define WQ_COMMAND_GROUPS_MAX	65536		/* the kernel's NGROUPS_MAX */

/* The kernel's struct rlimit64, as SYS_prlimit64 takes it. */
struct wq_command_rlimit64 {
	uint64_t cur;
	uint64_t max;
};

/* What the vfork child reads; filled in before vfork(). */
struct wq_command_child {
	const char *argv[4];
	char *const *envp;
	const char *cwd;		/* NULL: stay in the daemon's */
	const struct wq_cred *cred;	/* NULL: keep the daemon's identity */
	bool set_limits;		/* else keep the daemon's limits */
	struct wq_command_rlimit64 limits[RLIM_NLIMITS];
	int nullfd;			/* becomes stdin */
	int outfd;			/* becomes stdout and stderr */
	volatile int err;		/* set by the child: errno of a failure */
};

/* The runner's descriptors and buffer for one run. */
struct wq_command_io {
	int rfd;			/* output pipe, read end, O_NONBLOCK */
	int wfd;			/* output pipe, write end (the child's) */
	int nullfd;			/* /dev/null for the child's stdin */
	int wakefd;			/* eventfd: wq_command_kill() wakes us */
	int pidfd;			/* the child, once started */
	pid_t pid;
	char *buf;			/* WQ_COMMAND_CHUNK bytes */
};

/* ---- the vfork child: async-signal-safe calls only ------------------- */

static char *const wq_command_empty_env[] = { NULL };

/* Print "wqfs: WHAT ARG: strerror(err)" to the output pipe. */
static void wq_command_child_say(const char *what, const char *arg, int err)
{
	const char *msg = strerrordesc_np(err);
	struct iovec iov[] = {
		{ (void *)"wqfs: ", 6 },
		{ (void *)what, strlen(what) },
		{ (void *)" ", arg ? 1 : 0 },
		{ (void *)arg, arg ? strlen(arg) : 0 },
		{ (void *)": ", 2 },
		{ (void *)msg, msg ? strlen(msg) : 0 },
		{ (void *)"\n", 1 },
	};

	(void)!writev(STDERR_FILENO, iov, sizeof(iov) / sizeof(iov[0]));
}

/* Say why, tell the parent the run could not start, and exit. */
static _Noreturn void wq_command_child_fail(struct wq_command_child *c,
					    const char *what, int err)
{
	wq_command_child_say(what, NULL, err);
	c->err = err;
	_exit(127);
}

/* Default dispositions for all (the daemon ignores SIGPIPE, for one). */
static void wq_command_child_signals(void)
{
	struct sigaction sa;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);	/* EINVAL for some: fine */
}

/* Move fd above 2, so dup2() onto 0..2 cannot hit it; CLOEXEC stays. */
static int wq_command_child_high(int fd)
{
	return fd > STDERR_FILENO ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static int wq_command_child_fds(struct wq_command_child *c)
{
	int in = wq_command_child_high(c->nullfd);
	int out = wq_command_child_high(c->outfd);

	if (in < 0 || out < 0)
		return -1;
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(out, STDERR_FILENO) < 0)
		return -1;
	/* Every other fd goes at exec, even ones opened without CLOEXEC. */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	return 0;
}

/* Give the child its own session: no controlling terminal, own group. */
static void wq_command_child_session(struct wq_command_child *c)
{
	if (setsid() < 0)
		wq_command_child_fail(c, "setsid", errno);
}

/*
 * Set one limit with raw prlimit64 (glibc's setrlimit() is not on the
 * async-signal-safe list).  A hard limit we may not raise (no
 * CAP_SYS_RESOURCE, or past fs.nr_open) is cut to ours: the run may get
 * less than asked, never more.
 */
static int wq_command_child_limit(int res,
				  const struct wq_command_rlimit64 *want)
{
	struct wq_command_rlimit64 lim = *want, own;

	if (!syscall(SYS_prlimit64, 0, res, &lim, NULL))
		return 0;
	if (errno != EPERM || syscall(SYS_prlimit64, 0, res, NULL, &own))
		return -1;
	if (lim.max <= own.max)
		return -1;			/* not a raise: errno is EPERM */
	lim.max = own.max;
	if (lim.cur > lim.max)
		lim.cur = lim.max;
	return syscall(SYS_prlimit64, 0, res, &lim, NULL) ? -1 : 0;
}

static void wq_command_child_limits(struct wq_command_child *c)
{
	int res;

	for (res = 0; res < RLIM_NLIMITS; res++)
		if (wq_command_child_limit(res, &c->limits[res]))
			wq_command_child_fail(c, "setrlimit", errno);
}

static void wq_command_child_identity(struct wq_command_child *c)
{
	const struct wq_cred *cred = c->cred;

	if (syscall(WQ_COMMAND_SYS_SETGROUPS, cred->ngroups, cred->groups))
		wq_command_child_fail(c, "setgroups", errno);
	if (syscall(WQ_COMMAND_SYS_SETRESGID, cred->gid, cred->gid, cred->gid))
		wq_command_child_fail(c, "setresgid", errno);
	if (syscall(WQ_COMMAND_SYS_SETRESUID, cred->uid, cred->uid, cred->uid))
		wq_command_child_fail(c, "setresuid", errno);
}

static _Noreturn void wq_command_child(struct wq_command_child *c)
{
	sigset_t none;

	wq_command_child_signals();
	if (wq_command_child_fds(c))
		wq_command_child_fail(c, "stdio", errno);
	/* From here on failures are told through the pipe. */
	wq_command_child_session(c);
	/* Before the identity change: raising a hard limit needs privilege. */
	if (c->set_limits)
		wq_command_child_limits(c);
	if (c->cred)
		wq_command_child_identity(c);
	/* After the identity change: cd is checked as the user. */
	if (c->cwd && chdir(c->cwd)) {
		wq_command_child_say("cd", c->cwd, errno);
		_exit(127);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(c->argv[0], (char *const *)c->argv, c->envp);
	wq_command_child_fail(c, c->argv[0], errno);
}

/* Kept tiny: the child borrows this frame until it execs or exits. */
static __attribute__((noinline)) pid_t
wq_command_vfork(struct wq_command_child *c)
{
	pid_t pid = vfork();

	if (pid == 0)
		wq_command_child(c);
	return pid;
}

/* ---- output ring ----------------------------------------------------- */

/* Append n bytes, keeping the last output_size.  Called with cmd->lock. */
static void wq_command_ring_put(struct wq_command *cmd, const char *data,
				size_t n)
{
	size_t size = cmd->output_size;
	size_t first;

	cmd->output_total += n;
	if (!size)
		return;
	if (n >= size) {
		memcpy(cmd->output, data + n - size, size);
		cmd->output_head = 0;
		return;
	}
	first = size - cmd->output_head;
	if (first > n)
		first = n;
	memcpy(cmd->output + cmd->output_head, data, first);
	memcpy(cmd->output, data + first, n - first);
	cmd->output_head = (cmd->output_head + n) % size;
}

/* Size the ring to output_limit (allocated once, reused) and empty it. */
static int wq_command_ring_reset(struct wq_command *cmd)
{
	size_t size = cmd->output_limit;
	char *fresh = NULL, *old = NULL;

	if (size != cmd->output_size && size) {
		fresh = malloc(size);
		if (!fresh)
			return -ENOMEM;
	}
	pthread_mutex_lock(&cmd->lock);
	if (size != cmd->output_size) {
		old = cmd->output;
		cmd->output = fresh;
		cmd->output_size = size;
	}
	cmd->output_head = 0;
	cmd->output_total = 0;
	pthread_mutex_unlock(&cmd->lock);
	free(old);
	return 0;
}

/* Put one line, "wqfs: " and fmt, into the kept output. */
static __attribute__((format(printf, 2, 3))) void
wq_command_say(struct wq_command *cmd, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;		/* cut, without the newline */
	pthread_mutex_lock(&cmd->lock);
	wq_command_ring_put(cmd, "wqfs: ", 6);
	wq_command_ring_put(cmd, line, (size_t)n);
	pthread_mutex_unlock(&cmd->lock);
}

static const char *wq_command_strerror(int err)
{
	const char *msg = strerrordesc_np(err);

	return msg ? msg : "Unknown error";
}

/* ---- the user, looked up in the parent when the run starts ----------- */

/*
 * Look uid up in passwd: 0 with *pw filled (its strings in *buf, to be
 * freed), -ENOENT when uid has no entry, else -errno of the lookup.
 */
static int wq_command_getpw(uid_t uid, struct passwd *pw, char **buf)
{
	struct passwd *found = NULL;
	size_t size = 1024;
	int err;

	for (;;) {
		*buf = malloc(size);
		if (!*buf)
			return -ENOMEM;
		err = getpwuid_r(uid, pw, *buf, size, &found);
		if (found || err != ERANGE || size >= WQ_COMMAND_PW_BUF_MAX)
			break;
		free(*buf);
		size *= 2;
	}
	if (found)
		return 0;
	free(*buf);
	*buf = NULL;
	/* Not found is 0; some NSS modules say ENOENT or ESRCH. */
	if (!err || err == ENOENT || err == ESRCH)
		return -ENOENT;
	return -err;
}

/* The groups of user name now, its primary gid included; malloc()ed. */
static int wq_command_getgroups(const char *name, gid_t gid, gid_t **groups,
				size_t *ngroups)
{
	gid_t *list = NULL, *grown;
	int size = 32, n;

	for (;;) {
		grown = realloc(list, (size_t)size * sizeof(*list));
		if (!grown) {
			free(list);
			return -ENOMEM;
		}
		list = grown;
		n = size;
		if (getgrouplist(name, gid, list, &n) >= 0)
			break;
		if (size >= WQ_COMMAND_GROUPS_MAX) {
			free(list);
			return -EINVAL;		/* what setgroups() would say */
		}
		/* n is the size it asks for; grow anyway if it did not. */
		size = n > size ? n : size * 2;
		if (size > WQ_COMMAND_GROUPS_MAX)
			size = WQ_COMMAND_GROUPS_MAX;
	}
	*groups = list;
	*ngroups = (size_t)n;
	return 0;
}

/* cred->gid while the user is still in it, else their primary group. */
static gid_t wq_command_pick_gid(const struct wq_cred *cred, gid_t pw_gid,
				 const gid_t *groups, size_t ngroups)
{
	size_t i;

	for (i = 0; i < ngroups; i++)
		if (groups[i] == cred->gid)
			return cred->gid;
	return pw_gid;
}

/*
 * *now = cmd->cred as its user is now: current groups and a gid they still
 * have.  *groups is the array now points to, to be freed after the run.
 * A user who is gone, or who cannot be looked up, does not run: -errno,
 * and a line in the output says why.
 */
static int wq_command_current_cred(struct wq_command *cmd,
				   struct wq_cred *now, gid_t **groups)
{
	const struct wq_cred *cred = cmd->cred;
	unsigned int uid = cred->uid;
	struct passwd pw;
	char *buf;
	size_t n;
	int err;

	err = wq_command_getpw(cred->uid, &pw, &buf);
	if (err == -ENOENT) {
		wq_command_say(cmd, "user %u no longer exists; "
			       "the work does not run\n", uid);
		return err;
	}
	if (err) {
		wq_command_say(cmd, "looking up user %u: %s; the work does not "
			       "run\n", uid, wq_command_strerror(-err));
		return err;
	}
	err = wq_command_getgroups(pw.pw_name, pw.pw_gid, groups, &n);
	if (err) {
		wq_command_say(cmd, "groups of user %u: %s; the work does not "
			       "run\n", uid, wq_command_strerror(-err));
	} else {
		*now = *cred;
		now->gid = wq_command_pick_gid(cred, pw.pw_gid, *groups, n);
		now->groups = *groups;
		now->ngroups = n;
	}
	free(buf);
	return err;
}

/* ---- descriptors of a run -------------------------------------------- */

static void wq_command_io_close(struct wq_command_io *io)
{
	free(io->buf);
	if (io->pidfd >= 0)
		close(io->pidfd);
	if (io->wakefd >= 0)
		close(io->wakefd);
	if (io->nullfd >= 0)
		close(io->nullfd);
	if (io->wfd >= 0)
		close(io->wfd);
	if (io->rfd >= 0)
		close(io->rfd);
}

static int wq_command_io_open(struct wq_command_io *io)
{
	int fds[2], err;

	*io = (struct wq_command_io){ .rfd = -1, .wfd = -1, .nullfd = -1,
				      .wakefd = -1, .pidfd = -1 };
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	io->rfd = fds[0];
	io->wfd = fds[1];
	/* Only our end: the child's stdout stays blocking. */
	if (fcntl(io->rfd, F_SETFL, O_NONBLOCK))
		goto fail;
	io->nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (io->nullfd < 0)
		goto fail;
	io->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->wakefd < 0)
		goto fail;
	io->buf = malloc(WQ_COMMAND_CHUNK);
	if (!io->buf)
		goto fail;			/* errno is ENOMEM */
	return 0;
fail:
	err = -errno;
	wq_command_io_close(io);
	return err;
}

/* Read one chunk of output; returns read()'s result. */
static ssize_t wq_command_read(struct wq_command *cmd, struct wq_command_io *io,
			       size_t max)
{
	ssize_t n;

	do
		n = read(io->rfd, io->buf, max);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		pthread_mutex_lock(&cmd->lock);
		wq_command_ring_put(cmd, io->buf, (size_t)n);
		pthread_mutex_unlock(&cmd->lock);
	}
	return n;
}

/*
 * Read while the pipe keeps a writer busy, up to a bound so that the exit
 * and kill requests are still looked at.  False at end of file.
 */
static bool wq_command_read_some(struct wq_command *cmd,
				 struct wq_command_io *io)
{
	ssize_t n;
	int i;

	for (i = 0; i < WQ_COMMAND_BURST; i++) {
		n = wq_command_read(cmd, io, WQ_COMMAND_CHUNK);
		if (n == 0)
			return false;
		if (n < WQ_COMMAND_CHUNK)
			break;		/* empty now, or EAGAIN */
	}
	return true;
}

/* The child is gone: take what it left in the pipe, no more. */
static void wq_command_drain(struct wq_command *cmd, struct wq_command_io *io)
{
	int left = 0;
	ssize_t n;

	if (ioctl(io->rfd, FIONREAD, &left) < 0)
		return;
	while (left > 0) {
		n = wq_command_read(cmd, io, left < WQ_COMMAND_CHUNK ?
					     (size_t)left : WQ_COMMAND_CHUNK);
		if (n <= 0)
			return;
		left -= (int)n;
	}
}

/* ---- starting -------------------------------------------------------- */

/* Whether cred asks for another identity; -EPERM if we may not switch. */
static int wq_command_check_cred(const struct wq_cred *cred, bool *change)
{
	*change = false;
	if (!cred || (cred->uid == geteuid() && cred->gid == getegid()))
		return 0;
	if (!wq_command_can_switch_user())
		return -EPERM;
	*change = true;
	return 0;
}

/*
 * The identity for the child: *cred NULL to keep the daemon's, else
 * cmd->cred or, when its groups are to be current, *now (its groups in
 * *groups, freed by the caller).  -EPERM if we may not switch.
 */
static int wq_command_identity(struct wq_command *cmd, struct wq_cred *now,
			       gid_t **groups, const struct wq_cred **cred)
{
	bool change;
	int err = wq_command_check_cred(cmd->cred, &change);

	*cred = NULL;
	if (err || !change)
		return err;
	if (!cmd->cred->current_groups) {
		*cred = cmd->cred;
		return 0;
	}
	err = wq_command_current_cred(cmd, now, groups);
	if (!err)
		*cred = now;
	return err;
}

/* RLIM_INFINITY is all ones in any width; the kernel's is 64 bits wide. */
static uint64_t wq_command_rlim64(rlim_t v)
{
	return v == RLIM_INFINITY ? UINT64_MAX : (uint64_t)v;
}

/* Hand rlimits (NULL: none) to the child in the kernel's layout. */
static void wq_command_set_limits(struct wq_command_child *c,
				  const struct rlimit *rlimits)
{
	int res;

	if (!rlimits)
		return;
	c->set_limits = true;
	for (res = 0; res < RLIM_NLIMITS; res++) {
		c->limits[res].cur = wq_command_rlim64(rlimits[res].rlim_cur);
		c->limits[res].max = wq_command_rlim64(rlimits[res].rlim_max);
	}
}

/* Reap a child that failed before exec (it has exited or is exiting). */
static void wq_command_reap_failed(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Let wq_command_kill() see the child; honour a kill asked for earlier. */
static void wq_command_publish(struct wq_command *cmd, struct wq_command_io *io)
{
	pthread_mutex_lock(&cmd->lock);
	cmd->pid = io->pid;
	cmd->child = io->pid;
	cmd->wakefd = io->wakefd;
	if (cmd->kill_requested)
		kill(-io->pid, SIGTERM);
	pthread_mutex_unlock(&cmd->lock);
}

/* Start the child as cred (NULL: as the daemon); -errno if it did not. */
static int wq_command_start(struct wq_command *cmd, struct wq_command_io *io,
			    const struct wq_cred *cred)
{
	struct wq_command_child c = {
		.argv = { WQ_COMMAND_SHELL, "-c", cmd->cmdline, NULL },
		.envp = cmd->envp ? cmd->envp : wq_command_empty_env,
		.cwd = cmd->cwd,
		.cred = cred,
		.nullfd = io->nullfd,
		.outfd = io->wfd,
	};
	sigset_t all, old;
	int err = 0;

	/* Given limits apply even when the identity stays: the run's own. */
	wq_command_set_limits(&c, cmd->cred ? cmd->cred->rlimits : NULL);
	/* No handler may run in the child while it shares our memory. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	io->pid = wq_command_vfork(&c);
	if (io->pid < 0)
		err = -errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(io->wfd);
	io->wfd = -1;
	if (err)
		return err;
	if (c.err) {
		wq_command_reap_failed(io->pid);
		wq_command_drain(cmd, io);	/* keep its "wqfs: ..." line */
		return -c.err;
	}
	io->pidfd = syscall(SYS_pidfd_open, io->pid, 0);
	if (io->pidfd < 0) {
		err = -errno;
		if (err != -ESRCH)	/* ESRCH: reaped already (SIG_IGN) */
			kill(-io->pid, SIGKILL);
		wq_command_reap_failed(io->pid);
		return err;
	}
	wq_command_publish(cmd, io);
	return 0;
}

/* ---- waiting --------------------------------------------------------- */

static uint64_t wq_command_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* When a kill was asked for: the time (us) to send SIGKILL, else 0. */
static uint64_t wq_command_kill_deadline(struct wq_command *cmd,
					 struct wq_command_io *io)
{
	unsigned int grace = cmd->kill_grace_ms ? cmd->kill_grace_ms :
						   WQ_COMMAND_GRACE_MS;
	bool requested;
	uint64_t efd;

	pthread_mutex_lock(&cmd->lock);
	requested = cmd->kill_requested;
	pthread_mutex_unlock(&cmd->lock);
	(void)!read(io->wakefd, &efd, sizeof(efd));
	return requested ? wq_command_now_us() + grace * 1000ull : 0;
}

/* Milliseconds until deadline (in us), rounded up; -1 for none. */
static int wq_command_poll_timeout(uint64_t deadline)
{
	uint64_t now;

	if (!deadline)
		return -1;
	now = wq_command_now_us();
	return now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
}

/* Copy output until the child exits; SIGKILL it when its grace ran out. */
static void wq_command_wait_exit(struct wq_command *cmd,
				 struct wq_command_io *io)
{
	struct pollfd pfd[3] = {
		{ .fd = io->rfd, .events = POLLIN },
		{ .fd = io->pidfd, .events = POLLIN },
		{ .fd = io->wakefd, .events = POLLIN },
	};
	uint64_t deadline = wq_command_kill_deadline(cmd, io);

	for (;;) {
		if (poll(pfd, 3, wq_command_poll_timeout(deadline)) < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot watch it any more (ENOMEM): stop it. */
			kill(-io->pid, SIGKILL);
			return;
		}
		if (pfd[0].revents && !wq_command_read_some(cmd, io))
			pfd[0].fd = -1;		/* EOF: all closed stdout */
		if (pfd[1].revents)
			return;
		if (pfd[2].revents && !deadline)
			deadline = wq_command_kill_deadline(cmd, io);
		if (deadline && wq_command_now_us() >= deadline) {
			kill(-io->pid, SIGKILL);
			deadline = 0;
			pfd[2].fd = -1;		/* nothing more to escalate */
		}
	}
}

/*
 * Reap our child, and only it, and fill in the out fields.  -ECHILD if it
 * was reaped behind our back (a daemon must not ignore SIGCHLD).
 */
static int wq_command_reap(struct wq_command *cmd, struct wq_command_io *io)
{
	struct rusage ru;
	int status = 0;
	pid_t r;

	pthread_mutex_lock(&cmd->lock);
	cmd->child = 0;			/* its pid may be reused from now on */
	pthread_mutex_unlock(&cmd->lock);
	memset(&ru, 0, sizeof(ru));
	do
		r = wait4(io->pid, &status, 0, &ru);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	cmd->wait_status = status;
	if (WIFSIGNALED(status))
		cmd->exit_code = 128 + WTERMSIG(status);
	else
		cmd->exit_code = WEXITSTATUS(status);
	cmd->cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		      1000000000u +
		      ((uint64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
	return 0;
}

/* ---- public ---------------------------------------------------------- */

void wq_command_init(struct wq_command *cmd)
{
	pthread_mutex_init(&cmd->lock, NULL);
	cmd->output = NULL;
	cmd->output_size = 0;
	cmd->output_head = 0;
	cmd->output_total = 0;
	cmd->kill_requested = false;
	cmd->child = 0;
	cmd->wakefd = -1;
}

void wq_command_destroy(struct wq_command *cmd)
{
	free(cmd->output);
	cmd->output = NULL;
	cmd->output_size = 0;
	pthread_mutex_destroy(&cmd->lock);
}

int wq_command_run(struct wq_command *cmd)
{
	const struct wq_cred *cred = NULL;
	struct wq_command_io io;
	gid_t *groups = NULL;
	struct wq_cred now;
	int err;

	if (!cmd->cmdline)
		return -EINVAL;
	err = wq_command_ring_reset(cmd);
	if (!err)
		err = wq_command_identity(cmd, &now, &groups, &cred);
	if (!err)
		err = wq_command_io_open(&io);
	if (err)
		goto out;
	err = wq_command_start(cmd, &io, cred);
	if (!err) {
		wq_command_wait_exit(cmd, &io);
		err = wq_command_reap(cmd, &io);
		wq_command_drain(cmd, &io);
	}
	pthread_mutex_lock(&cmd->lock);
	cmd->wakefd = -1;
	pthread_mutex_unlock(&cmd->lock);
	wq_command_io_close(&io);
out:
	pthread_mutex_lock(&cmd->lock);
	cmd->kill_requested = false;
	pthread_mutex_unlock(&cmd->lock);
	free(groups);
	return err;
}

void wq_command_kill(struct wq_command *cmd)
{
	pthread_mutex_lock(&cmd->lock);
	if (!cmd->kill_requested) {
		cmd->kill_requested = true;
		if (cmd->child > 0)
			kill(-cmd->child, SIGTERM);
		if (cmd->wakefd >= 0)
			eventfd_write(cmd->wakefd, 1);
	}
	pthread_mutex_unlock(&cmd->lock);
}

pid_t wq_command_pid(struct wq_command *cmd)
{
	pid_t pid;

	pthread_mutex_lock(&cmd->lock);
	pid = cmd->child;
	pthread_mutex_unlock(&cmd->lock);
	return pid;
}

size_t wq_command_output(struct wq_command *cmd, char *buf, size_t len,
			 uint64_t *total)
{
	size_t size, kept, start, first;

	pthread_mutex_lock(&cmd->lock);
	size = cmd->output_size;
	kept = cmd->output_total < size ? (size_t)cmd->output_total : size;
	if (buf && kept) {
		if (kept > len)
			kept = len;		/* the newest len bytes */
		start = (cmd->output_head + size - kept) % size;
		first = size - start < kept ? size - start : kept;
		memcpy(buf, cmd->output + start, first);
		memcpy(buf + first, cmd->output, kept - first);
	}
	if (total)
		*total = cmd->output_total;
	pthread_mutex_unlock(&cmd->lock);
	return kept;
}

int wq_command_read_limits(pid_t pid, struct rlimit out[RLIM_NLIMITS])
{
	int res;

	for (res = 0; res < RLIM_NLIMITS; res++)
		if (prlimit(pid, res, NULL, &out[res]))
			return -errno;
	return 0;
}

bool wq_command_can_switch_user(void)
{
	return geteuid() == 0;
}
