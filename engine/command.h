/* SPDX-License-Identifier: MIT */
/*
 * command.h - run one work's command line as its submitter.
 *
 * This module owns the child process of one run: it starts `/bin/sh -c
 * CMDLINE` with vfork+exec (never fork of the daemon), in its own process
 * group, with the given environment, working directory and, when the
 * daemon is root, the submitter's uid, gid and supplementary groups
 * (dropped in the child with raw per-process syscalls before exec).
 * stdout and stderr share one pipe whose last output_limit bytes are kept.
 * The caller's thread waits for its own child only (a pidfd; no SIGCHLD
 * handler, no waitpid(-1)), so it can run inside any worker.
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
#include <sys/types.h>

struct wq_cred {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
};

struct wq_command {
	/* in: set by the caller before wq_command_run(), not changed during */
	const char *cmdline;		/* run as /bin/sh -c cmdline */
	char *const *envp;		/* NULL-terminated; NULL: empty env */
	const char *cwd;		/* NULL: the daemon's; unusable: exit 127 */
	const struct wq_cred *cred;	/* NULL: run as the daemon */
	size_t output_limit;		/* bytes of output kept (the last ones) */
	unsigned int kill_grace_ms;	/* SIGTERM to SIGKILL (0: 2000) */

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
 * names another user and the daemon may not switch to it.
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
 * wq_command_pid - the pid of the running child (its process group), or 0
 * when none runs (not started yet, or exited and reaped).  Thread-safe.
 */
pid_t wq_command_pid(struct wq_command *cmd);

/* True when the daemon can run works as other users (it is root). */
bool wq_command_can_switch_user(void);

#endif /* WQ_COMMAND_H */
