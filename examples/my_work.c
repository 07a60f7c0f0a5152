/* SPDX-License-Identifier: MIT */
/*
 * my_work.c - seed 004's module on wqfs: a struct my_work carrying
 * data = 42, queued on "my_queue", then flush_workqueue and
 * destroy_workqueue.
 *
 *   my_work [MOUNTPOINT]          (default: $WQFS or /run/wqfs)
 *
 * The kernel module (seed 004):
 *
 *   my_wq = create_workqueue("my_queue");
 *   work = kmalloc(sizeof(struct my_work), GFP_KERNEL);
 *   INIT_WORK((struct work_struct *)work, my_wq_function);
 *   work->data = 42;
 *   queue_work(my_wq, (struct work_struct *)work);
 *   ...
 *   flush_workqueue(my_wq);
 *   destroy_workqueue(my_wq);
 *
 * and my_wq_function() does printk("my_work.data = %d\n", my_work->data).
 *
 * On wqfs a work is a command line, so the work function is a printf and
 * the data travels in its argument: the command is
 *   printf 'my_work.data = %d\n' 42
 * The work is anonymous (a fresh struct, as the kmalloc'd one): wqfs names
 * it (w1, w2, ...) and the name is read back from the same descriptor the
 * work was written to.  What the work printed (its "printk") is in
 * my_queue/works/NAME/output, read after the flush and shown at the end.
 *
 * Only open, read, write, close, mkdir and rmdir touch the mount, and every
 * return value is checked.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The seed's struct: the work function and its data. */
struct my_work {
	const char *function;	/* the work function, a printf format here */
	int data;
};

static char queue[4096];	/* MOUNT/my_queue */

/* fail - print "my_work: WHAT: PATH: strerror(errno)" and return -1. */
static int fail(const char *what, const char *path)
{
	fprintf(stderr, "my_work: %s: %s: %s\n", what, path, strerror(errno));
	return -1;
}

/* write_all - write len bytes to fd (a control file takes a line whole;
 * the loop only matters for a short write, which reports an error next). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * queue_my_work - queue_work(my_wq, work): write the work's command line to
 * my_queue/submit through a read-write descriptor, then read the reply
 * from it: the name wqfs gave the work ("w1\n").
 */
static int queue_my_work(const struct my_work *work, char *id, size_t idsize)
{
	char path[4096 + 16], line[256];
	ssize_t n;
	int fd, len;

	snprintf(path, sizeof(path), "%s/submit", queue);
	/* the command line: printf 'my_work.data = %d\n' 42 */
	len = snprintf(line, sizeof(line), "printf '%s' %d\n", work->function, work->data);
	if (len < 0 || (size_t)len >= sizeof(line)) {
		fprintf(stderr, "my_work: command line too long\n");
		return -1;
	}

	fd = open(path, O_RDWR);			/* the transaction file */
	if (fd < 0)
		return fail("queue_work: open", path);
	if (write_all(fd, line, (size_t)len) < 0) {	/* queue_work() */
		fail("queue_work: write", path);
		close(fd);
		return -1;
	}
	n = read(fd, id, idsize - 1);			/* the reply: the work's name */
	if (n < 0) {
		fail("queue_work: read the work id", path);
		close(fd);
		return -1;
	}
	id[n] = '\0';
	id[strcspn(id, "\n")] = '\0';
	if (close(fd) < 0)
		return fail("queue_work: close", path);
	if (id[0] == '\0') {
		fprintf(stderr, "my_work: queue_work: %s gave no work id\n", path);
		return -1;
	}
	return 0;
}

/* flush_workqueue(my_wq): an empty line to my_queue/flush; the write
 * returns when every work queued before it has finished. */
static int flush_my_queue(void)
{
	char path[4096 + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/flush", queue);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return fail("flush_workqueue: open", path);
	if (write_all(fd, "\n", 1) < 0) {
		fail("flush_workqueue: write", path);
		close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return fail("flush_workqueue: close", path);
	return 0;
}

/* read_output - what the work printed: my_queue/works/ID/output. */
static int read_output(const char *id, char *buf, size_t size)
{
	char path[4096 + 128];
	size_t used = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/works/%s/output", queue, id);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return fail("open", path);
	while (used < size - 1 && (n = read(fd, buf + used, size - 1 - used)) != 0) {
		if (n < 0) {
			fail("read", path);
			close(fd);
			return -1;
		}
		used += (size_t)n;
	}
	buf[used] = '\0';
	if (close(fd) < 0)
		return fail("close", path);
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("WQFS");
	const char *mnt = argc > 1 ? argv[1] : env ? env : "/run/wqfs";
	struct my_work work = {
		.function = "my_work.data = %d\\n",	/* my_wq_function's printk */
		.data = 42,
	};
	char id[64], output[4096];
	int ret = 0;

	if (snprintf(queue, sizeof(queue), "%s/my_queue", mnt) >= (int)sizeof(queue)) {
		fprintf(stderr, "my_work: mount point path too long\n");
		return 1;
	}

	/* my_init(): my_wq = create_workqueue("my_queue") */
	if (mkdir(queue, 0755) < 0) {
		fail("create_workqueue: mkdir", queue);
		return 1;
	}
	printf("create_workqueue(\"my_queue\"): mkdir %s\n", queue);

	/* INIT_WORK(work, my_wq_function); work->data = 42;
	 * queue_work(my_wq, work) */
	if (queue_my_work(&work, id, sizeof(id)) < 0) {
		ret = 1;
		goto destroy;
	}
	printf("queue_work(my_wq, work): queued as %s, data %d\n", id, work.data);

	/* my_exit(): flush_workqueue(my_wq) */
	if (flush_my_queue() < 0) {
		ret = 1;
		goto destroy;
	}
	printf("flush_workqueue(my_wq): done\n");

	/* The work has run: keep what it printed before the queue goes. */
	if (read_output(id, output, sizeof(output)) < 0)
		ret = 1;

destroy:
	/* destroy_workqueue(my_wq) */
	if (rmdir(queue) < 0) {
		fail("destroy_workqueue: rmdir", queue);
		ret = 1;
	} else {
		printf("destroy_workqueue(my_wq): rmdir %s\n", queue);
	}

	if (ret == 0) {
		/* dmesg: what my_wq_function printed */
		printf("output of %s:\n%s", id, output);
		if (output[0] && output[strlen(output) - 1] != '\n')
			printf("\n");
	}
	if (fflush(stdout) != 0) {
		perror("my_work: stdout");
		ret = 1;
	}
	return ret;
}
