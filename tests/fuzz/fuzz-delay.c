/* SPDX-License-Identifier: MIT */
/*
 * fuzz-delay.c - wqfs_parse_delay() against an oracle written apart from
 * it: a syntax check by hand and the value by strtold().  The grammar, as
 * parse.h states it: DIGITS (jiffies), or a decimal with a unit, attached
 * ("5s") or after blanks ("5 sec"); a unit is one of the spellings below.
 *
 * Input: byte 0 picks hz (fuzz_hz), the rest is the DELAY.
 */
#include "fuzz.h"

#include <math.h>
#include <string.h>

/* The unit s names (all of its len bytes), in ns; 0 when it is none. */
static long double unit_ns(const char *s, size_t len)
{
	static const struct {
		const char *name;
		long double ns;
	} units[] = {
		{ "ns", 1 }, { "nsec", 1 }, { "nsecs", 1 },
		{ "nanosecond", 1 }, { "nanoseconds", 1 },
		{ "us", 1e3L }, { "usec", 1e3L }, { "usecs", 1e3L },
		{ "microsecond", 1e3L }, { "microseconds", 1e3L },
		{ "ms", 1e6L }, { "msec", 1e6L }, { "msecs", 1e6L },
		{ "millisecond", 1e6L }, { "milliseconds", 1e6L },
		{ "s", 1e9L }, { "sec", 1e9L }, { "secs", 1e9L },
		{ "second", 1e9L }, { "seconds", 1e9L },
		{ "m", 60e9L }, { "min", 60e9L }, { "mins", 60e9L },
		{ "minute", 60e9L }, { "minutes", 60e9L },
		{ "h", 3600e9L }, { "hr", 3600e9L }, { "hrs", 3600e9L },
		{ "hour", 3600e9L }, { "hours", 3600e9L },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == len &&
		    !memcmp(s, units[i].name, len))
			return units[i].ns;
	return 0;
}

/*
 * The oracle: the value of s in ns (unrounded), or -1 when s is not
 * DIGITS (jiffies, hz > 0) or [DIGITS][.[DIGITS]][BLANKS]UNIT with a
 * digit (BLANKS: spaces, tabs, '\r'; UNIT up to the end of s).
 */
static long double expect_ns(const char *s, size_t len, unsigned int hz)
{
	size_t n = 0, u, digits = 0, dots = 0;
	long double unit, v;
	char *num;

	for (; n < len && ((s[n] >= '0' && s[n] <= '9') || s[n] == '.'); n++) {
		if (s[n] == '.')
			dots++;
		else
			digits++;
	}
	if (!digits || dots > 1)
		return -1;
	if (n == len && (dots || !hz))
		return -1;
	for (u = n; u < len && (s[u] == ' ' || s[u] == '\t' || s[u] == '\r');)
		u++;
	unit = n == len ? 1e9L / hz : unit_ns(s + u, len - u);
	if (unit == 0)
		return -1;
	num = strndup(s, n);
	CHECK(num);
	v = strtold(num, NULL) * unit;
	free(num);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	long double want, max = (long double)WQFS_DELAY_MAX_NS;
	uint64_t ns = UINT64_MAX;
	unsigned int hz;
	int ret;

	if (size < 1)
		return 0;
	hz = fuzz_hz(data[0]);
	size--;
	ret = wqfs_parse_delay(s, size, hz, &ns);
	want = expect_ns(s, size, hz);
	CHECK(fuzz_is_errno(ret));
	CHECK((ret == -EINVAL) == (want < 0));
	if (ret == -ERANGE)
		CHECK(want > max - 1);
	if (ret == 0) {
		CHECK(ns <= WQFS_DELAY_MAX_NS);
		CHECK(fabsl((long double)ns - want) <=
		      0.5L + 1e-6L + want * 1e-18L);
	}
	return 0;
}
