#!/usr/bin/env bats
# works.bats - QUEUE/works/WORK/status and output, rmdir works/WORK.

load bats/common

WORK_KEYS="name state command runs last_exit last_pid last_cpu queued_at due_at started_at finished_at"

@test "works/WORK/status has its keys in order, one key: value a line" {
	mkdir "$MNT/q"
	echo "k: true" >"$MNT/q/submit"
	flushq q
	run sh -c "cut -d: -f1 '$MNT/q/works/k/status' | tr '\n' ' '"
	assert_output "$WORK_KEYS "
	run grep -cv '^[a-z_]*: ' "$MNT/q/works/k/status"
	assert_output 0
	run w_get q k name
	assert_output k
}

@test "a declared work that never ran" {
	mkdir "$MNT/q"
	echo "d: 100s echo hi" >"$MNT/q/delay"
	run w_get q d state
	assert_output delayed
	run w_get q d command
	assert_output "echo hi"
	run w_get q d runs
	assert_output 0
	for k in last_exit last_pid last_cpu started_at finished_at; do
		run w_get q d "$k"
		assert_equal "$output" -
	done
	local qa da
	qa=$(w_get q d queued_at)
	da=$(w_get q d due_at)
	[[ "$qa" =~ ^[0-9]+$ ]] || fail "queued_at '$qa'"
	[[ "$da" =~ ^[0-9]+$ ]] || fail "due_at '$da'"
	((da - qa >= 24999 && da - qa <= 25001)) || fail "due_at - queued_at = $((da - qa))"
	assert_equal "$(wc -c <"$MNT/q/works/d/output")" 0
	echo d >"$MNT/q/cancel"
}

@test "state: pending, running, idle" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	echo "s: sleep 1" >"$MNT/q/submit"
	run w_get q s state
	assert_output pending
	echo 0 >"$MNT/q/frozen"
	wait_for 10 w_state_is q s running
	wait_for 10 w_state_is q s idle
	run w_get q s runs
	assert_output 1
}

@test "runs, last_exit, last_pid, last_cpu and times after runs" {
	mkdir "$MNT/q"
	echo "e: echo \$\$ \$WQ_CPU > '$T/e'; exit 3" >"$MNT/q/submit"
	flushq q
	run w_get q e last_exit
	assert_output 3
	run w_get q e runs
	assert_output 1
	local pid cpu
	read -r pid cpu <"$T/e"
	run w_get q e last_pid
	assert_output "$pid"
	run w_get q e last_cpu
	assert_output "$cpu"
	local qa sa fa
	qa=$(w_get q e queued_at)
	sa=$(w_get q e started_at)
	fa=$(w_get q e finished_at)
	[[ "$qa" =~ ^[0-9]+$ && "$sa" =~ ^[0-9]+$ && "$fa" =~ ^[0-9]+$ ]] ||
		fail "queued_at '$qa' started_at '$sa' finished_at '$fa'"
	((qa <= sa && sa <= fa)) || fail "queued_at $qa started_at $sa finished_at $fa"
	echo "e: exit 0" >"$MNT/q/submit"
	flushq q
	run w_get q e last_exit
	assert_output 0
	run w_get q e runs
	assert_output 2
}

@test "a work killed by a signal does not report exit 0" {
	mkdir "$MNT/q"
	echo "k: kill -KILL \$\$" >"$MNT/q/submit"
	flushq q
	run w_get q k last_exit
	refute_output 0
	[ "$output" != - ] || fail "last_exit is -"
	refute_output ""
}

@test "output holds stdout and stderr of the latest run" {
	mkdir "$MNT/q"
	echo "o: echo out; echo err >&2" >"$MNT/q/submit"
	flushq q
	run cat "$MNT/q/works/o/output"
	assert_line out
	assert_line err
	echo "o: echo second" >"$MNT/q/submit"
	flushq q
	run cat "$MNT/q/works/o/output"
	assert_output second
}

@test "output of a work that printed nothing is empty" {
	mkdir "$MNT/q"
	echo "o: true" >"$MNT/q/submit"
	flushq q
	run cat "$MNT/q/works/o/output"
	assert_success
	assert_output ""
}

@test "output is bounded to max_output and keeps the last bytes" {
	mkdir "$MNT/q"
	echo "big: seq 1 200000" >"$MNT/q/submit"
	flushq q
	local size
	size=$(wc -c <"$MNT/q/works/big/output")
	((size <= 65536)) || fail "output is $size bytes"
	((size >= 32768)) || fail "output is only $size bytes"
	run tail -n 1 "$MNT/q/works/big/output"
	assert_output 200000
	# a suffix of what the work printed
	seq 1 200000 | tail -c "$size" | cmp - "$MNT/q/works/big/output"
}

@test "-o max_output bounds a 1 MiB output" {
	wqfs_remount -o max_output=1000
	mkdir "$MNT/q"
	echo "big: head -c 1048576 /dev/zero | tr '\\0' a; echo END" >"$MNT/q/submit"
	flushq q
	local size
	size=$(wc -c <"$MNT/q/works/big/output")
	((size <= 1000 && size >= 500)) || fail "output is $size bytes"
	run tail -c 5 "$MNT/q/works/big/output"
	assert_output "aEND"
	daemon_alive
}

@test "works/ lists named works and recent anonymous ones" {
	mkdir "$MNT/q"
	echo "named: true" >"$MNT/q/submit"
	echo "true" >"$MNT/q/submit"
	flushq q
	run ls "$MNT/q/works"
	assert_output $'named\nw1'
}

@test "only the last keep_anon finished anonymous works are kept" {
	wqfs_remount -o keep_anon=3
	mkdir "$MNT/q"
	# an ordered queue runs and finishes its works in queueing order (bash's
	# builtin printf writes line by line, possibly from different CPUs)
	echo 0 >"$MNT/q/per_cpu"
	printf 'true\n%.0s' 1 2 3 4 5 6 >"$MNT/q/submit"
	flushq q
	run ls "$MNT/q/works"
	assert_output $'w4\nw5\nw6'
}

@test "rmdir works/NAME forgets an idle work" {
	mkdir "$MNT/q"
	echo "f: true" >"$MNT/q/submit"
	flushq q
	rmdir "$MNT/q/works/f"
	[ ! -e "$MNT/q/works/f" ]
	run sh -c "ls '$MNT/q/works' | grep -cx f"
	assert_output 0
	# forgotten: NAME: is ENOENT again
	run write_errno "$MNT/q/submit" "f:"
	assert_output ENOENT
}

@test "rmdir works/NAME of a pending, delayed or running work is EBUSY" {
	mkdir "$MNT/q"
	echo "d: 100s true" >"$MNT/q/delay"
	run rmdir "$MNT/q/works/d"
	assert_failure
	assert_output --partial "busy"
	echo 1 >"$MNT/q/frozen"
	echo "p: true" >"$MNT/q/submit"
	run "$PY" -c 'import os,sys,errno
try: os.rmdir(sys.argv[1]); print("OK")
except OSError as e: print(errno.errorcode[e.errno])' "$MNT/q/works/p"
	assert_output EBUSY
	[ -d "$MNT/q/works/p" ]
	echo 0 >"$MNT/q/frozen"
	echo "r: sleep 100" >"$MNT/q/submit"
	wait_for 10 w_state_is q r running
	run "$PY" -c 'import os,sys,errno
try: os.rmdir(sys.argv[1]); print("OK")
except OSError as e: print(errno.errorcode[e.errno])' "$MNT/q/works/r"
	assert_output EBUSY
	echo d >"$MNT/q/cancel"
	echo r >"$MNT/q/cancel" || true
}

@test "status and output of a missing work are ENOENT" {
	mkdir "$MNT/q"
	run cat "$MNT/q/works/nosuch/status"
	assert_failure
	assert_output --partial "No such file"
}
