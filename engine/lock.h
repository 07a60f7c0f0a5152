/* SPDX-License-Identifier: MIT */
/*
 * lock.h - the engine lock, wq_lock: how to take it, drop it and wait
 * under it.  The rules and the lock order are in internal.h (LOCKING).
 */
#ifndef WQ_LOCK_H
#define WQ_LOCK_H

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Take wq_lock.  Not recursive: the caller must not hold it. */
void wq_lock(void);

/*
 * wq_unlock - the one way to drop wq_lock.  Releases it, then carries out
 * what this thread set in motion while holding it, in this order: starts
 * the workers it reserved, delivers the events it pushed (and any older
 * ones) to the observer, and calls the fns of the barriers it fired.
 */
void wq_unlock(void);

/* Has this thread, holding wq_lock, left anything for wq_unlock()? */
bool wq_owes(void);

/* Init cond for wq_cond_timedwait() (CLOCK_MONOTONIC); 0 or an errno. */
int wq_cond_init(pthread_cond_t *cond);

/*
 * Wait on cond, which is used with wq_lock only; wq_lock held, and
 * nothing owed (nothing for wq_unlock() to carry out): the lock is
 * released while asleep and held again on return.  The timed wait returns
 * at the latest at deadline_ns (CLOCK_MONOTONIC, absolute).
 */
void wq_cond_wait(pthread_cond_t *cond);
void wq_cond_timedwait(pthread_cond_t *cond, uint64_t deadline_ns);

/*
 * As the kernel's lockdep_assert_held(): in debug builds (no NDEBUG),
 * abort unless the calling thread holds wq_lock, or, for _not_held,
 * unless it does not.  Compiled out with NDEBUG.
 */
#ifdef NDEBUG
#define wq_lockdep_assert_held()	do { } while (0)
#define wq_lockdep_assert_not_held()	do { } while (0)
#else
bool wq_lock_held(void);
#define wq_lockdep_assert_held()	assert(wq_lock_held())
#define wq_lockdep_assert_not_held()	assert(!wq_lock_held())
#endif

#endif /* WQ_LOCK_H */
