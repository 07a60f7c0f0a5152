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

# escape_path PATH - PATH as `systemd-escape --path` writes it: no leading
# or trailing '/', '/' as '-', and bytes other than [A-Za-z0-9_] (and '.'
# after the first) as \xNN.
escape_path() {
	local p=${1#/} out= c i
	p=${p%/}
	for ((i = 0; i < ${#p}; i++)); do
		c=${p:i:1}
		case "$c" in
		/) out+=- ;;
		[A-Za-z0-9_]) out+=$c ;;
		.) if ((i > 0)); then out+=.; else out+='\x2e'; fi ;;
		*) out+=$(printf '\\x%02x' "'$c") ;;
		esac
	done
	printf '%s\n' "$out"
}

# The default state file of mount point $M (root's).
default_state() { echo "/var/lib/wqfs/$(escape_path "$M").db"; }

teardown() {
	kill "$WATCHDOG" 2>/dev/null || true
	rm -f "$(default_state)"{,-wal,-shm,.lock,.log} "$M.sock" "$M.syslog"
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

@test "the daemon detaches, and fusermount3 -u ends it; its state is at the default path" {
	"$WQFS_BIN" "$M"
	run grep -F " $M fuse.wqfs " /proc/mounts
	assert_success
	mkdir "$M/kept"
	[[ -s "$(default_state)" ]] || fail "no state file at $(default_state)"
	local pid
	pid=$(pgrep -f -- "^$WQFS_BIN $M\$")
	[[ "$pid" =~ ^[0-9]+$ ]] || fail "no single daemon: '$pid'"
	fusermount3 -u "$M"
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
	# a clean unmount leaves every change in the tables
	run "$PY" -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT name FROM queues WHERE name = ?", ("kept",)).fetchone()[0])' "$(default_state)"
	assert_output kept
}

# unit_lines KEY - the command lines of KEY= in the built wqfs@.service, as
# systemd runs them for mount point $M (the instance: %I is $M without its
# leading '/'), with the daemon of this build in place of the installed one
unit_lines() {
	local unit="$WQFS_BUILD_ROOT/fs/wqfs@.service"
	[[ -r "$unit" ]] || fail "no $unit"
	sed -n "s/^$1=//p" "$unit" |
		sed -e "s|/%I|$M|g" -e "s|^\(-\{0,1\}\)[^ ]*/wqfs |\1$WQFS_BIN |"
}

# unit_exec KEY - become KEY='s one line (ExecStart: the daemon's pid is $!)
unit_exec() {
	local line
	line=$(unit_lines "$1")
	eval "exec $line"
}

# unit_run KEY - run KEY='s lines in order; a '-' first ignores a failure
unit_run() {
	local line
	while IFS= read -r line; do
		if [[ "$line" == -* ]]; then
			eval "${line#-}" || true
		else
			eval "$line" || return 1
		fi
	done < <(unit_lines "$1")
}

@test "wqfs@.service: after a crash, its ExecStartPre clears the dead mount and ExecStart brings the state back" {
	unit_run ExecStartPre
	unit_exec ExecStart </dev/null >"$M.log" 2>&1 &
	local pid=$!
	wait_for 10 mountpoint -q "$M"
	mkdir "$M/q"
	echo 1 >"$M/q/frozen"
	echo "p: echo kept" >"$M/q/submit"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
	run ls "$M"
	assert_failure		# ENOTCONN: the mount is dead
	assert_output --partial "not connected"
	# Restart=on-failure: the same lines again
	unit_run ExecStartPre || fail "ExecStartPre failed on the dead mount"
	unit_exec ExecStart </dev/null >>"$M.log" 2>&1 &
	pid=$!
	wait_for 10 mountpoint -q "$M"
	assert_equal "$(sed -n 's/^state: //p' "$M/q/works/p/status")" pending
	unit_run ExecStop
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null"
	rm -f "$M.log"
}

@test "--help lists wqfs's options and libfuse's" {
	run "$WQFS_BIN" --help
	assert_success
	for o in hz= max_works= max_output= keep_anon= trace_buffer= drain_timeout= allow_other; do
		assert_output --partial "$o"
	done
	# each of -h and -V once (libfuse's own list repeated them)
	assert_equal "$(grep -cE '^ *-h ' <<<"$output") $(grep -cE '^ *-V ' <<<"$output")" "1 1"
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

@test "-o node= must be a name: empty, with a blank or a /, or too long, it is refused before mounting" {
	local n
	for n in "" "a b" "a/b" "$(printf 'n%.0s' {1..65})"; do
		run timeout 10 "$WQFS_BIN" -f "$M" -o "node=$n" -o state=none
		assert_failure
		assert_output --partial "node must be a name of 1 to 64 characters"
		! grep -qF " $M fuse" /proc/mounts || fail "node '$n' mounted"
	done
}

@test "the man page is built and describes every file of a queue" {
	local man="$WQFS_BUILD_ROOT/fs/wqfs.1"
	[[ -f "$man" ]] || fail "no $man: is scdoc installed?"
	run man -l -P cat "$man"
	assert_success
	for f in submit delay modify cancel flush status trace jiqwq jiqwqdelay \
		per_cpu max_active cpumask nice frozen requeue_lost works output \
		EALREADY ENOENT EINVAL E2BIG ENOSPC EDEADLK EINTR ESHUTDOWN EBUSY \
		ENOTEMPTY ERANGE EPERM nodes WQ_NODE node=; do
		assert_output --partial "$f"
	done
}

# The listener: a datagram socket at $1 whose records are appended to $2.
_SYSLOG_PY='
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
open(sys.argv[2], "w").close()
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(65536).decode(errors="replace") + "\n")
'

@test "a detached daemon's reports go to the system log, not nowhere" {
	# syslog(3) writes to /dev/log: ours, either where there is none, or
	# bound over the system's in a private mount namespace
	local sock="$M.sock" log="$M.syslog" ns=()
	if [[ -e /dev/log ]]; then
		"$PY" -c "$_SYSLOG_PY" "$sock" "$log" &
		ns=(unshare -m --propagation private sh -c 'mount --bind "$0" /dev/log && exec "$@"' "$sock")
	else
		sock=/dev/log
		"$PY" -c "$_SYSLOG_PY" "$sock" "$log" &
	fi
	local listener=$!
	wait_for 5 test -e "$log"
	"${ns[@]}" sh -c '"$0" -o state=none -o drain_timeout=1 "$1" &&
		mkdir "$1/q" && echo "d: 1h true" > "$1/q/delay" && fusermount3 -u "$1"' \
		"$WQFS_BIN" "$M"
	wait_for 10 grep -q "dropped q/d: delayed work not yet due at unmount" "$log"
	kill "$listener"
	[[ "$sock" != /dev/log ]] || rm -f /dev/log
	run grep -c "wqfs\[[0-9]*\]: dropped q/d" "$log"
	assert_output 1
}
