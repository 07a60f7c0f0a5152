/* SPDX-License-Identifier: MIT */
/*
 * jiq.h - LDD3's jiq module ("just in queue") on a wqfs workqueue.
 *
 * This module owns one run of the demo behind a read of `jiqwq` or
 * `jiqwqdelay`: a built-in work that appends one row per run and queues
 * itself again (with `delay` jiffies for jiqwqdelay, or at once) until the
 * text passes LIMIT, then hands the page to the caller's callback.  Rows
 * are byte-exact jiq.c:
 *   header "    time  delta preempt   pid cpu command\n"
 *   row    "%9li  %4li     %3i %5i %3i %s\n"
 * time in jiffies (wq_jiffies()), delta since the previous row, preempt 0,
 * pid the worker's tid, cpu where it ran, command the worker's name.
 * The first row's delta is 0 for jiqwq and the delay for jiqwqdelay.
 */
#ifndef WQFS_JIQ_H
#define WQFS_JIQ_H

#include <stdbool.h>
#include <stddef.h>

#include "workqueue.h"

#define WQFS_JIQ_LIMIT	(4096 - 128)	/* PAGE_SIZE - 128, as jiq.c */

struct wqfs_jiq;

/*
 * Called once, on a worker thread, with the finished page (text is valid
 * during the call only).  Not called after a successful wqfs_jiq_cancel().
 */
typedef void (*wqfs_jiq_done_fn)(const char *text, size_t len, void *data);

/*
 * wqfs_jiq_start - start a run on wq; delay 0 is jiqwq, delay N re-queues
 * each step N jiffies later (jiqwqdelay uses 1).  Returns NULL with errno
 * set when wq refuses work (ESHUTDOWN).
 */
struct wqfs_jiq *wqfs_jiq_start(struct workqueue_struct *wq, unsigned long delay,
				wqfs_jiq_done_fn done, void *data);

/*
 * wqfs_jiq_cancel - stop a run whose reader went away (EINTR): cancels the
 * built-in work and waits for a running step.  Returns true if done will
 * not be called; false if it has been or is being called.  Must not be
 * called from the done callback.
 */
bool wqfs_jiq_cancel(struct wqfs_jiq *jiq);

/* Free a run after done was called or cancel returned true. */
void wqfs_jiq_free(struct wqfs_jiq *jiq);

#endif /* WQFS_JIQ_H */
