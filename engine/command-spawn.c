// SPDX-License-Identifier: MIT
/*
 * command-spawn.c - start the child of a run.
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
 * and allocate; command-cred.c) and converts the resource limits to the
 * kernel's layout.  The child then, in this order: resets signals, sets
 * up stdio, starts a session of its own, sets the limits (while still
 * root: hard limits may go up), changes identity, changes directory, and
 * execs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "command-internal.h"

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

/* ---- the vfork child: async-signal-safe calls only --------------------- */

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

/* ---- starting ---------------------------------------------------------- */

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
int wq_command_start(struct wq_command *cmd, struct wq_command_io *io,
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
