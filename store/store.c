/* SPDX-License-Identifier: MIT */
/*
 * store.c - a store opened on the backend its name asks for: a libpq URI
 * (postgresql://, postgres://) is PostgreSQL, anything else a path to an
 * SQLite file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

bool store_is_postgres(const char *state)
{
	return g_str_has_prefix(state, "postgresql://") ||
	       g_str_has_prefix(state, "postgres://");
}

int store_open(const char *path, bool sync_full, const char *node, struct store **sp)
{
	struct store *s = g_new0(struct store, 1);
	s->node = g_strdup(node ? node : "");
	s->be = store_is_postgres(path) ? &store_pg : &store_sqlite;
	s->path = g_strdup(path);
	s->label = g_strdup(s->be == &store_pg ? "PostgreSQL" : path);
	s->sync_full = sync_full;
	s->lock_fd = -1;
	s->log_fd = -1;
	s->log_dfd = -1;
	s->poke_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->more, NULL);
	pthread_cond_init(&s->committed_cond, NULL);
	pthread_cond_init(&s->log_synced_cond, NULL);
	g_queue_init(&s->recs);
	s->failed = g_array_new(FALSE, FALSE, sizeof(struct store_failure));
	int r = s->be->open(s);
	if (r < 0) {
		store_close(s);
		return r;
	}
	*sp = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	g_queue_clear_full(&s->retry, (GDestroyNotify)rec_free);
	g_queue_clear_full(&s->recs, (GDestroyNotify)rec_free);
	recpool_close(s);
	log_close(s);
	if (s->poke_fd >= 0)
		close(s->poke_fd);
	g_array_unref(s->failed);
	s->be->close(s);
	pthread_cond_destroy(&s->log_synced_cond);
	pthread_cond_destroy(&s->committed_cond);
	pthread_cond_destroy(&s->more);
	pthread_mutex_destroy(&s->mu);
	g_free(s->label);
	g_free(s->path);
	g_free(s->node);
	g_free(s);
}

int store_migrate(struct store *s, int v, int n, const char *const *migrations,
		  const char *set_version)
{
	if (v > n) {
		fprintf(stderr, "wqfs: %s: written by a newer wqfs (schema %d, this "
			"wqfs knows %d); not opened\n", s->label, v, n);
		return -EPROTO;
	}
	for (; v < n; v++) {
		char sql[96];
		snprintf(sql, sizeof sql, "%s%d", set_version, v + 1);
		int r = s->be->exec(s, s->be->begin);
		if (r == 0 && (r = s->be->exec(s, migrations[v])) == 0 &&
		    (r = s->be->exec(s, sql)) == 0)
			r = s->be->exec(s, "COMMIT");
		if (r < 0) {
			store_rollback(s);
			return r;
		}
	}
	return 0;
}

void store_rollback(struct store *s)
{
	bool quiet = s->quiet;
	s->quiet = true;	/* after a failed COMMIT, SQLite has none to undo */
	s->be->exec(s, "ROLLBACK");
	s->quiet = quiet;
}
