/* SPDX-License-Identifier: MIT */
/*
 * parse.c - every parser of user bytes in wqfs; the grammar is in parse.h.
 *
 * Input is handled as spans (pointer, length) into the caller's buffer;
 * nothing here allocates.  Numbers go through one digit scanner
 * (push_digit), blanks through one trimmer (trim).
 */
#include "parse.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#define NSEC_PER_SEC		UINT64_C(1000000000)
#define MAX_ACTIVE_LIMIT	512
#define NICE_MIN		(-20)
#define NICE_MAX		19
#define HEX_GROUP_DIGITS	8	/* a 32-bit group of a sysfs mask */

/* A view of the caller's bytes. */
struct span {
	const char *s;
	size_t len;
};

static struct span span_of(const char *s, size_t len)
{
	return (struct span){ .s = s, .len = len };
}

/* The bytes of v from offset off on (off <= v.len). */
static struct span span_from(struct span v, size_t off)
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

static struct span trim_end(struct span v)
{
	while (v.len && is_blank(v.s[v.len - 1]))
		v.len--;
	return v;
}

static struct span trim(struct span v)
{
	size_t n = 0;

	while (n < v.len && is_blank(v.s[n]))
		n++;
	return trim_end(span_from(v, n));
}

/* Index of the first c in v, or v.len. */
static size_t find(struct span v, char c)
{
	const char *p = v.len ? memchr(v.s, c, v.len) : NULL;

	return p ? (size_t)(p - v.s) : v.len;
}

/*
 * Split v at its first c into *head and *tail (c in neither); without a c,
 * *head is v, *tail is empty and the answer is false.
 */
static bool split_at(struct span v, char c, struct span *head,
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
static int digit_value(char c, unsigned int base)
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

static bool all_digits(struct span v, unsigned int base)
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
static int scan_uint(struct span v, unsigned int base, uint64_t max,
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
static int scan_int(struct span v, int *out)
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

/* A unit is mult * 10^shift ns. */
struct unit {
	const char *name;
	unsigned int mult;
	unsigned int shift;
};

static const struct unit units[] = {
	{ "ns", 1, 0 }, { "us", 1, 3 }, { "ms", 1, 6 },
	{ "s", 1, 9 }, { "m", 6, 10 }, { "h", 36, 11 },
};

static const struct unit *find_unit(struct span v)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == v.len &&
		    !memcmp(units[i].name, v.s, v.len))
			return &units[i];
	return NULL;
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

int wqfs_parse_delay(const char *s, size_t len, unsigned int hz, uint64_t *ns)
{
	struct span v = span_of(s, len), num, ip, fp;
	const struct unit *u;
	size_t n = 0;

	while (n < v.len && (digit_value(v.s[n], 10) >= 0 || v.s[n] == '.'))
		n++;
	num = span_of(v.s, n);
	v = span_from(v, n);
	if (!v.len)
		return jiffies_to_ns(num, hz, ns);
	u = find_unit(v);
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
	ret = set_delay(out, next_token(&rest), hz);
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
	tok = next_token(&rest);
	if (rest.len)
		return -EINVAL;
	return set_delay(out, tok, hz);
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
