/* SPDX-License-Identifier: MIT */
/*
 * fs-parse.c - unit tests of fs/parse.c, table-driven, one GTest path per
 * rule of parse.h.
 */
#include "parse.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define HZ	250
#define SEC	UINT64_C(1000000000)

/* ---- lines ------------------------------------------------------------- */

struct line_case {
	enum wqfs_ctl ctl;
	const char *in;
	int ret;
	const char *name;	/* expected name ("" none); NULL: don't care */
	const char *command;	/* expected command, NULL for none */
	bool has_delay;
	uint64_t delay_ns;
};

static void check_line(const struct line_case *c)
{
	struct wqfs_line l;
	int ret = wqfs_parse_line(c->ctl, c->in, strlen(c->in), HZ, &l);

	g_test_message("ctl %d line \"%s\"", c->ctl, c->in);
	g_assert_cmpint(ret, ==, c->ret);
	if (ret)
		return;
	if (c->name)
		g_assert_cmpstr(l.name, ==, c->name);
	if (c->command) {
		g_assert_nonnull(l.command);
		g_assert_true(l.command >= c->in &&
			      l.command + l.command_len <= c->in + strlen(c->in));
		g_assert_cmpmem(l.command, l.command_len,
				c->command, strlen(c->command));
	} else {
		g_assert_null(l.command);
	}
	g_assert_cmpint(l.has_delay, ==, c->has_delay);
	if (c->has_delay)
		g_assert_cmpuint(l.delay_ns, ==, c->delay_ns);
}

#define CHECK_LINES(cases) \
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) \
		check_line(&(cases)[i])

static void test_submit_named(void)
{
	static const struct line_case cases[] = {
		{ WQFS_CTL_SUBMIT, "tick: date", 0, "tick", "date" },
		{ WQFS_CTL_SUBMIT, "tick:\tdate -u  ", 0, "tick", "date -u" },
		{ WQFS_CTL_SUBMIT, "a.b-c_9:   echo a: b", 0, "a.b-c_9", "echo a: b" },
		{ WQFS_CTL_SUBMIT, "tick:", 0, "tick", NULL },
		{ WQFS_CTL_SUBMIT, "tick:   \t", 0, "tick", NULL },
		{ WQFS_CTL_SUBMIT, "-x: ls", 0, "-x", "ls" },
		{ WQFS_CTL_SUBMIT, ".x: ls", -EINVAL },
		{ WQFS_CTL_SUBMIT, "..:", -EINVAL },
	};

	CHECK_LINES(cases);
}

static void test_submit_anonymous(void)
{
	static const struct line_case cases[] = {
		{ WQFS_CTL_SUBMIT, "make -C ~/src", 0, "", "make -C ~/src" },
		{ WQFS_CTL_SUBMIT, "  \tdate  ", 0, "", "date" },
		{ WQFS_CTL_SUBMIT, " tick: date", 0, "", "tick: date" },
		{ WQFS_CTL_SUBMIT, "x", 0, "", "x" },
		{ WQFS_CTL_SUBMIT, "", -EINVAL },
		{ WQFS_CTL_SUBMIT, " \t ", -EINVAL },
		{ WQFS_CTL_SUBMIT, ":", 0, "", ":" },
		{ WQFS_CTL_SUBMIT, ": x", 0, "", ": x" },
	};

	CHECK_LINES(cases);
}

static void test_word_colon(void)
{
	char long_word[WQFS_NAME_MAX + 8];
	static const struct line_case cases[] = {
		{ WQFS_CTL_SUBMIT, "http://x", 0, "", "http://x" },
		{ WQFS_CTL_SUBMIT, "a:b", 0, "", "a:b" },
		{ WQFS_CTL_SUBMIT, "a::", 0, "", "a::" },
		{ WQFS_CTL_SUBMIT, "a b: c", 0, "", "a b: c" },
		{ WQFS_CTL_SUBMIT, "a/b: c", 0, "", "a/b: c" },
	};
	struct line_case c = { WQFS_CTL_SUBMIT, long_word, 0, "", long_word };

	CHECK_LINES(cases);
	/* 65 name characters then ": " is not a NAME, so a command */
	memset(long_word, 'a', WQFS_NAME_MAX + 1);
	strcpy(long_word + WQFS_NAME_MAX + 1, ": x");
	check_line(&c);
}

static void test_delay_lines(void)
{
	static const struct line_case cases[] = {
		{ WQFS_CTL_DELAY, "tick: 2s date", 0, "tick", "date", true, 2 * SEC },
		{ WQFS_CTL_DELAY, "tick:  250 \t date  -u", 0, "tick", "date  -u", true, SEC },
		{ WQFS_CTL_DELAY, "tick: 1.5s", 0, "tick", NULL, true, 3 * SEC / 2 },
		{ WQFS_CTL_DELAY, "1ms date", 0, "", "date", true, 1000000 },
		{ WQFS_CTL_DELAY, "  1ms date", 0, "", "date", true, 1000000 },
		{ WQFS_CTL_DELAY, "1ms", -EINVAL },
		{ WQFS_CTL_DELAY, "tick:", -EINVAL },
		{ WQFS_CTL_DELAY, "tick: date", -EINVAL },
		{ WQFS_CTL_DELAY, "date", -EINVAL },
		{ WQFS_CTL_DELAY, "", -EINVAL },
		{ WQFS_CTL_DELAY, "tick: 367d x", -EINVAL },
		{ WQFS_CTL_DELAY, "tick: 9000h x", -ERANGE },
		{ WQFS_CTL_DELAY, "tick:1s x", -EINVAL },
		{ WQFS_CTL_DELAY, "tick: 1 s x", 0, "tick", "x", true, SEC },
		{ WQFS_CTL_DELAY, "tick: 1 x", 0, "tick", "x", true, 4000000 },
		{ WQFS_CTL_DELAY, "tick: 1x s", -EINVAL },
	};

	CHECK_LINES(cases);
}

static void test_modify(void)
{
	static const struct line_case cases[] = {
		{ WQFS_CTL_MODIFY, "tick: 10ms", 0, "tick", NULL, true, 10000000 },
		{ WQFS_CTL_MODIFY, " tick:\t1 \r", 0, "tick", NULL, true, 4000000 },
		{ WQFS_CTL_MODIFY, "tick: 0", 0, "tick", NULL, true, 0 },
		{ WQFS_CTL_MODIFY, "tick: 1s date", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick:", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick", -EINVAL },
		{ WQFS_CTL_MODIFY, "1s", -EINVAL },
		{ WQFS_CTL_MODIFY, "", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: -1s", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 1 s", 0, "tick", NULL, true, SEC },
		{ WQFS_CTL_MODIFY, "tick: 1 x", -EINVAL },
	};

	CHECK_LINES(cases);
}

/* The typo: a unit word after the number is part of DELAY. */
static void test_delay_line_word_units(void)
{
	static const struct line_case cases[] = {
		{ WQFS_CTL_DELAY, "job: 5 sec echo hi", 0, "job", "echo hi", true, 5 * SEC },
		{ WQFS_CTL_DELAY, "5 sec echo hi", 0, "", "echo hi", true, 5 * SEC },
		{ WQFS_CTL_DELAY, "job:\t5\t sec \techo  hi \r", 0, "job", "echo  hi", true, 5 * SEC },
		{ WQFS_CTL_DELAY, "2 minutes date", 0, "", "date", true, 120 * SEC },
		{ WQFS_CTL_DELAY, "300 ms date", 0, "", "date", true, 300000000 },
		{ WQFS_CTL_DELAY, "1.5 h x", 0, "", "x", true, 5400 * SEC },
		{ WQFS_CTL_DELAY, ".5 s x", 0, "", "x", true, SEC / 2 },
		{ WQFS_CTL_DELAY, "5. s x", 0, "", "x", true, 5 * SEC },
		/* the command may begin with a unit word after a unit */
		{ WQFS_CTL_DELAY, "5 s s", 0, "", "s", true, 5 * SEC },
		{ WQFS_CTL_DELAY, "5s sec x", 0, "", "sec x", true, 5 * SEC },
		{ WQFS_CTL_DELAY, "5 sec 5 sec", 0, "", "5 sec", true, 5 * SEC },
		/* ... or, after jiffies, quoted for the shell */
		{ WQFS_CTL_DELAY, "5 's' x", 0, "", "'s' x", true, 20000000 },
		{ WQFS_CTL_DELAY, "5 \\s", 0, "", "\\s", true, 20000000 },
		/* not a unit word: the command, after jiffies */
		{ WQFS_CTL_DELAY, "5 echo hi", 0, "", "echo hi", true, 20000000 },
		{ WQFS_CTL_DELAY, "5 Sec echo", 0, "", "Sec echo", true, 20000000 },
		{ WQFS_CTL_DELAY, "5 secs2 x", 0, "", "secs2 x", true, 20000000 },
		{ WQFS_CTL_DELAY, "5 d x", 0, "", "d x", true, 20000000 },
		{ WQFS_CTL_DELAY, "5 sec:x", 0, "", "sec:x", true, 20000000 },
		/* a unit word only follows a bare number */
		{ WQFS_CTL_DELAY, "5s s", 0, "", "s", true, 5 * SEC },
		{ WQFS_CTL_DELAY, "1.5 x", -EINVAL },
		{ WQFS_CTL_DELAY, "x s y", -EINVAL },
		{ WQFS_CTL_DELAY, ". s x", -EINVAL },
		{ WQFS_CTL_DELAY, "1.2.3 s x", -EINVAL },
		/* DELAY alone: re-queues NAME, no command for a new work */
		{ WQFS_CTL_DELAY, "d: 5 sec", 0, "d", NULL, true, 5 * SEC },
		{ WQFS_CTL_DELAY, "d: 5 sec \t", 0, "d", NULL, true, 5 * SEC },
		{ WQFS_CTL_DELAY, "d: 5", 0, "d", NULL, true, 20000000 },
		{ WQFS_CTL_DELAY, "1 s", -EINVAL },
		{ WQFS_CTL_DELAY, "5 seconds", -EINVAL },
		{ WQFS_CTL_DELAY, "5 seconds  ", -EINVAL },
		/* an unknown attached unit is never a command */
		{ WQFS_CTL_DELAY, "job2: 5x echo hi", -EINVAL },
		{ WQFS_CTL_DELAY, "5x echo hi", -EINVAL },
		{ WQFS_CTL_DELAY, "5secs2 x", -EINVAL },
		{ WQFS_CTL_DELAY, "1.5q x", -EINVAL },
		{ WQFS_CTL_DELAY, "5Sec x", -EINVAL },
		{ WQFS_CTL_DELAY, "5days x", -EINVAL },
		{ WQFS_CTL_DELAY, "5x s x", -EINVAL },
		{ WQFS_CTL_DELAY, "5 9000 h x", 0, "", "9000 h x", true, 20000000 },
		{ WQFS_CTL_DELAY, "9000 h x", -ERANGE },
		{ WQFS_CTL_DELAY, "99999999999999999999 s x", -ERANGE },
		{ WQFS_CTL_DELAY, "-1 s x", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 5 sec", 0, "tick", NULL, true, 5 * SEC },
		{ WQFS_CTL_MODIFY, "tick: 5sec", 0, "tick", NULL, true, 5 * SEC },
		{ WQFS_CTL_MODIFY, "tick:\t2\tminutes\r", 0, "tick", NULL, true, 120 * SEC },
		{ WQFS_CTL_MODIFY, "tick: 1.5 ms", 0, "tick", NULL, true, 1500000 },
		{ WQFS_CTL_MODIFY, "tick: 5", 0, "tick", NULL, true, 20000000 },
		{ WQFS_CTL_MODIFY, "tick: 5 x", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 5x", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 5secs2", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 1.5q", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 5 sec x", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 5 s s", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 5s s", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 5 Sec", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 1.5", -EINVAL },
		{ WQFS_CTL_MODIFY, "tick: 9000 hours", -ERANGE },
	};

	CHECK_LINES(cases);
}

static void test_cancel_flush(void)
{
	static const struct line_case cases[] = {
		{ WQFS_CTL_CANCEL, "tick", 0, "tick", NULL },
		{ WQFS_CTL_CANCEL, "  w42 \t", 0, "w42", NULL },
		{ WQFS_CTL_CANCEL, "", -EINVAL },
		{ WQFS_CTL_CANCEL, "tick:", -EINVAL },
		{ WQFS_CTL_CANCEL, "a b", -EINVAL },
		{ WQFS_CTL_CANCEL, ".x", -EINVAL },
		{ WQFS_CTL_FLUSH, "", 0, "", NULL },
		{ WQFS_CTL_FLUSH, " \t\r", 0, "", NULL },
		{ WQFS_CTL_FLUSH, "tick", 0, "tick", NULL },
		{ WQFS_CTL_FLUSH, "tick x", -EINVAL },
		{ WQFS_CTL_FLUSH, "../x", -EINVAL },
	};

	CHECK_LINES(cases);
}

/* after: the DEPs, each "QUEUE/WORK" or "WORK", joined by blanks. */
static void check_after(const char *in, int ret, const char *name, const char *deps)
{
	struct wqfs_line l;

	g_test_message("after line \"%s\"", in);
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_AFTER, in, strlen(in), HZ, &l), ==, ret);
	if (ret)
		return;
	GString *s = g_string_new(NULL);
	for (size_t i = 0; i < l.ndeps; i++)
		g_string_append_printf(s, "%s%.*s%s%.*s", i ? " " : "",
				       (int)l.deps[i].qlen, l.deps[i].queue,
				       l.deps[i].qlen ? "/" : "",
				       (int)l.deps[i].wlen, l.deps[i].work);
	g_assert_cmpstr(l.name, ==, name);
	g_assert_cmpstr(s->str, ==, deps);
	g_assert_null(l.command);
	g_assert_false(l.has_delay);
	g_string_free(s, TRUE);
}

static void test_after(void)
{
	check_after("test: build", 0, "test", "build");
	check_after("  test:\tbuild  other/lint \r", 0, "test", "build other/lint");
	check_after("test:", 0, "test", "");
	check_after("test:  ", 0, "test", "");
	check_after("test", -EINVAL, NULL, NULL);
	check_after("test:build", -EINVAL, NULL, NULL);
	check_after(": build", -EINVAL, NULL, NULL);
	check_after(".t: build", -EINVAL, NULL, NULL);
	check_after("t: .b", -EINVAL, NULL, NULL);
	check_after("t: q/", -EINVAL, NULL, NULL);
	check_after("t: /b", -EINVAL, NULL, NULL);
	check_after("t: q/b/c", -EINVAL, NULL, NULL);
	check_after("t: a;b", -EINVAL, NULL, NULL);

	GString *many = g_string_new("t:");
	for (int i = 0; i < WQFS_AFTER_MAX; i++)
		g_string_append_printf(many, " w%d", i);
	struct wqfs_line l;
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_AFTER, many->str, many->len, HZ, &l), ==, 0);
	g_assert_cmpuint(l.ndeps, ==, WQFS_AFTER_MAX);
	g_string_append(many, " one-more");
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_AFTER, many->str, many->len, HZ, &l), ==, -E2BIG);
	g_string_free(many, TRUE);
}

static void test_line_crlf(void)
{
	static const struct line_case cases[] = {
		{ WQFS_CTL_SUBMIT, "tick: date\r", 0, "tick", "date" },
		{ WQFS_CTL_SUBMIT, "tick:\r", 0, "tick", NULL },
		{ WQFS_CTL_SUBMIT, "date\r", 0, "", "date" },
		{ WQFS_CTL_CANCEL, "tick\r", 0, "tick", NULL },
		{ WQFS_CTL_FLUSH, "\r", 0, "", NULL },
	};

	CHECK_LINES(cases);
}

static void test_line_bad_ctl(void)
{
	struct wqfs_line l;

	g_assert_cmpint(wqfs_parse_line((enum wqfs_ctl)99, "x", 1, HZ, &l),
			==, -EINVAL);
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_FLUSH, NULL, 0, HZ, &l), ==, 0);
	g_assert_cmpstr(l.name, ==, "");
}

static void test_line_e2big(void)
{
	size_t len = WQFS_LINE_MAX + 1;
	char *buf = g_malloc(len);
	struct wqfs_line l;

	memset(buf, 'x', len);
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_SUBMIT, buf, len, HZ, &l),
			==, -E2BIG);
	/* checked first: a NUL does not turn it into EINVAL */
	buf[0] = '\0';
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_FLUSH, buf, len, HZ, &l),
			==, -E2BIG);
	buf[0] = 'x';
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_SUBMIT, buf, len - 1, HZ, &l),
			==, 0);
	g_assert_cmpuint(l.command_len, ==, len - 1);
	g_free(buf);
}

static void test_line_nul(void)
{
	static const char *const lines[] = {
		"date\0x", "\0", "tick:\0", "tick: da\0te", "date \0",
	};
	static const size_t lens[] = { 6, 1, 6, 11, 6 };
	static const enum wqfs_ctl ctls[] = {
		WQFS_CTL_SUBMIT, WQFS_CTL_DELAY, WQFS_CTL_MODIFY,
		WQFS_CTL_CANCEL, WQFS_CTL_FLUSH,
	};
	struct wqfs_line l;

	for (size_t i = 0; i < G_N_ELEMENTS(lines); i++)
		for (size_t c = 0; c < G_N_ELEMENTS(ctls); c++)
			g_assert_cmpint(wqfs_parse_line(ctls[c], lines[i],
							lens[i], HZ, &l),
					==, -EINVAL);
}

/* ---- wqfs_next_line ---------------------------------------------------- */

static void check_lines(const char *buf, size_t size,
			const char *const *want, size_t nwant)
{
	size_t pos = 0, n = 0, len;
	const char *line;

	while (wqfs_next_line(buf, size, &pos, &line, &len)) {
		g_assert_cmpuint(n, <, nwant);
		g_assert_cmpmem(line, len, want[n], strlen(want[n]));
		n++;
	}
	g_assert_cmpuint(n, ==, nwant);
	g_assert_cmpuint(pos, ==, size);
}

static void test_next_line_basic(void)
{
	static const char *const want[] = { "a", "bc", "d" };

	check_lines("a\nbc\nd\n", 7, want, 3);
}

static void test_next_line_no_newline(void)
{
	static const char *const want[] = { "a", "bc" };

	check_lines("a\nbc", 4, want, 2);
	check_lines("", 0, NULL, 0);
	check_lines(NULL, 0, NULL, 0);
}

static void test_next_line_empty(void)
{
	static const char *const one[] = { "" };
	static const char *const three[] = { "", "a", "" };

	check_lines("\n", 1, one, 1);
	check_lines("\na\n\n", 4, three, 3);
}

static void test_next_line_crlf(void)
{
	static const char *const want[] = { "a\r", "b\r" };
	const char *buf = "tick: 1s date\r\n";
	size_t pos = 0, len;
	const char *line;
	struct wqfs_line l;

	check_lines("a\r\nb\r\n", 6, want, 2);
	g_assert_true(wqfs_next_line(buf, strlen(buf), &pos, &line, &len));
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_DELAY, line, len, HZ, &l),
			==, 0);
	g_assert_cmpmem(l.command, l.command_len, "date", 4);
}

static void test_next_line_long(void)
{
	size_t size = WQFS_LINE_MAX + 10;
	char *buf = g_malloc(size);
	size_t pos = 0, len;
	const char *line;

	memset(buf, 'x', size);
	buf[size - 2] = '\n';
	g_assert_true(wqfs_next_line(buf, size, &pos, &line, &len));
	g_assert_cmpuint(len, ==, size - 2);
	g_assert_true(wqfs_next_line(buf, size, &pos, &line, &len));
	g_assert_cmpuint(len, ==, 1);
	g_assert_false(wqfs_next_line(buf, size, &pos, &line, &len));
	g_free(buf);
}

/* ---- DELAY ------------------------------------------------------------- */

struct delay_case {
	const char *in;
	unsigned int hz;
	int ret;
	uint64_t ns;
};

static void check_delays(const struct delay_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t ns = 0;
		int ret = wqfs_parse_delay(c[i].in, strlen(c[i].in), c[i].hz, &ns);

		g_test_message("delay \"%s\" hz %u", c[i].in, c[i].hz);
		g_assert_cmpint(ret, ==, c[i].ret);
		if (!ret)
			g_assert_cmpuint(ns, ==, c[i].ns);
	}
}

static void test_delay_units(void)
{
	static const struct delay_case cases[] = {
		{ "7ns", HZ, 0, 7 },
		{ "7us", HZ, 0, 7000 },
		{ "7ms", HZ, 0, 7000000 },
		{ "7s", HZ, 0, 7 * SEC },
		{ "7m", HZ, 0, 420 * SEC },
		{ "7h", HZ, 0, 7 * 3600 * SEC },
		{ "0s", HZ, 0, 0 },
		{ "007s", HZ, 0, 7 * SEC },
		{ "7S", HZ, -EINVAL },
		{ "7sec", HZ, 0, 7 * SEC },
		{ "7d", HZ, -EINVAL },
		{ "7 s", HZ, 0, 7 * SEC },
		{ "7mss", HZ, -EINVAL },
		{ "7µs", HZ, -EINVAL },
	};

	check_delays(cases, G_N_ELEMENTS(cases));
}

static void test_delay_jiffies(void)
{
	static const struct delay_case cases[] = {
		{ "0", HZ, 0, 0 },
		{ "1", 250, 0, 4000000 },
		{ "250", 250, 0, SEC },
		{ "1", 1000, 0, 1000000 },
		{ "1", 300, 0, 3333333 },
		{ "2", 300, 0, 6666667 },		/* rounds to nearest */
		{ "1", 1, 0, SEC },
		{ "1", 4000000000u, 0, 0 },		/* 0.25 ns */
		{ "3", 4000000000u, 0, 1 },		/* 0.75 ns */
		{ "1", 0, -EINVAL },
		{ "99999999999999999999", 0, -EINVAL },	/* hz 0 first */
		{ "7889231", 250, 0, UINT64_C(31556924000000) },
		{ "7905600000", 250, 0, WQFS_DELAY_MAX_NS },
		{ "7905600001", 250, -ERANGE },
		{ "18446744073709551615", 1, -ERANGE },
		{ "18446744073709551616", 250, -ERANGE },
		{ "99999999999999999999999999", 250, -ERANGE },
		{ "1.5", 250, -EINVAL },
	};

	check_delays(cases, G_N_ELEMENTS(cases));
}

static void test_delay_decimals(void)
{
	static const struct delay_case cases[] = {
		{ "1.5s", HZ, 0, 1500000000 },
		{ ".5ms", HZ, 0, 500000 },
		{ "5.s", HZ, 0, 5 * SEC },
		{ "0.5ns", HZ, 0, 1 },			/* halves up */
		{ "0.49ns", HZ, 0, 0 },
		{ "1.4999999999999999999999ns", HZ, 0, 1 },
		{ "0.1m", HZ, 0, 6 * SEC },
		{ "0.25m", HZ, 0, 15 * SEC },
		{ "0.000000000001m", HZ, 0, 0 },	/* 0.06 ns */
		{ "0.00000000001m", HZ, 0, 1 },		/* 0.6 ns */
		{ "0.000000000025m", HZ, 0, 2 },	/* 1.5 ns */
		{ "1.000000000000000000000000001h", HZ, 0, 3600 * SEC },
		{ "0.0000000000001389h", HZ, 0, 1 },	/* 0.50004 ns */
		{ "0.0000000000001388h", HZ, 0, 0 },	/* 0.49968 ns */
		{ "1.123456789s", HZ, 0, 1123456789 },
		{ "1.1234567895s", HZ, 0, 1123456790 },
		{ "1.1234567894999s", HZ, 0, 1123456789 },
		{ ".s", HZ, -EINVAL },
		{ ".", HZ, -EINVAL },
		{ "1..5s", HZ, -EINVAL },
		{ "1.2.3s", HZ, -EINVAL },
		{ "1,5s", HZ, -EINVAL },
	};

	check_delays(cases, G_N_ELEMENTS(cases));
}

static void test_delay_erange(void)
{
	static const struct delay_case cases[] = {
		{ "8784h", HZ, 0, WQFS_DELAY_MAX_NS },
		{ "527040m", HZ, 0, WQFS_DELAY_MAX_NS },
		{ "31622400s", HZ, 0, WQFS_DELAY_MAX_NS },
		{ "31622400000000000ns", HZ, 0, WQFS_DELAY_MAX_NS },
		{ "31622400000000001ns", HZ, -ERANGE },
		{ "31622400.000000001s", HZ, -ERANGE },
		{ "31622400.0000000004s", HZ, 0, WQFS_DELAY_MAX_NS },
		{ "8785h", HZ, -ERANGE },
		{ "18446744073709551615ns", HZ, -ERANGE },
		{ "18446744073709551616ns", HZ, -ERANGE },
		{ "5124095576030431h", HZ, -ERANGE },	/* * 3.6e12 wraps */
		{ "99999999999999999999999999999s", HZ, -ERANGE },
		{ "0000000000000000000000000001s", HZ, 0, SEC },
	};

	check_delays(cases, G_N_ELEMENTS(cases));
}

/* Every spelling of every unit, as parse.h lists them. */
static const struct {
	const char *name;
	uint64_t ns;
} unit_spellings[] = {
	{ "ns", 1 }, { "nsec", 1 }, { "nsecs", 1 },
	{ "nanosecond", 1 }, { "nanoseconds", 1 },
	{ "us", 1000 }, { "usec", 1000 }, { "usecs", 1000 },
	{ "microsecond", 1000 }, { "microseconds", 1000 },
	{ "ms", 1000000 }, { "msec", 1000000 }, { "msecs", 1000000 },
	{ "millisecond", 1000000 }, { "milliseconds", 1000000 },
	{ "s", SEC }, { "sec", SEC }, { "secs", SEC },
	{ "second", SEC }, { "seconds", SEC },
	{ "m", 60 * SEC }, { "min", 60 * SEC }, { "mins", 60 * SEC },
	{ "minute", 60 * SEC }, { "minutes", 60 * SEC },
	{ "h", 3600 * SEC }, { "hr", 3600 * SEC }, { "hrs", 3600 * SEC },
	{ "hour", 3600 * SEC }, { "hours", 3600 * SEC },
};

/* Each spelling attached and as a word: "3U", "3 U", "3\t U", "1.5U"... */
static void test_delay_word_units(void)
{
	static const char *const numbers[] = {
		"3", "3 ", "3\t \r", "1.5", "1.5 ", ".5 ", "03.",
	};
	/* twice the value; halves round up ("1.5ns" is 2) */
	static const uint64_t times2[] = { 6, 6, 6, 3, 3, 1, 6 };

	for (size_t i = 0; i < G_N_ELEMENTS(unit_spellings); i++) {
		for (size_t f = 0; f < G_N_ELEMENTS(numbers); f++) {
			struct delay_case c = { NULL, HZ, 0,
				(unit_spellings[i].ns * times2[f] + 1) / 2 };
			char *in = g_strconcat(numbers[f],
					       unit_spellings[i].name, NULL);

			c.in = in;
			check_delays(&c, 1);
			g_free(in);
		}
	}
}

/* The same in delay and modify lines, with the command left over. */
static void test_delay_line_every_unit(void)
{
	for (size_t k = 0; k < G_N_ELEMENTS(unit_spellings); k++) {
		const char *u = unit_spellings[k].name;
		uint64_t ns = 2 * unit_spellings[k].ns;
		char *in[] = {
			g_strdup_printf("w: 2%s echo %s", u, u),
			g_strdup_printf("w: 2 %s echo %s", u, u),
			g_strdup_printf("2\t%s  %s x", u, u),
			g_strdup_printf("w: 2 %s", u),
			g_strdup_printf("w: 2%s", u),
			g_strdup_printf(" w:  2 %s ", u),
			g_strdup_printf("w: 2 %s x", u),
			g_strdup_printf("w: 2%s2 x", u),
			g_strdup_printf("w: 2 %sx", u),
		};
		char *echo = g_strdup_printf("echo %s", u);
		char *ux = g_strdup_printf("%s x", u);
		char *bad = g_strdup_printf("%sx", u);
		const struct line_case cases[] = {
			{ WQFS_CTL_DELAY, in[0], 0, "w", echo, true, ns },
			{ WQFS_CTL_DELAY, in[1], 0, "w", echo, true, ns },
			{ WQFS_CTL_DELAY, in[2], 0, "", ux, true, ns },
			{ WQFS_CTL_DELAY, in[3], 0, "w", NULL, true, ns },
			{ WQFS_CTL_DELAY, in[4], 0, "w", NULL, true, ns },
			{ WQFS_CTL_DELAY, in[7], -EINVAL },
			{ WQFS_CTL_DELAY, in[8], 0, "w", bad, true, 8000000 },
			{ WQFS_CTL_MODIFY, in[3], 0, "w", NULL, true, ns },
			{ WQFS_CTL_MODIFY, in[4], 0, "w", NULL, true, ns },
			{ WQFS_CTL_MODIFY, in[5], 0, "w", NULL, true, ns },
			{ WQFS_CTL_MODIFY, in[6], -EINVAL },
			{ WQFS_CTL_MODIFY, in[7], -EINVAL },
			{ WQFS_CTL_MODIFY, in[8], -EINVAL },
		};

		CHECK_LINES(cases);
		for (size_t j = 0; j < G_N_ELEMENTS(in); j++)
			g_free(in[j]);
		g_free(echo);
		g_free(ux);
		g_free(bad);
	}
}

/* Unknown units: attached is -EINVAL, case counts, no days. */
static void test_delay_bad_units(void)
{
	static const struct delay_case cases[] = {
		{ "5x", HZ, -EINVAL }, { "5secs2", HZ, -EINVAL },
		{ "1.5q", HZ, -EINVAL }, { "5 x", HZ, -EINVAL },
		{ "5 secs2", HZ, -EINVAL }, { "5 s ", HZ, -EINVAL },
		{ " 5 s", HZ, -EINVAL }, { "5 ", HZ, -EINVAL },
		{ "5\t", HZ, -EINVAL }, { "5 S", HZ, -EINVAL },
		{ "5 Sec", HZ, -EINVAL }, { "5SEC", HZ, -EINVAL },
		{ "5 s s", HZ, -EINVAL }, { "5s s", HZ, -EINVAL },
		{ "5 sec x", HZ, -EINVAL }, { "5 d", HZ, -EINVAL },
		{ "5 day", HZ, -EINVAL }, { "5days", HZ, -EINVAL },
		{ "5 w", HZ, -EINVAL }, { "5 second_", HZ, -EINVAL },
		{ "5 seco", HZ, -EINVAL }, { "5 secondss", HZ, -EINVAL },
		{ "5 nsecss", HZ, -EINVAL }, { "5 hours2", HZ, -EINVAL },
		{ "5\ns", HZ, -EINVAL }, { "5\vs", HZ, -EINVAL },
		{ ". s", HZ, -EINVAL }, { " s", HZ, -EINVAL },
		{ "sec", HZ, -EINVAL }, { "seconds", HZ, -EINVAL },
		{ "1.2.3 s", HZ, -EINVAL }, { "-5 s", HZ, -EINVAL },
		{ "+5 sec", HZ, -EINVAL }, { "1e3 sec", HZ, -EINVAL },
		{ "nan sec", HZ, -EINVAL }, { "inf seconds", HZ, -EINVAL },
		{ "0x10 s", HZ, -EINVAL },
		{ "5 sec", 0, 0, 5 * SEC },		/* hz only for jiffies */
		{ "8784 hours", HZ, 0, WQFS_DELAY_MAX_NS },
		{ "8785 hours", HZ, -ERANGE },
		{ "527041 minutes", HZ, -ERANGE },
		{ "31622400.000000001 seconds", HZ, -ERANGE },
		{ "99999999999999999999 s", HZ, -ERANGE },
	};
	uint64_t ns;

	check_delays(cases, G_N_ELEMENTS(cases));
	g_assert_cmpint(wqfs_parse_delay("5 s\0", 4, HZ, &ns), ==, -EINVAL);
	g_assert_cmpint(wqfs_parse_delay("5 \0s", 4, HZ, &ns), ==, -EINVAL);
	g_assert_cmpint(wqfs_parse_delay("5 sec", 4, HZ, &ns), ==, -EINVAL);
	g_assert_cmpint(wqfs_parse_delay("5 sec", 3, HZ, &ns), ==, 0);
	g_assert_cmpuint(ns, ==, 5 * SEC);
}

static void test_delay_garbage(void)
{
	static const struct delay_case cases[] = {
		{ "nan", HZ, -EINVAL }, { "inf", HZ, -EINVAL },
		{ "NaNs", HZ, -EINVAL }, { "infs", HZ, -EINVAL },
		{ "-1", HZ, -EINVAL }, { "-1s", HZ, -EINVAL },
		{ "+1s", HZ, -EINVAL }, { "1e99s", HZ, -EINVAL },
		{ "1e3", HZ, -EINVAL }, { "0x10", HZ, -EINVAL },
		{ "1 x", HZ, -EINVAL }, { " 1s", HZ, -EINVAL },
		{ "1s ", HZ, -EINVAL }, { "s", HZ, -EINVAL },
		{ "", HZ, -EINVAL }, { "ms", HZ, -EINVAL },
		{ "1s1", HZ, -EINVAL }, { "1ms5", HZ, -EINVAL },
		{ "99999999999999999999999x", HZ, -EINVAL },
	};
	uint64_t ns;

	check_delays(cases, G_N_ELEMENTS(cases));
	g_assert_cmpint(wqfs_parse_delay("1\0s", 3, HZ, &ns), ==, -EINVAL);
	g_assert_cmpint(wqfs_parse_delay(NULL, 0, HZ, &ns), ==, -EINVAL);
}

/* ---- names ------------------------------------------------------------- */

static void test_name_limits(void)
{
	char name[WQFS_NAME_MAX + 2];
	static const char *const good[] = {
		"a", "w42", "A-Z_a.z", "-", "_", "a..b", "0", "x.",
	};
	static const char *const bad[] = {
		"", ".", "..", ".x", "a/b", "/", "a b", " a", "a:", "é",
		"a\tb", "a\n", "a*",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_true(wqfs_valid_name(good[i], strlen(good[i])));
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_false(wqfs_valid_name(bad[i], strlen(bad[i])));
	memset(name, 'n', sizeof(name));
	g_assert_true(wqfs_valid_name(name, WQFS_NAME_MAX));
	g_assert_false(wqfs_valid_name(name, WQFS_NAME_MAX + 1));
	g_assert_false(wqfs_valid_name("a\0b", 3));
}

static void test_name_in_line(void)
{
	char line[WQFS_NAME_MAX + 8];
	struct wqfs_line l;

	memset(line, 'n', WQFS_NAME_MAX);
	strcpy(line + WQFS_NAME_MAX, ": x");
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_SUBMIT, line, strlen(line),
					HZ, &l), ==, 0);
	g_assert_cmpuint(strlen(l.name), ==, WQFS_NAME_MAX);
	g_assert_cmpmem(l.command, l.command_len, "x", 1);
	line[WQFS_NAME_MAX] = '\0';
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_CANCEL, line, WQFS_NAME_MAX,
					HZ, &l), ==, 0);
	line[WQFS_NAME_MAX] = 'n';
	g_assert_cmpint(wqfs_parse_line(WQFS_CTL_CANCEL, line,
					WQFS_NAME_MAX + 1, HZ, &l), ==, -EINVAL);
}

/* ---- attributes -------------------------------------------------------- */

struct int_case {
	const char *in;
	int ret;
	int value;
};

static void check_ints(int (*parse)(const char *, size_t, int *),
		       const struct int_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = -12345;
		int ret = parse(c[i].in, strlen(c[i].in), &v);

		g_test_message("attr \"%s\"", c[i].in);
		g_assert_cmpint(ret, ==, c[i].ret);
		g_assert_cmpint(v, ==, ret ? -12345 : c[i].value);
	}
}

static void test_attr_max_active(void)
{
	static const struct int_case cases[] = {
		{ "1", 0, 1 }, { "1\n", 0, 1 }, { " 16 \n", 0, 16 },
		{ "+3", 0, 3 }, { "512", 0, 512 }, { "513", 0, 512 },
		{ "2147483647", 0, 512 }, { "2147483648", -EINVAL },
		{ "99999999999999999999", -EINVAL },
		{ "0", -EINVAL }, { "-1", -EINVAL }, { "-2147483648", -EINVAL },
		{ "", -EINVAL }, { "\n", -EINVAL }, { "1\n\n", -EINVAL },
		{ "x", -EINVAL }, { "1x", -EINVAL }, { "0x10", -EINVAL },
		{ "1 2", -EINVAL }, { "1.0", -EINVAL }, { "+", -EINVAL },
		{ "-", -EINVAL }, { "--1", -EINVAL },
	};

	check_ints(wqfs_parse_max_active, cases, G_N_ELEMENTS(cases));
}

static void test_attr_nice(void)
{
	static const struct int_case cases[] = {
		{ "0", 0, 0 }, { "-20", 0, -20 }, { "19\n", 0, 19 },
		{ "\t-5 ", 0, -5 }, { "+7", 0, 7 }, { "-0", 0, 0 },
		{ "20", -EINVAL }, { "-21", -EINVAL }, { "", -EINVAL },
		{ "nice", -EINVAL }, { "4294967296", -EINVAL },
		{ "-2147483649", -EINVAL },
	};

	check_ints(wqfs_parse_nice, cases, G_N_ELEMENTS(cases));
}

static void test_attr_bool(void)
{
	static const struct { const char *in; int ret; bool v; } cases[] = {
		{ "0", 0, false }, { "1", 0, true }, { "1\n", 0, true },
		{ " 0 \n", 0, false }, { "2", -EINVAL }, { "", -EINVAL },
		{ "y", -EINVAL }, { "true", -EINVAL }, { "01", -EINVAL },
		{ "1\n\n", -EINVAL }, { "-1", -EINVAL },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		bool v = false;
		int ret = wqfs_parse_bool(cases[i].in, strlen(cases[i].in), &v);

		g_assert_cmpint(ret, ==, cases[i].ret);
		if (!ret)
			g_assert_cmpint(v, ==, cases[i].v);
	}
	g_assert_cmpint(wqfs_parse_bool("1\0", 2, &(bool){ 0 }), ==, -EINVAL);
}

struct mask_case {
	const char *in;
	int ncpus;
	int ret;
	const char *cpus;	/* expected set as a list, "0,1,5" */
};

static void mask_from_list(const char *cpus, cpu_set_t *set)
{
	char **v = g_strsplit(cpus, ",", -1);

	CPU_ZERO(set);
	for (char **p = v; *p; p++)
		CPU_SET((size_t)g_ascii_strtoull(*p, NULL, 10), set);
	g_strfreev(v);
}

static void check_masks(const struct mask_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cpu_set_t got, want;
		int ret;

		g_test_message("cpumask \"%s\" ncpus %d", c[i].in, c[i].ncpus);
		CPU_ZERO(&got);
		ret = wqfs_parse_cpumask(c[i].in, strlen(c[i].in), c[i].ncpus,
					 &got);
		g_assert_cmpint(ret, ==, c[i].ret);
		if (ret)
			continue;
		mask_from_list(c[i].cpus, &want);
		g_assert_true(CPU_EQUAL(&got, &want));
	}
}

static void test_attr_cpumask_hex(void)
{
	static const struct mask_case cases[] = {
		{ "3", 4, 0, "0,1" }, { "3\n", 4, 0, "0,1" },
		{ "0x3", 4, 0, "0,1" }, { "0X3", 4, 0, "0,1" },
		{ "f", 4, 0, "0,1,2,3" }, { "F", 4, 0, "0,1,2,3" },
		{ "1", 1, 0, "0" }, { "10", 8, 0, "4" }, { "4", 8, 0, "2" },
		{ "0004", 8, 0, "2" },
		{ "00000000000000000000000000000000000001", 2, 0, "0" },
		{ "00000000,00000003", 64, 0, "0,1" },
		{ "1,00000000", 64, 0, "32" },
		{ "0x1,00000001", 40, 0, "0,32" },
		{ "80000000,00000000,00000000", 96, 0, "95" },
		{ "f,ffffffff", 36, 0,
		  "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,"
		  "21,22,23,24,25,26,27,28,29,30,31,32,33,34,35" },
		{ "0", 4, -EINVAL }, { "00000000,00000000", 64, -EINVAL },
		{ "10", 4, -EINVAL },			/* CPU 4 of 4 */
		{ "1,00000000", 32, -EINVAL },
		{ "0x", 4, -EINVAL }, { "0x-1", 4, -EINVAL },
		{ "0x3,1", 64, -EINVAL }, { "g", 4, -EINVAL },
		{ "", 4, -EINVAL }, { "3", 0, -EINVAL }, { "3", -1, -EINVAL },
		{ "00000001,", 64, -EINVAL }, { ",00000001", 64, -EINVAL },
		{ "1 2", 4, -EINVAL },
	};

	check_masks(cases, G_N_ELEMENTS(cases));
}

static void test_attr_cpumask_list(void)
{
	static const struct mask_case cases[] = {
		{ "0-1", 4, 0, "0,1" }, { "0-1,3", 4, 0, "0,1,3" },
		{ "0,2", 4, 0, "0,2" }, { "2-2", 4, 0, "2" },
		{ "3,0-1\n", 4, 0, "0,1,3" }, { "1,1,1-1", 4, 0, "1" },
		{ "1023-1023", 4096, 0, "1023" },
		{ "4-4", 4, -EINVAL }, { "0-4", 4, -EINVAL },
		{ "2-1", 4, -EINVAL }, { "0-", 4, -EINVAL }, { "-1", 4, -EINVAL },
		{ "0,,1", 4, -EINVAL }, { "0,", 4, -EINVAL },
		{ "1-2-3", 4, -EINVAL }, { "a-b", 4, -EINVAL },
		{ "f,3", 64, -EINVAL }, { "0 - 1", 4, -EINVAL },
		{ "0-99999999999999999999999", 4, -EINVAL },
	};
	cpu_set_t set;

	check_masks(cases, G_N_ELEMENTS(cases));
	g_assert_cmpint(wqfs_parse_cpumask("0-1023", 6, 1024, &set), ==, 0);
	g_assert_cmpint(CPU_COUNT(&set), ==, 1024);
}

static void check_format(const char *cpus, int ncpus, const char *want)
{
	char buf[512];
	cpu_set_t set, back;
	size_t n;

	if (cpus[0])
		mask_from_list(cpus, &set);
	else
		CPU_ZERO(&set);
	n = wqfs_format_cpumask(&set, ncpus, buf, sizeof(buf));
	g_assert_cmpstr(buf, ==, want);
	g_assert_cmpuint(n, ==, strlen(want));
	if (strspn(want, "0,\n") == strlen(want))
		return;		/* an empty set does not parse back */
	g_assert_cmpint(wqfs_parse_cpumask(buf, n, ncpus, &back), ==, 0);
	g_assert_true(CPU_EQUAL(&set, &back));
}

static void test_attr_cpumask_format(void)
{
	char small[4];
	cpu_set_t set;

	check_format("0,1", 2, "3\n");
	check_format("0,1", 4, "3\n");
	check_format("0", 8, "01\n");
	check_format("7", 8, "80\n");
	check_format("0", 32, "00000001\n");
	check_format("0,32", 33, "1,00000001\n");
	check_format("35", 36, "8,00000000\n");
	check_format("0,39", 40, "80,00000001\n");
	check_format("63", 64, "80000000,00000000\n");
	check_format("0,95", 96, "80000000,00000000,00000001\n");
	check_format("", 4, "0\n");
	check_format("5", 4, "0\n");		/* CPUs past ncpus not shown */
	/* truncation */
	mask_from_list("0,32", &set);
	g_assert_cmpuint(wqfs_format_cpumask(&set, 64, small, sizeof(small)),
			 ==, 3);
	g_assert_cmpstr(small, ==, "000");
	g_assert_cmpuint(wqfs_format_cpumask(&set, 64, small, 0), ==, 0);
	g_assert_cmpuint(wqfs_format_cpumask(&set, 64, small, 1), ==, 0);
	g_assert_cmpstr(small, ==, "");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fs/parse/line/submit-named", test_submit_named);
	g_test_add_func("/fs/parse/line/submit-anonymous", test_submit_anonymous);
	g_test_add_func("/fs/parse/line/word-colon-without-space-is-command",
			test_word_colon);
	g_test_add_func("/fs/parse/line/delay", test_delay_lines);
	g_test_add_func("/fs/parse/line/modify", test_modify);
	g_test_add_func("/fs/parse/line/delay-word-units",
			test_delay_line_word_units);
	g_test_add_func("/fs/parse/line/delay-every-unit",
			test_delay_line_every_unit);
	g_test_add_func("/fs/parse/line/cancel-flush", test_cancel_flush);
	g_test_add_func("/fs/parse/line/after", test_after);
	g_test_add_func("/fs/parse/line/crlf", test_line_crlf);
	g_test_add_func("/fs/parse/line/bad-ctl", test_line_bad_ctl);
	g_test_add_func("/fs/parse/line/e2big", test_line_e2big);
	g_test_add_func("/fs/parse/line/nul", test_line_nul);
	g_test_add_func("/fs/parse/next-line/basic", test_next_line_basic);
	g_test_add_func("/fs/parse/next-line/no-trailing-newline",
			test_next_line_no_newline);
	g_test_add_func("/fs/parse/next-line/empty-line", test_next_line_empty);
	g_test_add_func("/fs/parse/next-line/crlf", test_next_line_crlf);
	g_test_add_func("/fs/parse/next-line/long", test_next_line_long);
	g_test_add_func("/fs/parse/delay/units", test_delay_units);
	g_test_add_func("/fs/parse/delay/jiffies-hz", test_delay_jiffies);
	g_test_add_func("/fs/parse/delay/decimals", test_delay_decimals);
	g_test_add_func("/fs/parse/delay/erange", test_delay_erange);
	g_test_add_func("/fs/parse/delay/garbage", test_delay_garbage);
	g_test_add_func("/fs/parse/delay/word-units", test_delay_word_units);
	g_test_add_func("/fs/parse/delay/bad-units", test_delay_bad_units);
	g_test_add_func("/fs/parse/name/limits", test_name_limits);
	g_test_add_func("/fs/parse/name/in-line", test_name_in_line);
	g_test_add_func("/fs/parse/attr/max-active", test_attr_max_active);
	g_test_add_func("/fs/parse/attr/nice", test_attr_nice);
	g_test_add_func("/fs/parse/attr/bool", test_attr_bool);
	g_test_add_func("/fs/parse/attr/cpumask-hex", test_attr_cpumask_hex);
	g_test_add_func("/fs/parse/attr/cpumask-list", test_attr_cpumask_list);
	g_test_add_func("/fs/parse/attr/cpumask-format",
			test_attr_cpumask_format);
	return g_test_run();
}
