/* SPDX-License-Identifier: MIT */
/*
 * caller.c - the submitter a FUSE request speaks for: its credentials from
 * the request; for a view of queues and works, its supplementary groups
 * (/proc, model/proc.c), which decide what it may read; for a control or
 * attribute file, its working directory, environment and limits
 * (model/subcache.c), and no groups: a work runs with the groups its
 * user has when it runs.
 */
#include "wqfs.h"

struct submitter *caller_capture_creds(fuse_req_t req)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	gid_t *groups = NULL;
	int n = proc_groups(fc->pid, &groups);
	struct submitter *c = submitter_new(fc->uid, fc->gid, fc->pid, groups,
					    n > 0 ? (size_t)n : 0);
	g_free(groups);
	return c;
}

struct submitter *caller_capture(fuse_req_t req, struct cpu_reader *cpu)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	return subcache_capture(fc->uid, fc->gid, fc->pid, cpu);
}
