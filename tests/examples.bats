#!/usr/bin/env bats
# examples.bats - every program of examples/ run against a real mount, its
# output checked against what the kernel calls it walks through return.
#
# Needs WQFS_BIN (the daemon), WQ_BIN (the client) and EXAMPLES_BUILD
# (where meson built the C examples); examples/meson.build passes them.  Nothing here is skipped: a
# missing piece is a failure.

load bats/common

EX=${EXAMPLES_SRC:-$BATS_TEST_DIRNAME/../examples}

# c_example NAME - the path of a built C example, or a loud failure.
c_example() {
	local exe="${EXAMPLES_BUILD:-}/$1"
	if [[ -z "${EXAMPLES_BUILD:-}" || ! -x "$exe" ]]; then
		echo "examples.bats: $1 not built: EXAMPLES_BUILD='${EXAMPLES_BUILD:-}'" \
		     "(run through 'meson test --suite examples')" >&2
		return 1
	fi
	echo "$exe"
}

# wait_bg SECS PID - wait for a background child of this shell, bounded;
# fails if it is still running after SECS, else sets bg_status.  (Called
# directly: `run` would wait from a subshell, which cannot reap the child.)
wait_bg() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$2" 2>/dev/null; then
		echo "examples.bats: pid $2 still running after $1 s" >&2
		return 1
	fi
	bg_status=0
	wait "$2" || bg_status=$?
}

# abort_fuse - abort this test's FUSE connection (fusectl), the one way to
# end a request the daemon never answers: no signal ends a process waiting
# for a FUSE request that was already sent.
abort_fuse() {
	local dev conn
	dev=$(mountpoint -d "$MNT" 2>/dev/null) || return 0
	conn=/sys/fs/fuse/connections/${dev#*:}
	if [[ ! -d "$conn" ]]; then
		mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
	fi
	echo "examples.bats: aborting the FUSE connection $conn" >&2
	echo 1 >"$conn/abort" 2>/dev/null || true
}

# run_bounded SECS CMD... - bats' `run` (sets status, output, lines), but
# bounded even when CMD hangs inside the mount: past SECS its process group
# gets SIGTERM, then SIGKILL, then the connection is aborted, and the test
# fails with what CMD printed so far.
run_bounded() {
	local secs=$1 pid i
	shift
	setsid "$@" </dev/null >"$T/run.out" 2>&1 3>&- &
	pid=$!
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "examples.bats: '$*' still running after ${secs}s; its output:" >&2
		cat "$T/run.out" >&2
		kill -TERM -- "-$pid" 2>/dev/null || true
		sleep 2
		kill -KILL -- "-$pid" 2>/dev/null || true
		sleep 1
		kill -0 "$pid" 2>/dev/null && abort_fuse
		wait "$pid" 2>/dev/null || true
		return 1
	fi
	status=0
	wait "$pid" || status=$?
	output=$(cat "$T/run.out")
	mapfile -t lines <<<"$output"
}

# ---------------------------------------------------------------------------
# jiq.sh (seed 000)

@test "jiq.sh: four jiq pages in jiq.c's format, deltas 0 for jiqwq and 1 for jiqwqdelay" {
	run_bounded 60 "$EX/jiq.sh" "$MNT"
	echo "$output"
	assert_success
	# Each "== cat FILE" section holds one page: byte-exact jiq.c rows.
	local name
	for name in jiqwq jiqwqdelay jiq/jiqwq jiq/jiqwqdelay; do
		printf '%s\n' "$output" | awk -v f="== cat $MNT/$name " '
			index($0, f) == 1 { on = 1; next }
			/^$/ || /^== / { on = 0 }
			on' >"$T/page"
		[[ -s "$T/page" ]] || fail "no section for $name"
		jiq_parse "$T/page" >"$T/rows" || fail "$name: page does not parse"
		# a page: the text passes LIMIT (PAGE_SIZE - 128) with its last row
		local size last
		size=$(wc -c <"$T/page")
		last=$(tail -n 1 "$T/page" | wc -c)
		((size > 3968 && size - last <= 3968)) ||
			fail "$name: $size bytes, last row $last: not one jiq page"
	done
	# The summary: rows, deltas and workers of each page.
	"$PY" - "$output" <<'EOF'
import re, sys
out = sys.argv[1]
seen = {}
for line in out.splitlines():
    m = re.match(r"^(\S+) +rows +(\d+)  deltas((?: \d+x\d+)+)  workers (\d+) \((.*)\)$", line)
    if m:
        deltas = {int(d): int(c) for d, c in re.findall(r"(\d+)x(\d+)", m.group(3))}
        seen[m.group(1)] = (int(m.group(2)), deltas, int(m.group(4)), m.group(5))
want = {"jiqwq": "events", "jiqwqdelay": "events",
        "jiq/jiqwq": "jiq", "jiq/jiqwqdelay": "jiq"}
for name, queue in want.items():
    if name not in seen:
        sys.exit("no summary line for %s" % name)
    rows, deltas, nworkers, who = seen[name]
    if rows < 2 or sum(deltas.values()) != rows:
        sys.exit("%s: %d rows, deltas %r" % (name, rows, deltas))
    # LDD3: one worker prints every row, "events/N" on the shared queue
    if nworkers != 1 or not re.fullmatch(re.escape(queue) + r"/\d+", who):
        sys.exit("%s: workers %d (%s), want one %s/N" % (name, nworkers, who, queue))
    if name.endswith("jiqwqdelay"):
        # each step one jiffy after the previous: no 0, mostly exactly 1
        if 0 in deltas or deltas.get(1, 0) * 2 <= rows:
            sys.exit("%s: deltas %r, want 1 on (nearly) every row" % (name, deltas))
    else:
        # queued again at once: mostly 0 (a 1 where a tick fell between)
        if deltas.get(0, 0) * 2 <= rows:
            sys.exit("%s: deltas %r, want 0 on most rows" % (name, deltas))
print("summary ok:", seen)
EOF
	# our queue is gone again
	[[ ! -e "$MNT/jiq" ]]
}

# ---------------------------------------------------------------------------
# api-walk.sh (seeds 000, 001, 002)

@test "api-walk.sh: every step runs and returns what the kernel call returns" {
	run_bounded 120 "$EX/api-walk.sh" "$MNT"
	echo "$output"
	assert_success
	local step
	for step in 'create_workqueue("walk")' 'create_singlethread_workqueue("walk1")' \
		'queue_work(walk, &hello)' 'queue_work(walk, &work) with a fresh' \
		'already pending  -- returns false: EALREADY' 'queue_delayed_work(walk, &tick' \
		'cancel_delayed_work(&tick); flush_workqueue(walk)' 'single-thread queue' \
		'schedule_work(&work)' 'schedule_delayed_work(&late, 1)' \
		'flush_scheduled_work()' 'destroy_workqueue(walk)'; do
		assert_output --partial "$step"
	done
	assert_line --partial 'api walk done'
	# The results, in order: the only failures are the ones the kernel
	# returns as false or an error, each with its errno.
	"$PY" - "$output" <<'EOF'
import re, sys
lines = sys.argv[1].splitlines()
results = []
cmd = None
for line in lines:
    if line.startswith("$ "):
        cmd = line[2:]
    elif line.startswith("-> "):
        results.append((cmd, line[3:].split("   ")[0]))
bad = [(c, r) for c, r in results if r != "0"]
want = [
    ("echo 'hello:' > ", "EALREADY (Operation already in progress)"),
    ("echo 'tick: 2s' > ", "EALREADY (Operation already in progress)"),
    ("echo tick > ", "ESRCH (No such process)"),
    ("rmdir ", "EBUSY (Device or resource busy)"),
    ("rmdir ", "EBUSY (Device or resource busy)"),
]
if len(bad) != len(want) or any(not c.startswith(wc) or r != wr
                                for (c, r), (wc, wr) in zip(bad, want)):
    sys.exit("unexpected results:\n%s\nwant:\n%s" % (
        "\n".join("%s -> %s" % x for x in bad), "\n".join("%s... -> %s" % x for x in want)))
# the step with the frozen queue: first queue_work true, then false
i = [k for k, (c, r) in enumerate(results) if c.startswith("echo 'hello:' > ")]
if len(i) != 2 or results[i[0]][1] != "0" or results[i[1]][1] == "0":
    sys.exit("queue_work on a pending work: %r" % [results[k] for k in i])
print("%d calls, results as expected" % len(results))
EOF
	assert_output --partial 'hello from hello on walk'
	assert_output --partial 'one jiffy later'
	assert_output --regexp $'\n  id: w[0-9]+\n'
	assert_output --partial 'state: pending'
	assert_output --partial 'state: delayed'
	# hello ran twice, tick never
	assert_output --regexp $'runs: 2\n'
	assert_output --regexp $'runs: 0\n'
	refute_output --regexp $'\n  never\n'	# "late" was cancelled before it ran
	[[ ! -e "$MNT/walk" && ! -e "$MNT/walk1" && ! -e "$MNT/events/works/walk-late" ]]
}

# ---------------------------------------------------------------------------
# four-works.sh and four_works (seed 003)

# check_four_log LOG SECONDS - "init work" first, then the counter lines of
# work_func (a), dly_work_func (b), work1_func (c), dly_work1_func (d),
# each counter 0, 1, 2, ... without a gap, about once a second, then
# "cancel work" last.
check_four_log() {
	"$PY" - "$1" "$2" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
secs = int(sys.argv[2])
body = [re.sub(r"^\[[0-9.]+\] ", "", l) for l in lines]
if not body or body[0] != "init work":
    sys.exit("first line is not 'init work': %r" % body[:1])
if body[-1] != "cancel work":
    sys.exit("last line is not 'cancel work': %r" % body[-3:])
if body.count("cancel work") != 1:
    sys.exit("'cancel work' more than once")
counts = {}
for l in body[1:-1]:
    m = re.fullmatch(r"(work_func, a|dly_work_func, b|work1_func, c|dly_work1_func, d):(\d+)", l)
    if not m:
        sys.exit("not a counter line: %r" % l)
    got = counts.setdefault(m.group(1), [])
    got.append(int(m.group(2)))
for f in ("work_func, a", "dly_work_func, b", "work1_func, c", "dly_work1_func, d"):
    got = counts.get(f, [])
    if got != list(range(len(got))):
        sys.exit("%s: counters %r, want 0, 1, 2, ..." % (f, got))
    # once a second: at most secs + 2 runs; at least secs - 2, as a delayed
    # work can wait a second behind a plain one's msleep on the same CPU
    if not secs - 2 <= len(got) <= secs + 2:
        sys.exit("%s ran %d times in %d s, want about once a second" % (f, len(got), secs))
print({f: len(v) for f, v in counts.items()})
EOF
}

# four_works_check PROGRAM - run it for 5 s, check its log, wait 2 s and
# check that nothing was appended after "cancel work".
four_works_check() {
	run_bounded 60 "$1" "$MNT" 5 "$T/log"
	echo "$output"
	assert_success
	check_four_log "$T/log" 5
	# it printed its log (dmesg)
	assert_equal "$output" "$(cat "$T/log")"
	cp "$T/log" "$T/log.then"
	sleep 2
	cmp "$T/log.then" "$T/log" || fail "lines were logged after 'cancel work'"
	check_four_log "$T/log" 5
	# the queue is destroyed, the shared queue's two works forgotten
	[[ ! -e "$MNT/test" ]]
	[[ ! -e "$MNT/events/works/work" && ! -e "$MNT/events/works/dly_work" ]]
	# and nothing is left pending or running anywhere
	assert_equal "$(q_get events pending) $(q_get events delayed) $(q_get events running)" "0 0 0"
}

@test "four-works.sh: a, b, c, d count 0, 1, 2, ... once a second; nothing after 'cancel work'" {
	four_works_check "$EX/four-works.sh"
}

@test "four_works (C): a, b, c, d count 0, 1, 2, ... once a second; nothing after 'cancel work'" {
	local exe
	exe=$(c_example four_works)
	four_works_check "$exe"
}

# ---------------------------------------------------------------------------
# my_work (seed 004)

@test "my_work (C): prints my_work.data = 42 once, destroys my_queue, exits 0" {
	local exe
	exe=$(c_example my_work)
	run_bounded 60 "$exe" "$MNT"
	echo "$output"
	assert_success
	assert_equal "$(grep -c 'my_work.data = 42' <<<"$output")" 1
	assert_line 'my_work.data = 42'
	assert_line --regexp '^queue_work\(my_wq, work\): queued as w[0-9]+, data 42$'
	assert_line --partial 'flush_workqueue(my_wq): done'
	assert_line --partial 'destroy_workqueue(my_wq): rmdir'
	[[ ! -e "$MNT/my_queue" ]]
	# run again: the name is free, the queue can be made again
	run_bounded 60 "$exe" "$MNT"
	assert_success
	[[ ! -e "$MNT/my_queue" ]]
}

@test "my_work (C): an error is reported with its call and errno, exit status 1" {
	local exe
	exe=$(c_example my_work)
	mkdir "$MNT/my_queue"			# the name is taken
	run_bounded 60 "$exe" "$MNT"
	assert_failure 1
	assert_output --partial 'create_workqueue: mkdir'
	assert_output --partial 'File exists'
}

# ---------------------------------------------------------------------------
# trace_summary.py

# last_table FILE - the last table trace_summary.py printed, "queue cols..."
last_table() {
	awk '/^--- [0-9.]+ s:/ { n = 0; delete t; next }
	     /^--- end/ { for (i = 1; i <= n; i++) print t[i]; exit }
	     { t[++n] = $0 }' "$1" | awk 'NR > 1 { $1 = $1; print }'
}

@test "trace_summary.py: started, finished, failed and running per queue" {
	bg "$PY" "$EX/trace_summary.py" "$MNT" --seconds 6
	local pid=$BG_PID out="$T/bg.0.out"
	# the trace is open once the first table is out
	wait_for 10 grep -q '^--- ' "$out"
	mkdir "$MNT/q" "$MNT/r"
	printf '%s\n' true true true 'exit 3' 'exit 3' >"$MNT/q/submit"
	echo 'long: sleep 30' >"$MNT/r/submit"
	flushq q
	wait_for 10 w_state_is r long running
	wait_bg 15 "$pid"
	assert_equal "$bg_status" 0
	cat "$out"
	grep -q '^--- end$' "$out" || fail "no final table"
	run last_table "$out"
	echo "$output"
	#                queued started finished failed running cancel
	assert_line 'q 5 5 3 2 0 0'
	assert_line 'r 1 1 0 0 1 0'
	assert_equal "${#lines[@]}" 2
	echo long >"$MNT/r/cancel" || true	# stop sleep 30 (ENOENT: it ran)
}

# ---------------------------------------------------------------------------
# trace_to_perfetto.py

@test "trace_to_perfetto.py: valid JSON, one track per worker, X slices with dur >= 0" {
	# Capture MNT/trace for 5 s; "ready" once it is open.
	bg "$PY" -c '
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
open(sys.argv[3], "w").close()
end = time.monotonic() + 5
p = select.poll(); p.register(fd, select.POLLIN)
with open(sys.argv[2], "wb") as out:
    while time.monotonic() < end:
        if p.poll(100):
            try:
                out.write(os.read(fd, 65536))
            except BlockingIOError:
                pass
' "$MNT/trace" "$T/capture" "$T/ready"
	local pid=$BG_PID
	wait_for 10 test -e "$T/ready"
	mkdir "$MNT/a" "$MNT/b"
	echo 0 >"$MNT/b/per_cpu"		# unbound: one pool, workers "b/u"
	printf '%s\n' 'sleep 0.2' 'sleep 0.2' 'sleep 0.1' 'sleep 0.1' >"$MNT/a/submit"
	printf '%s\n' 'sleep 0.1' 'exit 2' 'true' >"$MNT/b/submit"
	echo true >"$MNT/events/submit"
	flushq a
	flushq b
	flushq events
	wait_bg 15 "$pid"
	assert_equal "$bg_status" 0
	cat "$T/capture"
	run_bounded 30 "$PY" "$EX/trace_to_perfetto.py" "$T/capture" -o "$T/run.json"
	assert_success
	run timeout 30 "$PY" -m json.tool "$T/run.json"
	assert_success
	"$PY" - "$T/capture" "$T/run.json" <<'EOF'
import json, sys
starts = []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 10 and f[-2] == "start":
        starts.append((int(f[3]), " ".join(f[5:-4]), f[-4], f[-3]))
if len(starts) != 8:
    sys.exit("capture has %d start rows, want 8 (4 on a, 3 on b, 1 on events)" % len(starts))
workers = {tid: comm for tid, comm, _, _ in starts}
doc = json.load(open(sys.argv[2]))
ev = doc["traceEvents"]
xs = [e for e in ev if e["ph"] == "X"]
names = {e["tid"]: e["args"]["name"] for e in ev
         if e["ph"] == "M" and e["name"] == "thread_name"}
if len(xs) != 8:
    sys.exit("%d X events, want 8" % len(xs))
if any(e["dur"] < 0 or e.get("args", {}).get("unfinished") for e in xs):
    sys.exit("an X event has dur < 0 or is unfinished: %r" % xs)
if {e["tid"] for e in xs} != set(workers):
    sys.exit("tracks %r != workers %r" % (sorted({e['tid'] for e in xs}), sorted(workers)))
if names != workers:
    sys.exit("thread names %r != workers %r" % (names, workers))
per_queue = {}
for e in xs:
    per_queue[e["cat"]] = per_queue.get(e["cat"], 0) + 1
if per_queue != {"a": 4, "b": 3, "events": 1}:
    sys.exit("slices per queue %r" % per_queue)
for tid, comm in workers.items():
    q = comm.split("/")[0]
    if q not in ("a", "b", "events"):
        sys.exit("worker %d is named %r" % (tid, comm))
exits = sorted(e["args"]["exit"] for e in xs if e["cat"] == "b")
if exits.count("0") != 2 or len(exits) != 3:
    sys.exit("exit statuses on b: %r" % exits)
print("%d slices on %d worker tracks" % (len(xs), len(workers)))
EOF
}

# ---------------------------------------------------------------------------
# submit_wait.py

@test "submit_wait.py: queues a command, waits for it, prints its output and exits with its status" {
	mkdir "$MNT/q"
	export GREETING=from-the-caller
	cd "$T"
	run "$PY" "$EX/submit_wait.py" "$MNT/q" 'sleep 0.3; echo "$GREETING in $(pwd)"; exit 3'
	assert_equal "$status" 3
	assert_output "from-the-caller in $T"
	# the work it made, by the id it read back
	run cat "$MNT/q/list"
	assert_line --regexp "^w1 +failed +3 +1 "
	run "$PY" "$EX/submit_wait.py" "$MNT/q" 'echo second'
	assert_success
	assert_output second
}

# ---------------------------------------------------------------------------
# wq-tour.sh

@test "wq-tour.sh: the environment, exact arguments, -w's exit status, EALREADY, -c, -a; the queue is gone" {
	[[ -x "${WQ_BIN:-}" ]] || fail "WQ_BIN='${WQ_BIN:-}' is not the built wq"
	run_bounded 60 "$EX/wq-tour.sh" "$MNT"
	echo "$output"
	assert_success
	# the builtin echo's work misses the exported variable, wq's has it
	assert_output --partial $'  []\n  [hello from the tour]\n-> exit 0\n'
	assert_output --partial $'  <two words>\n  <it\'s>\n  <$HOME>\n  <*>\n-> exit 0\n'
	assert_line "  command: 'printf' '<%s>\\n' 'two words' 'it'\\''s' '\$HOME' '*'"
	assert_output --regexp $'\n\\$ wq -q tour -w w[0-9]+\n-> exit 3\n'
	assert_output --partial $'  wq: write '"$MNT"$'/tour/delay: Operation already in progress\n-> exit 3\n'
	assert_output --partial $'$ wq -q tour -c count\n  1\n  2\n  3\n-> exit 0\n'
	assert_output --partial $'/tour/works/second/output\n  first\n  second\n-> exit 0\n'
	assert_output --partial $'$ rmdir '"$MNT"$'/tour\n-> exit 0\n\nwq tour done'
	[[ ! -e "$MNT/tour" ]]
}

# ---------------------------------------------------------------------------
# The man page's EXAMPLES, as a reader would type them

@test "wqfs.1 EXAMPLES: every line succeeds on a mount; the output cat prints is tick's date" {
	local page="$BATS_TEST_DIRNAME/../fs/wqfs.1.scd" script="$T/examples.sh"
	# the first block after "# EXAMPLES", without its mount and unmount lines
	# (this test mounts), on this test's mount; the trace read bounded at 1 s
	awk '/^# EXAMPLES/ { on = 1 } on && /^```/ { n++; next } on && n == 1' "$page" |
		grep -v -e '^wqfs ' -e '^fusermount3' |
		sed -e "s|/run/wqfs|$MNT|g" -e 's/timeout 5 /timeout 1 /' >"$script"
	(($(wc -l <"$script") >= 8)) || fail "EXAMPLES not found in $page: $(cat "$script")"
	mkdir -p "$T/home/src"
	printf 'all:\n\t@echo made\n' >"$T/home/src/Makefile"
	# each line as typed: stop at the first that fails (timeout's 124 is the end of a read)
	run_bounded 60 env HOME="$T/home" bash -c '
		while IFS= read -r line; do
			echo "$ $line"
			eval "$line"
			rc=$?
			[ $rc = 0 ] || [ $rc = 124 ] || { echo "-> exit $rc"; exit 1; }
		done <"$1"' sh "$script"
	assert_success
	# what cat printed of works/tick/output: one date line, tick ran
	local tick
	tick=$(grep -A1 -F "cat $MNT/build/works/tick/output" <<<"$output" | sed -n 2p)
	[[ "$tick" =~ [0-9]{2}:[0-9]{2}:[0-9]{2} ]] || fail "tick's output: '$tick'; all: $output"
	[[ ! -e "$MNT/build" ]] || fail "the example's queue is still there"
}
