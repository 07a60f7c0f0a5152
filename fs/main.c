/* SPDX-License-Identifier: MIT */
/*
 * main.c - options, mounting, the FUSE loop, and unmount: works already
 * queued are drained (up to drain_timeout), delayed works not yet due are
 * dropped, and what is dropped or killed is reported on stderr.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "wqfs.h"

struct wqfs_opts opts = {
	.model.hz = 250,
	.model.max_works = 1048576,
	.model.max_output = 65536,
	.model.keep_anon = 64,
	.trace_buffer = 65536,
	.drain_timeout = 10,
	.model.user_queues = 64,
	.model.user_works = 10000,
	.model.user_bytes = 16 * 1024 * 1024,
	.model.user_readers = 32,
	.model.user_files = 256,
	.worker_idle_ms = 5000,
};
char *wqfs_root;
static struct store *store;		/* NULL with state=none */
struct wqfs_trace *trace_hub;
struct fuse_session *wqfs_se;
time_t wqfs_mount_time;

#define OPTION(t, p) { t, offsetof(struct wqfs_opts, p), 1 }

static const struct fuse_opt option_spec[] = {
	OPTION("hz=%u", model.hz),
	OPTION("max_works=%lu", model.max_works),
	OPTION("max_output=%zu", model.max_output),
	OPTION("keep_anon=%u", model.keep_anon),
	OPTION("trace_buffer=%zu", trace_buffer),
	OPTION("drain_timeout=%u", drain_timeout),
	OPTION("user_queues=%lu", model.user_queues),
	OPTION("user_works=%lu", model.user_works),
	OPTION("user_bytes=%zu", model.user_bytes),
	OPTION("user_readers=%lu", model.user_readers),
	OPTION("user_files=%lu", model.user_files),
	OPTION("worker_idle_ms=%u", worker_idle_ms),
	OPTION("state=%s", state),
	OPTION("sync=%s", sync),
	OPTION("node=%s", model.node),
	OPTION("-h", show_help),
	OPTION("--help", show_help),
	OPTION("-V", show_version),
	OPTION("--version", show_version),
	FUSE_OPT_END
};

/* Non-option arguments: `wqfs MOUNTPOINT`, or `wqfs SOURCE MOUNTPOINT`
 * as mount(8) runs a fuse.wqfs entry of fstab (SOURCE is ignored). */
static char *nonopt[2];
static int n_nonopt;

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	if (key == FUSE_OPT_KEY_NONOPT) {
		if (n_nonopt >= 2) {
			fprintf(stderr, "wqfs: too many arguments: %s\n", arg);
			return -1;
		}
		nonopt[n_nonopt++] = strdup(arg);
		return 0;
	}
	return 1;
}

static void usage(const char *prog)
{
	printf("usage: %s [options] MOUNTPOINT\n\n"
	       "wqfs options:\n"
	       "    -o hz=N                jiffies per second (default 250)\n"
	       "    -o max_works=N         works per queue (default 1048576; past it ENOSPC)\n"
	       "    -o max_output=BYTES    output kept per work (default 65536)\n"
	       "    -o keep_anon=N         finished anonymous works listed (default 64)\n"
	       "    -o trace_buffer=BYTES  buffer per trace reader (default 65536)\n"
	       "    -o drain_timeout=SECS  wait for running works at unmount (default 10)\n"
	       "    -o worker_idle_ms=MS   an idle worker thread exits after (default 5000)\n"
	       "    -o state=PATH|none     the durable state (default /var/lib/wqfs/NAME.db\n"
	       "                           for root, ~/.local/state/wqfs/NAME.db for others)\n"
	       "    -o sync=normal|full    full: survive power loss (an fsync per commit)\n"
	       "    -o node=NAME           this daemon in a cluster (default: the host name)\n"
	       "per-user limits (root is not limited; past one: EDQUOT):\n"
	       "    -o user_queues=N       queues a user owns (default 64)\n"
	       "    -o user_works=N        works a user has in all queues (default 10000)\n"
	       "    -o user_bytes=BYTES    bytes of a user's command lines (default 16777216)\n"
	       "    -o user_readers=N      open trace and jiqwq files (default 32)\n"
	       "    -o user_files=N        open control files (default 256)\n\n",
	       prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* ---- unmount ----------------------------------------------------------------- */

static void report(struct mqueue *q, struct mwork *w, const char *reason)
{
	fprintf(stderr, "wqfs: dropped %s/%s: %s: %s\n", q->name, w->name, reason,
		mwork_cmdline(w));
}

/* ---- main ------------------------------------------------------------------ */

/* Undo wqfs_start(), in reverse, once the queues are drained (or
 * after wqfs_start() failed: `events` may not exist yet). */
static void wqfs_stop(void)
{
	wq_set_observer(NULL, NULL);
	wqfs_trace_free(trace_hub);
	model_lock();
	if (events_q && !events_q->dead)
		mqueue_unref(events_q);
	model_unlock();
	wq_exit();
	model_fini();
}

/*
 * Memory and descriptors no user can take from the others: buffers of 64
 * KiB and more (trace rings, output rings) are mmap()ed whatever glibc's
 * dynamic threshold learnt, so closing a reader returns its ring to the
 * system; and the descriptor limit is raised to its hard limit, which
 * per-user limits keep anyone from filling.
 */
static void wqfs_limits(void)
{
	struct rlimit rl;

	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

struct store *wqfs_store(void)
{
	return store;
}

/* The engine's observer: every event, named, to the trace hub. */
void wqfs_observer(const struct wq_event *ev, void *data)
{
	char wname[WQFS_NAME_MAX + 1];
	struct qview view;
	bool ours = model_describe(ev, wname, sizeof wname, &view);
	struct wqfs_trace_event te = {
		.ev = ev,
		.queue = ev->wq ? wq_name(ev->wq) : "-",
		.work = wname,
		.tag = ours ? &view : NULL,
	};
	wqfs_trace_emit(data, &te);
	if (store && ours && (ev->type == WQ_EVENT_FINISHED || ev->type == WQ_EVENT_CANCELLED))
		store_counts(store, ev->wq);
}

/* The model's configuration: the options, and what the mount adds. */
static void model_start(void)
{
	opts.model.root = wqfs_root;
	nodes_queue_files(&opts.model);
	model_init(&opts.model);
	model_set_work_watch(follow_watch);
	model_set_queue_watch(names_queue_changed);
}

/* Start the engine, the trace hub, the resumer and `events`: after the
 * fork of fuse_daemonize(), since threads do not survive a fork. */
static int wqfs_start(void)
{
	wqfs_limits();
	wq_set_worker_idle_timeout_ms(opts.worker_idle_ms);
	if (wq_init(opts.model.hz) < 0) {
		fprintf(stderr, "wqfs: cannot start the engine\n");
		return -1;
	}
	model_start();
	trace_hub = wqfs_trace_new();
	wq_set_observer(wqfs_observer, trace_hub);
	if (resumer_start() < 0) {
		fprintf(stderr, "wqfs: cannot start a thread\n");
		wqfs_stop();
		return -1;
	}
	struct mqueue *events;
	mqueue_create("events", getuid(), getgid(), nodes[K_QDIR].mode, &events);
	if (store && (store_restore(store) < 0 || store_start(store) < 0)) {
		fprintf(stderr, "wqfs: cannot start the durable state\n");
		store_stop(store);
		return -1;
	}
	return 0;
}

/* Open the durable state before mounting: a refusal (another daemon, a
 * damaged or newer database) is told on the terminal, and nothing mounts. */
static int state_open(void)
{
	if (opts.sync && strcmp(opts.sync, "normal") != 0 && strcmp(opts.sync, "full") != 0) {
		fprintf(stderr, "wqfs: sync must be normal or full\n");
		return -1;
	}
	if (opts.state && strcmp(opts.state, "none") == 0)
		return 0;
	g_autofree char *path = opts.state ? g_strdup(opts.state)
					   : store_default_path(wqfs_root);
	bool full = opts.sync && strcmp(opts.sync, "full") == 0;
	return store_open(path, full, opts.model.node, &store) < 0 ? -1 : 0;
}

static int session_loop(const struct fuse_cmdline_opts *fopts)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (fopts->singlethread)
		return fuse_session_loop(wqfs_se);
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, fopts->clone_fd);
	fuse_loop_cfg_set_max_threads(cfg, fopts->max_threads ? fopts->max_threads : 64);
	ret = fuse_session_loop_mt(wqfs_se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

/*
 * Parse the command line into opts and fopts.  Returns -1 to go on (and
 * mount), or the exit status (0 after --help or --version, 1 on error).
 */
static int parse_cmdline(struct fuse_args *args, struct fuse_cmdline_opts *fopts,
			 const char *prog)
{
	if (fuse_opt_parse(args, &opts, option_spec, opt_proc) == -1)
		return 1;
	if (opts.show_help) {
		usage(prog);
		return 0;
	}
	if (opts.show_version) {
		printf("wqfs version %s\n", WQFS_VERSION);
		fuse_lowlevel_version();
		return 0;
	}
	if (opts.model.hz == 0 || opts.model.hz > 1000000 || opts.model.max_works == 0) {
		fprintf(stderr, "wqfs: hz and max_works must be positive\n");
		return 1;
	}
	if (!opts.model.node)
		opts.model.node = strdup(g_get_host_name());
	if (!opts.model.node[0] || strlen(opts.model.node) > WQFS_NAME_MAX ||
	    strpbrk(opts.model.node, " \t\n/")) {
		fprintf(stderr, "wqfs: node must be a name of 1 to %d characters, "
			"without blanks or /\n", WQFS_NAME_MAX);
		return 1;
	}
	const char *mp = n_nonopt == 2 ? nonopt[1] : nonopt[0];
	if (!mp) {
		fprintf(stderr, "wqfs: no mount point (see %s --help)\n", prog);
		return 1;
	}
	fuse_opt_add_arg(args, mp);
	fuse_opt_add_arg(args, "-odefault_permissions");
	if (fuse_parse_cmdline(args, fopts) != 0)
		return 1;
	char real[PATH_MAX];
	wqfs_root = g_strdup(realpath(fopts->mountpoint, real) ? real : fopts->mountpoint);
	return -1;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts fopts;
	bool started = false;

	memset(&fopts, 0, sizeof fopts);
	int ret = parse_cmdline(&args, &fopts, argv[0]);
	if (ret >= 0)
		goto out_opts;
	ret = 1;
	if (state_open() < 0)
		goto out_opts;
	wqfs_mount_time = time(NULL);
	wqfs_se = fuse_session_new(&args, &wqfs_ops, sizeof wqfs_ops, NULL);
	if (!wqfs_se)
		goto out_opts;
	if (fuse_set_signal_handlers(wqfs_se) != 0)
		goto out_session;
	if (fuse_session_mount(wqfs_se, fopts.mountpoint) != 0)
		goto out_signals;
	/* Fork before any thread starts: a fork keeps only its own thread. */
	if (fuse_daemonize(fopts.foreground) != 0)
		goto out_unmount;
	/* detached: what the daemon has to say goes to the system log */
	if (!fopts.foreground)
		syslog_start();
	if (wqfs_start() != 0)
		goto out_unmount;
	started = true;
	ret = session_loop(&fopts) < 0 ? 1 : 0;
	flusher_stop(store);
out_unmount:
	fuse_session_unmount(wqfs_se);
	if (started) {
		model_drain(opts.drain_timeout, store != NULL, fh_shutdown_all, report);
		store_stop(store);
		fh_shutdown_all();
	}
out_signals:
	fuse_remove_signal_handlers(wqfs_se);
out_session:
	fuse_session_destroy(wqfs_se);
	if (started)
		wqfs_stop();
out_opts:
	syslog_stop();
	store_close(store);
	free(opts.state);
	free((char *)opts.model.node);
	free(opts.sync);
	free(fopts.mountpoint);
	g_free(wqfs_root);
	free(nonopt[0]);
	free(nonopt[1]);
	fuse_opt_free_args(&args);
	return ret;
}
