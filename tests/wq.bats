#!/usr/bin/env bats
# wq.bats - the wq client (client/wq.c, wq.1) against a real mount: what a
# user of it sees on stdout and stderr, its exit status, and what the works
# it queued ran.
#
# Needs WQ_BIN (the client) besides WQFS_BIN; tests/meson.build passes both.

load bats/common
bats_require_minimum_version 1.5.0

setup() {
	if [[ -z "${WQ_BIN:-}" || ! -x "$WQ_BIN" ]]; then
		echo "wq.bats: WQ_BIN='${WQ_BIN:-}' is not an executable;" \
		     "run through 'meson test wq' or set WQ_BIN" >&2
		return 1
	fi
	wqfs_mount
	export WQFS=$MNT
	mkdir "$MNT/q"
}

# wq ARGS... - the client, on this test's mount (through $WQFS)
wq() {
	"$WQ_BIN" "$@"
}

# runs_are QUEUE WORK N - the work has run N times (for wait_for)
runs_are() {
	[[ "$(w_get "$1" "$2" runs 2>/dev/null)" == "$3" ]]
}

# out QUEUE WORK - what the work printed
out() {
	cat "$MNT/$1/works/$2/output"
}

@test "wq: a variable exported in the calling shell reaches the work; builtin echo's does not" {
	export WQ_TEST_FOO="bar baz"
	cd "$T"
	# The shell's builtin echo: the work gets the shell's start-up environment.
	echo 'shell: echo "[$WQ_TEST_FOO]"' >"$MNT/q/submit"
	run --separate-stderr wq -q q -- sh -c 'echo "[$WQ_TEST_FOO] in $(pwd)"'
	assert_success
	assert_output --regexp '^w[0-9]+$'
	assert_equal "$stderr" ""
	local id=$output
	flushq q
	assert_equal "$(out q shell)" "[]"
	assert_equal "$(out q "$id")" "[bar baz] in $T"
}

@test "wq: arguments with blanks, quotes, \$, backquotes, globs and empty ones reach the command exactly" {
	local args=('a b' "it's" '"dq"' '$HOME' '${X:-y}' '`id`' '$(id)' 'back\slash\n' '*' '?' ''
		    ';' '|' '&&' '#c' '~' '~root' 'x=1' '-n' $'tab\there' 'ünï' $'\r' '  two  blanks  ')
	run --separate-stderr wq -q q -- printf '[%s]\n' "${args[@]}"
	assert_success
	local id=$output
	flushq q
	assert_equal "$(out q "$id")" "$(printf '[%s]\n' "${args[@]}")"
	assert_equal "$(w_get q "$id" last_exit)" 0
	# plain words are left bare, CMD is quoted: the list shows what ran
	run cat "$MNT/q/list"
	assert_output --partial "'printf' '[%s]\n' 'a b' 'it'\\''s' '\"dq\"' '\$HOME'"
}

@test "wq: CMD runs as a command whatever its name: a reserved word, an assignment, NAME:, a unit" {
	mkdir "$T/bin"
	local name
	for name in if 'A=1' 'job:' s '!'; do
		printf '#!/bin/sh\necho "%s ran: $*"\n' "$name" >"$T/bin/$name"
		chmod 755 "$T/bin/$name"
	done
	export PATH="$T/bin:$PATH"
	local ids=()
	for name in if 'A=1' 'job:' '!'; do
		run --separate-stderr wq -q q -- "$name" arg
		assert_success
		ids+=("$output")
	done
	# after a bare number of jiffies, "s" would be a unit word: 1 s, then "arg"
	run --separate-stderr wq -q q -d 1 -- s arg
	assert_success
	ids+=("$output")
	wait_for 10 runs_are q "${ids[4]}" 1
	flushq q
	local i=0
	for name in if 'A=1' 'job:' '!' s; do
		assert_equal "$(out q "${ids[i]}")" "$name ran: arg"
		i=$((i + 1))
	done
	[[ ! -e "$MNT/q/works/job" ]]
}

@test "wq -n: prints the name; a second queueing while pending is EALREADY, exit 3; -n alone queues it again" {
	echo 1 >"$MNT/q/frozen"
	run --separate-stderr wq -q q -n job -- echo 'first run'
	assert_success
	assert_output job
	run --separate-stderr wq -q q -n job -- echo changed
	assert_equal "$status" 3
	assert_output ""
	assert_equal "$stderr" "wq: write $MNT/q/submit: Operation already in progress"
	# nothing changed, the command included
	assert_equal "$(w_get q job command)" "'echo' 'first run'"
	echo 0 >"$MNT/q/frozen"
	flushq q
	assert_equal "$(out q job)" "first run"
	run --separate-stderr wq -q q -n job
	assert_success
	assert_output job
	flushq q
	assert_equal "$(w_get q job runs)" 2
	healthy q
}

@test "wq -d: the work is delayed, then runs; a word in DELAY is EINVAL, never a command" {
	run --separate-stderr wq -q q -n later -d '2 sec' -- touch "$T/later"
	assert_success
	assert_output later
	assert_equal "$(w_get q later state)" delayed
	[[ ! -e "$T/later" ]]
	wait_for 10 test -e "$T/later"
	# anonymous, in jiffies
	run --separate-stderr wq -q q -d 1 -- true
	assert_success
	assert_output --regexp '^w[0-9]+$'
	# "1 touch FILE" would be a delay of 1 and a command: wq makes it 1touch
	run --separate-stderr wq -q q -d '1 touch' -- "$T/never"
	assert_equal "$status" 1
	assert_equal "$stderr" "wq: write $MNT/q/delay: Invalid argument"
	flushq q
	run cat "$MNT/q/list"
	refute_output --partial never
	[[ ! -e "$T/never" ]]
	healthy q
}

@test "wq -q: the default queue is events; an unknown queue is ENOENT, exit 4; a path is no queue name" {
	run --separate-stderr wq -- echo on-events
	assert_success
	local id=$output
	run wq -w "$id"
	assert_success
	assert_equal "$(out events "$id")" on-events
	run --separate-stderr wq -q nope -- true
	assert_equal "$status" 4
	assert_output ""
	assert_equal "$stderr" "wq: open $MNT/nope/submit: No such file or directory"
	run --separate-stderr wq -q ../q -- true
	assert_equal "$status" 2
	assert_equal "${stderr_lines[0]}" "wq: bad queue name '../q'"
}

@test "wq -w: waits for the work and exits with its status: 0, 3, 137 when killed" {
	run --separate-stderr wq -q q -- sh -c "sleep 0.5; touch '$T/done'; exit 3"
	local id=$output
	run --separate-stderr wq -q q -w "$id"
	assert_equal "$status" 3
	assert_output ""
	assert_equal "$stderr" ""
	[[ -e "$T/done" ]]			# it returned once the work had run
	id=$(wq -q q -- true)
	run wq -q q -w "$id"
	assert_success
	id=$(wq -q q -- sh -c 'kill -9 $$')
	run wq -q q -w "$id"
	assert_equal "$status" 137
	# a delayed work runs now (flush_delayed_work)
	id=$(wq -q q -d 1h -- sh -c 'exit 4')
	run wq -q q -w "$id"
	assert_equal "$status" 4
	healthy q
}

@test "wq -w: an unknown work is ENOENT, exit 4; a work that did not run is exit 5 with its state" {
	run --separate-stderr wq -q q -w nosuch
	assert_equal "$status" 4
	assert_equal "$stderr" "wq: write $MNT/q/flush: No such file or directory"
	echo 1 >"$MNT/q/frozen"
	wq -q q -n never -- true
	echo never >"$MNT/q/cancel"
	run --separate-stderr wq -q q -w never
	assert_equal "$status" 5
	assert_equal "$stderr" "wq: q/never: $(w_get q never state), no exit status"
	assert_equal "$(w_get q never runs)" 0
}

@test "wq -l: prints the queue's list; without -q the list of events" {
	wq -q q -n one -- echo 'a b'
	wq -q q -- sh -c 'exit 2' >/dev/null
	flushq q
	run --separate-stderr wq -q q -l
	assert_success
	assert_equal "$output" "$(cat "$MNT/q/list")"
	assert_line --index 0 --regexp '^NAME +STATE +EXIT'
	assert_line --regexp "^one +[a-z]+ +0 +1 .* 'echo' 'a b'$"
	assert_line --regexp "^w[0-9]+ +[a-z]+ +2 +1 .* 'sh' -c 'exit 2'$"
	assert_equal "${#lines[@]}" 3
	wq -n ev -- true >/dev/null
	flushq events
	run wq -l
	assert_success
	assert_line --regexp "^ev +[a-z]+ +0 +1 "
}

@test "wq -m and \$WQFS name the mount: -m wins; a missing mount is ENOENT naming the path" {
	run --separate-stderr env WQFS=/nonexistent "$WQ_BIN" -m "$MNT" -q q -l
	assert_success
	assert_line --index 0 --regexp '^NAME +STATE'
	run --separate-stderr env WQFS=/nonexistent "$WQ_BIN" -l
	assert_equal "$status" 4
	assert_equal "$stderr" "wq: open /nonexistent/events/list: No such file or directory"
}

@test "wq: bad arguments are exit 2 and write nothing: no command, a bad NAME, a newline, -a without -n" {
	run --separate-stderr wq -q q
	assert_equal "$status" 2
	assert_equal "${stderr_lines[0]}" "wq: no command given"
	# unchecked, 'a b: touch F' would be an anonymous work running a
	run --separate-stderr wq -q q -n 'a b' -- touch "$T/bad"
	assert_equal "$status" 2
	run --separate-stderr wq -q q -- echo $'two\nlines'
	assert_equal "$status" 2
	assert_equal "${stderr_lines[0]}" "wq: an argument holds a newline: a work is one line"
	run --separate-stderr wq -q q -a dep -- true
	assert_equal "$status" 2
	run --separate-stderr wq -q q -l -- true
	assert_equal "$status" 2
	run --separate-stderr wq -q q -x
	assert_equal "$status" 2
	assert_equal "${stderr_lines[0]}" "wq: unknown option -x"
	run wq -h
	assert_success
	assert_line --index 0 --partial 'usage: wq'
	# nothing was queued
	assert_equal "$(q_get q started)" 0
	assert_equal "$(cat "$MNT/q/list" | wc -l)" 1
	[[ ! -e "$T/bad" ]]
}

@test "wq -c: prints a running work's output as it comes and returns when the run ends" {
	run --separate-stderr wq -q q -n talk -- sh -c "echo one; until [ -e '$T/go' ]; do sleep 0.05; done; echo two"
	assert_success
	wait_for 10 w_state_is q talk running
	bg "$WQ_BIN" -q q -c talk
	local pid=$BG_PID out="$T/bg.0.out"
	wait_for 10 grep -qx one "$out"
	# the work has not ended: wq -c is still following it
	kill -0 "$pid"
	assert_equal "$(w_get q talk state)" running
	touch "$T/go"
	wait_exit 10 "$pid"
	assert_equal "$WAIT_STATUS" 0
	assert_equal "$(cat "$out")" $'one\ntwo'
	run --separate-stderr wq -q q -c nosuch
	assert_equal "$status" 4
	assert_equal "$stderr" "wq: open $MNT/q/works/nosuch/follow: No such file or directory"
	healthy q
}

@test "wq -a: NAME waits, blocked, until its dependency has run; after a failed one it does not run (-w: 5)" {
	run --separate-stderr wq -q q -n first -- sh -c "until [ -e '$T/go' ]; do sleep 0.05; done; echo first >>'$T/order'"
	assert_success
	wait_for 10 w_state_is q first running
	run --separate-stderr wq -q q -n second -a first -- sh -c "echo second >>'$T/order'"
	assert_success
	assert_output second
	assert_equal "$stderr" ""
	assert_equal "$(w_get q second state)" blocked
	touch "$T/go"
	run wq -q q -w second
	assert_success
	assert_equal "$(cat "$T/order")" $'first\nsecond'
	# a dependency that failed: NAME ends without running
	run wq -q q -n bad -- false
	run wq -q q -w bad
	assert_equal "$status" 1
	run --separate-stderr wq -q q -n third -a bad -a first -- touch "$T/third"
	assert_success
	run --separate-stderr wq -q q -w third
	assert_equal "$status" 5
	assert_equal "$stderr" "wq: q/third: $(w_get q third state), no exit status"
	[[ ! -e "$T/third" ]]
	# an unknown dependency: ENOENT from after, nothing queued
	run --separate-stderr wq -q q -n fourth -a nosuch -- touch "$T/fourth"
	assert_equal "$status" 4
	assert_equal "$stderr" "wq: write $MNT/q/after: No such file or directory"
	flushq q
	[[ ! -e "$T/fourth" ]]
	healthy q
}
