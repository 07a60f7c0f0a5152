#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# The PostgreSQL store (state=postgresql://...), run by tests/pg-bats on a
# throwaway server: what is its own beside the suites that run unchanged
# on it (pg-* in tests/meson.build).

load bats/common

setup() {
	if [[ -z "${WQFS_PG_DIR:-}" ]]; then
		echo "pg.bats runs under tests/pg-bats, which starts PostgreSQL" >&2
		return 1
	fi
	DB=$(state_default)
	WQFS_OPTS="-o drain_timeout=1 -o state=$DB"
	wqfs_mount
}

# pg pause|resume - the throwaway server (which must not keep Bats's fd 3)
pg() {
	"$BATS_TEST_DIRNAME/../scripts/pg-throwaway" "$1" "$WQFS_PG_DIR" </dev/null 3>&-
}

@test "a second daemon on the same database is refused, naming the database; the first goes on" {
	mkdir "$T/m2"
	run timeout 10 "$WQFS_BIN" -f "$T/m2" -o "state=$DB"
	assert_failure
	assert_output --partial "PostgreSQL database wqfs_"
	assert_output --partial "is in use by another wqfs daemon"
	! mountpoint -q "$T/m2"
	mkdir "$MNT/q"
	healthy q
}

@test "the database stopped under the daemon: writes fail with EIO and leave nothing, then it reconnects; nothing acknowledged is lost" {
	mkdir "$MNT/q"
	echo "a: echo a" >"$MNT/q/submit"
	flushq q
	echo 1 >"$MNT/q/frozen"
	pg pause
	run write_errno "$MNT/q/submit" "b: echo b"
	assert_output EIO
	run write_errno "$MNT/q/delay" "b2: 1h echo b2"
	assert_output EIO
	# taken back: neither was declared, nothing is pending
	[[ ! -e "$MNT/q/works/b" && ! -e "$MNT/q/works/b2" ]] || fail "a refused work is there"
	assert_equal "$(q_get q pending) $(q_get q delayed)" "0 0"
	# once a commit failed, nothing is applied while the store cannot commit
	run mkdir "$MNT/q2"
	assert_failure
	[[ ! -e "$MNT/q2" ]] || fail "q2 was made"
	run write_errno "$MNT/q/max_active" 7
	assert_output EIO
	run chmod 0700 "$MNT/q"
	assert_failure
	assert_equal "$(cat "$MNT/q/max_active") $(stat -c %a "$MNT/q")" "1 755"
	pg resume
	mkdir "$MNT/q2"
	echo "c: echo c" >"$MNT/q/submit"
	crash
	restart
	assert_equal "$(cat "$MNT/q/works/a/output")" a
	assert_equal "$(w_get q c state)" pending
	[[ ! -e "$MNT/q/works/b" ]] || fail "b was refused but came back"
	echo 0 >"$MNT/q/frozen"
	flushq q
	assert_equal "$(cat "$MNT/q/works/c/output")" c
}

@test "the first change the stopped database refuses is put back: an attribute, a chmod, a mkdir, an rmdir, a modify, a cancel" {
	mkdir "$MNT/q"
	echo "d: 1h true" >"$MNT/q/delay"
	local due
	due=$(w_get q d due_at)
	pg pause
	run write_errno "$MNT/q/modify" "d: 2h"
	assert_output EIO
	assert_equal "$(w_get q d state) $(w_get q d due_at)" "delayed $due"
	pg resume
	echo "d: 1h" >"$MNT/q/modify"
	due=$(w_get q d due_at)
	pg pause
	run write_errno "$MNT/q/cancel" d
	assert_output EIO
	assert_equal "$(w_get q d state) $(w_get q d due_at)" "delayed $due"
	pg resume
	pg pause
	run write_errno "$MNT/q/max_active" 7
	assert_output EIO
	assert_equal "$(cat "$MNT/q/max_active")" 1
	pg resume
	echo 2 >"$MNT/q/max_active"
	pg pause
	run chmod 0700 "$MNT/q"
	assert_failure
	assert_equal "$(stat -c %a "$MNT/q")" 755
	pg resume
	chmod 0750 "$MNT/q"
	pg pause
	run mkdir "$MNT/q2"
	assert_failure
	[[ ! -e "$MNT/q2" ]] || fail "q2 was made"
	pg resume
	mkdir "$MNT/q2"
	echo "n: echo n" >"$MNT/q2/submit"
	flushq q2
	sleep 0.5	# the run's counters committed: the rmdir is the first refused
	pg pause
	run rmdir "$MNT/q2"
	assert_failure
	[[ -d "$MNT/q2" ]] || fail "q2 went, its removal not committed"
	assert_equal "$(w_get q2 n state)" done
	pg resume
	# and all that was acknowledged is there after a crash
	crash
	restart
	assert_equal "$(cat "$MNT/q/max_active") $(stat -c %a "$MNT/q")" "2 750"
	[[ -d "$MNT/q2" ]] || fail "q2 is gone"
	assert_equal "$(cat "$MNT/q2/works/n/output")" n
	rmdir "$MNT/q2"
	[[ ! -e "$MNT/q2" ]] || fail "q2 was not removed"
	# a restart derives the due time again: to the jiffy
	assert_equal "$(w_get q d state)" delayed
	local diff=$(($(time_ms "$(w_get q d due_at)") - $(time_ms "$due")))
	((diff >= -10 && diff <= 10)) || fail "due_at moved by $diff ms"
	echo d >"$MNT/q/cancel"
}

@test "a database of a newer wqfs is refused at start with a message" {
	fusermount3 -u "$MNT"
	wait "$WQFS_PID"
	WQFS_PID=
	psql -q "$DB" -c "UPDATE wqfs_schema SET version = version + 1"
	run timeout 10 "$WQFS_BIN" -f "$MNT" -o "state=$DB"
	assert_failure
	assert_output --partial "written by a newer wqfs"
	! mountpoint -q "$MNT"
}

# second NODE - a second daemon on the database, as node NODE, mounted on
# $T/m2 (unmounted by teardown); its log is $T/m2.log
second() {
	mkdir -p "$T/m2"
	"$WQFS_BIN" -f "$T/m2" -o "state=$DB" -o "node=$1" </dev/null >"$T/m2.log" 2>&1 3>&- &
	M2_PID=$!
	wait_for 10 mountpoint -q "$T/m2"
}

teardown() {
	if [[ -n "${M2_PID:-}" ]] && kill -0 "$M2_PID" 2>/dev/null; then
		fusermount3 -u "$T/m2" 2>/dev/null || true
		wait_exit 40 "$M2_PID" || kill -9 "$M2_PID" 2>/dev/null || true
	fi
	if grep -qF " $T/m2 fuse" /proc/mounts; then fusermount3 -uz "$T/m2"; fi
	M2_PID=
	local problems=0
	if grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ThreadSanitizer' \
		"$T/m2.log" 2>/dev/null; then
		echo "teardown: sanitizer report in the second daemon's log:" >&2
		cat "$T/m2.log" >&2
		problems=1
	fi
	wqfs_unmount || problems=1
	return "$problems"
}

# sql QUERY - the rows of QUERY on this test's database, unaligned
sql() {
	psql -qAt "$DB" -c "$1"
}

# node_is NODE STATE - NODE's row of nodes says STATE (alive, dead)
node_is() {
	nodes_rows | grep -q "^$1 [0-9.]* [0-9]* [0-9]* $2\$"
}

# reaped - no work is claimed by, or must run on, a dead node
reaped() {
	[[ "$(sql "SELECT count(*) FROM works WHERE running_on IN ('n2', 'gone-node')
		    OR home = 'n2'")" == 0 ]]
}

@test "nodes: a row per daemon on the database, sorted by name, alive with a fresh lease; a second daemon of the same node name is refused" {
	second n2
	# each renews its lease every 2 s; a new one is seen at the latest read
	wait_for 5 node_is n2 alive
	run nodes_rows
	assert_success
	local both
	both=$(printf '%s alive\n' "$(hostname)" n2 | LC_ALL=C sort | tr '\n' ' ')
	assert_equal "$(cut -d' ' -f1,5 <<<"$output" | tr '\n' ' ')" "$both"
	local lease
	for lease in $(cut -d' ' -f2 <<<"$output"); do
		[[ "${lease%.*}" -lt 3 ]] || fail "a lease $lease s old: $output"
	done
	assert_equal "$(nodes_rows "$T/m2" | cut -d' ' -f1,5 | tr '\n' ' ')" "$both"
	mkdir "$T/m3"
	run timeout 10 "$WQFS_BIN" -f "$T/m3" -o "state=$DB" -o node=n2
	assert_failure
	assert_output --partial "is in use by another wqfs daemon as node n2"
	! mountpoint -q "$T/m3"
	wait_for 5 node_is n2 alive
}

@test "a node killed: nodes shows it dead within 15 s; the reaper makes the runs it claimed lost (pending again with requeue_lost), and its per-CPU works anyone's" {
	mkdir "$MNT/q" "$MNT/rq"
	echo 1 >"$MNT/rq/requeue_lost"
	echo 1 >"$MNT/q/frozen"
	echo 1 >"$MNT/rq/frozen"
	printf 'a: true\nc: true\nd: true\n' >"$MNT/q/submit"
	echo "b: true" >"$MNT/rq/submit"
	second n2
	kill -9 "$M2_PID"
	wait "$M2_PID" 2>/dev/null || true
	fusermount3 -uz "$T/m2"
	local ord
	ord=$(sql "SELECT ord FROM works WHERE name = 'b'")
	# what the claims of the cluster's nodes would have written: a and b
	# run on n2, d on a node that has no row; c must run on n2 (per-CPU)
	sql "UPDATE works SET state = 3, running_on = 'n2' WHERE name IN ('a', 'b');
	     UPDATE works SET state = 3, running_on = 'gone-node' WHERE name = 'd';
	     UPDATE works SET home = 'n2' WHERE name = 'c'"
	wait_for 15 node_is n2 dead
	node_is "$(hostname)" alive
	wait_for 5 reaped
	assert_equal "$(sql "SELECT name, state, wnode FROM works ORDER BY name" | tr '\n' ' ')" \
		"a|4| b|1| c|1| d|4| "
	# b is last in the cluster's order now; the lost runs ended when reaped
	assert_equal "$(sql "SELECT ord <> $ord AND ord = (SELECT last_value FROM wqfs_ord)
	     FROM works WHERE name = 'b'")" t
	assert_equal "$(sql "SELECT count(*) FROM works WHERE name IN ('a', 'b', 'd')
	     AND finished_ms > (extract(epoch FROM now()) * 1000)::bigint - 15000")" 3
	# as the daemon restarted on the database sees them
	crash
	restart
	assert_equal "$(w_get q a state) $(w_get q d state) $(w_get rq b state) $(w_get q c state)" \
		"lost lost pending pending"
}

@test "a node that cannot renew its lease kills its running works at 9 s and says so; renewed, it runs works again" {
	mkdir "$MNT/q"
	echo "s: sleep 1000" >"$MNT/q/submit"
	wait_for 10 w_state_is q s running
	local t0
	t0=$(date +%s%3N)
	pg pause
	wait_for 20 w_state_is q s failed
	local ms=$(($(date +%s%3N) - t0))
	# its last renewal came up to 2 s before the pause
	((ms >= 6000 && ms <= 12000)) || fail "killed $ms ms after the database went"
	grep -q "wqfs: lost the database for 9 s: killed 1 running works" "$WQFS_LOG" ||
		fail "no report: $(cat "$WQFS_LOG")"
	pg resume
	wait_for 10 grep -q "this node's lease is renewed again" "$WQFS_LOG"
	wait_for 5 node_is "$(hostname)" alive
	echo "t: echo back" >"$MNT/q/submit"
	flushq q
	assert_equal "$(cat "$MNT/q/works/t/output")" back
}
