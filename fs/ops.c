/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the FUSE low-level operations table, and the operations on open
 * files (open, read, write, poll, flush, release), dispatched on the node
 * table's class: text made at open, control lines (control.c), attribute
 * values (attr.c), trace streams (tracefile.c), jiqwq pages (jiqfile.c),
 * a work's output and follow files (output.c).
 * Names and directories are names.c's.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "wqfs.h"

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
 * act for it (everything its works need, and its CPU in cpu), or of a
 * view of every queue or of a queue's tables (its credentials, to show it
 * only the queues and works it may read).
 */
static struct submitter *opener(fuse_req_t req, enum kind k, int flags,
			       struct cpu_reader *cpu)
{
	enum node_class cls = nodes[k].cls;
	if ((cls == NC_CTL || cls == NC_ATTR) && (flags & O_ACCMODE) != O_RDONLY)
		return caller_capture(req, cpu);
	if (k == K_STATUS || k == K_STATUS_JSON || k == K_TRACE || k == K_QLIST ||
	    k == K_QSTATUS_JSON)
		return caller_capture_creds(req);
	return NULL;
}

/*
 * Whether the close(2) of this open file has something to do: the
 * control files opened for writing apply a line a write left unfinished
 * and wait for what flush, cancel and drain lines armed (op_flush), and
 * report its error.  Every other open file is done with at its last
 * write: no FUSE_FLUSH at each close (the kernel's FOPEN_NOFLUSH).
 */
static bool close_has_work(enum kind k, int flags)
{
	return nodes[k].cls == NC_CTL && (flags & O_ACCMODE) != O_RDONLY;
}

/* Lock the model on ino's node and charge quota (-1: none) to uid; true
 * with the model lock held, or false, answered.  Past the limit it waits
 * a little for a release of the user's (quota.c), looking the node up
 * again after each wait. */
static bool lock_and_charge(fuse_req_t req, fuse_ino_t ino, uid_t uid, int quota)
{
	struct timespec until;
	quota_release_deadline(&until);
	for (;;) {
		if (!lock_node(req, ino, false))
			return false;
		if (quota < 0 || quota_charge(uid, quota, 1) == 0)
			return true;
		bool waited = quota_wait_release(&until);
		model_unlock();
		if (!waited) {
			fuse_reply_err(req, EDQUOT);
			return false;
		}
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	enum kind k = ino_kind(ino);
	uint64_t id = ino_id(ino);
	uid_t uid = fuse_req_ctx(req)->uid;
	struct cpu_reader cpu = CPU_READER_INIT;
	struct submitter *sub = opener(req, k, fi->flags, &cpu);

	int quota = open_quota(nodes[k].cls);
	if (!lock_and_charge(req, ino, uid, quota)) {
		proc_cpu_close(&cpu);
		submitter_unref(sub);
		return;
	}
	struct fh *fh = fh_new(k);
	fh->cpu = cpu;
	fh->sub = sub;
	fh->uid = uid;
	fh->quota = quota;
	if (is_queue_kind(k)) {
		fh->q = mqueue_lookup_id(id);
		mqueue_ref(fh->q);
	} else if (is_work_kind(k)) {
		fh->wid = id;
	}
	int acc = fi->flags & O_ACCMODE;
	fh->nonblock = (fi->flags & O_NONBLOCK) != 0;
	switch (nodes[k].cls) {
	case NC_CTL:
	case NC_TEXT:
	case NC_ATTR:
		/* text made at open; of the control files, after's (its DEPs) */
		if (acc != O_WRONLY && (nodes[k].cls != NC_CTL || k == K_AFTER))
			fh->text = gen_text(k, fh->q, fh->wid, fh->sub, &fh->len);
		break;
	case NC_TRACE:
		tracefile_open(fh);
		fi->nonseekable = 1;
		break;
	case NC_OUTPUT:
		if (nodes[k].arg) {
			follow_open(fh, mwork_lookup_id(id));
			fi->nonseekable = 1;
		}
		break;
	default:
		break;
	}
	fh->link = open_files = g_list_prepend(open_files, fh);
	model_unlock();
	fi->direct_io = 1;
	fi->noflush = !close_has_work(k, fi->flags);
	fi->fh = (uintptr_t)fh;
	fuse_reply_open(req, fi);
}

/* A read of text made at open. */
static void read_text(fuse_req_t req, struct fh *fh, size_t size, off_t off)
{
	size_t n = 0;
	if (fh->text && off >= 0 && (size_t)off < fh->len)
		n = fh->len - (size_t)off < size ? fh->len - (size_t)off : size;
	/* A copy: once the kernel has the reply, the reader may close
	 * and the release free fh->text while writev returns. */
	char *copy = n ? g_memdup2(fh->text + off, n) : NULL;
	fuse_reply_buf(req, copy, n);
	g_free(copy);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
	switch (nodes[fh->kind].cls) {
	case NC_TEXT:
	case NC_ATTR:
		read_text(req, fh, size, off);
		return;
	case NC_CTL: {
		if (fh->kind == K_AFTER) {
			read_text(req, fh, size, off);
			return;
		}
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
		tracefile_read(req, fh, size);
		return;
	case NC_JIQ:
		jiqfile_read(req, fh, size, off);
		return;
	case NC_OUTPUT:
		output_read(req, fh, size, off);
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
	model_lock();
	open_files = g_list_delete_link(open_files, fh->link);
	fh->link = NULL;
	model_unlock();
	fh_close(fh);
	fh_unref(fh);
	fuse_reply_err(req, 0);
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
