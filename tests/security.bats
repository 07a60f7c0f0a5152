#!/usr/bin/env bats
# security.bats - the findings of the security review, each as the attack
# that found it and what a user sees once it is fixed.
#
#   C1  the process that OPENED a control file is the submitter of every
#       line written on that descriptor (uid, gid, groups, cwd, environment,
#       resource limits), whoever writes or closes it
#   H1  jiqwq readers that rewind and get interrupted: no use-after-free
#   H2  rmdir never waits (EBUSY); q/drain; cancel '*'; jiq readers do not
#       keep a queue busy (L1)
#   H3  a named work runs as its owner: nobody may not redeclare, re-queue,
#       modify or cancel another user's work (EPERM)
#   H4  per-user limits (EDQUOT); idle queues hold no threads; trace memory
#       is returned at close
#   H5  a work has its own session and no controlling terminal
#   M1  nice < 0 is root's; works run under their submitter's rlimits
#   M2  what a user cannot read, wqfs does not show
#   L2  a work gets its user's groups at run time; a deleted user's work
#       does not run
#
# Every test mounts a wqfs with allow_other (nobody uses it) and
# drain_timeout=1, so a work left running by a failing test does not hold
# the unmount for long.

load bats/common
SEC_OPTS='-o allow_other -o drain_timeout=1'
WQFS_OPTS=$SEC_OPTS

# as_nobody CMD... - run CMD as nobody:nogroup without other groups, in the
# scratch directory (a cwd nobody can enter), bounded.
as_nobody() {
	(cd "$T" && exec timeout -s KILL "$WQ_TIMEOUT" setpriv --reuid=nobody --regid=nogroup --clear-groups "$@")
}

# put FILE TEXT - as root, write TEXT and a newline to FILE (a control or
# attribute file), bounded; fails if the write or the close fails.
put() {
	timeout -s KILL "$WQ_TIMEOUT" sh -c 'printf "%s\n" "$2" > "$1"' sh "$1" "$2"
}

# nobody_write FILE TEXT... - write_errno as nobody (see common.bash)
nobody_write() {
	as_nobody "$PY" -c "$_WRITE_PY" "$@"
}

# py_ops OP PATH... - os.OP(PATH) for each PATH as the caller; print
# "NAME OK" or "NAME ERRNO" per PATH (NAME its last component).
_PY_OPS='
import errno, os, sys
op = getattr(os, sys.argv[1])
for p in sys.argv[2:]:
    try:
        op(p); print(os.path.basename(p), "OK")
    except OSError as e:
        print(os.path.basename(p), errno.errorcode.get(e.errno, str(e.errno)))
'
py_ops() { timeout -s KILL "$WQ_TIMEOUT" "$PY" -c "$_PY_OPS" "$@"; }

# open_many ARG... - for each ARG in order: "r:PATH" opens PATH read-only
# (a reader of trace, jiqwq, jiqwqdelay), "w:PATH" write-only (a control
# file), "close:N" closes the N-th descriptor opened so far (from 0).  Keeps
# the others open to the end; prints per open "OK" or the errno name.
_OPEN_MANY='
import errno, os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
fds = []
out = []
for a in sys.argv[1:]:
    if a.startswith("close:"):
        os.close(fds[int(a[6:])]); fds[int(a[6:])] = -1
        continue
    mode, path = a.split(":", 1)
    try:
        fds.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK if mode == "r" else os.O_WRONLY))
        out.append("OK")
    except OSError as e:
        fds.append(-1)
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
print(" ".join(out))
'
open_many() { timeout -s KILL "$WQ_TIMEOUT" "$PY" -c "$_OPEN_MANY" "$@"; }

# rmdir_now DIR - rmdir(2) DIR as root; print OK or the errno name.  If it
# has not returned within 2 s, print "STILL WAITING after 2 s" and
# interrupt it (SIGINT: the rmdir answers EINTR and takes the queue back).
rmdir_now() {
	local out i
	out=$(mktemp "$T/rmdir.XXXXXX")
	bg_intr "$out" rmdir "$1"
	for ((i = 0; i < 40; i++)); do
		if [[ -s "$out" ]]; then
			cat "$out"
			return 0
		fi
		sleep 0.05
	done
	kill -INT "$BG_PID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		[[ -s "$out" ]] && break
		sleep 0.05
	done
	echo "STILL WAITING after 2 s"
}

# queue_thread_count QUEUE - the daemon's threads named QUEUE/...
queue_thread_count() {
	local t n=0 c
	for t in /proc/"$WQFS_PID"/task/*; do
		c=$(cat "$t/comm" 2>/dev/null) || continue
		[[ $c == "$1"/* ]] && n=$((n + 1))
	done
	echo "$n"
}
q_idle() { [[ $(q_get "$1" pending) == 0 && $(q_get "$1" running) == 0 && $(q_get "$1" delayed) == 0 ]]; }
idle_and_threadless() { [[ $(q_get "$1" workers) == 0 && $(queue_thread_count "$1") == 0 ]]; }

# Accounts made by L2's tests, removed in teardown even when a test fails.
SEC_USER=
SEC_GROUP=
teardown() {
	if [[ -n "$SEC_USER" ]] && getent passwd "$SEC_USER" >/dev/null; then
		userdel -f "$SEC_USER" >/dev/null 2>&1 || true
	fi
	if [[ -n "$SEC_USER" ]] && getent group "$SEC_USER" >/dev/null; then
		groupdel "$SEC_USER" >/dev/null 2>&1 || true
	fi
	if [[ -n "$SEC_GROUP" ]] && getent group "$SEC_GROUP" >/dev/null; then
		groupdel "$SEC_GROUP" >/dev/null 2>&1 || true
	fi
	wqfs_unmount
}

# make_account - a fresh user (with its own group) and a fresh extra group,
# the user a member of it: sets SEC_USER, SEC_UID, SEC_GID, SEC_GROUP,
# SEC_GROUP_GID.
make_account() {
	SEC_USER="wqsec${RANDOM}u$$"
	SEC_GROUP="wqsec${RANDOM}g$$"
	useradd -M -U -s /bin/sh "$SEC_USER"
	groupadd "$SEC_GROUP"
	gpasswd -a "$SEC_USER" "$SEC_GROUP" >/dev/null
	SEC_UID=$(id -u "$SEC_USER")
	SEC_GID=$(id -g "$SEC_USER")
	SEC_GROUP_GID=$(getent group "$SEC_GROUP" | cut -d: -f3)
}

# as_account CMD... - run CMD as SEC_USER with the groups /etc/group gives
# it now, in the scratch directory, bounded.
as_account() {
	(cd "$T" && exec timeout -s KILL "$WQ_TIMEOUT" setpriv --reuid="$SEC_UID" --regid="$SEC_GID" --init-groups "$@")
}

# ===========================================================================
# C1 - the opener is the submitter

@test "C1a: su's error message sent to nobody's submit: the work its second line makes runs as nobody, not root" {
	as_nobody mkdir "$MNT/nq"
	# su is setuid root: it writes "su: user x\nwho: ... does not exist ..."
	# to the stderr it inherited from nobody, which is nobody's submit
	local payload
	payload=$(printf 'x\nwho: id -u > %s/su-who; #' "$T")
	run as_nobody sh -c 'su "$1" 2>"$2" </dev/null; echo "su exit $?"' sh "$payload" "$MNT/nq/submit"
	assert_output "su exit 1"
	flushq nq
	# the line after the newline became the work "who"; it ran as nobody
	[ -f "$T/su-who" ] || fail "the work 'who' did not run (no $T/su-who)"
	assert_equal "$(cat "$T/su-who")" 65534
	assert_equal "$(stat -c %u "$T/su-who")" 65534
	healthy nq
}

# The attacker's program: as nobody, open FILE (inheritable unless
# "cloexec"), write a 4096-byte line with no newline (a stdio buffer's
# flush: its line goes on in the next write, or ends at close), then exec
# setuid su, which closes the descriptor as root (at its exit, or at the
# exec itself for an O_CLOEXEC one).
_PARTIAL_THEN_SU='
import os, sys
path, out, how = sys.argv[1], sys.argv[2], sys.argv[3]
fd = os.open(path, os.O_WRONLY)                  # O_CLOEXEC, as Python opens
if how == "inherit":
    os.set_inheritable(fd, True)
line = ("part: id -u > %s; : " % out).encode()
line += b"x" * (4096 - len(line))
print("wrote", os.write(fd, line), flush=True)
null = os.open("/dev/null", os.O_WRONLY)
os.dup2(null, 2)
os.execv("/bin/su", ["su", "nosuchuser-wqfs"])
'

@test "C1b: nobody's unfinished 4 KiB line on a descriptor su inherits and closes as root runs as nobody" {
	as_nobody mkdir "$MNT/nq"
	run as_nobody "$PY" -c "$_PARTIAL_THEN_SU" "$MNT/nq/submit" "$T/part-who" inherit
	assert_failure 1		# su: no such user
	assert_output "wrote 4096"
	flushq nq
	[ -f "$T/part-who" ] || fail "the 4 KiB line never ran (no $T/part-who)"
	assert_equal "$(cat "$T/part-who")" 65534
	assert_equal "$(stat -c %u "$T/part-who")" 65534
	healthy nq
}

@test "C1b: the same line on an O_CLOEXEC descriptor, closed by su's execve: no hang, runs as nobody" {
	# The close inside execve(2) must not make the daemon read /proc/PID of
	# a process in the middle of exec (/proc waits for the exec, the exec
	# for the daemon's answer): the code before the fix hung there for good.
	as_nobody mkdir "$MNT/nq"
	cd "$T"
	bg setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$PY" -c "$_PARTIAL_THEN_SU" "$MNT/nq/submit" "$T/part-who" cloexec
	local pid=$BG_PID
	if ! wait_exit 5 "$pid"; then
		# free the process stuck in execve: only the daemon's death does
		kill -KILL "$WQFS_PID"
		fail "execve(su) closing an O_CLOEXEC control file with a partial line pending still hangs after 5 s"
	fi
	assert_equal "$WAIT_STATUS" 1
	assert_equal "$(cat "$T/bg.0.out")" "wrote 4096"
	flushq nq
	[ -f "$T/part-who" ] || fail "the 4 KiB line never ran (no $T/part-who)"
	assert_equal "$(cat "$T/part-who")" 65534
	healthy nq
}

# The opener: root opens FILE in its cwd with SEC_WHO=opener, then (same
# pid) becomes nobody in / with SEC_WHO=writer and writes a line on it.
_ROOT_OPENS_NOBODY_WRITES='
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.dup2(fd, 3)                                   # inheritable
os.close(fd)
os.chdir("/")
env = dict(os.environ, SEC_WHO="writer")
os.execvpe("setpriv", ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
    "sh", "-c", "echo \"who: id -u; id -G; pwd; echo \\$SEC_WHO\" >&3; id -u"], env)
'

@test "C1c (L3): a descriptor root opened and nobody inherited submits as root, with root's cwd and environment" {
	mkdir "$MNT/q" "$T/opener-cwd"
	local root_groups
	root_groups=$(id -G)
	run timeout -s KILL "$WQ_TIMEOUT" bash -c 'cd "$1" && exec env SEC_WHO=opener "$2" -c "$3" "$4"' \
		bash "$T/opener-cwd" "$PY" "$_ROOT_OPENS_NOBODY_WRITES" "$MNT/q/submit"
	assert_success
	assert_output 65534		# the writer was nobody
	flushq q
	assert_equal "$(w_get q who command)" 'id -u; id -G; pwd; echo $SEC_WHO'
	assert_equal "$(cat "$MNT/q/works/who/output")" "0
$root_groups
$T/opener-cwd
opener"
	healthy q
}

# ===========================================================================
# H1 - jiqwq readers that rewind, and readers interrupted mid-read

@test "H1: four readers read and rewind jiqwq twenty times while others are interrupted: full pages, daemon healthy" {
	# A run's page, the open file and the run itself must outlive every
	# path that can touch them; the ASan build of the suite catches what a
	# plain build survives (fixture: a sanitizer report fails the test).
	local i
	for ((i = 0; i < 4; i++)); do
		bg "$PY" -c '
import sys
f = open(sys.argv[1], "rb", buffering=0)
bad = 0
for n in range(20):
    data = f.read()
    if not data.startswith(b"    time  delta preempt   pid cpu command\n") or len(data) < 3968:
        bad += 1
    f.seek(0)
print("rounds", n + 1, "bad", bad)
' "$MNT/jiqwq"
	done
	local readers=(0 1 2 3)
	# Readers interrupted mid-read by SIGINT, on the root jiqwq and
	# jiqwqdelay: one dies of it (as cat does), one gets EINTR and raises
	# KeyboardInterrupt (a shell's background job starts with SIGINT
	# ignored: each sets its disposition itself).
	local k p1 p2
	for ((k = 0; k < 6; k++)); do
		rm -f "$T/ready1" "$T/ready2"
		bg "$PY" -c '
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
f = open(sys.argv[1], "rb", buffering=0)
open(sys.argv[2], "w").close()
while True:
    f.read(); f.seek(0)
' "$MNT/jiqwq" "$T/ready1"
		p1=$BG_PID
		bg "$PY" -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
fd = os.open(sys.argv[1], os.O_RDONLY)
open(sys.argv[2], "w").close()
while True:
    os.read(fd, 65536); os.lseek(fd, 0, os.SEEK_SET)
' "$MNT/jiqwqdelay" "$T/ready2"
		p2=$BG_PID
		wait_for 10 test -e "$T/ready1"
		wait_for 10 test -e "$T/ready2"
		sleep "0.0$((k + 2))"
		kill -INT "$p1" "$p2" 2>/dev/null || true
		wait_exit 10 "$p1" || fail "a jiqwq reader did not end at SIGINT"
		wait_exit 10 "$p2" || fail "a jiqwqdelay reader did not end at SIGINT"
	done
	for i in "${readers[@]}"; do
		wait_for 60 grep -q '^rounds' "$T/bg.$i.out" || fail "reader $i: $(cat "$T/bg.$i.out")"
		assert_equal "$(cat "$T/bg.$i.out")" "rounds 20 bad 0"
	done
	daemon_alive
	timeout 30 cat "$MNT/jiqwq" >"$T/page"
	jiq_parse "$T/page" >/dev/null
	mkdir "$MNT/q"
	healthy q
	# a run of a reader that is gone ends within a page (or at once)
	wait_for 10 q_idle events
	healthy events
}

# ===========================================================================
# H2 - rmdir never waits; drain; cancel '*'

@test "H2: rmdir of a queue with a running work fails at once with EBUSY; ls, stat, mkdir of others do not wait" {
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "long: sleep 30"
	assert_output OK
	wait_for 5 w_state_is q long running
	bg_intr "$T/rmdir.res" rmdir "$MNT/q"
	sleep 0.2
	# another process, meanwhile
	bg "$PY" -c '
import errno, os, sys
m = sys.argv[1]
out = []
for name, op in (("ls", lambda: os.listdir(m)), ("stat", lambda: os.stat(m)),
                 ("mkdir", lambda: os.mkdir(m + "/other"))):
    try: op(); out.append(name + " OK")
    except OSError as e: out.append(name + " " + errno.errorcode[e.errno])
open(sys.argv[2], "w").write(", ".join(out) + "\n")
' "$MNT" "$T/others.res"
	wait_for 2 test -s "$T/rmdir.res" 2>/dev/null || echo "STILL WAITING after 2 s" >"$T/rmdir.res"
	wait_for 2 test -s "$T/others.res" 2>/dev/null || echo "STILL WAITING after 2 s" >"$T/others.res"
	run cat "$T/rmdir.res"
	assert_output EBUSY
	run cat "$T/others.res"
	assert_output "ls OK, stat OK, mkdir OK"
	# nothing changed: the queue is there, in service, its work still runs
	[ -d "$MNT/q" ]
	[ -d "$MNT/other" ]
	assert_equal "$(w_get q long state)" running
	run write_errno "$MNT/q/submit" "after: echo after"
	assert_output OK
	run timeout 10 sh -c 'echo long > "$1"' sh "$MNT/q/cancel"
	healthy q
	assert_equal "$(cat "$MNT/q/works/after/output")" after
}

@test "H2: rmdir of a queue with a pending or a delayed work fails at once with EBUSY and changes nothing" {
	mkdir "$MNT/q"
	put "$MNT/q/frozen" 1
	run write_errno "$MNT/q/submit" "p: echo p-ran"
	assert_output OK
	assert_equal "$(w_get q p state)" pending
	run rmdir_now "$MNT/q"
	assert_output EBUSY
	[ -d "$MNT/q" ]
	assert_equal "$(w_get q p state)" pending
	run write_errno "$MNT/q/submit" "p2: echo p2-ran"
	assert_output OK
	put "$MNT/q/frozen" 0
	flushq q
	assert_equal "$(cat "$MNT/q/works/p/output")" p-ran

	run write_errno "$MNT/q/delay" "d: 1h echo d-ran"
	assert_output OK
	run rmdir_now "$MNT/q"
	assert_output EBUSY
	[ -d "$MNT/q" ]
	assert_equal "$(w_get q d state)" delayed
	# and the shell's view of it
	run timeout 5 rmdir "$MNT/q"
	assert_failure
	assert_output --partial "Device or resource busy"
	put "$MNT/q/cancel" d
	healthy q
	run rmdir_now "$MNT/q"
	assert_output OK
}

@test "H2: q/drain (0200): the write returns, the close waits for pending and running works; submits meanwhile get ESHUTDOWN; delayed works stay" {
	mkdir "$MNT/q"
	[ -e "$MNT/q/drain" ] || fail "no file q/drain"
	assert_equal "$(stat -c %a "$MNT/q/drain")" 200
	put "$MNT/q/per_cpu" 0
	put "$MNT/q/max_active" 1
	run write_errno "$MNT/q/submit" "r1: sleep 2; echo r1 > $T/r1" "p1: echo p1 > $T/p1"
	assert_output "OK OK"
	run write_errno "$MNT/q/delay" "d1: 1h echo d1 > $T/d1"
	assert_output OK
	wait_for 5 w_state_is q r1 running
	run timeout -s KILL 20 "$PY" - "$MNT/q" <<'EOF'
import errno, os, sys, time
q = sys.argv[1]
fd = os.open(q + "/drain", os.O_WRONLY)
t = time.monotonic()
os.write(fd, b"\n")
print("write returned", "at once" if time.monotonic() - t < 0.5 else "late")
s = os.open(q + "/submit", os.O_WRONLY)
try:
    os.write(s, b"late: echo late\n"); print("submit during drain OK")
except OSError as e:
    print("submit during drain", errno.errorcode[e.errno])
os.close(s)
t = time.monotonic()
os.close(fd)
print("close waited", "yes" if time.monotonic() - t > 0.5 else "no")
EOF
	assert_output "write returned at once
submit during drain ESHUTDOWN
close waited yes"
	# when the close returned, nothing was pending or running
	assert_equal "$(cat "$T/r1")" r1
	assert_equal "$(cat "$T/p1")" p1
	[ ! -e "$MNT/q/works/late" ]
	assert_equal "$(q_get q pending)" 0
	assert_equal "$(q_get q running)" 0
	# the delayed work stays armed
	assert_equal "$(w_get q d1 state)" delayed
	assert_equal "$(q_get q delayed)" 1
	# the shell's form: `echo > q/drain` returns once the queue is drained
	run write_errno "$MNT/q/submit" "r2: sleep 1; echo r2 > $T/r2"
	assert_output OK
	timeout -s KILL 20 sh -c 'echo > "$1"' sh "$MNT/q/drain"
	assert_equal "$(cat "$T/r2")" r2
	put "$MNT/q/cancel" d1
	[ ! -e "$T/d1" ]
	run rmdir_now "$MNT/q"
	assert_output OK
	[ ! -e "$MNT/q" ]
}

@test "H2: echo '*' > q/cancel cancels every pending and delayed work and stops the running one; rmdir then succeeds at once; none produced output" {
	mkdir "$MNT/q"
	put "$MNT/q/per_cpu" 0
	put "$MNT/q/max_active" 1
	run write_errno "$MNT/q/submit" "run1: sleep 30; echo run1 > $T/run1"
	assert_output OK
	wait_for 5 w_state_is q run1 running
	run write_errno "$MNT/q/submit" "pend1: echo pend1 > $T/pend1" "echo anon > $T/anon"
	assert_output "OK OK"
	run write_errno "$MNT/q/delay" "del1: 1h echo del1 > $T/del1" "1h echo anondel > $T/anondel"
	assert_output "OK OK"
	local t0 t1
	t0=$(date +%s%N)
	run timeout -s KILL 10 sh -c "echo '*' > \"\$1\"" sh "$MNT/q/cancel"
	t1=$(date +%s%N)
	assert_success
	# the close waited for the running one: it is stopped now
	assert_equal "$(w_get q run1 state)" cancelled
	assert_equal "$(q_get q pending)" 0
	assert_equal "$(q_get q delayed)" 0
	assert_equal "$(q_get q running)" 0
	(((t1 - t0) / 1000000 < 5000)) || fail "cancel '*' took $(((t1 - t0) / 1000000)) ms"
	assert_equal "$(w_get q pend1 state)" cancelled
	assert_equal "$(w_get q del1 state)" cancelled
	local w
	for w in run1 pend1 del1; do
		assert_equal "$w: $(cat "$MNT/q/works/$w/output")" "$w: "
	done
	run rmdir_now "$MNT/q"
	assert_output OK
	[ ! -e "$MNT/q" ]
	sleep 0.3
	for f in run1 pend1 anon del1 anondel; do
		[ ! -e "$T/$f" ] || fail "the cancelled work that writes $f ran"
	done
	mkdir "$MNT/q2"
	healthy q2
}

@test "L1: rmdir of a queue succeeds at once while readers loop on its jiqwqdelay and jiqwq; the readers end" {
	# hz=25: a jiqwqdelay page takes seconds, so the reader is mid-read
	wqfs_remount $SEC_OPTS -o hz=25
	mkdir "$MNT/q"
	local loop='
import os, sys, time
path = sys.argv[1]
n = 0
while os.path.exists(path):
    try:
        with open(path, "rb", buffering=0) as f:
            f.read()
        n += 1
    except OSError:
        time.sleep(0.01)
print("reader done")
'
	bg "$PY" -c "$loop" "$MNT/q/jiqwqdelay"
	local r1=$BG_PID
	bg "$PY" -c "$loop" "$MNT/q/jiqwq"
	local r2=$BG_PID
	sleep 0.5
	run rmdir_now "$MNT/q"
	assert_output OK
	[ ! -e "$MNT/q" ]
	wait_exit 5 "$r1" || fail "the q/jiqwqdelay reader still waits after rmdir"
	wait_exit 5 "$r2" || fail "the q/jiqwq reader still waits after rmdir"
	daemon_alive
	mkdir "$MNT/q"
	healthy q
}

# ===========================================================================
# H3 - a named work runs as its owner

@test "H3: on root's queue with o+w control files, nobody cannot redeclare, re-queue, modify or cancel root's work (EPERM)" {
	mkdir "$MNT/q"
	chmod o+w "$MNT/q/submit" "$MNT/q/delay" "$MNT/q/modify" "$MNT/q/cancel"
	run write_errno "$MNT/q/submit" "backup: echo root-backup; id -u"
	assert_output OK
	flushq q
	assert_equal "$(cat "$MNT/q/works/backup/output")" "root-backup
0"
	# backup is idle: nobody tries to take it over
	run nobody_write "$MNT/q/submit" "backup: echo evil; id -u"
	assert_output EPERM
	run nobody_write "$MNT/q/submit" "backup:"
	assert_output EPERM
	run nobody_write "$MNT/q/delay" "backup: 1"
	assert_output EPERM
	run nobody_write "$MNT/q/modify" "backup: 1"
	assert_output EPERM
	assert_equal "$(w_get q backup state)" done
	assert_equal "$(w_get q backup runs)" 1
	# the shell's view
	run as_nobody bash -c 'echo "backup: echo evil" > "$1"' bash "$MNT/q/submit"
	assert_failure
	assert_output --partial "Operation not permitted"
	# root queues it for later; nobody cannot cancel it
	run write_errno "$MNT/q/delay" "backup: 1h"
	assert_output OK
	run nobody_write "$MNT/q/cancel" "backup"
	assert_output EPERM
	assert_equal "$(w_get q backup state)" delayed
	# it runs root's command, as root
	timeout -s KILL 10 sh -c 'echo backup > "$1"' sh "$MNT/q/flush"
	assert_equal "$(w_get q backup command)" "echo root-backup; id -u"
	assert_equal "$(cat "$MNT/q/works/backup/output")" "root-backup
0"
	assert_equal "$(w_get q backup runs)" 2
	assert_equal "$(w_get q backup last_exit)" 0
	healthy q
}

@test "H3: root may cancel nobody's work but not redeclare it (EPERM); nobody may re-queue, modify, redeclare its own" {
	mkdir "$MNT/q"
	chmod o+w "$MNT/q/submit" "$MNT/q/delay" "$MNT/q/modify" "$MNT/q/cancel"
	run nobody_write "$MNT/q/delay" "nd: 1h id -u"
	assert_output OK
	run write_errno "$MNT/q/cancel" "nd"
	assert_output OK
	assert_equal "$(w_get q nd state)" cancelled
	run nobody_write "$MNT/q/submit" "nw: echo nobody-work; id -u"
	assert_output OK
	flushq q
	assert_equal "$(cat "$MNT/q/works/nw/output")" "nobody-work
65534"
	run write_errno "$MNT/q/submit" "nw: echo root-took-it; id -u"
	assert_output EPERM
	assert_equal "$(w_get q nw command)" "echo nobody-work; id -u"
	# the owner may do all of it
	run nobody_write "$MNT/q/submit" "nw:"
	assert_output OK
	flushq q
	assert_equal "$(w_get q nw runs)" 2
	run nobody_write "$MNT/q/delay" "nw: 1h"
	assert_output OK
	run nobody_write "$MNT/q/modify" "nw: 1"
	assert_output OK
	wait_for 5 w_state_is q nw done
	assert_equal "$(w_get q nw runs)" 3
	run nobody_write "$MNT/q/submit" "nw: echo redeclared; id -u"
	assert_output OK
	flushq q
	assert_equal "$(cat "$MNT/q/works/nw/output")" "redeclared
65534"
	run nobody_write "$MNT/q/delay" "nw: 1h"
	assert_output OK
	run nobody_write "$MNT/q/cancel" "nw"
	assert_output OK
	healthy q
}

# ===========================================================================
# H4 - per-user limits (EDQUOT, root exempt), threads, trace memory

@test "H4: user_queues=2: nobody's third queue is EDQUOT; root is not limited; a removed queue frees a place" {
	wqfs_remount $SEC_OPTS -o user_queues=2
	run as_nobody "$PY" -c "$_PY_OPS" mkdir "$MNT/a" "$MNT/b" "$MNT/c"
	assert_output "a OK
b OK
c EDQUOT"
	[ ! -e "$MNT/c" ]
	run as_nobody mkdir "$MNT/d"
	assert_failure
	assert_output --partial "Disk quota exceeded"
	run py_ops mkdir "$MNT/r1" "$MNT/r2" "$MNT/r3"
	assert_output "r1 OK
r2 OK
r3 OK"
	as_nobody rmdir "$MNT/a"
	run as_nobody "$PY" -c "$_PY_OPS" mkdir "$MNT/c"
	assert_output "c OK"
	healthy c
}

@test "H4: user_works=3: nobody's pending + delayed works past 3 are EDQUOT; root is not limited; run works free places" {
	wqfs_remount $SEC_OPTS -o user_works=3
	as_nobody mkdir "$MNT/nq"
	as_nobody sh -c 'echo 1 > "$1"' sh "$MNT/nq/frozen"
	run nobody_write "$MNT/nq/submit" "true" "true"
	assert_output "OK OK"
	run nobody_write "$MNT/nq/delay" "d1: 1h true" "1h true"
	assert_output "OK EDQUOT"
	run nobody_write "$MNT/nq/submit" "true"
	assert_output EDQUOT
	run as_nobody bash -c 'echo true > "$1"' bash "$MNT/nq/submit"
	assert_failure
	assert_output --partial "Disk quota exceeded"
	assert_equal "$(q_get nq pending)" 2
	assert_equal "$(q_get nq delayed)" 1
	mkdir "$MNT/q"
	put "$MNT/q/frozen" 1
	run write_errno "$MNT/q/submit" true true true true true
	assert_output "OK OK OK OK OK"
	# nobody's two pending works run: two places free (d1 still holds one)
	as_nobody sh -c 'echo 0 > "$1"' sh "$MNT/nq/frozen"
	flushq nq
	as_nobody sh -c 'echo 1 > "$1"' sh "$MNT/nq/frozen"
	run nobody_write "$MNT/nq/submit" "true" "true" "true"
	assert_output "OK OK EDQUOT"
	put "$MNT/q/frozen" 0
	put "$MNT/nq/frozen" 0
	put "$MNT/nq/cancel" d1
	flushq q		# the queued works ran before healthy counts
	flushq nq
	healthy q
	healthy nq
}

@test "H4: user_bytes=100: nobody's command text past 100 bytes is EDQUOT; root is not limited" {
	wqfs_remount $SEC_OPTS -o user_bytes=100
	local c60
	c60="echo $(printf 'x%.0s' {1..55})"
	assert_equal "${#c60}" 60
	as_nobody mkdir "$MNT/nq"
	as_nobody sh -c 'echo 1 > "$1"' sh "$MNT/nq/frozen"
	run nobody_write "$MNT/nq/submit" "$c60" "$c60"
	assert_output "OK EDQUOT"
	run nobody_write "$MNT/nq/delay" "1h $c60"
	assert_output EDQUOT
	assert_equal "$(q_get nq pending)" 1
	mkdir "$MNT/q"
	put "$MNT/q/frozen" 1
	run write_errno "$MNT/q/submit" "$c60" "$c60" "$c60"
	assert_output "OK OK OK"
	put "$MNT/q/frozen" 0
	put "$MNT/nq/frozen" 0
	flushq q		# the queued works ran before healthy counts
	flushq nq
	healthy q
	healthy nq
}

@test "H4: user_readers=2: nobody's third open trace/jiqwq reader is EDQUOT; a closed one frees a place; root is not limited" {
	wqfs_remount $SEC_OPTS -o user_readers=2
	as_nobody mkdir "$MNT/nq"
	run as_nobody "$PY" -c "$_OPEN_MANY" "r:$MNT/trace" "r:$MNT/nq/trace" "r:$MNT/jiqwq" \
		"r:$MNT/nq/jiqwqdelay" close:0 "r:$MNT/nq/jiqwq"
	assert_output "OK OK EDQUOT EDQUOT OK"
	mkdir "$MNT/q"
	run open_many "r:$MNT/trace" "r:$MNT/trace" "r:$MNT/q/trace" "r:$MNT/jiqwq" "r:$MNT/q/jiqwqdelay"
	assert_output "OK OK OK OK OK"
	healthy nq
}

@test "H4: user_files=3: nobody's fourth open control file is EDQUOT; a closed one frees a place; root is not limited" {
	wqfs_remount $SEC_OPTS -o user_files=3
	as_nobody mkdir "$MNT/nq"
	run as_nobody "$PY" -c "$_OPEN_MANY" "w:$MNT/nq/submit" "w:$MNT/nq/submit" "w:$MNT/nq/flush" \
		"w:$MNT/nq/cancel" close:1 "w:$MNT/nq/delay"
	assert_output "OK OK OK EDQUOT OK"
	mkdir "$MNT/q"
	run open_many "w:$MNT/q/submit" "w:$MNT/q/submit" "w:$MNT/q/submit" "w:$MNT/q/flush" "w:$MNT/q/cancel" "w:$MNT/q/delay"
	assert_output "OK OK OK OK OK OK"
	healthy nq
}

@test "H4: defaults: 64 queues, 32 readers, 256 control files a user; wqfs --help names every limit" {
	local i args=()
	for ((i = 0; i < 65; i++)); do args+=("$MNT/nq$i"); done
	run as_nobody "$PY" -c "$_PY_OPS" mkdir "${args[@]}"
	assert_equal "$(grep -c ' OK$' <<<"$output")" 64
	assert_line "nq64 EDQUOT"
	args=()
	for ((i = 0; i < 33; i++)); do args+=("r:$MNT/nq0/trace"); done
	run as_nobody "$PY" -c "$_OPEN_MANY" "${args[@]}"
	assert_output "$(printf 'OK %.0s' {1..32})EDQUOT"
	args=()
	for ((i = 0; i < 257; i++)); do args+=("w:$MNT/nq0/submit"); done
	run as_nobody "$PY" -c "$_OPEN_MANY" "${args[@]}"
	assert_output "$(printf 'OK %.0s' {1..256})EDQUOT"
	healthy nq0
	run "$WQFS_BIN" --help
	local opt
	for opt in 'user_queues=N.*\b64\b' 'user_works=N.*\b10000\b' 'user_bytes=[A-Z]+.*\b16777216\b' \
		'user_readers=N.*\b32\b' 'user_files=N.*\b256\b'; do
		grep -Eq -- "$opt" <<<"$output" || fail "wqfs --help has no line matching /$opt/"
	done
}

@test "H4: defaults: 10000 works and 16 MiB of command text a user" {
	as_nobody mkdir "$MNT/nq"
	as_nobody sh -c 'echo 1 > "$1"' sh "$MNT/nq/frozen"
	run as_nobody "$PY" - "$MNT/nq/submit" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
n = 0
for b in range(10):
    n += os.write(fd, b"true\n" * 1000) // 5
print("accepted", n)
try:
    os.write(fd, b"true\n"); print("10001st OK")
except OSError as e:
    print("10001st", errno.errorcode[e.errno])
EOF
	assert_output "accepted 10000
10001st EDQUOT"
	# a fresh mount for the bytes: 258 lines of 65000 bytes fit in
	# 16777216, the 259th does not
	wqfs_remount $SEC_OPTS
	as_nobody mkdir "$MNT/nq"
	as_nobody sh -c 'echo 1 > "$1"' sh "$MNT/nq/frozen"
	run as_nobody "$PY" - "$MNT/nq/submit" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
line = b"true " + b"x" * (65000 - 5) + b"\n"
n = 0
for i in range(258):
    try:
        os.write(fd, line); n += 1
    except OSError as e:
        print("line", i + 1, errno.errorcode[e.errno]); break
print("accepted", n)
try:
    os.write(fd, line); print("259th OK")
except OSError as e:
    print("259th", errno.errorcode[e.errno])
EOF
	assert_output "accepted 258
259th EDQUOT"
	mkdir "$MNT/q"
	put "$MNT/q/frozen" 1
	run timeout -s KILL "$WQ_TIMEOUT" "$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
line = b"true " + b"x" * (65000 - 5) + b"\n"
print(sum(os.write(fd, line) == len(line) for i in range(260)))' "$MNT/q/submit"
	assert_output 260
	mkdir "$MNT/h"
	healthy h
}

@test "H4: an idle queue holds no threads: workers 0 and no q/ thread right after mkdir" {
	mkdir "$MNT/idleq"
	assert_equal "$(q_get idleq workers)" 0
	assert_equal "$(queue_thread_count idleq)" 0
	run write_errno "$MNT/idleq/submit" "w: sleep 0.5"
	assert_output OK
	wait_for 5 w_state_is idleq w running
	[ "$(q_get idleq workers)" -ge 1 ]
	[ "$(queue_thread_count idleq)" -ge 1 ]
	flushq idleq
	healthy idleq
}

@test "H4: worker_idle_ms=200: workers appear for a work and are gone again within 2 s" {
	wqfs_remount $SEC_OPTS -o worker_idle_ms=200
	mkdir "$MNT/idleq"
	assert_equal "$(q_get idleq workers)" 0
	run write_errno "$MNT/idleq/submit" "w: sleep 0.5"
	assert_output OK
	wait_for 5 w_state_is idleq w running
	[ "$(q_get idleq workers)" -ge 1 ]
	[ "$(queue_thread_count idleq)" -ge 1 ]
	flushq idleq
	wait_for 2 idle_and_threadless idleq
	healthy idleq
	wait_for 2 idle_and_threadless idleq
}

@test "H4: 1000 trace readers filled and closed: the daemon's memory falls back within 20 MB" {
	# Under ASan, freed memory sits in a quarantine and VmRSS measures that,
	# not the daemon: keep the quarantine small and give memory back.
	if ldd "$WQFS_BIN" | grep -q libasan; then
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1:thread_local_quarantine_size_kb=64:allocator_release_to_os_interval_ms=0"
		wqfs_remount $SEC_OPTS
	fi
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "$(printf 'true\n%.0s' {1..100})"
	assert_output OK
	flushq q
	run timeout -s KILL 60 "$PY" - "$MNT" "$WQFS_PID" <<'EOF'
import os, resource, sys, time
mnt, pid = sys.argv[1], sys.argv[2]
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
r0 = rss()
fds = [os.open(mnt + "/trace", os.O_RDONLY | os.O_NONBLOCK) for _ in range(1000)]
# 150 works: 450 events, more than a 64 KiB ring holds: every ring fills
fd = os.open(mnt + "/q/submit", os.O_WRONLY); os.write(fd, b"true\n" * 150); os.close(fd)
fd = os.open(mnt + "/q/flush", os.O_WRONLY); os.write(fd, b"\n"); os.close(fd)
r1 = rss()
for f in fds:
    os.close(f)
time.sleep(1)
r2 = rss()
print("rss", r0, r1, r2)
EOF
	assert_success
	local r0 r1 r2
	read -r _ r0 r1 r2 <<<"$output"
	echo "# VmRSS before ${r0} kB, with 1000 full readers ${r1} kB, after close ${r2} kB" >&3
	((r2 - r0 < 20480)) || fail "VmRSS ${r0} kB before, ${r2} kB after 1000 trace readers closed (${r1} kB while open)"
	healthy q
}

# ===========================================================================
# H5 - no controlling terminal for works

@test "H5: a work leads its own session and has no controlling terminal, even when the daemon has one" {
	# Start the daemon as a session leader with a pseudo-terminal as its
	# controlling terminal, as `wqfs -f` run from a root shell has.
	local wrap="$BATS_TEST_TMPDIR/wqfs-on-a-tty"
	cat >"$wrap" <<EOF
#!$PY
import fcntl, os, pty, sys, termios
os.setsid()
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
os.set_inheritable(master, True)        # the terminal lives as long as wqfs
os.close(slave)
os.execv("$WQFS_BIN", ["$WQFS_BIN"] + sys.argv[1:])
EOF
	chmod 755 "$wrap"
	WQFS_BIN=$wrap
	wqfs_remount $SEC_OPTS
	local dtty
	dtty=$(cut -d' ' -f7 "/proc/$WQFS_PID/stat")
	[ "$dtty" != 0 ] || fail "the test could not give the daemon a controlling terminal"
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" 'sess: echo "$$ $(cut -d" " -f6,7 /proc/$$/stat)"; if (exec 3</dev/tty) 2>/dev/null; then echo tty-opened; else echo no-tty; fi'
	assert_output OK
	flushq q
	local pid sid tty
	read -r pid sid tty < <(head -n 1 "$MNT/q/works/sess/output")
	assert_equal "$pid" "$(w_get q sess last_pid)"
	assert_equal "session $sid" "session $pid"
	assert_equal "tty $tty" "tty 0"
	assert_equal "$(sed -n 2p "$MNT/q/works/sess/output")" no-tty
	healthy q
}

# ===========================================================================
# M1 - nice and resource limits

@test "M1: a queue owner who is not root cannot set a negative nice (EPERM), a positive one works; root may" {
	as_nobody mkdir "$MNT/nq"
	run nobody_write "$MNT/nq/nice" "-5"
	assert_output EPERM
	run as_nobody bash -c 'echo -5 > "$1"' bash "$MNT/nq/nice"
	assert_failure
	assert_output --partial "Operation not permitted"
	assert_equal "$(cat "$MNT/nq/nice")" 0
	run nobody_write "$MNT/nq/nice" "5"
	assert_output OK
	assert_equal "$(cat "$MNT/nq/nice")" 5
	mkdir "$MNT/q"
	run write_errno "$MNT/q/nice" "-5"
	assert_output OK
	assert_equal "$(cat "$MNT/q/nice")" -5
	healthy nq
	healthy q
}

@test "M1: a work runs under its submitter's resource limits (nobody's ulimit -n 64)" {
	as_nobody mkdir "$MNT/nq"
	# bash's builtin echo: the opener of submit is that bash, limited to 64
	run as_nobody bash -c 'ulimit -n 64; echo "lim: ulimit -n; ulimit -Hn" > "$1/nq/submit"' bash "$MNT"
	assert_success
	flushq nq
	assert_equal "$(cat "$MNT/nq/works/lim/output")" "64
64"
	healthy nq
}

# ===========================================================================
# M2 - what a user cannot read, wqfs does not show

@test "M2: works/W/status, output and follow belong to the work's owner, 0440 or 0400; nobody cannot read root's" {
	mkdir "$MNT/q" "$MNT/p"
	chmod 0711 "$MNT/p"
	chmod o+w "$MNT/q/submit"
	run write_errno "$MNT/q/submit" "rw: echo root-secret"
	assert_output OK
	run write_errno "$MNT/p/submit" "pw: echo root-secret"
	assert_output OK
	run nobody_write "$MNT/q/submit" "nw: echo nobody-out"
	assert_output OK
	flushq q
	flushq p
	local f
	for f in status output follow; do
		# a group-readable queue (0755): the owner and its group
		assert_equal "$f $(stat -c %u:%a "$MNT/q/works/rw/$f")" "$f 0:440"
		assert_equal "$f $(stat -c %u:%a "$MNT/q/works/nw/$f")" "$f 65534:440"
		# a queue that is not group-readable (0711): the owner only
		assert_equal "$f $(stat -c %u:%a "$MNT/p/works/pw/$f")" "$f 0:400"
		run as_nobody cat "$MNT/q/works/rw/$f"
		assert_failure
		assert_output --partial "Permission denied"
		refute_output --partial root-secret
		run as_nobody cat "$MNT/p/works/pw/$f"
		assert_failure
		assert_output --partial "Permission denied"
		refute_output --partial root-secret
	done
	run as_nobody cat "$MNT/q/works/nw/output"
	assert_success
	assert_output nobody-out
	healthy q
}

@test "M2: root's 0700 queue is not in nobody's status, status.json or trace; root's trace shows it" {
	mkdir "$MNT/secretq" "$MNT/openq"
	chmod 0700 "$MNT/secretq"
	bg timeout 10 cat "$MNT/trace"
	local root_out="$T/bg.0.out"
	bg setpriv --reuid=nobody --regid=nogroup --clear-groups timeout 10 cat "$MNT/trace"
	local nobody_out="$T/bg.1.out"
	sleep 0.3
	run write_errno "$MNT/secretq/submit" "s1: echo secret"
	assert_output OK
	flushq secretq
	run write_errno "$MNT/openq/submit" "o1: echo open"
	assert_output OK
	flushq openq
	# the rows of openq come after those of secretq
	wait_for 5 grep -q 'openq.*o1.*end' "$root_out"
	wait_for 5 grep -q 'openq.*o1.*end' "$nobody_out"
	run grep -c secretq "$root_out"
	[ "$output" -ge 3 ]
	run grep secretq "$nobody_out"
	assert_output ""
	run as_nobody cat "$MNT/status"
	assert_success
	assert_output --partial openq
	refute_output --partial secretq
	run as_nobody cat "$MNT/status.json"
	assert_success
	assert_output --partial openq
	refute_output --partial secretq
	run cat "$MNT/status"
	assert_output --partial secretq
	run cat "$MNT/status.json"
	assert_output --partial secretq
	healthy secretq
}

@test "M2: a q/trace reader kept open across rmdir q; mkdir q gets no rows of the new queue" {
	mkdir "$MNT/q"
	bg timeout 5 cat "$MNT/q/trace"
	local out="$T/bg.0.out"
	sleep 0.3
	run write_errno "$MNT/q/submit" "old1: true"
	assert_output OK
	flushq q
	wait_for 5 grep -q 'old1.*end' "$out"
	run rmdir_now "$MNT/q"
	assert_output OK
	mkdir "$MNT/q"
	run write_errno "$MNT/q/submit" "new1: true"
	assert_output OK
	flushq q
	sleep 0.5
	run grep new1 "$out"
	assert_output ""
	healthy q
}

# ===========================================================================
# L2 - groups and users at run time

@test "L2: a delayed work gets the groups its user has when it runs, not when it was queued" {
	make_account
	run as_account id -G
	assert_output --partial "$SEC_GROUP_GID"
	as_account mkdir "$MNT/uq"
	run as_account "$PY" -c "$_WRITE_PY" "$MNT/uq/delay" "who: 2s id -u; id -G"
	assert_output OK
	gpasswd -d "$SEC_USER" "$SEC_GROUP" >/dev/null
	wait_for 10 w_state_is uq who done
	assert_equal "$(w_get uq who runs)" 1
	assert_equal "$(sed -n 1p "$MNT/uq/works/who/output")" "$SEC_UID"
	local groups
	groups=$(sed -n 2p "$MNT/uq/works/who/output")
	[[ " $groups " == *" $SEC_GID "* ]] || fail "id -G: '$groups' lacks the user's own group $SEC_GID"
	[[ " $groups " != *" $SEC_GROUP_GID "* ]] || fail "id -G: '$groups' still has $SEC_GROUP_GID, removed before the work ran"
	healthy uq
}

@test "L2: a delayed work of a user deleted before it runs does not run: 'no longer exists', last_exit 127" {
	make_account
	as_account mkdir "$MNT/uq"
	run as_account "$PY" -c "$_WRITE_PY" "$MNT/uq/delay" "gone: 2s touch $T/gone-ran; id -u"
	assert_output OK
	userdel "$SEC_USER"
	wait_for 10 w_state_is uq gone failed
	[ ! -e "$T/gone-ran" ] || fail "the deleted user's work ran"
	run cat "$MNT/uq/works/gone/output"
	assert_output --partial "no longer exists"
	assert_equal "$(w_get uq gone last_exit)" 127
	healthy uq
}
