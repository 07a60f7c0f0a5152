#!/usr/bin/env bats
# trace.bats - the trace streams: rows, order, O_NONBLOCK, poll, lost rows.

load bats/common

# trace_run FILE UNTIL CMD - open the trace FILE, run the shell command CMD,
# then read (blocking) until a row matches the regex UNTIL (30 s bound).
# Checks the header and every row byte-exactly against the README's
# format and prints the rows, one per line, as
# "time delta preempt pid cpu command queue work event exit".
TRACE_PY='
import os, re, signal, subprocess, sys
path, until, cmd = sys.argv[1:4]
class Timeout(Exception): pass
def alarm(*a): raise Timeout()
signal.signal(signal.SIGALRM, alarm)
fd = os.open(path, os.O_RDONLY)
subprocess.run(["sh", "-c", cmd], check=True, timeout=60)
signal.alarm(30)
buf = b""
until_rx = re.compile(until)
try:
    while True:
        b = os.read(fd, 65536)
        if not b:
            sys.exit("EOF on trace")
        buf += b
        if any(until_rx.search(l) for l in buf.decode().split("\n")[:-1]):
            break
except Timeout:
    sys.exit("no row matching %r within 30 s; got:\n%s" % (until, buf.decode()))
signal.alarm(0)
text = buf.decode()
lines = text.split("\n")
if lines[-1] != "":
    sys.exit("a read ended inside a row: %r" % lines[-1])
lines = lines[:-1]
hdr = "    time  delta preempt   pid cpu command queue work event exit"
if not re.match(r"^ +time +delta +preempt +pid +cpu +command +queue +work +event +exit$", lines[0]):
    sys.exit("bad header %r" % lines[0])
rx = re.compile(r"^ *(-?\d+)  +(-?\d+)     +(-?\d+) +(-?\d+) +(-?\d+) (\S+) (\S+) (\S+) (\S+) (\S+)$")
prev = None
for line in lines[1:]:
    m = rx.match(line)
    if not m:
        sys.exit("row does not parse: %r" % line)
    t, d, p, pid, cpu = (int(x) for x in m.groups()[:5])
    cmd, q, w, ev, ex = m.groups()[5:]
    again = "%9d  %4d     %3d %5d %3d %s %s %s %s %s" % (t, d, p, pid, cpu, cmd, q, w, ev, ex)
    if again != line:
        sys.exit("row not in the jiq format:\n%r\n%r" % (line, again))
    if ev not in ("queued", "delayed", "start", "end", "cancel"):
        sys.exit("unknown event in %r" % line)
    if (ev == "end") != (ex != "-"):
        sys.exit("exit column in %r" % line)
    if p != 0:
        sys.exit("preempt is not 0 in %r" % line)
    if prev is not None and (t < prev or d != t - prev):
        sys.exit("time/delta inconsistent at %r (previous time %d)" % (line, prev))
    prev = t
    print(t, d, p, pid, cpu, cmd, q, w, ev, ex)
'

trace_run() {
	timeout -s KILL 120 "$PY" -c "$TRACE_PY" "$@"
}

# events_of WORK - the event column of WORK's rows in $output, space-separated
events_of() {
	awk -v w="$1" '$8 == w { printf "%s ", $9 }' <<<"$output"
}

@test "a queue's trace shows queued, start and end of a work submitted after open" {
	mkdir "$MNT/q"
	run trace_run "$MNT/q/trace" ' t end ' "echo 't: true' > '$MNT/q/submit'"
	assert_success
	assert_equal "$(events_of t)" "queued start end "
	local line
	line=$(awk '$8 == "t" && $9 == "start"' <<<"$output")
	local t d p pid cpu cmd q w ev ex
	read -r t d p pid cpu cmd q w ev ex <<<"$line"
	assert_equal "$q" q
	((cpu < $(nproc)))
	# the worker that ran it: a thread of the daemon named q/CPU
	assert_equal "$cmd" "q/$cpu"
	[ -d "/proc/$WQFS_PID/task/$pid" ] || fail "pid $pid is not a thread of wqfs"
	line=$(awk '$8 == "t" && $9 == "end"' <<<"$output")
	read -r t d p pid cpu cmd q w ev ex <<<"$line"
	assert_equal "$ex" 0
}

@test "the trace starts at open: earlier works do not appear" {
	mkdir "$MNT/q"
	echo "before: true" >"$MNT/q/submit"
	flushq q
	run trace_run "$MNT/q/trace" ' after end ' "echo 'after: true' > '$MNT/q/submit'"
	assert_success
	assert_equal "$(events_of before)" ""
	assert_equal "$(events_of after)" "queued start end "
}

@test "the end row carries the exit status" {
	mkdir "$MNT/q"
	run trace_run "$MNT/q/trace" ' e end ' "echo 'e: exit 3' > '$MNT/q/submit'"
	assert_success
	run awk '$8 == "e" && $9 == "end" { print $10 }' <<<"$output"
	assert_output 3
}

@test "delayed and cancelled works show delayed and cancel events" {
	mkdir "$MNT/q"
	run trace_run "$MNT/q/trace" ' c cancel ' "echo 'c: 100s true' > '$MNT/q/delay'; echo c > '$MNT/q/cancel'"
	assert_success
	assert_equal "$(events_of c)" "delayed cancel "
	run trace_run "$MNT/q/trace" ' d end ' "echo 'd: 20ms true' > '$MNT/q/delay'"
	assert_success
	run events_of d
	assert_output --regexp '^delayed (queued )?start end $'
}

@test "a queue's trace shows only that queue; the root trace shows all" {
	mkdir "$MNT/a" "$MNT/b"
	run trace_run "$MNT/a/trace" ' x end ' "echo 'y: true' > '$MNT/b/submit'; echo > '$MNT/b/flush'; echo 'x: true' > '$MNT/a/submit'"
	assert_success
	assert_equal "$(events_of y)" ""
	run trace_run "$MNT/trace" ' x2 end ' "echo 'y2: true' > '$MNT/b/submit'; echo > '$MNT/b/flush'; echo 'x2: true' > '$MNT/a/submit'"
	assert_success
	assert_equal "$(events_of y2)" "queued start end "
	assert_equal "$(events_of x2)" "queued start end "
	run awk '$8 == "y2" { print $7 }' <<<"$output"
	assert_output $'b\nb\nb'
}

@test "events come in order for works in sequence" {
	mkdir "$MNT/q"
	run trace_run "$MNT/q/trace" ' c end ' "printf 'a: true\nb: true\nc: true\n' > '$MNT/q/submit'"
	assert_success
	# each work starts after it was queued and ends after it started; the
	# works of one write on one CPU run in order
	run awk '$9 == "start" || $9 == "end" { printf "%s.%s ", $8, $9 }' <<<"$output"
	assert_output "a.start a.end b.start b.end c.start c.end "
}

@test "O_NONBLOCK read with nothing new is EAGAIN" {
	mkdir "$MNT/q"
	run timeout -s KILL 60 "$PY" -c '
import errno, os, subprocess, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
subprocess.run(["sh", "-c", "echo true > \"$0/submit\"; echo > \"$0/flush\"", sys.argv[2]], check=True)
data = b""
deadline = time.time() + 20
while b" end " not in data and time.time() < deadline:
    try:
        data += os.read(fd, 65536)
    except BlockingIOError:
        time.sleep(0.05)
if b" end " not in data:
    sys.exit("never saw the end row: %r" % data)
time.sleep(0.2)
# drain whatever else is there, then nothing new: EAGAIN
while True:
    try:
        if not os.read(fd, 65536):
            sys.exit("EOF")
    except BlockingIOError:
        break
try:
    b = os.read(fd, 65536)
    sys.exit("read returned %r instead of EAGAIN" % b)
except OSError as e:
    print(errno.errorcode[e.errno])
' "$MNT/q/trace" "$MNT/q"
	assert_success
	assert_output EAGAIN
}

@test "select waits while nothing happens and wakes on a new event" {
	mkdir "$MNT/q"
	run timeout -s KILL 60 "$PY" -c '
import os, select, subprocess, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
def drain():
    n = 0
    while True:
        try:
            b = os.read(fd, 65536)
            if not b:
                sys.exit("EOF")
            n += len(b)
        except BlockingIOError:
            return n
drain()
t0 = time.time()
r, _, _ = select.select([fd], [], [], 0.7)
if r:
    sys.exit("select said readable with nothing new (%r)" % drain())
if time.time() - t0 < 0.6:
    sys.exit("select returned early")
p = subprocess.Popen(["sh", "-c", "sleep 0.5; echo true > \"$0/submit\"", sys.argv[2]])
t0 = time.time()
r, _, _ = select.select([fd], [], [], 15)
dt = time.time() - t0
p.wait()
if not r:
    sys.exit("select did not wake within 15 s")
if dt < 0.3:
    sys.exit("select woke before the event (%.2f s)" % dt)
if drain() == 0:
    sys.exit("readable but nothing to read")
poller = select.poll()
poller.register(fd, select.POLLIN)
print("ok %.1f" % dt, file=sys.stderr)
print("woke")
' "$MNT/q/trace" "$MNT/q"
	assert_success
	assert_line woke
}

@test "a reader that never reads: the daemon stays responsive and the reader gets '# lost N rows'" {
	watchdog_start 450
	mkdir "$MNT/many" "$MNT/other"
	echo 0 >"$MNT/many/per_cpu"
	echo 16 >"$MNT/many/max_active"
	bg "$PY" -c '
import os, sys, time
fd = os.open(sys.argv[1] + "/trace", os.O_RDONLY | os.O_NONBLOCK)
open(sys.argv[2] + "/opened", "w").close()
while not os.path.exists(sys.argv[2] + "/go"):
    time.sleep(0.1)
data = b""
while True:
    try:
        b = os.read(fd, 65536)
        if not b:
            break
        data += b
    except BlockingIOError:
        break
open(sys.argv[2] + "/got", "wb").write(data)
open(sys.argv[2] + "/done", "w").close()
' "$MNT" "$T"
	wait_for 10 test -e "$T/opened"
	"$PY" -c 'import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY); d=b"true\n"*10000
while d: d = d[os.write(fd, d):]' "$MNT/many/submit"
	# the engine goes on, and other queues answer at once
	local i t0 t1
	for i in 1 2 3; do
		t0=$(date +%s%N)
		run timeout 20 sh -c "echo 'echo $i > \"$T/o$i\"' > '$MNT/other/submit'; echo > '$MNT/other/flush'"
		t1=$(date +%s%N)
		assert_success
		file_has "$T/o$i" "$i"
		((t1 - t0 < 10000000000)) || fail "submit+flush took $(((t1 - t0) / 1000000)) ms"
	done
	wait_for 300 sh -c "[ \"\$(sed -n 's/^completed: //p' '$MNT/many/status')\" = 10000 ]"
	touch "$T/go"
	wait_for 30 test -e "$T/done"
	run grep -E '^# lost [0-9]+ rows$' "$T/got"
	assert_success
	local lost
	lost=$(sed -n 's/^# lost \([0-9]*\) rows$/\1/p' "$T/got" | head -n 1)
	((lost > 0)) || fail "lost $lost rows"
	# what the reader kept is bounded by trace_buffer (64 KiB)
	local size
	size=$(wc -c <"$T/got")
	((size <= 65536 + 4096)) || fail "the reader got $size bytes"
	daemon_alive
}

@test "many readers open and close the trace while works run" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 4 >"$MNT/q/max_active"
	local i pids=()
	for i in $(seq 1 50); do
		timeout 5 head -c 100 "$MNT/trace" >/dev/null 2>&1 3>&- &
		pids+=($!)
		echo true >"$MNT/q/submit"
	done
	wait "${pids[@]}" || true
	flushq q
	daemon_alive
}
