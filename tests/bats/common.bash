# SPDX-License-Identifier: MIT
#
# common.bash - the fixture every Bats suite of wqfs loads.
#
# Each test gets its own wqfs, mounted in a fresh temporary directory by
# setup() and unmounted by teardown().  A suite that needs mount options
# sets WQFS_OPTS (e.g. WQFS_OPTS='-o max_works=3') at file level after
# loading this file.  Needs WQFS_BIN (meson passes it) and /dev/fuse; a
# missing one is a failure, never a skip.
#
# Exported to tests: MNT (the mount point), WQFS_PID (the daemon),
# WQFS_LOG (its stdout+stderr), T (a scratch directory outside the mount).
#
# Under tests/pg-bats (WQFS_PG_DIR set), each mount's state is a new
# database of its own on a throwaway PostgreSQL, unless WQFS_OPTS names a
# state: the same suites, unchanged, against the PostgreSQL store.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# The system python: the pyenv shim in root's PATH is not usable by nobody.
if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=python3; fi
# Bound of every single blocking helper call, in seconds.
WQ_TIMEOUT=${WQ_TIMEOUT:-30}
# Bound of one test.  A process waiting for a FUSE request the daemon has
# read cannot be killed (not even by timeout(1)) until the daemon answers
# or dies, so a hung daemon would hang the suite: a watchdog kills the
# daemon (SIGABRT, then SIGKILL) once a test has run this long, which
# fails the test and frees every waiter.
WQ_TEST_LIMIT=${WQ_TEST_LIMIT:-120}
WQFS_OPTS=${WQFS_OPTS:-}

# ---------------------------------------------------------------------------
# Mount and unmount

wqfs_mount() {
	if [[ ! -c /dev/fuse ]]; then
		echo "wqfs tests: /dev/fuse is missing; these tests need FUSE" >&2
		return 1
	fi
	if [[ -z "${WQFS_BIN:-}" || ! -x "$WQFS_BIN" ]]; then
		echo "wqfs tests: WQFS_BIN='${WQFS_BIN:-}' is not an executable;" \
		     "run through 'meson test --suite bats' or set WQFS_BIN" >&2
		return 1
	fi
	WQ_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/wqfs-bats.XXXXXX")
	chmod 755 "$WQ_TMP"
	MNT="$WQ_TMP/mnt"
	T="$WQ_TMP/scratch"
	WQFS_LOG="$WQ_TMP/wqfs.log"
	mkdir -p "$MNT" "$T"
	chmod 1777 "$T"
	: >"$WQ_TMP/bg.pids"
	printf '%s' "$_WRITE_PY" >"$WQ_TMP/write_errno.py"
	printf '%s' "$_INTR_PL" >"$WQ_TMP/intr_op.pl"
	# For works: WE FILE TEXT... prints what write_errno prints.
	WE="$PY $WQ_TMP/write_errno.py"
	export WE
	export MNT T WQFS_LOG WQ_TMP
	# Foreground, so the pid is the daemon's and its stderr is ours.
	# Memory only unless the suite asks for a state file (state.bats):
	# the default state path is per mount point, outside the scratch dir.
	local state=()
	[[ "$WQFS_OPTS" == *state=* ]] || state=(-o "state=$(state_default)") || return 1
	# shellcheck disable=SC2086
	"$WQFS_BIN" -f "$MNT" "${state[@]}" $WQFS_OPTS </dev/null >"$WQFS_LOG" 2>&1 3>&- &
	WQFS_PID=$!
	export WQFS_PID
	local i
	for ((i = 0; i < 100; i++)); do
		if mountpoint -q "$MNT"; then
			watchdog_start "$WQ_TEST_LIMIT"
			return 0
		fi
		if ! kill -0 "$WQFS_PID" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	echo "wqfs did not mount on $MNT within 5 s; its log:" >&2
	cat "$WQFS_LOG" >&2
	kill -9 "$WQFS_PID" 2>/dev/null || true
	wait "$WQFS_PID" 2>/dev/null || true
	WQFS_PID=
	fusermount3 -uz "$MNT" 2>/dev/null || true
	return 1
}

# The state of a mount whose options name none: memory only, or a new
# database on the throwaway PostgreSQL of tests/pg-bats.
state_default() {
	if [[ -z "${WQFS_PG_DIR:-}" ]]; then
		echo none
		return 0
	fi
	local db="wqfs_${BATS_TEST_NUMBER:-0}_${RANDOM}${RANDOM}"
	psql -q "postgresql:///wqfs?host=$WQFS_PG_DIR&user=wqfs" \
		-c "CREATE DATABASE $db" >/dev/null || return 1
	echo "postgresql:///$db?host=$WQFS_PG_DIR&user=wqfs"
}

# state_target FILE - a state that lives on across restarts within a test:
# FILE, or under tests/pg-bats a new database of its own
state_target() {
	if [[ -n "${WQFS_PG_DIR:-}" ]]; then state_default; else echo "$1"; fi
}

# Kill what the test left in the background (see bg), unmount, wait for the
# daemon, and fail on a crash or a sanitizer report.
wqfs_unmount() {
	local problems=0 pid i status
	watchdog_stop
	if [[ -f "${WQ_TMP:-/nonexistent}/watchdog.fired" ]]; then
		echo "teardown: the test ran past its limit; the watchdog killed the daemon" >&2
		problems=1
	fi
	if [[ -f "${WQ_TMP:-/nonexistent}/bg.pids" ]]; then
		local start
		while read -r pid start; do
			# only a process bg started: a pid is reused soon (pid_max)
			start_time "$pid"
			[[ -n "$pid" && "$START_TIME" == "$start" ]] || continue
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		done <"$WQ_TMP/bg.pids"
	fi
	if [[ -z "${WQFS_PID:-}" ]]; then
		[[ -z "${WQ_TMP:-}" ]] || rm -rf "$WQ_TMP" 2>/dev/null || true
		return 0
	fi
	if kill -0 "$WQFS_PID" 2>/dev/null; then
		for ((i = 0; i < 30; i++)); do
			mountpoint -q "$MNT" || break
			fusermount3 -u "$MNT" 2>/dev/null && break
			sleep 0.1
		done
		if mountpoint -q "$MNT"; then
			echo "teardown: fusermount3 -u kept failing; lazy unmount" >&2
			fusermount3 -uz "$MNT" 2>/dev/null || true
		fi
		# Running works get drain_timeout (10 s) at unmount; allow for it.
		for ((i = 0; i < 400; i++)); do
			kill -0 "$WQFS_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$WQFS_PID" 2>/dev/null; then
			echo "teardown: the daemon did not exit 40 s after unmount" >&2
			kill -9 "$WQFS_PID" 2>/dev/null || true
			problems=1
		fi
	else
		echo "teardown: the daemon was no longer running (crash?)" >&2
		problems=1
	fi
	status=0
	wait "$WQFS_PID" 2>/dev/null || status=$?
	if ((status != 0)); then
		echo "teardown: the daemon exited with status $status" >&2
		problems=1
	fi
	# A dead daemon leaves a mount that answers ENOTCONN, which mountpoint(1)
	# cannot stat: ask /proc/mounts instead.
	if grep -qF " $MNT fuse" /proc/mounts; then
		fusermount3 -uz "$MNT" 2>/dev/null || true
	fi
	if grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: ThreadSanitizer|WARNING: ThreadSanitizer' "$WQFS_LOG" 2>/dev/null; then
		echo "teardown: sanitizer report in the daemon's log" >&2
		problems=1
	fi
	if ((problems)); then
		echo "---- daemon log ($WQFS_LOG) ----" >&2
		tail -c 20000 "$WQFS_LOG" >&2
	fi
	WQFS_PID=
	rm -rf "$WQ_TMP" 2>/dev/null || true
	return "$problems"
}

setup() {
	wqfs_mount
}

teardown() {
	wqfs_unmount
}

# watchdog_start SECONDS - (re)arm the per-test watchdog
watchdog_start() {
	watchdog_stop
	# Only while $3 is still this mount's daemon: a watchdog that outlived
	# its test must not kill whatever process has that pid by then.
	setsid bash -c '
		sleep "$1"
		tr "\0" " " <"/proc/$3/cmdline" 2>/dev/null | grep -qF -- " $4 " || exit 0
		touch "$2/watchdog.fired"
		echo "watchdog: test still running after $1 s; killing wqfs $3" >>"$2/wqfs.log"
		kill -ABRT "$3"
		sleep 2
		kill -KILL "$3"
		mountpoint -q "$4" && fusermount3 -uz "$4"
	' watchdog "$1" "$WQ_TMP" "$WQFS_PID" "$MNT" </dev/null >/dev/null 2>&1 3>&- &
	WQ_WATCHDOG=$!
}

# SIGKILL, not SIGTERM: a watchdog stopped right after it was started (a
# test that remounts at once) may not have made its process group yet, or
# may be a shell that has not set up its signals; a TERM it missed left
# `wait` blocked until the watchdog fired, 120 s later.
watchdog_stop() {
	if [[ -n "${WQ_WATCHDOG:-}" ]]; then
		kill -KILL -- "-$WQ_WATCHDOG" 2>/dev/null || true
		kill -KILL "$WQ_WATCHDOG" 2>/dev/null || true
		{ wait "$WQ_WATCHDOG"; } 2>/dev/null || true
		WQ_WATCHDOG=
	fi
}

# Remount with other options within one test.
wqfs_remount() {
	wqfs_unmount
	WQFS_OPTS="$*"
	wqfs_mount
}

# crash - SIGKILL the daemon and clear its dead mount
crash() {
	kill -9 "$WQFS_PID"
	wait "$WQFS_PID" 2>/dev/null || true
	fusermount3 -uz "$MNT" 2>/dev/null || true
}

# restart - a new daemon on the same mount point and options (its state
# file or database), as after a crash or an unmount
restart() {
	# shellcheck disable=SC2086
	"$WQFS_BIN" -f "$MNT" $WQFS_OPTS </dev/null >>"$WQFS_LOG" 2>&1 3>&- &
	WQFS_PID=$!
	wait_for 10 mountpoint -q "$MNT"
}

# ---------------------------------------------------------------------------
# Helpers

# bg CMD... - run CMD in the background (own process group, output to
# $T/bg.N.out), remember it for teardown; sets BG_PID.
bg() {
	local n
	n=$(wc -l <"$WQ_TMP/bg.pids")
	setsid "$@" </dev/null >"$T/bg.$n.out" 2>&1 3>&- &
	BG_PID=$!
	start_time "$BG_PID"
	echo "$BG_PID $START_TIME" >>"$WQ_TMP/bg.pids"
}

# start_time PID - START_TIME := when PID started (field 22 of
# /proc/PID/stat), or empty; builtins only, no fork: bg must return at once
start_time() {
	local stat= f
	START_TIME=
	read -r stat <"/proc/$1/stat" 2>/dev/null || return 0
	read -r -a f <<<"${stat##*) }"
	START_TIME=${f[19]}
}

# wait_for SECONDS CMD... - poll CMD until it succeeds; fail after SECONDS.
wait_for() {
	local secs=$1 end
	shift
	end=$(($(date +%s%N) + secs * 1000000000))
	while :; do
		if "$@"; then
			return 0
		fi
		if (($(date +%s%N) > end)); then
			echo "wait_for: '$*' still false after ${secs}s" >&2
			return 1
		fi
		sleep 0.05
	done
}

# wait_exit SECONDS PID - wait for a child started by bg to exit and set
# WAIT_STATUS to its exit status; WAIT_STATUS=RUNNING (and a failure) if it
# still runs after SECONDS.  Not through `run` (a subshell cannot wait).
wait_exit() {
	local secs=$1 pid=$2 i
	for ((i = 0; i < secs * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		WAIT_STATUS=RUNNING
		echo "wait_exit: $pid still runs after ${secs}s" >&2
		return 1
	fi
	WAIT_STATUS=0
	wait "$pid" 2>/dev/null || WAIT_STATUS=$?
}

_INTR_PL='
use strict; use warnings; use Errno; use Fcntl; use POSIX ();
$SIG{INT} = sub { };
my ($out, $op, $arg, $text) = @ARGV;
my $ok;
if ($op eq "write") {
	# A flush or cancel waits at close(2), so its error counts as well.
	# POSIX::close, not close: PerlIO retries a close that got EINTR.
	my $fd = POSIX::open($arg, O_WRONLY);
	if (defined $fd) {
		$ok = defined(POSIX::write($fd, $text, length $text)) ? 1 : 0;
		my $closed = POSIX::close($fd);
		$ok = 0 if $ok && !defined $closed;
	} else {
		$ok = 0;
	}
} elsif ($op eq "rmdir") {
	$ok = rmdir($arg) ? 1 : 0;
} elsif ($op eq "read") {
	if (sysopen(my $fh, $arg, O_RDONLY)) {
		my $buf; my $n;
		while (($n = sysread($fh, $buf, 65536))) { }
		$ok = defined($n) ? 1 : 0;
	} else { $ok = 0; }
}
my $res = "OK";
if (!$ok) { my $e = $! + 0; ($res) = grep { $!{$_} } keys %!; $res //= "errno$e"; }
open(my $o, ">", $out) or die; print $o "$res\n"; close $o;
'

_WRITE_PY='
import errno, os, sys
args = sys.argv[1:]
unescape = args[0] == "-e"
if unescape:
    args = args[1:]
path = args[0]
flags = os.O_WRONLY
try:
    fd = os.open(path, flags)
except OSError as e:
    print("OPEN", errno.errorcode.get(e.errno, str(e.errno)))
    sys.exit(0)
out = []
for text in args[1:]:
    data = text.encode("utf-8", "surrogateescape")
    if unescape:
        data = data.decode("unicode_escape").encode("latin-1")
    try:
        n = os.write(fd, data)
        out.append("OK" if n == len(data) else "SHORT %d" % n)
    except OSError as e:
        out.append("EDEADLK" if e.errno == errno.EDEADLK else
                   errno.errorcode.get(e.errno, str(e.errno)))
print(" ".join(out))
'

# write_errno [-e] FILE TEXT... - open FILE write-only, write each TEXT with one
# write(2) on that descriptor and print, per write, "OK" (all bytes taken),
# "SHORT n" (a short write of n bytes) or the errno name (EALREADY, ...),
# separated by blanks.  A failed open prints "OPEN ERRNO".  Bounded by
# WQ_TIMEOUT (prints nothing if it had to be killed).  With -e, TEXT is
# unescaped first (\n, \0, \xNN).  Works call it as $WE (expand it when
# writing the command: a work gets the submitter's exec-time environment).
write_errno() {
	local f=$1
	shift
	timeout -s KILL "$WQ_TIMEOUT" "$PY" -c "$_WRITE_PY" "$f" "$@"
}

# write_errno_as USER FILE TEXT... - the same, as USER (its own groups).
write_errno_as() {
	local u=$1 f=$2
	shift 2
	timeout -s KILL "$WQ_TIMEOUT" runuser -u "$u" -- "$PY" -c "$_WRITE_PY" "$f" "$@"
}

# submit_id QUEUE_DIR LINE [FILE] - write LINE to FILE (default submit)
# through a read-write descriptor and print the reply (the work ids).
submit_id() {
	local d=$1 line=$2 f=${3:-submit}
	timeout -s KILL "$WQ_TIMEOUT" "$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, sys.argv[2].encode())
out = b""
while True:
    b = os.read(fd, 4096)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
' "$d/$f" "$line"
}

# q_get QUEUE KEY - the value of KEY in $MNT/QUEUE/status
q_get() {
	sed -n "s/^$2: //p" "$MNT/$1/status"
}

# w_get QUEUE WORK KEY - the value of KEY in $MNT/QUEUE/works/WORK/status
w_get() {
	sed -n "s/^$3: //p" "$MNT/$1/works/$2/status"
}

# w_state_is QUEUE WORK STATE - for wait_for
w_state_is() {
	[[ "$(w_get "$1" "$2" state 2>/dev/null)" == "$3" ]]
}

# file_has FILE TEXT - FILE exists and its content is exactly TEXT\n
file_has() {
	[[ -f "$1" && "$(cat "$1")" == "$2" ]]
}

# file_has_line FILE LINE - FILE exists and has LINE as one of its lines
file_has_line() {
	[[ -f "$1" ]] && grep -qxF -- "$2" "$1"
}

# waits_on_fuse PID - PID sleeps waiting for the answer to a FUSE request
waits_on_fuse() {
	[[ "$(cat "/proc/$1/wchan" 2>/dev/null)" == request_wait_answer ]]
}

# time_ms TIME - a time of works/W/status (ISO 8601 UTC with milliseconds,
# 2026-12-01T08:30:00.123Z) in ms since the epoch; fails on another form
time_ms() {
	[[ "$1" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]] ||
		{ echo "not an ISO 8601 UTC time: '$1'" >&2; return 1; }
	date -u -d "$1" +%s%3N
}

# nodes_rows [MOUNT] - check MOUNT's (default $MNT) nodes file byte by
# byte: the header, columns as wide as their widest cell two blanks apart
# (NODE to the left, the numbers to the right, STATE last), rows sorted by
# name, a lease in seconds with one decimal, alive or dead; then print
# each row as "NODE LEASE RUNNING SLOTS STATE"
nodes_rows() {
	"$PY" - "${1:-$MNT}/nodes" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
if lines[-1] != "":
    sys.exit("nodes does not end with a newline")
rows = [l.split() for l in lines[:-1]]
if not rows or rows[0] != ["NODE", "LEASE", "RUNNING", "SLOTS", "STATE"]:
    sys.exit("nodes: bad header %r" % lines[:1])
if any(len(r) != 5 for r in rows):
    sys.exit("nodes: a row has not 5 cells: %r" % lines)
w = [max(len(r[c]) for r in rows) for c in range(4)]
for r, l in zip(rows, lines):
    again = "%-*s  %*s  %*s  %*s  %s" % (w[0], r[0], w[1], r[1], w[2], r[2], w[3], r[3], r[4])
    if again != l:
        sys.exit("nodes: row not in columns:\n%r\n%r" % (l, again))
for r in rows[1:]:
    if not (re.fullmatch(r"\d+\.\d", r[1]) and r[2].isdigit() and r[3].isdigit()
            and r[4] in ("alive", "dead")):
        sys.exit("nodes: bad row %r" % r)
    print(" ".join(r))
names = [r[0] for r in rows[1:]]
if names != sorted(names):
    sys.exit("nodes: rows not sorted by name: %r" % names)
EOF
}

# flushq QUEUE - flush_workqueue, bounded; fails if the write fails
flushq() {
	timeout -s KILL "$WQ_TIMEOUT" sh -c 'echo > "$1"' sh "$MNT/$1/flush"
}

# daemon_alive - the daemon runs and answers (a stat and a read)
# rss_kb - the daemon's resident memory in KiB
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$WQFS_PID/status"; }

daemon_alive() {
	kill -0 "$WQFS_PID" 2>/dev/null &&
		mountpoint -q "$MNT" &&
		timeout 10 cat "$MNT/status" >/dev/null
}

# healthy QUEUE - a final submit + flush works and the status adds up:
# nothing pending, delayed or running; started == completed + running.
healthy() {
	local q=$1 before
	daemon_alive
	before=$(q_get "$q" completed)
	run write_errno "$MNT/$q/submit" "final: echo still-alive"
	assert_output OK
	flushq "$q"
	assert_equal "$(cat "$MNT/$q/works/final/output")" still-alive
	assert_equal "$(w_get "$q" final last_exit)" 0
	assert_equal "$(q_get "$q" completed)" $((before + 1))
	assert_equal "$(q_get "$q" pending)" 0
	assert_equal "$(q_get "$q" delayed)" 0
	assert_equal "$(q_get "$q" running)" 0
	assert_equal "$(q_get "$q" started)" "$(q_get "$q" completed)"
}

# jiq_parse FILE - check the jiq text in FILE byte-exactly against jiq.c's
# header and row format and print each row as
# "time delta preempt pid cpu command"; fails with a message otherwise.
jiq_parse() {
	"$PY" - "$1" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read().decode()
hdr = "    time  delta preempt   pid cpu command\n"
if not data.startswith(hdr):
    sys.exit("jiq: bad header: %r" % data[:60])
rows = data[len(hdr):]
if not rows.endswith("\n"):
    sys.exit("jiq: text does not end with a newline: %r" % rows[-60:])
rx = re.compile(r"^ *(-?\d+)  +(-?\d+)     +(-?\d+) +(-?\d+) +(-?\d+) (\S+)$")
for line in rows[:-1].split("\n"):
    m = rx.match(line)
    if not m:
        sys.exit("jiq: row does not parse: %r" % line)
    t, d, p, pid, cpu = (int(x) for x in m.groups()[:5])
    cmd = m.group(6)
    again = "%9d  %4d     %3d %5d %3d %s" % (t, d, p, pid, cpu, cmd)
    if again != line:
        sys.exit("jiq: row not in jiq.c format:\n%r\n%r" % (line, again))
    print(t, d, p, pid, cpu, cmd)
EOF
}

# bg_intr OUTFILE OP ARG [TEXT] - start in the background (see bg) a
# blocking operation that a SIGINT interrupts without killing the caller,
# as a shell user's Ctrl-C interrupts a syscall: OP is "write" (ARG a file,
# TEXT written with one write(2)), "rmdir" (ARG a directory) or "read" (ARG
# a file, read whole).  It writes "OK" or the errno name (EINTR, ...) to
# OUTFILE.  Then kill -INT "$BG_PID".
bg_intr() {
	bg perl "$WQ_TMP/intr_op.pl" "$@"
}
