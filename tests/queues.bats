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
		per_cpu max_active cpumask nice frozen works; do
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

@test "rmdir with delayed work not yet due is ENOTEMPTY; after cancel it succeeds" {
	mkdir "$MNT/q"
	echo "later: 100s echo ran > '$T/later'" >"$MNT/q/delay"
	run rmdir_errno "$MNT/q"
	assert_output ENOTEMPTY
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

@test "rmdir waits for queued and running work to finish" {
	mkdir "$MNT/q"
	echo "sleep 1; echo first > '$T/first'" >"$MNT/q/submit"
	echo "echo second > '$T/second'" >"$MNT/q/submit"
	run rmdir_errno "$MNT/q"
	assert_output OK
	# both works finished before rmdir returned
	file_has "$T/first" first
	file_has "$T/second" second
	[ ! -e "$MNT/q" ]
}

@test "new work through a descriptor opened before rmdir is refused with ESHUTDOWN" {
	mkdir "$MNT/q"
	echo "s: sleep 3; echo done > '$T/done'" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	exec 5>"$MNT/q/submit" 6>"$MNT/q/delay"
	bg rmdir "$MNT/q"
	local rpid=$BG_PID
	sleep 0.5
	kill -0 "$rpid" # rmdir is still waiting for the running work
	run "$PY" -c '
import errno, os
for fd, line in ((5, b"true\n"), (6, b"1s true\n")):
    try:
        os.write(fd, line); print("OK")
    except OSError as e:
        print(errno.errorcode[e.errno])'
	exec 5>&- 6>&-
	assert_output $'ESHUTDOWN\nESHUTDOWN'
	wait_exit 20 "$rpid"
	assert_equal "$WAIT_STATUS" 0
	file_has "$T/done" done
	[ ! -e "$MNT/q" ]
}

@test "new work on a queue being destroyed is refused with ESHUTDOWN (echo > submit)" {
	mkdir "$MNT/q"
	echo "s: sleep 3; echo done > '$T/done'" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	# While rmdir runs, the kernel answers ENOENT itself for names in q it
	# has not looked up before: look them up first, as a shell user would
	# have by using them.
	stat "$MNT/q/submit" "$MNT/q/delay" >/dev/null
	bg rmdir "$MNT/q"
	local rpid=$BG_PID
	sleep 0.5
	kill -0 "$rpid" # rmdir is still waiting for the running work
	# the queue is still there until its work has finished
	[ -d "$MNT/q" ]
	run write_errno "$MNT/q/submit" "echo late > '$T/late'"
	assert_output ESHUTDOWN
	run write_errno "$MNT/q/delay" "1s echo late > '$T/late'"
	assert_output ESHUTDOWN
	wait_exit 20 "$rpid"
	assert_equal "$WAIT_STATUS" 0
	file_has "$T/done" done
	[ ! -e "$MNT/q" ]
	[ ! -e "$T/late" ]
}

@test "rmdir interrupted by SIGINT fails with EINTR and leaves the queue usable" {
	mkdir "$MNT/q"
	echo "s: sleep 4" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	bg_intr "$T/rmdir.res" rmdir "$MNT/q"
	local rpid=$BG_PID
	sleep 0.5
	kill -0 "$rpid"
	kill -INT "$rpid"
	wait_exit 3 "$rpid"
	assert_equal "$WAIT_STATUS" 0
	run cat "$T/rmdir.res"
	assert_output EINTR
	[ -d "$MNT/q" ]
	# the queue takes work again
	run write_errno "$MNT/q/submit" "echo again > '$T/again'"
	assert_output OK
	flushq q
	file_has "$T/again" again
	run rmdir_errno "$MNT/q"
	assert_output OK
}

@test "a per-CPU queue has one worker per CPU named NAME/CPU" {
	local n i
	n=$(nproc)
	mkdir "$MNT/myq"
	run q_get myq workers
	assert_output "$n"
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

@test "worker names are cut to the 15 characters of a thread name" {
	local n
	n=$(nproc)
	mkdir "$MNT/abcdefghijklmnopqrst"
	wait_for 5 sh -c "cat /proc/$WQFS_PID/task/*/comm | grep -qx abcdefghijklmno"
	run sh -c "cat /proc/$WQFS_PID/task/*/comm | grep -cx abcdefghijklmno"
	assert_output "$n"
}

@test "rmdir removes the queue's workers" {
	mkdir "$MNT/gone"
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
