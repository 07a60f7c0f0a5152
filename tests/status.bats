#!/usr/bin/env bats
# status.bats - QUEUE/status, the root status table and status.json.

load bats/common

Q_KEYS="name per_cpu max_active workers pending delayed running completed failed cancelled started frozen nice cpumask"

# root_row NAME - check the header and every row of $MNT/status byte by
# byte against the wq_monitor formats of the README, then print the row of
# NAME as "total infl cputime delayed failed"
root_row() {
	"$PY" - "$MNT/status" "$1" <<'EOF'
import sys
text = open(sys.argv[1]).read()
lines = text.split("\n")
if lines[-1] != "":
    sys.exit("status does not end with a newline")
lines = lines[:-1]
hdr = "%24s %8s %5s %8s %7s %7s %7s %7s %7s %7s" % (
    "", "total", "infl", "CPUtime", "CPUitsv", "CMW/RPR", "mayday",
    "rescued", "delayed", "failed")
if lines[0] != hdr:
    sys.exit("header %r\n  expected %r" % (lines[0], hdr))
want = sys.argv[2][-24:]
found = None
for line in lines[1:]:
    f = line.split()
    if len(f) != 10:
        sys.exit("row %r has %d fields" % (line, len(f)))
    name = line[:24].strip()
    again = "%24s %8d %5d %8.1f %7s %7s %7s %7s %7d %7d" % (
        name, int(f[1]), int(f[2]), float(f[3]), f[4], f[5], f[6], f[7],
        int(f[8]), int(f[9]))
    if again != line:
        sys.exit("row %r\n  expected %r" % (line, again))
    if f[4:8] != ["-"] * 4:
        sys.exit("row %r: kernel-only columns are not -" % line)
    if name == want:
        found = (f[1], f[2], f[3], f[8], f[9])
if found is None:
    sys.exit("no row for %r in:\n%s" % (want, text))
print(" ".join(found))
EOF
}

# json_row NAME - "total infl delayed failed pending running" from status.json
json_row() {
	"$PY" - "$MNT/status.json" "$1" <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))
if not isinstance(rows, list):
    sys.exit("status.json is not an array")
for r in rows:
    if r.get("name") == sys.argv[2]:
        print(" ".join(str(r[k]) for k in ("total", "infl", "delayed", "failed", "pending", "running")))
        sys.exit(0)
sys.exit("no object for %r" % sys.argv[2])
EOF
}

@test "queue status: keys in order, one key: value a line, values of a new queue" {
	mkdir "$MNT/q"
	run sh -c "cut -d: -f1 '$MNT/q/status' | tr '\n' ' '"
	assert_output "$Q_KEYS "
	run grep -cv '^[a-z_]*: ' "$MNT/q/status"
	assert_output 0
	run q_get q name
	assert_output q
	run q_get q per_cpu
	assert_output 1
	run q_get q max_active
	assert_output 1
	run q_get q workers
	assert_output 0
	for k in pending delayed running completed failed cancelled started; do
		run q_get q "$k"
		assert_output 0
	done
	run q_get q frozen
	assert_output 0
	run q_get q nice
	assert_output 0
	run q_get q cpumask
	assert_output "$(cat "$MNT/q/cpumask")"
}

@test "queue status counts a scripted scenario" {
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	printf 'ok1: true\nok2: true\nbad: exit 1\n' >"$MNT/q/submit"
	echo "dl: 100s true" >"$MNT/q/delay"
	echo "c: true" >"$MNT/q/submit"
	echo c >"$MNT/q/cancel"
	run q_get q pending
	assert_output 3
	run q_get q delayed
	assert_output 1
	run q_get q cancelled
	assert_output 1
	run q_get q started
	assert_output 0
	run q_get q frozen
	assert_output 1
	echo 0 >"$MNT/q/frozen"
	flushq q
	run q_get q pending
	assert_output 0
	run q_get q completed
	assert_output 3
	run q_get q failed
	assert_output 1
	run q_get q started
	assert_output 3
	run q_get q running
	assert_output 0
	run q_get q delayed
	assert_output 1
	run q_get q cancelled
	assert_output 1
	echo "r: sleep 100" >"$MNT/q/submit"
	wait_for 10 w_state_is q r running
	run q_get q running
	assert_output 1
	run q_get q started
	assert_output 4
	# root table and JSON twin agree
	run root_row q
	assert_success
	local total infl cpu delayed failed
	read -r total infl cpu delayed failed <<<"$output"
	assert_equal "$total" 4
	assert_equal "$infl" 1
	assert_equal "$delayed" 1
	assert_equal "$failed" 1
	run json_row q
	assert_success
	assert_output "4 1 1 1 0 1"
	echo dl >"$MNT/q/cancel"
	echo r >"$MNT/q/cancel" || true
}

@test "root status: the wq_monitor header and a row per queue" {
	mkdir "$MNT/alpha" "$MNT/b"
	run root_row events
	assert_success
	assert_output "0 0 0.0 0 0"
	run root_row alpha
	assert_success
	run root_row b
	assert_success
	# one row per queue, after the header
	run wc -l <"$MNT/status"
	assert_output 4
	rmdir "$MNT/b"
	run wc -l <"$MNT/status"
	assert_output 3
}

@test "root status: the name is right-aligned in 24 columns, its last 24 characters" {
	local long=abcdefghijklmnopqrstuvwxyz0123
	mkdir "$MNT/$long" "$MNT/short"
	run grep -c "^ \{19\}short " "$MNT/status"
	assert_output 1
	run grep -c "^${long: -24} " "$MNT/status"
	assert_output 1
	run root_row "$long"
	assert_success
}

@test "root status: total, infl, delayed and failed follow the works" {
	mkdir "$MNT/q"
	printf 'a: true\nb: exit 2\nc: exit 3\n' >"$MNT/q/submit"
	echo "d: 100s true" >"$MNT/q/delay"
	flushq q
	run root_row q
	assert_success
	assert_output "3 0 0.0 1 2"
	run json_row q
	assert_output "3 0 1 2 0 0"
	echo d >"$MNT/q/cancel"
	run json_row q
	assert_output "3 0 0 2 0 0"
}

@test "root status: CPUtime counts the CPU seconds works used" {
	mkdir "$MNT/q"
	echo "burn: $PY -c 'import time; [0 for _ in iter(lambda: time.process_time() < 1.2, False)]'" >"$MNT/q/submit"
	flushq q
	run w_get q burn last_exit
	assert_output 0
	run root_row q
	assert_success
	local total infl cpu delayed failed
	read -r total infl cpu delayed failed <<<"$output"
	assert_equal "$total" 1
	"$PY" -c "import sys; c = float(sys.argv[1]); sys.exit(0 if 1.2 <= c < 10 else 'CPUtime %s' % c)" "$cpu"
}

@test "status.json parses and has a row per queue" {
	mkdir "$MNT/q"
	run "$PY" -m json.tool "$MNT/status.json"
	assert_success
	run "$PY" -c '
import json, sys
rows = json.load(open(sys.argv[1]))
print(" ".join(sorted(r["name"] for r in rows)))
for r in rows:
    for k in ("name", "total", "infl", "delayed", "failed", "pending", "running"):
        assert k in r, (k, r)
' "$MNT/status.json"
	assert_success
	assert_output "events q"
}

@test "status files are regenerated at every open" {
	mkdir "$MNT/q"
	exec 4<"$MNT/q/status"
	echo "true" >"$MNT/q/submit"
	flushq q
	run q_get q completed
	assert_output 1
	exec 4<&-
}

@test "hz: the root's hz file says the jiffies per second, as -o hz set it; it is read-only" {
	assert_equal "$(cat "$MNT/hz")" 250
	assert_equal "$(stat -c %a "$MNT/hz")" 444
	wqfs_remount -o hz=100
	assert_equal "$(cat "$MNT/hz")" 100
	# root passes the mode check; the file takes no write
	run write_errno "$MNT/hz" 300
	assert_output EINVAL
}

# nodes_running_is N - this daemon's row of nodes shows N running works
nodes_running_is() {
	[[ "$(nodes_rows | cut -d' ' -f3)" == "$1" ]]
}

@test "nodes: the header and this daemon's row: its node, a fresh lease, the works it runs, its slots, alive" {
	assert_equal "$(stat -c %a "$MNT/nodes")" 444
	mkdir "$MNT/q"
	echo 3 >"$MNT/q/max_active"
	local slots=$(($(cat "$MNT/events/max_active") + 3))
	run nodes_rows
	assert_success
	local node lease running n state
	read -r node lease running n state <<<"$output"
	assert_equal "$(wc -l <<<"$output")" 1
	assert_equal "$node $running $n $state" "$(hostname) 0 $slots alive"
	if [[ -n "${WQFS_PG_DIR:-}" ]]; then
		# the lease the database gave, renewed every 2 s
		[[ "${lease%.*}" -lt 3 ]] || fail "lease $lease s old"
	else
		assert_equal "$lease" 0.0
	fi
	echo "s1: sleep 1000" >"$MNT/q/submit"
	echo "s2: sleep 1000" >"$MNT/q/submit"
	wait_for 10 w_state_is q s1 running
	wait_for 10 w_state_is q s2 running
	run nodes_rows
	assert_success
	assert_equal "$(cut -d' ' -f3,4 <<<"$output")" "2 $slots"
	printf 's1\ns2\n' >"$MNT/q/cancel"
	wait_for 10 nodes_running_is 0
	# root passes the mode check; the file takes no write
	run write_errno "$MNT/nodes" x
	assert_output EINVAL
}
