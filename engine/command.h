/* SPDX-License-Identifier: MIT */
/*
 * command.h - run one work's command line as its submitter.
 *
 * This module owns the child process of one run: it starts `/bin/sh -c
 * CMDLINE` with vfork+exec (never fork of the daemon), with the given
 * environment, working directory and, when the daemon is root, the
 * submitter's uid, gid and supplementary groups (dropped in the child with
 * raw per-process syscalls before exec).  stdout and stderr share one pipe
 * whose last output_limit bytes are kept.  The caller's thread waits for
 * its own child only (a pidfd; no SIGCHLD handler, no waitpid(-1)), so it
 * can run inside any worker.
 *
 * Session: every run leads a session of its own (setsid()), hence also its
 * own process group (kill(-pid) reaches all it started), and has no
 * controlling terminal: a work can never reach the daemon's terminal
 * (TIOCSTI, /dev/tty), nor do that terminal's signals reach the work.
 * Its process group is orphaned (its parent is in another session), so
 * the kernel ignores SIGTSTP, SIGTTIN and SIGTTOU for it; SIGSTOP works.
 *
 * Limits: with cred->rlimits the run gets those resource limits (typically
 * the submitter's, from wq_command_read_limits()), set in the child before
 * the identity change, so that a root daemon may also raise hard limits
 * above its own.  A hard limit it may not raise (no CAP_SYS_RESOURCE, or
 * past fs.nr_open) is cut to the daemon's: less than asked, never more.
 * Without rlimits the run inherits the daemon's limits.
 *
 * Groups: with cred->current_groups the supplementary groups are looked up
 * when the run starts, not taken from cred->groups, as at(1) does: a
 * delayed work runs with the groups its user has now, and not at all once
 * the user was deleted.
 *
 * Thread safety: wq_command_run() is called by one thread (the worker);
 * wq_command_kill() and wq_command_output() may be called from any other
 * thread at any time while the struct is alive.
 */
#ifndef WQ_COMMAND_H
#define WQ_COMMAND_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/*
 * Who a run runs as.  Fields left zero/NULL keep the defaults: groups as
 * given, the daemon's resource limits.
 */
struct wq_cred {
	uid_t uid;
	gid_t gid;			/* kept if the user is still in it */
	const gid_t *groups;		/* used unless current_groups */
	size_t ngroups;
	/*
	 * When the identity changes, look uid up at run time: groups are
	 * the user's groups now (getgrouplist()), gid falls back to the
	 * user's primary group when the user left it, and a uid without a
	 * passwd entry does not run (-ENOENT).
	 */
	bool current_groups;
	/* NULL: the daemon's limits; else RLIM_NLIMITS entries to apply */
	const struct rlimit *rlimits;
};

/* wq_command_kill()'s time from SIGTERM to SIGKILL when kill_grace_ms is 0. */
#define WQ_KILL_GRACE_MS	2000u

struct wq_command {
	/* in: set by the caller before wq_command_run(), not changed during */
	const char *cmdline;		/* run as /bin/sh -c cmdline */
	char *const *envp;		/* NULL-terminated; NULL: empty env */
	const char *cwd;		/* NULL: the daemon's; unusable: exit 127 */
	const struct wq_cred *cred;	/* NULL: run as the daemon */
	size_t output_limit;		/* bytes of output kept (the last ones) */
	unsigned int kill_grace_ms;	/* SIGTERM to SIGKILL; 0: the default */
	/* called on the runner thread, no lock held, each time output was
	 * kept (NULL: nobody asks) */
	void (*output_notify)(void *data);
	void *output_data;

	/* out: valid after wq_command_run() returned 0 */
	pid_t pid;
	int wait_status;		/* as from waitpid() */
	int exit_code;			/* exit status, or 128 + signal */
	uint64_t cpu_ns;		/* user + system time of the child */

	/* private */
	pthread_mutex_t lock;
	char *output;			/* lock: ring of output_size bytes */
	size_t output_size;		/* lock: output_limit of the last run */
	size_t output_head;		/* lock: next byte to write in the ring */
	uint64_t output_total;		/* lock: bytes the child wrote, ever */
	bool kill_requested;		/* lock: until wq_command_run() returns */
	pid_t child;			/* lock: started, not reaped; else 0 */
	int wakefd;			/* lock: eventfd waking the runner, or -1 */
};

/* Zero cmd's private part; call once before the first run. */
void wq_command_init(struct wq_command *cmd);
/* Free the output buffer.  cmd must not be running. */
void wq_command_destroy(struct wq_command *cmd);

/*
 * wq_command_run - start the command and wait for it to exit (not for
 * grandchildren that keep the pipe open).  Output from an earlier run is
 * discarded at start.  Returns 0 when the child ran (its fate is in
 * exit_code), or -errno when it could not be started; -EPERM when cred
 * names another user and the daemon may not switch to it; -ENOENT when
 * cred->current_groups and the user no longer exists.  When the user
 * lookup or the child refused the start, the reason is in the kept output
 * as one "wqfs: ..." line.
 */
int wq_command_run(struct wq_command *cmd);

/*
 * wq_command_kill - ask a running command to stop: SIGTERM to its process
 * group now, SIGKILL after kill_grace_ms.  A no-op when nothing runs; a
 * kill requested before the child started stops it as soon as it has.
 */
void wq_command_kill(struct wq_command *cmd);

/*
 * wq_command_output - copy the output kept so far (of the current or the
 * latest run) into buf, oldest byte first, and return its length.  With
 * buf NULL returns the length only.  *total, if not NULL, gets the number
 * of bytes written in all (more than kept when output was cut).
 */
size_t wq_command_output(struct wq_command *cmd, char *buf, size_t len,
			 uint64_t *total);

/*
 * wq_command_output_at - copy up to len bytes of the current or latest
 * run's output from offset off of all it wrote (0 is its first byte) into
 * buf, and return how many.  *start gets the offset of the oldest byte
 * still kept, *total the number written in all; nothing is copied when
 * off is below *start or at or past *total.
 */
size_t wq_command_output_at(struct wq_command *cmd, uint64_t off, char *buf,
			    size_t len, uint64_t *start, uint64_t *total);

/*
 * wq_command_clear_output - forget the kept output, as a new run starts.
 * cmd must not be running.
 */
void wq_command_clear_output(struct wq_command *cmd);

/*
 * wq_command_set_output - keep data as the output of the latest run (a
 * run restored from a durable store).  cmd must not be running; 0 or
 * -ENOMEM.
 */
int wq_command_set_output(struct wq_command *cmd, const char *data, size_t len);

/*
 * wq_command_pid - the pid of the running child (its process group), or 0
 * when none runs (not started yet, or exited and reaped).  Thread-safe.
 */
pid_t wq_command_pid(struct wq_command *cmd);

/*
 * wq_command_read_limits - read the resource limits of process pid (for
 * struct wq_cred.rlimits), indexed by RLIMIT_*.  Returns 0 or -errno
 * (-ESRCH: gone, -EPERM: another user's and the daemon is not root).  The
 * caller makes sure pid is still the process it means (pids are reused).
 */
int wq_command_read_limits(pid_t pid, struct rlimit out[RLIM_NLIMITS]);

/* True when the daemon can run works as other users (it is root). */
bool wq_command_can_switch_user(void);

#endif /* WQ_COMMAND_H */
