#!/usr/bin/env bats
# after.bats - QUEUE/after: a work waits, blocked, for the latest runs of
# the works it depends on; a failed, cancelled or lost one fails it.

load bats/common

# declare QUEUE NAME COMMAND - a named work that exists and has not run
# (declared by a delay, then cancelled)
declare_work() {
	echo "$2: 1h $3" >"$MNT/$1/delay"
	echo "$2" >"$MNT/$1/cancel"
}

@test "NAME waits, blocked, until its DEP's run ends, then runs" {
	mkdir "$MNT/q"
	# two works at once, so only the dependency orders them
	echo 0 >"$MNT/q/per_cpu"
	echo 2 >"$MNT/q/max_active"
	declare_work q a true
	declare_work q b "echo b >> '$T/order'"
	run write_errno "$MNT/q/after" "b: a"
	assert_output OK
	echo "a: while [ ! -e '$T/go' ]; do sleep 0.05; done; echo a >> '$T/order'" >"$MNT/q/submit"
	echo "b:" >"$MNT/q/submit"
	run w_get q b state
	assert_output blocked
	wait_for 10 w_state_is q a running
	run w_get q b state
	assert_output blocked
	[ ! -e "$T/order" ]
	touch "$T/go"
	wait_for 10 w_state_is q b done
	run cat "$T/order"
	assert_output $'a\nb'
	run w_get q b reason
	assert_equal "$output" -
}

@test "a DEP that already finished well lets NAME run at once" {
	mkdir "$MNT/q"
	echo "a: true" >"$MNT/q/submit"
	flushq q
	declare_work q b "echo ran > '$T/b'"
	echo "b: a" >"$MNT/q/after"
	echo "b:" >"$MNT/q/submit"
	wait_for 10 file_has "$T/b" ran
	wait_for 10 w_state_is q b done
}

@test "a failed DEP fails NAME without running it: last_exit - and the reason" {
	mkdir "$MNT/q"
	declare_work q a "exit 3"
	declare_work q b "echo ran > '$T/b'"
	echo "b: a" >"$MNT/q/after"
	echo "a:" >"$MNT/q/submit"
	echo "b:" >"$MNT/q/submit"
	wait_for 10 w_state_is q b failed
	run w_get q b last_exit
	assert_equal "$output" -
	run w_get q b reason
	assert_output "dependency a failed"
	run w_get q b runs
	assert_output 0
	[ ! -e "$T/b" ]
	run cat "$MNT/q/list"
	assert_line --regexp '^b +failed +- +0 '
}

@test "a cancelled DEP fails NAME; a chain fails through" {
	mkdir "$MNT/q"
	declare_work q a "sleep 100"
	declare_work q b "true"
	declare_work q c "true"
	printf 'b: a\nc: b\n' >"$MNT/q/after"
	echo "a:" >"$MNT/q/submit"
	echo "b:" >"$MNT/q/submit"
	echo "c:" >"$MNT/q/submit"
	wait_for 10 w_state_is q a running
	echo a >"$MNT/q/cancel"
	wait_for 10 w_state_is q c failed
	run w_get q b reason
	assert_output "dependency a cancelled"
	run w_get q c reason
	assert_output "dependency b failed"
}

@test "a DEP of another queue is QUEUE/WORK" {
	mkdir "$MNT/q" "$MNT/p"
	declare_work p a "while [ ! -e '$T/go' ]; do sleep 0.05; done"
	declare_work q b "echo ran > '$T/b'"
	run write_errno "$MNT/q/after" "b: p/a"
	assert_output OK
	echo "a:" >"$MNT/p/submit"
	echo "b:" >"$MNT/q/submit"
	wait_for 10 w_state_is p a running
	run w_get q b state
	assert_output blocked
	touch "$T/go"
	wait_for 10 file_has "$T/b" ran
}

@test "reading after lists what is declared; NAME: clears" {
	mkdir "$MNT/q" "$MNT/p"
	for w in a b c; do declare_work q "$w" true; done
	declare_work p x true
	run cat "$MNT/q/after"
	assert_output ""
	printf 'c: a b\nb: a p/x\n' >"$MNT/q/after"
	run cat "$MNT/q/after"
	assert_output $'b: a p/x\nc: a b'
	echo "c: b" >"$MNT/q/after"
	run cat "$MNT/q/after"
	assert_output $'b: a p/x\nc: b'
	echo "b:" >"$MNT/q/after"
	run cat "$MNT/q/after"
	assert_output "c: b"
	assert_equal "$(stat -c %a "$MNT/q/after")" 644
}

@test "errors: a cycle is EDEADLK, an unknown DEP (or NAME to clear) ENOENT, a bad line EINVAL, too many DEPs E2BIG" {
	mkdir "$MNT/q"
	for w in a b c; do declare_work q "$w" true; done
	echo "b: a" >"$MNT/q/after"
	echo "c: b" >"$MNT/q/after"
	run write_errno "$MNT/q/after" "a: c" "a: a" "a: b"
	assert_output "EDEADLK EDEADLK EDEADLK"
	run write_errno "$MNT/q/after" "nosuch:" "a: nosuch" "a: nosuch/a" "a: q/nosuch"
	assert_output "ENOENT ENOENT ENOENT ENOENT"
	run write_errno "$MNT/q/after" "a b" "a: .x" "a: q/" "a: /b" ": a"
	assert_output "EINVAL EINVAL EINVAL EINVAL EINVAL"
	run write_errno "$MNT/q/after" "a: $(printf 'c %.0s' $(seq 33))"
	assert_output E2BIG
	# nothing of the failed lines was kept
	run cat "$MNT/q/after"
	assert_output $'b: a\nc: b'
}

@test "a NAME not declared yet is declared by its DEPs: state new, then blocked when queued, as wq -a does" {
	mkdir "$MNT/q"
	echo "a: sleep 1; echo a >> $T/order" >"$MNT/q/submit"
	echo "later: a" >"$MNT/q/after"
	assert_equal "$(w_get q later state)" new
	assert_equal "$(cat "$MNT/q/after")" "later: a"
	echo "later: echo later >> $T/order" >"$MNT/q/submit"
	assert_equal "$(w_get q later state)" blocked
	flushq q
	wait_for 10 w_state_is q later done
	assert_equal "$(cat "$T/order")" $'a\nlater'
}

@test "a line that fails leaves the write short: the lines before it are applied" {
	mkdir "$MNT/q"
	for w in a b; do declare_work q "$w" true; done
	run write_errno "$MNT/q/after" $'b: a\na: b\n'
	assert_output "SHORT 5"
	run cat "$MNT/q/after"
	assert_output "b: a"
}

@test "a blocked work: queueing it again is EALREADY, cancel takes it, rmdir is EBUSY" {
	mkdir "$MNT/q"
	declare_work q a "sleep 100"
	declare_work q b "echo ran > '$T/b'"
	echo "b: a" >"$MNT/q/after"
	echo "a:" >"$MNT/q/submit"
	echo "b:" >"$MNT/q/submit"
	run write_errno "$MNT/q/submit" "b:"
	assert_output EALREADY
	run w_get q b state
	assert_output blocked
	run "$PY" -c 'import os,sys,errno
try: os.rmdir(sys.argv[1]); print("OK")
except OSError as e: print(errno.errorcode[e.errno])' "$MNT/q/works/b" "$MNT/q"
	assert_output EBUSY
	run write_errno "$MNT/q/cancel" b
	assert_output OK
	run w_get q b state
	assert_output cancelled
	echo a >"$MNT/q/cancel"
	flushq q
	[ ! -e "$T/b" ]
	rmdir "$MNT/q/works/b"
}

@test "rmdir of a queue with a blocked work is EBUSY; cancel * empties it" {
	mkdir "$MNT/q"
	declare_work q a true
	declare_work q b true
	echo "b: a" >"$MNT/q/after"
	echo "a: 1h" >"$MNT/q/delay"
	echo "b:" >"$MNT/q/submit"
	run w_get q b state
	assert_output blocked
	run "$PY" -c 'import os,sys,errno
try: os.rmdir(sys.argv[1]); print("OK")
except OSError as e: print(errno.errorcode[e.errno])' "$MNT/q"
	assert_output EBUSY
	echo '*' >"$MNT/q/cancel"
	rmdir "$MNT/q"
}

@test "follow of a blocked work streams its run once its DEP lets it go" {
	mkdir "$MNT/q"
	declare_work q a "while [ ! -e '$T/go' ]; do sleep 0.05; done"
	declare_work q b "echo from-b"
	echo "b: a" >"$MNT/q/after"
	echo "a:" >"$MNT/q/submit"
	echo "b:" >"$MNT/q/submit"
	bg cat "$MNT/q/works/b/follow"
	local cat=$BG_PID
	touch "$T/go"
	wait_exit 10 "$cat"
	assert_equal "$WAIT_STATUS" 0
	run cat "$T/bg.0.out"
	assert_output from-b
}
