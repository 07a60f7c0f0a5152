/* SPDX-License-Identifier: MIT */
/*
 * fuzz-line.c - wqfs_next_line() and wqfs_parse_line() on a write buffer.
 *
 * Input: byte 0 picks the control file ('0' submit, '1' delay, '2' modify,
 * '3' cancel, '4' flush, '5' drain, '6' after, any byte modulo 7), byte 1
 * picks hz (fuzz_hz),
 * the rest is the buffer written, split into lines and each line parsed.
 */
#include "fuzz.h"

#include <string.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* What every control file's answer must satisfy. */
static void check_common(const char *line, size_t len,
			 const struct wqfs_line *l)
{
	size_t nlen = strnlen(l->name, sizeof(l->name));

	CHECK(nlen <= WQFS_NAME_MAX);
	CHECK(nlen == 0 || fuzz_name_ok(l->name, nlen));
	CHECK(len <= WQFS_LINE_MAX);
	CHECK(!memchr(line, '\0', len));
	if (!l->command) {
		CHECK(l->command_len == 0);
	} else {
		CHECK(l->command >= line && l->command_len > 0);
		CHECK(l->command_len <= len - (size_t)(l->command - line));
		CHECK(!is_blank(l->command[0]));
		CHECK(!is_blank(l->command[l->command_len - 1]));
	}
	if (l->has_delay)
		CHECK(l->delay_ns <= WQFS_DELAY_MAX_NS);
}

/* What each control file's grammar promises on success. */
static void check_ctl(enum wqfs_ctl ctl, const struct wqfs_line *l)
{
	bool named = l->name[0] != '\0';

	switch (ctl) {
	case WQFS_CTL_SUBMIT:
		CHECK(!l->has_delay && (named || l->command));
		break;
	case WQFS_CTL_DELAY:
		CHECK(l->has_delay && (named || l->command));
		break;
	case WQFS_CTL_MODIFY:
		CHECK(l->has_delay && named && !l->command);
		break;
	case WQFS_CTL_CANCEL:
		CHECK(!l->has_delay && named != l->all && !l->command);
		break;
	case WQFS_CTL_FLUSH:
		CHECK(!l->has_delay && !l->command);
		break;
	case WQFS_CTL_DRAIN:
		CHECK(!l->has_delay && !named && !l->command);
		break;
	case WQFS_CTL_AFTER:
		CHECK(!l->has_delay && named && !l->command && l->ndeps <= WQFS_AFTER_MAX);
		for (size_t i = 0; i < l->ndeps; i++) {
			const struct wqfs_dep *d = &l->deps[i];
			CHECK(d->qlen == 0 || fuzz_name_ok(d->queue, d->qlen));
			CHECK(fuzz_name_ok(d->work, d->wlen));
		}
		break;
	}
	if (ctl != WQFS_CTL_AFTER)
		CHECK(l->ndeps == 0);
}

static void check_line(enum wqfs_ctl ctl, const char *line, size_t len,
		       unsigned int hz)
{
	struct wqfs_line l;
	int ret = wqfs_parse_line(ctl, line, len, hz, &l);

	CHECK(fuzz_is_errno(ret) || ret == -E2BIG);
	/* E2BIG: a line over the limit, or an after line with too many DEPs */
	CHECK(len <= WQFS_LINE_MAX || ret == -E2BIG);
	CHECK(ret != -E2BIG || len > WQFS_LINE_MAX || ctl == WQFS_CTL_AFTER);
	if (ret)
		return;
	check_common(line, len, &l);
	check_ctl(ctl, &l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data + 2, *line;
	size_t pos = 0, len, prev = 0;
	enum wqfs_ctl ctl;
	unsigned int hz;

	if (size < 2)
		return 0;
	ctl = (enum wqfs_ctl)((data[0] - '0' + 7u) % 7);
	hz = fuzz_hz(data[1]);
	size -= 2;
	while (wqfs_next_line(buf, size, &pos, &line, &len)) {
		CHECK(line == buf + prev && pos > prev && pos <= size);
		CHECK(len == pos - prev ||
		      (len == pos - prev - 1 && line[len] == '\n'));
		CHECK(!memchr(line, '\n', len));
		check_line(ctl, line, len, hz);
		prev = pos;
	}
	CHECK(pos == size);
	return 0;
}
