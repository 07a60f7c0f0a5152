/* SPDX-License-Identifier: MIT */
/*
 * parse-internal.h - what parse.c (lines, names, DELAY) and parse-attr.c
 * (attribute values) share: spans over the caller's bytes, the one blank
 * trimmer and the one digit scanner.
 */
#ifndef WQFS_PARSE_INTERNAL_H
#define WQFS_PARSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view of the caller's bytes. */
struct span {
	const char *s;
	size_t len;
};

struct span span_of(const char *s, size_t len);
struct span span_from(struct span v, size_t off);
struct span trim_end(struct span v);
struct span trim(struct span v);
size_t find(struct span v, char c);
bool split_at(struct span v, char c, struct span *head, struct span *tail);
int digit_value(char c, unsigned int base);
bool all_digits(struct span v, unsigned int base);
int scan_uint(struct span v, unsigned int base, uint64_t max, uint64_t *out);
int scan_int(struct span v, int *out);

#endif /* WQFS_PARSE_INTERNAL_H */
