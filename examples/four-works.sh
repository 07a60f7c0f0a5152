#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# four-works.sh - the four self-re-arming works of seed 003, on wqfs.
#
#   examples/four-works.sh [MOUNTPOINT [SECONDS [LOGFILE]]]
#       MOUNTPOINT  default $WQFS or /run/wqfs
#       SECONDS     how long the works run before they are cancelled (5)
#       LOGFILE     where the "printk" lines go; kept after the run when
#                   given (a temporary file otherwise); printed at the end
#
# The seed's module (sloongz/linux_driver, work/work_queue.c) has four works:
#
#   work       INIT_WORK,         on the shared queue:  prints a, msleep(1000),
#                                 schedule_work(&work)
#   dly_work   INIT_DELAYED_WORK, on the shared queue:  prints b,
#                                 schedule_delayed_work(&dly_work, 1 s)
#   work1      INIT_WORK,         on its queue "test":  prints c, msleep(1000),
#                                 queue_work(test, &work1)
#   dly_work1  INIT_DELAYED_WORK, on its queue "test":  prints d,
#                                 queue_delayed_work(test, &dly_work1, 1 s)
#
# module_init queues all four at once with schedule_work()/queue_work() (the
# delayed ones too: their first run is not delayed); module_exit cancels
# them with cancel_work_sync()/cancel_delayed_work_sync(), destroys "test"
# and prints "cancel work".  Each work thus runs once a second: the plain
# ones because they sleep one second before re-queueing themselves, the
# delayed ones because they re-queue themselves one second later.
#
# The mapping on wqfs, call for call:
#   INIT_WORK + schedule_work   echo 'work: CMD' > events/submit  (declares
#                               the named work "work" and queues it)
#   queue_work(test, &work1)    echo 'work1: CMD' > test/submit
#   the work re-queues itself   echo "$WQ_WORK:" > "$WQ_ROOT/$WQ_QUEUE/submit"
#   it re-arms itself delayed   echo "$WQ_WORK: 1s" > "$WQ_ROOT/$WQ_QUEUE/delay"
#   cancel_(delayed_)work_sync  echo work > events/cancel (waits; a work
#                               that is running is stopped and waited for)
#   create/destroy_workqueue    mkdir test / rmdir test
#   printk                      a line appended to LOGFILE (our dmesg)
# The counters a, b, c, d live in files of a temporary directory, as the
# fields of struct x_dev: a work reads its counter, prints it, stores it + 1.
#
# On wqfs the shared queue runs one work at a time per CPU (max_active 1,
# as on the kernels LDD3 describes); the seed's log comes from a kernel with
# concurrency-managed workqueues, where a sleeping work does not hold up the
# others.  So when work and dly_work land on the same CPU, dly_work waits
# behind work's one-second sleep and prints its lines a second late: each
# counter still advances once a second.
#
# cancel_*_sync guarantees that once it returns the work neither runs nor is
# queued, even though it keeps re-queueing itself: so no counter line can
# follow "cancel work" in the log.
set -eu
export LC_ALL=C			# English error messages (see cancel_sync)

W=${1:-${WQFS:-/run/wqfs}}
SECONDS_TO_RUN=${2:-5}
LOG=${3:-}

if [ ! -f "$W/status" ]; then
	echo "four-works: $W does not look like a wqfs mount (no $W/status)" >&2
	exit 1
fi
case $SECONDS_TO_RUN in
'' | *[!0-9]*) echo "four-works: SECONDS must be a whole number" >&2; exit 2 ;;
esac

dev=$(mktemp -d "${TMPDIR:-/tmp}/four-works.XXXXXX")	# struct x_dev
keep_log=1
if [ -z "$LOG" ]; then
	LOG="$dev/log"
	keep_log=0
fi
case "$dev$LOG" in
*"'"*) echo "four-works: paths with a quote are not supported" >&2; exit 2 ;;
esac
: >"$LOG"

cleanup() {
	# module_exit, if we are stopped early: cancel everything we queued.
	for w in work dly_work; do
		echo "$w" >"$W/events/cancel" 2>/dev/null || true
		rmdir "$W/events/works/$w" 2>/dev/null || true
	done
	if [ -d "$W/test" ]; then
		for w in work1 dly_work1; do
			echo "$w" >"$W/test/cancel" 2>/dev/null || true
		done
		rmdir "$W/test" 2>/dev/null || true
	fi
	rm -rf "$dev"
	[ "$keep_log" = 1 ] || rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# printk TEXT - a log line with a timestamp, like dmesg's [seconds.micro].
printk() {
	read -r up _ </proc/uptime
	printf '[%s] %s\n' "$up" "$1" >>"$LOG"
}

# func NAME COUNTER TAIL - the command line of a work function: read the
# counter, print "NAME, COUNTER:N", store N + 1, then TAIL (re-queue).  It is
# run by /bin/sh in a worker thread, once per run of the work.
func() {
	printf '%s' \
		"n=\$(cat '$dev/$2'); read -r up _ </proc/uptime; " \
		"echo \"[\$up] $1, $2:\$n\" >> '$LOG'; " \
		"echo \$((n + 1)) > '$dev/$2'; $3"
}
# The two ways a work re-queues itself; the work finds its own name, queue
# and mount point in WQ_WORK, WQ_QUEUE and WQ_ROOT.
# shellcheck disable=SC2016 # expanded by the work, not here
requeue='sleep 1; echo "$WQ_WORK:" > "$WQ_ROOT/$WQ_QUEUE/submit"'	# msleep(1000); schedule_work / queue_work
# shellcheck disable=SC2016
rearm='echo "$WQ_WORK: 1s" > "$WQ_ROOT/$WQ_QUEUE/delay"'		# schedule_delayed_work / queue_delayed_work, 1 s

for c in a b c d; do echo 0 >"$dev/$c"; done	# g_dev.a = ... = 0

# ---- module_init --------------------------------------------------------
printk 'init work'

# method 1: INIT_WORK(&work, work_func); schedule_work(&work)
echo "work: $(func work_func a "$requeue")" >"$W/events/submit"

# method 2: INIT_DELAYED_WORK(&dly_work, dly_work_func);
#           schedule_work(&dly_work.work)   -- the first run is not delayed
echo "dly_work: $(func dly_work_func b "$rearm")" >"$W/events/submit"

# test = create_workqueue("test")
mkdir "$W/test"

# method 4: INIT_DELAYED_WORK(&dly_work1, dly_work1_func);
#           queue_work(test, &dly_work1.work)
echo "dly_work1: $(func dly_work1_func d "$rearm")" >"$W/test/submit"

# method 3: INIT_WORK(&work1, work1_func); queue_work(test, &work1)
echo "work1: $(func work1_func c "$requeue")" >"$W/test/submit"

# ---- the module is loaded: the works run --------------------------------
sleep "$SECONDS_TO_RUN"

# ---- module_exit --------------------------------------------------------
# Each write returns once the work is neither pending nor running.  ESRCH
# only means "nothing to cancel" (it was between two runs), which the
# kernel returns as false: not an error here.
cancel_sync() {		# cancel_sync QUEUE WORK
	local err
	if ! err=$( { echo "$2" >"$W/$1/cancel"; } 2>&1); then
		case $err in
		*"No such process"*) ;;	# returned false
		*) echo "four-works: cancel $1/$2: $err" >&2; return 1 ;;
		esac
	fi
}
cancel_sync events work		# cancel_work_sync(&work)
cancel_sync events dly_work	# cancel_delayed_work_sync(&dly_work)
cancel_sync test work1		# cancel_work_sync(&work1)
cancel_sync test dly_work1	# cancel_delayed_work_sync(&dly_work1)
rmdir "$W/test"				# destroy_workqueue(test)
printk 'cancel work'

# The shared queue outlives us: forget our two named works there.
rmdir "$W/events/works/work" "$W/events/works/dly_work"

cat "$LOG"				# dmesg
