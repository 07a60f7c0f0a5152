#!/usr/bin/env bats
# mount.bats - the ways to start wqfs: mount(8) and fstab, --help,
# --version, and the man page.  These tests mount by themselves.

load bats/common

setup() {
	[[ -x "${WQFS_BIN:-}" ]] || fail "WQFS_BIN is not set to the wqfs daemon"
	[[ -c /dev/fuse ]] || fail "/dev/fuse is missing: wqfs cannot be mounted"
	M=$(mktemp -d "${TMPDIR:-/tmp}/wqfs-mount.XXXXXX")
	# A hung daemon holds its callers in the kernel: after 60 s kill it,
	# which fails the test instead of hanging the suite.
	setsid bash -c 'sleep 60; touch "$1.hung"; pkill -9 -f -- "wqfs.* $1"; fusermount3 -uz "$1"' \
		watchdog "$M" </dev/null >/dev/null 2>&1 3>&- &
	WATCHDOG=$!
}

teardown() {
	kill "$WATCHDOG" 2>/dev/null || true
	if [[ -e "$M.hung" ]]; then
		rm -f "$M.hung"
		echo "teardown: the daemon hung; the watchdog killed it" >&2
		return 1
	fi
	if grep -qF " $M fuse" /proc/mounts; then
		fusermount3 -u "$M" 2>/dev/null || fusermount3 -uz "$M"
	fi
	# the daemon detached: wait for it to go with its mount
	local i
	for ((i = 0; i < 100; i++)); do
		pgrep -f -- "wqfs.* $M" >/dev/null || break
		sleep 0.1
	done
	rmdir "$M"
}

@test "mount -t fuse 'PROGRAM#SOURCE' (the fstab form) mounts and passes -o options" {
	run mount -t fuse "$WQFS_BIN#wqfs" "$M" -o max_works=2
	assert_success
	run grep -F " $M fuse.wqfs " /proc/mounts
	assert_success
	assert_output --partial default_permissions
	mkdir "$M/q"
	echo 1 >"$M/q/frozen"
	echo true >"$M/q/submit"
	echo true >"$M/q/submit"
	run write_errno "$M/q/submit" true
	assert_output ENOSPC
}

@test "a detached daemon runs works, delayed works and the events queue" {
	"$WQFS_BIN" "$M"
	mkdir "$M/q"
	echo 'echo hello' >"$M/q/submit"
	echo 'later: 10ms echo later' >"$M/q/delay"
	echo 'echo shared' >"$M/events/submit"
	timeout 10 sh -c "echo > '$M/q/flush'; echo later > '$M/q/flush'; echo > '$M/events/flush'"
	run cat "$M/q/works/w1/output" "$M/q/works/later/output" "$M/events/works/w2/output"
	assert_output $'hello\nlater\nshared'
	run timeout 10 cat "$M/jiqwqdelay"
	assert_success
	assert_line --index 0 "    time  delta preempt   pid cpu command"
}

@test "the daemon detaches, and fusermount3 -u ends it" {
	"$WQFS_BIN" "$M"
	run grep -F " $M fuse.wqfs " /proc/mounts
	assert_success
	local pid
	pid=$(pgrep -f -- "^$WQFS_BIN $M\$")
	[[ "$pid" =~ ^[0-9]+$ ]] || fail "no single daemon: '$pid'"
	fusermount3 -u "$M"
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
}

@test "--help lists wqfs's options and libfuse's" {
	run "$WQFS_BIN" --help
	assert_success
	for o in hz= max_works= max_output= keep_anon= trace_buffer= drain_timeout= allow_other; do
		assert_output --partial "$o"
	done
}

@test "--version names wqfs and libfuse" {
	run "$WQFS_BIN" --version
	assert_success
	assert_line --regexp '^wqfs version [0-9]+\.[0-9]+\.[0-9]+$'
	assert_output --partial "FUSE"
}

@test "a missing mount point is an error with a message, not a crash" {
	run "$WQFS_BIN" -f "$M/nonexistent"
	assert_failure
	refute_output --partial "Sanitizer"
	[[ -n "$output" ]]
}

@test "the man page is built and describes every file of a queue" {
	local man="$WQFS_BUILD_ROOT/fs/wqfs.1"
	[[ -f "$man" ]] || fail "no $man: is scdoc installed?"
	run man -l -P cat "$man"
	assert_success
	for f in submit delay modify cancel flush status trace jiqwq jiqwqdelay \
		per_cpu max_active cpumask nice frozen works output \
		EALREADY ENOENT EINVAL E2BIG ENOSPC EDEADLK EINTR ESHUTDOWN EBUSY \
		ENOTEMPTY ERANGE EPERM; do
		assert_output --partial "$f"
	done
}
