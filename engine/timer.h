/* SPDX-License-Identifier: MIT */
/*
 * timer.h - the engine's timers, as the kernel's timer_list: a struct the
 * owner embeds (a delayed_work does), armed for an absolute
 * CLOCK_MONOTONIC time, whose fn the one timer thread calls when it is
 * due.  The timer knows nothing of its owner but the callback.
 *
 * workqueue.h includes this header for struct wq_timer only; the
 * functions are the engine's (engine/internal.h), not for its users.
 * Locking: a timer is guarded by the engine lock, wq_lock: every function
 * but start and stop is called with it held, and the timer thread calls fn
 * with it held, once the timer is out of the heap.
 */
#ifndef WQ_TIMER_H
#define WQ_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "heap.h"

struct wq_timer;
typedef void (*wq_timer_fn)(struct wq_timer *timer);

struct wq_timer {
	struct heap_node node;		/* wq_lock: in the heap while armed */
	uint64_t expires_ns;		/* wq_lock: CLOCK_MONOTONIC, absolute */
	wq_timer_fn fn;			/* wq_lock: set before arming */
};

/* Start and stop the timer thread; wq_lock NOT held.  0 or -errno. */
int wq_timer_start(void);
void wq_timer_stop(void);

/* Arm timer for expires_ns, or move it there if armed.  0 or -ENOMEM. */
int wq_timer_arm(struct wq_timer *timer, uint64_t expires_ns);
/* Take an armed timer out: fn will not be called. */
void wq_timer_disarm(struct wq_timer *timer);

static inline bool wq_timer_armed(const struct wq_timer *timer)
{
	return heap_node_queued(&timer->node);
}

#endif /* WQ_TIMER_H */
