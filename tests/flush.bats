#!/usr/bin/env bats
# flush.bats - flush_workqueue / flush_work through QUEUE/flush.

load bats/common

@test "flush waits for work queued before it" {
	mkdir "$MNT/q"
	echo "sleep 1; echo done > '$T/f'" >"$MNT/q/submit"
	run write_errno "$MNT/q/flush" $'\n'
	assert_output OK
	file_has "$T/f" done
}

@test "flush with echo -n (no newline, no line) flushes too" {
	mkdir "$MNT/q"
	echo "sleep 1; echo done > '$T/f'" >"$MNT/q/submit"
	echo >"$MNT/q/flush"
	file_has "$T/f" done
}

@test "flush waits for works on every CPU of a per-CPU queue" {
	mkdir "$MNT/q"
	local i
	for i in 1 2 3 4 5 6; do
		taskset -c $(((i - 1) % $(nproc))) sh -c "echo 'sleep 0.3; echo $i > \"$T/f$i\"' > '$MNT/q/submit'"
	done
	flushq q
	for i in 1 2 3 4 5 6; do
		file_has "$T/f$i" "$i" || fail "work $i had not finished"
	done
}

@test "flush does not wait for work queued after it" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 2 >"$MNT/q/max_active"
	echo "a: sleep 1; echo a > '$T/a'" >"$MNT/q/submit"
	wait_for 10 w_state_is q a running
	bg_intr "$T/flush.res" write "$MNT/q/flush" $'\n'
	local fpid=$BG_PID
	sleep 0.3
	kill -0 "$fpid"
	echo "later: sleep 60" >"$MNT/q/submit"
	wait_exit 15 "$fpid"
	assert_equal "$WAIT_STATUS" 0
	run cat "$T/flush.res"
	assert_output OK
	file_has "$T/a" a
	run w_get q later state
	assert_output running
	echo later >"$MNT/q/cancel" || true
}

@test "flush NAME waits for that work only" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 2 >"$MNT/q/max_active"
	echo "n: sleep 1; echo n > '$T/n'" >"$MNT/q/submit"
	echo "other: sleep 60" >"$MNT/q/submit"
	local t0 t1
	t0=$(date +%s)
	run write_errno "$MNT/q/flush" "n"
	t1=$(date +%s)
	assert_output OK
	file_has "$T/n" n
	((t1 - t0 < 20)) || fail "flush n took $((t1 - t0)) s"
	run w_get q other state
	assert_output running
	echo other >"$MNT/q/cancel" || true
}

@test "flush NAME of a delayed work runs it now" {
	mkdir "$MNT/q"
	echo "d: 100s echo d > '$T/d'" >"$MNT/q/delay"
	local t0 t1
	t0=$(date +%s)
	run write_errno "$MNT/q/flush" "d"
	t1=$(date +%s)
	assert_output OK
	file_has "$T/d" d
	((t1 - t0 < 20))
	run w_get q d state
	assert_output done
	run w_get q d runs
	assert_output 1
}

@test "flush NAME of an idle work succeeds at once" {
	mkdir "$MNT/q"
	echo "i: true" >"$MNT/q/submit"
	flushq q
	run write_errno "$MNT/q/flush" "i"
	assert_output OK
}

@test "flush NAME of an undeclared work is ENOENT" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/flush" "ghost"
	assert_output ENOENT
	run write_errno "$MNT/q/flush" "bad name"
	assert_output EINVAL
}

@test "flush of an empty queue returns at once" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/flush" $'\n'
	assert_output OK
	run write_errno "$MNT/events/flush" $'\n'
	assert_output OK
}

@test "flush of events waits for schedule_work work (flush_scheduled_work)" {
	echo "sleep 1; echo ev > '$T/ev'" >"$MNT/events/submit"
	flushq events
	file_has "$T/ev" ev
}

@test "a work flushing its own queue gets EDEADLK instead of a hang" {
	mkdir "$MNT/q"
	echo "dl: $WE -e \"\$WQ_ROOT/\$WQ_QUEUE/flush\" '\\n' > '$T/res'" >"$MNT/q/submit"
	run timeout 30 sh -c "echo > '$MNT/q/flush'"
	assert_success
	file_has "$T/res" EDEADLK
	run w_get q dl state
	assert_output done
}

@test "a work flushing itself by name gets EDEADLK" {
	mkdir "$MNT/q"
	echo "self: $WE \"\$WQ_ROOT/\$WQ_QUEUE/flush\" \"\$WQ_WORK\" > '$T/res'" >"$MNT/q/submit"
	run timeout 30 sh -c "echo > '$MNT/q/flush'"
	assert_success
	file_has "$T/res" EDEADLK
}

@test "a work flushing another queue is fine" {
	mkdir "$MNT/a" "$MNT/b"
	echo "sleep 0.5; echo b > '$T/b'" >"$MNT/b/submit"
	echo "$WE -e \"\$WQ_ROOT/b/flush\" '\\n' > '$T/res'" >"$MNT/a/submit"
	flushq a
	file_has "$T/res" OK
	file_has "$T/b" b
}

@test "flush interrupted by SIGINT fails with EINTR and the queue still works" {
	mkdir "$MNT/q"
	echo "s: sleep 5" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	bg_intr "$T/flush.res" write "$MNT/q/flush" $'\n'
	local fpid=$BG_PID
	sleep 0.5
	kill -0 "$fpid"
	kill -INT "$fpid"
	wait_exit 3 "$fpid"
	assert_equal "$WAIT_STATUS" 0
	run cat "$T/flush.res"
	assert_output EINTR
	# the work was not disturbed
	run w_get q s state
	assert_output running
	echo s >"$MNT/q/cancel" || true
	echo "echo after > '$T/after'" >"$MNT/q/submit"
	flushq q
	file_has "$T/after" after
}

@test "flush NAME is not held up by another flush waiting on the same queue" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 2 >"$MNT/q/max_active"
	echo "long: sleep 6" >"$MNT/q/submit"
	echo "short: sleep 0.5; echo s > '$T/s'" >"$MNT/q/submit"
	wait_for 10 w_state_is q long running
	bg_intr "$T/long.res" write "$MNT/q/flush" "long"
	local lpid=$BG_PID t0 t1
	sleep 0.3
	kill -0 "$lpid"
	t0=$(date +%s%N)
	run write_errno "$MNT/q/flush" "short"
	t1=$(date +%s%N)
	assert_output OK
	file_has "$T/s" s
	((t1 - t0 < 4000000000)) || fail "flush short waited $(((t1 - t0) / 1000000)) ms for flush long"
	wait_exit 20 "$lpid"
	run cat "$T/long.res"
	assert_output OK
}

@test "a flush write returns at once and its close(2) waits until the work is done" {
	mkdir "$MNT/q"
	echo "sleep 1; echo done > '$T/f'" >"$MNT/q/submit"
	run timeout -s KILL 30 "$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, b"\n")
print("after write:", "done" if os.path.exists(sys.argv[2]) else "not done")
os.close(fd)
print("after close:", open(sys.argv[2]).read().strip())
' "$MNT/q/flush" "$T/f"
	assert_success
	assert_output $'after write: not done\nafter close: done'
}
