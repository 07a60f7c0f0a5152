#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
#
# Three daemons, nodes n1 n2 n3, on one PostgreSQL database (the fixture
# is tests/bats/cluster.bash; tests/pg-bats starts the server): what a
# user of any mount sees of the others.

load bats/common
load bats/cluster

# all_are QUEUE STATE WORK... - every WORK is in STATE (read on MNT)
all_are() {
	local q=$1 st=$2 w
	shift 2
	for w; do
		w_state_is "$q" "$w" "$st" || return 1
	done
}

# unbound N ACTIVE QUEUE - make QUEUE on node nN unbound with max_active
# ACTIVE, and wait until every node reads both
unbound() {
	local m=${NODE_MNT[$1]} i
	mkdir "$m/$3"
	put "$m/$3/per_cpu" 0
	put "$m/$3/max_active" "$2"
	for i in 1 2 3; do
		wait_for 5 file_has "${NODE_MNT[i]}/$3/per_cpu" 0
		wait_for 5 file_has "${NODE_MNT[i]}/$3/max_active" "$2"
	done
}

# node_of I - the node (1..3) the I-th of works submitted in turn on n1,
# n2, n3 goes to
node_of() {
	echo $((($1 - 1) % 3 + 1))
}

@test "a queue made on n1 is seen on n2 and n3; max_active and a chmod on one node are read on the others; rmdir on n3 removes it everywhere" {
	mkdir "$M1/q"
	seen q
	put "$M2/q/max_active" 5
	wait_for 5 file_has "$M1/q/max_active" 5
	wait_for 5 file_has "$M3/q/max_active" 5
	chmod 0750 "$M1/q"
	wait_for 5 equals 750 stat -c %a "$M2/q"
	wait_for 5 equals 750 stat -c %a "$M3/q"
	rmdir "$M3/q"
	wait_for 5 test ! -e "$M1/q"
	wait_for 5 test ! -e "$M2/q"
	[[ ! -e "$M3/q" ]] || fail "q is still on n3, which removed it"
}

# span SECS - a work's command: "start TIME" and "end TIME" lines in
# $T/spans around a sleep of SECS, each written under flock with the time
# taken under it (the file is in time order); prints the node it ran on
span_script() {
	cat >"$T/span" <<EOF
#!/bin/sh
mark() {
	flock "$T/spans.lock" sh -c 'echo "\$1 \$(date +%s.%N)" >>"$T/spans"' sh "\$1"
}
mark start
sleep "\$1"
echo "\$WQ_NODE"
mark end
EOF
	chmod 755 "$T/span"
}

# most_at_once - the most spans of $T/spans open at one time
most_at_once() {
	sort -k2,2g -k1,1 "$T/spans" |
		awk '$1 == "start" { if (++n > m) m = n } $1 == "end" { n-- } END { print m + 0 }'
}

@test "an unbound queue runs works on more than one node and never more than its max_active at once in the whole cluster" {
	unbound 1 2 q
	span_script
	local i works=()
	for i in $(seq 1 12); do
		put "${NODE_MNT[$((i % 2 + 1))]}/q/submit" "w$i: $T/span 0.3"
		works+=("w$i")
	done
	wait_for 20 on 1 all_are q done "${works[@]}"
	assert_equal "$(grep -c '^start ' "$T/spans") $(grep -c '^end ' "$T/spans")" "12 12"
	local nodes
	nodes=$(for i in "${works[@]}"; do cat "$M1/q/works/$i/output"; done | sort -u)
	[[ $(wc -l <<<"$nodes") -ge 2 ]] || fail "every work ran on $nodes"
	local most
	most=$(most_at_once)
	((most <= 2)) || fail "$most works ran at once with max_active 2: $(cat "$T/spans")"
	# every node's status counts the runs of all: the same on each
	for i in 1 2 3; do
		wait_for 5 equals 12 on "$i" q_get q completed
		assert_equal "$(on "$i" q_get q started) $(on "$i" q_get q running)" "12 0"
	done
}

@test "max_active 1: works submitted in turn on n1, n2 and n3 run one at a time in the order they were queued" {
	unbound 1 1 q
	local i works=()
	for i in $(seq 1 9); do
		put "${NODE_MNT[$(node_of "$i")]}/q/submit" "a$i: sleep 0.1; echo a$i >>$T/order"
		works+=("a$i")
	done
	wait_for 20 on 1 all_are q done "${works[@]}"
	assert_equal "$(cat "$T/order")" "$(printf 'a%d\n' $(seq 1 9))"
}

@test "flush on n2 waits for a work queued on n1" {
	mkdir "$M1/q"
	seen q
	put "$M1/q/submit" "s: sleep 1; echo slept"
	on 2 flushq q
	assert_equal "$(on 2 w_get q s state)" done
	assert_equal "$(cat "$M2/q/works/s/output")" slept
}

@test "a work pending or delayed on n1 is EALREADY on n2 and n3, and nothing changes; a running one may be queued again on another node" {
	mkdir "$M1/q"
	put "$M1/q/frozen" 1
	seen q
	put "$M1/q/submit" "x: echo x >>$T/x"
	run write_errno "$M2/q/submit" "x: echo other"
	assert_output EALREADY
	run write_errno "$M3/q/submit" "x:"
	assert_output EALREADY
	put "$M1/q/delay" "y: 1h echo y"
	run write_errno "$M2/q/submit" "y:"
	assert_output EALREADY
	run write_errno "$M3/q/delay" "y: 1s true"
	assert_output EALREADY
	assert_equal "$(on 2 w_get q x command)" "echo x >>$T/x"
	assert_equal "$(on 3 w_get q y state)" delayed
	put "$M2/q/frozen" 0
	wait_for 10 on 1 w_state_is q x done
	file_has "$T/x" x
	put "$M1/q/cancel" y

	mkdir "$M1/r"
	seen r
	put "$M1/r/submit" "r: echo run >>$T/r; sleep 1"
	wait_for 5 on 2 w_state_is r r running
	run write_errno "$M2/r/submit" "r:"
	assert_output OK
	wait_for 10 file_has "$T/r" $'run\nrun'
	wait_for 5 on 3 w_state_is r r done
	assert_equal "$(on 3 w_get r r runs)" 2
}

# not_ran - the acknowledged works ($T/acked) that did not run ($T/ran)
not_ran() {
	sort "$T/ran" | comm -23 "$T/acked" -
}

# explain_not_ran - for a failure: each work not_ran prints, as each node
# shows it, and the nodes' logs
explain_not_ran() {
	local w i
	for w in $(not_ran); do
		for i in 1 2 3; do
			echo "== $w on n$i:"
			cat "${NODE_MNT[i]}/q/works/$w/status" 2>&1
		done
	done
	psql -q "$DB" -c "SELECT queue, name, state, running_on, home, wnode, gone FROM works WHERE running_on <> '' OR state <> 0"
	psql -q "$DB" -c "SELECT * FROM queues"
	for i in 1 2 3; do
		echo "== n$i's log:"
		tail -n 20 "${NODE_TMP[i]}/wqfs.log"
	done
}

@test "cancel on n3 stops a work running on n1: the write returns, the work is cancelled, its process is gone" {
	mkdir "$M1/q"
	seen q
	local marker="sleep 1000.$RANDOM$RANDOM"
	orphan "$marker"
	put "$M1/q/submit" "c: $marker"
	wait_for 5 on 3 w_state_is q c running
	wait_for 5 prints pids_of "$marker"
	assert_equal "$(where q c)" n1
	run write_errno "$M3/q/cancel" c
	assert_output OK
	assert_equal "$(on 3 w_get q c state)" cancelled
	assert_equal "$(on 1 w_get q c state)" cancelled
	# the sleep gets its signal with its shell, and dies on its own time
	wait_for 3 equals "" pids_of "$marker"
}

@test "cancel on n2 of a work n1 claimed and holds behind another (per-CPU, max_active 1): it never runs" {
	local marker="sleep 1000.$RANDOM$RANDOM"
	orphan "$marker"
	behind 1 2 "s: $marker" "p: echo p >>$T/p"	# p waits in n1's engine
	run write_errno "$M2/q/cancel" p
	assert_output OK
	wait_for 5 on 1 w_state_is q p cancelled
	run write_errno "$M2/q/cancel" s
	assert_output OK
	wait_for 5 on 1 w_state_is q s cancelled
	sleep 0.5
	[[ ! -e "$T/p" ]] || fail "p ran after its cancel"
	assert_equal "$(on 2 w_get q p state)" cancelled
}

@test "kill -9 of a node: its running work is lost on the others within 15 s, its pending one runs elsewhere, nothing runs twice" {
	local marker="sleep 1000.$RANDOM$RANDOM"
	orphan "$marker"
	behind 2 1 "l: echo l >>$T/ran; $marker" "p: echo p >>$T/ran"
	kill9 2
	wait_for 15 on 1 w_state_is q l lost
	assert_equal "$(on 3 w_get q l state)" lost
	wait_for 10 on 3 w_state_is q p done
	local at
	at=$(where q p)
	[[ "$at" == n1 || "$at" == n3 ]] || fail "p ran on '$at'"
	assert_equal "$(sort "$T/ran")" $'l\np'
}

# node_rows N - NODE STATE of each row of nodes as read on node nN; fails
# unless nodes is the header and rows of five fields in the right form
node_rows() {
	awk '
		NR == 1 { if ($0 !~ /^NODE +LEASE +RUNNING +SLOTS +STATE *$/) { print "header: " $0; exit 1 } next }
		NF != 5 || $2 !~ /^[0-9]+\.[0-9]$/ || $3 !~ /^[0-9]+$/ || $4 !~ /^[0-9]+$/ ||
		    ($5 != "alive" && $5 != "dead") { print "row: " $0; exit 1 }
		{ print $1, $5 }
	' "${NODE_MNT[$1]}/nodes"
}

# node_running N NODE - RUNNING of NODE's row as read on node nN
node_running() {
	awk -v n="$2" 'NR > 1 && $1 == n { print $3 }' "${NODE_MNT[$1]}/nodes"
}

@test "nodes lists n1 n2 n3 alive on every node, counts a running work, and shows n2 dead within 15 s of its kill -9" {
	local i
	for i in 1 2 3; do
		# a node reads the others' rows with its lease, every 2 s
		wait_for 5 equals $'n1 alive\nn2 alive\nn3 alive' node_rows "$i"
	done
	assert_equal "$(stat -c %a "$M1/nodes")" 444
	mkdir "$M1/q"
	seen q
	put "$M1/q/submit" "s: sleep 1000"
	wait_for 5 equals 1 node_running 3 n1
	assert_equal "$(node_running 3 n2)" 0
	kill9 2
	wait_for 15 equals $'n1 alive\nn2 dead\nn3 alive' node_rows 1
	run node_rows 3
	assert_output $'n1 alive\nn2 dead\nn3 alive'
	put "$M1/q/cancel" s
}

@test "WQ_NODE and node: name where a work ran, on every mount; a per-CPU queue runs a work on the node that submitted it" {
	unbound 1 3 u
	local i j out works=()
	for i in $(seq 1 6); do
		put "${NODE_MNT[$(node_of "$i")]}/u/submit" "e$i: echo \$WQ_NODE; sleep 0.2"
		works+=("e$i")
	done
	wait_for 15 on 1 all_are u done "${works[@]}"
	for i in "${works[@]}"; do
		out=$(cat "$M1/u/works/$i/output")
		[[ "$out" =~ ^n[123]$ ]] || fail "$i printed '$out'"
		for j in 1 2 3; do
			assert_equal "$(on "$j" w_get u "$i" node)" "$out"
		done
	done
	mkdir "$M1/p"
	seen p
	put "$M3/p/submit" 'h: echo $WQ_NODE'
	wait_for 10 on 1 w_state_is p h done
	assert_equal "$(cat "$M1/p/works/h/output")" n3
	assert_equal "$(where p h)" n3
}

# What a loader (see below) acknowledged: one work name a line.
_LOAD_PY='
import os, sys, time
path, prefix, ran, stop, ack = sys.argv[1:]
i = 0
with open(ack, "w") as acked:
    while not os.path.exists(stop):
        i += 1
        name = "%s%d" % (prefix, i)
        line = "%s: echo %s >>%s\n" % (name, name, ran)
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
            acked.write(name + "\n")
            acked.flush()
        except OSError:
            pass
        time.sleep(0.05)
'

# loader I - submit works on node nI until $T/stop exists, each appending
# its name to $T/ran; the names whose write succeeded go to $T/ack.I
loader() {
	bg "$PY" -c "$_LOAD_PY" "${NODE_MNT[$1]}/q/submit" "n$1_" "$T/ran" "$T/stop" "$T/ack.$1"
	LOADERS+=("$BG_PID")
}

# acked_past N COUNT... - every ack.I file (I = 1..3) has more than the
# I-th COUNT lines
acked_past() {
	local i=1 c
	for c; do
		(($(wc -l <"$T/ack.$i") > c)) || return 1
		((i++))
	done
}

@test "a run that ends while the database is down is written when it comes back: done on every node, its queue's max_active free again, and the first write after it succeeds" {
	unbound 1 1 q
	put "$M1/q/submit" "a: sleep 1"
	wait_for 5 on 1 w_state_is q a running
	local n
	n=$(where q a)
	pg pause
	wait_for 5 on "${n#n}" w_state_is q a done
	pg resume
	for n in 1 2 3; do
		wait_for 10 on "$n" w_state_is q a done
	done
	put "$M2/q/submit" "b: echo b >>$T/b"
	wait_for 10 file_has "$T/b" b
}

@test "the database restarted under load: writes fail with EIO meanwhile, then all three nodes work again; every acknowledged work ran exactly once" {
	unbound 1 2 q
	local i LOADERS=()
	for i in 1 2 3; do
		loader "$i"
	done
	wait_for 10 acked_past 5 5 5
	pg pause
	for i in 1 2 3; do
		run write_errno "${NODE_MNT[i]}/q/submit" "down$i: echo down$i >>$T/ran"
		assert_output EIO
	done
	local before=()
	for i in 1 2 3; do
		before+=("$(wc -l <"$T/ack.$i")")
	done
	pg resume
	wait_for 15 acked_past $((before[0] + 5)) $((before[1] + 5)) $((before[2] + 5))
	touch "$T/stop"
	for i in "${LOADERS[@]}"; do
		wait_exit 10 "$i"
	done
	sort "$T/ack.1" "$T/ack.2" "$T/ack.3" >"$T/acked"
	wait_for 20 equals "" not_ran || {
		explain_not_ran
		false
	}
	assert_equal "$(sort "$T/ran" | uniq -d)" ""
	local j
	for i in 1 2 3; do
		for j in 1 2 3; do
			[[ ! -e "${NODE_MNT[j]}/q/works/down$i" ]] || fail "down$i was refused but n$j shows it"
		done
		! grep -qx "down$i" "$T/ran" || fail "down$i was refused but ran"
	done
}
