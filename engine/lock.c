// SPDX-License-Identifier: MIT
/*
 * lock.c - the engine lock, wq_lock, and the one way to drop it.
 *
 * wq_lock is a plain mutex, wq_mutex, touched here only.  In debug builds
 * the holder's pthread_self() is recorded in wq_lock_owner, under the
 * lock, so that wq_lockdep_assert_held() can check it: only the holder
 * ever writes its own id there, so a thread reads its own id back exactly
 * when it holds the lock.
 */
#include <time.h>

#include "internal.h"

static pthread_mutex_t wq_mutex = PTHREAD_MUTEX_INITIALIZER;

__thread struct wq_owed wq_owed;

#ifndef NDEBUG
static pthread_t wq_lock_owner;	/* atomic; the holder, 0: none */

static void wq_lock_set_owner(pthread_t owner)
{
	__atomic_store_n(&wq_lock_owner, owner, __ATOMIC_RELAXED);
}

bool wq_lock_held(void)
{
	return __atomic_load_n(&wq_lock_owner, __ATOMIC_RELAXED) ==
	       pthread_self();
}
#else
#define wq_lock_set_owner(owner)	do { } while (0)
#endif

bool wq_owes(void)
{
	return wq_owed.starts || wq_owed.events || wq_owed.fired;
}

void wq_lock(void)
{
	wq_lockdep_assert_not_held();
	assert(!wq_owes());	/* wq_unlock() left nothing behind */
	pthread_mutex_lock(&wq_mutex);
	wq_lock_set_owner(pthread_self());
}

void wq_unlock(void)
{
	struct wq_owed owed = wq_owed;

	wq_lockdep_assert_held();
	wq_owed = (struct wq_owed){ 0 };
	wq_lock_set_owner((pthread_t)0);
	pthread_mutex_unlock(&wq_mutex);

	if (owed.starts)
		workers_start(owed.starts);
	if (owed.events)
		events_deliver(owed.events);
	if (owed.fired)
		barriers_complete(owed.fired);
}

int wq_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int err;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	err = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return err;
}

void wq_cond_wait(pthread_cond_t *cond)
{
	wq_lockdep_assert_held();
	assert(!wq_owes());
	wq_lock_set_owner((pthread_t)0);
	pthread_cond_wait(cond, &wq_mutex);
	wq_lock_set_owner(pthread_self());
}

void wq_cond_timedwait(pthread_cond_t *cond, uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / NSEC_PER_SEC),
		.tv_nsec = (long)(deadline_ns % NSEC_PER_SEC),
	};

	wq_lockdep_assert_held();
	assert(!wq_owes());
	wq_lock_set_owner((pthread_t)0);
	pthread_cond_timedwait(cond, &wq_mutex, &ts);
	wq_lock_set_owner(pthread_self());
}
