/* SPDX-License-Identifier: MIT */
/*
 * caller.c - the submitter a FUSE request speaks for: its credentials from
 * the request, its groups from /proc (model/proc.c), and (for control
 * files) its working directory, environment and limits (model/subcache.c).
 */
#include "wqfs.h"

/* A submitter of the request's caller: make(uid, gid, pid, groups). */
static struct submitter *caller_make(fuse_req_t req,
				     struct submitter *(*make)(uid_t, gid_t, pid_t,
							       const gid_t *, size_t))
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	gid_t *groups = NULL;
	int n = proc_groups(fc->pid, &groups);
	struct submitter *c = make(fc->uid, fc->gid, fc->pid, groups, n > 0 ? (size_t)n : 0);
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
