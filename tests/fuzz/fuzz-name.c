/* SPDX-License-Identifier: MIT */
/*
 * fuzz-name.c - wqfs_valid_name() against an oracle, and the same bytes
 * as NAME in the lines that take one: "NAME: x" to submit, "NAME" to
 * cancel and flush.
 *
 * Input: the whole input is the name.
 */
#include "fuzz.h"

#include <string.h>

#define HZ	250

static bool same_name(const struct wqfs_line *l, const char *s, size_t len)
{
	return strlen(l->name) == len && !memcmp(l->name, s, len);
}

static void check_in_lines(const char *s, size_t len, bool ok)
{
	char line[WQFS_NAME_MAX + 4];
	struct wqfs_line l;
	int ret;

	ret = wqfs_parse_line(WQFS_CTL_CANCEL, s, len, HZ, &l);
	CHECK(ret || (l.all && !l.name[0]) || fuzz_name_ok(l.name, strlen(l.name)));
	if (ok)
		CHECK(ret == 0 && same_name(&l, s, len));
	ret = wqfs_parse_line(WQFS_CTL_FLUSH, s, len, HZ, &l);
	if (ok)
		CHECK(ret == 0 && same_name(&l, s, len));
	if (!ok)
		return;
	memcpy(line, s, len);
	memcpy(line + len, ": x", 3);
	ret = wqfs_parse_line(WQFS_CTL_SUBMIT, line, len + 3, HZ, &l);
	CHECK(ret == 0 && same_name(&l, s, len));
	CHECK(l.command == line + len + 2 && l.command_len == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	bool ok = fuzz_name_ok(s, size);

	CHECK(wqfs_valid_name(s, size) == ok);
	check_in_lines(s, size, ok);
	return 0;
}
