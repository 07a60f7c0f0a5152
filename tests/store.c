/* SPDX-License-Identifier: MIT */
/*
 * store.c - the durable store on a real SQLite file: the schema and its
 * refusals, what the journal writes for each change, and group commit.
 * The daemon's restart is tests/state.bats's.
 */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"	/* the store's: the log's records, white-box */
#include "model.h"
#include "parse.h"
#include "store.h"

#define HZ 250

static char *tmpdir;

static char *db_path(const char *name)
{
	return g_build_filename(tmpdir, name, NULL);
}

/* One integer a query on the file returns. */
static long long query_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==, SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void set_version(const char *path, int v)
{
	sqlite3 *db;
	g_autofree char *sql = g_strdup_printf("PRAGMA user_version = %d", v);
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
}

static void test_open_migrates(void)
{
	g_autofree char *path = db_path("new.db");
	struct store *s;
	g_assert_cmpint(store_open(path, false, NULL, &s), ==, 0);
	g_assert_cmpint(query_int(path, "PRAGMA user_version"), ==, STORE_SCHEMA);
	g_assert_cmpint(query_int(path, "SELECT count(*) FROM works"), ==, 0);
	/* one daemon per file */
	struct store *again;
	g_assert_cmpint(store_open(path, false, NULL, &again), ==, -EBUSY);
	store_close(s);
	g_assert_cmpint(store_open(path, true, NULL, &again), ==, 0);
	store_close(again);
}

static void test_open_refuses(void)
{
	g_autofree char *newer = db_path("newer.db");
	g_autofree char *junk = db_path("junk.db");
	struct store *s;
	set_version(newer, STORE_SCHEMA + 1);
	g_assert_cmpint(store_open(newer, false, NULL, &s), ==, -EPROTO);
	g_assert_true(g_file_set_contents(junk, "this is not a database, not at all;"
					  " it is long enough to have a header", -1, NULL));
	g_assert_cmpint(store_open(junk, false, NULL, &s), ==, -EINVAL);
}

/* A store on path, opened, restored and attached to the model. */
static struct store *started_sync(const char *path, bool sync_full)
{
	struct store *s;
	g_assert_cmpint(store_open(path, sync_full, NULL, &s), ==, 0);
	g_assert_cmpint(store_restore(s), ==, 0);
	g_assert_cmpint(store_start(s), ==, 0);
	return s;
}

static struct store *started(const char *path)
{
	return started_sync(path, false);
}

static int submit(struct mqueue *q, enum wqfs_ctl ctl, const char *text);

/* Cancel q's works, remove q, and stop and close s. */
static void finish(struct store *s, struct mqueue *q)
{
	g_assert_cmpint(submit(q, WQFS_CTL_CANCEL, "*"), ==, 0);
	g_assert_cmpint(mqueue_rmdir(q, NULL), ==, 0);
	store_stop(s);
	store_close(s);
}

/* A file of schema 1 (a copy of each submitter in its work's row) is
 * migrated to 2 (a table of submitters) and restored. */
static void test_migrate_v1(void)
{
	g_autofree char *path = db_path("v1.db");
	sqlite3 *db;
	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db,
		"CREATE TABLE queues (name TEXT PRIMARY KEY, creator INTEGER NOT NULL,"
		" files TEXT NOT NULL, unbound INTEGER NOT NULL, max_active INTEGER NOT NULL,"
		" cpumask TEXT NOT NULL, nice INTEGER NOT NULL, frozen INTEGER NOT NULL,"
		" ctime INTEGER NOT NULL);"
		"CREATE TABLE works (queue TEXT NOT NULL, name TEXT NOT NULL,"
		" anon INTEGER NOT NULL, owner INTEGER NOT NULL, command TEXT NOT NULL,"
		" uid INTEGER NOT NULL, gid INTEGER NOT NULL, groups BLOB, cwd TEXT,"
		" env BLOB, limits BLOB, state INTEGER NOT NULL, ord INTEGER NOT NULL,"
		" due_ms INTEGER NOT NULL, runs INTEGER NOT NULL, has_exit INTEGER NOT NULL,"
		" last_exit INTEGER NOT NULL, output BLOB, ctime INTEGER NOT NULL,"
		" PRIMARY KEY (queue, name));"
		"INSERT INTO queues VALUES ('old', 0, '755:0:0,', 0, 1, '0', 0, 1, 1);"
		"INSERT INTO works VALUES ('old', 'w', 0, 0, 'echo $OLD', 0, 0, NULL,"
		" '/tmp', CAST('OLD=kept' || char(0) AS BLOB), NULL, 1, 1, 0, 2, 1, 0,"
		" CAST('out' AS BLOB), 1);"
		"PRAGMA user_version = 1;", NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);

	struct store *s;
	g_assert_cmpint(store_open(path, false, NULL, &s), ==, 0);
	g_assert_cmpint(query_int(path, "PRAGMA user_version"), ==, STORE_SCHEMA);
	g_assert_cmpint(store_restore(s), ==, 0);
	model_lock();
	struct mqueue *q = g_hash_table_lookup(queues_by_name, "old");
	g_assert_nonnull(q);
	struct mwork *w = mqueue_work(q, "w");
	g_assert_nonnull(w);
	g_assert_cmpstr(mwork_state_name(mwork_state(w)), ==, "pending");
	g_assert_cmpstr(mwork_command(w), ==, "echo $OLD");
	g_assert_cmpstr(w->sub->cwd, ==, "/tmp");
	g_assert_cmpstr(w->sub->env[0], ==, "OLD=kept");
	g_assert_cmpuint(q->files[MQ_DIR].mode, ==, 0755);	/* schema 1: by position */
	g_assert_cmpuint(mwork_nruns(w), ==, 2);
	g_assert_false(w->has_queued || w->has_started);	/* no times before schema 4 */
	model_unlock();
	g_assert_cmpint(store_start(s), ==, 0);
	finish(s, q);
}

/* ---- the journal, through the model ---------------------------------------- */

static int no_arm(struct mwriter *m, struct mwork *w, int kind)
{
	return -ENOTSUP;
}

static int submit(struct mqueue *q, enum wqfs_ctl ctl, const char *text)
{
	struct submitter *sub = submitter_new(getuid(), getgid(), getpid(), NULL, 0);
	struct mwriter m = { .q = q, .sub = sub, .cpu = -1, .own = 0,
			     .ids = g_string_new(NULL), .arm = no_arm };
	struct wqfs_line l;
	int r = wqfs_parse_line(ctl, text, strlen(text), HZ, &l);
	if (r == 0)
		r = model_apply_line(&m, ctl, &l);
	if (r == 0)
		r = model_commit();
	g_string_free(m.ids, TRUE);
	submitter_unref(sub);
	return r;
}

static void set_attr(struct mqueue *q, struct wqfs_attr_value v)
{
	struct submitter *root = submitter_new(0, 0, 0, NULL, 0);
	g_assert_cmpint(mqueue_set_attr(q, &v, root), ==, 0);
	submitter_unref(root);
}

static void test_journal_rows(void)
{
	g_autofree char *path = db_path("rows.db");
	struct store *s = started(path);
	struct mqueue *q;
	g_assert_cmpint(mqueue_create("rows", getuid(), getgid(), 0750, &q), ==, 0);
	set_attr(q, (struct wqfs_attr_value){ .attr = WQFS_ATTR_FROZEN, .on = true });
	set_attr(q, (struct wqfs_attr_value){ .attr = WQFS_ATTR_MAX_ACTIVE, .n = 3 });
	g_assert_cmpint(submit(q, WQFS_CTL_SUBMIT, "p1: echo 1"), ==, 0);
	g_assert_cmpint(submit(q, WQFS_CTL_SUBMIT, "p2: echo 2"), ==, 0);
	g_assert_cmpint(submit(q, WQFS_CTL_DELAY, "d: 1h echo d"), ==, 0);
	g_assert_cmpint(submit(q, WQFS_CTL_CANCEL, "p2"), ==, 0);

	g_assert_cmpint(store_checkpoint(s), ==, 0);
	g_assert_cmpint(query_int(path, "SELECT frozen FROM queues WHERE name = 'rows'"), ==, 1);
	g_assert_cmpint(query_int(path, "SELECT max_active FROM queues WHERE name = 'rows'"), ==, 3);
	g_assert_cmpint(query_int(path, "SELECT files LIKE '.=750:%' FROM queues WHERE name = 'rows'"), ==, 1);
	g_assert_cmpint(query_int(path, "SELECT state FROM works WHERE name = 'p1'"), ==, 1);
	g_assert_cmpint(query_int(path, "SELECT state FROM works WHERE name = 'p2'"), ==, 5);	/* cancelled */
	/* times are the wall clock in ms; a run's are unset until it runs */
	long long queued = query_int(path, "SELECT queued_ms - CAST(strftime('%s','now') AS INTEGER)"
				     " * 1000 FROM works WHERE name = 'p1'");
	g_assert_cmpint(queued, >, -10 * 1000);
	g_assert_cmpint(queued, <, 10 * 1000);
	g_assert_cmpint(query_int(path, "SELECT started_ms + finished_ms FROM works WHERE name = 'p1'"),
			==, 0);
	g_assert_cmpint(query_int(path, "SELECT state FROM works WHERE name = 'd'"), ==, 2);
	long long due = query_int(path, "SELECT due_ms - CAST(strftime('%s','now') AS INTEGER) * 1000"
				  " FROM works WHERE name = 'd'");
	g_assert_cmpint(due, >, 3590 * 1000);
	g_assert_cmpint(due, <, 3610 * 1000);
	g_assert_cmpint(query_int(path, "SELECT (SELECT ord FROM works WHERE name = 'p1') <"
				  " (SELECT ord FROM works WHERE name = 'd')"), ==, 1);

	g_assert_cmpint(submit(q, WQFS_CTL_CANCEL, "*"), ==, 0);
	g_assert_cmpint(mqueue_rmdir(q, NULL), ==, 0);
	g_assert_cmpint(model_commit(), ==, 0);
	g_assert_cmpint(store_checkpoint(s), ==, 0);
	g_assert_cmpint(query_int(path, "SELECT count(*) FROM queues WHERE name = 'rows'"), ==, 0);
	g_assert_cmpint(query_int(path, "SELECT count(*) FROM works WHERE queue = 'rows'"), ==, 0);
	store_stop(s);
	store_close(s);
}

/* ---- group commit --------------------------------------------------------- */

#define WRITERS	8
#define LINES	100

static gpointer writer(gpointer q)
{
	for (int i = 0; i < LINES; i++)
		g_assert_cmpint(submit(q, WQFS_CTL_SUBMIT, "true"), ==, 0);
	return NULL;
}

/* WRITERS threads submit LINES lines each to a new frozen queue of s. */
static struct mqueue *write_all(struct store *s, const char *name)
{
	struct mqueue *q;
	GThread *t[WRITERS];
	g_assert_cmpint(mqueue_create(name, getuid(), getgid(), 0755, &q), ==, 0);
	set_attr(q, (struct wqfs_attr_value){ .attr = WQFS_ATTR_FROZEN, .on = true });
	for (int i = 0; i < WRITERS; i++)
		t[i] = g_thread_new("writer", writer, q);
	for (int i = 0; i < WRITERS; i++)
		g_thread_join(t[i]);
	g_assert_cmpint(store_checkpoint(s), ==, 0);
	return q;
}

static void test_group_commit(void)
{
	g_autofree char *path = db_path("group.db");
	struct store *s = started(path);
	uint64_t before = store_commits(s);
	struct mqueue *q = write_all(s, "group");
	uint64_t commits = store_commits(s) - before;
	/* every acknowledged line is in the file ... */
	g_assert_cmpint(query_int(path, "SELECT count(*) FROM works WHERE queue = 'group'"),
			==, WRITERS * LINES);
	/* ... and the writers shared commits */
	g_test_message("%d lines in %llu commits", WRITERS * LINES, (unsigned long long)commits);
	g_assert_cmpuint(commits, <, WRITERS * LINES);
	finish(s, q);
}

/* sync=full: each line is acknowledged once the log is on disk, and the
 * writers waiting at once share an msync. */
static void test_group_sync(void)
{
	g_autofree char *path = db_path("sync.db");
	struct store *s = started_sync(path, true);
	struct mqueue *q = write_all(s, "sync");
	g_assert_cmpint(query_int(path, "SELECT count(*) FROM works WHERE queue = 'sync'"),
			==, WRITERS * LINES);
	pthread_mutex_lock(&s->mu);
	uint64_t syncs = s->log_syncs;
	pthread_mutex_unlock(&s->mu);
	g_test_message("%d lines in %llu msyncs", WRITERS * LINES, (unsigned long long)syncs);
	g_assert_cmpuint(syncs, >, 0);
	g_assert_cmpuint(syncs, <, WRITERS * LINES);
	finish(s, q);
}

/* A burst of delayed works queued faster than they are committed (the
 * writer held back): once committed, the memory of their records is given
 * back, all of it but the chunk being filled. */
#define BURST 5000

static void test_burst_memory(void)
{
	g_autofree char *path = db_path("burst.db");
	struct store *s = started(path);
	struct mqueue *q;
	g_assert_cmpint(mqueue_create("burst", getuid(), getgid(), 0755, &q), ==, 0);
	pthread_mutex_lock(&s->mu);
	s->committing = true;
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < BURST; i++) {
		g_autofree char *line = g_strdup_printf("b%d: 1h true", i);
		g_assert_cmpint(submit(q, WQFS_CTL_DELAY, line), ==, 0);
	}
	g_assert_cmpint(recpool_chunks(), >, 1);
	pthread_mutex_lock(&s->mu);
	s->committing = false;
	pthread_cond_broadcast(&s->committed_cond);
	pthread_mutex_unlock(&s->mu);
	g_assert_cmpint(store_checkpoint(s), ==, 0);
	g_assert_cmpint(query_int(path, "SELECT count(*) FROM works WHERE queue = 'burst'"),
			==, BURST);
	g_assert_cmpint(recpool_chunks(), <=, 1);
	finish(s, q);
}

/* ---- the log file ------------------------------------------------------------ */

/* The daemon dies (SIGKILL) with its acknowledged changes in the log file
 * only (the writer held back): the next start applies them, in order.
 * With sync=full (data set) they were written with O_DIRECT, not through
 * the page cache. */
static void test_log_crash(gconstpointer full)
{
	g_autofree char *path = db_path(full ? "crash-full.db" : "crash.db");
	struct store *s;
	struct mqueue *q;
	if (g_test_subprocess()) {
		s = started_sync(path, full != NULL);
		g_assert_true(!full || s->log_dfd >= 0);
		pthread_mutex_lock(&s->mu);
		s->committing = true;	/* the writer waits: nothing reaches the tables */
		pthread_mutex_unlock(&s->mu);
		g_assert_cmpint(mqueue_create("crash", getuid(), getgid(), 0755, &q), ==, 0);
		set_attr(q, (struct wqfs_attr_value){ .attr = WQFS_ATTR_FROZEN, .on = true });
		for (int i = 0; i < 50; i++) {
			g_autofree char *line = g_strdup_printf("c%02d: echo %d", i, i);
			g_assert_cmpint(submit(q, WQFS_CTL_SUBMIT, line), ==, 0);
		}
		raise(SIGKILL);
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_failed();
	g_assert_cmpint(query_int(path, "SELECT count(*) FROM works"), ==, 0);
	g_assert_cmpint(store_open(path, false, NULL, &s), ==, 0);
	g_assert_cmpint(store_restore(s), ==, 0);
	g_assert_cmpint(query_int(path, "SELECT count(*) FROM works"), ==, 50);
	g_assert_cmpint(query_int(path, "SELECT count(*) FROM works w1, works w2 WHERE"
				  " w1.name < w2.name AND w1.ord > w2.ord"), ==, 0);
	model_lock();
	q = g_hash_table_lookup(queues_by_name, "crash");
	g_assert_nonnull(q);
	g_assert_cmpuint(g_hash_table_size(q->works), ==, 50);
	model_unlock();
	g_assert_cmpint(store_start(s), ==, 0);
	finish(s, q);
}

static int collect(struct store *s, struct rec *r)
{
	GArray *seen = s->log_test;
	g_array_append_val(seen, r->seq);
	rec_free(r);
	return 0;
}

/* Replay: records in sequence after the applied one; what an earlier pass
 * left behind a rewind is out of sequence, a torn record ends it. */
static uint64_t *replayed(struct store *s, uint64_t applied, guint *n)
{
	uint64_t last;
	GArray *seen = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	s->log_test = seen;
	g_assert_cmpint(log_replay(s, applied, collect, &last), ==, 0);
	*n = seen->len;
	return (uint64_t *)(void *)g_array_free(seen, FALSE);
}

static void test_log_replay(void)
{
	g_autofree char *path = db_path("replay.db");
	struct store *s;
	guint n;
	g_assert_cmpint(store_open(path, false, NULL, &s), ==, 0);
	g_assert_cmpint(store_restore(s), ==, 0);
	struct rec r = { .op = REC_QUEUE_DEL, .queue = (char *)"x" };
	for (uint64_t seq = 1; seq <= 3; seq++)
		g_assert_true(log_append(s, &r, seq));
	g_autofree uint64_t *all = replayed(s, 0, &n);
	g_assert_cmpuint(n, ==, 3);
	g_assert_cmpuint(all[2], ==, 3);
	g_free(replayed(s, 2, &n));
	g_assert_cmpuint(n, ==, 1);
	log_rewind(s);
	g_assert_true(log_append(s, &r, 4));
	g_autofree uint64_t *rewound = replayed(s, 3, &n);
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpuint(rewound[0], ==, 4);
	s->log[16 + 4] ^= 1;	/* a torn record: a byte of its payload */
	g_free(replayed(s, 0, &n));
	g_assert_cmpuint(n, ==, 0);
	store_close(s);
}

/* Records from seq on until one goes to the other half (its seq is
 * returned) or finds no room (the seq it was to have). */
static uint64_t fill_half(struct store *s, uint64_t seq)
{
	struct rec r = { .op = REC_QUEUE_DEL, .queue = (char *)"x" };
	bool second = s->log_tail >= s->log_half;
	while (log_append(s, &r, seq) && (s->log_tail >= s->log_half) == second)
		seq++;
	return seq;
}

/* The log's halves: a writer that never lets the log empty goes on in the
 * other half once what is there is applied, not before; replay takes the
 * older half's chain first. */
static void test_log_halves(void)
{
	g_autofree char *path = db_path("halves.db");
	struct store *s;
	guint n;
	struct rec r = { .op = REC_QUEUE_DEL, .queue = (char *)"x" };
	g_assert_cmpint(store_open(path, false, NULL, &s), ==, 0);
	g_assert_cmpint(store_restore(s), ==, 0);
	/* the first half fills, the second is free: the log goes on there */
	uint64_t first_of_2nd = fill_half(s, 1);
	g_assert_cmpuint(s->log_tail, >, s->log_half);
	/* the second fills; the first is not applied: no room */
	uint64_t next = fill_half(s, first_of_2nd + 1);
	g_assert_cmpuint(s->log_tail, >, s->log_half);
	g_assert_false(log_append(s, &r, next));
	g_autofree uint64_t *all = replayed(s, 0, &n);
	g_assert_cmpuint(n, ==, next - 1);
	for (guint i = 0; i < n; i++)
		g_assert_cmpuint(all[i], ==, i + 1);
	/* the first half applied: the next record starts it again */
	s->applied_seq = first_of_2nd - 1;
	g_assert_true(log_append(s, &r, next));
	g_assert_cmpuint(s->log_tail, <, s->log_half);
	g_autofree uint64_t *lap = replayed(s, first_of_2nd - 1, &n);
	g_assert_cmpuint(n, ==, next - first_of_2nd + 1);
	for (guint i = 0; i < n; i++)
		g_assert_cmpuint(lap[i], ==, first_of_2nd + i);
	/* part of the second half applied too */
	g_free(replayed(s, next - 2, &n));
	g_assert_cmpuint(n, ==, 2);
	store_close(s);
}

int main(int argc, char *argv[])
{
	struct model_config cfg = {
		.hz = HZ, .max_works = 100000, .max_output = 4096, .keep_anon = 100000,
		.user_queues = 8, .user_works = 100000, .user_bytes = 1 << 20,
		.user_readers = 8, .user_files = 8,
	};
	g_test_init(&argc, &argv, NULL);
	/* a subprocess of g_test_trap_subprocess() works in its parent's */
	const char *parent = g_getenv("WQFS_STORE_TEST_DIR");
	tmpdir = parent ? g_strdup(parent) : g_dir_make_tmp("wqfs-store-XXXXXX", NULL);
	g_setenv("WQFS_STORE_TEST_DIR", tmpdir, TRUE);
	for (int i = 0; i < MQ_NFILES; i++)
		cfg.file_modes[i] = 0644, cfg.file_names[i] = i ? g_strdup_printf("f%d", i) : ".";
	g_assert_cmpint(wq_init(HZ), ==, 0);
	model_init(&cfg);
	g_assert_cmpint(resumer_start(), ==, 0);
	g_test_add_func("/store/open/migrates", test_open_migrates);
	g_test_add_func("/store/open/refuses", test_open_refuses);
	g_test_add_func("/store/open/migrates-schema-1", test_migrate_v1);
	g_test_add_func("/store/journal/rows", test_journal_rows);
	g_test_add_func("/store/journal/group-commit", test_group_commit);
	g_test_add_func("/store/journal/group-sync", test_group_sync);
	g_test_add_func("/store/journal/burst-memory", test_burst_memory);
	g_test_add_data_func("/store/log/crash", NULL, test_log_crash);
	g_test_add_data_func("/store/log/crash-sync-full", "full", test_log_crash);
	g_test_add_func("/store/log/replay", test_log_replay);
	g_test_add_func("/store/log/halves", test_log_halves);
	int r = g_test_run();
	resumer_stop();
	model_fini();
	wq_exit();
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
	(void)!system(cmd);
	g_free(tmpdir);
	return r;
}
