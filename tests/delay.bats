#!/usr/bin/env bats
# delay.bats - queue_delayed_work through QUEUE/delay, DELAY units.

load bats/common

# due_minus_queued QUEUE WORK - due_at - queued_at of a delayed work, in
# jiffies (the times are ms of the wall clock)
due_minus_queued() {
	local q d
	q=$(time_ms "$(w_get "$1" "$2" queued_at)") &&
		d=$(time_ms "$(w_get "$1" "$2" due_at)") || {
		echo "queued_at '$(w_get "$1" "$2" queued_at)' due_at '$(w_get "$1" "$2" due_at)'"
		return 1
	}
	echo $(((d - q) * $(cat "$MNT/hz") / 1000))
}

# assert_jiffies QUEUE WORK N - the delay is N jiffies (one jiffy of
# rounding between the two timestamps allowed)
assert_jiffies() {
	local got
	got=$(due_minus_queued "$1" "$2") || fail "$got"
	((got >= $3 - 1 && got <= $3 + 1)) ||
		fail "$2: due_at - queued_at = $got jiffies, expected $3"
}

@test "every unit: ns us ms s m h, and bare jiffies (hz 250)" {
	mkdir "$MNT/q"
	{
		echo "j: 7 true"
		echo "ns: 4000000ns true"
		echo "us: 8000us true"
		echo "ms: 12ms true"
		echo "s: 3s true"
		echo "m: 2m true"
		echo "h: 1h true"
	} >"$MNT/q/delay"
	for w in j ns us ms s m h; do
		[ -d "$MNT/q/works/$w" ] || fail "works/$w missing"
	done
	run w_get q h state
	assert_output delayed
	assert_jiffies q m 30000
	assert_jiffies q h 900000
	assert_jiffies q s 750
}

@test "short delays in every unit give the right jiffies" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	{
		echo "j: 7 true"
		echo "ns: 40000000ns true"
		echo "us: 80000us true"
		echo "ms: 120ms true"
	} >"$MNT/q/delay"
	assert_jiffies q j 7
	assert_jiffies q ns 10
	assert_jiffies q us 20
	assert_jiffies q ms 30
}

@test "decimals: 1.5s, 0.5m, .5h, 2.5s" {
	mkdir "$MNT/q"
	{
		echo "a: 1.5s true"
		echo "b: 0.5m true"
		echo "c: .5h true"
		echo "d: 2.5s true"
	} >"$MNT/q/delay"
	assert_jiffies q a 375
	assert_jiffies q b 7500
	assert_jiffies q c 450000
	assert_jiffies q d 625
}

@test "a unit as a word: 'job: 5 sec echo hi' is 5 s then echo hi; '5x' is EINVAL" {
	mkdir "$MNT/q"
	echo 'job: 5 sec echo hi' >"$MNT/q/delay"
	run w_get q job state
	assert_output delayed
	run w_get q job command
	assert_output "echo hi"
	assert_jiffies q job 1250
	run write_errno "$MNT/q/delay" 'job2: 5x echo hi'
	assert_output EINVAL
	[ ! -e "$MNT/q/works/job2" ]
	run write_errno "$MNT/q/delay" '5x echo hi' '5secs2 echo hi' '1.5q echo hi'
	assert_output "EINVAL EINVAL EINVAL"
	run q_get q delayed
	assert_output 1
	echo job >"$MNT/q/cancel"
}

@test "units as words, long spellings attached: 2 minutes, 300 ms, 1 hour, 5sec" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	printf '%s\n' \
		"a: 2 minutes true" "b: 300 ms true" "c: 1 hour true" \
		"d: 5 seconds true" "e: 1.5 s true" "f: 40000000 ns true" \
		"g: 80000 usec true" "h: 3 mins true" "i: 2 hrs true" \
		"j: 5sec true" "k: 1minute true" "l: 120msecs true" \
		"m: 7	second	true" "n: 2 hr true" "o: 1 millisecond true" \
		"p: 4000000nanoseconds true" "q: 8000 microseconds true" \
		"r: 1 min true" "s: 1 secs true" "t: 1 h true" \
		>"$MNT/q/delay"
	assert_jiffies q a 30000
	assert_jiffies q b 75
	assert_jiffies q c 900000
	assert_jiffies q d 1250
	assert_jiffies q e 375
	assert_jiffies q f 10
	assert_jiffies q g 20
	assert_jiffies q h 45000
	assert_jiffies q i 1800000
	assert_jiffies q j 1250
	assert_jiffies q k 15000
	assert_jiffies q l 30
	assert_jiffies q m 1750
	assert_jiffies q n 1800000
	assert_jiffies q o 0
	assert_jiffies q p 1
	assert_jiffies q q 2
	assert_jiffies q r 15000
	assert_jiffies q s 250
	assert_jiffies q t 900000
	run w_get q a command
	assert_output true
	run w_get q m command
	assert_output true
	echo '*' >"$MNT/q/cancel"
}

@test "a unit word after the number is DELAY's; any other word begins the command" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	{
		echo "a: 5 s s"
		echo "b: 5s sec x"
		echo "c: 500 's' x"
		echo "d: 500 Sec x"
		echo "e: 500 echo hi"
	} >"$MNT/q/delay"
	assert_jiffies q a 1250
	assert_equal "$(w_get q a command)" s
	assert_jiffies q b 1250
	assert_equal "$(w_get q b command)" "sec x"
	assert_jiffies q c 500
	assert_equal "$(w_get q c command)" "'s' x"
	assert_jiffies q d 500
	assert_equal "$(w_get q d command)" "Sec x"
	assert_jiffies q e 500
	assert_equal "$(w_get q e command)" "echo hi"
	run write_errno "$MNT/q/delay" "5 sec"
	assert_output EINVAL
	echo '*' >"$MNT/q/cancel"
}

@test "NAME: DELAY with a unit word queues the declared work again: 'd: 5 sec'" {
	mkdir "$MNT/q"
	echo "d: echo run >> '$T/d'" >"$MNT/q/submit"
	flushq q
	run write_errno "$MNT/q/delay" "d: 5 sec"
	assert_output OK
	run w_get q d state
	assert_output delayed
	run w_get q d command
	assert_output "echo run >> '$T/d'"
	assert_jiffies q d 1250
	run write_errno "$MNT/q/delay" "d: 5x"
	assert_output EINVAL
	echo d >"$MNT/q/cancel"
	run write_errno "$MNT/q/modify" "d: 300 ms"
	assert_output OK
	assert_jiffies q d 75
	wait_for 10 w_state_is q d done
	run w_get q d runs
	assert_output 2
	run cat "$T/d"
	assert_output $'run\nrun'
}

@test "bare jiffies follow -o hz" {
	wqfs_remount -o hz=100
	mkdir "$MNT/q"
	local t0 t1
	echo "j: 50 true" >"$MNT/q/delay"
	echo "s: 2s true" >"$MNT/q/delay"
	assert_jiffies q j 50
	assert_jiffies q s 200
	t0=$(date +%s%N)
	echo "x: 100 date +%s%N > '$T/x'" >"$MNT/q/delay"
	wait_for 15 test -s "$T/x"
	t1=$(cat "$T/x")
	# 100 jiffies at hz=100 is one second
	((t1 - t0 >= 1000000000 - 10000000)) || fail "ran after $(((t1 - t0) / 1000000)) ms"
	((t1 - t0 < 6000000000)) || fail "ran after $(((t1 - t0) / 1000000)) ms"
}

@test "a delayed work runs after at least its delay, not before" {
	mkdir "$MNT/q"
	local t0 t1
	t0=$(date +%s%N)
	echo "d: 1500ms date +%s%N > '$T/d'" >"$MNT/q/delay"
	run w_get q d state
	assert_output delayed
	sleep 1
	[ ! -e "$T/d" ] || fail "ran before its delay"
	run w_get q d state
	assert_output delayed
	wait_for 15 test -s "$T/d"
	t1=$(cat "$T/d")
	# one jiffy (4 ms at hz 250) of timer granularity allowed
	((t1 - t0 >= 1500000000 - 4000000)) || fail "ran after $(((t1 - t0) / 1000000)) ms"
	((t1 - t0 < 6500000000)) || fail "ran after $(((t1 - t0) / 1000000)) ms"
	wait_for 5 w_state_is q d done
	run w_get q d runs
	assert_output 1
}

@test "an anonymous delayed work runs and reads back its id" {
	mkdir "$MNT/q"
	run submit_id "$MNT/q" "200ms echo anon > '$T/a'" delay
	assert_output w1
	wait_for 10 file_has "$T/a" anon
}

@test "a delay of 0 runs at once" {
	mkdir "$MNT/q"
	echo "z: 0 echo zero > '$T/z'" >"$MNT/q/delay"
	wait_for 5 file_has "$T/z" zero
}

@test "NAME: DELAY queues a declared work again after DELAY" {
	mkdir "$MNT/q"
	echo "d: echo run >> '$T/d'" >"$MNT/q/submit"
	flushq q
	run write_errno "$MNT/q/delay" "d: 300ms"
	assert_output OK
	run w_get q d state
	assert_output delayed
	run cat "$T/d"
	assert_output run
	wait_for 10 w_state_is q d done
	run cat "$T/d"
	assert_output $'run\nrun'
	run w_get q d runs
	assert_output 2
}

@test "NAME: DELAY COMMAND declares the work with that command" {
	mkdir "$MNT/q"
	echo "nd: 10ms echo declared > '$T/nd'" >"$MNT/q/delay"
	wait_for 10 file_has "$T/nd" declared
	run w_get q nd command
	assert_output "echo declared > '$T/nd'"
}

@test "NAME: DELAY of an undeclared work is ENOENT" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/delay" "ghost: 1s"
	assert_output ENOENT
	[ ! -e "$MNT/q/works/ghost" ]
}

@test "queueing a delayed work again is EALREADY and keeps its due time" {
	mkdir "$MNT/q"
	echo "d: 10s true" >"$MNT/q/delay"
	local due
	due=$(w_get q d due_at)
	run write_errno "$MNT/q/delay" "d: 1s true"
	assert_output EALREADY
	run write_errno "$MNT/q/delay" "d: 1s"
	assert_output EALREADY
	run write_errno "$MNT/q/submit" "d:"
	assert_output EALREADY
	run w_get q d due_at
	assert_output "$due"
	echo d >"$MNT/q/cancel"
}

@test "DELAY out of range is ERANGE" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/delay" "10000000000h true"
	assert_output ERANGE
	run write_errno "$MNT/q/delay" "99999999999999999999999999 true"
	assert_output ERANGE
	run write_errno "$MNT/q/delay" "r: 99999999999999999999999999s true"
	assert_output ERANGE
	[ ! -e "$MNT/q/works/r" ]
	daemon_alive
}

@test "a garbage DELAY is EINVAL" {
	mkdir "$MNT/q"
	local bad
	for bad in "abc true" "5xs true" "1.2.3s true" "s true" "ms true" \
		"g: 5q true" "g: . true" "5ms" "g:" $'\n'; do
		run write_errno "$MNT/q/delay" "$bad"
		assert_output EINVAL
	done
	[ ! -e "$MNT/q/works/g" ]
	daemon_alive
}
