// SPDX-License-Identifier: MIT
/*
 * event.c - events to the observer.
 *
 * Events are pushed under wq_lock onto one FIFO, numbered in push order,
 * and the pushing thread's wq_owed.events remembers the last it pushed.
 * Its wq_unlock() then delivers, under event_deliver_lock, every event up
 * to that one, its own and any older ones still waiting: so events reach
 * the observer in the order the engine state changed, one call at a time,
 * and a thread's events are out before it goes on (a FINISHED event is
 * delivered while its work still counts as running).
 */
#include <glib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "internal.h"

struct event_rec {
	struct wq_node node;		/* wq_lock: on event_fifo */
	uint64_t seq;			/* immutable */
	struct wq_event ev;		/* immutable once pushed */
	char comm[16];			/* immutable once pushed */
	char name[WQ_EVENT_NAME_MAX];	/* immutable once pushed */
};

static wq_observer_fn observer_fn;	/* atomic; written under wq_lock */
static wq_namer_fn namer_fn;		/* wq_lock */
static void *observer_data;		/* wq_lock */
static struct wq_node event_fifo = WQ_LIST_HEAD_INIT(event_fifo); /* wq_lock */
static uint64_t event_seq;		/* wq_lock: last pushed */
static uint64_t event_delivered;	/* wq_lock: last delivered */
/* Held while delivering: one observer call at a time.  Before wq_lock. */
static pthread_mutex_t event_deliver_lock = PTHREAD_MUTEX_INITIALIZER;

/* Is there an observer to push events for?  Any lock, or none. */
bool events_observed(void)
{
	return __atomic_load_n(&observer_fn, __ATOMIC_RELAXED) != NULL;
}

/* The calling thread's id and name, asked of the kernel at its first
 * event only: two system calls less per event.  Threads are named before
 * they queue anything (the engine's own name themselves first), and
 * neither changes afterwards. */
static void event_thread(pid_t *tid, char comm[16])
{
	static __thread pid_t my_tid;
	static __thread char my_comm[16];

	if (!my_tid) {
		if (prctl(PR_GET_NAME, my_comm, 0UL, 0UL, 0UL))
			strcpy(my_comm, "-");
		my_tid = gettid();
	}
	*tid = my_tid;
	memcpy(comm, my_comm, sizeof(my_comm));
}

/* work's name from the namer, or ""; wq_lock held, work certainly there. */
void event_name(struct work_struct *work, char name[WQ_EVENT_NAME_MAX])
{
	wq_lockdep_assert_held();
	name[0] = '\0';
	if (namer_fn && events_observed())
		namer_fn(work, work->func, name, WQ_EVENT_NAME_MAX);
}

/* Queue an event for delivery by this thread's wq_unlock(); wq_lock held. */
void event_push(enum wq_event_type type, struct workqueue_struct *wq,
		struct work_struct *work, const char *name, int result, uint64_t due_ns)
{
	struct event_rec *rec;

	wq_lockdep_assert_held();
	if (!events_observed())
		return;
	rec = g_new0(struct event_rec, 1);
	rec->seq = ++event_seq;
	rec->ev = (struct wq_event){
		.type = type, .time_ns = wq_now_ns(), .wq = wq, .work = work,
		.cpu = sched_getcpu(), .comm = rec->comm,
		.result = result, .due_ns = due_ns, .name = rec->name,
	};
	if (name)
		g_strlcpy(rec->name, name, sizeof(rec->name));
	else if (work)
		event_name(work, rec->name);
	event_thread(&rec->ev.tid, rec->comm);
	if (current_worker)
		memcpy(rec->comm, current_worker->name, sizeof(rec->comm));
	list_add_tail(&rec->node, &event_fifo);
	wq_owed.events = rec->seq;
}

/* Deliver events in FIFO order up to number last; wq_lock NOT held. */
void events_deliver(uint64_t last)
{
	wq_lockdep_assert_not_held();
	pthread_mutex_lock(&event_deliver_lock);
	wq_lock();
	while (event_delivered < last && !list_empty(&event_fifo)) {
		struct event_rec *rec = container_of(event_fifo.next,
						     struct event_rec, node);
		wq_observer_fn fn = observer_fn;
		void *data = observer_data;

		list_del(&rec->node);
		event_delivered = rec->seq;
		wq_unlock();
		if (fn)
			fn(&rec->ev, data);
		g_free(rec);
		wq_lock();
	}
	wq_unlock();
	pthread_mutex_unlock(&event_deliver_lock);
}

void wq_set_observer(wq_observer_fn fn, void *data)
{
	wq_lock();
	__atomic_store_n(&observer_fn, fn, __ATOMIC_RELAXED);
	observer_data = data;
	wq_unlock();
	/* Wait for a callback of the old observer still running. */
	pthread_mutex_lock(&event_deliver_lock);
	pthread_mutex_unlock(&event_deliver_lock);
}

void wq_set_namer(wq_namer_fn fn)
{
	wq_lock();
	namer_fn = fn;
	wq_unlock();
}

/* Drop undelivered events (wq_exit(), with no observer left). */
void events_exit(void)
{
	wq_lock();
	while (!list_empty(&event_fifo)) {
		struct wq_node *node = event_fifo.next;

		list_del(node);
		g_free(container_of(node, struct event_rec, node));
	}
	wq_unlock();
}
