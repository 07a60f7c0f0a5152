// SPDX-License-Identifier: MIT
/*
 * command-cred.c - who the child of a run runs as.
 *
 * With cred->current_groups the user is looked up in the parent when the
 * run starts (NSS may take locks and allocate: never in the vfork child):
 * its groups now, and a gid it still has.  A user who is gone, or who
 * cannot be looked up, does not run, and a "wqfs: ..." line in the kept
 * output says why.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "command-internal.h"

#define WQ_COMMAND_PW_BUF_MAX	(1024 * 1024)	/* getpwuid_r() buffer cap */
#define WQ_COMMAND_GROUPS_MAX	65536		/* the kernel's NGROUPS_MAX */

/* ---- the user, looked up in the parent when the run starts ------------- */

/*
 * Look uid up in passwd: 0 with *pw filled (its strings in *buf, to be
 * freed), -ENOENT when uid has no entry, else -errno of the lookup.
 */
static int wq_command_getpw(uid_t uid, struct passwd *pw, char **buf)
{
	struct passwd *found = NULL;
	size_t size = 1024;
	int err;

	for (;;) {
		*buf = malloc(size);
		if (!*buf)
			return -ENOMEM;
		err = getpwuid_r(uid, pw, *buf, size, &found);
		if (found || err != ERANGE || size >= WQ_COMMAND_PW_BUF_MAX)
			break;
		free(*buf);
		size *= 2;
	}
	if (found)
		return 0;
	free(*buf);
	*buf = NULL;
	/* Not found is 0; some NSS modules say ENOENT or ESRCH. */
	if (!err || err == ENOENT || err == ESRCH)
		return -ENOENT;
	return -err;
}

/* The groups of user name now, its primary gid included; malloc()ed. */
static int wq_command_getgroups(const char *name, gid_t gid, gid_t **groups,
				size_t *ngroups)
{
	gid_t *list = NULL, *grown;
	int size = 32, n;

	for (;;) {
		grown = realloc(list, (size_t)size * sizeof(*list));
		if (!grown) {
			free(list);
			return -ENOMEM;
		}
		list = grown;
		n = size;
		if (getgrouplist(name, gid, list, &n) >= 0)
			break;
		if (size >= WQ_COMMAND_GROUPS_MAX) {
			free(list);
			return -EINVAL;		/* what setgroups() would say */
		}
		/* n is the size it asks for; grow anyway if it did not. */
		size = n > size ? n : size * 2;
		if (size > WQ_COMMAND_GROUPS_MAX)
			size = WQ_COMMAND_GROUPS_MAX;
	}
	*groups = list;
	*ngroups = (size_t)n;
	return 0;
}

/* cred->gid while the user is still in it, else their primary group. */
static gid_t wq_command_pick_gid(const struct wq_cred *cred, gid_t pw_gid,
				 const gid_t *groups, size_t ngroups)
{
	size_t i;

	for (i = 0; i < ngroups; i++)
		if (groups[i] == cred->gid)
			return cred->gid;
	return pw_gid;
}

/*
 * *now = cmd->cred as its user is now: current groups and a gid they still
 * have.  *groups is the array now points to, to be freed after the run.
 * A user who is gone, or who cannot be looked up, does not run: -errno,
 * and a line in the output says why.
 */
static int wq_command_current_cred(struct wq_command *cmd,
				   struct wq_cred *now, gid_t **groups)
{
	const struct wq_cred *cred = cmd->cred;
	unsigned int uid = cred->uid;
	struct passwd pw;
	char *buf;
	size_t n;
	int err;

	err = wq_command_getpw(cred->uid, &pw, &buf);
	if (err == -ENOENT) {
		wq_command_say(cmd, "user %u no longer exists; "
			       "the work does not run\n", uid);
		return err;
	}
	if (err) {
		wq_command_say(cmd, "looking up user %u: %s; the work does not "
			       "run\n", uid, wq_command_strerror(-err));
		return err;
	}
	err = wq_command_getgroups(pw.pw_name, pw.pw_gid, groups, &n);
	if (err) {
		wq_command_say(cmd, "groups of user %u: %s; the work does not "
			       "run\n", uid, wq_command_strerror(-err));
	} else {
		*now = *cred;
		now->gid = wq_command_pick_gid(cred, pw.pw_gid, *groups, n);
		now->groups = *groups;
		now->ngroups = n;
	}
	free(buf);
	return err;
}

/* ---- the identity of a run --------------------------------------------- */

/* Whether cred asks for another identity; -EPERM if we may not switch. */
static int wq_command_check_cred(const struct wq_cred *cred, bool *change)
{
	*change = false;
	if (!cred || (cred->uid == geteuid() && cred->gid == getegid()))
		return 0;
	if (!wq_command_can_switch_user())
		return -EPERM;
	*change = true;
	return 0;
}

/*
 * The identity for the child: *cred NULL to keep the daemon's, else
 * cmd->cred or, when its groups are to be current, *now (its groups in
 * *groups, freed by the caller).  -EPERM if we may not switch.
 */
int wq_command_identity(struct wq_command *cmd, struct wq_cred *now,
			gid_t **groups, const struct wq_cred **cred)
{
	bool change;
	int err = wq_command_check_cred(cmd->cred, &change);

	*cred = NULL;
	if (err || !change)
		return err;
	if (!cmd->cred->current_groups) {
		*cred = cmd->cred;
		return 0;
	}
	err = wq_command_current_cred(cmd, now, groups);
	if (!err)
		*cred = now;
	return err;
}

/* ---- public ------------------------------------------------------------ */

int wq_command_read_limits(pid_t pid, struct rlimit out[RLIM_NLIMITS])
{
	int res;

	for (res = 0; res < RLIM_NLIMITS; res++)
		if (prlimit(pid, res, NULL, &out[res]))
			return -errno;
	return 0;
}

bool wq_command_can_switch_user(void)
{
	return geteuid() == 0;
}
