/* SPDX-License-Identifier: MIT */
/*
 * attr.c - a queue's attributes (per_cpu, max_active, cpumask, nice,
 * frozen), applied to the engine at once; fs/parse.c checked the value
 * with the kernel's rules.  A negative nice needs root, as setpriority(2).
 */
#include <errno.h>

#include "internal.h"

static int set_nice(struct mqueue *q, int nice, const struct submitter *sub)
{
	struct workqueue_attrs at;
	if (nice < 0 && sub && sub->uid != 0)	/* NULL: the daemon, restoring */
		return -EPERM;
	wq_get_attrs(q->wq, &at);
	at.nice = nice;
	return apply_workqueue_attrs(q->wq, &at);
}

static int set_cpumask(struct mqueue *q, const cpu_set_t *mask)
{
	struct workqueue_attrs at;
	wq_get_attrs(q->wq, &at);
	at.cpumask = *mask;
	return apply_workqueue_attrs(q->wq, &at);
}

static int set_value(struct mqueue *q, const struct wqfs_attr_value *v,
		     const struct submitter *sub)
{
	switch (v->attr) {
	case WQFS_ATTR_PER_CPU:
		return wq_set_unbound(q->wq, !v->on);
	case WQFS_ATTR_MAX_ACTIVE:
		workqueue_set_max_active(q->wq, v->n);
		return 0;
	case WQFS_ATTR_CPUMASK:
		return set_cpumask(q, &v->mask);
	case WQFS_ATTR_NICE:
		return set_nice(q, v->n, sub);
	case WQFS_ATTR_FROZEN:
		wq_freeze(q->wq, v->on);
		return 0;
	case WQFS_ATTR_REQUEUE_LOST:
		model_lock();
		q->requeue_lost = v->on;
		model_unlock();
		return 0;
	}
	return -EINVAL;
}

void mqueue_get_attr(struct mqueue *q, enum wqfs_attr attr, struct wqfs_attr_value *v)
{
	struct workqueue_attrs at;
	wq_get_attrs(q->wq, &at);
	*v = (struct wqfs_attr_value){ .attr = attr, .mask = at.cpumask };
	switch (attr) {
	case WQFS_ATTR_PER_CPU:
		v->on = !(wq_flags(q->wq) & WQ_UNBOUND);
		break;
	case WQFS_ATTR_MAX_ACTIVE:
		v->n = wq_max_active(q->wq);
		break;
	case WQFS_ATTR_NICE:
		v->n = at.nice;
		break;
	case WQFS_ATTR_FROZEN:
		v->on = wq_frozen(q->wq);
		break;
	case WQFS_ATTR_REQUEUE_LOST:
		model_lock();
		v->on = q->requeue_lost;
		model_unlock();
		break;
	default:
		break;
	}
}

int mqueue_set_attr(struct mqueue *q, const struct wqfs_attr_value *v,
		    const struct submitter *sub)
{
	model_lock();
	bool dead = q->dead;
	model_unlock();
	if (dead)
		return -ENOENT;
	int r = set_value(q, v, sub);
	if (r == 0) {
		model_lock();
		model_changed(MCHANGE_QUEUE_ATTRS, q, NULL);
		model_unlock();
	}
	return r;
}
