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

@test "the first change the stopped database refuses is put back: an attribute, a chmod, a mkdir, a modify, a cancel" {
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
	# and all that was acknowledged is there after a crash
	crash
	restart
	assert_equal "$(cat "$MNT/q/max_active") $(stat -c %a "$MNT/q")" "2 750"
	[[ -d "$MNT/q2" ]] || fail "q2 is gone"
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
