/* SPDX-License-Identifier: MIT */
/*
 * wqbench - the load generator of bench/run: writes lines to a file (a
 * wqfs control file, or the nullfs baseline) as fast as it can, or reads
 * a stream (trace) as fast as it can, and prints what it did on one line
 * of key=value pairs.
 *
 *   wqbench write PATH FMT [-k LINES | -b BYTES] [-n LINES] [-t SECONDS]
 *                 [-s START] [-m MOD] [-e]
 *	Write lines made from FMT (a printf format with at most one %lu,
 *	replaced by the line's index) to PATH, -k lines per write(2), or as
 *	many whole lines as fit in -b bytes per write (default: one line per
 *	write).  Stop after -n lines or -t seconds (whichever comes first;
 *	default -n 1000).  The index of line i is START + i, or with -m MOD,
 *	START + (i * 7919) % MOD: a permutation of 0..MOD-1 when MOD is not
 *	a multiple of 7919, so random-looking indices that never repeat.
 *	A failed write ends the run (exit 1) unless -e: then it is counted.
 *	Prints: writes= lines= bytes= seconds= errors= errno=
 *
 *   wqbench read PATH [-t SECONDS] [-q]
 *	Read PATH with 64 KiB reads until EOF or SECONDS have passed; count
 *	lines and the rows a `# lost N rows` line reports.  -q: stop at the
 *	first pause of 0.5 s after data has arrived (the writer is done).
 *	Prints: rows= lost= bytes= seconds=
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PERM_PRIME 7919UL

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fputs("usage: wqbench write PATH FMT [-k LINES | -b BYTES] [-n LINES] "
	      "[-t SECONDS] [-s START] [-m MOD] [-e]\n"
	      "       wqbench read PATH [-t SECONDS] [-q]\n", stderr);
	exit(2);
}

/* FMT with its single %lu (if any) replaced by idx, plus a newline. */
static size_t format_line(char *dst, size_t cap, const char *pre, const char *post,
			  bool has_idx, unsigned long idx)
{
	int n;

	if (has_idx)
		n = snprintf(dst, cap, "%s%lu%s\n", pre, idx, post);
	else
		n = snprintf(dst, cap, "%s\n", pre);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

static int cmd_write(int argc, char **argv)
{
	const char *path, *fmt;
	unsigned long per_write = 1, bytes_per_write = 0, max_lines = 0;
	unsigned long start = 0, mod = 0;
	double seconds = 0;
	bool keep_going = false;
	char *pre, *post = NULL, *buf;
	bool has_idx;
	size_t cap;
	int opt, fd, first_errno = 0;
	unsigned long writes = 0, lines = 0, errors = 0, i = 0;
	uint64_t bytes = 0;
	double t0, t1;

	if (argc < 3)
		usage();
	path = argv[1];
	fmt = argv[2];
	optind = 3;
	while ((opt = getopt(argc, argv, "k:b:n:t:s:m:e")) != -1) {
		switch (opt) {
		case 'k': per_write = strtoul(optarg, NULL, 0); break;
		case 'b': bytes_per_write = strtoul(optarg, NULL, 0); break;
		case 'n': max_lines = strtoul(optarg, NULL, 0); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 's': start = strtoul(optarg, NULL, 0); break;
		case 'm': mod = strtoul(optarg, NULL, 0); break;
		case 'e': keep_going = true; break;
		default: usage();
		}
	}
	if (max_lines == 0 && seconds <= 0)
		max_lines = 1000;
	if (per_write == 0)
		per_write = 1;

	/* Split FMT at its %lu. */
	pre = strdup(fmt);
	if (pre == NULL)
		return 1;
	has_idx = false;
	{
		char *p = strstr(pre, "%lu");

		if (p != NULL) {
			*p = '\0';
			post = p + 3;
			has_idx = true;
			if (strchr(post, '%') != NULL || strchr(pre, '%') != NULL) {
				fputs("wqbench: FMT takes one %lu and no other %\n", stderr);
				return 2;
			}
		} else if (strchr(pre, '%') != NULL) {
			fputs("wqbench: FMT takes one %lu and no other %\n", stderr);
			return 2;
		}
	}

	cap = bytes_per_write ? bytes_per_write : per_write * (strlen(fmt) + 32);
	buf = malloc(cap + 64);
	if (buf == NULL)
		return 1;

	fd = open(path, O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "wqbench: %s: %s\n", path, strerror(errno));
		return 1;
	}

	t0 = now_s();
	for (;;) {
		size_t len = 0;
		unsigned long in_buf = 0;
		ssize_t w;

		if (max_lines && i >= max_lines)
			break;
		if (seconds > 0 && (writes & 15) == 0 && now_s() - t0 >= seconds)
			break;
		for (;;) {
			char line[256];
			unsigned long idx = mod ? start + (i * PERM_PRIME) % mod : start + i;
			size_t n = format_line(line, sizeof(line), pre, post, has_idx, idx);

			if (n == 0) {
				fputs("wqbench: line too long\n", stderr);
				return 2;
			}
			if (bytes_per_write ? len + n > bytes_per_write : in_buf == per_write)
				break;
			if (max_lines && i >= max_lines)
				break;
			memcpy(buf + len, line, n);
			len += n;
			in_buf++;
			i++;
		}
		if (len == 0) {
			fputs("wqbench: -b smaller than one line\n", stderr);
			return 2;
		}
		w = write(fd, buf, len);
		writes++;
		if (w == (ssize_t)len) {
			lines += in_buf;
			bytes += len;
			continue;
		}
		if (w < 0) {
			if (first_errno == 0)
				first_errno = errno;
		} else {
			/* A short write: the lines before the failed one applied. */
			for (ssize_t k = 0; k < w; k++)
				if (buf[k] == '\n')
					lines++;
			bytes += (uint64_t)w;
			if (first_errno == 0)
				first_errno = -1;
		}
		errors++;
		if (!keep_going) {
			fprintf(stderr, "wqbench: write %s: %s\n", path,
				w < 0 ? strerror(first_errno) : "short write");
			break;
		}
	}
	t1 = now_s();
	close(fd);
	printf("writes=%lu lines=%lu bytes=%" PRIu64 " seconds=%.6f errors=%lu errno=%s\n",
	       writes, lines, bytes, t1 - t0, errors,
	       first_errno > 0 ? strerrorname_np(first_errno) :
	       first_errno < 0 ? "short" : "-");
	free(buf);
	free(pre);
	return errors && !keep_going ? 1 : 0;
}

static int cmd_read(int argc, char **argv)
{
	const char *path;
	double seconds = 0, t0, t_last, t;
	bool quiet_stop = false;
	static char buf[65536];
	char carry[128];
	size_t carry_len = 0;
	unsigned long rows = 0, lost = 0;
	uint64_t bytes = 0;
	int opt, fd;

	if (argc < 2)
		usage();
	path = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "t:q")) != -1) {
		switch (opt) {
		case 't': seconds = strtod(optarg, NULL); break;
		case 'q': quiet_stop = true; break;
		default: usage();
		}
	}
	fd = open(path, O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "wqbench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	t0 = t_last = now_s();
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		t = now_s();
		if (seconds > 0 && t - t0 >= seconds)
			break;
		if (quiet_stop && bytes > 0 && t - t_last >= 0.5)
			break;
		n = read(fd, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				poll(&p, 1, 50);
				continue;
			}
			fprintf(stderr, "wqbench: read %s: %s\n", path, strerror(errno));
			return 1;
		}
		t_last = now_s();
		bytes += (uint64_t)n;
		for (ssize_t k = 0; k < n; k++) {
			char c = buf[k];

			if (carry_len < sizeof(carry) - 1)
				carry[carry_len++] = c;
			if (c != '\n')
				continue;
			carry[carry_len] = '\0';
			if (carry[0] == '#') {
				unsigned long l;

				if (sscanf(carry, "# lost %lu", &l) == 1)
					lost += l;
			} else {
				rows++;
			}
			carry_len = 0;
		}
	}
	t = (quiet_stop && bytes > 0) ? t_last : now_s();
	close(fd);
	printf("rows=%lu lost=%lu bytes=%" PRIu64 " seconds=%.6f\n",
	       rows, lost, bytes, t - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "write") == 0)
		return cmd_write(argc - 1, argv + 1);
	if (strcmp(argv[1], "read") == 0)
		return cmd_read(argc - 1, argv + 1);
	usage();
	return 2;
}
