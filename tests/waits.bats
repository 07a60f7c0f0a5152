#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# waits.bats - flush and cancel apply at write(2) and wait at close(2):
# waiters hold no kernel lock, run in parallel, and are interruptible.

load bats/common

# now_ms - monotonic-enough wall time in milliseconds
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

@test "50 concurrent 'echo > flush' waiters return together, not one by one" {
	mkdir "$MNT/q"
	echo "s: sleep 2; echo done > '$T/done'" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	local t0 t1 i pids=()
	t0=$(now_ms)
	for i in $(seq 1 50); do
		timeout -s KILL 20 sh -c 'echo > "$1"; cat "$2" > "$3"' sh \
			"$MNT/q/flush" "$T/done" "$T/w.$i" 2>/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	t1=$(now_ms)
	((t1 - t0 < 4000)) || fail "50 waiters took $((t1 - t0)) ms for a 2 s work"
	for i in $(seq 1 50); do
		file_has "$T/w.$i" done
	done
}

@test "while flushes wait, submit and status of that queue answer at once" {
	mkdir "$MNT/q"
	echo "s: sleep 3" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	local i
	for i in $(seq 1 10); do
		bg sh -c 'echo > "$1"' sh "$MNT/q/flush"
	done
	sleep 0.3
	run timeout -s KILL 2 sh -c 'echo "echo x" > "$1"' sh "$MNT/q/submit"
	assert_success
	run timeout -s KILL 2 cat "$MNT/q/status"
	assert_success
	assert_line "running: 1"
	run timeout -s KILL 2 sh -c 'echo > "$1"' sh "$MNT/q/flush"
	assert_failure 137	# a new flush waits too (killed by timeout)
}

@test "a work flushing its own queue while an outside flush waits gets EDEADLK" {
	mkdir "$MNT/q"
	echo "s: sleep 1; $WE -e \"\$WQ_ROOT/\$WQ_QUEUE/flush\" '\\n' > '$T/res'" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	local t0 t1
	t0=$(now_ms)
	run timeout -s KILL 20 sh -c 'echo > "$1"' sh "$MNT/q/flush"
	t1=$(now_ms)
	assert_success
	((t1 - t0 < 10000)) || fail "outside flush took $((t1 - t0)) ms"
	file_has "$T/res" EDEADLK
}

@test "Ctrl-C on a waiting 'echo > flush' returns at once; the queue still works" {
	mkdir "$MNT/q"
	echo "s: sleep 30" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	local t0 t1 st=0
	t0=$(now_ms)
	timeout --preserve-status -s INT 1 bash -c 'echo > "$1"' sh "$MNT/q/flush" \
		2>"$T/err" || st=$?
	t1=$(now_ms)
	((t1 - t0 < 3000)) || fail "interrupted flush returned after $((t1 - t0)) ms"
	if ! grep -q "Interrupted system call" "$T/err"; then
		((st > 128)) || fail "status $st, stderr: $(cat "$T/err")"
	fi
	assert_equal "$(w_get q s state)" running
	echo s >"$MNT/q/cancel" || true
	echo "echo after > '$T/after'" >"$MNT/q/submit"
	flushq q
	file_has "$T/after" after
}

@test "os.write to flush returns at once, os.close waits for the work" {
	mkdir "$MNT/q"
	echo "s: sleep 2" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	run timeout -s KILL 30 "$PY" -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
t0 = time.monotonic()
os.write(fd, b"\n")
t1 = time.monotonic()
os.close(fd)
t2 = time.monotonic()
print("write %.0f close %.0f" % ((t1 - t0) * 1000, (t2 - t1) * 1000))
assert t1 - t0 < 0.5, "write waited"
assert t2 - t1 >= 1.0, "close did not wait"
' "$MNT/q/flush"
	assert_success
	assert_equal "$(w_get q s state)" done
}

@test "cancel of a running work: write succeeds at once, close waits until it stopped" {
	mkdir "$MNT/q"
	echo "c: trap '' TERM; sleep 30" >"$MNT/q/submit"
	wait_for 10 w_state_is q c running
	run timeout -s KILL 30 "$PY" -c '
import errno, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.write(fd, b"c\n")
    print("write OK")
except OSError as e:
    print("write", errno.errorcode[e.errno])
t0 = time.monotonic()
os.close(fd)
print("close waited", time.monotonic() - t0 >= 1.5)
' "$MNT/q/cancel"
	assert_success
	assert_line "write OK"
	assert_line "close waited True"
	assert_equal "$(w_get q c state)" cancelled
	assert_equal "$(w_get q c last_exit)" 137
}

@test "a line of 64 KiB + 1 via printf is E2BIG; a line just under 64 KiB is taken" {
	mkdir "$MNT/q"
	local big ok
	big=$(head -c 65537 /dev/zero | tr '\0' x)
	run bash -c 'printf ": %s\n" "${1:2}" > "$2"' sh "$big" "$MNT/q/submit"
	assert_failure
	assert_output --partial "Argument list too long"
	ok=$(head -c 65000 /dev/zero | tr '\0' x)
	run bash -c 'printf "big: : %s\n" "$1" > "$2"' sh "$ok" "$MNT/q/submit"
	assert_success
	big=$(head -c 1048576 /dev/zero | tr '\0' x)
	run bash -c 'printf ": %s\n" "$1" > "$2"' sh "$big" "$MNT/q/submit"
	assert_failure
	assert_output --partial "Argument list too long"
	flushq q
	run ls "$MNT/q/works"
	assert_output big
	daemon_alive
}
