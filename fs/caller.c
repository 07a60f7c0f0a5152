/* SPDX-License-Identifier: MIT */
/*
 * caller.c - the submitter a FUSE request speaks for: its credentials from
 * the request, its groups from /proc (model/proc.c), and (for control
 * files) its working directory, environment and limits (model/subcache.c).
 */
#include "wqfs.h"

/* A submitter of the request's caller: its credentials only (cpu NULL),
 * or everything (subcache_capture). */
static struct submitter *caller_make(fuse_req_t req, struct cpu_reader *cpu)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	gid_t *groups = NULL;
	int n = proc_groups(fc->pid, &groups);
	size_t ng = n > 0 ? (size_t)n : 0;
	struct submitter *c = cpu ?
		subcache_capture(fc->uid, fc->gid, fc->pid, groups, ng, cpu) :
		submitter_new(fc->uid, fc->gid, fc->pid, groups, ng);
	g_free(groups);
	return c;
}

struct submitter *caller_capture_creds(fuse_req_t req)
{
	return caller_make(req, NULL);
}

struct submitter *caller_capture(fuse_req_t req, struct cpu_reader *cpu)
{
	return caller_make(req, cpu);
}
