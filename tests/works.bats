#!/usr/bin/env bats
# works.bats - QUEUE/works/WORK/status and output, rmdir works/WORK.

load bats/common

WORK_KEYS="name state command runs last_exit last_pid last_cpu node queued_at due_at started_at finished_at reason"

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
	# where it ran: no line until it runs
	run grep -c '^node:' "$MNT/q/works/d/status"
	assert_output 0
	# times: the wall clock, ISO 8601 UTC with milliseconds
	local qa da now
	now=$(date +%s%3N)
	qa=$(time_ms "$(w_get q d queued_at)")
	da=$(time_ms "$(w_get q d due_at)")
	((qa <= now && now - qa < 10000)) || fail "queued_at $qa, now $now"
	((da - qa == 100000)) || fail "due_at - queued_at = $((da - qa)) ms"
	assert_equal "$(wc -c <"$MNT/q/works/d/output")" 0
	echo d >"$MNT/q/cancel"
}

@test "state: pending, running, done" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	echo "s: sleep 1" >"$MNT/q/submit"
	run w_get q s state
	assert_output pending
	echo 0 >"$MNT/q/frozen"
	wait_for 10 w_state_is q s running
	wait_for 10 w_state_is q s done
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
	qa=$(time_ms "$(w_get q e queued_at)")
	sa=$(time_ms "$(w_get q e started_at)")
	fa=$(time_ms "$(w_get q e finished_at)")
	((qa <= sa && sa <= fa)) || fail "queued_at $qa started_at $sa finished_at $fa"
	run w_get q e state
	assert_output failed
	echo "e: exit 0" >"$MNT/q/submit"
	flushq q
	run w_get q e last_exit
	assert_output 0
	run w_get q e runs
	assert_output 2
}

@test "WQ_NODE and node: name the daemon's node: the host name, or -o node=" {
	mkdir "$MNT/q"
	echo 'n: echo "$WQ_NODE"' >"$MNT/q/submit"
	flushq q
	assert_equal "$(cat "$MNT/q/works/n/output")" "$(hostname)"
	assert_equal "$(w_get q n node)" "$(hostname)"
	wqfs_remount "$WQFS_OPTS -o node=node-1.example"
	mkdir "$MNT/q"
	echo 'n: echo "$WQ_NODE"' >"$MNT/q/submit"
	flushq q
	assert_equal "$(cat "$MNT/q/works/n/output")" node-1.example
	assert_equal "$(w_get q n node)" node-1.example
	run grep -c '"name": "n", .*"node": "node-1.example"' "$MNT/q/status.json"
	assert_output 1
	# a submitter's own WQ_NODE is not passed on
	WQ_NODE=elsewhere sh -c "echo 'm: echo \$WQ_NODE' >'$MNT/q/submit'"
	flushq q
	assert_equal "$(cat "$MNT/q/works/m/output")" node-1.example
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

@test "output has the run's real size and keeps its last max_output bytes" {
	mkdir "$MNT/q"
	echo "big: seq 1 200000" >"$MNT/q/submit"
	flushq q
	# the size counts every byte the run wrote, as stat and wc see it
	run stat -c %s "$MNT/q/works/big/output"
	assert_output "$(seq 1 200000 | wc -c)"
	run tail -n 3 "$MNT/q/works/big/output"
	assert_output $'199998\n199999\n200000'
	# the kept bytes (64 KiB) are at their offsets in the whole output
	cmp <(seq 1 200000 | tail -c 65536) <(tail -c 65536 "$MNT/q/works/big/output")
	# the bytes not kept read as NULs, then one line saying how many
	local cut=$(($(seq 1 200000 | wc -c) - 65536))
	run sh -c "head -c $cut '$MNT/q/works/big/output' | tr -d '\\0'"
	assert_output "wqfs: $cut bytes of output before this were not kept"
}

@test "-o max_output bounds a 1 MiB output" {
	wqfs_remount -o max_output=1000
	mkdir "$MNT/q"
	echo "big: head -c 1048576 /dev/zero | tr '\\0' a; echo END" >"$MNT/q/submit"
	flushq q
	run stat -c %s "$MNT/q/works/big/output"
	assert_output 1048580
	run tail -c 5 "$MNT/q/works/big/output"
	assert_output "aEND"
	run sh -c "tail -c 1000 '$MNT/q/works/big/output' | tr -d a"
	assert_output "END"
	daemon_alive
}

@test "tail -f output follows a running work, tail -n reads its end" {
	mkdir "$MNT/q"
	echo "t: echo one; while [ ! -e '$T/go' ]; do sleep 0.05; done; echo two; echo three" \
		>"$MNT/q/submit"
	wait_for 10 file_has_line "$MNT/q/works/t/output" one
	bg tail -f "$MNT/q/works/t/output"
	wait_for 10 file_has_line "$T/bg.0.out" one
	touch "$T/go"
	wait_for 10 file_has_line "$T/bg.0.out" three
	run cat "$T/bg.0.out"
	assert_output $'one\ntwo\nthree'
	run tail -n 2 "$MNT/q/works/t/output"
	assert_output $'two\nthree'
}

@test "follow streams the running run's output and ends with it" {
	mkdir "$MNT/q"
	echo "f: echo one; while [ ! -e '$T/go' ]; do sleep 0.05; done; echo two" \
		>"$MNT/q/submit"
	wait_for 10 w_state_is q f running
	bg cat "$MNT/q/works/f/follow"
	local cat=$BG_PID
	wait_for 10 file_has_line "$T/bg.0.out" one
	kill -0 "$cat" || fail "cat ended while the work runs"
	touch "$T/go"
	wait_exit 10 "$cat"
	assert_equal "$WAIT_STATUS" 0
	run cat "$T/bg.0.out"
	assert_output $'one\ntwo'
}

@test "follow of a queued work streams its coming run; of a finished one, the last run" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	echo "p: echo first" >"$MNT/q/submit"
	bg cat "$MNT/q/works/p/follow"
	local cat=$BG_PID
	echo 0 >"$MNT/q/frozen"
	wait_exit 10 "$cat"
	assert_equal "$WAIT_STATUS" 0
	run cat "$T/bg.0.out"
	assert_output first
	run timeout 10 cat "$MNT/q/works/p/follow"
	assert_output first
}

@test "follow says how many bytes it missed when it fell behind max_output" {
	wqfs_remount -o max_output=1000
	mkdir "$MNT/q"
	echo "b: seq 1 1000; while [ ! -e '$T/go' ]; do sleep 0.05; done; echo end" \
		>"$MNT/q/submit"
	wait_for 10 file_has_line "$MNT/q/works/b/output" 1000
	bg cat "$MNT/q/works/b/follow"
	local cat=$BG_PID
	touch "$T/go"
	wait_exit 10 "$cat"
	local cut=$(($(seq 1 1000 | wc -c) - 1000))
	run head -n 1 "$T/bg.0.out"
	assert_output "wqfs: $cut bytes of output before this were not kept"
	run tail -n 2 "$T/bg.0.out"
	assert_output $'1000\nend'
}

@test "cancel of a queued work ends its follower with no output" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	echo "c: echo never" >"$MNT/q/submit"
	bg cat "$MNT/q/works/c/follow"
	local cat=$BG_PID
	echo c >"$MNT/q/cancel"
	wait_exit 10 "$cat"
	assert_equal "$WAIT_STATUS" 0
	run cat "$T/bg.0.out"
	assert_output ""
}

@test "a follow read interrupted by a signal returns EINTR at once" {
	mkdir "$MNT/q"
	echo "s: sleep 100" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	bg_intr "$T/read.res" read "$MNT/q/works/s/follow"
	local reader=$BG_PID
	# the reader parks at the end of the (empty) output, in read(2): its
	# open(2) is done (a Ctrl-C during the open would be lost: the open
	# succeeds); then Ctrl-C
	wait_for 10 sh -c "ls -l /proc/$reader/fd | grep -q 'works/s/follow\$'"
	wait_for 10 waits_on_fuse "$reader"
	kill -INT "$reader"
	wait_for 5 file_has "$T/read.res" EINTR
	echo s >"$MNT/q/cancel"
}

@test "parked followers hold no request thread" {
	mkdir "$MNT/q"
	echo "s: while [ ! -e '$T/go' ]; do sleep 0.05; done; echo done" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	local i pids=()
	for ((i = 0; i < 40; i++)); do
		bg cat "$MNT/q/works/s/follow"
		pids+=("$BG_PID")
	done
	# the mount still answers while 40 readers wait
	mkdir "$MNT/r"
	echo "x: echo alive" >"$MNT/r/submit"
	flushq r
	run cat "$MNT/r/works/x/output"
	assert_output alive
	touch "$T/go"
	for i in "${pids[@]}"; do
		wait_exit 10 "$i"
	done
	for ((i = 0; i < 40; i++)); do
		assert_equal "$(cat "$T/bg.$i.out")" done
	done
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
