#!/usr/bin/env bats
# cancel.bats - cancel_delayed_work_sync / cancel_work_sync through QUEUE/cancel.

load bats/common

@test "cancelling a pending work succeeds and it never runs" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	echo "c: echo ran > '$T/c'" >"$MNT/q/submit"
	run w_get q c state
	assert_output pending
	run write_errno "$MNT/q/cancel" "c"
	assert_output OK
	run w_get q c state
	assert_output cancelled
	echo 0 >"$MNT/q/frozen"
	flushq q
	sleep 0.3
	[ ! -e "$T/c" ]
	run w_get q c runs
	assert_output 0
}

@test "cancelling a delayed work succeeds and it never runs" {
	mkdir "$MNT/q"
	echo "c: 500ms echo ran > '$T/c'" >"$MNT/q/delay"
	run write_errno "$MNT/q/cancel" "c"
	assert_output OK
	run w_get q c state
	assert_output cancelled
	sleep 1.2
	[ ! -e "$T/c" ]
	run w_get q c runs
	assert_output 0
}

@test "cancelling an anonymous work by its id" {
	mkdir "$MNT/q"
	run submit_id "$MNT/q" "500ms echo ran > '$T/a'" delay
	assert_output w1
	run write_errno "$MNT/q/cancel" "w1"
	assert_output OK
	sleep 1.2
	[ ! -e "$T/a" ]
}

@test "a cancelled work can be queued again" {
	mkdir "$MNT/q"
	echo "c: 100s echo ran > '$T/c'" >"$MNT/q/delay"
	echo c >"$MNT/q/cancel"
	run write_errno "$MNT/q/submit" "c:"
	assert_output OK
	flushq q
	file_has "$T/c" ran
}

@test "cancelling an idle work is ESRCH: nothing to cancel; the message says so" {
	mkdir "$MNT/q"
	echo "c: true" >"$MNT/q/submit"
	flushq q
	run write_errno "$MNT/q/cancel" "c"
	assert_output ESRCH
	run bash -c 'echo c > "$1/q/cancel"' bash "$MNT"
	assert_failure
	assert_output --partial "No such process"
	run w_get q c runs
	assert_output 1
}

@test "cancelling a never-declared work is ENOENT" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/cancel" "ghost"
	assert_output ENOENT
	run write_errno "$MNT/q/cancel" "w99"
	assert_output ENOENT
	daemon_alive
}

@test "cancelling a running sleep 100 stops it and returns promptly" {
	mkdir "$MNT/q"
	echo "s: echo \$\$ > '$T/pid'; exec sleep 100" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	wait_for 10 test -s "$T/pid"
	local pid t0 t1
	pid=$(cat "$T/pid")
	kill -0 "$pid"
	t0=$(date +%s%N)
	# it runs: stopping it is a successful cancel
	run write_errno "$MNT/q/cancel" "s"
	t1=$(date +%s%N)
	assert_output OK
	((t1 - t0 < 5000000000)) || fail "cancel took $(((t1 - t0) / 1000000)) ms"
	run w_get q s state
	assert_output cancelled
	! kill -0 "$pid" 2>/dev/null || fail "the work's process $pid still runs"
}

@test "cancelling a running work counts it cancelled, not failed, and leaves a cancel row in trace" {
	mkdir "$MNT/q"
	exec 7<"$MNT/q/trace"
	echo "s: exec sleep 100" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	run write_errno "$MNT/q/cancel" "s"
	assert_output OK
	assert_equal "$(q_get q cancelled)" 1
	assert_equal "$(q_get q failed)" 0
	assert_equal "$(q_get q completed)" 1
	local rows
	rows=$(timeout 5 "$PY" -c 'import os, time, sys
fd = 7; os.set_blocking(fd, False); out = b""; end = time.time() + 3
while time.time() < end and b" end " not in out:
    try: out += os.read(fd, 65536)
    except BlockingIOError: time.sleep(0.05)
sys.stdout.write(out.decode())' 7<&7)
	exec 7<&-
	grep -qE ' q s cancel ' <<<"$rows" || fail "no cancel row in: $rows"
	grep -qE ' q s end ' <<<"$rows" || fail "no end row in: $rows"
}

@test "cancelling a running work that ignores SIGTERM still returns (SIGKILL)" {
	mkdir "$MNT/q"
	echo "s: trap '' TERM; while :; do sleep 0.1; done" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	local t0 t1
	t0=$(date +%s%N)
	run write_errno "$MNT/q/cancel" "s"
	t1=$(date +%s%N)
	assert_output OK
	((t1 - t0 < 10000000000)) || fail "cancel took $(((t1 - t0) / 1000000)) ms"
	run w_get q s state
	assert_output cancelled
}

@test "cancel of a running work with a pending instance succeeds and stops both" {
	mkdir "$MNT/q"
	echo "s: sleep 100; echo ran >> '$T/s'" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	# queue it again while it runs: a second instance is pending
	run write_errno "$MNT/q/submit" "s:"
	assert_output OK
	run write_errno "$MNT/q/cancel" "s"
	assert_output OK
	run w_get q s state
	assert_output cancelled
	flushq q
	[ ! -e "$T/s" ]
}

@test "cancel stops a work that re-arms itself" {
	mkdir "$MNT/q"
	cat >"$T/tick.sh" <<EOF
echo x >> '$T/count'
echo "\$WQ_WORK: 20ms" > "\$WQ_ROOT/\$WQ_QUEUE/delay"
EOF
	echo "tick: sh '$T/tick.sh'" >"$MNT/q/submit"
	wait_for 20 sh -c "[ \$(wc -l < '$T/count') -ge 3 ]"
	run write_errno "$MNT/q/cancel" "tick"
	# delayed or running (OK) or between two runs (ESRCH) at that moment
	[[ "$output" == OK || "$output" == ESRCH ]] || fail "cancel: $output"
	local n1 n2
	n1=$(wc -l <"$T/count")
	# cancelled, or done when the cancel found nothing (ESRCH)
	local st=cancelled
	[[ "$output" == OK ]] || st=done
	run w_get q tick state
	assert_output "$st"
	sleep 1
	n2=$(wc -l <"$T/count")
	assert_equal "$n2" "$n1"
	run w_get q tick state
	assert_output "$st"
}

@test "cancel takes several names, one a line" {
	mkdir "$MNT/q"
	printf "a: 100s true\nb: 100s true\n" >"$MNT/q/delay"
	run write_errno "$MNT/q/cancel" $'a\nb\n'
	assert_output OK
	run w_get q a state
	assert_output cancelled
	run w_get q b state
	assert_output cancelled
}

@test "a bad name in cancel is EINVAL" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/cancel" "bad name"
	assert_output EINVAL
	run write_errno "$MNT/q/cancel" ".x"
	assert_output EINVAL
	run write_errno "$MNT/q/cancel" "$(printf 'a%.0s' {1..65})"
	assert_output EINVAL
}
