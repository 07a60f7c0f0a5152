/* SPDX-License-Identifier: MIT */
/*
 * caller.c - the submitter a FUSE request speaks for: its credentials and
 * groups from the request, and (for control files) its working directory,
 * environment and limits from /proc (model/subcache.c).
 */
#include "wqfs.h"

#define GROUPS_MAX	65536

/* The request's groups into small (or a g_new array); their count. */
static int caller_groups(fuse_req_t req, gid_t small[64], gid_t **groups)
{
	*groups = small;
	int n = fuse_req_getgroups(req, 64, small);
	if (n > GROUPS_MAX) {
		n = 0;
	} else if (n > 64) {
		*groups = g_new(gid_t, (size_t)n);
		int m = fuse_req_getgroups(req, n, *groups);
		n = m > 0 && m <= n ? m : 0;
	}
	return n > 0 ? n : 0;
}

/* A submitter of the request's caller: make(uid, gid, pid, groups). */
static struct submitter *caller_make(fuse_req_t req,
				     struct submitter *(*make)(uid_t, gid_t, pid_t,
							       const gid_t *, size_t))
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	gid_t small[64], *groups;
	int n = caller_groups(req, small, &groups);
	struct submitter *c = make(fc->uid, fc->gid, fc->pid, groups, (size_t)n);
	if (groups != small)
		g_free(groups);
	return c;
}

struct submitter *caller_capture_creds(fuse_req_t req)
{
	return caller_make(req, submitter_new);
}

struct submitter *caller_capture(fuse_req_t req)
{
	return caller_make(req, subcache_capture);
}
