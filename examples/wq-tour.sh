#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# wq-tour.sh - the wq client, one step at a time: queue a command, wait for
# it, follow it, list the queue.
#
#   examples/wq-tour.sh [MOUNTPOINT]      (default: $WQFS or /run/wqfs)
#
# Every step prints its command line ("$ ..."), what it printed (indented)
# and its exit status ("-> exit N"); a failing step does not stop the tour.
# wq is $WQ_BIN when that is set (the tests pass the one just built), else
# the wq on PATH.  The tour makes the queue "tour" and removes it at the end.
set -eu
export LC_ALL=C			# English error messages

W=${1:-${WQFS:-/run/wqfs}}
Q="$W/tour"
export WQFS="$W"		# wq's mount point: no step needs -m
if [ -n "${WQ_BIN:-}" ]; then
	wq() { "$WQ_BIN" "$@"; }
fi

if [ ! -f "$W/status" ]; then
	echo "wq-tour: $W does not look like a wqfs mount (no $W/status)" >&2
	exit 1
fi

# step TITLE - print a step's title
step() {
	printf '\n== %s\n' "$1"
}

# show CMD - print "$ CMD", run it, print its output (and keep it in OUT)
# and its exit status.
show() {
	local rc=0
	printf '$ %s\n' "$1"
	OUT=$(eval "$1" 2>&1) || rc=$?
	[ -z "$OUT" ] || printf '%s\n' "$OUT" | sed 's/^/  /'
	printf -- '-> exit %d\n' "$rc"
}

step "1. A queue of our own: mkdir is create_workqueue"
show "mkdir $Q"

step "2. The environment: a builtin echo gives a work the shell's start-up environment, wq the current one"
export WQ_TOUR_GREETING="hello from the tour"
show "echo 'shell: echo \"[\$WQ_TOUR_GREETING]\"' > $Q/submit"
show "wq -q tour -- sh -c 'echo \"[\$WQ_TOUR_GREETING]\"'"
id=$OUT
show "wq -q tour -w shell"
show "wq -q tour -w $id"
show "cat $Q/works/shell/output $Q/works/$id/output"

step "3. Arguments reach the command exactly: wq quotes them for the daemon's /bin/sh -c"
show "wq -q tour -- printf '<%s>\n' 'two words' \"it's\" '\$HOME' '*'"
id=$OUT
show "wq -q tour -w $id"
show "cat $Q/works/$id/output"
show "grep '^command' $Q/works/$id/status"

step "4. -w waits for a work (echo ID > flush) and exits with its exit status"
show "wq -q tour -- sh -c 'sleep 0.5; exit 3'"
id=$OUT
show "wq -q tour -w $id"

step "5. A named work, delayed; queueing it again while it waits is EALREADY"
show "wq -q tour -n tick -d '1 hour' -- date -u"
show "wq -q tour -n tick -d '1 hour' -- date -u"
show "wq -q tour -w tick"			# flush_delayed_work: it runs now

step "6. -c prints a work's output as it comes (cat works/W/follow)"
show "wq -q tour -n count -- sh -c 'for i in 1 2 3; do echo \$i; sleep 0.3; done'"
show "until grep -qx 'state: running' $Q/works/count/status; do sleep 0.05; done"
show "wq -q tour -c count"

step "7. -a: a work that waits for another (echo 'NAME: DEP' > after)"
show "wq -q tour -n first -- sh -c 'sleep 0.5; echo first'"
show "wq -q tour -n second -a first -- echo second"
show "wq -q tour -w second"
show "cat $Q/works/first/output $Q/works/second/output"

step "8. -l lists the queue (cat list)"
show "wq -q tour -l"

step "9. drain_workqueue, then destroy_workqueue"
show "echo > $Q/drain"
show "rmdir $Q"
echo
echo "wq tour done"
