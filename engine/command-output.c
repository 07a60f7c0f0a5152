// SPDX-License-Identifier: MIT
/*
 * command-output.c - the output a run keeps: the last output_limit bytes
 * of the child's stdout and stderr, in a ring under cmd->lock, read from
 * the pipe by the runner thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "command-internal.h"

#define WQ_COMMAND_BURST	16		/* read()s between two poll()s */

/* ---- output ring ------------------------------------------------------- */

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
int wq_command_ring_reset(struct wq_command *cmd)
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
void wq_command_say(struct wq_command *cmd, const char *fmt, ...)
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

const char *wq_command_strerror(int err)
{
	const char *msg = strerrordesc_np(err);

	return msg ? msg : "Unknown error";
}

/* ---- reading the pipe -------------------------------------------------- */

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
		if (cmd->output_notify)
			cmd->output_notify(cmd->output_data);
	}
	return n;
}

/*
 * Read while the pipe keeps a writer busy, up to a bound so that the exit
 * and kill requests are still looked at.  False at end of file.
 */
bool wq_command_read_some(struct wq_command *cmd, struct wq_command_io *io)
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
void wq_command_drain(struct wq_command *cmd, struct wq_command_io *io)
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

/* ---- public ------------------------------------------------------------ */

/* Copy the n kept bytes that end back bytes before the newest one's end
 * (back >= n) into buf.  Called with cmd->lock. */
static void wq_command_ring_copy(struct wq_command *cmd, size_t back, char *buf,
				 size_t n)
{
	size_t size = cmd->output_size;
	size_t pos = (cmd->output_head + size - back) % size;
	size_t first = size - pos < n ? size - pos : n;

	memcpy(buf, cmd->output + pos, first);
	memcpy(buf + first, cmd->output, n - first);
}

size_t wq_command_output(struct wq_command *cmd, char *buf, size_t len,
			 uint64_t *total)
{
	size_t size, kept;

	pthread_mutex_lock(&cmd->lock);
	size = cmd->output_size;
	kept = cmd->output_total < size ? (size_t)cmd->output_total : size;
	if (buf && kept) {
		if (kept > len)
			kept = len;		/* the newest len bytes */
		wq_command_ring_copy(cmd, kept, buf, kept);
	}
	if (total)
		*total = cmd->output_total;
	pthread_mutex_unlock(&cmd->lock);
	return kept;
}

size_t wq_command_output_at(struct wq_command *cmd, uint64_t off, char *buf,
			    size_t len, uint64_t *start, uint64_t *total)
{
	size_t size, kept, n = 0;

	pthread_mutex_lock(&cmd->lock);
	size = cmd->output_size;
	kept = cmd->output_total < size ? (size_t)cmd->output_total : size;
	*total = cmd->output_total;
	*start = cmd->output_total - kept;
	if (off >= *start && off < *total) {
		n = *total - off < len ? (size_t)(*total - off) : len;
		wq_command_ring_copy(cmd, (size_t)(*total - off), buf, n);
	}
	pthread_mutex_unlock(&cmd->lock);
	return n;
}

void wq_command_clear_output(struct wq_command *cmd)
{
	pthread_mutex_lock(&cmd->lock);
	cmd->output_head = 0;
	cmd->output_total = 0;
	pthread_mutex_unlock(&cmd->lock);
}

int wq_command_set_output(struct wq_command *cmd, const char *data, size_t len)
{
	if (cmd->output_limit < len)
		cmd->output_limit = len;
	int r = wq_command_ring_reset(cmd);
	if (r < 0)
		return r;
	pthread_mutex_lock(&cmd->lock);
	wq_command_ring_put(cmd, data, len);
	pthread_mutex_unlock(&cmd->lock);
	return 0;
}
