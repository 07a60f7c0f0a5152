#!/usr/bin/env bats
# queues.bats - mkdir = create_workqueue, rmdir = destroy_workqueue.

load bats/common

rmdir_errno() {
	timeout -s KILL "$WQ_TIMEOUT" "$PY" -c '
import errno, os, sys
try:
    os.rmdir(sys.argv[1]); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$1"
}

mkdir_errno() {
	timeout -s KILL "$WQ_TIMEOUT" "$PY" -c '
import errno, os, sys
try:
    os.mkdir(sys.argv[1]); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$1"
}

@test "a fresh mount has the root files and the events queue" {
	run ls "$MNT"
	assert_success
	assert_line events
	assert_line status
	assert_line trace
	assert_line jiqwq
	assert_line jiqwqdelay
	assert_line hz
	[ -d "$MNT/events" ]
	for f in submit delay modify cancel flush status trace jiqwq jiqwqdelay \
		per_cpu max_active cpumask nice frozen; do
		[ -e "$MNT/events/$f" ] || fail "events/$f is missing"
	done
	[ -d "$MNT/events/works" ]
}

@test "mkdir creates a queue with every file of the tree, rmdir removes it" {
	mkdir "$MNT/q"
	[ -d "$MNT/q" ]
	run ls "$MNT/q"
	assert_success
	for f in submit delay modify cancel flush status trace jiqwq jiqwqdelay \
		per_cpu max_active cpumask nice frozen requeue_lost works; do
		assert_line "$f"
	done
	[ -d "$MNT/q/works" ]
	run ls "$MNT"
	assert_line q
	rmdir "$MNT/q"
	[ ! -e "$MNT/q" ]
	run ls "$MNT"
	refute_line q
}

@test "valid queue names: 1 and 64 characters, every allowed character" {
	local n64
	n64=$(printf 'a%.0s' {1..64})
	run mkdir_errno "$MNT/x"
	assert_output OK
	run mkdir_errno "$MNT/$n64"
	assert_output OK
	[ -d "$MNT/$n64" ]
	run mkdir_errno "$MNT/Az09_.-"
	assert_output OK
	run mkdir_errno "$MNT/a.b"
	assert_output OK
	run mkdir_errno "$MNT/-x"
	assert_output OK
}

@test "bad queue names get EINVAL: 65 characters, leading dot, other characters" {
	local n65
	n65=$(printf 'a%.0s' {1..65})
	run mkdir_errno "$MNT/$n65"
	assert_output EINVAL
	run mkdir_errno "$MNT/.hidden"
	assert_output EINVAL
	run mkdir_errno "$MNT/..x"
	assert_output EINVAL
	run mkdir_errno "$MNT/a b"
	assert_output EINVAL
	run mkdir_errno "$MNT/a:b"
	assert_output EINVAL
	run mkdir_errno "$MNT/caf$(printf '\303\251')"
	assert_output EINVAL
	run mkdir_errno "$MNT/a*"
	assert_output EINVAL
	run ls -A "$MNT"
	refute_output --partial "$n65"
	refute_line .hidden
	daemon_alive
}

@test "mkdir of an existing queue or a root file is EEXIST" {
	mkdir "$MNT/q"
	run mkdir_errno "$MNT/q"
	assert_output EEXIST
	run mkdir_errno "$MNT/events"
	assert_output EEXIST
	run mkdir_errno "$MNT/status"
	assert_output EEXIST
	run mkdir_errno "$MNT/trace"
	assert_output EEXIST
}

@test "rmdir events is EBUSY and events still works" {
	run rmdir_errno "$MNT/events"
	assert_output EBUSY
	[ -d "$MNT/events" ]
	echo "echo ev > '$T/ev'" >"$MNT/events/submit"
	flushq events
	file_has "$T/ev" ev
}

@test "rmdir of a missing queue is ENOENT" {
	run rmdir_errno "$MNT/nosuch"
	assert_output ENOENT
}

@test "rmdir with delayed work not yet due is EBUSY; after cancel it succeeds" {
	mkdir "$MNT/q"
	echo "later: 100s echo ran > '$T/later'" >"$MNT/q/delay"
	run rmdir_errno "$MNT/q"
	assert_output EBUSY
	[ -d "$MNT/q" ]
	# still a live queue
	echo "echo alive > '$T/alive'" >"$MNT/q/submit"
	flushq q
	file_has "$T/alive" alive
	echo later >"$MNT/q/cancel"
	run rmdir_errno "$MNT/q"
	assert_output OK
	[ ! -e "$MNT/q" ]
	[ ! -e "$T/later" ]
}

@test "rmdir of a busy queue is EBUSY at once; drain, then rmdir removes it" {
	mkdir "$MNT/q"
	echo "sleep 1; echo first > '$T/first'" >"$MNT/q/submit"
	echo "echo second > '$T/second'" >"$MNT/q/submit"
	local t0 t1
	t0=$(date +%s%N)
	run rmdir_errno "$MNT/q"
	t1=$(date +%s%N)
	assert_output EBUSY
	((t1 - t0 < 500000000)) || fail "rmdir took $(((t1 - t0) / 1000000)) ms"
	[ -d "$MNT/q" ]
	echo >"$MNT/q/drain"
	# drain_workqueue returned at close: both works have finished
	file_has "$T/first" first
	file_has "$T/second" second
	run rmdir_errno "$MNT/q"
	assert_output OK
	[ ! -e "$MNT/q" ]
}

@test "new work through a descriptor opened before a drain is refused with ESHUTDOWN" {
	mkdir "$MNT/q"
	echo "s: sleep 3; echo done > '$T/done'" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	exec 5>"$MNT/q/submit" 6>"$MNT/q/delay"
	bg sh -c 'echo > "$1"' sh "$MNT/q/drain"
	local dpid=$BG_PID
	sleep 0.5
	kill -0 "$dpid" # the drain is still waiting for the running work
	run "$PY" -c '
import errno, os
for fd, line in ((5, b"true\n"), (6, b"1s true\n")):
    try:
        os.write(fd, line); print("OK")
    except OSError as e:
        print(errno.errorcode[e.errno])'
	exec 5>&- 6>&-
	assert_output $'ESHUTDOWN\nESHUTDOWN'
	wait_exit 20 "$dpid"
	assert_equal "$WAIT_STATUS" 0
	file_has "$T/done" done
	run rmdir_errno "$MNT/q"
	assert_output OK
}

@test "while a queue drains, its running work may still queue itself (chain queueing)" {
	mkdir "$MNT/q"
	echo "s: sleep 1; echo 'next: echo chained > $T/chained' > \"\$WQ_ROOT/\$WQ_QUEUE/submit\"" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	run write_errno -e "$MNT/q/drain" '\n'
	assert_output OK
	# the drain waited for the chained work too
	file_has "$T/chained" chained
	run write_errno "$MNT/q/submit" "echo after > '$T/after'"
	assert_output OK
	flushq q
	file_has "$T/after" after
}

@test "a drain interrupted by SIGINT fails with EINTR and leaves the queue usable" {
	mkdir "$MNT/q"
	echo "s: sleep 4" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	bg_intr "$T/drain.res" write "$MNT/q/drain" $'\n'
	local dpid=$BG_PID
	sleep 0.5
	kill -0 "$dpid"
	kill -INT "$dpid"
	wait_exit 3 "$dpid"
	assert_equal "$WAIT_STATUS" 0
	run cat "$T/drain.res"
	assert_output EINTR
	# the queue takes work again
	run write_errno "$MNT/q/submit" "echo again > '$T/again'"
	assert_output OK
	flushq q
	file_has "$T/again" again
	echo s >"$MNT/q/cancel" || true
	run rmdir_errno "$MNT/q"
	assert_output OK
}

@test "cancel * empties a busy queue; rmdir then removes it at once" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"	# one worker: p waits behind s
	echo 1 >"$MNT/q/max_active"
	echo "s: sleep 30; echo ran > '$T/s'" >"$MNT/q/submit"
	echo "p: echo ran > '$T/p'" >"$MNT/q/submit"
	echo "d: 100s echo ran > '$T/d'" >"$MNT/q/delay"
	wait_for 10 w_state_is q s running
	run write_errno "$MNT/q/cancel" "*"
	assert_output OK
	run rmdir_errno "$MNT/q"
	assert_output OK
	[ ! -e "$MNT/q" ]
	[ ! -e "$T/s" ] && [ ! -e "$T/p" ] && [ ! -e "$T/d" ]
}

@test "a per-CPU queue has one worker per CPU named NAME/CPU" {
	local n i
	n=$(nproc)
	mkdir "$MNT/myq"
	# an idle queue has no thread; a work from each CPU starts its worker
	run q_get myq workers
	assert_output 0
	for ((i = 0; i < n; i++)); do
		taskset -c "$i" sh -c "echo true > '$MNT/myq/submit'"
	done
	flushq myq
	for ((i = 0; i < n; i++)); do
		wait_for 5 sh -c "cat /proc/$WQFS_PID/task/*/comm | grep -qx myq/$i"
	done
	run sh -c "cat /proc/$WQFS_PID/task/*/comm | grep -c '^myq/'"
	assert_output "$n"
	# the jiq demo shows the worker's name in its command column
	timeout 30 cat "$MNT/myq/jiqwq" >"$T/jiq"
	run jiq_parse "$T/jiq"
	assert_success
	local t d p pid cpu cmd
	while read -r t d p pid cpu cmd; do
		[ "$cmd" = "myq/$cpu" ] || fail "jiqwq command '$cmd' on cpu $cpu"
		[ "$(cat /proc/"$WQFS_PID"/task/"$pid"/comm)" = "myq/$cpu" ] ||
			fail "thread $pid is not named myq/$cpu"
	done <<<"$output"
}

@test "a writer moved to another CPU queues on it, on the same descriptor" {
	[ "$(nproc)" -ge 2 ] || fail "this test needs 2 CPUs"
	mkdir "$MNT/q"
	# one open file, its writer pinned to CPU 0, then 1, then 0: the daemon
	# reads the writer's CPU again once a millisecond has passed
	(
		exec 3>"$MNT/q/submit"
		for i in 0 1 2; do
			taskset -pc $((i % 2)) "$BASHPID" >/dev/null
			sleep 0.01
			echo "w$i: echo \$WQ_CPU > '$T/cpu$i'" >&3
		done
	)
	flushq q
	run cat "$T/cpu0" "$T/cpu1" "$T/cpu2"
	assert_output "$(printf '0\n1\n0')"
}

@test "worker names are cut to the 15 characters of a thread name" {
	local n i
	n=$(nproc)
	mkdir "$MNT/abcdefghijklmnopqrst"
	for ((i = 0; i < n; i++)); do
		taskset -c "$i" sh -c "echo true > '$MNT/abcdefghijklmnopqrst/submit'"
	done
	flushq abcdefghijklmnopqrst
	wait_for 5 sh -c "cat /proc/$WQFS_PID/task/*/comm | grep -qx abcdefghijklmno"
	run sh -c "cat /proc/$WQFS_PID/task/*/comm | grep -cx abcdefghijklmno"
	assert_output "$n"
}

@test "rmdir removes the queue's workers" {
	mkdir "$MNT/gone"
	taskset -c 0 sh -c "echo true > '$MNT/gone/submit'"
	flushq gone
	wait_for 5 sh -c "cat /proc/$WQFS_PID/task/*/comm | grep -qx gone/0"
	rmdir "$MNT/gone"
	wait_for 5 sh -c "! cat /proc/$WQFS_PID/task/*/comm | grep -q '^gone/'"
}

@test "a queue can be created again after rmdir, empty" {
	mkdir "$MNT/q"
	echo "n: true" >"$MNT/q/submit"
	flushq q
	rmdir "$MNT/q"
	mkdir "$MNT/q"
	run ls "$MNT/q/works"
	assert_output ""
	run q_get q completed
	assert_output 0
}

@test "a name the kernel keeps: rmdir and mkdir again reach the new queue, with its modes" {
	mkdir "$MNT/q"
	echo 'a: true' >"$MNT/q/submit"
	chmod 0600 "$MNT/q/status"
	flushq q
	assert_equal "$(stat -c %a "$MNT/q/status")" 600
	rmdir "$MNT/q"
	[ ! -e "$MNT/q/submit" ] || fail "q/submit still there after rmdir q"
	mkdir "$MNT/q"
	assert_equal "$(stat -c %a "$MNT/q/status")" 444
	echo 'b: true' >"$MNT/q/submit"
	flushq q
	[ -d "$MNT/q/works/b" ] || fail "no works/b in the new queue"
	[ ! -e "$MNT/q/works/a" ] || fail "the new queue has the old queue's work a"
	healthy q
}
