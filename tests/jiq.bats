#!/usr/bin/env bats
# jiq.bats - jiqwq and jiqwqdelay, LDD3's jiq module, at the root and in a queue.

load bats/common

# jiq_check FILE KIND WORKER [HZ] - KIND is jiqwq or jiqwqdelay, WORKER the
# queue whose workers must show in the command column (events or a name).
jiq_check() {
	local f=$1 kind=$2 worker=$3 hz=${4:-250}
	jiq_parse "$f" >"$f.rows" || return 1
	"$PY" - "$f" "$f.rows" "$kind" "$worker" "$hz" "$WQFS_PID" "$(nproc)" <<'EOF'
import os, sys
f, rowsf, kind, worker, hz, dpid, ncpu = sys.argv[1:]
hz, ncpu = int(hz), int(ncpu)
text = open(f, "rb").read()
rows = [l.split() for l in open(rowsf).read().splitlines()]
last = text.rstrip(b"\n").rsplit(b"\n", 1)[1] + b"\n"
LIMIT = 4096 - 128
if not (LIMIT < len(text) <= LIMIT + len(last)):
    sys.exit("%d bytes: jiq stops once the text passes %d" % (len(text), LIMIT))
if len(rows) < 10:
    sys.exit("only %d rows" % len(rows))
prev = None
deltas = []
for r in rows:
    t, d, p, pid, cpu = (int(x) for x in r[:5])
    cmd = r[5]
    if p != 0:
        sys.exit("preempt %d" % p)
    if prev is not None:
        if t < prev:
            sys.exit("time goes back: %d after %d" % (t, prev))
        if d != t - prev:
            sys.exit("delta %d but time moved by %d" % (d, t - prev))
    prev = t
    deltas.append(d)
    if not 0 <= cpu < ncpu:
        sys.exit("cpu %d" % cpu)
    if cmd != "%s/%d" % (worker, cpu):
        sys.exit("command %r on cpu %d, expected %s/%d" % (cmd, cpu, worker, cpu))
    if not os.path.isdir("/proc/%s/task/%d" % (dpid, pid)):
        sys.exit("pid %d is not a thread of the daemon" % pid)
if kind == "jiqwq":
    zero = sum(1 for d in deltas if d == 0)
    # Most rows: a loaded 2-core machine may preempt a worker for a jiffy.
    if any(d < 0 for d in deltas) or zero < 0.5 * len(deltas):
        sys.exit("jiqwq deltas: %r" % deltas)
    if sum(deltas[1:]) >= hz:
        sys.exit("a page of jiqwq took %d jiffies" % sum(deltas[1:]))
else:
    one = sum(1 for d in deltas if d == 1)
    if any(d < 1 for d in deltas) or one < 0.5 * len(deltas):
        sys.exit("jiqwqdelay deltas: %r" % deltas)
print(len(rows))
EOF
}

@test "cat jiqwq at the root: the LDD3 page, on the events workers" {
	timeout 30 cat "$MNT/jiqwq" >"$T/jiq"
	run head -n 1 "$T/jiq"
	assert_output "    time  delta preempt   pid cpu command"
	run jiq_check "$T/jiq" jiqwq events
	assert_success
}

@test "cat jiqwqdelay at the root: one jiffy between rows" {
	timeout 60 cat "$MNT/jiqwqdelay" >"$T/jiq"
	run head -n 1 "$T/jiq"
	assert_output "    time  delta preempt   pid cpu command"
	run jiq_check "$T/jiq" jiqwqdelay events
	assert_success
}

@test "cat jiqwq in a queue runs on that queue's workers, on one CPU" {
	mkdir "$MNT/myq"
	timeout 30 cat "$MNT/myq/jiqwq" >"$T/jiq"
	run jiq_check "$T/jiq" jiqwq myq
	assert_success
	# a work re-queued by itself stays on its CPU
	run sh -c "tail -n +2 '$T/jiq' | awk '{print \$5}' | sort -u | wc -l"
	assert_output 1
}

@test "cat jiqwqdelay in a queue" {
	mkdir "$MNT/myq"
	timeout 60 cat "$MNT/myq/jiqwqdelay" >"$T/jiq"
	run jiq_check "$T/jiq" jiqwqdelay myq
	assert_success
}

@test "the time column counts jiffies at -o hz" {
	wqfs_remount -o hz=100
	local t0 t1
	t0=$(date +%s%N)
	timeout 60 cat "$MNT/jiqwqdelay" >"$T/jiq"
	t1=$(date +%s%N)
	run jiq_check "$T/jiq" jiqwqdelay events 100
	assert_success
	local rows=$output
	# each row waited a jiffy of 10 ms at least
	((t1 - t0 >= (rows - 1) * 10000000)) ||
		fail "$rows rows in $(((t1 - t0) / 1000000)) ms"
}

@test "two readers at once each get a whole page" {
	mkdir "$MNT/q"
	timeout 60 cat "$MNT/q/jiqwqdelay" >"$T/a" &
	local p1=$!
	timeout 60 cat "$MNT/q/jiqwqdelay" >"$T/b"
	wait "$p1"
	run jiq_check "$T/a" jiqwqdelay q
	assert_success
	run jiq_check "$T/b" jiqwqdelay q
	assert_success
}

@test "a jiqwqdelay reader interrupted by SIGINT gets EINTR and the demo stops" {
	wqfs_remount -o hz=10
	mkdir "$MNT/q"
	bg_intr "$T/read.res" read "$MNT/q/jiqwqdelay"
	local rpid=$BG_PID
	sleep 1
	kill -0 "$rpid"
	kill -INT "$rpid"
	wait_exit 3 "$rpid"
	assert_equal "$WAIT_STATUS" 0
	run cat "$T/read.res"
	assert_output EINTR
	# the built-in work was cancelled: nothing runs on q any more
	run timeout -s KILL 10 "$PY" -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
time.sleep(1.5)
data = b""
try:
    data = os.read(fd, 65536)
except BlockingIOError:
    pass
rows = [l for l in data.decode().splitlines()[1:] if l.strip()]
if rows:
    sys.exit("the queue still works after the reader left:\n" + "\n".join(rows))
' "$MNT/q/trace"
	assert_success
	run q_get q running
	assert_output 0
	run q_get q delayed
	assert_output 0
	# and the daemon is healthy
	timeout 30 cat "$MNT/q/jiqwq" >"$T/jiq"
	run jiq_check "$T/jiq" jiqwq q 10
	assert_success
	daemon_alive
}

@test "a reader killed mid-read leaves the daemon healthy" {
	wqfs_remount -o hz=10
	run timeout -s KILL 1 cat "$MNT/jiqwqdelay"
	assert_failure
	daemon_alive
	echo "echo ok > '$T/ok'" >"$MNT/events/submit"
	flushq events
	file_has "$T/ok" ok
	timeout 30 cat "$MNT/jiqwq" >"$T/jiq"
	run jiq_check "$T/jiq" jiqwq events 10
	assert_success
}
