/* SPDX-License-Identifier: MIT */
/*
 * request.h - what a control line asks of the model: the vocabulary fs/
 * parses user bytes into (fs/parse.c) and the model applies
 * (model/line.c).  Types and limits only; no code.
 */
#ifndef WQFS_REQUEST_H
#define WQFS_REQUEST_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WQFS_NAME_MAX		64			/* queue and work names */
#define WQFS_LINE_MAX		(64 * 1024)		/* bytes, without '\n' */
#define WQFS_DELAY_MAX_NS	(UINT64_C(366) * 24 * 3600 * 1000000000) /* a year */
#define WQFS_AFTER_MAX		32			/* DEPs of one after line */

/* The control files that take lines. */
enum wqfs_ctl {
	WQFS_CTL_SUBMIT,	/* [NAME: ]COMMAND       | NAME:          */
	WQFS_CTL_DELAY,		/* [NAME: ]DELAY COMMAND | NAME: DELAY    */
	WQFS_CTL_MODIFY,	/* NAME: DELAY                            */
	WQFS_CTL_CANCEL,	/* NAME | *                               */
	WQFS_CTL_FLUSH,		/* (empty) | NAME                         */
	WQFS_CTL_DRAIN,		/* (empty)                                */
	WQFS_CTL_AFTER,		/* NAME: DEP [DEP...]    | NAME:          */
};

/* One DEP of an after line: WORK of the line's queue, or QUEUE/WORK
 * (queue NULL, qlen 0 for the first). */
struct wqfs_dep {
	const char *queue;
	size_t qlen;
	const char *work;
	size_t wlen;
};

/* One parsed line.  Pointers point into the caller's buffer. */
struct wqfs_line {
	char name[WQFS_NAME_MAX + 1];	/* "" when the line names no work */
	bool all;			/* cancel: "*", every work of the queue */
	bool has_delay;
	uint64_t delay_ns;
	const char *command;		/* NULL when the line has none */
	size_t command_len;
	size_t ndeps;			/* after: deps[0, ndeps); 0 clears */
	struct wqfs_dep deps[WQFS_AFTER_MAX];
};

/* The attribute files of a queue, as sysfs's workqueue attributes. */
enum wqfs_attr {
	WQFS_ATTR_PER_CPU,
	WQFS_ATTR_MAX_ACTIVE,
	WQFS_ATTR_CPUMASK,
	WQFS_ATTR_NICE,
	WQFS_ATTR_FROZEN,
	WQFS_ATTR_REQUEUE_LOST,		/* the model's own, not the engine's */
};

/* One parsed attribute value. */
struct wqfs_attr_value {
	enum wqfs_attr attr;
	bool on;			/* per_cpu, frozen, requeue_lost */
	int n;				/* max_active, nice */
	cpu_set_t mask;			/* cpumask */
};

#endif /* WQFS_REQUEST_H */
