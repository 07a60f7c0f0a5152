/* SPDX-License-Identifier: MIT */
/*
 * nullfs - the baseline of the write benchmarks: a FUSE filesystem built
 * on the same libfuse low-level API as wqfs, with files whose write
 * handler only replies.  Whatever wqfs costs above this per write is the
 * cost of wqfs itself, not of FUSE.
 *
 *	nullfs [-f] [-s] [-o direct_io] [-o FUSE options] MOUNTPOINT
 *
 * The tree is MOUNTPOINT/null and null1 .. null63 (inodes 2 .. 65, mode
 * 0666) and nothing else.  The 64 files behave alike: a write answers its
 * full size; a read answers EOF; truncation is accepted, so
 * `echo x > MOUNTPOINT/null` works as it does on a control file of wqfs.
 * The kernel serializes the writes to one FUSE file (they never reach the
 * daemon two at once), so N concurrent writers need N files, as N writers
 * to wqfs need N queues.
 * -o direct_io opens the files with direct I/O (each write(2) one request
 * and no page cache), as wqfs opens its control files.
 */
#ifdef NULLFS_FUSE_312
#define FUSE_USE_VERSION 312	/* fuse_loop_cfg_*(): libfuse >= 3.12 */
#else
#define FUSE_USE_VERSION 35
#endif

#include <errno.h>
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NULL_INO 2		/* null; nullN is NULL_INO + N */
#define NULL_FILES 64		/* null, null1 .. null63 */
#define NULL_NAME_SIZE 16	/* "null" and a number */
static const char null_name[] = "null";

struct nullfs_opts {
	int direct_io;
	int keep_cache;
};
static struct nullfs_opts opts;

static const struct fuse_opt nullfs_optspec[] = {
	{ "direct_io", offsetof(struct nullfs_opts, direct_io), 1 },
	{ "keep_cache", offsetof(struct nullfs_opts, keep_cache), 1 },
	FUSE_OPT_END
};

static int null_is_file(fuse_ino_t ino)
{
	return ino >= NULL_INO && ino < NULL_INO + NULL_FILES;
}

/* The name of file ino: null_name itself or, in buf, null_name and N. */
static const char *null_file_name(fuse_ino_t ino, char buf[NULL_NAME_SIZE])
{
	if (ino == NULL_INO)
		return null_name;
	snprintf(buf, NULL_NAME_SIZE, "%s%u", null_name,
		 (unsigned int)(ino - NULL_INO));
	return buf;
}

/* The file called name, or 0. */
static fuse_ino_t null_file_ino(const char *name)
{
	char buf[NULL_NAME_SIZE];
	fuse_ino_t ino;

	for (ino = NULL_INO; ino < NULL_INO + NULL_FILES; ino++) {
		if (strcmp(name, null_file_name(ino, buf)) == 0)
			return ino;
	}
	return 0;
}

static int fill_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (null_is_file(ino)) {
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
	} else {
		return -1;
	}
	return 0;
}

static void null_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	fuse_ino_t ino = parent == FUSE_ROOT_ID ? null_file_ino(name) : 0;

	if (ino == 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.attr_timeout = 1.0;
	e.entry_timeout = 1.0;
	fill_stat(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void null_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	if (fill_stat(ino, &st) < 0)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, 1.0);
}

static void null_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int to_set, struct fuse_file_info *fi)
{
	null_getattr(req, ino, fi);
}

static void null_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!null_is_file(ino)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = opts.direct_io ? 1 : 0;
	fi->keep_cache = opts.keep_cache ? 1 : 0;
	fuse_reply_open(req, fi);
}

static void null_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
}

static void null_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	fuse_reply_buf(req, NULL, 0);
}

static void null_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void null_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void dirbuf_add(fuse_req_t req, char *buf, size_t *len, size_t cap,
		       const char *name, fuse_ino_t ino)
{
	struct stat st;
	size_t need;

	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	if (*len + need > cap)
		return;
	fuse_add_direntry(req, buf + *len, need, name, &st, (off_t)(*len + need));
	*len += need;
}

static void null_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	char buf[4096], name[NULL_NAME_SIZE];	/* 66 entries of 32 B */
	size_t len = 0;
	fuse_ino_t file;

	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	dirbuf_add(req, buf, &len, sizeof(buf), ".", FUSE_ROOT_ID);
	dirbuf_add(req, buf, &len, sizeof(buf), "..", FUSE_ROOT_ID);
	for (file = NULL_INO; file < NULL_INO + NULL_FILES; file++)
		dirbuf_add(req, buf, &len, sizeof(buf),
			   null_file_name(file, name), file);
	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - (size_t)off < size ?
			       len - (size_t)off : size);
}

static const struct fuse_lowlevel_ops null_ops = {
	.lookup = null_lookup,
	.getattr = null_getattr,
	.setattr = null_setattr,
	.open = null_open,
	.read = null_read,
	.write = null_write,
	.flush = null_flush,
	.release = null_release,
	.readdir = null_readdir,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd;
	struct fuse_session *se;
	int ret = 1;

	if (fuse_parse_cmdline(&args, &cmd) != 0)
		return 1;
	if (cmd.show_help || cmd.mountpoint == NULL) {
		printf("usage: %s [-f] [-s] [-o direct_io] [-o FUSE options] MOUNTPOINT\n",
		       argv[0]);
		ret = cmd.show_help ? 0 : 1;
		goto out_args;
	}
	if (cmd.show_version) {
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (fuse_opt_parse(&args, &opts, nullfs_optspec, NULL) == -1)
		goto out_args;

	se = fuse_session_new(&args, &null_ops, sizeof(null_ops), NULL);
	if (se == NULL)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cmd.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(cmd.foreground) != 0)
		goto out_unmount;

	if (cmd.singlethread) {
		ret = fuse_session_loop(se);
	} else {
#ifdef NULLFS_FUSE_312
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();

		if (cfg == NULL)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(cfg, (unsigned int)cmd.clone_fd);
		fuse_loop_cfg_set_idle_threads(cfg, cmd.max_idle_threads);
		if (cmd.max_threads > 0 && cmd.max_threads <= 100000)
			fuse_loop_cfg_set_max_threads(cfg, cmd.max_threads);
		ret = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
#else
		struct fuse_loop_config cfg = {
			.clone_fd = cmd.clone_fd,
			.max_idle_threads = cmd.max_idle_threads,
		};
		ret = fuse_session_loop_mt(se, &cfg);
#endif
	}
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
