#!/usr/bin/env bats
# modify.bats - mod_delayed_work through QUEUE/modify.

load bats/common

now_ns() { date +%s%N; }

@test "modify re-arms a delayed work later" {
	mkdir "$MNT/q"
	echo "m: 300ms date +%s%N > '$T/m'" >"$MNT/q/delay"
	local t0 t1
	t0=$(now_ns)
	run write_errno "$MNT/q/modify" "m: 2s"
	assert_output OK
	sleep 1
	[ ! -e "$T/m" ] || fail "ran at its first due time"
	run w_get q m state
	assert_output delayed
	wait_for 15 test -s "$T/m"
	t1=$(cat "$T/m")
	((t1 - t0 >= 2000000000 - 4000000)) || fail "ran after $(((t1 - t0) / 1000000)) ms"
	wait_for 5 w_state_is q m done
	run w_get q m runs
	assert_output 1
}

@test "modify re-arms a delayed work earlier" {
	mkdir "$MNT/q"
	echo "m: 100s echo ran > '$T/m'" >"$MNT/q/delay"
	run write_errno "$MNT/q/modify" "m: 50ms"
	assert_output OK
	wait_for 5 file_has "$T/m" ran
	wait_for 5 w_state_is q m done
	run w_get q m runs
	assert_output 1
}

@test "modify with 0 runs the work now" {
	mkdir "$MNT/q"
	echo "m: 100s echo ran > '$T/m'" >"$MNT/q/delay"
	run write_errno "$MNT/q/modify" "m: 0"
	assert_output OK
	wait_for 5 file_has "$T/m" ran
}

@test "modify arms an idle declared work (not pending)" {
	mkdir "$MNT/q"
	echo "m: echo run >> '$T/m'" >"$MNT/q/submit"
	flushq q
	run write_errno "$MNT/q/modify" "m: 200ms"
	assert_output OK
	run w_get q m state
	assert_output delayed
	wait_for 10 w_state_is q m done
	run cat "$T/m"
	assert_output $'run\nrun'
	run w_get q m runs
	assert_output 2
}

@test "modify turns a pending work into a delayed one" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	echo "m: echo ran > '$T/m'" >"$MNT/q/submit"
	run w_get q m state
	assert_output pending
	run write_errno "$MNT/q/modify" "m: 1s"
	assert_output OK
	run w_get q m state
	assert_output delayed
	echo 0 >"$MNT/q/frozen"
	sleep 0.4
	[ ! -e "$T/m" ] || fail "ran before the new delay"
	wait_for 10 file_has "$T/m" ran
	wait_for 5 w_state_is q m done
	run w_get q m runs
	assert_output 1
}

@test "modify sets due_at from now" {
	mkdir "$MNT/q"
	echo "m: 100s true" >"$MNT/q/delay"
	local d1 d2
	d1=$(time_ms "$(w_get q m due_at)")
	echo "m: 20s" >"$MNT/q/modify"
	d2=$(time_ms "$(w_get q m due_at)")
	# 80 s earlier, give or take the time between the writes
	((d1 - d2 >= 79000 && d1 - d2 <= 80004)) || fail "due_at moved by $((d1 - d2)) ms"
	echo m >"$MNT/q/cancel"
}

@test "modify of an undeclared work is ENOENT" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/modify" "ghost: 1s"
	assert_output ENOENT
	[ ! -e "$MNT/q/works/ghost" ]
}

@test "modify lines without NAME: DELAY are EINVAL" {
	mkdir "$MNT/q"
	echo "m: true" >"$MNT/q/submit"
	flushq q
	local bad
	for bad in "m" "m:" "1s" "m: abc" "m: 1s true" $'\n'; do
		run write_errno "$MNT/q/modify" "$bad"
		assert_output EINVAL
	done
	run w_get q m state
	assert_output done
}

@test "modify DELAY out of range is ERANGE" {
	mkdir "$MNT/q"
	echo "m: true" >"$MNT/q/submit"
	flushq q
	run write_errno "$MNT/q/modify" "m: 10000000000h"
	assert_output ERANGE
	run w_get q m state
	assert_output done
}
