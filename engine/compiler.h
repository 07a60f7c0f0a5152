/* SPDX-License-Identifier: MIT */
/*
 * compiler.h - the few helpers of <linux/compiler.h> and <linux/kernel.h>
 * the engine and its users share.  One definition for the whole program.
 */
#ifndef WQ_COMPILER_H
#define WQ_COMPILER_H

#include <stddef.h>

/*
 * container_of - the struct of type that embeds *ptr as its member.  The
 * cast goes through void * so that a stricter alignment of type is not
 * warned about: ptr points into a type, so it is aligned for it.
 */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif /* WQ_COMPILER_H */
