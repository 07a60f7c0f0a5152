// SPDX-License-Identifier: MIT
/*
 * command.c - run one work's command line as its submitter (command.h).
 *
 * A run: open the pipe and descriptors, look up who to run as
 * (command-cred.c), start the child (command-spawn.c), then wait for it.
 * The runner thread waits for its own child only: poll() on the output
 * pipe (command-output.c), a pidfd of the child and an eventfd that
 * wq_command_kill() uses to wake it.  Once the child exited it is reaped
 * with wait4() on its pid, what it left in the pipe is read, and the run
 * ends even if grandchildren still hold the pipe open.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "command-internal.h"

/* ---- descriptors of a run ---------------------------------------------- */

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

/* ---- waiting ----------------------------------------------------------- */

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
						   WQ_KILL_GRACE_MS;
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

/* ---- public ------------------------------------------------------------ */

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
