#!/usr/bin/env bats
# hostile.bats - hostile input and hostile load: every one gets its
# documented errno or result, and the daemon stays alive and correct after.

load bats/common

# py_write FILE [OFFSET] -- CHUNK... : open FILE read-write, write each CHUNK
# (Python bytes literal body, e.g. 'ec' or 'a\\x00b\\n') with one write(2)
# (pwrite at OFFSET when OFFSET is given), then read back the reply.  Prints
# per write "OK ids=w1,w2" or the errno name, then "CLOSE OK|ERRNO".
py_write() {
	timeout -s KILL "$WQ_TIMEOUT" "$PY" - "$@" <<'EOF'
import errno, os, sys, ast
path = sys.argv[1]
args = sys.argv[2:]
off = None
if args[0] != "--":
    off = int(args[0]); args = args[1:]
args = args[1:]
fd = os.open(path, os.O_RDWR)
out = []
for a in args:
    data = ast.literal_eval("b'''" + a + "'''")
    try:
        n = os.pwrite(fd, data, off) if off is not None else os.write(fd, data)
        r = os.read(fd, 4096).decode().split()
        out.append(("OK" if n == len(data) else "SHORT %d" % n) + " ids=" + ",".join(r))
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
try:
    os.close(fd); out.append("CLOSE OK")
except OSError as e:
    out.append("CLOSE " + errno.errorcode.get(e.errno, str(e.errno)))
print("\n".join(out))
EOF
}

# queue_threads - the daemon's worker threads of queues other than events
# (named QUEUE/CPU); FUSE's own threads (wqfs, at most max_threads) and
# wq/timer, wqfs-resume are not counted.
queue_threads() {
	local t n=0 c
	for t in /proc/"$WQFS_PID"/task/*; do
		c=$(cat "$t/comm" 2>/dev/null) || continue
		case $c in wq/timer | events/* | wqfs | wqfs-*) ;; */*) n=$((n + 1)) ;; esac
	done
	echo "$n"
}
no_queue_threads() { [[ $(queue_threads) == 0 ]]; }

@test "a line of 64 KiB is taken; 64 KiB + 1 and 1 MiB in one write(2) are E2BIG" {
	mkdir "$MNT/q"
	run "$PY" -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for n in (65536, 65537, 1 << 20):
    cmd = b"true " + b"x" * (n - 5)          # a line of exactly n bytes
    assert len(cmd) == n
    try:
        r = os.write(fd, cmd + b"\n")
        print(n, "OK" if r == n + 1 else "SHORT %d" % r)
    except OSError as e:
        print(n, errno.errorcode[e.errno])
' "$MNT/q/submit"
	assert_line "65536 OK"
	assert_line "65537 E2BIG"
	assert_line "1048576 E2BIG"
	flushq q
	# exactly one work was queued: the 64 KiB one, and it ran
	assert_equal "$(q_get q completed)" 1
	assert_equal "$(q_get q failed)" 0
	healthy q
}

@test "a NUL byte in a line is EINVAL; invalid UTF-8 in a command is run as bytes" {
	mkdir "$MNT/q"
	run py_write "$MNT/q/submit" -- 'nul: echo a\x00b\n'
	assert_line EINVAL
	[ ! -e "$MNT/q/works/nul" ]
	run py_write "$MNT/q/submit" -- "u8: printf '%s' '\\xff\\xfe\\xc3' > $T/u8\\n"
	assert_line --regexp '^OK ids=u8$'
	flushq q
	assert_equal "$(w_get q u8 last_exit)" 0
	assert_equal "$(od -An -tx1 "$T/u8" | tr -d ' \n')" fffec3
	healthy q
}

@test "queue names: blanks, '.x', 65 characters, ':' and non-ASCII are EINVAL; 64 and '-x' are fine" {
	local n65 n64
	n65=$(printf 'a%.0s' {1..65})
	n64=$(printf 'b%.0s' {1..64})
	for n in "q w" ".x" "$n65" "a:b" "é" "tab	x"; do
		run "$PY" -c 'import os, sys, errno
try: os.mkdir(sys.argv[1]); print("OK")
except OSError as e: print(errno.errorcode[e.errno])' "$MNT/$n"
		assert_output EINVAL
	done
	# '..' and '.' exist already (VFS); '/' cannot reach the daemon
	run "$PY" -c 'import os, sys, errno
for p in (sys.argv[1] + "/..", sys.argv[1] + "/.", sys.argv[1] + "/nosuch/x"):
    try: os.mkdir(p); print("OK")
    except OSError as e: print(errno.errorcode[e.errno])' "$MNT"
	assert_output $'EEXIST\nEEXIST\nENOENT'
	mkdir "$MNT/$n64" "$MNT/-x"
	[ -d "$MNT/$n64" ]
	run ls "$MNT"
	refute_line --partial "aaaaaaaaaa"
	healthy "$n64"
	healthy -x
}

@test "NAME: lines: '.x' and '..' are EINVAL; '/', blanks, 65 characters make no NAME (the line is a command)" {
	mkdir "$MNT/q"
	local n65
	n65=$(printf 'a%.0s' {1..65})
	run py_write "$MNT/q/submit" -- '.x: true\n'
	assert_line EINVAL
	run py_write "$MNT/q/submit" -- '..: true\n'
	assert_line EINVAL
	# Not a NAME prefix (README "Works"): the whole line is the command of
	# an anonymous work, which runs and fails (no such program).
	local line ids
	for line in 'a/b: true' 'a b: true' "$n65: true"; do
		run py_write "$MNT/q/submit" -- "$line\\n"
		assert_line --regexp '^OK ids=w[0-9]+$'
		ids=$(sed -n 's/^OK ids=//p' <<<"$output")
		flushq q
		assert_equal "$(w_get q "$ids" command)" "$line"
		assert_equal "$(w_get q "$ids" last_exit)" 127
	done
	run ls "$MNT/q/works"
	refute_line a
	refute_line "$n65"
	healthy q
}

@test "DELAY: overflow is ERANGE; sign, NaN, inf, exponent, unknown unit are EINVAL; '1 s' is 1 second" {
	mkdir "$MNT/q"
	local d q0 d0
	for d in 99999999999999999999 18446744073709551616 9999999999999999999999999s 9000h \
		'9000 hours' '99999999999999999999 s'; do
		run py_write "$MNT/q/delay" -- "d: $d true\\n"
		assert_line ERANGE
	done
	for d in -1s -1 +1s NaN nan inf infs 1e99s 1e3s 0x10 1.5.5s 400d \
		5x 5secs2 1.5q 5Sec 5days '-1 s' '1.5 x' '1e3 s'; do
		run py_write "$MNT/q/delay" -- "d: $d true\\n"
		assert_line EINVAL
	done
	[ ! -e "$MNT/q/works/d" ]
	run write_errno "$MNT/q/submit" "m: true"
	assert_output OK
	flushq q
	for d in 99999999999999999999 9000h '9000 hours'; do
		run py_write "$MNT/q/modify" -- "m: $d\\n"
		assert_line ERANGE
	done
	for d in -1s NaN inf 1e99s 5x 5secs2 1.5q '1 x' '1 s s' '1 S' 1.5; do
		run py_write "$MNT/q/modify" -- "m: $d\\n"
		assert_line EINVAL
	done
	assert_equal "$(w_get q m state)" done
	# '1 s' is one second (250 jiffies at hz 250), in modify ...
	run py_write "$MNT/q/modify" -- 'm: 1 s\n'
	assert_line --regexp '^OK'
	assert_equal "$(w_get q m state)" delayed
	q0=$(time_ms "$(w_get q m queued_at)")
	d0=$(time_ms "$(w_get q m due_at)")
	((d0 - q0 == 1000)) || fail "m: due in $((d0 - q0)) ms"
	# ... and in delay, where alone it has no command: EINVAL for an
	# anonymous work, ENOENT for an undeclared NAME
	run py_write "$MNT/q/delay" -- '1 s\n'
	assert_line EINVAL
	run py_write "$MNT/q/delay" -- 'sp: 1 s\n'
	assert_line ENOENT
	[ ! -e "$MNT/q/works/sp" ]
	# A command named like a unit follows the unit, or is quoted after
	# jiffies ("1 s" would be a second)
	run py_write "$MNT/q/delay" -- 'sp: 1 s s\n'
	assert_line 'OK ids=sp'
	assert_equal "$(w_get q sp state)" delayed
	run py_write "$MNT/q/delay" -- 'sq: 1 "s"\n'
	assert_line 'OK ids=sq'
	wait_for 10 w_state_is q sq failed
	assert_equal "$(w_get q sq command)" '"s"'
	assert_equal "$(w_get q sq last_exit)" 127
	wait_for 10 w_state_is q sp failed
	assert_equal "$(w_get q sp command)" s
	assert_equal "$(w_get q sp last_exit)" 127
	wait_for 10 w_state_is q m done
	assert_equal "$(w_get q m runs)" 2
	healthy q
}

@test "pwrite at offset 100 is a new set of lines; the offset is ignored" {
	mkdir "$MNT/q"
	run py_write "$MNT/q/submit" 100 -- 'po: echo pw\n'
	assert_line 'OK ids=po'
	assert_line 'CLOSE OK'
	flushq q
	assert_equal "$(cat "$MNT/q/works/po/output")" pw
	healthy q
}

@test "a line split across two write(2)s is two lines: 'ec' and 'ho hi' both run and fail 127" {
	mkdir "$MNT/q"
	run py_write "$MNT/q/submit" -- 'ec' 'ho hi\n'
	assert_line --index 0 --regexp '^OK ids=w[0-9]+$'
	assert_line --index 1 --regexp '^OK ids=w[0-9]+$'
	local a b
	a=$(sed -n '1s/^OK ids=//p' <<<"$output")
	b=$(sed -n '2s/^OK ids=//p' <<<"$output")
	[ "$a" != "$b" ]
	flushq q
	assert_equal "$(w_get q "$a" command)" ec
	assert_equal "$(w_get q "$a" last_exit)" 127
	assert_equal "$(w_get q "$b" command)" "ho hi"
	assert_equal "$(w_get q "$b" last_exit)" 127
	assert_equal "$(q_get q failed)" 2
	healthy q
}

@test "10,000 queues: mkdir, list, rmdir all; none lost, no thread left" {
	run timeout -s KILL 90 "$PY" -c '
import errno, os, sys
m = sys.argv[1]
bad = {}
for i in range(10000):
    try: os.mkdir("%s/z%d" % (m, i))
    except OSError as e: bad[errno.errorcode[e.errno]] = bad.get(errno.errorcode[e.errno], 0) + 1
names = [n for n in os.listdir(m) if n.startswith("z")]
print("mkdir-errors", bad, "listed", len(names))
st = open(m + "/status").read().count("\n")
print("status-rows", st)
for i in range(10000):
    try: os.rmdir("%s/z%d" % (m, i))
    except OSError as e: bad[errno.errorcode[e.errno]] = bad.get(errno.errorcode[e.errno], 0) + 1
print("all-errors", bad, "left", len([n for n in os.listdir(m) if n.startswith("z")]))
' "$MNT"
	assert_success
	assert_line "mkdir-errors {} listed 10000"
	assert_line "all-errors {} left 0"
	# header + events + 10000 queues
	assert_line "status-rows 10002"
	wait_for 20 no_queue_threads
	mkdir "$MNT/q"
	healthy q
}

@test "max_works=1000: a frozen queue takes exactly 1000 works in batched writes, then ENOSPC" {
	wqfs_remount -o max_works=1000
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	run "$PY" -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
ok = 0
for b in range(10):
    n = os.write(fd, b"true\n" * 100)
    ok += n // 5
print("accepted", ok)
for line in (b"true\n", b"named: true\n"):
    try: os.write(fd, line); print("more OK")
    except OSError as e: print("more", errno.errorcode[e.errno])
# a batch that crosses the limit is a short write of the lines before it
' "$MNT/q/submit"
	assert_line "accepted 1000"
	assert_line "more ENOSPC"
	refute_line "more OK"
	assert_equal "$(q_get q pending)" 1000
	run write_errno "$MNT/q/delay" "1s true"
	assert_output ENOSPC
	echo 0 >"$MNT/q/frozen"
	flushq q
	assert_equal "$(q_get q completed)" 1000
	assert_equal "$(q_get q failed)" 0
	# finished anonymous works beyond keep_anon free their places
	healthy q
	# the default limit is documented
	run "$WQFS_BIN" --help
	assert_output --partial "max_works=N         works per queue (default 1048576; past it ENOSPC)"
}

@test "a batch crossing max_works is a short write of the lines before the limit" {
	# keep_anon=0: finished anonymous works do not count (with keep_anon
	# above max_works, the kept ones fill the queue: README "max_works")
	wqfs_remount -o max_works=10 -o keep_anon=0
	mkdir "$MNT/q"
	echo 1 >"$MNT/q/frozen"
	run "$PY" -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
print(os.write(fd, b"true\n" * 15))
try: os.write(fd, b"true\n"); print("OK")
except OSError as e: print(errno.errorcode[e.errno])
' "$MNT/q/submit"
	assert_output $'50\nENOSPC'
	assert_equal "$(q_get q pending)" 10
	echo 0 >"$MNT/q/frozen"
	flushq q
	healthy q
}

@test "16 processes submit 200 works each at once: all 3200 accepted and run" {
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 16 >"$MNT/q/max_active"
	local i
	for ((i = 0; i < 16; i++)); do
		bg "$PY" -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
ok = 0
for i in range(200):
    try:
        if os.write(fd, b"true\n") == 5: ok += 1
    except OSError as e:
        print("error", errno.errorcode[e.errno])
print("ok", ok)
' "$MNT/q/submit"
	done
	for ((i = 0; i < 16; i++)); do
		wait_for 60 grep -q '^ok' "$T/bg.$i.out"
		assert_equal "$(cat "$T/bg.$i.out")" "ok 200"
	done
	timeout -s KILL 100 sh -c 'echo > "$1"' sh "$MNT/q/flush"
	assert_equal "$(q_get q completed)" 3200
	assert_equal "$(q_get q failed)" 0
	assert_equal "$(q_get q started)" 3200
	healthy q
}

@test "trace readers that never read while 10,000 works run: memory bounded, daemon prompt" {
	# Under ASan, freed memory sits in a quarantine (256 MiB) and VmRSS
	# measures that, not the daemon: keep the quarantine small here.
	if ldd "$WQFS_BIN" | grep -q libasan; then
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
		wqfs_remount
	fi
	mkdir "$MNT/q"
	echo 0 >"$MNT/q/per_cpu"
	echo 8 >"$MNT/q/max_active"
	# warm up: threads, arenas
	run write_errno "$MNT/q/submit" "$(printf 'true\n%.0s' {1..200})"
	assert_output OK
	flushq q
	local r0 r1 r2 i
	r0=$(rss_kb)
	# 8 readers of the root trace and 8 of the queue's, never reading
	for ((i = 0; i < 8; i++)); do
		bg "$PY" -c 'import os, sys, time
a = os.open(sys.argv[1], os.O_RDONLY); b = os.open(sys.argv[2], os.O_RDONLY)
open(sys.argv[3], "w").write("open\n"); time.sleep(300)' "$MNT/trace" "$MNT/q/trace" "$T/r$i"
	done
	for ((i = 0; i < 8; i++)); do
		wait_for 10 test -s "$T/r$i"
	done
	# Two rounds of 5,000 works: unbounded rings would keep 16 x 5,000 x
	# 3 events of ~100 bytes (24 MB) per round.  The first round may grow
	# the allocator's arenas; the second must find memory at its level.
	local round
	for round in 1 2; do
		for ((i = 0; i < 25; i++)); do
			run write_errno "$MNT/q/submit" "$(printf 'true\n%.0s' {1..200})"
			assert_output OK
		done
		timeout -s KILL 100 sh -c 'echo > "$1"' sh "$MNT/q/flush"
		[[ $round == 2 ]] || r1=$(rss_kb)
	done
	assert_equal "$(q_get q completed)" 10200
	r2=$(rss_kb)
	echo "# VmRSS before ${r0} kB, after one round ${r1} kB, two ${r2} kB" >&3
	((r1 - r0 < 16384)) || fail "VmRSS grew from $r0 kB to $r1 kB with 16 idle trace readers"
	((r2 - r1 < 8192)) || fail "VmRSS grew again from $r1 kB to $r2 kB in the second round"
	# a reader that falls behind is told so
	run timeout 10 "$PY" -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
os.system("for i in $(seq 1 3000); do echo true; done > " + sys.argv[2] + "/submit; echo > " + sys.argv[2] + "/flush")
data = b""
while True:
    try:
        b = os.read(fd, 65536)
    except BlockingIOError:
        break
    if not b: break
    data += b
print("lost" if b"# lost " in data else "nolost", len(data))
' "$MNT/q/trace" "$MNT/q"
	assert_output --regexp '^lost [0-9]+$'
	local t0 t1
	t0=$(date +%s%N)
	healthy q
	t1=$(date +%s%N)
	(((t1 - t0) / 1000000 < 3000)) || fail "submit + flush took $(((t1 - t0) / 1000000)) ms"
}

@test "jiqwqdelay reader SIGKILLed mid-read (hz=10): daemon healthy, events runs works, jiqwq gives a full page" {
	wqfs_remount -o hz=10
	bg cat "$MNT/jiqwqdelay"
	local pid=$BG_PID
	sleep 1.5
	kill -0 "$pid"			# still reading: a page at 10 rows/s takes seconds
	kill -KILL "$pid"
	wait_exit 10 "$pid" || fail "cat jiqwqdelay did not die of SIGKILL"
	[ "$WAIT_STATUS" -eq 137 ]
	# and a jiqwq reader killed at once
	bg cat "$MNT/jiqwq"
	kill -KILL "$BG_PID" 2>/dev/null || true	# unless its page was done already
	wait_exit 10 "$BG_PID" || true
	daemon_alive
	run write_errno "$MNT/events/submit" "ev: echo on-events"
	assert_output OK
	flushq events
	assert_equal "$(cat "$MNT/events/works/ev/output")" on-events
	timeout 30 cat "$MNT/jiqwq" >"$T/page"
	jiq_parse "$T/page" >/dev/null
	local size
	size=$(stat -c %s "$T/page")
	((size > 3968 && size < 4096 + 128)) || fail "jiqwq page of $size bytes"
	# a full jiqwqdelay page still comes after all that
	timeout 60 cat "$MNT/jiqwqdelay" >"$T/page2"
	jiq_parse "$T/page2" >/dev/null
	size=$(stat -c %s "$T/page2")
	((size > 3968)) || fail "jiqwqdelay page of $size bytes"
	mkdir "$MNT/q"
	healthy q
}

@test "rmdir racing submit: rmdir is EBUSY or succeeds, writes succeed or fail ESHUTDOWN/ENOENT; nothing leaks" {
	local round
	for ((round = 0; round < 15; round++)); do
		mkdir "$MNT/q"
		bg "$PY" -c '
import errno, os, sys, time
path = sys.argv[1]
res = {}
end = time.time() + 20
while time.time() < end:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        k = "OPEN " + errno.errorcode[e.errno]; res[k] = res.get(k, 0) + 1
        break
    try:
        os.write(fd, b"true\n"); k = "OK"
    except OSError as e:
        k = errno.errorcode[e.errno]
    res[k] = res.get(k, 0) + 1
    try: os.close(fd)
    except OSError as e:
        k = "CLOSE " + errno.errorcode[e.errno]; res[k] = res.get(k, 0) + 1
    time.sleep(0.005)   # idle moments: rmdir is EBUSY while a work is queued
print(" ".join("%s=%d" % kv for kv in sorted(res.items())))
' "$MNT/q/submit"
		local w=$BG_PID
		sleep 0.1
		# rmdir never waits: EBUSY while a true is queued, so retry
		timeout -s KILL 30 sh -c 'until rmdir "$1" 2>/dev/null; do sleep 0.01; done' sh "$MNT/q"
		wait_exit 25 "$w"
		[ "$WAIT_STATUS" -eq 0 ]
		run cat "$T/bg.$round.out"
		# only these outcomes
		assert_output --regexp '^((OK|ESHUTDOWN|ENOENT|OPEN ENOENT)=[0-9]+ ?)+$'
		assert_output --partial "OPEN ENOENT=1"
		[ ! -e "$MNT/q" ]
	done
	daemon_alive
	wait_for 20 no_queue_threads
	run grep -c . "$MNT/status"
	assert_output 2			# header and events: no queue left behind
	mkdir "$MNT/q"
	healthy q
}
