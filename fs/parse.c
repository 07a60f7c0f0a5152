/* SPDX-License-Identifier: MIT */
/*
 * parse.c - every parser of user bytes in wqfs; the grammar is in parse.h.
 *
 * Input is handled as spans (pointer, length) into the caller's buffer;
 * nothing here allocates.  Numbers go through one digit scanner
 * (push_digit), blanks through one trimmer (trim).
 */
#include "parse.h"
#include "parse-internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define NSEC_PER_SEC		UINT64_C(1000000000)


struct span span_of(const char *s, size_t len)
{
	return (struct span){ .s = s, .len = len };
}

/* The bytes of v from offset off on (off <= v.len). */
struct span span_from(struct span v, size_t off)
{
	return off ? span_of(v.s + off, v.len - off) : v;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

struct span trim_end(struct span v)
{
	while (v.len && is_blank(v.s[v.len - 1]))
		v.len--;
	return v;
}

static struct span trim_start(struct span v)
{
	size_t n = 0;

	while (n < v.len && is_blank(v.s[n]))
		n++;
	return span_from(v, n);
}

struct span trim(struct span v)
{
	return trim_end(trim_start(v));
}

/* Index of the first c in v, or v.len. */
size_t find(struct span v, char c)
{
	const char *p = v.len ? memchr(v.s, c, v.len) : NULL;

	return p ? (size_t)(p - v.s) : v.len;
}

/*
 * Split v at its first c into *head and *tail (c in neither); without a c,
 * *head is v, *tail is empty and the answer is false.
 */
bool split_at(struct span v, char c, struct span *head,
		     struct span *tail)
{
	size_t n = find(v, c);

	*head = span_of(v.s, n);
	*tail = n < v.len ? span_from(v, n + 1) : span_of(NULL, 0);
	return n < v.len;
}

/* The first blank-separated token of *v; *v becomes the trimmed rest. */
static struct span next_token(struct span *v)
{
	size_t n = 0;
	struct span tok;

	while (n < v->len && !is_blank(v->s[n]))
		n++;
	tok = span_of(v->s, n);
	*v = trim(span_from(*v, n));
	return tok;
}

/* ---- numbers ---------------------------------------------------------- */

/* The value of digit c in base 10 or 16, or -1. */
int digit_value(char c, unsigned int base)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (base == 16 && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (base == 16 && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* *v = *v * base + d, false (and *v unchanged) past max. */
static bool push_digit(uint64_t *v, unsigned int d, unsigned int base,
		       uint64_t max)
{
	uint64_t r;

	if (__builtin_mul_overflow(*v, base, &r) ||
	    __builtin_add_overflow(r, d, &r) || r > max)
		return false;
	*v = r;
	return true;
}

bool all_digits(struct span v, unsigned int base)
{
	for (size_t i = 0; i < v.len; i++)
		if (digit_value(v.s[i], base) < 0)
			return false;
	return true;
}

/*
 * The unsigned integer spelt by all of v.  -EINVAL when v is empty or holds
 * a non-digit (checked first), -ERANGE when the value passes max.
 */
int scan_uint(struct span v, unsigned int base, uint64_t max,
		     uint64_t *out)
{
	*out = 0;
	if (!v.len || !all_digits(v, base))
		return -EINVAL;
	for (size_t i = 0; i < v.len; i++)
		if (!push_digit(out, (unsigned int)digit_value(v.s[i], base),
				base, max))
			return -ERANGE;
	return 0;
}

/* A decimal int with an optional sign, as kstrtoint takes it. */
int scan_int(struct span v, int *out)
{
	bool neg = v.len && v.s[0] == '-';
	uint64_t max = neg ? (uint64_t)INT_MAX + 1 : INT_MAX;
	uint64_t u;
	int ret;

	if (v.len && (v.s[0] == '-' || v.s[0] == '+'))
		v = span_from(v, 1);
	ret = scan_uint(v, 10, max, &u);
	if (ret)
		return ret;
	*out = neg ? (int)(-(int64_t)u) : (int)u;
	return 0;
}

/* ---- DELAY ------------------------------------------------------------ */

#define UNIT_SPELLINGS	5

/* A unit is mult * 10^shift ns; names are its spellings (parse.h). */
struct unit {
	const char *names[UNIT_SPELLINGS];
	unsigned int mult;
	unsigned int shift;
};

static const struct unit units[] = {
	{ { "ns", "nsec", "nsecs", "nanosecond", "nanoseconds" }, 1, 0 },
	{ { "us", "usec", "usecs", "microsecond", "microseconds" }, 1, 3 },
	{ { "ms", "msec", "msecs", "millisecond", "milliseconds" }, 1, 6 },
	{ { "s", "sec", "secs", "second", "seconds" }, 1, 9 },
	{ { "m", "min", "mins", "minute", "minutes" }, 6, 10 },
	{ { "h", "hr", "hrs", "hour", "hours" }, 36, 11 },
};

/* The unit all of v spells (case-sensitive), or NULL. */
static const struct unit *find_unit(struct span v)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		for (size_t j = 0; j < UNIT_SPELLINGS; j++)
			if (strlen(units[i].names[j]) == v.len &&
			    !memcmp(units[i].names[j], v.s, v.len))
				return &units[i];
	return NULL;
}

/* The length of the number v begins with: its leading digits and dots. */
static size_t number_len(struct span v)
{
	size_t n = 0;

	while (n < v.len && (digit_value(v.s[n], 10) >= 0 || v.s[n] == '.'))
		n++;
	return n;
}

static int check_delay(uint64_t ns)
{
	return ns > WQFS_DELAY_MAX_NS ? -ERANGE : 0;
}

static int jiffies_to_ns(struct span v, unsigned int hz, uint64_t *ns)
{
	uint64_t j, whole, part;
	int ret = scan_uint(v, 10, UINT64_MAX, &j);

	if (ret == -EINVAL || !hz)
		return -EINVAL;
	if (ret)
		return ret;
	part = ((j % hz) * NSEC_PER_SEC + hz / 2) / hz;
	if (__builtin_mul_overflow(j / hz, NSEC_PER_SEC, &whole) ||
	    __builtin_add_overflow(whole, part, ns))
		return -ERANGE;
	return check_delay(*ns);
}

/*
 * round(0.FRAC * mult) for the decimal digits frac, exactly: multiply the
 * digit string by mult from its last digit; the carry out is the integer
 * part and the first digit of the product decides the rounding.
 */
static uint64_t round_fraction(struct span frac, unsigned int mult)
{
	unsigned int carry = 0, first = 0;

	for (size_t i = frac.len; i-- > 0;) {
		unsigned int t = (unsigned int)(frac.s[i] - '0') * mult + carry;

		first = t % 10;
		carry = t / 10;
	}
	return carry + (first >= 5);
}

/*
 * INT.FRAC in unit u: shift the decimal point right by u->shift digits,
 * then multiply by u->mult, rounding to the nearest ns.
 */
static int time_to_ns(struct span ip, struct span fp, const struct unit *u,
		      uint64_t *ns)
{
	uint64_t v = 0;
	size_t i;
	int ret = scan_uint(ip, 10, UINT64_MAX, &v);

	if (ret == -ERANGE)	/* -EINVAL is an empty ip (".5s"): 0 */
		return ret;
	for (i = 0; i < u->shift; i++) {
		unsigned int d = i < fp.len ? (unsigned int)(fp.s[i] - '0') : 0;

		if (!push_digit(&v, d, 10, UINT64_MAX))
			return -ERANGE;
	}
	fp = span_from(fp, i < fp.len ? i : fp.len);
	if (__builtin_mul_overflow(v, u->mult, &v) ||
	    __builtin_add_overflow(v, round_fraction(fp, u->mult), ns))
		return -ERANGE;
	return check_delay(*ns);
}

/*
 * NUMBER, NUMBER UNIT or NUMBER BLANKS UNIT: the unit is what follows the
 * number, after any blanks, up to the end of s; it must be a whole unit
 * name ("5x", "5 s ", "5secs2" are -EINVAL).
 */
int wqfs_parse_delay(const char *s, size_t len, unsigned int hz, uint64_t *ns)
{
	struct span v = span_of(s, len), num, ip, fp;
	const struct unit *u;
	size_t n = number_len(v);

	num = span_of(v.s, n);
	v = span_from(v, n);
	if (!v.len)
		return jiffies_to_ns(num, hz, ns);
	u = find_unit(trim_start(v));
	split_at(num, '.', &ip, &fp);
	if (!u || ip.len + fp.len == 0 || !all_digits(fp, 10))
		return -EINVAL;
	return time_to_ns(ip, fp, u, ns);
}

/* ---- names and lines -------------------------------------------------- */

bool wqfs_valid_name(const char *s, size_t len)
{
	if (len == 0 || len > WQFS_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(s[i]))
			return false;
	return true;
}

/*
 * Split "NAME:[ REST]" off the start of v: 1 with *name and *rest (trimmed)
 * set, 0 when v does not begin with a NAME (it is a command), -EINVAL when
 * it begins with name characters and ':' but the name is invalid ('.x:').
 */
static int split_name(struct span v, struct span *name, struct span *rest)
{
	size_t n = 0;

	while (n < v.len && n <= WQFS_NAME_MAX && is_name_char(v.s[n]))
		n++;
	if (n == 0 || n > WQFS_NAME_MAX || n == v.len || v.s[n] != ':')
		return 0;
	if (n + 1 < v.len && !is_blank(v.s[n + 1]))
		return 0;
	if (!wqfs_valid_name(v.s, n))
		return -EINVAL;
	*name = span_of(v.s, n);
	*rest = trim(span_from(v, n + 1));
	return 1;
}

static int set_name(struct wqfs_line *out, struct span name)
{
	if (!wqfs_valid_name(name.s, name.len))
		return -EINVAL;
	memcpy(out->name, name.s, name.len);
	out->name[name.len] = '\0';
	return 0;
}

static void set_command(struct wqfs_line *out, struct span cmd)
{
	out->command = cmd.len ? cmd.s : NULL;
	out->command_len = cmd.len;
}

/*
 * Take DELAY off the start of *v: its first token, and the next one with
 * it when the first is a bare number ("5", "1.5") and the next is a unit
 * word ("5 sec", "1.5 ms"); *v becomes the trimmed rest.  Any other next
 * word is left in *v (the command of "5 echo hi" at 5 jiffies).
 */
static struct span take_delay(struct span *v)
{
	struct span tok = next_token(v), rest = *v, word;

	if (!tok.len || number_len(tok) != tok.len)
		return tok;
	word = next_token(&rest);
	if (!find_unit(word))
		return tok;
	*v = rest;
	return span_of(tok.s, (size_t)(word.s + word.len - tok.s));
}

static int set_delay(struct wqfs_line *out, struct span tok, unsigned int hz)
{
	int ret = wqfs_parse_delay(tok.s, tok.len, hz, &out->delay_ns);

	out->has_delay = !ret;
	return ret;
}

/* [NAME: ]COMMAND | NAME: */
static int parse_submit(struct span v, struct wqfs_line *out)
{
	struct span name, rest;
	int ret = split_name(v, &name, &rest);

	if (ret < 0)
		return ret;
	if (ret > 0)
		set_name(out, name);
	else if (!(rest = trim(v)).len)
		return -EINVAL;
	set_command(out, rest);
	return 0;
}

/* [NAME: ]DELAY COMMAND | NAME: DELAY */
static int parse_delayed(struct span v, unsigned int hz, struct wqfs_line *out)
{
	struct span name, rest;
	int named = split_name(v, &name, &rest), ret;

	if (named < 0)
		return named;
	if (named)
		set_name(out, name);
	else
		rest = trim(v);
	ret = set_delay(out, take_delay(&rest), hz);
	if (ret)
		return ret;
	if (!named && !rest.len)
		return -EINVAL;
	set_command(out, rest);
	return 0;
}

/* NAME: DELAY */
static int parse_modify(struct span v, unsigned int hz, struct wqfs_line *out)
{
	struct span name, rest, tok;
	int ret = split_name(trim(v), &name, &rest);

	if (ret <= 0)
		return -EINVAL;
	set_name(out, name);
	tok = take_delay(&rest);
	if (rest.len)
		return -EINVAL;
	return set_delay(out, tok, hz);
}

/* DEP: WORK or QUEUE/WORK, both valid names. */
static int set_dep(struct wqfs_dep *d, struct span tok)
{
	struct span queue, work;

	if (!split_at(tok, '/', &queue, &work)) {
		queue = span_of(NULL, 0);
		work = tok;
	} else if (!wqfs_valid_name(queue.s, queue.len)) {
		return -EINVAL;
	}
	if (!wqfs_valid_name(work.s, work.len))
		return -EINVAL;
	*d = (struct wqfs_dep){ queue.s, queue.len, work.s, work.len };
	return 0;
}

/* NAME: DEP [DEP...] | NAME: */
static int parse_after(struct span v, struct wqfs_line *out)
{
	struct span name, rest, tok;
	int ret = split_name(trim(v), &name, &rest);

	if (ret <= 0)
		return -EINVAL;
	set_name(out, name);
	while ((tok = next_token(&rest)).len) {
		if (out->ndeps == WQFS_AFTER_MAX)
			return -E2BIG;
		ret = set_dep(&out->deps[out->ndeps++], tok);
		if (ret)
			return ret;
	}
	return 0;
}

int wqfs_parse_line(enum wqfs_ctl ctl, const char *line, size_t len,
		    unsigned int hz, struct wqfs_line *out)
{
	struct span v = span_of(line, len);

	*out = (struct wqfs_line){ .command = NULL };
	if (len > WQFS_LINE_MAX)
		return -E2BIG;
	if (find(v, '\0') < len)
		return -EINVAL;
	v = trim_end(v);
	switch (ctl) {
	case WQFS_CTL_SUBMIT:
		return parse_submit(v, out);
	case WQFS_CTL_DELAY:
		return parse_delayed(v, hz, out);
	case WQFS_CTL_MODIFY:
		return parse_modify(v, hz, out);
	case WQFS_CTL_CANCEL:
		v = trim(v);
		out->all = v.len == 1 && v.s[0] == '*';
		return out->all ? 0 : set_name(out, v);
	case WQFS_CTL_FLUSH:
		v = trim(v);
		return v.len ? set_name(out, v) : 0;
	case WQFS_CTL_DRAIN:
		return trim(v).len ? -EINVAL : 0;
	case WQFS_CTL_AFTER:
		return parse_after(v, out);
	}
	return -EINVAL;
}

bool wqfs_next_line(const char *buf, size_t size, size_t *pos,
		    const char **line, size_t *len)
{
	struct span rest;

	if (*pos >= size)
		return false;
	rest = span_of(buf + *pos, size - *pos);
	*line = rest.s;
	*len = find(rest, '\n');
	*pos += *len < rest.len ? *len + 1 : *len;
	return true;
}

/*
 * A write is a set of whole lines and its last line ends with it (sysfs),
 * except for a stdio buffer's flush: glibc caps stdio buffers at BUFSIZ
 * (8 KiB) whatever st_blksize says, so bash's printf of a long line comes
 * as writes of whole buffers.  A write whose size is a multiple of
 * STDIO_CHUNK and whose data does not end in '\n' leaves its last line to
 * the next write on the descriptor, or to close.
 */
#define STDIO_CHUNK	4096

size_t wqfs_lines_end(const char *data, size_t len, size_t size)
{
	if (size % STDIO_CHUNK || data[len - 1] == '\n')
		return len;
	const char *nl = memrchr(data, '\n', len);
	return nl ? (size_t)(nl - data) + 1 : 0;
}
