/* SPDX-License-Identifier: MIT */
/*
 * db.c - the SQLite backend: the database opened for one daemon alone (a
 * lock file), checked, its schema created or migrated forward, read row by
 * row, closed; and where it lives by default.  Its rows are written by
 * rows.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Each migration takes the schema from version i to i + 1. */
static const char *const migrations[STORE_SCHEMA] = {
	"CREATE TABLE queues ("
	"  name TEXT PRIMARY KEY, creator INTEGER NOT NULL, files TEXT NOT NULL,"
	"  unbound INTEGER NOT NULL, max_active INTEGER NOT NULL,"
	"  cpumask TEXT NOT NULL, nice INTEGER NOT NULL, frozen INTEGER NOT NULL,"
	"  ctime INTEGER NOT NULL);"
	"CREATE TABLE works ("
	"  queue TEXT NOT NULL, name TEXT NOT NULL, anon INTEGER NOT NULL,"
	"  owner INTEGER NOT NULL, command TEXT NOT NULL, uid INTEGER NOT NULL,"
	"  gid INTEGER NOT NULL, groups BLOB, cwd TEXT, env BLOB, limits BLOB,"
	"  state INTEGER NOT NULL, ord INTEGER NOT NULL, due_ms INTEGER NOT NULL,"
	"  runs INTEGER NOT NULL, has_exit INTEGER NOT NULL,"
	"  last_exit INTEGER NOT NULL, output BLOB, ctime INTEGER NOT NULL,"
	"  PRIMARY KEY (queue, name));",
	/* 2: a submitter (creds, cwd, environment, limits) is one row, shared
	 * by the works it queued, not a copy in each */
	"CREATE TABLE submitters ("
	"  id INTEGER PRIMARY KEY, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
	"  groups BLOB, cwd TEXT, env BLOB, limits BLOB);"
	"INSERT INTO submitters SELECT rowid, uid, gid, groups, cwd, env, limits FROM works;"
	"CREATE TABLE works2 ("
	"  queue TEXT NOT NULL, name TEXT NOT NULL, anon INTEGER NOT NULL,"
	"  owner INTEGER NOT NULL, command TEXT NOT NULL, sub INTEGER NOT NULL,"
	"  state INTEGER NOT NULL, ord INTEGER NOT NULL, due_ms INTEGER NOT NULL,"
	"  runs INTEGER NOT NULL, has_exit INTEGER NOT NULL,"
	"  last_exit INTEGER NOT NULL, output BLOB, ctime INTEGER NOT NULL,"
	"  PRIMARY KEY (queue, name)) WITHOUT ROWID;"
	"INSERT INTO works2 SELECT queue, name, anon, owner, command, rowid, state,"
	"  ord, due_ms, runs, has_exit, last_exit, output, ctime FROM works;"
	"DROP TABLE works;"
	"ALTER TABLE works2 RENAME TO works;",
	/* 3: the requeue_lost attribute */
	"ALTER TABLE queues ADD COLUMN requeue_lost INTEGER NOT NULL DEFAULT 0;",
	/* 4: a work's times, wall clock in ms since the epoch (0: unset) */
	"ALTER TABLE works ADD COLUMN queued_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE works ADD COLUMN started_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE works ADD COLUMN finished_ms INTEGER NOT NULL DEFAULT 0;",
	/* 5: a work's DEPs (blank-separated) and why it failed without a run */
	"ALTER TABLE works ADD COLUMN after TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE works ADD COLUMN reason TEXT;",
	/* 6: the last record of the log file applied (log.c) */
	"CREATE TABLE meta (applied INTEGER NOT NULL);"
	"INSERT INTO meta VALUES (0);",
	/* 7: the queue's counters */
	"ALTER TABLE queues ADD COLUMN completed INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE queues ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE queues ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;",
};

int db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:	return 0;
	case SQLITE_FULL:	return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:	return -EBUSY;
	case SQLITE_NOMEM:	return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:	return -EACCES;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:	return -EINVAL;
	default:		return -EIO;
	}
}

static int db_exec(struct store *s, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK && !store_silent(s))
		fprintf(stderr, "wqfs: %s: %s\n", s->path, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return db_errno(rc);
}

static int64_t db_int(struct store *s, const char *sql, int64_t none)
{
	sqlite3_stmt *st;
	int64_t v = none;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return none;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The first row of PRAGMA quick_check is "ok" for a sound database. */
static bool quick_check_ok(struct store *s)
{
	sqlite3_stmt *st;
	bool ok = false;
	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		ok = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	return ok;
}

static int migrate(struct store *s)
{
	long v = (long)db_int(s, "PRAGMA user_version", -1);
	if (v < 0) {
		fprintf(stderr, "wqfs: %s: not a wqfs state database (%s)\n", s->path,
			sqlite3_errmsg(s->db));
		return -EINVAL;
	}
	return store_migrate(s, (int)v, STORE_SCHEMA, migrations, "PRAGMA user_version = ");
}

/* This daemon's alone: an exclusive flock on PATH.lock, kept open. */
static int take_lock(struct store *s)
{
	g_autofree char *lock = g_strconcat(s->path, ".lock", NULL);
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		int err = errno;
		fprintf(stderr, "wqfs: %s: %s\n", lock, strerror(err));
		return -err;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "wqfs: %s is in use by another wqfs daemon; "
			"not opened\n", s->path);
		return -EBUSY;
	}
	return 0;
}

static int connect_raw(struct store *s)
{
	int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE |
				 SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "wqfs: %s: %s\n", s->path, sqlite3_errstr(rc));
		return db_errno(rc) ? db_errno(rc) : -EIO;
	}
	sqlite3_busy_timeout(s->db, 1000);
	return 0;
}

static int set_pragmas(struct store *s)
{
	int r = db_exec(s, "PRAGMA journal_mode = WAL");
	if (r == 0)
		r = db_exec(s, s->sync_full ? "PRAGMA synchronous = FULL"
					    : "PRAGMA synchronous = NORMAL");
	return r;
}

static int db_connect(struct store *s)
{
	if (s->db)
		return 0;
	int r = connect_raw(s);
	return r < 0 ? r : set_pragmas(s);
}

/* Close the connection (not the lock): a fork must not carry it. */
static void db_disconnect(struct store *s)
{
	for (size_t i = 0; i < G_N_ELEMENTS(s->stmts); i++)
		g_clear_pointer(&s->stmts[i], sqlite3_finalize);
	sqlite3_close(s->db);
	s->db = NULL;
}

/* The checks of store_open(), once: the file is sound (quick_check reads
 * all of it, so a reconnect after the fork does not repeat it), then the
 * schema is brought to this wqfs's. */
static int open_db(struct store *s)
{
	int r = connect_raw(s);
	if (r < 0)
		return r;
	if (!quick_check_ok(s)) {
		fprintf(stderr, "wqfs: %s: not a wqfs state database, or damaged (%s); "
			"not opened\n", s->path, sqlite3_errmsg(s->db));
		return -EINVAL;
	}
	r = set_pragmas(s);
	return r < 0 ? r : migrate(s);
}

/* The backend's open: a lock file, the checks, the schema; then
 * disconnected, for store_restore() connects after the fork. */
static int db_open(struct store *s)
{
	g_autofree char *dir = g_path_get_dirname(s->path);
	g_mkdir_with_parents(dir, 0700);
	int r = take_lock(s);
	if (r == 0)
		r = open_db(s);
	db_disconnect(s);
	return r;
}

static void db_close(struct store *s)
{
	db_disconnect(s);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
}

/* ---- rows ----------------------------------------------------------------------- */

static int db_each_row(struct store *s, const char *sql,
		       int (*fn)(const struct row *, void *), void *arg)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	int r = db_errno(rc);
	struct row row = { .s = s, .impl = st };
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		r = fn(&row, arg);
	if (r == 0)
		r = db_errno(rc);
	if (r < 0 && rc != SQLITE_ROW && !store_silent(s))
		fprintf(stderr, "wqfs: %s: %s\n", s->path, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	return r;
}

static int64_t db_col_int(const struct row *r, int i)
{
	return sqlite3_column_int64(r->impl, i);
}

static const char *db_col_text(const struct row *r, int i)
{
	return (const char *)sqlite3_column_text(r->impl, i);
}

static const void *db_col_blob(const struct row *r, int i, size_t *len)
{
	const void *p = sqlite3_column_blob(r->impl, i);
	*len = (size_t)sqlite3_column_bytes(r->impl, i);
	return p;
}

const struct store_backend store_sqlite = {
	.name		= "SQLite",
	.open		= db_open,
	.connect	= db_connect,
	.disconnect	= db_disconnect,
	.close		= db_close,
	.exec		= db_exec,
	.apply		= db_apply,
	.each_row	= db_each_row,
	.col_int	= db_col_int,
	.col_text	= db_col_text,
	.col_blob	= db_col_blob,
	.begin		= "BEGIN IMMEDIATE",
	.set_applied	= "UPDATE meta SET applied = ",
};

/* systemd-escape --path: "/run/wqfs" -> "run-wqfs". */
static char *escape_path(const char *path)
{
	g_autofree char *canon = g_canonicalize_filename(path, "/");
	const char *p = canon;
	GString *out = g_string_new(NULL);
	while (*p == '/')
		p++;
	for (size_t i = 0; p[i]; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '/')
			g_string_append_c(out, '-');
		else if (g_ascii_isalnum(c) || c == '_' || (c == '.' && i > 0))
			g_string_append_c(out, (char)c);
		else
			g_string_append_printf(out, "\\x%02x", c);
	}
	if (!out->len)
		g_string_append_c(out, '-');
	return g_string_free(out, FALSE);
}

char *store_default_path(const char *mountpoint)
{
	g_autofree char *name = escape_path(mountpoint);
	g_autofree char *file = g_strconcat(name, ".db", NULL);
	if (getuid() == 0)
		return g_build_filename("/var/lib/wqfs", file, NULL);
	const char *xdg = getenv("XDG_STATE_HOME");
	if (xdg && xdg[0] == '/')
		return g_build_filename(xdg, "wqfs", file, NULL);
	return g_build_filename(g_get_home_dir(), ".local", "state", "wqfs", file, NULL);
}
