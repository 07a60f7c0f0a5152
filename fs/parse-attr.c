/* SPDX-License-Identifier: MIT */
/*
 * parse-attr.c - the values written to a queue's attribute files
 * (max_active, nice, per_cpu, frozen, requeue_lost, cpumask), as sysfs
 * stores take them; the grammar is in parse.h.
 */
#include "parse.h"
#include "parse-internal.h"

#include <errno.h>
#include <string.h>

#define MAX_ACTIVE_LIMIT	512
#define NICE_MIN		(-20)
#define NICE_MAX		19
#define HEX_GROUP_DIGITS	8	/* a 32-bit group of a sysfs mask */

/* ---- attributes ------------------------------------------------------- */

/* As sysfs stores take a value: blanks around it and one '\n' at its end. */
static struct span attr_value(const char *s, size_t len)
{
	struct span v = trim(span_of(s, len));

	if (v.len && v.s[v.len - 1] == '\n')
		v = trim_end(span_of(v.s, v.len - 1));
	return v;
}

int wqfs_parse_max_active(const char *s, size_t len, int *out)
{
	int v;

	if (scan_int(attr_value(s, len), &v) || v <= 0)
		return -EINVAL;
	*out = v > MAX_ACTIVE_LIMIT ? MAX_ACTIVE_LIMIT : v;
	return 0;
}

int wqfs_parse_nice(const char *s, size_t len, int *out)
{
	int v;

	if (scan_int(attr_value(s, len), &v) || v < NICE_MIN || v > NICE_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

int wqfs_parse_bool(const char *s, size_t len, bool *out)
{
	struct span v = attr_value(s, len);

	if (v.len != 1 || (v.s[0] != '0' && v.s[0] != '1'))
		return -EINVAL;
	*out = v.s[0] == '1';
	return 0;
}

/* ---- cpumask ---------------------------------------------------------- */

static int clamp_ncpus(int ncpus)
{
	return ncpus > CPU_SETSIZE ? CPU_SETSIZE : ncpus;
}

static bool has_hex_prefix(struct span v)
{
	return v.len >= 2 && v.s[0] == '0' && (v.s[1] == 'x' || v.s[1] == 'X');
}

/*
 * Hex digits in comma-separated groups, every group after the first of
 * exactly 8 digits (32 bits), as sysfs prints a mask.
 */
static bool hex_shape(struct span v)
{
	struct span group;
	bool more, first = true;

	do {
		more = split_at(v, ',', &group, &v);
		if (!group.len || !all_digits(group, 16) ||
		    (!first && group.len != HEX_GROUP_DIGITS))
			return false;
		first = false;
	} while (more);
	return true;
}

/* A list has a '-', or commas that do not separate 8-digit hex groups. */
static bool is_cpulist(struct span v)
{
	if (find(v, '-') < v.len)
		return true;
	if (has_hex_prefix(v))
		return false;
	return find(v, ',') < v.len && !hex_shape(v);
}

static int set_cpu(size_t cpu, int ncpus, cpu_set_t *set)
{
	if (cpu >= (size_t)ncpus)
		return -EINVAL;
	CPU_SET(cpu, set);
	return 0;
}

static int parse_cpuhex(struct span v, int ncpus, cpu_set_t *set)
{
	size_t bit = 0;

	if (has_hex_prefix(v))
		v = span_from(v, 2);
	if (!hex_shape(v))
		return -EINVAL;
	for (size_t i = v.len; i-- > 0;) {
		int d = digit_value(v.s[i], 16);

		if (d < 0)		/* a ',' */
			continue;
		for (unsigned int b = 0; b < 4; b++)
			if ((d & (1 << b)) && set_cpu(bit + b, ncpus, set))
				return -EINVAL;
		bit += 4;
	}
	return 0;
}

/* N or N-M, N <= M */
static int parse_cpurange(struct span item, int ncpus, cpu_set_t *set)
{
	struct span lo, hi;
	bool range = split_at(item, '-', &lo, &hi);
	uint64_t a, b;

	if (scan_uint(lo, 10, (uint64_t)ncpus - 1, &a))
		return -EINVAL;
	if (!range)
		b = a;
	else if (scan_uint(hi, 10, (uint64_t)ncpus - 1, &b) || a > b)
		return -EINVAL;
	while (a <= b)
		set_cpu(a++, ncpus, set);
	return 0;
}

static int parse_cpulist(struct span v, int ncpus, cpu_set_t *set)
{
	struct span item;
	bool more;

	do {
		more = split_at(v, ',', &item, &v);
		if (parse_cpurange(item, ncpus, set))
			return -EINVAL;
	} while (more);
	return 0;
}

int wqfs_parse_cpumask(const char *s, size_t len, int ncpus, cpu_set_t *out)
{
	struct span v = attr_value(s, len);
	cpu_set_t set;
	int ret;

	if (ncpus <= 0)
		return -EINVAL;
	ncpus = clamp_ncpus(ncpus);
	CPU_ZERO(&set);
	if (is_cpulist(v))
		ret = parse_cpulist(v, ncpus, &set);
	else
		ret = parse_cpuhex(v, ncpus, &set);
	if (ret || CPU_COUNT(&set) == 0)
		return -EINVAL;
	*out = set;
	return 0;
}

size_t wqfs_format_cpumask(const cpu_set_t *mask, int ncpus, char *buf,
			   size_t size)
{
	char tmp[CPU_SETSIZE / 4 + CPU_SETSIZE / 32 + 2];
	size_t n = 0, digits;

	ncpus = clamp_ncpus(ncpus < 1 ? 1 : ncpus);
	digits = ((size_t)ncpus + 3) / 4;
	for (size_t k = digits; k-- > 0;) {
		unsigned int d = 0;

		for (size_t b = 0; b < 4; b++) {
			size_t cpu = 4 * k + b;

			if (cpu < (size_t)ncpus && CPU_ISSET(cpu, mask))
				d |= 1u << b;
		}
		tmp[n++] = "0123456789abcdef"[d];
		if (k && k % HEX_GROUP_DIGITS == 0)
			tmp[n++] = ',';
	}
	tmp[n++] = '\n';
	if (!size)
		return 0;
	n = n < size - 1 ? n : size - 1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
	return n;
}

int wqfs_parse_attr(enum wqfs_attr a, const char *s, size_t len, int ncpus,
		    struct wqfs_attr_value *out)
{
	out->attr = a;
	switch (a) {
	case WQFS_ATTR_PER_CPU:
	case WQFS_ATTR_FROZEN:
	case WQFS_ATTR_REQUEUE_LOST:
		return wqfs_parse_bool(s, len, &out->on);
	case WQFS_ATTR_MAX_ACTIVE:
		return wqfs_parse_max_active(s, len, &out->n);
	case WQFS_ATTR_NICE:
		return wqfs_parse_nice(s, len, &out->n);
	case WQFS_ATTR_CPUMASK:
		return wqfs_parse_cpumask(s, len, ncpus, &out->mask);
	}
	return -EINVAL;
}

