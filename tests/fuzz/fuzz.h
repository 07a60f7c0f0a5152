/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - shared bits of the libFuzzer harnesses of fs/parse.c.
 */
#ifndef WQFS_FUZZ_H
#define WQFS_FUZZ_H

#include "parse.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant: on failure say which and abort; libFuzzer keeps the input. */
#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* hz values a byte selects: common kernel ones and the edges. */
static inline unsigned int fuzz_hz(uint8_t b)
{
	static const unsigned int hz[] = {
		250, 100, 300, 1000, 1, 0, 1024, 4000000000u,
	};

	return hz[b % (sizeof(hz) / sizeof(hz[0]))];
}

static inline bool fuzz_is_errno(int ret)
{
	return ret == 0 || ret == -EINVAL || ret == -ERANGE;
}

/* An oracle independent of parse.c, for names. */
static inline bool fuzz_name_ok(const char *s, size_t len)
{
	if (len < 1 || len > WQFS_NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!(c == '_' || c == '.' || c == '-' ||
		      (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

#endif /* WQFS_FUZZ_H */
