/* SPDX-License-Identifier: MIT */
/*
 * restore.c - works recreated at start from what the durable store kept:
 * pending works queued again in their order, delayed works at the rest of
 * their delay (overdue ones at once), and works that were running when
 * the daemon died marked lost, never run again behind the user's back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The engine call that puts s back; model lock held. */
static int requeue(struct mqueue *q, struct mwork *w, const struct mwork_saved *s)
{
	switch (s->state) {
	case MW_PENDING:
		return wq_queue_work_on(WORK_CPU_UNBOUND, q->wq, &w->dwork.work);
	case MW_DELAYED: {
		uint64_t ns = s->due_in_ms > 0 ? (uint64_t)s->due_in_ms * 1000000 : 0;
		w->has_due = true;
		mwork_set_due(w, model_now_ms(), ns);
		return wq_queue_delayed_work_ns(WORK_CPU_UNBOUND, q->wq, &w->dwork, ns);
	}
	case MW_BLOCKED:	/* waiting for its DEPs: again */
		return after_block(w, false, 0);
	case MW_RUNNING:	/* it was running when the daemon died */
		if (q->requeue_lost)
			return wq_queue_work_on(WORK_CPU_UNBOUND, q->wq, &w->dwork.work);
		w->lost = true;
		return 0;
	default:
		return 0;
	}
}

/* What struct mwork_ran keeps of s: made only for a work that ran (or
 * failed; an output makes it too, below). */
static void mwork_restore_ran(struct mwork *w, const struct mwork_saved *s)
{
	if (!w->ran && !s->runs && !s->last_exit && !s->reason && !s->started_ms &&
	    !s->finished_ms)
		return;
	struct mwork_ran *ran = mwork_ran(w);
	ran->runs = (uint32_t)s->runs;
	ran->last_exit = s->last_exit;
	ran->started_ms = s->started_ms;
	ran->finished_ms = s->finished_ms;
	mwork_set_reason(w, s->reason);
}

void mwork_restore_fields(struct mwork *w, const struct mwork_saved *s)
{
	if (s->sub) {
		struct submitter *old = w->sub;
		w->sub = submitter_ref(s->sub);
		submitter_unref(old);
	}
	w->has_exit = s->has_exit;
	w->lost = s->lost;
	w->cancelled = s->cancelled;
	after_set_text(w, s->after);
	w->ctime = s->ctime;
	w->has_queued = s->queued_ms != 0;
	w->queued_ms = s->queued_ms;
	w->has_started = s->started_ms != 0;
	w->has_finished = s->finished_ms != 0;
	mwork_restore_ran(w, s);
	if (s->output_len)
		wq_command_set_output(mwork_cmd(w), s->output, s->output_len);
}

int mwork_recreate(struct mqueue *q, const struct mwork_saved *s, struct mwork **wp)
{
	int r = mwork_create(q, s->name, s->anon, s->owner, strlen(s->command) + 1, wp);
	if (r == 0)
		r = mwork_set_command(*wp, s->command, strlen(s->command), true);
	return r;
}

int mwork_restore(struct mqueue *q, const struct mwork_saved *s)
{
	struct mwork *w;

	model_lock();
	int r = mwork_recreate(q, s, &w);
	if (r == 0) {
		mwork_restore_fields(w, s);
		r = requeue(q, w, s);
		r = r < 0 ? r : 0;
		model_changed(MCHANGE_WORK_RESTORED, q, w);
	}
	model_unlock();
	return r;
}
