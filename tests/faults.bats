#!/usr/bin/env bats
# faults.bats - works that misbehave, and a daemon that is stopped, unmounted
# or killed while it has work: what the README promises happens.

load bats/common

# stop_daemon SIGNAL - send SIGNAL to the daemon and wait (bounded) for it
# to exit; sets DAEMON_STATUS.  Teardown then has nothing to unmount.
stop_daemon() {
	watchdog_stop
	kill "-$1" "$WQFS_PID"
	local i
	for ((i = 0; i < 400; i++)); do
		kill -0 "$WQFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$WQFS_PID" 2>/dev/null; then
		DAEMON_STATUS=RUNNING
		return 1
	fi
	DAEMON_STATUS=0
	wait "$WQFS_PID" 2>/dev/null || DAEMON_STATUS=$?
}

# forget_daemon - the test ended the daemon itself: leave teardown only the
# sanitizer check of the log
forget_daemon() {
	mountpoint -q "$MNT" && fusermount3 -uz "$MNT"
	if grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$WQFS_LOG"; then
		cat "$WQFS_LOG" >&2
		fail "sanitizer report in the daemon's log"
	fi
	WQFS_PID=
}

# A test that killed the daemon leaves a dead mount (ENOTCONN): remove it.
teardown() {
	local mnt=${MNT:-}
	wqfs_unmount
	local rc=$?
	if [[ -n "$mnt" ]] && grep -qF " $mnt fuse" /proc/mounts; then
		fusermount3 -uz "$mnt" 2>/dev/null || umount -l "$mnt"
		rm -rf "$(dirname "$mnt")"
	fi
	return "$rc"
}

@test "a work killed with SIGKILL from outside: last_exit 137, the queue goes on" {
	mkdir "$MNT/q"
	local s="30.$RANDOM$RANDOM" pid	# unique among concurrent test runs
	run write_errno "$MNT/q/submit" "k: exec sleep $s"
	assert_output OK
	wait_for 10 w_state_is q k running
	wait_for 10 pgrep -f -x "sleep $s"
	pid=$(pgrep -f -x "sleep $s")
	kill -KILL "$pid"
	wait_for 10 w_state_is q k failed
	assert_equal "$(w_get q k last_exit)" 137
	assert_equal "$(q_get q failed)" 1
	assert_equal "$(w_get q k last_pid)" "$pid"
	healthy q
}

@test "a work that leaves a child behind finishes when its shell exits" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "f: sleep 30 & echo done"
	assert_output OK
	local t0 t1
	t0=$(date +%s%N)
	flushq q
	t1=$(date +%s%N)
	(((t1 - t0) / 1000000 < 5000)) || fail "the flush took $(((t1 - t0) / 1000000)) ms"
	assert_equal "$(cat "$MNT/q/works/f/output")" done
	assert_equal "$(w_get q f last_exit)" 0
	local pg
	pg=$(w_get q f last_pid)
	pkill -KILL -g "$pg" 2>/dev/null || true
	healthy q
}

@test "a work that closes its stdout: last_exit 3" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "c: exec >&- 2>&-; sleep 0.2; exit 3"
	assert_output OK
	flushq q
	assert_equal "$(w_get q c last_exit)" 3
	assert_equal "$(w_get q c state)" failed
	healthy q
}

@test "a work printing 100 MiB: output kept to max_output, memory bounded" {
	mkdir "$MNT/q"
	local r0 r1
	r0=$(rss_kb)
	run write_errno "$MNT/q/submit" "big: head -c 104857600 /dev/zero; echo tail-end"
	assert_output OK
	timeout -s KILL 60 sh -c 'echo > "$1"' sh "$MNT/q/flush"
	assert_equal "$(w_get q big last_exit)" 0
	# its size is all it wrote; the last 65536 bytes are kept
	assert_equal "$(stat -c %s "$MNT/q/works/big/output")" 104857609
	assert_equal "$(tail -c 65536 "$MNT/q/works/big/output" | wc -c)" 65536
	# and before them, the line that says how many were not
	local cut=$((104857609 - 65536))
	run sh -c "dd if='$MNT/q/works/big/output' iflag=skip_bytes,count_bytes \
		skip=$((cut - 100)) count=100 2>/dev/null | tail -n 1"
	assert_output "wqfs: $cut bytes of output before this were not kept"
	assert_equal "$(tail -c 9 "$MNT/q/works/big/output")" tail-end
	r1=$(rss_kb)
	((r1 - r0 < 8192)) || fail "VmRSS grew from $r0 kB to $r1 kB"
	healthy q
}

@test "a work that never ends: cancel kills it promptly and returns" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "n: sleep 1000"
	assert_output OK
	wait_for 10 w_state_is q n running
	local t0 t1
	t0=$(date +%s%N)
	run write_errno "$MNT/q/cancel" "n"
	t1=$(date +%s%N)
	# only running: stopping it is a successful cancel
	assert_output OK
	(((t1 - t0) / 1000000 < 4000)) || fail "the cancel took $(((t1 - t0) / 1000000)) ms"
	assert_equal "$(w_get q n state)" cancelled
	assert_equal "$(q_get q running)" 0
	healthy q
}

@test "SIGTERM: queued works run, delayed ones are dropped and reported, the daemon exits 0" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 1 >"$MNT/q/max_active"
	run write_errno "$MNT/q/submit" "first: sleep 1"
	assert_output OK
	wait_for 10 w_state_is q first running
	run write_errno "$MNT/q/submit" "queued: touch $T/queued-ran"
	assert_output OK
	run write_errno "$MNT/q/delay" "late: 100s touch $T/late-ran"
	assert_output OK
	assert_equal "$(q_get q pending)" 1
	assert_equal "$(q_get q delayed)" 1
	stop_daemon TERM || fail "the daemon still runs 20 s after SIGTERM"
	forget_daemon
	assert_equal "$DAEMON_STATUS" 0
	[ -e "$T/queued-ran" ] || fail "the queued work did not run before exit"
	[ ! -e "$T/late-ran" ]
	run grep -F "wqfs: dropped q/late: " "$WQFS_LOG"
	assert_success
	assert_output --regexp "^wqfs: dropped q/late: .+: touch $T/late-ran\$"
	run grep -c "wqfs: dropped" "$WQFS_LOG"
	assert_output 1
}

@test "SIGTERM with drain_timeout=1: a running 'sleep 100' is killed and reported" {
	wqfs_remount -o drain_timeout=1
	mkdir "$MNT/q"
	local s="100.$RANDOM$RANDOM"
	run write_errno "$MNT/q/submit" "slow: sleep $s"
	assert_output OK
	wait_for 10 w_state_is q slow running
	wait_for 10 pgrep -f -x "sleep $s"
	local t0 t1
	t0=$(date +%s%N)
	stop_daemon TERM || fail "the daemon still runs 20 s after SIGTERM"
	forget_daemon
	t1=$(date +%s%N)
	(((t1 - t0) / 1000000 < 5000)) || fail "exit took $(((t1 - t0) / 1000000)) ms with drain_timeout=1"
	assert_equal "$DAEMON_STATUS" 0
	run grep -F "wqfs: dropped q/slow: " "$WQFS_LOG"
	assert_output --regexp "^wqfs: dropped q/slow: .+: sleep $s\$"
	run pgrep -f -x "sleep $s"
	assert_failure
}

@test "fusermount3 -u while a flush waits: EBUSY, the flush still completes; then unmount works" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "s: sleep 100"
	assert_output OK
	wait_for 10 w_state_is q s running
	bg sh -c 'echo > "$1"; echo "rc=$?"' sh "$MNT/q/flush"
	local f=$BG_PID
	sleep 0.5
	kill -0 "$f"
	# the flusher holds the mount busy: the kernel refuses the unmount
	run timeout 10 fusermount3 -u "$MNT"
	assert_failure
	assert_output --partial "Device or resource busy"
	mountpoint -q "$MNT"
	kill -0 "$f"
	daemon_alive
	# the flush is answered once the work ends
	run write_errno "$MNT/q/cancel" "s"
	assert_output OK
	wait_exit 10 "$f" || fail "the flush did not return after the work ended"
	assert_equal "$(cat "$T/bg.0.out")" "rc=0"
	healthy q
	timeout 10 fusermount3 -u "$MNT"
	wait_for 15 bash -c "! kill -0 $WQFS_PID 2>/dev/null"
	wait "$WQFS_PID"
	forget_daemon
}

@test "SIGTERM while a flush waits (drain_timeout=1): the waiter is answered promptly, the daemon exits" {
	wqfs_remount -o drain_timeout=1
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "s: sleep 100"
	assert_output OK
	wait_for 10 w_state_is q s running
	bg sh -c 'echo > "$1"; echo "rc=$?"' sh "$MNT/q/flush"
	local f=$BG_PID t0 t1
	sleep 0.5
	kill -0 "$f"
	t0=$(date +%s%N)
	stop_daemon TERM || fail "the daemon still runs 20 s after SIGTERM"
	forget_daemon
	wait_exit 5 "$f" || fail "the flush still waits after the daemon exited"
	t1=$(date +%s%N)
	(((t1 - t0) / 1000000 < 5000)) || fail "the flush was answered after $(((t1 - t0) / 1000000)) ms"
	# answered: 0 once the killed work ended, or EIO once the mount is gone
	run cat "$T/bg.0.out"
	assert_line --regexp '^rc=[0-9]+$'
	[[ "$output" == "rc=0" ]] || assert_output --partial "I/O error"
	run grep -F "wqfs: dropped q/s: " "$WQFS_LOG"
	assert_output --regexp '^wqfs: dropped q/s: .+: sleep 100$'
	echo "# flusher said: $(cat "$T/bg.0.out")" >&3
}

@test "kill -9 of the daemon: queued and delayed works are lost; a running one goes on until it writes output" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 1 >"$MNT/q/max_active"
	run write_errno "$MNT/q/submit" "run: sleep 1.5; touch $T/F; echo out; touch $T/G"
	assert_output OK
	wait_for 10 w_state_is q run running
	run write_errno "$MNT/q/submit" "queued: touch $T/Q"
	assert_output OK
	run write_errno "$MNT/q/delay" "late: 1s touch $T/D"
	assert_output OK
	watchdog_stop
	kill -KILL "$WQFS_PID"
	wait "$WQFS_PID" 2>/dev/null || true
	WQFS_PID=
	# the mount is dead: ENOTCONN until unmounted
	run stat "$MNT/status"
	assert_failure
	assert_output --partial "Transport endpoint is not connected"
	wait_for 10 test -e "$T/F"		# the running command went on
	sleep 0.5
	run pgrep -f "sleep 1.5; touch $T/F"
	assert_failure				# ... and died of SIGPIPE at 'echo out'
	[ ! -e "$T/G" ]
	sleep 1.5
	[ ! -e "$T/Q" ]				# nothing is persisted or replayed
	[ ! -e "$T/D" ]
	fusermount3 -u "$MNT"
}

@test "kill -9 of the daemon while a flush waits: the waiter gets ECONNABORTED, later callers ENOTCONN" {
	mkdir "$MNT/q"
	echo "sleep 3" >"$MNT/q/submit"
	bg_intr "$T/flush.res" write "$MNT/q/flush" $'\n'
	local fpid=$BG_PID
	sleep 0.5
	kill -0 "$fpid" # the close waits for the work
	watchdog_stop
	kill -KILL "$WQFS_PID"
	wait "$WQFS_PID" 2>/dev/null || true
	WQFS_PID=
	wait_exit 5 "$fpid"
	run cat "$T/flush.res"
	assert_output ECONNABORTED
	run stat "$MNT/status"
	assert_failure
	assert_output --partial "Transport endpoint is not connected"
}

@test "a running work's status shows its pid (last_pid) while it runs" {
	mkdir "$MNT/q"
	local s="30.$RANDOM$RANDOM"
	run write_errno "$MNT/q/submit" "r: exec sleep $s"
	assert_output OK
	wait_for 10 w_state_is q r running
	wait_for 10 pgrep -f -x "sleep $s"
	assert_equal "$(w_get q r last_pid)" "$(pgrep -f -x "sleep $s")"
	run write_errno "$MNT/q/cancel" r
	assert_output OK
}
