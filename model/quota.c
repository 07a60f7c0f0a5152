/* SPDX-License-Identifier: MIT */
/*
 * quota.c - per-user limits: what each user holds in the daemon (queues,
 * works, bytes of command text, trace and jiq readers, open control
 * files), so that no user can exhaust the daemon for the others.  A
 * charge past the user's limit fails with EDQUOT.  Root (uid 0) is
 * neither limited nor counted.
 *
 * Locking: every function is called with the model lock held.
 */
#include <errno.h>
#include <time.h>

#include "internal.h"

/* Open files are given back at FUSE_RELEASE, which the kernel sends as
 * close(2) returns, without waiting for it: an open right after a close
 * by the same user may come before that release is handled.  So an open
 * past its limit waits this long for a release before it is EDQUOT. */
#define QUOTA_RELEASE_WAIT_MS	200

static pthread_cond_t released;		/* the model lock's mutex, monotonic */
static pthread_once_t released_once = PTHREAD_ONCE_INIT;

static void released_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&released, &a);
	pthread_condattr_destroy(&a);
}

struct usage {
	uint64_t held[QUOTA_COUNT];
};

static GHashTable *usage_by_uid;	/* model_lock: uid -> struct usage */

static uint64_t quota_limit(enum quota_kind k)
{
	switch (k) {
	case QUOTA_QUEUES:	return model_cfg.user_queues;
	case QUOTA_WORKS:	return model_cfg.user_works;
	case QUOTA_BYTES:	return model_cfg.user_bytes;
	case QUOTA_READERS:	return model_cfg.user_readers;
	case QUOTA_FILES:	return model_cfg.user_files;
	default:		return 0;
	}
}

static struct usage *usage_of(uid_t uid, bool create)
{
	if (!usage_by_uid)
		usage_by_uid = g_hash_table_new_full(g_direct_hash, g_direct_equal,
						     NULL, g_free);
	struct usage *u = g_hash_table_lookup(usage_by_uid, GUINT_TO_POINTER(uid));
	if (!u && create) {
		u = g_new0(struct usage, 1);
		g_hash_table_insert(usage_by_uid, GUINT_TO_POINTER(uid), u);
	}
	return u;
}

int quota_charge(uid_t uid, enum quota_kind k, uint64_t n)
{
	if (uid == 0 || n == 0)
		return 0;
	struct usage *u = usage_of(uid, true);
	if (u->held[k] + n > quota_limit(k))
		return -EDQUOT;
	u->held[k] += n;
	return 0;
}

void quota_force(uid_t uid, enum quota_kind k, uint64_t n)
{
	if (uid != 0)
		usage_of(uid, true)->held[k] += n;
}

void quota_release_deadline(struct timespec *until)
{
	clock_gettime(CLOCK_MONOTONIC, until);
	until->tv_nsec += QUOTA_RELEASE_WAIT_MS * 1000000L;
	until->tv_sec += until->tv_nsec / 1000000000L;
	until->tv_nsec %= 1000000000L;
}

bool quota_wait_release(const struct timespec *until)
{
	struct timespec now;
	pthread_once(&released_once, released_init);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > until->tv_sec ||
	    (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec))
		return false;
	model_wait_cond(&released, until);
	return true;
}

void quota_uncharge(uid_t uid, enum quota_kind k, uint64_t n)
{
	if (k == QUOTA_READERS || k == QUOTA_FILES) {
		pthread_once(&released_once, released_init);
		pthread_cond_broadcast(&released);
	}
	struct usage *u = uid ? usage_of(uid, false) : NULL;
	if (!u)
		return;
	u->held[k] = u->held[k] > n ? u->held[k] - n : 0;
	for (int i = 0; i < QUOTA_COUNT; i++)
		if (u->held[i])
			return;
	g_hash_table_remove(usage_by_uid, GUINT_TO_POINTER(uid));
}

void quota_fini(void)
{
	if (usage_by_uid)
		g_hash_table_destroy(usage_by_uid);
	usage_by_uid = NULL;
}
