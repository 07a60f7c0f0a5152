#!/usr/bin/env bats
# submit.bats - queue_work through QUEUE/submit.

load bats/common

@test "an anonymous work runs its command" {
	mkdir "$MNT/q"
	echo "echo hello > '$T/out'" >"$MNT/q/submit"
	flushq q
	file_has "$T/out" hello
}

@test "the shared queue events runs works (schedule_work)" {
	echo "echo shared > '$T/out'" >"$MNT/events/submit"
	flushq events
	file_has "$T/out" shared
}

@test "the id of an anonymous work is read back on the same descriptor" {
	mkdir "$MNT/q"
	exec 4<>"$MNT/q/submit"
	echo "echo one > '$T/one'" >&4
	local id1 id2 extra=""
	read -r -t 10 id1 <&4
	echo "echo two > '$T/two'" >&4
	read -r -t 10 id2 <&4
	# then EOF until the next write
	read -r -t 5 extra <&4 || true
	exec 4>&-
	assert_equal "$id1" w1
	assert_equal "$id2" w2
	assert_equal "$extra" ""
	flushq q
	[ -d "$MNT/q/works/w1" ]
	[ -d "$MNT/q/works/w2" ]
	run w_get q w1 command
	assert_output "echo one > '$T/one'"
	file_has "$T/one" one
	file_has "$T/two" two
}

@test "a write of several anonymous works reads back one id per line" {
	mkdir "$MNT/q"
	run submit_id "$MNT/q" $'true\ntrue\ntrue\n'
	assert_success
	assert_output $'w1\nw2\nw3'
}

@test "the anonymous counter is one per mount, across queues" {
	mkdir "$MNT/a" "$MNT/b"
	run submit_id "$MNT/a" "true"
	assert_output w1
	run submit_id "$MNT/b" "true"
	assert_output w2
	run submit_id "$MNT/b" "5ms true" delay
	assert_output w3
}

@test "a named work runs and keeps its name in works/" {
	mkdir "$MNT/q"
	echo "hello: echo hi >> '$T/h'" >"$MNT/q/submit"
	flushq q
	file_has "$T/h" hi
	[ -d "$MNT/q/works/hello" ]
	run w_get q hello command
	assert_output "echo hi >> '$T/h'"
	run w_get q hello runs
	assert_output 1
	run w_get q hello state
	assert_output done
}

@test "NAME: queues the declared work again" {
	mkdir "$MNT/q"
	echo "hello: echo hi >> '$T/h'" >"$MNT/q/submit"
	flushq q
	echo "hello:" >"$MNT/q/submit"
	flushq q
	run cat "$T/h"
	assert_output $'hi\nhi'
	run w_get q hello runs
	assert_output 2
}

@test "NAME: COMMAND updates the command of an idle work" {
	mkdir "$MNT/q"
	echo "n: echo old > '$T/n'" >"$MNT/q/submit"
	flushq q
	echo "n: echo new > '$T/n'" >"$MNT/q/submit"
	flushq q
	file_has "$T/n" new
	run w_get q n command
	assert_output "echo new > '$T/n'"
}

@test "queueing a pending work is EALREADY and changes nothing" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	run write_errno "$MNT/q/submit" "n: echo first >> '$T/n'"
	assert_output OK
	run w_get q n state
	assert_output pending
	run write_errno "$MNT/q/submit" "n: echo second >> '$T/n'"
	assert_output EALREADY
	run write_errno "$MNT/q/submit" "n:"
	assert_output EALREADY
	run w_get q n command
	assert_output "echo first >> '$T/n'"
	echo 0 >"$MNT/q/frozen"
	flushq q
	# ran once, with the first command
	file_has "$T/n" first
	run w_get q n runs
	assert_output 1
}

@test "the lines of one write are applied in order" {
	mkdir "$MNT/q"
	# one write(2): bash's builtin printf would write line by line, and
	# separate writes may come from different CPUs of a per-CPU queue
	run "$PY" -c 'import os, sys
t = sys.argv[2]
data = "a: echo 1 >> %s/f\nb: echo 2 >> %s/f\nc: echo 3 >> %s/f\n" % (t, t, t)
fd = os.open(sys.argv[1], os.O_WRONLY)
print(os.write(fd, data.encode()) == len(data))
os.close(fd)' "$MNT/q/submit" "$T"
	assert_output True
	flushq q
	run cat "$T/f"
	assert_output $'1\n2\n3'
	for w in a b c; do
		[ -d "$MNT/q/works/$w" ] || fail "works/$w missing"
	done
}

@test "a failing middle line gives a short write; the next write gets its errno" {
	mkdir "$MNT/q"
	local l1="a: echo A > '$T/a'"$'\n'
	local rest="ghost:"$'\n'"c: echo C > '$T/c'"$'\n'
	run write_errno "$MNT/q/submit" "$l1$rest" "$rest"
	assert_output "SHORT ${#l1} ENOENT"
	flushq q
	file_has "$T/a" A
	[ ! -e "$T/c" ]
	[ ! -e "$MNT/q/works/c" ]
	[ ! -e "$MNT/q/works/ghost" ]
}

@test "a failing first line fails the whole write with its errno" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "ghost:"$'\n'"c: echo C > '$T/c'"$'\n'
	assert_output ENOENT
	flushq q
	[ ! -e "$T/c" ]
}

@test "the shell reports the error of a short write (printf(1))" {
	mkdir "$MNT/q"
	# coreutils printf writes its buffer at once, then the rest after the
	# short write (bash's builtin printf writes line by line)
	run bash -c "/usr/bin/printf 'a: true\nghost:\nb: true\n' > '$MNT/q/submit'"
	assert_failure
	[ -d "$MNT/q/works/a" ]
	[ ! -e "$MNT/q/works/b" ]
}

@test "a line without a final newline works (echo -n)" {
	mkdir "$MNT/q"
	echo -n "echo nonl > '$T/n'" >"$MNT/q/submit"
	flushq q
	file_has "$T/n" nonl
}

@test "several blanks after NAME: still name the work" {
	mkdir "$MNT/q"
	printf "sp: \t   echo x > '%s/sp'\n" "$T" >"$MNT/q/submit"
	flushq q
	file_has "$T/sp" x
	[ -d "$MNT/q/works/sp" ]
	run w_get q sp runs
	assert_output 1
}

@test "a command that begins with word: and a leading blank is anonymous" {
	mkdir "$MNT/q"
	# "x:y" is not NAME: (no blank after the colon): an anonymous command
	run submit_id "$MNT/q" "x:y=1; echo ok > '$T/x'"
	assert_output w1
	flushq q
	[ ! -e "$MNT/q/works/x" ]
	run submit_id "$MNT/q" " true: ; echo lead > '$T/lead'"
	assert_output w2
	flushq q
	file_has "$T/lead" lead
	[ ! -e "$MNT/q/works/true" ]
}

@test "the work sees WQ_QUEUE, WQ_WORK, WQ_CPU, WQ_ROOT and the submitter's environment" {
	mkdir "$MNT/envq"
	WQFS_TEST_VAR=from-submitter sh -c "echo 'named: env > \"$T/env1\"' > '$MNT/envq/submit'"
	echo "env > '$T/env2'" >"$MNT/envq/submit"
	flushq envq
	run grep -x "WQ_QUEUE=envq" "$T/env1"
	assert_success
	run grep -x "WQ_WORK=named" "$T/env1"
	assert_success
	run grep -x "WQ_ROOT=$MNT" "$T/env1"
	assert_success
	run grep -x "WQFS_TEST_VAR=from-submitter" "$T/env1"
	assert_success
	run grep -x "WQ_WORK=w1" "$T/env2"
	assert_success
	local cpu
	cpu=$(sed -n 's/^WQ_CPU=//p' "$T/env1")
	[[ "$cpu" =~ ^[0-9]+$ ]] || fail "WQ_CPU='$cpu'"
	((cpu < $(nproc)))
	run w_get envq named last_cpu
	assert_output "$cpu"
}

@test "the work runs in the submitter's working directory" {
	mkdir "$MNT/q" "$T/here"
	(cd "$T/here" && echo "pwd -P > out" >"$MNT/q/submit")
	flushq q
	file_has "$T/here/out" "$(cd "$T/here" && pwd -P)"
}

@test "the work runs with /bin/sh -c: pipes, redirections, exit status" {
	mkdir "$MNT/q"
	echo "sh1: printf 'a\nb\nc\n' | wc -l > '$T/wc'; exit 7" >"$MNT/q/submit"
	flushq q
	run cat "$T/wc"
	assert_output --regexp '^ *3$'
	run w_get q sh1 last_exit
	assert_output 7
}

@test "a work re-queues itself through \$WQ_ROOT/\$WQ_QUEUE/delay" {
	mkdir "$MNT/q"
	cat >"$T/tick.sh" <<EOF
n=\$(cat '$T/count' 2>/dev/null || echo 0)
n=\$((n + 1))
echo \$n > '$T/count'
if [ \$n -lt 3 ]; then
	echo "\$WQ_WORK: 10ms" > "\$WQ_ROOT/\$WQ_QUEUE/delay"
fi
EOF
	echo "tick: sh '$T/tick.sh'" >"$MNT/q/submit"
	wait_for 20 file_has "$T/count" 3
	wait_for 10 w_state_is q tick done
	run w_get q tick runs
	assert_output 3
	sleep 0.5
	file_has "$T/count" 3
}

@test "a work submitted from a work runs too" {
	mkdir "$MNT/q"
	echo "outer: echo \"inner: echo in > '$T/in'\" > \"\$WQ_ROOT/\$WQ_QUEUE/submit\"" >"$MNT/q/submit"
	wait_for 20 file_has "$T/in" in
}
