/* SPDX-License-Identifier: MIT */
/*
 * nodes.c - the tree: one table names every file once, with its parent,
 * its default mode and its class (how open/read/write treat it).
 */
#include "wqfs.h"

#define D(m) (S_IFDIR | (m))
#define R(m) (S_IFREG | (m))

const struct node nodes[K_COUNT] = {
	[K_ROOT]	  = { "",		K_NONE,  D(01777), NC_DIR,   0 },
	[K_STATUS]	  = { "status",		K_ROOT,  R(0444),  NC_TEXT,  0 },
	[K_STATUS_JSON]	  = { "status.json",	K_ROOT,  R(0444),  NC_TEXT,  0 },
	[K_TRACE]	  = { "trace",		K_ROOT,  R(0444),  NC_TRACE, 0 },
	[K_JIQWQ]	  = { "jiqwq",		K_ROOT,  R(0444),  NC_JIQ,   0 },
	[K_JIQWQDELAY]	  = { "jiqwqdelay",	K_ROOT,  R(0444),  NC_JIQ,   1 },
	[K_HZ]		  = { "hz",		K_ROOT,  R(0444),  NC_TEXT,  0 },
	[K_NODES]	  = { "nodes",		K_ROOT,  R(0444),  NC_TEXT,  0 },
	[K_QDIR]	  = { NULL,		K_ROOT,  D(0755),  NC_DIR,   0 },
	[K_SUBMIT]	  = { "submit",		K_QDIR,  R(0600),  NC_CTL,   WQFS_CTL_SUBMIT },
	[K_DELAY]	  = { "delay",		K_QDIR,  R(0600),  NC_CTL,   WQFS_CTL_DELAY },
	[K_MODIFY]	  = { "modify",		K_QDIR,  R(0200),  NC_CTL,   WQFS_CTL_MODIFY },
	[K_CANCEL]	  = { "cancel",		K_QDIR,  R(0200),  NC_CTL,   WQFS_CTL_CANCEL },
	[K_FLUSH]	  = { "flush",		K_QDIR,  R(0200),  NC_CTL,   WQFS_CTL_FLUSH },
	[K_DRAIN]	  = { "drain",		K_QDIR,  R(0200),  NC_CTL,   WQFS_CTL_DRAIN },
	[K_QSTATUS]	  = { "status",		K_QDIR,  R(0444),  NC_TEXT,  0 },
	[K_QTRACE]	  = { "trace",		K_QDIR,  R(0444),  NC_TRACE, 0 },
	[K_QJIQWQ]	  = { "jiqwq",		K_QDIR,  R(0444),  NC_JIQ,   0 },
	[K_QJIQWQDELAY]	  = { "jiqwqdelay",	K_QDIR,  R(0444),  NC_JIQ,   1 },
	[K_PER_CPU]	  = { "per_cpu",	K_QDIR,  R(0644),  NC_ATTR,  WQFS_ATTR_PER_CPU },
	[K_MAX_ACTIVE]	  = { "max_active",	K_QDIR,  R(0644),  NC_ATTR,  WQFS_ATTR_MAX_ACTIVE },
	[K_CPUMASK]	  = { "cpumask",	K_QDIR,  R(0644),  NC_ATTR,  WQFS_ATTR_CPUMASK },
	[K_NICE]	  = { "nice",		K_QDIR,  R(0644),  NC_ATTR,  WQFS_ATTR_NICE },
	[K_FROZEN]	  = { "frozen",		K_QDIR,  R(0644),  NC_ATTR,  WQFS_ATTR_FROZEN },
	[K_REQUEUE_LOST]  = { "requeue_lost",	K_QDIR,  R(0644),  NC_ATTR,  WQFS_ATTR_REQUEUE_LOST },
	[K_QLIST]	  = { "list",		K_QDIR,  R(0444),  NC_TEXT,  0 },
	[K_QSTATUS_JSON]  = { "status.json",	K_QDIR,  R(0444),  NC_TEXT,  0 },
	[K_AFTER]	  = { "after",		K_QDIR,  R(0644),  NC_CTL,   WQFS_CTL_AFTER },
	[K_WORKS]	  = { "works",		K_QDIR,  D(0755),  NC_DIR,   0 },
	[K_WDIR]	  = { NULL,		K_WORKS, D(0755),  NC_DIR,   0 },
	[K_WSTATUS]	  = { "status",		K_WDIR,  R(0444),  NC_TEXT,  0 },
	[K_WOUTPUT]	  = { "output",		K_WDIR,  R(0444),  NC_OUTPUT, 0 },
	[K_WFOLLOW]	  = { "follow",		K_WDIR,  R(0444),  NC_OUTPUT, 1 },
};

_Static_assert(K_WORKS - K_QDIR + 1 == MQ_NFILES,
	       "the model keeps one struct fattr per file of a queue");

/* The names and first modes of a queue's files, in the model's order. */
void nodes_queue_files(struct model_config *cfg)
{
	for (int k = K_QDIR; k <= K_WORKS; k++) {
		cfg->file_modes[qfile((enum kind)k)] = nodes[k].mode & 07777;
		cfg->file_names[qfile((enum kind)k)] = nodes[k].name ? nodes[k].name : ".";
	}
}
