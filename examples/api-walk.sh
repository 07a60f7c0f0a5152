#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# api-walk.sh - the kernel's workqueue API, one call at a time, on wqfs.
#
#   examples/api-walk.sh [MOUNTPOINT]      (default: $WQFS or /run/wqfs)
#
# Every step shows the kernel call of LDD3 chapter 7.6 (seed 000), the API
# list of seed 001 and the events queue of seed 002, then the shell line
# that does the same on wqfs, then what it returned.  A write to a control
# file returns what the kernel function returns: success, or an errno such
# as EALREADY where queue_work() would have returned false.
#
# The script is meant to be read, and run line by line: each `call` below
# is just the command in its second argument.  Set WALK_PAUSE=1 to stop
# after every step.
set -eu
export LC_ALL=C			# English error messages, as below

W=${1:-${WQFS:-/run/wqfs}}
Q="$W/walk"			# our queue: create_workqueue("walk")
S="$W/walk1"			# create_singlethread_workqueue("walk1")
E="$W/events"			# the shared queue (keventd_wq, "events/N")

if [ ! -f "$W/status" ]; then
	echo "api-walk: $W does not look like a wqfs mount (no $W/status)" >&2
	exit 1
fi

# errno_name TEXT - the errno name of a strerror() text, for the printout.
errno_name() {
	case $1 in
	*"Operation already in progress"*) echo EALREADY ;;
	*"No such file or directory"*) echo ENOENT ;;
	*"No such process"*) echo ESRCH ;;
	*"Directory not empty"*) echo ENOTEMPTY ;;
	*"File exists"*) echo EEXIST ;;
	*"Device or resource busy"*) echo EBUSY ;;
	*"Invalid argument"*) echo EINVAL ;;
	*"Numerical result out of range"*) echo ERANGE ;;
	*"Resource deadlock avoided"*) echo EDEADLK ;;
	*"Cannot send after transport endpoint shutdown"*) echo ESHUTDOWN ;;
	*"No space left on device"*) echo ENOSPC ;;
	*"Argument list too long"*) echo E2BIG ;;
	*"Interrupted system call"*) echo EINTR ;;
	*"Permission denied"*) echo EACCES ;;
	*) echo "error" ;;
	esac
}

# step KERNEL-CALL - print a step header.
n=0
step() {
	n=$((n + 1))
	printf '\n== %d. %s\n' "$n" "$1"
}

# call NOTE COMMAND - run the shell COMMAND, print it and what it returned:
#   "-> 0" when it succeeded (and its output, if any), or
#   "-> ENAME (strerror text)" when the write (or mkdir, rmdir) failed.
# NOTE says what the kernel call returns in that case.
call() {
	local note=$1 cmd=$2 out rc=0 msg
	printf '$ %s\n' "$cmd"
	out=$(eval "$cmd" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/  /'
		printf -- '-> 0   %s\n' "$note"
	else
		# bash says "...: write error: TEXT", mkdir/rmdir "...: TEXT"
		msg=$(printf '%s\n' "$out" | tail -n 1)
		msg=${msg##*: }
		printf -- '-> %s (%s)   %s\n' "$(errno_name "$msg")" "$msg" "$note"
	fi
	if [ "${WALK_PAUSE:-0}" = 1 ]; then
		read -r -p '   [enter] ' _ </dev/tty || true
	fi
	return 0
}

# Remove what an interrupted earlier run may have left.
for d in "$Q" "$S"; do
	if [ -d "$d" ]; then
		echo 0 >"$d/frozen" 2>/dev/null || true
		for w in tick late; do echo "$w" >"$d/cancel" 2>/dev/null || true; done
		rmdir "$d" 2>/dev/null || true
	fi
done

echo "wqfs API walk on $W"

# --------------------------------------------------------------------------
step 'create_workqueue("walk")  -- one worker thread per CPU, "walk/N"'
call 'the queue exists' "mkdir '$Q'"
call 'per_cpu 1: a worker per online CPU, named walk/N' "grep -E '^(name|per_cpu|max_active|workers):' '$Q/status'"

# --------------------------------------------------------------------------
step 'create_singlethread_workqueue("walk1")  -- one worker, strictly ordered'
call '' "mkdir '$S'"
call 'unbound: not one worker per CPU' "echo 0 > '$S/per_cpu'"
call 'one work at a time' "echo 1 > '$S/max_active'"
call 'per_cpu 0, max_active 1: one work at a time' "grep -E '^(per_cpu|max_active|workers):' '$S/status'"

# --------------------------------------------------------------------------
step 'INIT_WORK(&hello, fn) + queue_work(walk, &hello)  -- a named work'
# "NAME: COMMAND" declares the work (INIT_WORK) and queues it.  The command
# is the work function; it runs in a worker thread, in a shell.
call 'queue_work returned true (queued)' \
	"echo 'hello: echo hello from \$WQ_WORK on \$WQ_QUEUE, cpu \$WQ_CPU' > '$Q/submit'"
call 'flush_work(&hello): wait until it ran' "echo hello > '$Q/flush'"
call 'what the work printed' "cat '$Q/works/hello/output'"

# --------------------------------------------------------------------------
step 'queue_work(walk, &work) with a fresh work_struct  -- an anonymous work'
# A line without "NAME:" is a new anonymous work (kmalloc + INIT_WORK).  Its
# id is read back from the same file descriptor, like a transaction file.
call 'queue_work returned true; the reply is the work id' \
	"exec 3<>'$Q/submit'; echo 'echo anonymous work' >&3; read -r id <&3; exec 3>&-; echo \"id: \$id\""
call 'flush_workqueue(walk)' "echo > '$Q/flush'"

# --------------------------------------------------------------------------
step 'queue_work() on a work already pending  -- returns false: EALREADY'
# Freeze the queue (like a freezable queue during suspend) so that the work
# stays pending instead of running at once.
call 'workers take no new work' "echo 1 > '$Q/frozen'"
call 'queue_work returned true: hello is pending' "echo 'hello:' > '$Q/submit'"
call 'state: pending' "grep '^state:' '$Q/works/hello/status'"
call 'queue_work returned false: already pending, nothing changed' \
	"echo 'hello:' > '$Q/submit'"

# --------------------------------------------------------------------------
step 'INIT_DELAYED_WORK + queue_delayed_work(walk, &tick, 2*HZ)'
call 'queue_delayed_work returned true' "echo 'tick: 2s echo tick' > '$Q/delay'"
call 'state: delayed' "grep '^state:' '$Q/works/tick/status'"
call 'queue_delayed_work returned false: already pending' "echo 'tick: 2s' > '$Q/delay'"

# --------------------------------------------------------------------------
step 'cancel_delayed_work(&tick); flush_workqueue(walk)'
# LDD3: cancel_delayed_work() returns nonzero if the work was cancelled
# before it ran; to be sure nothing runs any more, flush the queue after it.
call 'returned nonzero: tick was pending and will not run' "echo tick > '$Q/cancel'"
call 'returned 0: nothing was pending' "echo tick > '$Q/cancel'"
call 'thaw the queue: hello runs now' "echo 0 > '$Q/frozen'"
call 'flush_workqueue: every work queued before it has run' "echo > '$Q/flush'"
call 'hello ran twice, tick never' \
	"grep -E '^(state|runs):' '$Q/works/hello/status'; grep -E '^(state|runs):' '$Q/works/tick/status'"

# --------------------------------------------------------------------------
step 'queue_work on the single-thread queue: works run one after the other'
call '' "printf '%s\n' 'one: sleep 0.2; echo one' 'two: echo two' > '$S/submit'"
call 'flush_workqueue(walk1)' "echo > '$S/flush'"
call 'their output' "cat '$S/works/one/output' '$S/works/two/output'"
call 'one finished (jiffies) before two started' \
	"grep '^finished_at:' '$S/works/one/status'; grep '^started_at:' '$S/works/two/status'"

# --------------------------------------------------------------------------
step 'schedule_work(&work)  -- queue_work on the shared queue "events"'
call 'schedule_work returned true; the reply is the work id' \
	"exec 3<>'$E/submit'; echo 'echo hello from the shared queue' >&3; read -r id <&3; exec 3>&-; echo \"id: \$id\""

# --------------------------------------------------------------------------
step 'schedule_delayed_work(&late, 1)  -- one jiffy later, on "events"'
call 'schedule_delayed_work returned true' \
	"echo 'walk-late: 1 echo one jiffy later' > '$E/delay'"

# --------------------------------------------------------------------------
step 'flush_scheduled_work()  -- flush_workqueue on the shared queue'
call 'returns when the works queued before it have run' "echo > '$E/flush'"
# flush_workqueue waits for queued works, not for a timer that has not
# fired yet; flush_delayed_work(&late) runs it now if it is still delayed.
call 'flush_delayed_work(&late): returns when late has run' "echo walk-late > '$E/flush'"
call '' "cat '$E/works/walk-late/output'"
call 'forget the named work (it is idle)' "rmdir '$E/works/walk-late'"

# --------------------------------------------------------------------------
step 'destroy_workqueue(walk)  -- refused while delayed work is not due'
call 'a delayed work one hour away' "echo 'late: 1h echo never' > '$Q/delay'"
call 'rmdir fails: cancel or flush delayed work first' "rmdir '$Q'"
call 'cancel_delayed_work_sync(&late)' "echo late > '$Q/cancel'"
call 'destroy_workqueue of an idle queue: removes it at once' "rmdir '$Q'"
call 'destroy_workqueue(walk1)' "rmdir '$S'"
call 'the shared queue cannot be destroyed' "rmdir '$E'"
call 'queues left' "ls '$W'"

echo
echo "api walk done"
