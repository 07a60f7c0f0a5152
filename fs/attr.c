/* SPDX-License-Identifier: MIT */
/*
 * attr.c - writes to a queue's attribute files (per_cpu, max_active,
 * cpumask, nice, frozen), as sysfs stores: one value per write, checked
 * with the kernel's rules, applied to the engine at once.  The writer is
 * the opener (fh->ctx); a negative nice needs root.
 */
#include <errno.h>
#include <unistd.h>

#include "wqfs.h"

void attr_write(fuse_req_t req, struct fh *fh, const char *buf, size_t size)
{
	struct fsq *q = fh->q;
	int r = 0;

	pthread_mutex_lock(&fs_lock);
	bool dead = q->dead;
	pthread_mutex_unlock(&fs_lock);
	if (dead) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (fh->kind) {
	case K_PER_CPU: {
		bool v;
		r = wqfs_parse_bool(buf, size, &v);
		if (r == 0)
			r = wq_set_unbound(q->wq, !v);
		break;
	}
	case K_MAX_ACTIVE: {
		int v;
		r = wqfs_parse_max_active(buf, size, &v);
		if (r == 0)
			workqueue_set_max_active(q->wq, v);
		break;
	}
	case K_CPUMASK: {
		struct workqueue_attrs at;
		long n = sysconf(_SC_NPROCESSORS_CONF);
		wq_get_attrs(q->wq, &at);
		r = wqfs_parse_cpumask(buf, size, n > 0 && n <= CPU_SETSIZE ? (int)n : 1,
				       &at.cpumask);
		if (r == 0)
			r = apply_workqueue_attrs(q->wq, &at);
		break;
	}
	case K_NICE: {
		struct workqueue_attrs at;
		int v;
		r = wqfs_parse_nice(buf, size, &v);
		/* as setpriority(2): a negative nice needs root */
		if (r == 0 && v < 0 && fh->ctx->uid != 0)
			r = -EPERM;
		if (r == 0) {
			wq_get_attrs(q->wq, &at);
			at.nice = v;
			r = apply_workqueue_attrs(q->wq, &at);
		}
		break;
	}
	case K_FROZEN: {
		bool v;
		r = wqfs_parse_bool(buf, size, &v);
		if (r == 0)
			wq_freeze(q->wq, v);
		break;
	}
	default:
		r = -EINVAL;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}
