/* SPDX-License-Identifier: MIT */
/*
 * fuzz-attr.c - the attribute parsers and wqfs_format_cpumask().
 *
 * Input: byte 0 picks ncpus (0xff: CPU_SETSIZE, else 1 + byte % 130), the
 * rest is given to every attribute parser as a value and, read as bits,
 * is a mask that must survive format -> parse and list -> parse.
 */
#include "fuzz.h"

#include <string.h>

#define MASK_TEXT_MAX	(CPU_SETSIZE * 6)

static void check_ints(const char *s, size_t len)
{
	int v;
	bool b;
	int ret = wqfs_parse_max_active(s, len, &v);

	CHECK(ret == 0 || ret == -EINVAL);
	CHECK(ret || (v >= 1 && v <= 512));
	ret = wqfs_parse_nice(s, len, &v);
	CHECK(ret == 0 || ret == -EINVAL);
	CHECK(ret || (v >= -20 && v <= 19));
	ret = wqfs_parse_bool(s, len, &b);
	CHECK(ret == 0 || ret == -EINVAL);
}

static bool mask_in_range(const cpu_set_t *mask, int ncpus)
{
	int n = 0;

	for (int cpu = 0; cpu < ncpus; cpu++)
		n += CPU_ISSET(cpu, mask) ? 1 : 0;
	return n > 0 && n == CPU_COUNT(mask);
}

/* mask as a list, "0-3,7" */
static size_t format_list(const cpu_set_t *mask, int ncpus, char *buf)
{
	size_t n = 0;

	for (int cpu = 0; cpu < ncpus; cpu++) {
		int last = cpu;

		if (!CPU_ISSET(cpu, mask))
			continue;
		while (last + 1 < ncpus && CPU_ISSET(last + 1, mask))
			last++;
		n += (size_t)sprintf(buf + n, "%s%d-%d", n ? "," : "",
				     cpu, last);
		cpu = last;
	}
	return n;
}

/* parse(format(mask)) == mask, in hex and as a list */
static void check_round_trip(const cpu_set_t *mask, int ncpus)
{
	char buf[MASK_TEXT_MAX];
	size_t digits = ((size_t)ncpus + 3) / 4;
	size_t n = wqfs_format_cpumask(mask, ncpus, buf, sizeof(buf));
	cpu_set_t back;

	CHECK(n == digits + (digits - 1) / 8 + 1 && buf[n - 1] == '\n');
	CHECK(wqfs_parse_cpumask(buf, n, ncpus, &back) == 0);
	CHECK(CPU_EQUAL(mask, &back));
	n = format_list(mask, ncpus, buf);
	CHECK(wqfs_parse_cpumask(buf, n, ncpus, &back) == 0);
	CHECK(CPU_EQUAL(mask, &back));
}

static void check_cpumask(const char *s, size_t len, int ncpus)
{
	cpu_set_t mask;
	int ret = wqfs_parse_cpumask(s, len, ncpus, &mask);

	CHECK(ret == 0 || ret == -EINVAL);
	if (ret)
		return;
	CHECK(mask_in_range(&mask, ncpus));
	check_round_trip(&mask, ncpus);
}

static void check_bits(const uint8_t *bits, size_t size, int ncpus)
{
	cpu_set_t mask;

	CPU_ZERO(&mask);
	for (size_t cpu = 0; cpu < (size_t)ncpus && cpu / 8 < size; cpu++)
		if (bits[cpu / 8] & (1u << (cpu % 8)))
			CPU_SET(cpu, &mask);
	if (CPU_COUNT(&mask))
		check_round_trip(&mask, ncpus);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	int ncpus;

	if (size < 1)
		return 0;
	ncpus = data[0] == 0xff ? CPU_SETSIZE : 1 + data[0] % 130;
	check_ints(s, size - 1);
	check_cpumask(s, size - 1, ncpus);
	check_bits(data + 1, size - 1, ncpus);
	return 0;
}
