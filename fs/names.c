/* SPDX-License-Identifier: MIT */
/*
 * names.c - the FUSE operations on names and attributes: lookup, getattr,
 * setattr (chmod, chown of a queue's files), opendir, readdir, mkdir
 * (create_workqueue), rmdir (destroy_workqueue, or forget a work).  A
 * directory's listing is taken at opendir.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "wqfs.h"

/*
 * How long the kernel may keep a name and its attributes.  A work's names
 * come and go (works are forgotten, anonymous ones dropped) and its
 * files' attributes follow its queue's directory: the kernel always asks.
 * Every other node is fixed: the root's files never change, and a
 * queue's files change only by a request the kernel itself makes on them
 * (chmod and chown: setattr's reply carries the new attributes; rmdir of
 * the queue: the kernel drops the entry it removed), so a long timeout
 * never shows a stale mode or owner, and default_permissions checks
 * against what the model holds.  Queues are restored before the mount
 * answers its first request.
 */
#define FIXED_TIMEOUT	3600.0

static double node_timeout(fuse_ino_t ino)
{
	return is_work_kind(ino_kind(ino)) ? 0.0 : FIXED_TIMEOUT;
}

/* Another node changed or removed queue qid (model_set_queue_watch):
 * the kernel forgets its entry and what it keeps of its files, which the
 * fixed nodes' timeouts would otherwise keep for an hour.  No lock held;
 * an inode the kernel does not know is not an error. */
void names_queue_changed(uint64_t qid, const char *name)
{
	fuse_lowlevel_notify_inval_entry(wqfs_se, FUSE_ROOT_ID, name, strlen(name));
	for (enum kind k = K_QDIR; k <= K_WORKS; k++)
		fuse_lowlevel_notify_inval_inode(wqfs_se, mkino(qid, k), 0, 0);
}

/* ---- attributes ------------------------------------------------------------ */

bool is_queue_kind(enum kind k)
{
	return k >= K_QDIR && k <= K_WORKS;
}

bool is_work_kind(enum kind k)
{
	return k >= K_WDIR && k <= K_WFOLLOW;
}

/* Model lock held. */
int stat_ino(fuse_ino_t ino, struct stat *st)
{
	enum kind k = ino_kind(ino);
	uint64_t id = ino_id(ino);

	if (k <= K_NONE || k >= K_COUNT)
		return -ENOENT;
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	/* stdio writes a line of up to 1 MiB to a control file in one
	 * write(2), which arrives whole (max_write, see op_init) */
	st->st_blksize = nodes[k].cls == NC_CTL ? CTL_BLKSIZE : 4096;
	st->st_mode = nodes[k].mode;
	st->st_uid = getuid();
	st->st_gid = getgid();
	time_t t = wqfs_mount_time;
	if (is_queue_kind(k)) {
		struct mqueue *q = mqueue_lookup_id(id);
		if (!q)
			return -ENOENT;
		const struct fattr *a = &q->files[qfile(k)];
		st->st_mode = (nodes[k].mode & S_IFMT) | (a->mode & 07777);
		st->st_uid = a->uid;
		st->st_gid = a->gid;
		t = q->ctime;
	} else if (is_work_kind(k)) {
		/* A work's files are its owner's; its status shows the command
		 * line, so others read them only through the queue's group. */
		struct mwork *w = mwork_lookup_id(id);
		if (!w)
			return -ENOENT;
		st->st_uid = w->owner;
		st->st_gid = w->q->files[MQ_DIR].gid;
		if (k != K_WDIR)
			st->st_mode = S_IFREG | 0400 | (w->q->files[MQ_DIR].mode & 0040);
		if (k == K_WOUTPUT)	/* tail -f follows it, tail -n seeks */
			st->st_size = (off_t)output_size(w);
		t = w->ctime;
	} else if (id != 0) {
		return -ENOENT;
	}
	st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
	st->st_atime = st->st_mtime = st->st_ctime = t;
	return 0;
}

static void reply_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof e);
	int r = stat_ino(ino, &e.attr);
	model_unlock();
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	e.ino = ino;
	e.attr_timeout = node_timeout(ino);
	e.entry_timeout = node_timeout(ino);
	fuse_reply_entry(req, &e);
}

/* The child kind of parent kind pk named name, from the table. */
static enum kind child_kind(enum kind pk, const char *name)
{
	for (int k = 1; k < K_COUNT; k++)
		if (nodes[k].parent == pk && nodes[k].name && strcmp(nodes[k].name, name) == 0)
			return (enum kind)k;
	return K_NONE;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	enum kind pk = ino_kind(parent);
	uint64_t id = ino_id(parent);
	fuse_ino_t ino = 0;

	model_lock();
	enum kind k = child_kind(pk, name);
	if (k != K_NONE) {
		ino = mkino(id, k);
	} else if (pk == K_ROOT) {
		struct mqueue *q = g_hash_table_lookup(queues_by_name, name);
		if (q)
			ino = mkino(q->id, K_QDIR);
	} else if (pk == K_WORKS) {
		struct mqueue *q = mqueue_lookup_id(id);
		struct mwork *w = q ? mqueue_work(q, name) : NULL;
		if (w)
			ino = mkino(w->id, K_WDIR);
	}
	if (!ino) {
		model_unlock();
		fuse_reply_err(req, ENOENT);
		return;
	}
	reply_entry(req, ino);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	model_lock();
	int r = stat_ino(ino, &st);
	model_unlock();
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, node_timeout(ino));
}

/* chmod, chown of a queue's file ino; the file's owner and mode before
 * in *old.  Model lock held. */
static void set_file(fuse_ino_t ino, const struct stat *attr, int to_set, struct fattr *old)
{
	struct mqueue *q = mqueue_lookup_id(ino_id(ino));
	int i = qfile(ino_kind(ino));
	struct fattr a = *old = q->files[i];
	if (to_set & FUSE_SET_ATTR_MODE)
		a.mode = attr->st_mode & 07777;
	if (to_set & FUSE_SET_ATTR_UID)
		a.uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		a.gid = attr->st_gid;
	mqueue_set_file(q, i, &a);
}

/* The owner and mode of ino back to old, after their commit failed. */
static void unset_file(fuse_ino_t ino, const struct fattr *old)
{
	model_lock();
	struct mqueue *q = mqueue_lookup_id(ino_id(ino));
	if (q)
		mqueue_set_file(q, qfile(ino_kind(ino)), old);
	model_unlock();
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	enum kind k = ino_kind(ino);
	struct stat st;
	/* a chmod or chown the store could not commit is refused first */
	int r = to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) ?
		model_ready() : 0;

	model_lock();
	if (r == 0)
		r = stat_ino(ino, &st);
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		/* O_TRUNC from `echo >`: a no-op on writable files */
		enum node_class c = nodes[k].cls;
		if (c != NC_CTL && c != NC_ATTR)
			r = -EPERM;
	}
	struct fattr old;
	bool chmod = r == 0 && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
					  FUSE_SET_ATTR_GID));
	if (chmod && !is_queue_kind(k))
		r = -EPERM;
	else if (chmod)
		set_file(ino, attr, to_set, &old);
	if (r == 0)
		r = stat_ino(ino, &st);
	model_unlock();
	if (r == 0)
		r = model_commit();
	if (r < 0 && chmod && is_queue_kind(k)) {	/* not committed: as it was */
		unset_file(ino, &old);
		model_commit_put_back();
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, node_timeout(ino));
}

/* ---- directories ------------------------------------------------------------ */

static void dir_add(GArray *a, const char *name, fuse_ino_t ino, mode_t mode)
{
	struct dirent_item it = { g_strdup(name), ino, mode };
	g_array_append_val(a, it);
}

/*
 * The start of opendir and open: take model_lock and check that ino exists
 * and is a directory (want_dir) or is not.  Returns true with model_lock
 * held, or replies the error (ENOENT, ENOTDIR, EISDIR) and returns false
 * with model_lock released.
 */
bool lock_node(fuse_req_t req, fuse_ino_t ino, bool want_dir)
{
	struct stat st;
	int err;

	model_lock();
	err = stat_ino(ino, &st);
	if (!err && S_ISDIR(st.st_mode) != want_dir)
		err = want_dir ? -ENOTDIR : -EISDIR;
	if (err) {
		model_unlock();
		fuse_reply_err(req, -err);
		return false;
	}
	return true;
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	enum kind k = ino_kind(ino);
	uint64_t id = ino_id(ino);

	if (!lock_node(req, ino, true))
		return;
	struct fh *fh = fh_new(k);
	GArray *a = g_array_new(FALSE, FALSE, sizeof(struct dirent_item));
	dir_add(a, ".", ino, S_IFDIR);
	dir_add(a, "..", FUSE_ROOT_ID, S_IFDIR);
	for (int c = 1; c < K_COUNT; c++)
		if (nodes[c].parent == k && nodes[c].name)
			dir_add(a, nodes[c].name, mkino(id, (enum kind)c), nodes[c].mode);
	if (k == K_ROOT) {
		GHashTableIter it;
		gpointer key, val;
		g_hash_table_iter_init(&it, queues_by_name);
		while (g_hash_table_iter_next(&it, &key, &val)) {
			struct mqueue *q = val;
			dir_add(a, q->name, mkino(q->id, K_QDIR), S_IFDIR);
		}
	} else if (k == K_WORKS) {
		struct mqueue *q = mqueue_lookup_id(id);
		GHashTableIter it;
		gpointer key, val;
		g_hash_table_iter_init(&it, q->works);
		while (g_hash_table_iter_next(&it, &key, &val)) {
			struct mwork *w = val;
			dir_add(a, w->name, mkino(w->id, K_WDIR), S_IFDIR);
		}
	}
	model_unlock();
	fh->dir = a;
	fi->fh = (uintptr_t)fh;
	fuse_reply_open(req, fi);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	char *buf = g_malloc(size);
	size_t used = 0;
	for (guint i = (guint)off; off >= 0 && i < fh->dir->len; i++) {
		struct dirent_item *it = &g_array_index(fh->dir, struct dirent_item, i);
		struct stat st = { .st_ino = it->ino, .st_mode = it->mode };
		size_t n = fuse_add_direntry(req, buf + used, size - used, it->name, &st,
					     (off_t)i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	g_free(buf);
}

void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fh_unref((struct fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	if (ino_kind(parent) != K_ROOT) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!wqfs_valid_name(name, strlen(name))) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct mqueue *q;
	int err = model_ready();
	if (err == 0)
		err = mqueue_create(name, c->uid, c->gid, mode & ~c->umask, &q);
	if (err == 0 && (err = model_commit()) < 0) {
		mqueue_rmdir(q, NULL);	/* not committed: no queue */
		model_commit_put_back();
	}
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	model_lock();
	reply_entry(req, mkino(q->id, K_QDIR));
}

/* rmdir of the works/NAME of a queue: forget an idle work. */
static int forget_work(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mqueue *q = mqueue_lookup_id(ino_id(parent));
	return q ? mwork_forget(q, name, fuse_req_ctx(req)->uid) : -ENOENT;
}

static int rmdir_queue(const char *name)
{
	model_lock();
	struct mqueue *q = g_hash_table_lookup(queues_by_name, name);
	if (!q) {
		model_unlock();
		return child_kind(K_ROOT, name) ? -ENOTDIR : -ENOENT;
	}
	mqueue_ref(q);
	model_unlock();
	int err = model_ready();
	if (err == 0)
		err = mqueue_rmdir_committed(q, jiqfile_stop_queue);
	model_lock();
	mqueue_unref(q);
	model_unlock();
	return err;
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	enum kind pk = ino_kind(parent);
	int err = -EPERM;

	if (pk == K_ROOT)
		return (void)fuse_reply_err(req, -rmdir_queue(name));
	model_lock();
	if (pk == K_WORKS)
		err = forget_work(req, parent, name);
	else if (child_kind(pk, name) == K_NONE)
		err = -ENOENT;
	model_unlock();
	if (err == 0)
		err = model_commit();
	fuse_reply_err(req, -err);
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EPERM);
}

