/* SPDX-License-Identifier: MIT */
/*
 * flusher.c - sync=full's group commit without a thread per waiting
 * write: a write whose records are in the log and wait only for the log
 * to be on disk hands its answer to the flusher (store_sync_then) and its
 * handler goes back to the kernel for the next request.  The flusher
 * writes the log out up to its tail (log_sync) and answers every write
 * that was waiting when it began; those that came meanwhile go with the
 * next round.  A round's size is what arrives during a write-out, so
 * there is no timer (holding a round back 30-100 us for more writers
 * lowered throughput, and a second flusher, writing out while the first
 * answers, gained nothing measurable: bench/RESULTS.md).
 *
 * Locking: s->mu guards flush_waits, flushing and flush_stop; answers are
 * given with no lock held, in the order the writes came.
 */
#include <errno.h>

#include "internal.h"

struct flush_wait {
	void (*done)(void *arg, int err);
	void *arg;
};

static void answer(GQueue *round, int err)
{
	struct flush_wait *fw;
	while ((fw = g_queue_pop_head(round))) {
		fw->done(fw->arg, err);
		g_free(fw);
	}
}

static void *flusher_main(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (g_queue_is_empty(&s->flush_waits)) {
			if (s->flush_stop)
				break;
			pthread_cond_wait(&s->flush_more, &s->mu);
			continue;
		}
		/* every waiting write's records are logged already */
		GQueue round = s->flush_waits;
		g_queue_init(&s->flush_waits);
		int err = log_sync(s, s->log_last_seq);
		pthread_mutex_unlock(&s->mu);
		answer(&round, err);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

bool flusher_wait(struct store *s, void (*done)(void *arg, int err), void *arg)
{
	if (!s->flushing)
		return false;
	struct flush_wait *fw = g_new(struct flush_wait, 1);
	*fw = (struct flush_wait){ done, arg };
	g_queue_push_tail(&s->flush_waits, fw);
	pthread_cond_signal(&s->flush_more);
	return true;
}

int flusher_start(struct store *s)
{
	if (!s->sync_full || !s->log)
		return 0;
	g_queue_init(&s->flush_waits);
	pthread_cond_init(&s->flush_more, NULL);
	if (pthread_create(&s->flusher, NULL, flusher_main, s) != 0) {
		pthread_cond_destroy(&s->flush_more);
		return -EAGAIN;
	}
	pthread_setname_np(s->flusher, "wqfs-flush");
	s->flushing = true;
	return 0;
}

void flusher_stop(struct store *s)
{
	if (!s || !s->flushing)
		return;
	pthread_mutex_lock(&s->mu);
	s->flush_stop = true;
	pthread_cond_signal(&s->flush_more);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->flusher, NULL);
	pthread_mutex_lock(&s->mu);
	s->flushing = false;	/* store_sync_then() writes out itself */
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&s->flush_more);
}
