/* SPDX-License-Identifier: MIT */
/*
 * four_works.c - the four self-re-arming works of seed 003, in C, on wqfs.
 *
 *   four_works [MOUNTPOINT [SECONDS [LOGFILE]]]
 *
 * The seed's kernel module (sloongz/linux_driver, work/work_queue.c) is
 * rewritten here call for call; the module's functions become command
 * lines that wqfs runs in its worker threads, and every workqueue call
 * becomes open/write/close on a control file of the mount:
 *
 *   work       INIT_WORK          shared queue  prints a, msleep(1000),
 *                                               schedule_work(&work)
 *   dly_work   INIT_DELAYED_WORK  shared queue  prints b,
 *                                               schedule_delayed_work(1 s)
 *   work1      INIT_WORK          queue "test"  prints c, msleep(1000),
 *                                               queue_work(test, &work1)
 *   dly_work1  INIT_DELAYED_WORK  queue "test"  prints d,
 *                                               queue_delayed_work(1 s)
 *
 * x_init() queues the four at once (the delayed ones with schedule_work /
 * queue_work too, so their first run is immediate), x_exit() cancels them
 * with cancel_work_sync / cancel_delayed_work_sync, destroys "test" and
 * prints "cancel work".  printk is a line appended to LOGFILE (our dmesg),
 * which is printed at the end; the counters a..d (fields of struct x_dev)
 * are files in a temporary directory.  Ctrl-C ends the run early, through
 * x_exit() like rmmod.
 *
 * On wqfs the shared queue runs one work at a time per CPU (max_active 1,
 * as on the kernels LDD3 describes); the seed's log comes from a kernel
 * with concurrency-managed workqueues, where a sleeping work does not hold
 * up the others.  So when work and dly_work land on the same CPU, dly_work
 * waits behind work's one-second msleep and prints a second late: each
 * counter still advances once a second.
 *
 * Only open, read, write, close, mkdir and rmdir touch the mount.  The
 * temporary directory is made with mkdtemp and removed with unlink/rmdir.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *mnt;			/* the wqfs mount point */
static char dev[] = "/tmp/four_works.XXXXXX";	/* struct x_dev: a b c d */
static char log_path[4096];		/* printk goes here */
static volatile sig_atomic_t stop;	/* Ctrl-C: go to x_exit() now */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* path_of - "MOUNT/REL" into a static buffer (one path used at a time). */
static const char *path_of(const char *rel)
{
	static char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s/%s", mnt, rel) >= (int)sizeof(buf)) {
		fprintf(stderr, "four_works: path too long: %s/%s\n", mnt, rel);
		exit(1);
	}
	return buf;
}

/* write_all - write len bytes to fd; 0, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * ctl - write one line to a control file of the mount, as `echo LINE >
 * MOUNT/REL` does.  Returns 0 or the errno of the failed open/write (the
 * kernel function's "false"), leaving the message to the caller.
 */
static int ctl(const char *rel, const char *line)
{
	char buf[8192];
	int fd, len, err = 0;

	len = snprintf(buf, sizeof(buf), "%s\n", line);
	if (len < 0 || len >= (int)sizeof(buf))
		return E2BIG;
	fd = open(path_of(rel), O_WRONLY);
	if (fd < 0)
		return errno;
	if (write_all(fd, buf, (size_t)len) < 0)
		err = errno;
	if (close(fd) < 0 && err == 0)
		err = errno;
	return err;
}

/* ctl_checked - ctl() with a message on error; 0 or -1. */
static int ctl_checked(const char *rel, const char *line, const char *kernel_call)
{
	int err = ctl(rel, line);

	if (err) {
		fprintf(stderr, "four_works: %s: write to %s: %s\n",
			kernel_call, path_of(rel), strerror(err));
		return -1;
	}
	return 0;
}

/* uptime - the first field of /proc/uptime, as dmesg's timestamp. */
static void uptime(char *out, size_t size)
{
	char buf[128];
	ssize_t n;
	int fd = open("/proc/uptime", O_RDONLY);

	snprintf(out, size, "?");
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, " \n")] = '\0';
	snprintf(out, size, "%s", buf);
}

/* printk - append "[uptime] text" to the log. */
static void printk(const char *text)
{
	char up[128], line[512];
	int fd, len;

	uptime(up, sizeof(up));
	len = snprintf(line, sizeof(line), "[%s] %s\n", up, text);
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0) {
		perror(log_path);
		exit(1);
	}
	if (write_all(fd, line, (size_t)len) < 0) {
		perror(log_path);
		exit(1);
	}
	if (close(fd) < 0) {
		perror(log_path);
		exit(1);
	}
}

/* put_file - create PATH holding TEXT (a counter's start value). */
static void put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || close(fd) < 0) {
		perror(path);
		exit(1);
	}
}

/*
 * work_line - the line that declares and queues a work: "NAME: COMMAND".
 * COMMAND is the work function, run by /bin/sh in a worker: read the
 * counter, print "FUNC, COUNTER:N", store N + 1, then re-queue itself with
 * tail (the work finds its own name, queue and mount in WQ_WORK, WQ_QUEUE
 * and WQ_ROOT).
 */
static void work_line(char *buf, size_t size, const char *name, const char *func,
		      const char *counter, const char *tail)
{
	int n = snprintf(buf, size,
			 "%s: n=$(cat '%s/%s'); read -r up _ </proc/uptime; "
			 "echo \"[$up] %s, %s:$n\" >> '%s'; "
			 "echo $((n + 1)) > '%s/%s'; %s",
			 name, dev, counter, func, counter, log_path, dev, counter, tail);

	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "four_works: command line too long\n");
		exit(1);
	}
}

/* msleep(1000); schedule_work(&work) -- or queue_work(test, &work1) */
static const char requeue[] = "sleep 1; echo \"$WQ_WORK:\" > \"$WQ_ROOT/$WQ_QUEUE/submit\"";
/* schedule_delayed_work(&dly_work, HZ) -- or queue_delayed_work(test, ..) */
static const char rearm[] = "echo \"$WQ_WORK: 1s\" > \"$WQ_ROOT/$WQ_QUEUE/delay\"";

static int x_init(void)
{
	char line[4096];

	printk("init work");

	/* method 1: INIT_WORK(&g_dev.work, work_func); schedule_work(&g_dev.work) */
	work_line(line, sizeof(line), "work", "work_func", "a", requeue);
	if (ctl_checked("events/submit", line, "schedule_work(&work)") < 0)
		return -1;

	/* method 2: INIT_DELAYED_WORK(&g_dev.dly_work, dly_work_func);
	 *           schedule_work(&g_dev.dly_work.work) -- not delayed at first */
	work_line(line, sizeof(line), "dly_work", "dly_work_func", "b", rearm);
	if (ctl_checked("events/submit", line, "schedule_work(&dly_work.work)") < 0)
		return -1;

	/* g_dev.workq = create_workqueue("test") */
	if (mkdir(path_of("test"), 0755) < 0) {
		fprintf(stderr, "four_works: create_workqueue(\"test\"): mkdir %s: %s\n",
			path_of("test"), strerror(errno));
		return -1;
	}

	/* method 4: INIT_DELAYED_WORK(&g_dev.dly_work1, dly_work1_func);
	 *           queue_work(g_dev.workq, &g_dev.dly_work1.work) */
	work_line(line, sizeof(line), "dly_work1", "dly_work1_func", "d", rearm);
	if (ctl_checked("test/submit", line, "queue_work(test, &dly_work1.work)") < 0)
		return -1;

	/* method 3: INIT_WORK(&g_dev.work1, work1_func);
	 *           queue_work(g_dev.workq, &g_dev.work1) */
	work_line(line, sizeof(line), "work1", "work1_func", "c", requeue);
	return ctl_checked("test/submit", line, "queue_work(test, &work1)");
}

/*
 * cancel_sync - cancel_work_sync / cancel_delayed_work_sync: the write
 * returns once NAME is neither queued nor running.  ESRCH is the kernel's
 * "false" (nothing to cancel: it was between two runs), not an error.
 */
static int cancel_sync(const char *queue, const char *name, const char *kernel_call)
{
	char rel[256];
	int err;

	snprintf(rel, sizeof(rel), "%s/cancel", queue);
	err = ctl(rel, name);
	if (err && err != ESRCH) {
		fprintf(stderr, "four_works: %s: %s\n", kernel_call, strerror(err));
		return -1;
	}
	return 0;
}

static int x_exit(void)
{
	int ret = 0;

	ret |= cancel_sync("events", "work", "cancel_work_sync(&work)");
	ret |= cancel_sync("events", "dly_work", "cancel_delayed_work_sync(&dly_work)");
	ret |= cancel_sync("test", "work1", "cancel_work_sync(&work1)");
	ret |= cancel_sync("test", "dly_work1", "cancel_delayed_work_sync(&dly_work1)");

	/* destroy_workqueue(g_dev.workq) */
	if (rmdir(path_of("test")) < 0) {
		fprintf(stderr, "four_works: destroy_workqueue(test): rmdir %s: %s\n",
			path_of("test"), strerror(errno));
		ret = -1;
	}
	printk("cancel work");

	/* The shared queue stays: forget our two named works there. */
	if (rmdir(path_of("events/works/work")) < 0) {
		perror(path_of("events/works/work"));
		ret = -1;
	}
	if (rmdir(path_of("events/works/dly_work")) < 0) {
		perror(path_of("events/works/dly_work"));
		ret = -1;
	}
	return ret;
}

/* cat - copy a file to stdout (dmesg). */
static int cat(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		perror(path);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
			perror("stdout");
			close(fd);
			return -1;
		}
	}
	if (n < 0)
		perror(path);
	close(fd);
	return n < 0 ? -1 : 0;
}

static void remove_dev(void)
{
	static const char *const counters[] = { "a", "b", "c", "d", "log" };
	char path[4096];

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dev, counters[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			perror(path);
	}
	if (rmdir(dev) < 0)
		perror(dev);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	const char *env = getenv("WQFS");
	long seconds = 5;
	int ret;

	mnt = argc > 1 ? argv[1] : env ? env : "/run/wqfs";
	if (argc > 2) {
		char *end;

		seconds = strtol(argv[2], &end, 10);
		if (*argv[2] == '\0' || *end != '\0' || seconds < 0) {
			fprintf(stderr, "usage: %s [MOUNTPOINT [SECONDS [LOGFILE]]]\n", argv[0]);
			return 2;
		}
	}
	if (access(path_of("status"), R_OK) < 0) {
		fprintf(stderr, "four_works: %s does not look like a wqfs mount: %s: %s\n",
			mnt, path_of("status"), strerror(errno));
		return 1;
	}
	if (!mkdtemp(dev)) {
		perror("mkdtemp");
		return 1;
	}
	if (argc > 3)
		snprintf(log_path, sizeof(log_path), "%s", argv[3]);
	else
		snprintf(log_path, sizeof(log_path), "%s/log", dev);
	if (strchr(dev, '\'') || strchr(log_path, '\'')) {
		fprintf(stderr, "four_works: paths with a quote are not supported\n");
		return 2;
	}
	put_file(log_path, "");
	for (const char *c = "abcd"; *c; c++) {	/* g_dev.a = ... = g_dev.d = 0 */
		char path[4096];

		snprintf(path, sizeof(path), "%s/%c", dev, *c);
		put_file(path, "0\n");
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
		perror("sigaction");
		return 1;
	}

	if (x_init() < 0) {		/* insmod work_queue.ko */
		x_exit();		/* undo what was done */
		remove_dev();
		return 1;
	}
	for (long i = 0; i < seconds && !stop; i++)
		sleep(1);		/* the module is loaded */
	ret = x_exit();			/* rmmod work_queue */

	if (cat(log_path) < 0)		/* dmesg */
		ret = -1;
	remove_dev();
	return ret ? 1 : 0;
}
