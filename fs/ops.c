/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the FUSE low-level operations: names and attributes (lookup,
 * getattr, setattr, readdir, mkdir, rmdir), and open files (open, read,
 * write, poll, release), dispatched on the node table's class.
 *
 * Parked reads (trace without O_NONBLOCK, jiqwq) keep their request in
 * fh->rreq under fh->mu; whoever takes it from there answers it.  An
 * interrupt that arrives before the read is parked is remembered in
 * fh->intr_req so the read answers EINTR instead of parking.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "wqfs.h"

GList *open_files;

static const double TIMEOUT = 0.0;	/* names come and go: always ask */
#define CTL_BLKSIZE	(1024 * 1024)	/* control files: st_blksize, max_write */

/* ---- attributes ------------------------------------------------------------ */

static bool is_queue_kind(enum kind k)
{
	return k >= K_QDIR && k <= K_WORKS;
}

static bool is_work_kind(enum kind k)
{
	return k >= K_WDIR && k <= K_WOUTPUT;
}

/* fs_lock held. */
static int stat_ino(fuse_ino_t ino, struct stat *st)
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
		struct fsq *q = fsq_lookup_id(id);
		if (!q)
			return -ENOENT;
		st->st_mode = (nodes[k].mode & S_IFMT) | (q->attr[k].mode & 07777);
		st->st_uid = q->attr[k].uid;
		st->st_gid = q->attr[k].gid;
		t = q->ctime;
	} else if (is_work_kind(k)) {
		/* A work's files are its owner's; its status shows the command
		 * line, so others read them only through the queue's group. */
		struct fsw *w = fsw_lookup_id(id);
		if (!w)
			return -ENOENT;
		st->st_uid = w->owner;
		st->st_gid = w->q->attr[K_QDIR].gid;
		if (k != K_WDIR)
			st->st_mode = S_IFREG | 0400 | (w->q->attr[K_QDIR].mode & 0040);
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
	pthread_mutex_unlock(&fs_lock);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	e.ino = ino;
	e.attr_timeout = TIMEOUT;
	e.entry_timeout = TIMEOUT;
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

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	enum kind pk = ino_kind(parent);
	uint64_t id = ino_id(parent);
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&fs_lock);
	enum kind k = child_kind(pk, name);
	if (k != K_NONE) {
		ino = mkino(id, k);
	} else if (pk == K_ROOT) {
		struct fsq *q = g_hash_table_lookup(queues_by_name, name);
		if (q)
			ino = mkino(q->id, K_QDIR);
	} else if (pk == K_WORKS) {
		struct fsq *q = fsq_lookup_id(id);
		struct fsw *w = q ? g_hash_table_lookup(q->works, name) : NULL;
		if (w)
			ino = mkino(w->id, K_WDIR);
	}
	if (!ino) {
		pthread_mutex_unlock(&fs_lock);
		fuse_reply_err(req, ENOENT);
		return;
	}
	reply_entry(req, ino);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	pthread_mutex_lock(&fs_lock);
	int r = stat_ino(ino, &st);
	pthread_mutex_unlock(&fs_lock);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	enum kind k = ino_kind(ino);
	struct stat st;
	int r = 0;

	pthread_mutex_lock(&fs_lock);
	r = stat_ino(ino, &st);
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		/* O_TRUNC from `echo >`: a no-op on writable files */
		enum node_class c = nodes[k].cls;
		if (c != NC_CTL && c != NC_ATTR)
			r = -EPERM;
	}
	if (r == 0 && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		if (!is_queue_kind(k)) {
			r = -EPERM;
		} else {
			struct fsq *q = fsq_lookup_id(ino_id(ino));
			if (to_set & FUSE_SET_ATTR_MODE)
				q->attr[k].mode = attr->st_mode & 07777;
			if (to_set & FUSE_SET_ATTR_UID)
				q->attr[k].uid = attr->st_uid;
			if (to_set & FUSE_SET_ATTR_GID)
				q->attr[k].gid = attr->st_gid;
			if (k == K_QDIR)
				fsq_publish(q);
		}
	}
	if (r == 0)
		r = stat_ino(ino, &st);
	pthread_mutex_unlock(&fs_lock);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, TIMEOUT);
}

/* ---- directories ------------------------------------------------------------ */

static struct fh *fh_new(enum kind k)
{
	struct fh *fh = g_new0(struct fh, 1);
	fh->kind = k;
	fh->refs = 1;
	fh->quota = -1;
	fh->statfd = -1;
	pthread_mutex_init(&fh->mu, NULL);
	pthread_mutex_init(&fh->jiq_mu, NULL);
	return fh;
}

static void fh_free(struct fh *fh)
{
	g_warn_if_fail(g_queue_is_empty(&fh->waits) && !fh->flushes);
	if (fh->dir) {
		for (guint i = 0; i < fh->dir->len; i++)
			g_free(g_array_index(fh->dir, struct dirent_item, i).name);
		g_array_free(fh->dir, TRUE);
	}
	if (fh->ph)
		fuse_pollhandle_destroy(fh->ph);
	pthread_mutex_lock(&fs_lock);
	if (fh->q)
		fsq_unref(fh->q);
	if (fh->quota >= 0)
		quota_uncharge(fh->uid, fh->quota, 1);
	pthread_mutex_unlock(&fs_lock);
	g_free(fh->text);
	g_free(fh->rb);
	wctx_unref(fh->ctx);
	if (fh->statfd >= 0)
		close(fh->statfd);
	if (fh->part)
		g_string_free(fh->part, TRUE);
	jiqfile_free(fh);
	pthread_mutex_destroy(&fh->mu);
	g_free(fh);
}

void fh_unref(struct fh *fh)
{
	if (__atomic_sub_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL) == 0)
		fh_free(fh);
}

static void dir_add(GArray *a, const char *name, fuse_ino_t ino, mode_t mode)
{
	struct dirent_item it = { g_strdup(name), ino, mode };
	g_array_append_val(a, it);
}

/*
 * The start of opendir and open: take fs_lock and check that ino exists
 * and is a directory (want_dir) or is not.  Returns true with fs_lock
 * held, or replies the error (ENOENT, ENOTDIR, EISDIR) and returns false
 * with fs_lock released.
 */
static bool lock_node(fuse_req_t req, fuse_ino_t ino, bool want_dir)
{
	struct stat st;
	int err;

	pthread_mutex_lock(&fs_lock);
	err = stat_ino(ino, &st);
	if (!err && S_ISDIR(st.st_mode) != want_dir)
		err = want_dir ? -ENOTDIR : -EISDIR;
	if (err) {
		pthread_mutex_unlock(&fs_lock);
		fuse_reply_err(req, -err);
		return false;
	}
	return true;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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
			struct fsq *q = val;
			dir_add(a, q->name, mkino(q->id, K_QDIR), S_IFDIR);
		}
	} else if (k == K_WORKS) {
		struct fsq *q = fsq_lookup_id(id);
		GHashTableIter it;
		gpointer key, val;
		g_hash_table_iter_init(&it, q->works);
		while (g_hash_table_iter_next(&it, &key, &val)) {
			struct fsw *w = val;
			dir_add(a, w->name, mkino(w->id, K_WDIR), S_IFDIR);
		}
	}
	pthread_mutex_unlock(&fs_lock);
	fh->dir = a;
	fi->fh = (uintptr_t)fh;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
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

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fh_unref((struct fh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
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
	pthread_mutex_lock(&fs_lock);
	if (wqfs_exiting) {
		pthread_mutex_unlock(&fs_lock);
		fuse_reply_err(req, ESHUTDOWN);
		return;
	}
	if (g_hash_table_lookup(queues_by_name, name)) {
		pthread_mutex_unlock(&fs_lock);
		fuse_reply_err(req, EEXIST);
		return;
	}
	int err;
	struct fsq *q = fsq_create(name, c->uid, c->gid, &err);
	if (!q) {
		pthread_mutex_unlock(&fs_lock);
		fuse_reply_err(req, -err);
		return;
	}
	q->attr[K_QDIR].mode = mode & 07777 & ~c->umask;
	reply_entry(req, mkino(q->id, K_QDIR));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	enum kind pk = ino_kind(parent);
	pthread_mutex_lock(&fs_lock);
	if (pk == K_ROOT) {
		struct fsq *q = g_hash_table_lookup(queues_by_name, name);
		int err = 0;
		if (!q)
			err = child_kind(K_ROOT, name) ? ENOTDIR : ENOENT;
		else if (q->is_events)
			err = EBUSY;
		if (err) {
			pthread_mutex_unlock(&fs_lock);
			fuse_reply_err(req, err);
			return;
		}
		fsq_ref(q);
		pthread_mutex_unlock(&fs_lock);
		err = -queue_rmdir(q);
		pthread_mutex_lock(&fs_lock);
		fsq_unref(q);
		pthread_mutex_unlock(&fs_lock);
		fuse_reply_err(req, err);
		return;
	}
	int err = EPERM;
	if (pk == K_WORKS) {
		struct fsq *q = fsq_lookup_id(ino_id(parent));
		struct fsw *w = q ? g_hash_table_lookup(q->works, name) : NULL;
		if (!w) {
			err = ENOENT;
		} else if (!fsw_removable(w)) {
			err = EBUSY;
		} else {
			fsw_unlist(w);
			fsw_free(w);
			err = 0;
		}
	} else if (child_kind(pk, name) == K_NONE) {
		err = ENOENT;
	}
	pthread_mutex_unlock(&fs_lock);
	fuse_reply_err(req, err);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EPERM);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EPERM);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EPERM);
}

/* ---- trace: parked reads --------------------------------------------- */

static void park_intr(fuse_req_t req, void *data);

/* Take the parked read; fh->mu held. */
static fuse_req_t take_rreq(struct fh *fh)
{
	fuse_req_t r = fh->rreq;
	fh->rreq = NULL;
	return r;
}

static void trace_wake(void *arg, int unused)
{
	struct fh *fh = arg;
	fuse_req_t req = NULL;
	char *buf = NULL;
	ssize_t n = 0;

	pthread_mutex_lock(&fh->mu);
	if (fh->rreq && fh->tr) {
		buf = g_malloc(fh->rsize ? fh->rsize : 1);
		n = wqfs_trace_read(fh->tr, buf, fh->rsize);
		if (n > 0)
			req = take_rreq(fh);
	}
	struct fuse_pollhandle *ph = fh->ph;
	fh->ph = NULL;
	pthread_mutex_unlock(&fh->mu);
	if (req) {
		fuse_req_interrupt_func(req, NULL, NULL);
		fuse_reply_buf(req, buf, (size_t)n);
	}
	if (ph) {
		fuse_lowlevel_notify_poll(ph);
		fuse_pollhandle_destroy(ph);
	}
	g_free(buf);
	fh_unref(fh);
}

static void trace_notify(void *data)
{
	struct fh *fh = data;
	__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
	resumer_push(trace_wake, fh, 0);
}

static void park_intr(fuse_req_t req, void *data)
{
	struct fh *fh = data;
	pthread_mutex_lock(&fh->mu);
	if (fh->rreq != req) {
		/* not parked yet: the reader answers EINTR itself */
		fh->intr_req = req;
		pthread_mutex_unlock(&fh->mu);
		return;
	}
	fuse_req_t r = take_rreq(fh);
	pthread_mutex_unlock(&fh->mu);
	fuse_reply_err(r, EINTR);
}

static void read_trace(fuse_req_t req, struct fh *fh, size_t size)
{
	pthread_mutex_lock(&fh->mu);
	fh->intr_req = NULL;
	pthread_mutex_unlock(&fh->mu);
	if (!fh->nonblock)
		fuse_req_interrupt_func(req, park_intr, fh);

	char *buf = g_malloc(size ? size : 1);
	pthread_mutex_lock(&fh->mu);
	ssize_t n = fh->tr ? wqfs_trace_read(fh->tr, buf, size) : 0;
	int err = 0;
	if (n == -EAGAIN) {
		if (fh->nonblock)
			err = EAGAIN;
		else if (fh->intr_req == req)
			err = EINTR;
		else if (fh->rreq)
			err = EBUSY;
		else if (wqfs_exiting)
			n = 0;
		else {
			fh->rreq = req;
			fh->rsize = size;
			pthread_mutex_unlock(&fh->mu);
			g_free(buf);
			return;
		}
	} else if (n < 0) {
		err = (int)-n;
	}
	pthread_mutex_unlock(&fh->mu);
	if (!fh->nonblock)
		fuse_req_interrupt_func(req, NULL, NULL);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	g_free(buf);
}

/* ---- open files -------------------------------------------------------------- */

/* What an open file of class cls counts against its opener's limits. */
static int open_quota(enum node_class cls)
{
	switch (cls) {
	case NC_CTL:	return QUOTA_FILES;
	case NC_TRACE:
	case NC_JIQ:	return QUOTA_READERS;
	default:	return -1;
	}
}

/*
 * The opener, as the kernel binds f_cred at open: of a file whose writes
 * act for it (everything its works need), or of a view of every queue
 * (its credentials, to show it only the queues it may read).
 */
static struct wctx *opener_ctx(fuse_req_t req, enum kind k, int flags)
{
	enum node_class cls = nodes[k].cls;
	if ((cls == NC_CTL || cls == NC_ATTR) && (flags & O_ACCMODE) != O_RDONLY)
		return wctx_capture(req);
	if (k == K_STATUS || k == K_STATUS_JSON || k == K_TRACE)
		return wctx_capture_creds(req);
	return NULL;
}

/* Trace rows a reader gets: of the queue it opened (by identity, not by
 * name, so a new queue of the same name is not it), or of every queue
 * the reader may read. */
static bool trace_filter(const struct wqfs_trace_event *e, void *data)
{
	const struct fh *fh = data;
	const struct qview *v = e->tag;

	if (!v)
		return false;
	if (fh->q)
		return v->qid == fh->q->id;
	return wctx_may_read(fh->ctx, v->mode, v->uid, v->gid);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	enum kind k = ino_kind(ino);
	uint64_t id = ino_id(ino);
	uid_t uid = fuse_req_ctx(req)->uid;
	struct wctx *ctx = opener_ctx(req, k, fi->flags);

	if (!lock_node(req, ino, false)) {
		wctx_unref(ctx);
		return;
	}
	int quota = open_quota(nodes[k].cls);
	if (quota >= 0 && quota_charge(uid, quota, 1) < 0) {
		pthread_mutex_unlock(&fs_lock);
		wctx_unref(ctx);
		fuse_reply_err(req, EDQUOT);
		return;
	}
	struct fh *fh = fh_new(k);
	fh->ctx = ctx;
	fh->uid = uid;
	fh->quota = quota;
	if (is_queue_kind(k)) {
		fh->q = fsq_lookup_id(id);
		fsq_ref(fh->q);
	} else if (is_work_kind(k)) {
		fh->wid = id;
	}
	int acc = fi->flags & O_ACCMODE;
	fh->nonblock = (fi->flags & O_NONBLOCK) != 0;
	switch (nodes[k].cls) {
	case NC_TEXT:
	case NC_ATTR:
		if (acc != O_WRONLY)
			fh->text = gen_text(k, fh->q, fh->wid, fh->ctx, &fh->len);
		break;
	case NC_TRACE:
		fh->tr = wqfs_trace_open_filter(trace_hub, trace_filter, fh,
						opts.trace_buffer, trace_notify, fh);
		fi->nonseekable = 1;
		break;
	default:
		break;
	}
	fh->link = open_files = g_list_prepend(open_files, fh);
	pthread_mutex_unlock(&fs_lock);
	fi->direct_io = 1;
	fi->fh = (uintptr_t)fh;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	switch (nodes[fh->kind].cls) {
	case NC_TEXT:
	case NC_ATTR: {
		size_t n = 0;
		if (fh->text && off >= 0 && (size_t)off < fh->len)
			n = fh->len - (size_t)off < size ? fh->len - (size_t)off : size;
		/* A copy: once the kernel has the reply, the reader may close
		 * and the release free fh->text while writev returns. */
		char *copy = n ? g_memdup2(fh->text + off, n) : NULL;
		fuse_reply_buf(req, copy, n);
		g_free(copy);
		return;
	}
	case NC_CTL: {
		/* the names the latest write on this fd queued, then EOF */
		pthread_mutex_lock(&fh->mu);
		size_t n = 0;
		char *copy = NULL;
		if (fh->rb && fh->rbpos < fh->rblen) {
			n = fh->rblen - fh->rbpos < size ? fh->rblen - fh->rbpos : size;
			copy = g_memdup2(fh->rb + fh->rbpos, n);
			fh->rbpos += n;
		}
		pthread_mutex_unlock(&fh->mu);
		fuse_reply_buf(req, copy, n);
		g_free(copy);
		return;
	}
	case NC_TRACE:
		read_trace(req, fh, size);
		return;
	case NC_JIQ:
		jiqfile_read(req, fh, size, off);
		return;
	default:
		fuse_reply_err(req, EISDIR);
	}
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		     off_t off, struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	switch (nodes[fh->kind].cls) {
	case NC_CTL:
		control_write(req, fh, buf, size);
		return;
	case NC_ATTR:
		attr_write(req, fh, buf, size);
		return;
	default:
		fuse_reply_err(req, EINVAL);
	}
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	unsigned int ev = POLLIN | POLLRDNORM;

	if (nodes[fh->kind].cls == NC_TRACE) {
		pthread_mutex_lock(&fh->mu);
		bool readable = fh->tr && wqfs_trace_readable(fh->tr);
		if (ph) {
			if (fh->ph)
				fuse_pollhandle_destroy(fh->ph);
			fh->ph = ph;
			ph = NULL;
		}
		pthread_mutex_unlock(&fh->mu);
		ev = readable ? POLLIN | POLLRDNORM : 0;
	} else if (nodes[fh->kind].cls == NC_CTL || nodes[fh->kind].cls == NC_ATTR) {
		ev |= POLLOUT | POLLWRNORM;
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, ev);
}

/* Close what an open file holds in other modules; no lock held. */
static void fh_close(struct fh *fh)
{
	/* Unpublish the reader before freeing it: a trace_wake queued by
	 * its notify may run at any time and reads fh->tr under fh->mu. */
	pthread_mutex_lock(&fh->mu);
	struct wqfs_trace_reader *tr = fh->tr;
	fh->tr = NULL;
	pthread_mutex_unlock(&fh->mu);
	wqfs_trace_close(tr);
	jiqfile_stop(fh, EINTR);
	waits_close(fh);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	int err = nodes[fh->kind].cls == NC_CTL ? control_apply_part(req, fh) : 0;
	if (err < 0)
		fuse_reply_err(req, -err);
	else
		waits_flush(req, fh);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	pthread_mutex_lock(&fs_lock);
	open_files = g_list_delete_link(open_files, fh->link);
	fh->link = NULL;
	pthread_mutex_unlock(&fs_lock);
	fh_close(fh);
	fh_unref(fh);
	fuse_reply_err(req, 0);
}

/* At exit: answer parked reads, stop jiq runs, close every open file. */
void fh_shutdown_all(void)
{
	for (;;) {
		pthread_mutex_lock(&fs_lock);
		struct fh *fh = open_files ? open_files->data : NULL;
		if (fh) {
			open_files = g_list_delete_link(open_files, open_files);
			fh->link = NULL;
		}
		pthread_mutex_unlock(&fs_lock);
		if (!fh)
			return;
		fh_close(fh);
		pthread_mutex_lock(&fh->mu);
		fuse_req_t req = take_rreq(fh);
		pthread_mutex_unlock(&fh->mu);
		if (req)
			fuse_reply_err(req, EINTR);
		fh_unref(fh);
	}
}

/* A write(2) of up to 1 MiB to a control file arrives as one FUSE_WRITE
 * (libfuse asks the kernel for max_pages to match). */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = CTL_BLKSIZE;
}

const struct fuse_lowlevel_ops wqfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.mknod = op_mknod,
	.rename = op_rename,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.poll = op_poll,
	.flush = op_flush,
	.release = op_release,
};
