/* SPDX-License-Identifier: MIT */
/*
 * caller.c - the submitter a FUSE request speaks for: its credentials and
 * groups from the request, and (for control files) its working directory,
 * environment and limits from /proc (model/submitter.c).
 */
#include "wqfs.h"

#define GROUPS_MAX	65536

struct submitter *caller_capture_creds(fuse_req_t req)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	gid_t small[64], *groups = small;

	int n = fuse_req_getgroups(req, 64, small);
	if (n > GROUPS_MAX) {
		n = 0;
	} else if (n > 64) {
		groups = g_new(gid_t, (size_t)n);
		int m = fuse_req_getgroups(req, n, groups);
		n = m > 0 && m <= n ? m : 0;
	}
	struct submitter *c = submitter_new(fc->uid, fc->gid, fc->pid, groups,
					    n > 0 ? (size_t)n : 0);
	if (groups != small)
		g_free(groups);
	return c;
}

struct submitter *caller_capture(fuse_req_t req)
{
	struct submitter *c = caller_capture_creds(req);
	submitter_read_process(c);
	return c;
}
