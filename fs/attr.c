/* SPDX-License-Identifier: MIT */
/*
 * attr.c - writes to a queue's attribute files (per_cpu, max_active,
 * cpumask, nice, frozen), as sysfs stores: one value per write, parsed
 * (parse.c) and set by the model for the opener (fh->sub).
 */
#include <errno.h>
#include <unistd.h>

#include "wqfs.h"

static int online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);
	return n > 0 && n <= CPU_SETSIZE ? (int)n : 1;
}

void attr_write(fuse_req_t req, struct fh *fh, const char *buf, size_t size)
{
	struct wqfs_attr_value v;
	int r = wqfs_parse_attr((enum wqfs_attr)nodes[fh->kind].arg, buf, size, online_cpus(), &v);
	if (r == 0)
		r = model_ready();
	struct wqfs_attr_value old;
	if (r == 0)
		mqueue_get_attr(fh->q, v.attr, &old);
	if (r == 0)
		r = mqueue_set_attr(fh->q, &v, fh->sub);
	if (r == 0 && (r = model_commit()) < 0) {
		mqueue_set_attr(fh->q, &old, NULL);	/* not committed: as it was */
		model_commit_put_back();
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}
