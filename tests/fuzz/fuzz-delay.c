/* SPDX-License-Identifier: MIT */
/*
 * fuzz-delay.c - wqfs_parse_delay() against an oracle written apart from
 * it: a syntax check by hand and the value by strtold().
 *
 * Input: byte 0 picks hz (fuzz_hz), the rest is the DELAY.
 */
#include "fuzz.h"

#include <math.h>
#include <string.h>

/* The unit s names, in ns; 0 when it is none. */
static long double unit_ns(const char *s, size_t len)
{
	static const struct {
		const char *name;
		long double ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3L }, { "ms", 1e6L },
		{ "s", 1e9L }, { "m", 60e9L }, { "h", 3600e9L },
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == len &&
		    !memcmp(s, units[i].name, len))
			return units[i].ns;
	return 0;
}

/*
 * The oracle: the value of s in ns (unrounded), or -1 when s is not
 * DIGITS (jiffies, hz > 0) or [DIGITS][.[DIGITS]]UNIT with a digit.
 */
static long double expect_ns(const char *s, size_t len, unsigned int hz)
{
	size_t n = 0, digits = 0, dots = 0;
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
	unit = n == len ? 1e9L / hz : unit_ns(s + n, len - n);
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
