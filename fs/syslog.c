/* SPDX-License-Identifier: MIT */
/*
 * syslog.c - a detached daemon's stderr goes to the system log.  After
 * fuse_daemonize() stderr is /dev/null; instead, fd 2 becomes a pipe whose
 * lines (reports of dropped works, the store's errors, GLib's warnings)
 * a thread hands to syslog(3) one record each, LOG_DAEMON, ident "wqfs".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "wqfs.h"

static pthread_t reader;
static bool started;

static void *forward_lines(void *arg)
{
	FILE *in = fdopen((int)(intptr_t)arg, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while (in && (n = getline(&line, &cap, in)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		const char *text = strncmp(line, "wqfs: ", 6) == 0 ? line + 6 : line;
		if (*text)
			syslog(LOG_WARNING, "%s", text);
	}
	free(line);
	if (in)
		fclose(in);
	return NULL;
}

int syslog_start(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	openlog("wqfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	if (dup2(p[1], STDERR_FILENO) < 0 ||
	    pthread_create(&reader, NULL, forward_lines, (void *)(intptr_t)p[0]) != 0) {
		close(p[0]);
		close(p[1]);
		return -EAGAIN;
	}
	close(p[1]);
	setvbuf(stderr, NULL, _IOLBF, 0);
	started = true;
	return 0;
}

void syslog_stop(void)
{
	if (!started)
		return;
	fflush(stderr);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dup2(null, STDERR_FILENO);	/* the pipe's last writer: EOF */
	close(null);
	pthread_join(reader, NULL);
	closelog();
	started = false;
}
