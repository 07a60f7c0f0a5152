#!/usr/bin/env bats
# attributes.bats - per_cpu, max_active, cpumask, nice, frozen.

load bats/common

all_cpus_hex() { printf '%x\n' $(((1 << $(nproc)) - 1)); }

@test "a new queue has the default attributes, as sysfs prints them" {
	mkdir "$MNT/q"
	run cat "$MNT/q/per_cpu"
	assert_output 1
	run cat "$MNT/q/max_active"
	assert_output 1
	run cat "$MNT/q/nice"
	assert_output 0
	run cat "$MNT/q/frozen"
	assert_output 0
	run cat "$MNT/q/cpumask"
	assert_output "$(all_cpus_hex)"
	# one value and a newline, as sysfs
	run od -An -c "$MNT/q/max_active"
	assert_output --regexp '^ +1 +\\n$'
}

@test "max_active takes 1..512 and reads it back" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/max_active" 4
	assert_output OK
	run cat "$MNT/q/max_active"
	assert_output 4
	echo 512 >"$MNT/q/max_active"
	run cat "$MNT/q/max_active"
	assert_output 512
	echo -n 3 >"$MNT/q/max_active"
	run cat "$MNT/q/max_active"
	assert_output 3
}

@test "max_active above 512 is clamped to 512" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/max_active" 1000
	assert_output OK
	run cat "$MNT/q/max_active"
	assert_output 512
}

@test "max_active rejects 0, negatives and non-integers with EINVAL" {
	mkdir "$MNT/q"
	echo 7 >"$MNT/q/max_active"
	local bad
	for bad in 0 -1 abc 1.5 "" 0x10; do
		run write_errno "$MNT/q/max_active" "$bad"$'\n'
		assert_output EINVAL
	done
	run cat "$MNT/q/max_active"
	assert_output 7
}

@test "max_active 1 on an unbound queue runs one work at a time" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 1 >"$MNT/q/max_active"
	echo "a: sleep 2" >"$MNT/q/submit"
	echo "b: sleep 2" >"$MNT/q/submit"
	wait_for 10 w_state_is q a running
	sleep 0.5
	run w_get q b state
	assert_output pending
	run q_get q running
	assert_output 1
	echo a >"$MNT/q/cancel" || true
	echo b >"$MNT/q/cancel" || true
}

@test "max_active 2 on an unbound queue runs two works at once" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 2 >"$MNT/q/max_active"
	# each waits for the other: both finish only if they run together
	echo "a: touch '$T/a'; i=0; while [ ! -e '$T/b' ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done; [ -e '$T/b' ]" >"$MNT/q/submit"
	echo "b: touch '$T/b'; i=0; while [ ! -e '$T/a' ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done; [ -e '$T/a' ]" >"$MNT/q/submit"
	flushq q
	run w_get q a last_exit
	assert_output 0
	run w_get q b last_exit
	assert_output 0
}

@test "create_singlethread_workqueue: per_cpu 0 and max_active 1 run 20 works strictly in order" {
	mkdir "$MNT/st"
	echo 0 >"$MNT/st/per_cpu"
	echo 1 >"$MNT/st/max_active"
	run q_get st workers
	assert_output 0
	local i
	for i in $(seq 1 20); do
		# from alternating CPUs, with a little jitter in each work
		taskset -c $((i % $(nproc))) sh -c "echo 'sleep 0.0$((i % 5)); echo $i >> \"$T/order\"' > '$MNT/st/submit'"
	done
	flushq st
	run cat "$T/order"
	assert_output "$(seq 1 20)"
}

@test "per_cpu reads back 0 and 1; other values are EINVAL" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/per_cpu" 0
	assert_output OK
	run cat "$MNT/q/per_cpu"
	assert_output 0
	run write_errno "$MNT/q/per_cpu" 1
	assert_output OK
	run cat "$MNT/q/per_cpu"
	assert_output 1
	for bad in 2 -1 yes ""; do
		run write_errno "$MNT/q/per_cpu" "$bad"$'\n'
		assert_output EINVAL
	done
	run cat "$MNT/q/per_cpu"
	assert_output 1
}

@test "per_cpu cannot change while the queue is busy (EBUSY)" {
	mkdir "$MNT/q"
	echo "s: sleep 100" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	run write_errno "$MNT/q/per_cpu" 0
	assert_output EBUSY
	run cat "$MNT/q/per_cpu"
	assert_output 1
	echo s >"$MNT/q/cancel" || true
	wait_for 10 w_state_is q s cancelled
	run write_errno "$MNT/q/per_cpu" 0
	assert_output OK
	run cat "$MNT/q/per_cpu"
	assert_output 0
}

@test "per_cpu 0 leaves one unbound worker" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	run q_get q workers
	assert_output 0
	# workers start when work runs: one work, one unbound worker
	echo true >"$MNT/q/submit"
	flushq q
	run q_get q workers
	assert_output 1
	# the new per-CPU pools start empty; the unbound worker is gone
	echo 1 >"$MNT/q/per_cpu"
	run q_get q workers
	assert_output 0
}

@test "cpumask takes a hex mask and a list" {
	[ "$(nproc)" -ge 2 ] || fail "this test needs 2 CPUs"
	mkdir "$MNT/q"
	run write_errno "$MNT/q/cpumask" 1
	assert_output OK
	run cat "$MNT/q/cpumask"
	assert_output 1
	run write_errno "$MNT/q/cpumask" 2
	assert_output OK
	run cat "$MNT/q/cpumask"
	assert_output 2
	run write_errno "$MNT/q/cpumask" 0-1
	assert_output OK
	run cat "$MNT/q/cpumask"
	assert_output 3
	run write_errno "$MNT/q/cpumask" 1
	echo "1" >"$MNT/q/cpumask"
	run cat "$MNT/q/cpumask"
	assert_output 1
	run write_errno "$MNT/q/cpumask" "0,1"
	assert_output OK
	run cat "$MNT/q/cpumask"
	assert_output 3
}

@test "bad cpumask values are EINVAL and change nothing" {
	mkdir "$MNT/q"
	local before bad
	before=$(cat "$MNT/q/cpumask")
	for bad in zz 0 "1-" "3-1" "-" "" "g1"; do
		run write_errno "$MNT/q/cpumask" "$bad"$'\n'
		assert_output EINVAL
	done
	# CPUs that are not there
	run write_errno "$MNT/q/cpumask" "$(printf '%x' $((1 << $(nproc))))"
	assert_output EINVAL
	run write_errno "$MNT/q/cpumask" "$(nproc)-$(($(nproc) + 1))"
	assert_output EINVAL
	run cat "$MNT/q/cpumask"
	assert_output "$before"
}

@test "an unbound queue's works run on its cpumask" {
	[ "$(nproc)" -ge 2 ] || fail "this test needs 2 CPUs"
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 2 >"$MNT/q/cpumask"
	local i
	for i in 1 2 3 4 5; do
		taskset -c 0 sh -c "echo 'w$i: echo \$WQ_CPU > \"$T/cpu$i\"' > '$MNT/q/submit'"
	done
	flushq q
	for i in 1 2 3 4 5; do
		file_has "$T/cpu$i" 1 || fail "work $i ran on CPU $(cat "$T/cpu$i")"
		run w_get q "w$i" last_cpu
		assert_output 1
	done
}

@test "nice takes -20..19, applies it to the workers, else EINVAL" {
	mkdir "$MNT/q"
	# a worker exists only once a work ran
	echo true >"$MNT/q/submit"
	flushq q
	run write_errno "$MNT/q/nice" 5
	assert_output OK
	run cat "$MNT/q/nice"
	assert_output 5
	local f tid n=0
	for f in /proc/"$WQFS_PID"/task/*/comm; do
		[[ "$(cat "$f")" == q/* ]] || continue
		tid=${f%/comm}
		# field 19 of stat is nice (after the comm in parentheses)
		[ "$(sed 's/.*) //' "$tid/stat" | cut -d' ' -f17)" = 5 ] ||
			fail "worker ${tid##*/} has nice $(sed 's/.*) //' "$tid/stat" | cut -d' ' -f17)"
		n=$((n + 1))
	done
	((n > 0)) || fail "no worker thread named q/N"
	run write_errno "$MNT/q/nice" -20
	assert_output OK
	run write_errno "$MNT/q/nice" 19
	assert_output OK
	for bad in -21 20 abc 1.5 ""; do
		run write_errno "$MNT/q/nice" "$bad"$'\n'
		assert_output EINVAL
	done
	run cat "$MNT/q/nice"
	assert_output 19
}

@test "a work on a niced queue runs at that nice value" {
	mkdir "$MNT/q"
	echo 7 >"$MNT/q/nice"
	echo "n: nice > '$T/nice'" >"$MNT/q/submit"
	flushq q
	file_has "$T/nice" 7
}

@test "frozen: a frozen queue runs nothing until it is thawed" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/frozen" 1
	assert_output OK
	run cat "$MNT/q/frozen"
	assert_output 1
	echo "f: echo ran > '$T/f'" >"$MNT/q/submit"
	echo "g: 10ms echo ran > '$T/g'" >"$MNT/q/delay"
	sleep 1
	[ ! -e "$T/f" ]
	[ ! -e "$T/g" ]
	run w_get q f state
	assert_output pending
	run write_errno "$MNT/q/frozen" 0
	assert_output OK
	flushq q
	file_has "$T/f" ran
	wait_for 5 file_has "$T/g" ran
	for bad in 2 -1 on ""; do
		run write_errno "$MNT/q/frozen" "$bad"$'\n'
		assert_output EINVAL
	done
	run cat "$MNT/q/frozen"
	assert_output 0
}

@test "freezing lets a running work finish" {
	mkdir "$MNT/q"
	echo "r: sleep 1; echo done > '$T/r'" >"$MNT/q/submit"
	wait_for 10 w_state_is q r running
	echo 1 >"$MNT/q/frozen"
	wait_for 10 file_has "$T/r" done
	wait_for 5 w_state_is q r done
}
