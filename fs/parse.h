/* SPDX-License-Identifier: MIT */
/*
 * parse.h - every parser of user bytes in wqfs, as pure functions.
 *
 * This module owns the grammar of the control files (submit, delay,
 * modify, cancel, flush, drain, after; the types are model/request.h's),
 * DELAY values, attribute values (max_active,
 * cpumask, nice, frozen, per_cpu) and queue and work names.  Nothing here
 * allocates, locks or touches the engine, so each function can be fuzzed
 * and unit-tested on its own.  Inputs are (pointer, length) pairs and need
 * not be NUL-terminated; a NUL byte inside is an invalid character.
 *
 * Every function returns 0 or a negative errno:
 *   -EINVAL  malformed (bad name, missing field, bad character, ...)
 *   -ERANGE  a number outside what the field holds (a DELAY over
 *            WQFS_DELAY_MAX_NS, a jiffy count that overflows, ...)
 *   -E2BIG   a line longer than WQFS_LINE_MAX
 */
#ifndef WQFS_PARSE_H
#define WQFS_PARSE_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "request.h"

/*
 * wqfs_parse_line - parse one line (without its '\n') of control file ctl.
 * hz converts a bare-integer DELAY from jiffies.  A line begins with NAME
 * only when it starts with 1..64 name characters followed by ':' and then
 * a space, a tab or the end of the line; anything else is a command (so a
 * command that must begin with "word:" is written with a leading space).
 * Such a prefix with an invalid NAME (".x: cmd") is -EINVAL.
 * Leading and trailing blanks around NAME, DELAY and COMMAND are dropped;
 * blanks are space, tab and '\r' (so CRLF lines work).
 * after: "NAME: DEP [DEP...]", DEP a WORK or QUEUE/WORK name, blanks
 * between; "NAME:" alone clears (ndeps 0); more than WQFS_AFTER_MAX DEPs
 * is -E2BIG.
 */
int wqfs_parse_line(enum wqfs_ctl ctl, const char *line, size_t len,
		    unsigned int hz, struct wqfs_line *out);

/*
 * wqfs_next_line - split a write buffer into lines.  Starting at *pos,
 * sets *line and *len to the next line without its '\n' and advances *pos
 * past it.  The last line needs no '\n' (echo -n works).  Returns false
 * when buf is used up; a trailing empty remainder is not a line, but an
 * empty line followed by '\n' is (flush takes it).  A line longer than
 * WQFS_LINE_MAX is still returned whole; wqfs_parse_line() answers E2BIG.
 */
bool wqfs_next_line(const char *buf, size_t size, size_t *pos,
		    const char **line, size_t *len);

/*
 * wqfs_lines_end - where the lines of a write end: data[0, len) is what a
 * descriptor holds (a line an earlier write began, then this write of
 * size bytes).  A write's last line ends with it, unless the write is a
 * stdio buffer's flush (a multiple of 4 KiB that does not end in '\n'):
 * then its last line waits for the next write, or the close.  len > 0.
 */
size_t wqfs_lines_end(const char *data, size_t len, size_t size);

/*
 * wqfs_parse_delay - DELAY: a bare integer is jiffies at hz; a number with
 * a unit is time, decimals allowed ("1.5s", ".5ms", "5.s"; at least one
 * digit).  The unit is attached ("5s", "2minutes") or the next word after
 * blanks ("5 sec", "300 ms"); it is one of (case-sensitive):
 *   ns us ms s m h, nsec usec msec sec min hr,
 *   nsecs usecs msecs secs mins hrs,
 *   nanosecond(s) microsecond(s) millisecond(s) second(s) minute(s) hour(s)
 * Anything else after the number is -EINVAL ("5x", "5secs2", "5 s x").
 * No sign, no exponent, no blanks before or after.  Rounds to the nearest
 * ns, halves up; past WQFS_DELAY_MAX_NS is -ERANGE.  hz 0 with a bare
 * integer is -EINVAL.
 *
 * In a line, DELAY is the first blank-separated word after NAME, and the
 * second one too when the first is a bare number and the second a unit
 * word: in delay, "5 sec echo hi" is 5 s then COMMAND "echo hi", "5 echo
 * hi" 5 jiffies then "echo hi", "5x echo hi" -EINVAL.  So a command whose
 * first word is a unit word, after a bare number of jiffies, is quoted
 * ("5 's'"), since "5 s" is 5 seconds.
 */
int wqfs_parse_delay(const char *s, size_t len, unsigned int hz, uint64_t *ns);

/* 1..64 of [A-Za-z0-9_.-], not starting with '.' */
bool wqfs_valid_name(const char *s, size_t len);

/*
 * Attribute values, as sysfs takes them: surrounding blanks and one
 * trailing '\n' are ignored.
 *   max_active: a decimal integer; <= 0 or not a number is -EINVAL;
 *               larger than 512 is clamped to 512 (the kernel's rule).
 *   nice:       a decimal integer in -20..19, else -EINVAL.
 *   bool:       "0" or "1" (frozen, per_cpu), else -EINVAL.
 *   cpumask:    a hex mask ("3", "0x3", comma-separated 32-bit groups as
 *               sysfs prints them: "00000000,00000003") or a list
 *               ("0-1,3"); CPUs >= ncpus or an empty set: -EINVAL.
 *               A value is a list when it has a '-', or has commas
 *               and no "0x" but is not hex groups of 8 digits after
 *               the first ("0,2" is CPUs 0 and 2); else it is hex,
 *               so one CPU as a list is written "N-N" ("4" is CPU 2).
 */
int wqfs_parse_max_active(const char *s, size_t len, int *out);
int wqfs_parse_nice(const char *s, size_t len, int *out);
int wqfs_parse_bool(const char *s, size_t len, bool *out);
int wqfs_parse_cpumask(const char *s, size_t len, int ncpus, cpu_set_t *out);

/* The value of attribute file a (ncpus for a cpumask). */
int wqfs_parse_attr(enum wqfs_attr a, const char *s, size_t len, int ncpus,
		    struct wqfs_attr_value *out);

/* Format mask as sysfs does ("3\n" for CPUs 0-1 on a small machine);
 * returns the length written, at most size - 1, NUL-terminated. */
size_t wqfs_format_cpumask(const cpu_set_t *mask, int ncpus, char *buf, size_t size);

#endif /* WQFS_PARSE_H */
