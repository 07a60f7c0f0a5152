/* SPDX-License-Identifier: MIT */
/*
 * model.c - the model without a mount: the operations of the control and
 * attribute files, as functions returning errno, on a running engine.
 * Lines are parsed with fs/parse.c, as the daemon does.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "parse.h"

#define HZ 250

/* ---- fixture: a queue, a writer, the waits it arms, the journal --------- */

struct fixture {
	struct mqueue *q;
	struct submitter *sub;
	pthread_mutex_t mu;		/* pthread, not GMutex: TSan sees it */
	pthread_cond_t cond;
	int armed;			/* mu: waits not done yet */
	GString *journal;		/* mu: one letter per change */
};

struct fwait_test {
	struct mwait mw;		/* first */
	struct fixture *f;
};

static void wait_done(struct mwait *mw)
{
	struct fixture *f = ((struct fwait_test *)mw)->f;
	mwait_release(mw);
	g_free(mw);
	pthread_mutex_lock(&f->mu);
	f->armed--;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
}

static int arm(struct mwriter *m, struct mwork *w, int kind)
{
	struct fixture *f = m->data;
	struct fwait_test *t = g_new0(struct fwait_test, 1);
	t->mw = (struct mwait){ .kind = kind, .q = m->q, .w = w, .done = wait_done };
	t->f = f;
	pthread_mutex_lock(&f->mu);
	f->armed++;
	pthread_mutex_unlock(&f->mu);
	int r = mwait_arm(&t->mw);
	if (r != 0) {
		pthread_mutex_lock(&f->mu);
		f->armed--;
		pthread_mutex_unlock(&f->mu);
		if (r < 0)	/* 1: released by mwait_arm */
			return r;
		g_free(t);
	}
	return 0;
}

/* What the writer's close does: wait for its waits. */
static void wait_armed(struct fixture *f)
{
	pthread_mutex_lock(&f->mu);
	while (f->armed)
		pthread_cond_wait(&f->cond, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

static void journal(enum mchange c, struct mqueue *q, struct mwork *w, void *data)
{
	struct fixture *f = data;
	static const char letters[] = {
		[MCHANGE_QUEUE_CREATED] = 'C', [MCHANGE_QUEUE_REMOVED] = 'R',
		[MCHANGE_QUEUE_ATTRS] = 'A', [MCHANGE_WORK_QUEUED] = 'q',
		[MCHANGE_WORK_STARTED] = 's', [MCHANGE_WORK_FINISHED] = 'f',
		[MCHANGE_WORK_CANCELLED] = 'c', [MCHANGE_WORK_FORGOTTEN] = 'x',
		[MCHANGE_WORK_RESTORED] = 'r',
	};
	pthread_mutex_lock(&f->mu);
	g_string_append_c(f->journal, letters[c]);
	pthread_mutex_unlock(&f->mu);
}

static void fixture_setup(struct fixture *f, gconstpointer unused)
{
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->journal = g_string_new(NULL);
	f->sub = submitter_new(getuid(), getgid(), getpid(), NULL, 0);
	g_assert_cmpint(mqueue_create("q", getuid(), getgid(), 0755, &f->q), ==, 0);
	model_lock();
	mqueue_ref(f->q);
	model_unlock();
	struct model_journal j = { .changed = journal, .data = f };
	model_set_journal(&j);
}

static int line(struct fixture *f, enum wqfs_ctl ctl, const char *text);

static void fixture_teardown(struct fixture *f, gconstpointer unused)
{
	struct wqfs_attr_value thaw = { .attr = WQFS_ATTR_FROZEN, .on = false };
	model_set_journal(NULL);
	if (!f->q->dead) {
		g_assert_cmpint(mqueue_set_attr(f->q, &thaw, f->sub), ==, 0);
		g_assert_cmpint(line(f, WQFS_CTL_FLUSH, ""), ==, 0);
		g_assert_cmpint(mqueue_rmdir(f->q, NULL), ==, 0);
	}
	model_lock();
	mqueue_unref(f->q);
	model_unlock();
	submitter_unref(f->sub);
	g_string_free(f->journal, TRUE);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->mu);
}

/* Apply text (one line) to control file ctl as sub.  0 or -errno. */
static int apply(struct fixture *f, struct submitter *sub, enum wqfs_ctl ctl,
		 const char *text)
{
	struct wqfs_line l;
	struct mwriter m = {
		.q = f->q, .sub = sub, .cpu = -1, .own = 0,
		.ids = g_string_new(NULL), .arm = arm, .data = f,
	};
	int r = wqfs_parse_line(ctl, text, strlen(text), HZ, &l);
	if (r == 0)
		r = model_apply_line(&m, ctl, &l);
	g_string_free(m.ids, TRUE);
	return r;
}

/* The same, then wait as the writer's close would. */
static int line_as(struct fixture *f, struct submitter *sub, enum wqfs_ctl ctl,
		   const char *text)
{
	int r = apply(f, sub, ctl, text);
	wait_armed(f);
	return r;
}

static int line(struct fixture *f, enum wqfs_ctl ctl, const char *text)
{
	return line_as(f, f->sub, ctl, text);
}

static struct mwork *work(struct fixture *f, const char *name)
{
	model_lock();
	struct mwork *w = mqueue_work(f->q, name);
	model_unlock();
	g_assert_nonnull(w);
	return w;
}

static const char *state(struct fixture *f, const char *name)
{
	struct mwork *w = work(f, name);
	model_lock();
	const char *s = mwork_state_name(mwork_state(w));
	model_unlock();
	return s;
}

static void freeze(struct fixture *f, bool on)
{
	struct wqfs_attr_value v = { .attr = WQFS_ATTR_FROZEN, .on = on };
	g_assert_cmpint(mqueue_set_attr(f->q, &v, f->sub), ==, 0);
}

static char *output(struct mwork *w)
{
	char buf[256];
	size_t n = mwork_output(w, buf, sizeof buf - 1);
	buf[n] = '\0';
	return g_strdup(buf);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_submit_runs(struct fixture *f, gconstpointer unused)
{
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "a: echo \"$WQ_QUEUE/$WQ_WORK\""), ==, 0);
	g_assert_cmpint(line(f, WQFS_CTL_FLUSH, ""), ==, 0);
	struct mwork *w = work(f, "a");
	g_autofree char *out = output(w);
	g_assert_cmpstr(out, ==, "q/a\n");
	g_assert_cmpuint(mwork_nruns(w), ==, 1);
	g_assert_true(w->has_exit);
	g_assert_cmpint(mwork_last_exit(w), ==, 0);
	g_assert_cmpstr(state(f, "a"), ==, "done");
	g_assert_cmpstr(f->journal->str, ==, "qsf");
}

/* A work's name and command: a command declared again, longer than its
 * work's own allocation holds or shorter, replaces the old one whole; an
 * anonymous work's is its line's. */
static void test_command(struct fixture *f, gconstpointer unused)
{
	g_autofree char *longer = g_strdup_printf("echo %0300d", 7);
	g_autofree char *line_long = g_strdup_printf("c: %s", longer);
	freeze(f, true);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "c: true"), ==, 0);
	g_assert_cmpstr(mwork_command(work(f, "c")), ==, "true");
	g_assert_cmpint(line(f, WQFS_CTL_CANCEL, "c"), ==, 0);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, line_long), ==, 0);
	g_assert_cmpstr(work(f, "c")->name, ==, "c");
	g_assert_cmpstr(mwork_command(work(f, "c")), ==, longer);
	g_assert_cmpint(line(f, WQFS_CTL_CANCEL, "c"), ==, 0);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "c: echo x"), ==, 0);
	g_assert_cmpstr(mwork_command(work(f, "c")), ==, "echo x");
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "echo anon"), ==, 0);
	g_assert_cmpstr(mwork_command(work(f, "w1")), ==, "echo anon");
	freeze(f, false);
	g_assert_cmpint(line(f, WQFS_CTL_FLUSH, ""), ==, 0);
	g_autofree char *out = output(work(f, "c"));
	g_assert_cmpstr(out, ==, "x\n");
}

static void test_states(struct fixture *f, gconstpointer unused)
{
	freeze(f, true);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "p: true"), ==, 0);
	g_assert_cmpint(line(f, WQFS_CTL_DELAY, "d: 1h true"), ==, 0);
	g_assert_cmpstr(state(f, "p"), ==, "pending");
	g_assert_cmpstr(state(f, "d"), ==, "delayed");
	/* queue_work of a pending work returns false: EALREADY */
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "p:"), ==, -EALREADY);
	g_assert_cmpint(line(f, WQFS_CTL_MODIFY, "d: 0"), ==, 0);
	g_assert_cmpstr(state(f, "d"), ==, "pending");
	g_assert_cmpint(line(f, WQFS_CTL_CANCEL, "*"), ==, 0);
	g_assert_cmpstr(state(f, "p"), ==, "cancelled");
	g_assert_cmpstr(state(f, "d"), ==, "cancelled");
	g_assert_cmpstr(f->journal->str, ==, "Aqqqcc");
}

static void test_errors(struct fixture *f, gconstpointer unused)
{
	g_assert_cmpint(line(f, WQFS_CTL_CANCEL, "nosuch"), ==, -ENOENT);
	g_assert_cmpint(line(f, WQFS_CTL_MODIFY, "nosuch: 1s"), ==, -ENOENT);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "nosuch:"), ==, -ENOENT);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "i: true"), ==, 0);
	g_assert_cmpint(line(f, WQFS_CTL_FLUSH, "i"), ==, 0);
	/* cancel of an idle work: nothing to cancel */
	g_assert_cmpint(line(f, WQFS_CTL_CANCEL, "i"), ==, -ESRCH);
	g_assert_cmpint(line(f, WQFS_CTL_DRAIN, ""), ==, 0);
}

static void test_max_works(struct fixture *f, gconstpointer unused)
{
	unsigned long old = model_cfg.max_works;
	model_cfg.max_works = 2;
	freeze(f, true);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "a: true"), ==, 0);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "b: true"), ==, 0);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "c: true"), ==, -ENOSPC);
	model_cfg.max_works = old;
}

/* A work belongs to who declared it: another user may not redeclare it
 * (EPERM), and a non-root user may not set a negative nice. */
static void test_owner(struct fixture *f, gconstpointer unused)
{
	struct submitter *other = submitter_new(65534, 65534, 0, NULL, 0);
	freeze(f, true);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "mine: true"), ==, 0);
	g_assert_cmpint(line_as(f, other, WQFS_CTL_SUBMIT, "mine: echo other"), ==, -EPERM);
	g_assert_cmpint(line_as(f, other, WQFS_CTL_CANCEL, "mine"), ==, -EPERM);
	struct mwork *w = work(f, "mine");
	model_lock();
	g_assert_cmpstr(mwork_command(w), ==, "true");
	model_unlock();

	struct wqfs_attr_value nice = { .attr = WQFS_ATTR_NICE, .n = -1 };
	g_assert_cmpint(mqueue_set_attr(f->q, &nice, other), ==, -EPERM);
	nice.n = 5;
	g_assert_cmpint(mqueue_set_attr(f->q, &nice, other), ==, 0);
	submitter_unref(other);
}

/* drain: outsiders' lines are ESHUTDOWN until the queue is drained. */
static void test_drain(struct fixture *f, gconstpointer unused)
{
	freeze(f, true);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "p: true"), ==, 0);
	g_assert_cmpint(apply(f, f->sub, WQFS_CTL_DRAIN, ""), ==, 0);
	g_assert_cmpint(mqueue_rmdir(f->q, NULL), ==, -EBUSY);
	g_assert_cmpint(apply(f, f->sub, WQFS_CTL_SUBMIT, "x: true"), ==, -ESHUTDOWN);
	freeze(f, false);
	wait_armed(f);		/* the drain's close returns */
	g_assert_cmpuint(mwork_nruns(work(f, "p")), ==, 1);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "x: true"), ==, 0);
}

/* rmdir: EBUSY while a work is pending; once idle, the queue goes. */
static void test_rmdir(struct fixture *f, gconstpointer unused)
{
	freeze(f, true);
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "p: true"), ==, 0);
	g_assert_cmpint(mqueue_rmdir(f->q, NULL), ==, -EBUSY);
	g_assert_cmpint(line(f, WQFS_CTL_CANCEL, "p"), ==, 0);
	g_assert_cmpint(mqueue_rmdir(f->q, NULL), ==, 0);
	g_assert_true(f->q->dead);
	g_assert_null(g_hash_table_lookup(queues_by_name, "q"));
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "p: true"), ==, -ESHUTDOWN);
	g_assert_cmpstr(f->journal->str, ==, "AqcR");
}

/* Anonymous works: named w1, w2, ...; only keep_anon finished ones stay. */
static void test_anon(struct fixture *f, gconstpointer unused)
{
	unsigned int old = model_cfg.keep_anon;
	model_cfg.keep_anon = 2;
	for (int i = 0; i < 4; i++)
		g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "true"), ==, 0);
	g_assert_cmpint(line(f, WQFS_CTL_FLUSH, ""), ==, 0);
	model_lock();
	guint n = g_hash_table_size(f->q->works);
	model_unlock();
	g_assert_cmpuint(n, ==, 2);
	model_cfg.keep_anon = old;
}

/* What the store gives back at start: each work as it was, pending ones
 * queued again in order, a running one lost, outputs kept. */
static void test_restore(struct fixture *f, gconstpointer unused)
{
	struct mwork_saved s = {
		.owner = getuid(), .sub = f->sub, .ctime = 1,
	};
	freeze(f, true);
	s.name = "p1", s.command = "echo p1", s.state = MW_PENDING;
	g_assert_cmpint(mwork_restore(f->q, &s), ==, 0);
	s.name = "w7", s.anon = true, s.command = "echo w7";
	g_assert_cmpint(mwork_restore(f->q, &s), ==, 0);
	s.name = "d", s.anon = false, s.state = MW_DELAYED, s.due_in_ms = 3600 * 1000;
	g_assert_cmpint(mwork_restore(f->q, &s), ==, 0);
	s.name = "r", s.state = MW_RUNNING, s.runs = 3, s.output = "half", s.output_len = 4;
	g_assert_cmpint(mwork_restore(f->q, &s), ==, 0);
	g_assert_cmpstr(state(f, "p1"), ==, "pending");
	g_assert_cmpstr(state(f, "w7"), ==, "pending");
	g_assert_cmpstr(state(f, "d"), ==, "delayed");
	g_assert_cmpstr(state(f, "r"), ==, "lost");
	g_autofree char *out = output(work(f, "r"));
	g_assert_cmpstr(out, ==, "half");
	g_assert_cmpuint(mwork_nruns(work(f, "r")), ==, 3);
	/* the next anonymous work comes after w7 */
	g_assert_cmpint(apply(f, f->sub, WQFS_CTL_SUBMIT, "true"), ==, 0);
	g_assert_nonnull(mqueue_work(f->q, "w8"));
	g_assert_cmpstr(f->journal->str, ==, "Arrrrq");
	freeze(f, false);
	g_assert_cmpint(line(f, WQFS_CTL_FLUSH, ""), ==, 0);
	g_assert_cmpuint(mwork_nruns(work(f, "p1")), ==, 1);
	g_assert_cmpstr(state(f, "r"), ==, "lost");
	g_assert_cmpint(line(f, WQFS_CTL_CANCEL, "d"), ==, 0);
}

/* Wait (polling) until work name is in state st. */
static void wait_state(struct fixture *f, const char *name, const char *st)
{
	for (int i = 0; i < 1000 && strcmp(state(f, name), st) != 0; i++)
		g_usleep(5000);
	g_assert_cmpstr(state(f, name), ==, st);
}

/* A cluster's model: a queueing line marks the work queued (the
 * database's claim runs it), twice is EALREADY, a modify changes it;
 * another node's rows are shown (a run there, its end), a cancel of that
 * run waits for the row that says it ended; a claimed work runs here;
 * what the database gives the model is not journaled back. */
static void test_cluster(struct fixture *f, gconstpointer unused)
{
	struct mwork_saved b = {
		.name = "b", .owner = getuid(), .command = "sleep 9", .state = MW_RUNNING,
		.ctime = 1,
	};
	struct mwork_cluster there = { .inst = 7, .node = "n2", .running_on = "n2", .cpu = -1 };
	model_cluster = true;
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "a: echo a"), ==, 0);
	g_assert_cmpstr(state(f, "a"), ==, "pending");
	g_assert_cmpint(line(f, WQFS_CTL_SUBMIT, "a:"), ==, -EALREADY);
	g_assert_cmpint(line(f, WQFS_CTL_MODIFY, "a: 1h"), ==, 0);
	g_assert_cmpstr(state(f, "a"), ==, "delayed");
	g_assert_cmpuint(mwork_nruns(work(f, "a")), ==, 0);	/* the engine has not got it */

	g_assert_cmpint(mwork_mirror(f->q, &b, &there), ==, 0);
	g_assert_cmpstr(state(f, "b"), ==, "running");
	g_assert_cmpstr(work(f, "b")->ran->node, ==, "n2");
	g_assert_cmpint(apply(f, f->sub, WQFS_CTL_CANCEL, "b"), ==, 0);
	model_cluster_passed(1);	/* began before the cancel: no answer */
	b.state = MW_CANCELLED, b.cancelled = true, there.running_on = "";
	g_assert_cmpint(mwork_mirror(f->q, &b, &there), ==, 0);
	model_cluster_passed(2);
	wait_armed(f);
	g_assert_cmpstr(state(f, "b"), ==, "cancelled");

	struct mwork_saved a = {
		.name = "a", .owner = getuid(), .command = "echo a", .sub = f->sub,
		.state = MW_PENDING, .ctime = 1,
	};
	struct mwork_cluster here = { .inst = 9, .node = "", .running_on = "n1", .cpu = -1 };
	g_assert_cmpint(mwork_claimed(f->q, &a, &here), ==, 0);
	wait_state(f, "a", "done");
	g_autofree char *out = output(work(f, "a"));
	g_assert_cmpstr(out, ==, "a\n");
	mwork_gone(f->q, "b");
	model_lock();
	g_assert_null(mqueue_work(f->q, "b"));
	model_unlock();
	model_cluster = false;
	g_assert_cmpstr(f->journal->str, ==, "qqcsf");
}

int main(int argc, char *argv[])
{
	static const struct { const char *path; void (*fn)(struct fixture *, gconstpointer); } tests[] = {
		{ "/model/submit/runs-as-submitter", test_submit_runs },
		{ "/model/work/states", test_states },
		{ "/model/work/command", test_command },
		{ "/model/line/errors", test_errors },
		{ "/model/queue/max-works", test_max_works },
		{ "/model/work/owner", test_owner },
		{ "/model/queue/drain", test_drain },
		{ "/model/queue/rmdir", test_rmdir },
		{ "/model/work/anonymous", test_anon },
		{ "/model/work/restore", test_restore },
		{ "/model/cluster/claim-and-mirror", test_cluster },
	};
	struct model_config cfg = {
		.hz = HZ, .max_works = 1000, .max_output = 4096, .keep_anon = 64,
		.node = "n1",
		.user_queues = 8, .user_works = 100, .user_bytes = 65536,
		.user_readers = 8, .user_files = 8,
	};
	g_test_init(&argc, &argv, NULL);
	for (int i = 0; i < MQ_NFILES; i++)
		cfg.file_modes[i] = 0644, cfg.file_names[i] = i ? g_strdup_printf("f%d", i) : ".";
	g_assert_cmpint(wq_init(HZ), ==, 0);
	model_init(&cfg);
	g_assert_cmpint(resumer_start(), ==, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(tests); i++)
		g_test_add(tests[i].path, struct fixture, NULL, fixture_setup,
			   tests[i].fn, fixture_teardown);
	int r = g_test_run();
	resumer_stop();
	model_fini();
	wq_exit();
	return r;
}
