// SPDX-License-Identifier: MIT
/*
 * trace.c - the `trace` files: a hub of readers, one bounded ring each.
 *
 * An event is stored in each interested reader's ring as a fixed-size
 * binary record and formatted when the reader reads it, so emit costs a
 * copy per reader, allocates nothing, and a ring of capacity bytes holds
 * capacity / sizeof(record) rows.  A full ring drops its oldest record
 * and counts it; the next read starts with "# lost N rows".
 *
 * Lock order: hub->lock, then reader->lock.  notify is called with
 * neither held: the emitter pins the reader with a reference (so the
 * reader stays on the list, and wqfs_trace_close() waits for it) and
 * drops the hub lock around the call.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "request.h"
#include "trace.h"

#define WQFS_TRACE_DFL_CAPACITY	(64 * 1024)
#define WQFS_TRACE_ROW_MAX	512	/* longer than any formatted row */

static const char wqfs_trace_header[] =
	"    time  delta preempt   pid cpu command queue work event exit\n";

/* One event as a reader's ring keeps it. */
struct wqfs_trace_rec {
	unsigned long time;			/* jiffies since wq_init() */
	pid_t tid;
	int cpu;
	int result;
	unsigned char type;			/* enum wq_event_type */
	char comm[16];
	char queue[WQFS_NAME_MAX + 1];
	char work[WQFS_NAME_MAX + 1];
};

struct wqfs_trace {
	pthread_mutex_t lock;
	pthread_cond_t unpinned;		/* a closing reader lost its last pin */
	struct wqfs_trace_reader *readers;	/* hub->lock */
};

struct wqfs_trace_reader {
	struct wqfs_trace *hub;
	char *queue;				/* filter, NULL: all; immutable */
	wqfs_trace_filter_fn filter;		/* immutable, or NULL */
	void *filter_data;			/* immutable */
	void (*notify)(void *data);		/* immutable */
	void *data;				/* immutable */

	struct wqfs_trace_reader *prev, *next;	/* hub->lock */
	unsigned int pins;			/* hub->lock: emitters in notify */
	bool closing;				/* hub->lock */

	pthread_mutex_t lock;
	struct wqfs_trace_rec *recs;		/* ring of nrecs; r->lock */
	size_t nrecs;				/* immutable */
	size_t head;				/* r->lock: oldest record */
	size_t count;				/* r->lock */
	uint64_t lost;				/* r->lock: dropped, not yet told */
	bool header_sent;			/* r->lock */
	bool have_last;				/* r->lock: last_time is valid */
	unsigned long last_time;		/* r->lock: time of last row read */
};

/* ---- the hub ------------------------------------------------------------ */

struct wqfs_trace *wqfs_trace_new(void)
{
	struct wqfs_trace *hub = g_new0(struct wqfs_trace, 1);

	pthread_mutex_init(&hub->lock, NULL);
	pthread_cond_init(&hub->unpinned, NULL);
	return hub;
}

void wqfs_trace_free(struct wqfs_trace *hub)
{
	if (!hub)
		return;
	g_warn_if_fail(!hub->readers);
	pthread_cond_destroy(&hub->unpinned);
	pthread_mutex_destroy(&hub->lock);
	g_free(hub);
}

/*
 * The event's time in jiffies on wq_jiffies()'s epoch.  The engine does
 * not export that epoch, so count back from the current jiffy: the
 * observer runs right after the event, so this is exact unless a tick
 * falls between the two (then one jiffy late at most).
 */
static unsigned long wqfs_trace_jiffies(uint64_t time_ns)
{
	uint64_t now = wq_now_ns();
	unsigned long j = wq_jiffies();
	unsigned long ago = now > time_ns ? wq_ns_to_jiffies(now - time_ns) : 0;

	return j > ago ? j - ago : 0;
}

static void wqfs_trace_rec_fill(struct wqfs_trace_rec *rec,
				const struct wqfs_trace_event *e)
{
	const struct wq_event *ev = e->ev;

	memset(rec, 0, sizeof(*rec));
	rec->time = wqfs_trace_jiffies(ev->time_ns);
	rec->tid = ev->tid;
	rec->cpu = ev->cpu;
	rec->result = ev->result;
	rec->type = (unsigned char)ev->type;
	g_strlcpy(rec->comm, ev->comm ? ev->comm : "", sizeof(rec->comm));
	g_strlcpy(rec->queue, e->queue ? e->queue : "", sizeof(rec->queue));
	g_strlcpy(rec->work, e->work ? e->work : "", sizeof(rec->work));
}

static bool wqfs_trace_wants(const struct wqfs_trace_reader *r,
			     const struct wqfs_trace_event *e)
{
	if (r->filter)
		return r->filter(e, r->filter_data);
	return !r->queue || (e->queue && strcmp(r->queue, e->queue) == 0);
}

static bool wqfs_trace_readable_locked(const struct wqfs_trace_reader *r)
{
	return r->count || r->lost;
}

/* Append rec to r's ring, dropping the oldest if full.  Returns true if r
 * went from empty to readable. */
static bool wqfs_trace_push(struct wqfs_trace_reader *r,
			    const struct wqfs_trace_rec *rec)
{
	bool was_readable;

	pthread_mutex_lock(&r->lock);
	was_readable = wqfs_trace_readable_locked(r);
	if (r->count == r->nrecs) {
		r->head = (r->head + 1) % r->nrecs;
		r->count--;
		r->lost++;
	}
	r->recs[(r->head + r->count) % r->nrecs] = *rec;
	r->count++;
	pthread_mutex_unlock(&r->lock);
	return !was_readable;
}

/* Call r's notify with hub->lock dropped; r stays linked while pinned. */
static void wqfs_trace_notify(struct wqfs_trace *hub, struct wqfs_trace_reader *r)
{
	r->pins++;
	pthread_mutex_unlock(&hub->lock);
	r->notify(r->data);
	pthread_mutex_lock(&hub->lock);
	if (--r->pins == 0 && r->closing)
		pthread_cond_broadcast(&hub->unpinned);
}

void wqfs_trace_emit(struct wqfs_trace *hub, const struct wqfs_trace_event *e)
{
	struct wqfs_trace_reader *r;
	struct wqfs_trace_rec rec;

	wqfs_trace_rec_fill(&rec, e);
	pthread_mutex_lock(&hub->lock);
	for (r = hub->readers; r; r = r->next) {
		if (r->closing || !wqfs_trace_wants(r, e))
			continue;
		if (wqfs_trace_push(r, &rec) && r->notify)
			wqfs_trace_notify(hub, r);
	}
	pthread_mutex_unlock(&hub->lock);
}

/* ---- readers --------------------------------------------------------------- */

struct wqfs_trace_reader *wqfs_trace_open(struct wqfs_trace *hub, const char *queue,
					  size_t capacity,
					  void (*notify)(void *data), void *data)
{
	return wqfs_trace_open_filter(hub, NULL, (void *)queue, capacity, notify, data);
}

struct wqfs_trace_reader *wqfs_trace_open_filter(struct wqfs_trace *hub,
						 wqfs_trace_filter_fn filter,
						 void *filter_data, size_t capacity,
						 void (*notify)(void *data), void *data)
{
	struct wqfs_trace_reader *r = g_new0(struct wqfs_trace_reader, 1);

	if (!capacity)
		capacity = WQFS_TRACE_DFL_CAPACITY;
	r->hub = hub;
	if (filter) {
		r->filter = filter;
		r->filter_data = filter_data;
	} else {
		r->queue = g_strdup(filter_data);
	}
	r->notify = notify;
	r->data = data;
	r->nrecs = MAX(capacity / sizeof(struct wqfs_trace_rec), 1);
	r->recs = g_new(struct wqfs_trace_rec, r->nrecs);
	pthread_mutex_init(&r->lock, NULL);

	pthread_mutex_lock(&hub->lock);
	r->next = hub->readers;
	if (r->next)
		r->next->prev = r;
	hub->readers = r;
	pthread_mutex_unlock(&hub->lock);
	return r;
}

static void wqfs_trace_unlink(struct wqfs_trace *hub, struct wqfs_trace_reader *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		hub->readers = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

void wqfs_trace_close(struct wqfs_trace_reader *r)
{
	struct wqfs_trace *hub;

	if (!r)
		return;
	hub = r->hub;
	pthread_mutex_lock(&hub->lock);
	r->closing = true;
	while (r->pins)
		pthread_cond_wait(&hub->unpinned, &hub->lock);
	wqfs_trace_unlink(hub, r);
	pthread_mutex_unlock(&hub->lock);

	pthread_mutex_destroy(&r->lock);
	g_free(r->recs);
	g_free(r->queue);
	g_free(r);
}

bool wqfs_trace_readable(struct wqfs_trace_reader *r)
{
	bool readable;

	pthread_mutex_lock(&r->lock);
	readable = wqfs_trace_readable_locked(r);
	pthread_mutex_unlock(&r->lock);
	return readable;
}

static const char *wqfs_trace_event_word(unsigned char type)
{
	static const char *const words[] = {
		[WQ_EVENT_QUEUED] = "queued",
		[WQ_EVENT_DELAYED] = "delayed",
		[WQ_EVENT_STARTED] = "start",
		[WQ_EVENT_FINISHED] = "end",
		[WQ_EVENT_CANCELLED] = "cancel",
	};

	return type < G_N_ELEMENTS(words) && words[type] ? words[type] : "?";
}

/* Format rec as the row r would read next; returns its length. */
static size_t wqfs_trace_format(const struct wqfs_trace_reader *r,
				const struct wqfs_trace_rec *rec,
				char *row, size_t size)
{
	unsigned long delta = 0;
	char exit_status[16] = "-";
	int n;

	if (r->have_last && rec->time > r->last_time)
		delta = rec->time - r->last_time;
	if (rec->type == WQ_EVENT_FINISHED)
		snprintf(exit_status, sizeof(exit_status), "%d", rec->result);
	n = snprintf(row, size, "%9lu  %4lu     %3i %5i %3i %s %s %s %s %s\n",
		     rec->time, delta, 0, (int)rec->tid, rec->cpu, rec->comm,
		     rec->queue, rec->work, wqfs_trace_event_word(rec->type),
		     exit_status);
	return n < 0 ? 0 : MIN((size_t)n, size - 1);
}

/*
 * Copy line into buf at *off if it fits whole, or cut it when it is the
 * first thing in buf.  Returns true if the line was consumed.
 */
static bool wqfs_trace_put(char *buf, size_t size, size_t *off,
			   const char *line, size_t len)
{
	if (len > size - *off) {
		if (*off)
			return false;
		len = size;
	}
	memcpy(buf + *off, line, len);
	*off += len;
	return true;
}

/* The lines owed before the rows: the header, then the lost count. */
static bool wqfs_trace_put_prefix(struct wqfs_trace_reader *r,
				  char *buf, size_t size, size_t *off)
{
	char line[64];
	int n;

	if (!r->header_sent) {
		if (!wqfs_trace_put(buf, size, off, wqfs_trace_header,
				    sizeof(wqfs_trace_header) - 1))
			return false;
		r->header_sent = true;
	}
	if (r->lost) {
		n = snprintf(line, sizeof(line), "# lost %" PRIu64 " rows\n", r->lost);
		if (!wqfs_trace_put(buf, size, off, line, (size_t)n))
			return false;
		r->lost = 0;
	}
	return true;
}

static void wqfs_trace_put_rows(struct wqfs_trace_reader *r,
				char *buf, size_t size, size_t *off)
{
	char row[WQFS_TRACE_ROW_MAX];

	while (r->count && *off < size) {
		const struct wqfs_trace_rec *rec = &r->recs[r->head];
		size_t len = wqfs_trace_format(r, rec, row, sizeof(row));

		if (!wqfs_trace_put(buf, size, off, row, len))
			break;
		r->have_last = true;
		r->last_time = MAX(rec->time, r->last_time);
		r->head = (r->head + 1) % r->nrecs;
		r->count--;
	}
}

ssize_t wqfs_trace_read(struct wqfs_trace_reader *r, char *buf, size_t size)
{
	size_t off = 0;

	pthread_mutex_lock(&r->lock);
	if (!wqfs_trace_readable_locked(r)) {
		pthread_mutex_unlock(&r->lock);
		return -EAGAIN;
	}
	if (size && wqfs_trace_put_prefix(r, buf, size, &off))
		wqfs_trace_put_rows(r, buf, size, &off);
	pthread_mutex_unlock(&r->lock);
	return (ssize_t)off;
}
