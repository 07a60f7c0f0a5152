/* SPDX-License-Identifier: MIT */
/*
 * command-internal.h - what the files of struct wq_command share; not for
 * its users.
 *
 *   command.c		a run: descriptors, waiting, killing, reaping
 *   command-spawn.c	the vfork child and starting it
 *   command-cred.c	who the child runs as: user, groups, limits
 *   command-output.c	the kept output: the ring and reading the pipe
 *
 * Locking: cmd->lock guards the fields marked "lock" in struct wq_command;
 * it is never held across a blocking call, and no other lock is taken
 * under it.  Everything else of a run belongs to the runner thread.
 */
#ifndef WQ_COMMAND_INTERNAL_H
#define WQ_COMMAND_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "command.h"

#define WQ_COMMAND_CHUNK	(64 * 1024)	/* bytes per read() of output */

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

/* ---- command-spawn.c --------------------------------------------------- */

int wq_command_start(struct wq_command *cmd, struct wq_command_io *io,
		     const struct wq_cred *cred);

/* ---- command-cred.c ---------------------------------------------------- */

int wq_command_identity(struct wq_command *cmd, struct wq_cred *now,
			gid_t **groups, const struct wq_cred **cred);

/* ---- command-output.c -------------------------------------------------- */

int wq_command_ring_reset(struct wq_command *cmd);
__attribute__((format(printf, 2, 3)))
void wq_command_say(struct wq_command *cmd, const char *fmt, ...);
const char *wq_command_strerror(int err);
bool wq_command_read_some(struct wq_command *cmd, struct wq_command_io *io);
void wq_command_drain(struct wq_command *cmd, struct wq_command_io *io);

#endif /* WQ_COMMAND_INTERNAL_H */
