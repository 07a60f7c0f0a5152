/* SPDX-License-Identifier: MIT */
/*
 * wq.c - a command-line client of a wqfs mount.
 *
 *   wq [-m DIR] [-q QUEUE] [-n NAME] [-d DELAY] [-a DEP]... [--] CMD [ARG]...
 *   wq [-m DIR] [-q QUEUE] -n NAME [-d DELAY]	 queue the declared NAME again
 *   wq [-m DIR] [-q QUEUE] -w WORK | -c WORK | -l
 *
 * Why a program: a shell's builtin echo writes from the shell itself, and a
 * work gets the environment of the process that opened the control file as
 * /proc/PID/environ shows it, which for a shell is the environment it started
 * with: `export FOO=bar; echo 'echo $FOO' > submit` prints nothing.  wq is a
 * process of its own, started with the caller's current environment and
 * working directory, and it opens the control file itself.
 *
 * Everything wq does is a file operation a user could type (wq.1 lists
 * them): open, one write(2) of one line, a read of the reply on the same
 * descriptor, close.  The daemon runs a work's line with `/bin/sh -c LINE`,
 * so CMD and each ARG are shell-quoted: the line runs exactly CMD ARG...
 *
 * A dynamic string is an open_memstream(3); every path is MOUNT/QUEUE/FILE,
 * built in a PATH_MAX buffer.  Functions return an exit status (0 or one of
 * enum wqc_exit); the ones that failed have said why on stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* wq's own exit statuses (wq.1, EXIT STATUS). */
enum wqc_exit {
	WQC_EXIT_FAIL = 1,	/* a file operation failed (not below) */
	WQC_EXIT_USAGE = 2,	/* bad options or arguments; nothing written */
	WQC_EXIT_ALREADY = 3,	/* EALREADY: pending or delayed already */
	WQC_EXIT_NOENT = 4,	/* ENOENT: no such mount, queue or work */
	WQC_EXIT_NOSTATUS = 5,	/* -w: the work ended without an exit status */
};

#define WQC_NAME_MAX	64		/* queue and work names (wqfs.1) */
#define WQC_DEFAULT_QUEUE "events"	/* the shared queue, schedule_work */

/* Characters a word may hold and still be written without quotes: none is
 * special to /bin/sh anywhere in a word but the first (see wqc_put_word). */
#define WQC_PLAIN_PUNCT "_./,+@%=:-"

struct wqc_opts {
	const char *mnt;		/* -m, $WQFS, or the default */
	const char *queue;		/* -q, default "events" */
	const char *name;		/* -n NAME, or NULL: anonymous */
	const char *delay;		/* -d DELAY, or NULL: submit */
	const char **deps;		/* -a DEP..., ndeps of them */
	size_t ndeps;
	char mode;			/* 0: queue a work; 'w', 'c', 'l'; 'h' */
	const char *work;		/* the WORK of -w and -c */
	char **cmd;			/* CMD ARG..., ncmd of them */
	int ncmd;
};

static const char wqc_usage_text[] =
	"usage: wq [-m DIR] [-q QUEUE] [-n NAME] [-d DELAY] [-a DEP]... [--] CMD [ARG]...\n"
	"       wq [-m DIR] [-q QUEUE] -n NAME [-d DELAY]\n"
	"       wq [-m DIR] [-q QUEUE] -w WORK | -c WORK | -l\n"
	"  -m DIR    the wqfs mount point (default $WQFS, else /run/wqfs as root,\n"
	"            else $XDG_RUNTIME_DIR/wqfs)\n"
	"  -q QUEUE  the queue (default events)\n"
	"  -n NAME   a named work (default: anonymous; its id is printed)\n"
	"  -d DELAY  queue after DELAY (5s, 1.5 min, 250 jiffies as a bare number)\n"
	"  -a DEP    NAME waits for DEP (a work of QUEUE, or QUEUE/WORK); repeatable\n"
	"  -w WORK   wait for WORK and exit with its exit status\n"
	"  -c WORK   print WORK's output as it runs, until its run ends\n"
	"  -l        list QUEUE's works\n"
	"  -h        this summary\n"
	"See wq(1).\n";

__attribute__((format(printf, 1, 2)))
static int wqc_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("wq: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'wq -h'.\n", stderr);
	return WQC_EXIT_USAGE;
}

/* Report a failed file operation as "wq: OP PATH: strerror" and return the
 * exit status that errno maps to. */
static int wqc_fail(const char *op, const char *path, int err)
{
	fprintf(stderr, "wq: %s %s: %s\n", op, path, strerror(err));
	if (err == EALREADY)
		return WQC_EXIT_ALREADY;
	if (err == ENOENT)
		return WQC_EXIT_NOENT;
	return WQC_EXIT_FAIL;
}

/* ---------------------------------------------------------------------
 * Arguments
 */

static bool wqc_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* A queue or work name as wqfs takes them: 1 to 64 of [A-Za-z0-9_.-], and
 * not "." or ".." (which would name another directory than a queue's). */
static bool wqc_is_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > WQC_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (!wqc_is_alnum(*s) && !strchr("_.-", *s))
			return false;
	return true;
}

/* A line is one work: no argument may hold a newline, which would end it. */
static int wqc_check_one_line(const char *what, const char *s)
{
	if (strchr(s, '\n'))
		return wqc_usage_error("%s holds a newline: a work is one line", what);
	return 0;
}

static int wqc_check_names(const struct wqc_opts *o)
{
	if (!wqc_is_name(o->queue))
		return wqc_usage_error("bad queue name '%s'", o->queue);
	if (o->name && !wqc_is_name(o->name))
		return wqc_usage_error("bad work name '%s' (1 to 64 of A-Z a-z 0-9 _ . -)", o->name);
	if (o->work && !wqc_is_name(o->work))
		return wqc_usage_error("bad work name '%s'", o->work);
	return 0;
}

/* What each mode needs, and nothing it does not take. */
static int wqc_check_mode(const struct wqc_opts *o)
{
	bool queueing = o->name || o->delay || o->ndeps || o->ncmd;

	if (o->mode && queueing)
		return wqc_usage_error("-%c takes no -n, -d, -a or command", o->mode);
	if (!o->mode && !o->name && !o->ncmd)
		return wqc_usage_error("no command given");
	if (o->ndeps && !o->name)
		return wqc_usage_error("-a needs -n NAME: the dependencies are NAME's");
	return 0;
}

static int wqc_check(const struct wqc_opts *o)
{
	int st = wqc_check_mode(o);

	if (!st)
		st = wqc_check_names(o);
	if (!st && o->delay)
		st = wqc_check_one_line("DELAY", o->delay);
	for (size_t i = 0; !st && i < o->ndeps; i++)
		st = wqc_check_one_line("DEP", o->deps[i]);
	for (int i = 0; !st && i < o->ncmd; i++)
		st = wqc_check_one_line("an argument", o->cmd[i]);
	return st;
}

/* The mount point: $WQFS, else where `scripts/setup mount` mounts. */
static const char *wqc_default_mnt(void)
{
	static char buf[PATH_MAX];
	const char *env = getenv("WQFS");
	const char *run;

	if (env && *env)
		return env;
	if (geteuid() == 0)
		return "/run/wqfs";
	run = getenv("XDG_RUNTIME_DIR");
	snprintf(buf, sizeof buf, "%s/wqfs", run && *run ? run : "/tmp");
	return buf;
}

static int wqc_set_mode(struct wqc_opts *o, char mode, const char *work)
{
	if (o->mode)
		return wqc_usage_error("-w, -c and -l exclude each other");
	o->mode = mode;
	o->work = work;
	return 0;
}

/* One option of getopt's; opts->deps has room for every argument. */
static int wqc_option(struct wqc_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'm': o->mnt = arg; return 0;
	case 'q': o->queue = arg; return 0;
	case 'n': o->name = arg; return 0;
	case 'd': o->delay = arg; return 0;
	case 'a': o->deps[o->ndeps++] = arg; return 0;
	case 'w': case 'c': return wqc_set_mode(o, (char)c, arg);
	case 'l': case 'h': return wqc_set_mode(o, (char)c, NULL);
	case ':': return wqc_usage_error("option -%c needs a value", optopt);
	default: return wqc_usage_error("unknown option -%c", optopt);
	}
}

static int wqc_parse(int argc, char **argv, struct wqc_opts *o)
{
	int c, st;

	o->queue = WQC_DEFAULT_QUEUE;
	o->deps = calloc((size_t)argc, sizeof *o->deps);
	if (!o->deps)
		return wqc_fail("allocate", "arguments", ENOMEM);
	opterr = 0;
	/* "+": options end at the first operand, so CMD's own options stay
	 * CMD's even without "--". */
	while ((c = getopt(argc, argv, "+:m:q:n:d:a:w:c:lh")) != -1)
		if ((st = wqc_option(o, c, optarg)))
			return st;
	o->cmd = argv + optind;
	o->ncmd = argc - optind;
	if (!o->mnt)
		o->mnt = wqc_default_mnt();
	return o->mode == 'h' ? 0 : wqc_check(o);
}

/* ---------------------------------------------------------------------
 * The line
 */

static bool wqc_is_plain(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!wqc_is_alnum(*s) && !strchr(WQC_PLAIN_PUNCT, *s))
			return false;
	return true;
}

/*
 * One word of the line.  CMD (first) is always single-quoted: unquoted it
 * could be a reserved word (if, !), an assignment (A=1), a DELAY's unit
 * word (`5 sec`) or a `NAME:` prefix.  Other words are quoted unless
 * plain.  Inside single quotes only ' is special: it becomes '\''.
 */
static void wqc_put_word(FILE *f, const char *s, bool first)
{
	if (!first && wqc_is_plain(s)) {
		fputs(s, f);
		return;
	}
	putc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			putc(*s, f);
	}
	putc('\'', f);
}

/* DELAY without its blanks: "5 sec" is "5sec", and a DELAY such as
 * "5 echo" is the daemon's EINVAL, never a delay and a command. */
static void wqc_put_delay(FILE *f, const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t')
			putc(*s, f);
}

/* "[NAME: ][DELAY ]['CMD' ARG...]\n" for submit or delay; NULL when out of
 * memory.  *len is its length. */
static char *wqc_work_line(const struct wqc_opts *o, size_t *len)
{
	char *line = NULL;
	FILE *f = open_memstream(&line, len);
	bool sep = false;

	if (!f)
		return NULL;
	if (o->name) {
		fprintf(f, "%s:", o->name);
		sep = true;
	}
	if (o->delay) {
		fputs(sep ? " " : "", f);
		wqc_put_delay(f, o->delay);
		sep = true;
	}
	for (int i = 0; i < o->ncmd; i++) {
		fputs(sep ? " " : "", f);
		wqc_put_word(f, o->cmd[i], i == 0);
		sep = true;
	}
	putc('\n', f);
	if (fclose(f)) {
		free(line);
		return NULL;
	}
	return line;
}

/* "NAME: DEP DEP...\n" for after. */
static char *wqc_after_line(const struct wqc_opts *o, size_t *len)
{
	char *line = NULL;
	FILE *f = open_memstream(&line, len);

	if (!f)
		return NULL;
	fprintf(f, "%s:", o->name);
	for (size_t i = 0; i < o->ndeps; i++)
		fprintf(f, " %s", o->deps[i]);
	putc('\n', f);
	if (fclose(f)) {
		free(line);
		return NULL;
	}
	return line;
}

/* ---------------------------------------------------------------------
 * File operations
 */

/* MOUNT/QUEUE/FILE, or MOUNT/QUEUE/works/WORK/FILE, into buf (PATH_MAX). */
static int wqc_path(char *buf, const struct wqc_opts *o, const char *work,
		    const char *file)
{
	int n = work ? snprintf(buf, PATH_MAX, "%s/%s/works/%s/%s", o->mnt, o->queue, work, file)
		     : snprintf(buf, PATH_MAX, "%s/%s/%s", o->mnt, o->queue, file);

	if (n < 0 || n >= PATH_MAX)
		return wqc_fail("open", file, ENAMETOOLONG);
	return 0;
}

static int wqc_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read fd to its end into the stream f (standard output, or memory),
 * flushing each piece: `wq -c` shows output as it comes. */
static int wqc_read_into(int fd, FILE *f, const char *path)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (fwrite(buf, 1, (size_t)n, f) != (size_t)n || fflush(f))
			return wqc_fail("write", f == stdout ? "standard output" : path, errno);
	return n < 0 ? wqc_fail("read", path, errno) : 0;
}

/*
 * open PATH, write LINE in one write(2), then with `reply` read the reply
 * on the same descriptor (the ids the write queued) to standard output,
 * and close.  The close counts: flush waits in it and may fail there.
 */
static int wqc_request(const char *path, const char *line, size_t len, bool reply)
{
	int fd = open(path, reply ? O_RDWR : O_WRONLY);
	int st, err;

	if (fd < 0)
		return wqc_fail("open", path, errno);
	err = wqc_write_all(fd, line, len);
	if (err < 0) {
		close(fd);
		return wqc_fail("write", path, -err);
	}
	st = reply ? wqc_read_into(fd, stdout, path) : 0;
	if (close(fd) < 0 && !st)
		st = wqc_fail("close", path, errno);
	return st;
}

static int wqc_cat(const char *path)
{
	int fd = open(path, O_RDONLY);
	int st;

	if (fd < 0)
		return wqc_fail("open", path, errno);
	st = wqc_read_into(fd, stdout, path);
	close(fd);
	return st;
}

/* The whole of PATH, NUL-terminated, in *text (to free). */
static int wqc_slurp(const char *path, char **text)
{
	size_t len;
	FILE *f;
	int fd, st;

	*text = NULL;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return wqc_fail("open", path, errno);
	f = open_memstream(text, &len);
	st = f ? wqc_read_into(fd, f, path) : wqc_fail("read", path, ENOMEM);
	close(fd);
	if (f && fclose(f) && !st)
		st = wqc_fail("read", path, ENOMEM);
	return st;
}

/* ---------------------------------------------------------------------
 * The actions
 */

/* [echo 'NAME: DEP...' > after;] echo LINE > submit|delay, read the id. */
static int wqc_queue(const struct wqc_opts *o)
{
	char path[PATH_MAX], *line;
	size_t len;
	int st = 0;

	if (o->ndeps) {
		line = wqc_after_line(o, &len);
		if (!line)
			return wqc_fail("write", "after", ENOMEM);
		st = wqc_path(path, o, NULL, "after");
		if (!st)
			st = wqc_request(path, line, len, false);
		free(line);
		if (st)
			return st;
	}
	line = wqc_work_line(o, &len);
	if (!line)
		return wqc_fail("write", "submit", ENOMEM);
	st = wqc_path(path, o, NULL, o->delay ? "delay" : "submit");
	if (!st)
		st = wqc_request(path, line, len, true);
	free(line);
	return st;
}

/* The value of the line "KEY: value" of a status text into val (of size
 * WQC_FIELD_MAX), cut to fit; "-" when there is no such line. */
#define WQC_FIELD_MAX 32
static void wqc_field(const char *text, const char *key, char *val)
{
	size_t klen = strlen(key);
	const char *p = text;

	snprintf(val, WQC_FIELD_MAX, "-");
	while (p) {
		if (!strncmp(p, key, klen) && p[klen] == ':' && p[klen + 1] == ' ') {
			p += klen + 2;
			snprintf(val, WQC_FIELD_MAX, "%.*s", (int)strcspn(p, "\n"), p);
			return;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
}

/* The exit status of the run flush waited for, from works/WORK/status. */
static int wqc_exit_of(const struct wqc_opts *o, const char *status)
{
	char state[WQC_FIELD_MAX], last[WQC_FIELD_MAX], *end;
	long v;

	wqc_field(status, "state", state);
	wqc_field(status, "last_exit", last);
	v = strtol(last, &end, 10);
	if (!strcmp(state, "cancelled") || !strcmp(state, "lost") ||
	    end == last || *end || v < 0 || v > 255) {
		fprintf(stderr, "wq: %s/%s: %s, no exit status\n", o->queue, o->work, state);
		return WQC_EXIT_NOSTATUS;
	}
	return (int)v;
}

/* Whether a status text says the work waits for its DEPs (`after`). */
static bool wqc_blocked(const char *status)
{
	char state[WQC_FIELD_MAX];

	wqc_field(status, "state", state);
	return !strcmp(state, "blocked");
}

/* How long -w sleeps before it asks again about a blocked work: flush
 * does not wait for one (it is not queued to the workqueue yet). */
#define WQC_BLOCKED_POLL_US	100000

/* echo WORK > flush (flush_work: the close waits), then its last_exit;
 * while the work is blocked, again after a pause. */
static int wqc_wait(const struct wqc_opts *o)
{
	char path[PATH_MAX], line[WQC_NAME_MAX + 2], *status = NULL;
	int n = snprintf(line, sizeof line, "%s\n", o->work);
	int st;

	do {
		free(status);
		status = NULL;
		if (st = wqc_path(path, o, NULL, "flush"), !st)
			st = wqc_request(path, line, (size_t)n, false);
		if (!st)
			st = wqc_path(path, o, o->work, "status");
		if (!st)
			st = wqc_slurp(path, &status);
	} while (!st && wqc_blocked(status) && usleep(WQC_BLOCKED_POLL_US) == 0);
	if (!st)
		st = wqc_exit_of(o, status);
	free(status);
	return st;
}

/* cat PATH, for -l (QUEUE/list) and -c (works/WORK/follow). */
static int wqc_show(const struct wqc_opts *o, const char *work, const char *file)
{
	char path[PATH_MAX];
	int st = wqc_path(path, o, work, file);

	return st ? st : wqc_cat(path);
}

int main(int argc, char **argv)
{
	struct wqc_opts o = { 0 };
	int st = wqc_parse(argc, argv, &o);

	if (st) {
		free(o.deps);
		return st;
	}
	switch (o.mode) {
	case 'h':
		fputs(wqc_usage_text, stdout);
		break;
	case 'w':
		st = wqc_wait(&o);
		break;
	case 'c':
		st = wqc_show(&o, o.work, "follow");
		break;
	case 'l':
		st = wqc_show(&o, NULL, "list");
		break;
	default:
		st = wqc_queue(&o);
	}
	free(o.deps);
	return st;
}
