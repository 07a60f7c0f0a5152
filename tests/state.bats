#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# Durable state: the daemon is killed (SIGKILL) and started again on the
# same state file, as a crash and a restart would; what was acknowledged
# must be there, once, in order.  The tests that do not name the file also
# run against PostgreSQL (pg-state in tests/meson.build).

load bats/common

STATE_OPTS='-o drain_timeout=1'
# rounds of the SIGKILL test: 50 in the test command; a soak sets more
ROUNDS=${WQFS_CRASH_ROUNDS:-50}
WQ_TEST_LIMIT=$((300 + ROUNDS * 6))

setup() {
	WQFS_OPTS="$STATE_OPTS -o state=$(state_target "$BATS_TEST_TMPDIR/state.db")"
	wqfs_mount
}

# One writer: named works NAME_1, NAME_2, ... one per write, each name
# logged once its write returned (acknowledged); ends at the first error.
_WRITER_PY='
import os, sys, time
path, name, log = sys.argv[1:4]
with open(log, "a", buffering=1) as out:
    for n in range(1, 31):
        try:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, ("%s_%d: echo %s_%d >> %s\n" % (name, n, name, n, sys.argv[4])).encode())
            os.close(fd)
        except OSError:
            break
        out.write("%s_%d\n" % (name, n))
        time.sleep(0.005)
'

# One writer of delay, modify and cancel: works NAME_1, NAME_2, ... each
# delayed 1h, modified to 2h and cancelled, one line per write, each step
# logged ("NAME_N OP") once its write returned; ends at the first error.
_DELAYER_PY='
import os, sys, time
qdir, name, log = sys.argv[1:4]
def put(f, line):
    fd = os.open(os.path.join(qdir, f), os.O_WRONLY)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
with open(log, "a", buffering=1) as out:
    try:
        for n in range(1, 11):
            w = "%s_%d" % (name, n)
            for f, line, op in (("delay", w + ": 1h true", "delay"),
                                ("modify", w + ": 2h", "modify"),
                                ("cancel", w, "cancel")):
                put(f, line)
                out.write("%s %s\n" % (w, op))
                time.sleep(0.003)
    except OSError:
        pass
'

# check_delayed LOG - every work's state is what its last acknowledged
# step left (or what the next, unacknowledged, step made of it)
check_delayed() {
	local w op st
	while read -r w op; do
		st=$(w_get m "$w" state 2>/dev/null) || st=gone
		case "$op:$st" in
		delay:delayed | modify:delayed | modify:cancelled | cancel:cancelled) ;;
		*) fail "$w: last acknowledged $op, state $st" ;;
		esac
	done < <(awk '{ last[$1] = $2 } END { for (w in last) print w, last[w] }' "$1")
}

@test "SIGKILL at random moments, 50 rounds, three submitters and a delay/modify/cancel writer: every acknowledged change is kept once, and works run in order" {
	mkdir "$MNT/q" "$MNT/m"
	echo 1 >"$MNT/q/frozen"
	echo 0 >"$MNT/q/per_cpu"
	echo 1 >"$MNT/q/max_active"
	local round w pids p
	for ((round = 1; round <= ROUNDS; round++)); do
		pids=()
		for w in a b c; do
			bg "$PY" -c "$_WRITER_PY" "$MNT/q/submit" "$w$round" "$T/acked" "$T/ran"
			pids+=("$BG_PID")
		done
		bg "$PY" -c "$_DELAYER_PY" "$MNT/m" "m$round" "$T/steps"
		pids+=("$BG_PID")
		sleep "0.$((RANDOM % 3 + 1))"
		crash
		for p in "${pids[@]}"; do
			wait_exit 10 "$p"
		done
		restart
	done
	(($(wc -l <"$T/steps") > 2 * ROUNDS)) || fail "few delay/modify/cancel steps acknowledged"
	check_delayed "$T/steps"
	# every acknowledged work is pending, in the order of its writer
	local acked listed
	acked=$(wc -l <"$T/acked")
	((acked > 3 * ROUNDS)) || fail "only $acked works were acknowledged in $ROUNDS rounds"
	while read -r w; do
		[[ -d "$MNT/q/works/$w" ]] || fail "acknowledged $w is gone"
	done <"$T/acked"
	listed=$(ls "$MNT/q/works" | wc -l)
	((listed <= acked + 3 * ROUNDS)) || fail "$listed works listed for $acked acknowledged"
	echo 0 >"$MNT/q/frozen"
	timeout -s KILL 100 sh -c 'echo > "$1"' sh "$MNT/q/flush"
	# each acknowledged work ran once; each writer's works ran in its order
	[[ -z "$(sort "$T/ran" | uniq -d)" ]] || fail "ran twice: $(sort "$T/ran" | uniq -d | head -3)"
	while read -r w; do
		grep -qx "$w" "$T/ran" || fail "acknowledged $w did not run"
	done <"$T/acked"
	for ((round = 1; round <= ROUNDS; round++)); do
		for w in a b c; do
			run sh -c "grep '^$w${round}_' '$T/ran' | cut -d_ -f2"
			[[ "$output" == "$(sort -n <<<"$output")" ]] || fail "$w$round ran out of order: $output"
		done
	done
}

@test "a delayed work fires at its original time after a crash; a running one is lost, not run again" {
	mkdir "$MNT/q"
	local t0
	t0=$(date +%s%N)
	echo "d: 3s date +%s%N > $T/fired" >"$MNT/q/delay"
	echo "r: echo started >> $T/r; sleep 30" >"$MNT/q/submit"
	wait_for 5 test -s "$T/r"
	crash
	sleep 1
	restart
	assert_equal "$(w_get q d state)" delayed
	assert_equal "$(w_get q r state)" lost
	wait_for 10 test -s "$T/fired"
	local late=$(( ($(cat "$T/fired") - t0) / 1000000 - 3000 ))
	((late >= 0 && late < 1000)) || fail "fired ${late} ms after its due time"
	sleep 1
	assert_equal "$(cat "$T/r")" started
	assert_equal "$(w_get q r state)" lost
	# submitting it again runs it
	echo "r:" >"$MNT/q/submit"
	wait_for 5 w_state_is q r running
	echo r >"$MNT/q/cancel"
}

@test "outputs, modes, attributes, states and times survive a crash; a clean unmount keeps pending and delayed works" {
	mkdir "$MNT/q"
	chmod 0750 "$MNT/q"
	echo 3 >"$MNT/q/max_active"
	echo 5 >"$MNT/q/nice"
	echo "o: echo kept output" >"$MNT/q/submit"
	echo "f: exit 4" >"$MNT/q/submit"
	echo "c: 1h true" >"$MNT/q/delay"
	echo c >"$MNT/q/cancel"
	flushq q
	local before w
	before=$(for w in o f c; do grep -Ev '^(last_(pid|cpu)|node):' "$MNT/q/works/$w/status"; done)
	crash
	restart
	assert_equal "$(stat -c %a "$MNT/q")" 750
	assert_equal "$(cat "$MNT/q/max_active")" 3
	assert_equal "$(cat "$MNT/q/nice")" 5
	assert_equal "$(cat "$MNT/q/works/o/output")" "kept output"
	# done, failed, cancelled and their times, as they were (not the pid,
	# CPU and node of a run of the daemon before)
	assert_equal "$(for w in o f c; do grep -Ev '^(last_(pid|cpu)|node):' "$MNT/q/works/$w/status"; done)" "$before"
	assert_equal "$(w_get q o state) $(w_get q f state) $(w_get q c state)" "done failed cancelled"
	echo 1 >"$MNT/q/frozen"
	echo "p: echo p >> $T/p" >"$MNT/q/submit"
	echo "d: 1h echo d" >"$MNT/q/delay"
	fusermount3 -u "$MNT"
	wait "$WQFS_PID"
	restart
	assert_equal "$(w_get q p state)" pending
	assert_equal "$(w_get q d state)" delayed
	[ ! -e "$T/p" ]
	echo 0 >"$MNT/q/frozen"
	flushq q
	assert_equal "$(cat "$T/p")" p
	echo d >"$MNT/q/cancel"
}

@test "the counters survive a crash; a work lost in it counts as completed and failed" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 1 >"$MNT/q/max_active"
	printf '%s\n' "ok1: true" "ok2: true" "bad: false" >"$MNT/q/submit"
	echo "c: 1h true" >"$MNT/q/delay"
	echo c >"$MNT/q/cancel"
	flushq q
	echo "r: echo started >> $T/r; sleep 30" >"$MNT/q/submit"
	wait_for 5 test -s "$T/r"
	assert_equal "$(q_get q completed) $(q_get q failed) $(q_get q cancelled)" "3 1 1"
	crash
	restart
	assert_equal "$(w_get q r state)" lost
	assert_equal "$(q_get q completed) $(q_get q failed) $(q_get q cancelled)" "4 2 1"
	# and they go on from there
	echo "ok1:" >"$MNT/q/submit"
	flushq q
	assert_equal "$(q_get q completed) $(q_get q failed)" "5 2"
}

@test "requeue_lost: 0 or 1, kept across a crash; with 1 a work running at the crash runs again" {
	mkdir "$MNT/q"
	assert_equal "$(cat "$MNT/q/requeue_lost")" 0
	run write_errno "$MNT/q/requeue_lost" 2
	assert_output EINVAL
	echo 1 >"$MNT/q/requeue_lost"
	echo "r: echo run >> $T/r; sleep 30" >"$MNT/q/submit"
	wait_for 5 test -s "$T/r"
	crash
	restart
	assert_equal "$(cat "$MNT/q/requeue_lost")" 1
	wait_for 10 sh -c "[ \$(wc -l < '$T/r') = 2 ]"
	assert_equal "$(w_get q r state)" running
	echo r >"$MNT/q/cancel"
}

@test "a second daemon on the same state file is refused, naming the file; the first goes on" {
	mkdir "$T/m2"
	run timeout 10 "$WQFS_BIN" -f "$T/m2" -o "state=$BATS_TEST_TMPDIR/state.db"
	assert_failure
	assert_output --partial "$BATS_TEST_TMPDIR/state.db is in use by another wqfs daemon"
	! mountpoint -q "$T/m2"
	mkdir "$MNT/q"
	healthy q
}

@test "a damaged or newer database is refused at start with a message naming the file" {
	mkdir "$T/m2"
	head -c 8192 /dev/urandom >"$T/bad.db"
	run timeout 10 "$WQFS_BIN" -f "$T/m2" -o "state=$T/bad.db"
	assert_failure
	assert_output --partial "$T/bad.db: not a wqfs state database"
	"$PY" -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 99"); c.commit()' "$T/new.db"
	run timeout 10 "$WQFS_BIN" -f "$T/m2" -o "state=$T/new.db"
	assert_failure
	assert_output --partial "$T/new.db: written by a newer wqfs (schema 99"
	! mountpoint -q "$T/m2"
}

@test "a full disk fails the write with ENOSPC and leaves nothing of it; what was acknowledged stays" {
	mkdir -p "$T/small"
	mount -t tmpfs -o size=192k tmpfs "$T/small" || fail "cannot mount a tmpfs"
	fusermount3 -u "$MNT"
	wait "$WQFS_PID" || true
	WQFS_OPTS="$STATE_OPTS -o state=$T/small/state.db"
	restart
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	local big n=0 r w
	big=$(head -c 3000 /dev/zero | tr '\0' x)
	for ((n = 1; n <= 200; n++)); do
		r=$(write_errno "$MNT/q/submit" "k$n: echo $big")
		[[ $r == OK ]] || break
		echo "k$n" >>"$T/acked"
	done
	assert_equal "$r" ENOSPC
	# nothing of the refused write stays
	[[ ! -e "$MNT/q/works/k$n" ]] || fail "the refused k$n is there"
	# the daemon stays up and answers
	run cat "$MNT/q/status"
	assert_success
	# after a crash, every acknowledged work is in the database (read on
	# a disk with room: the restart writes)
	crash
	mkdir "$T/big"
	cp "$T/small"/state.db* "$T/big/"
	umount "$T/small"
	WQFS_OPTS="$STATE_OPTS -o state=$T/big/state.db"
	restart
	while read -r w; do
		[[ -d "$MNT/q/works/$w" ]] || fail "acknowledged $w is gone"
	done <"$T/acked"
}

@test "after: DEPs, a blocked work and why a work failed survive a crash" {
	mkdir "$MNT/q"
	local w
	for w in a b x y; do
		echo "$w: 1h true" >"$MNT/q/delay"
		echo "$w" >"$MNT/q/cancel"
	done
	printf 'b: a\ny: x\n' >"$MNT/q/after"
	echo "x: exit 2" >"$MNT/q/submit"
	flushq q
	echo "y:" >"$MNT/q/submit"
	wait_for 5 w_state_is q y failed
	echo "a: 1h" >"$MNT/q/delay"
	echo "b: echo b > '$T/b'" >"$MNT/q/submit"
	assert_equal "$(w_get q b state)" blocked
	crash
	restart
	run cat "$MNT/q/after"
	assert_output $'b: a\ny: x'
	assert_equal "$(w_get q b state)" blocked
	assert_equal "$(w_get q y state)" failed
	assert_equal "$(w_get q y reason)" "dependency x failed"
	# the DEP runs now: the blocked work follows it
	echo "a: 0" >"$MNT/q/modify"
	wait_for 10 file_has "$T/b" b
	wait_for 5 w_state_is q b done
}
