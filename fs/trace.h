/* SPDX-License-Identifier: MIT */
/*
 * trace.h - the `trace` files: engine events as jiq-style text rows,
 * streamed to any number of readers, like tracefs trace_pipe.
 *
 * This module owns the trace hub and one bounded ring per reader.  The
 * engine's observer hands each event to wqfs_trace_emit(), which fills one
 * fixed-size record and copies it into the ring of every open reader that
 * wants it; rows are formatted from records only when read.  A reader
 * whose ring is full loses the oldest records and is later shown "# lost N
 * rows".  Emit never blocks on a reader and never allocates, so a stalled
 * reader cannot slow the engine or grow memory.
 *
 * Row format (the jiq columns, then queue, work, event and exit status):
 *   header "    time  delta preempt   pid cpu command queue work event exit\n"
 *   row    "%9lu  %4lu     %3i %5i %3i %s %s %s %s %s\n"
 * time is jiffies since the engine started, delta the jiffies since the
 * previous row this reader got (0 for its first), preempt 0, pid the tid
 * of the thread that caused the event, cpu where it ran, command that
 * thread's name; event is one of queued delayed start end cancel; exit is
 * the work's result for "end" and "-" otherwise.  Each reader's first read
 * starts with the header.
 *
 * Locking: the hub has one mutex (readers list); each reader has its own
 * mutex (its ring).  The notify callback is called with no lock held.
 */
#ifndef WQFS_TRACE_H
#define WQFS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "workqueue.h"

struct wqfs_trace;		/* the hub */
struct wqfs_trace_reader;

/* What a row shows of one event; names are copied. */
struct wqfs_trace_event {
	const struct wq_event *ev;
	const char *queue;		/* queue name */
	const char *work;		/* work name ("w42", "jiq", ...) */
	const void *tag;		/* the caller's, for filters */
};

/* Whether a reader gets the row of e; called under the hub's lock, so it
 * must not call back into trace nor block. */
typedef bool (*wqfs_trace_filter_fn)(const struct wqfs_trace_event *e, void *data);

struct wqfs_trace *wqfs_trace_new(void);
void wqfs_trace_free(struct wqfs_trace *hub);	/* no readers may remain */

void wqfs_trace_emit(struct wqfs_trace *hub, const struct wqfs_trace_event *e);

/*
 * wqfs_trace_open - a new reader that sees rows emitted from now on, of
 * the queue named queue (NULL: every queue).  capacity is the ring size in
 * bytes (0: 64 KiB).  notify, if not NULL, is called when the reader goes
 * from empty to readable (to wake poll); it must not call back into trace.
 */
struct wqfs_trace_reader *wqfs_trace_open(struct wqfs_trace *hub, const char *queue,
					  size_t capacity,
					  void (*notify)(void *data), void *data);
/* The same, with rows chosen by filter(e, filter_data) instead of by
 * queue name; filter_data must outlive the reader. */
struct wqfs_trace_reader *wqfs_trace_open_filter(struct wqfs_trace *hub,
						 wqfs_trace_filter_fn filter,
						 void *filter_data, size_t capacity,
						 void (*notify)(void *data), void *data);
void wqfs_trace_close(struct wqfs_trace_reader *r);

/*
 * wqfs_trace_read - copy up to size bytes of whole rows into buf (a row
 * longer than size is cut at size).  Returns the byte count, or -EAGAIN
 * when there is nothing to read.  Never blocks: the daemon answers a
 * blocking read later, when notify fires.
 */
ssize_t wqfs_trace_read(struct wqfs_trace_reader *r, char *buf, size_t size);
bool wqfs_trace_readable(struct wqfs_trace_reader *r);

#endif /* WQFS_TRACE_H */
